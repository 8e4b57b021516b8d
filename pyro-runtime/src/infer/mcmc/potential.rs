//! Potential energies: a user's log density on a flat vector ([`Potential`], NumPyro's
//! `potential_fn`), or a model's, with every latent site in unconstrained space.
//!
//! A model's potential is `U(u) = -log p(x, z(u)) - log|det ∂z/∂u|` over the packed
//! unconstrained latent vector `u`: each latent site is mapped through
//! `biject_to(support)`, the model is run with those values substituted (observed sites,
//! `factor!` and plates as written; `param!` sites are constants), and the gradient comes
//! from one backward pass.

use std::collections::HashMap;
use std::rc::Rc;

use super::log_joint::LogJointMessenger;
use crate::error::McmcError;
use crate::error::{PyroError, PyroResult};
use crate::infer::autoguide::Prototype;
use crate::poutine::{push_rc, BlockMessenger, Program, SubstituteMessenger, TraceMessenger};
use crate::tensor::{DynTensor, GradScope};
use dfdx::prelude::Cpu;

/// A potential energy (negative log density, up to a constant) with its gradient, on a flat
/// `f64` vector: what HMC and NUTS need. Return `+inf` (or NaN) where the density is zero:
/// the sampler treats it as a divergence, not an error.
///
/// ```
/// use pyro::infer::mcmc::Potential;
/// /// A standard normal in `n` dimensions.
/// struct StdNormal(usize);
/// impl Potential for StdNormal {
///     fn dim(&self) -> usize { self.0 }
///     fn value_and_grad(&mut self, q: &[f64], grad: &mut [f64]) -> pyro::PyroResult<f64> {
///         grad.copy_from_slice(q);
///         Ok(0.5 * q.iter().map(|x| x * x).sum::<f64>())
///     }
/// }
/// let mut g = [0.0; 2];
/// assert_eq!(StdNormal(2).value_and_grad(&[1.0, 2.0], &mut g).unwrap(), 2.5);
/// ```
pub trait Potential {
    /// The number of coordinates.
    fn dim(&self) -> usize;
    /// The potential at `q`, writing its gradient into `grad` (both of length `dim()`).
    fn value_and_grad(&mut self, q: &[f64], grad: &mut [f64]) -> PyroResult<f64>;
}

impl<P: Potential + ?Sized> Potential for &mut P {
    fn dim(&self) -> usize {
        (**self).dim()
    }
    fn value_and_grad(&mut self, q: &[f64], grad: &mut [f64]) -> PyroResult<f64> {
        (**self).value_and_grad(q, grad)
    }
}

/// A [`Potential`] from a closure `|q, grad| -> value`.
///
/// ```
/// use pyro::infer::mcmc::{FnPotential, Potential};
/// let mut p = FnPotential::new(1, |q: &[f64], g: &mut [f64]| { g[0] = q[0]; 0.5 * q[0] * q[0] });
/// let mut g = [0.0];
/// assert_eq!(p.value_and_grad(&[2.0], &mut g).unwrap(), 2.0);
/// assert_eq!(g, [2.0]);
/// ```
#[derive(Clone)]
pub struct FnPotential<F> {
    dim: usize,
    f: F,
}

impl<F: FnMut(&[f64], &mut [f64]) -> f64> FnPotential<F> {
    /// Wraps `f` as the potential of a `dim`-dimensional target.
    pub fn new(dim: usize, f: F) -> Self {
        FnPotential { dim, f }
    }
}

impl<F: FnMut(&[f64], &mut [f64]) -> f64> Potential for FnPotential<F> {
    fn dim(&self) -> usize {
        self.dim
    }
    fn value_and_grad(&mut self, q: &[f64], grad: &mut [f64]) -> PyroResult<f64> {
        Ok((self.f)(q, grad))
    }
}

/// Whether a recorded site is a latent site (its value is the constrained latent) or a
/// deterministic site.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SiteRole {
    /// A latent sample site.
    Latent,
    /// A `deterministic!` site.
    Deterministic,
}

/// A site whose values are recorded per draw.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedSite {
    /// The site's name.
    pub name: String,
    /// The shape of one draw.
    pub shape: Vec<usize>,
    /// Latent or deterministic.
    pub role: SiteRole,
}

impl RecordedSite {
    pub(crate) fn numel(&self) -> usize {
        self.shape.iter().product()
    }
}

/// The sites a target records per draw and its unconstrained dimension.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    /// Unconstrained dimension.
    pub dim: usize,
    /// Each latent site's coordinates in the unconstrained vector: name, offset, length.
    pub coordinates: Vec<(String, usize, usize)>,
    /// Recorded sites, latent sites first in the model's order.
    pub sites: Vec<RecordedSite>,
}

/// A chain's potential, built on the thread that runs the chain, which can also turn a
/// position into the values recorded for a draw.
pub trait ChainPotential: Potential {
    /// Appends the recorded values of the draw at `q` (every site of the layout, flat).
    fn record(&mut self, q: &[f64], out: &mut Vec<f32>) -> PyroResult<()>;

    /// The unconstrained point of a per-site initialization strategy, or `None` for a
    /// target without sites.
    fn initial_point(
        &mut self,
        init: &crate::infer::autoguide::InitLoc<Cpu>,
    ) -> PyroResult<Option<Vec<f64>>> {
        let _ = init;
        Ok(None)
    }
}

/// What a sampler runs on: a model with its arguments or a user potential. Implemented by
/// [`ModelTarget`] and [`PotentialTarget`].
pub trait Target<A>: Sync {
    /// The layout, found on the caller's thread (a model is traced once).
    fn layout(&self, args: &A) -> PyroResult<Layout>;
    /// Builds the chain's potential on the current thread and runs `f` with it.
    fn with_potential<R>(
        &self,
        args: A,
        layout: &Layout,
        params: &ParamSnapshot,
        f: &mut dyn FnMut(&mut dyn ChainPotential) -> PyroResult<R>,
    ) -> PyroResult<R>;
}

/// The parameters of the caller's store, copied into each chain thread (the store is
/// thread-local): name, constrained value, constraint, event dim.
#[derive(Clone, Default)]
pub struct ParamSnapshot(
    Vec<(
        String,
        DynTensor<Cpu>,
        crate::constraints::Constraint,
        Option<usize>,
    )>,
);

impl ParamSnapshot {
    /// The current thread's CPU store.
    pub(crate) fn take() -> PyroResult<Self> {
        let v = crate::params::with_param_store(|s| {
            s.items()
                .map(|(name, value)| {
                    let c = s
                        .constraint(name)
                        .cloned()
                        .unwrap_or(crate::constraints::Constraint::Real);
                    let e = s.event_dim(name).flatten();
                    (name.to_string(), value.detach(), c, e)
                })
                .collect::<Vec<_>>()
        })?;
        Ok(ParamSnapshot(v))
    }

    /// Creates every parameter missing from the current thread's store.
    pub(crate) fn install(&self) -> PyroResult<()> {
        for (name, value, c, e) in &self.0 {
            let have = crate::params::with_param_store(|s| s.contains(name))?;
            if !have {
                crate::params::param::<Cpu>(name, value.clone(), c.clone(), *e)?;
            }
        }
        Ok(())
    }
}

/// A user potential as a target: every chain gets a clone. Its one recorded site is `"z"`,
/// the position of shape `[dim]`.
#[derive(Clone)]
pub struct PotentialTarget<P>(pub P);

impl<A, P: Potential + Clone + Sync> Target<A> for PotentialTarget<P> {
    fn layout(&self, _: &A) -> PyroResult<Layout> {
        let dim = self.0.dim();
        if dim == 0 {
            return Err(McmcError::NoLatentSites.into());
        }
        Ok(Layout {
            dim,
            coordinates: vec![("z".into(), 0, dim)],
            sites: vec![RecordedSite {
                name: "z".into(),
                shape: vec![dim],
                role: SiteRole::Latent,
            }],
        })
    }

    fn with_potential<R>(
        &self,
        _: A,
        _: &Layout,
        _: &ParamSnapshot,
        f: &mut dyn FnMut(&mut dyn ChainPotential) -> PyroResult<R>,
    ) -> PyroResult<R> {
        let mut p = Checked(self.0.clone());
        f(&mut p)
    }
}

/// A user potential as a chain's potential (its draws are the position itself).
struct Checked<P>(P);

impl<P: Potential> Potential for Checked<P> {
    fn dim(&self) -> usize {
        self.0.dim()
    }
    fn value_and_grad(&mut self, q: &[f64], grad: &mut [f64]) -> PyroResult<f64> {
        self.0.value_and_grad(q, grad)
    }
}

impl<P: Potential> ChainPotential for Checked<P> {
    fn record(&mut self, q: &[f64], out: &mut Vec<f32>) -> PyroResult<()> {
        out.extend(q.iter().map(|&x| x as f32));
        Ok(())
    }
}

/// A model as a target (see the module's doc for its potential).
///
/// ```
/// use pyro::prelude::*;
/// use pyro::infer::mcmc::{ModelTarget, ParamSnapshot, Target};
/// let model = || pyro::sample("s", Exponential::new(1.0));
/// let target = ModelTarget(model);
/// let layout = target.layout(&()).unwrap();
/// assert_eq!(layout.dim, 1);
/// // U(u) = -log p(exp u) - u = exp(u) - u, at u = 0: 1, gradient exp(u) - 1 = 0.
/// let (u, g) = target
///     .with_potential((), &layout, &ParamSnapshot::default(), &mut |pot| {
///         let mut g = [0.0];
///         Ok((pot.value_and_grad(&[0.0], &mut g)?, g[0]))
///     })
///     .unwrap();
/// assert!((u - 1.0).abs() < 1e-6 && g.abs() < 1e-6);
/// ```
#[derive(Clone)]
pub struct ModelTarget<M>(pub M);

const WHO: &str = "MCMC";

/// Checks the model's sites: no discrete latent, no subsampled plate.
fn check_sites<A, M: Program<A>>(model: &M, args: A) -> PyroResult<Vec<RecordedSite>> {
    let tm = Rc::new(TraceMessenger::<Cpu>::new());
    {
        let _block = push_rc::<Cpu>(Rc::new(BlockMessenger::<Cpu>::hide_all()));
        let _trace = push_rc::<Cpu>(tm.clone());
        model.run(args)?;
    }
    let trace = tm.take();
    let mut det = Vec::new();
    for s in trace.sites() {
        if s.kind != crate::poutine::SiteKind::Sample {
            continue;
        }
        if let Some(f) = s
            .cond_indep_stack
            .iter()
            .find(|f| f.subsample_size != f.size)
        {
            return Err(McmcError::SubsampledPlate {
                site: s.name.to_string(),
                plate: f.name.to_string(),
            }
            .into());
        }
        if s.infer.deterministic {
            det.push(RecordedSite {
                name: s.name.to_string(),
                shape: s.value.shape().to_vec(),
                role: SiteRole::Deterministic,
            });
            continue;
        }
        if !s.is_observed {
            if let Some(d) = &s.dist {
                if d.is_discrete() {
                    return Err(McmcError::DiscreteLatent {
                        site: s.name.to_string(),
                        dist: d.name().to_string(),
                    }
                    .into());
                }
            }
        }
    }
    Ok(det)
}

impl<A: Clone + Send, M: Program<A> + Sync> Target<A> for ModelTarget<M> {
    fn layout(&self, args: &A) -> PyroResult<Layout> {
        let det = check_sites(&self.0, args.clone())?;
        let proto = Prototype::<Cpu>::from_model_allowing_sequential(&self.0, args.clone(), WHO)?;
        if proto.latent_dim == 0 {
            return Err(McmcError::NoLatentSites.into());
        }
        let mut sites: Vec<RecordedSite> = proto
            .sites
            .iter()
            .map(|s| RecordedSite {
                name: s.name.to_string(),
                shape: s.shape.clone(),
                role: SiteRole::Latent,
            })
            .collect();
        sites.extend(det);
        let coordinates = proto
            .sites
            .iter()
            .zip(&proto.offsets)
            .map(|(s, &off)| (s.name.to_string(), off, s.u_numel))
            .collect();
        Ok(Layout {
            dim: proto.latent_dim,
            coordinates,
            sites,
        })
    }

    fn with_potential<R>(
        &self,
        args: A,
        layout: &Layout,
        params: &ParamSnapshot,
        f: &mut dyn FnMut(&mut dyn ChainPotential) -> PyroResult<R>,
    ) -> PyroResult<R> {
        params.install()?;
        let proto = Prototype::<Cpu>::from_model_allowing_sequential(&self.0, args.clone(), WHO)?;
        // The same sites, in the same order, with the same shapes as on the caller's thread.
        let latent: Vec<&RecordedSite> = layout
            .sites
            .iter()
            .filter(|s| s.role == SiteRole::Latent)
            .collect();
        if proto.sites.len() != latent.len() {
            let name = proto
                .sites
                .iter()
                .map(|s| s.name.to_string())
                .find(|n| !latent.iter().any(|l| &l.name == n))
                .or_else(|| latent.first().map(|l| l.name.clone()))
                .unwrap_or_default();
            return Err(McmcError::SiteChanged {
                site: name,
                reason: "the set of latent sites differs".into(),
            }
            .into());
        }
        for (s, l) in proto.sites.iter().zip(&latent) {
            if s.name.as_str() != l.name || s.shape != l.shape {
                return Err(McmcError::SiteChanged {
                    site: l.name.clone(),
                    reason: format!(
                        "now `{}` of shape {:?}, was of shape {:?}",
                        s.name, s.shape, l.shape
                    ),
                }
                .into());
            }
        }
        let deterministic: Vec<RecordedSite> = layout
            .sites
            .iter()
            .filter(|s| s.role == SiteRole::Deterministic)
            .cloned()
            .collect();
        let mut p = ModelPotential {
            model: &self.0,
            args,
            proto,
            deterministic,
        };
        f(&mut p)
    }
}

/// Per-site unconstrained leaves, constrained values by name, summed `-log|det J|`.
type Leaves = (
    Vec<DynTensor<Cpu>>,
    Vec<(crate::poutine::Name, DynTensor<Cpu>)>,
    Option<DynTensor<Cpu>>,
);

/// A model's potential on the chain's thread.
struct ModelPotential<'m, M, A> {
    model: &'m M,
    args: A,
    proto: Prototype<Cpu>,
    deterministic: Vec<RecordedSite>,
}

/// Whether an error met while evaluating the model at a point means "zero density there"
/// (a distribution refusing its parameters, a log-probability that is not finite) rather
/// than a bug: the sampler then treats the point as a divergence.
fn is_zero_density(e: &PyroError) -> bool {
    matches!(
        e,
        PyroError::Distribution { .. }
            | PyroError::Dist(_)
            | PyroError::NonFiniteLogProb { .. }
            | PyroError::Transform { .. }
    )
}

impl<M: Program<A>, A: Clone> ModelPotential<'_, M, A> {
    /// The per-site unconstrained leaves at `q`, the constrained values by site name and the
    /// summed `-log|det J|`.
    fn constrain_named(&self, q: &[f64]) -> PyroResult<Leaves> {
        let n = self.proto.sites.len();
        let mut leaves = Vec::with_capacity(n);
        let mut values = Vec::with_capacity(n);
        let mut neg_ladj: Option<DynTensor<Cpu>> = None;
        for (site, &off) in self.proto.sites.iter().zip(&self.proto.offsets) {
            let u = DynTensor::<Cpu>::from_vec(
                q[off..off + site.u_numel]
                    .iter()
                    .map(|&x| x as f32)
                    .collect(),
                &site.u_shape,
            )?;
            let v = if site.has_real_support() {
                // The identity, no Jacobian.
                u.clone()
            } else {
                let (v, nl) = site.constrain(&u)?;
                let s = nl.sum();
                neg_ladj = Some(match neg_ladj {
                    None => s,
                    Some(t) => t.add(&s)?,
                });
                v
            };
            values.push((site.name.clone(), v));
            leaves.push(u);
        }
        Ok((leaves, values, neg_ladj))
    }

    /// Runs the model with `values` substituted, recording its trace.
    fn run_model(
        &self,
        values: Vec<(crate::poutine::Name, DynTensor<Cpu>)>,
    ) -> PyroResult<crate::poutine::Trace<Cpu>> {
        let values: HashMap<String, DynTensor<Cpu>> = values
            .into_iter()
            .map(|(n, v)| (n.to_string(), v))
            .collect();
        let tm = Rc::new(TraceMessenger::<Cpu>::new());
        {
            let _t = push_rc::<Cpu>(tm.clone());
            let _s = push_rc::<Cpu>(Rc::new(SubstituteMessenger::new(values)));
            self.model.run(self.args.clone())?;
        }
        Ok(tm.take())
    }

    fn try_value_and_grad(&mut self, q: &[f64], grad: &mut [f64]) -> PyroResult<f64> {
        let scope = GradScope::<Cpu>::open();
        let (leaves, values, neg_ladj) = self.constrain_named(q)?;
        let joint = Rc::new(LogJointMessenger::new(values));
        {
            let _j = push_rc::<Cpu>(joint.clone());
            self.model.run(self.args.clone())?;
        }
        let loss = match (joint.take(), neg_ladj) {
            (Some(lp), Some(nl)) => nl.sub(&lp)?,
            (Some(lp), None) => lp.neg(),
            (None, Some(nl)) => nl,
            (None, None) => {
                grad.fill(0.0);
                return Ok(0.0);
            }
        };
        let value = loss.item()? as f64;
        if !value.is_finite() {
            grad.fill(0.0);
            return Ok(f64::INFINITY);
        }
        let grads = scope.backward(&loss)?;
        for ((leaf, site), &off) in leaves
            .iter()
            .zip(&self.proto.sites)
            .zip(&self.proto.offsets)
        {
            let g = grads.get_or_zeros(leaf).to_vec();
            for (dst, src) in grad[off..off + site.u_numel].iter_mut().zip(g) {
                *dst = src as f64;
            }
        }
        Ok(value)
    }
}

impl<M: Program<A>, A: Clone> Potential for ModelPotential<'_, M, A> {
    fn dim(&self) -> usize {
        self.proto.latent_dim
    }

    fn value_and_grad(&mut self, q: &[f64], grad: &mut [f64]) -> PyroResult<f64> {
        match self.try_value_and_grad(q, grad) {
            Ok(v) => Ok(v),
            Err(e) if is_zero_density(&e) => {
                grad.fill(0.0);
                Ok(f64::INFINITY)
            }
            Err(e) => Err(e),
        }
    }
}

impl<M: Program<A>, A: Clone> ChainPotential for ModelPotential<'_, M, A> {
    fn initial_point(
        &mut self,
        init: &crate::infer::autoguide::InitLoc<Cpu>,
    ) -> PyroResult<Option<Vec<f64>>> {
        let values = self
            .proto
            .sites
            .iter()
            .map(|s| init.init(s))
            .collect::<PyroResult<Vec<_>>>()?;
        let packed = self.proto.pack_constrained(&values)?;
        Ok(Some(packed.to_vec().into_iter().map(f64::from).collect()))
    }

    fn record(&mut self, q: &[f64], out: &mut Vec<f32>) -> PyroResult<()> {
        let (_, values, _) = self.constrain_named(q)?;
        for (_, v) in &values {
            out.extend(v.to_vec());
        }
        if self.deterministic.is_empty() {
            return Ok(());
        }
        let trace = self.run_model(values)?;
        for d in &self.deterministic {
            let site = trace.get(&d.name).ok_or_else(|| McmcError::SiteChanged {
                site: d.name.clone(),
                reason: "the deterministic site is missing".into(),
            })?;
            if site.value.shape() != d.shape.as_slice() {
                return Err(McmcError::SiteChanged {
                    site: d.name.clone(),
                    reason: format!(
                        "deterministic value of shape {:?}, was {:?}",
                        site.value.shape(),
                        d.shape
                    ),
                }
                .into());
            }
            out.extend(site.value.to_vec());
        }
        Ok(())
    }
}
