//! Evidence lower bounds: [`TraceElbo`] (Pyro's `Trace_ELBO`) and [`TraceMeanFieldElbo`].

use std::rc::Rc;

use super::check::check_model_guide;
use crate::error::{PyroError, PyroResult};
use crate::poutine::{push_rc, Name, Program, ReplayMessenger, SiteKind, Trace, TraceMessenger};
use crate::tensor::op::weighted_sum;
use crate::tensor::{Backend, DynTensor};

/// What one ELBO evaluation produces.
#[derive(Debug, Clone)]
pub struct ElboEstimate<D: Backend> {
    /// The loss (negative ELBO estimate), a plain number.
    pub loss: f32,
    /// A differentiable surrogate whose gradient is an unbiased estimate of the loss's
    /// gradient (reparameterized where the guide allows it, score-function terms elsewhere).
    pub surrogate: DynTensor<D>,
    /// Names of the param sites seen in the model and guide traces.
    pub params: Vec<Name>,
}

/// A variational objective over a model and a guide.
pub trait Elbo<D: Backend> {
    /// Estimates the loss and its differentiable surrogate. When `check` is set, the traces
    /// are checked for agreement first (SVI does this on its first step).
    fn estimate<A: Clone, M: Program<A>, G: Program<A>>(
        &self,
        model: &M,
        guide: &G,
        args: A,
        check: bool,
    ) -> PyroResult<ElboEstimate<D>>;
}

/// Runs the guide, then the model with the guide's latent values replayed; returns both
/// traces (Pyro's `get_importance_trace`).
pub fn importance_traces<D: Backend, A: Clone, M: Program<A>, G: Program<A>>(
    model: &M,
    guide: &G,
    args: A,
) -> PyroResult<(Trace<D>, Trace<D>)> {
    let guide_trace = {
        let tm = Rc::new(TraceMessenger::<D>::new());
        let _g = push_rc::<D>(tm.clone());
        guide.run(args.clone())?;
        drop(_g);
        tm.take()
    };
    let guide_trace = Rc::new(guide_trace);
    let model_trace = {
        let tm = Rc::new(TraceMessenger::<D>::new());
        let _g = push_rc::<D>(tm.clone());
        let _r = push_rc::<D>(Rc::new(ReplayMessenger::new(guide_trace.clone())));
        model.run(args)?;
        drop(_r);
        drop(_g);
        tm.take()
    };
    let guide_trace = Rc::try_unwrap(guide_trace).unwrap_or_else(|rc| (*rc).clone());
    Ok((model_trace, guide_trace))
}

/// Appends the names of the param sites of `mt` then `gt` that `out` lacks, in order. A
/// trace's names are unique, so on the first particle only the guide's names need checking
/// (against the model trace, by hash); later particles check `out`.
fn param_names<D: Backend>(mt: &Trace<D>, gt: &Trace<D>, out: &mut Vec<Name>) {
    if out.is_empty() {
        out.reserve(mt.len() + gt.len());
        out.extend(mt.param_nodes().map(|p| p.name.clone()));
        for p in gt.param_nodes() {
            if !mt
                .get_named(&p.name)
                .is_some_and(|m| m.kind == SiteKind::Param)
            {
                out.push(p.name.clone());
            }
        }
        return;
    }
    for p in mt.param_nodes().chain(gt.param_nodes()) {
        if !out.contains(&p.name) {
            out.push(p.name.clone());
        }
    }
}

/// Pyro's `Trace_ELBO`: the ELBO estimated with `num_particles` independent draws from the
/// guide. Sites whose guide distribution has `rsample` use the reparameterization gradient;
/// the others get a score-function (REINFORCE) term weighted by the particle's detached
/// `log p - log q` (no baseline, no Rao–Blackwellization over plates).
///
/// ```
/// use pyro::infer::TraceElbo;
/// let elbo = TraceElbo::with_particles(4);
/// assert_eq!(elbo.num_particles, 4);
/// let vectorized = TraceElbo { num_particles: 64, vectorize_particles: true, max_plate_nesting: 1 };
/// assert!(vectorized.vectorize_particles);
/// ```
#[derive(Debug, Clone)]
pub struct TraceElbo {
    /// Draws averaged per estimate.
    pub num_particles: usize,
    /// Draw all particles in one run of the model and guide, inside an outer plate of size
    /// `num_particles` at dim `-(max_plate_nesting + 1)` (Pyro's `vectorize_particles`).
    /// The model and guide must broadcast over that extra leading dim.
    pub vectorize_particles: bool,
    /// The number of plate dims the model uses (for `vectorize_particles`).
    pub max_plate_nesting: usize,
}

impl Default for TraceElbo {
    fn default() -> Self {
        TraceElbo {
            num_particles: 1,
            vectorize_particles: false,
            max_plate_nesting: 1,
        }
    }
}

impl TraceElbo {
    /// `num_particles` sequential particles.
    pub fn with_particles(num_particles: usize) -> Self {
        TraceElbo {
            num_particles,
            ..Default::default()
        }
    }
}

impl<D: Backend> Elbo<D> for TraceElbo {
    fn estimate<A: Clone, M: Program<A>, G: Program<A>>(
        &self,
        model: &M,
        guide: &G,
        args: A,
        check: bool,
    ) -> PyroResult<ElboEstimate<D>> {
        if self.vectorize_particles && self.num_particles > 1 {
            let n = self.num_particles;
            let dim = -(self.max_plate_nesting as i32) - 1;
            let wrap = |p: &dyn Fn() -> PyroResult<()>| -> PyroResult<()> {
                crate::poutine::PlateBuilder::<D>::new("num_particles_vectorized", n)
                    .dim(dim)
                    .run(|_| p())
            };
            let vm = |a: A| wrap(&|| model.run(a.clone()));
            let vg = |a: A| wrap(&|| guide.run(a.clone()));
            let mut est = estimate_particles(
                1,
                &VecProgram(vm),
                &VecProgram(vg),
                args,
                check,
                trace_elbo_particle,
            )?;
            est.loss /= n as f32;
            est.surrogate = est.surrogate.mul_scalar(1.0 / n as f32);
            return Ok(est);
        }
        estimate_particles(
            self.num_particles,
            model,
            guide,
            args,
            check,
            trace_elbo_particle,
        )
    }
}

/// Adapts a closure of the packed arguments to a [`Program`].
struct VecProgram<F>(F);

impl<A, F: Fn(A) -> PyroResult<()>> Program<A> for VecProgram<F> {
    type Output = ();
    fn call(&self, args: A) -> PyroResult<()> {
        (self.0)(args)
    }
}

pub(crate) fn estimate_particles<D: Backend, A: Clone, M: Program<A>, G: Program<A>>(
    num_particles: usize,
    model: &M,
    guide: &G,
    args: A,
    check: bool,
    particle: impl Fn(&mut Trace<D>, &mut Trace<D>, f32) -> PyroResult<(f32, DynTensor<D>)>,
) -> PyroResult<ElboEstimate<D>> {
    if num_particles == 0 {
        return Err(PyroError::Config {
            algorithm: "ELBO",
            reason: "num_particles must be at least 1".into(),
        });
    }
    let mut elbo_sum = 0.0f64;
    let mut surrogate: Option<DynTensor<D>> = None;
    let mut params = Vec::new();
    for i in 0..num_particles {
        let (mut mt, mut gt) = importance_traces::<D, _, _, _>(model, guide, args.clone())?;
        if check && i == 0 {
            check_model_guide(&mt, &gt)?;
        }
        param_names(&mt, &gt, &mut params);
        // Each particle's surrogate comes weighted by -1/n: their sum is the surrogate loss.
        let (elbo, sur) = particle(&mut mt, &mut gt, -1.0 / num_particles as f32)?;
        elbo_sum += elbo as f64;
        surrogate = Some(match surrogate {
            None => sur,
            Some(s) => s.add(&sur)?,
        });
    }
    let surrogate = surrogate.unwrap_or_else(|| DynTensor::scalar(0.0));
    let loss = (-elbo_sum / num_particles as f64) as f32;
    if !loss.is_finite() {
        return Err(PyroError::Config {
            algorithm: "ELBO",
            reason: format!("the loss is {loss} although every site's log-probability is finite"),
        });
    }
    Ok(ElboEstimate {
        loss,
        surrogate,
        params,
    })
}

/// One particle of `Trace_ELBO`: returns the ELBO's value and `weight` times the surrogate
/// ELBO. The ELBO only feeds the reported loss and the score-function weights (both
/// constants), so it is summed on the host; the surrogate is one weighted sum on the graph,
/// accumulated in the same order as the sites' log-densities are added up, with each
/// score-function term `log q · (log p - log q)` a term of constant weight.
fn trace_elbo_particle<D: Backend>(
    mt: &mut Trace<D>,
    gt: &mut Trace<D>,
    weight: f32,
) -> PyroResult<(f32, DynTensor<D>)> {
    mt.compute_log_prob()?;
    gt.compute_log_prob()?;
    let mut log_p = 0.0f32;
    for lp in mt.sites().iter().filter_map(|s| s.log_prob_sum.as_ref()) {
        log_p += lp.item()?;
    }
    let mut log_q = 0.0f32;
    for lq in gt.sites().iter().filter_map(|s| s.log_prob_sum.as_ref()) {
        log_q += lq.item()?;
    }
    let elbo = log_p - log_q;
    let mut terms: Vec<(&DynTensor<D>, f32)> = Vec::with_capacity(mt.len() + gt.len());
    terms.extend(
        mt.sites()
            .iter()
            .filter_map(|s| Some((s.log_prob_sum.as_ref()?, weight))),
    );
    for s in gt.sites() {
        let Some(lq) = &s.log_prob_sum else { continue };
        let reparameterized = s.dist.as_ref().is_some_and(|d| d.has_rsample());
        terms.push((
            lq,
            if reparameterized {
                -weight
            } else {
                elbo * weight
            },
        ));
    }
    Ok((elbo, weighted_sum(&terms)?))
}

/// Pyro's `TraceMeanField_ELBO`: like [`TraceElbo`], but for every latent site whose guide
/// and prior distributions have an analytic KL divergence (see
/// [`kl_divergence`](crate::distributions::kl_divergence)), the Monte Carlo term
/// `log p(z) - log q(z)` is replaced by `-KL(q || p)`, which lowers the variance. Every guide
/// site must be reparameterizable. Guide sites the model does not have (auxiliary sites of
/// autoguides) keep their `-log q` term, so the estimate stays a valid ELBO.
///
/// ```
/// use pyro::infer::TraceMeanFieldElbo;
/// let elbo = TraceMeanFieldElbo::default();
/// assert_eq!(elbo.num_particles, 1);
/// ```
#[derive(Debug, Clone)]
pub struct TraceMeanFieldElbo {
    /// Draws averaged per estimate.
    pub num_particles: usize,
}

impl Default for TraceMeanFieldElbo {
    fn default() -> Self {
        TraceMeanFieldElbo { num_particles: 1 }
    }
}

impl<D: Backend> Elbo<D> for TraceMeanFieldElbo {
    fn estimate<A: Clone, M: Program<A>, G: Program<A>>(
        &self,
        model: &M,
        guide: &G,
        args: A,
        check: bool,
    ) -> PyroResult<ElboEstimate<D>> {
        estimate_particles(
            self.num_particles,
            model,
            guide,
            args,
            check,
            mean_field_particle,
        )
    }
}

fn mean_field_particle<D: Backend>(
    mt: &mut Trace<D>,
    gt: &mut Trace<D>,
    weight: f32,
) -> PyroResult<(f32, DynTensor<D>)> {
    use crate::distributions::{kl_divergence, DistError};
    mt.compute_log_prob()?;
    gt.compute_log_prob()?;
    for s in gt.sites() {
        if s.log_prob_sum.is_some() && !s.dist.as_ref().is_some_and(|d| d.has_rsample()) {
            return Err(PyroError::Config {
                algorithm: "TraceMeanField_ELBO",
                reason: format!(
                    "guide site `{}` is not reparameterizable; use TraceElbo for score-function \
                     gradients",
                    s.name
                ),
            });
        }
    }
    let mut elbo = DynTensor::scalar(0.0);
    let mut handled: Vec<&str> = Vec::new();
    for m in mt.sites() {
        let Some(lp) = &m.log_prob_sum else { continue };
        if m.is_observed {
            elbo = elbo.add(lp)?;
            continue;
        }
        let g = gt.get_named(&m.name);
        let (Some(g), Some(pd)) = (g, m.dist.as_ref()) else {
            elbo = elbo.add(lp)?;
            continue;
        };
        handled.push(&m.name);
        let analytic = g
            .dist
            .as_ref()
            .map(|qd| kl_divergence(qd.as_ref(), pd.as_ref()));
        match analytic {
            Some(Ok(kl)) => {
                let kl = match &g.mask {
                    Some(crate::poutine::Mask::All(false)) => DynTensor::zeros(kl.shape()),
                    _ => kl,
                };
                elbo = elbo.sub(&kl.sum().mul_scalar(g.scale))?;
            }
            Some(Err(DistError::NoKl { .. })) | None => {
                elbo = elbo.add(lp)?;
                if let Some(lq) = &g.log_prob_sum {
                    elbo = elbo.sub(lq)?;
                }
            }
            Some(Err(e)) => return Err(PyroError::at_site(&m.name, e)),
        }
    }
    for g in gt.sites() {
        if handled.contains(&g.name.as_str()) {
            continue;
        }
        if let Some(lq) = &g.log_prob_sum {
            elbo = elbo.sub(lq)?;
        }
    }
    Ok((elbo.item()?, elbo.mul_scalar(weight)))
}
