//! `trace`: records every site the program visits.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use super::message::{
    expand_flags, Draw, Frame, InferConfig, Mask, Message, Name, SharedDist, SiteKind,
};
use super::runtime::{push_rc, Messenger};
use super::Program;
use crate::constraints::Constraint;
use crate::error::{PyroError, PyroResult};
use crate::tensor::{Backend, DynTensor};

/// One recorded site.
#[derive(Debug, Clone)]
pub struct Site<D: Backend> {
    /// Sample or param.
    pub kind: SiteKind,
    /// The name.
    pub name: Name,
    /// The distribution (sample sites).
    pub dist: Option<SharedDist<D>>,
    /// The value.
    pub value: DynTensor<D>,
    /// Whether the value was observed.
    pub is_observed: bool,
    /// Log-probability multiplier.
    pub scale: f32,
    /// Log-probability mask.
    pub mask: Option<Mask>,
    /// Enclosing plates, outermost first.
    pub cond_indep_stack: Vec<Frame>,
    /// Inference configuration.
    pub infer: InferConfig,
    /// Constraint of a param site.
    pub constraint: Option<Constraint>,
    /// Elementwise log-probability (unscaled, masked entries zero), once computed.
    pub log_prob: Option<DynTensor<D>>,
    /// Scaled and masked sum of `log_prob`, once computed.
    pub log_prob_sum: Option<DynTensor<D>>,
    /// The log-density the distribution gave along with the draw, used while `value` is
    /// still that draw.
    draw: Option<Draw<D>>,
}

impl<D: Backend> Site<D> {
    /// A latent sample site outside any plate, with scale 1 and no mask (for traces built by
    /// hand, e.g. to `replay` chosen values); set the public fields for anything else.
    ///
    /// ```
    /// use std::rc::Rc;
    /// use pyro::poutine::{replay, Program, Site, Trace};
    /// use pyro::prelude::*;
    /// let mut chosen = Trace::new();
    /// let x = DynTensor::<Cpu>::scalar(0.5);
    /// chosen.add(Site::sample("x", Rc::new(Normal::new(0.0, 1.0).unwrap()), x)).unwrap();
    /// let model = || pyro::sample("x", Normal::new(0.0, 1.0));
    /// assert_eq!(replay(model, &chosen).call(()).unwrap().item().unwrap(), 0.5);
    /// ```
    pub fn sample(name: impl Into<Name>, dist: SharedDist<D>, value: DynTensor<D>) -> Self {
        Site {
            kind: SiteKind::Sample,
            name: name.into(),
            dist: Some(dist),
            value,
            is_observed: false,
            scale: 1.0,
            mask: None,
            cond_indep_stack: Vec::new(),
            infer: InferConfig::default(),
            constraint: None,
            log_prob: None,
            log_prob_sum: None,
            draw: None,
        }
    }

    fn from_message(msg: &Message<D>) -> PyroResult<Self> {
        let value = msg.value.clone().ok_or_else(|| PyroError::SiteMismatch {
            site: msg.name.to_string(),
            reason: "site has no value".into(),
        })?;
        Ok(Site {
            kind: msg.kind,
            name: msg.name.clone(),
            dist: msg.dist.clone(),
            value,
            is_observed: msg.is_observed,
            scale: msg.scale,
            mask: msg.mask.clone(),
            cond_indep_stack: msg.cond_indep_stack.clone(),
            infer: msg.infer.clone(),
            constraint: msg.param.as_ref().map(|p| p.constraint.clone()),
            log_prob: None,
            log_prob_sum: None,
            draw: msg.draw.clone(),
        })
    }

    /// Whether the site contributes a density (sample, not deterministic, mask not all off).
    pub fn has_density(&self) -> bool {
        self.kind == SiteKind::Sample && !self.infer.deterministic
    }

    /// Elementwise log-probability with the mask applied (masked entries are exactly zero),
    /// not yet scaled. Errors name the site.
    pub fn masked_log_prob(&self) -> PyroResult<DynTensor<D>> {
        let dist = self.dist.as_ref().ok_or_else(|| PyroError::SiteMismatch {
            site: self.name.to_string(),
            reason: "sample site without a distribution".into(),
        })?;
        let lp = match &self.draw {
            Some(d) if d.value.is_clone_of(&self.value) => d.log_prob.clone(),
            _ => dist
                .log_prob(&self.value)
                .map_err(|e| PyroError::at_site(&self.name, e))?,
        };
        let site_err = |e| PyroError::SiteTensor {
            site: self.name.to_string(),
            source: e,
        };
        match &self.mask {
            None | Some(Mask::All(true)) => Ok(lp),
            Some(Mask::All(false)) => Ok(DynTensor::zeros(lp.shape())),
            Some(Mask::Elements { flags, shape }) => {
                let out_shape =
                    crate::tensor::broadcast_shapes(lp.shape(), shape).ok_or_else(|| {
                        site_err(crate::error::TensorError::Broadcast {
                            op: "mask",
                            lhs: lp.shape().to_vec(),
                            rhs: shape.clone(),
                        })
                    })?;
                let lp = lp.broadcast_to(&out_shape).map_err(site_err)?;
                let f = expand_flags(flags, shape, &out_shape);
                Ok(lp.where_mask(&f).map_err(site_err)?)
            }
        }
    }
}

/// An execution trace: the sites a program visited, in order.
#[derive(Debug, Clone, Default)]
pub struct Trace<D: Backend = dfdx::prelude::Cpu> {
    sites: Vec<Site<D>>,
    /// `name_hash` of each site's name, by position.
    hashes: Vec<u64>,
    /// Built once the trace outgrows a linear scan of `hashes`.
    index: Option<crate::fast_hash::NameIndex>,
}

/// Sites a new trace has room for before it grows (an SVI guide with a few latent sites and
/// their parameters fits).
const INITIAL_SITES: usize = 32;

/// Up to this many sites, names are found by scanning `hashes`; beyond, by a hash index.
const LINEAR_SITES: usize = 32;

/// Emptied site lists of dropped traces, reused by new ones: a trace is recorded and dropped
/// per SVI step (two, with the model's), and its list is too large for the allocator's fast
/// paths. At most `POOLED` lists of at most `POOLED_CAPACITY` sites are kept per thread.
mod pool {
    use std::any::Any;
    use std::cell::RefCell;

    use super::Site;
    use crate::tensor::Backend;

    pub(super) const POOLED: usize = 4;
    pub(super) const POOLED_CAPACITY: usize = 128;

    thread_local! {
        /// Each entry is a `(Vec<Site<D>>, Vec<u64>)` for some `D`, both empty.
        static LISTS: RefCell<Vec<Box<dyn Any>>> = const { RefCell::new(Vec::new()) };
    }

    type Lists<D> = (Vec<Site<D>>, Vec<u64>);

    /// An empty site list and hash list with room for `capacity` sites.
    pub(super) fn take<D: Backend>(capacity: usize) -> Lists<D> {
        let reused = LISTS
            .try_with(|l| {
                let mut l = l.try_borrow_mut().ok()?;
                let i = l.iter().rposition(|b| b.is::<Lists<D>>())?;
                l.swap_remove(i).downcast::<Lists<D>>().ok()
            })
            .ok()
            .flatten();
        match reused {
            Some(lists) => *lists,
            None => (Vec::with_capacity(capacity), Vec::with_capacity(capacity)),
        }
    }

    /// Hands back the lists of a dropped trace (emptied here).
    /// Lists smaller than a new trace's (those of cloned traces) are not kept.
    pub(super) fn give<D: Backend>(mut sites: Vec<Site<D>>, mut hashes: Vec<u64>) {
        let room = sites.capacity().min(hashes.capacity());
        if !(super::INITIAL_SITES..=POOLED_CAPACITY).contains(&room) {
            return;
        }
        sites.clear();
        hashes.clear();
        let _ = LISTS.try_with(|l| {
            if let Ok(mut l) = l.try_borrow_mut() {
                if l.len() < POOLED {
                    l.push(Box::new((sites, hashes)));
                }
            }
        });
    }
}

impl<D: Backend> Drop for Trace<D> {
    fn drop(&mut self) {
        pool::give(
            std::mem::take(&mut self.sites),
            std::mem::take(&mut self.hashes),
        );
    }
}

impl<D: Backend> Trace<D> {
    /// An empty trace.
    pub fn new() -> Self {
        let (sites, hashes) = pool::take(INITIAL_SITES);
        Trace {
            sites,
            hashes,
            index: None,
        }
    }

    /// Adds a site; a second site with the same name is an error naming it.
    pub fn add(&mut self, site: Site<D>) -> PyroResult<()> {
        let hash = site.name.fnv();
        if self.position_hashed(hash, &site.name).is_some() {
            return Err(PyroError::DuplicateSite(site.name.to_string()));
        }
        self.push_hashed(hash, site);
        Ok(())
    }

    fn push_hashed(&mut self, hash: u64, site: Site<D>) {
        let i = self.sites.len();
        self.sites.push(site);
        self.hashes.push(hash);
        match &mut self.index {
            Some(index) => index.insert_hashed(hash, i),
            None if self.sites.len() > LINEAR_SITES => {
                let mut index = crate::fast_hash::NameIndex::with_capacity(2 * self.sites.len());
                for (j, &h) in self.hashes.iter().enumerate() {
                    index.insert_hashed(h, j);
                }
                self.index = Some(index);
            }
            None => {}
        }
    }

    fn position_hashed(&self, hash: u64, name: &str) -> Option<usize> {
        let sites = &self.sites;
        match &self.index {
            Some(index) => index.find_hashed(hash, name, |i| sites[i].name.as_str(), sites.len()),
            None => self
                .hashes
                .iter()
                .enumerate()
                .find(|&(i, &h)| h == hash && sites[i].name == name)
                .map(|(i, _)| i),
        }
    }

    fn position(&self, name: &str) -> Option<usize> {
        self.position_hashed(crate::fast_hash::name_hash(name), name)
    }

    /// The site called `name`.
    pub fn get(&self, name: &str) -> Option<&Site<D>> {
        self.position(name).map(|i| &self.sites[i])
    }

    /// [`get`](Self::get) with the hash the name carries.
    pub(crate) fn get_named(&self, name: &Name) -> Option<&Site<D>> {
        self.position_hashed(name.fnv(), name)
            .map(|i| &self.sites[i])
    }

    /// Mutable access to the site called `name`.
    pub fn get_mut(&mut self, name: &str) -> Option<&mut Site<D>> {
        self.position(name).map(|i| &mut self.sites[i])
    }

    /// Whether a site is called `name`.
    pub fn contains(&self, name: &str) -> bool {
        self.position(name).is_some()
    }

    /// All sites in execution order.
    pub fn sites(&self) -> &[Site<D>] {
        &self.sites
    }

    /// Site names in execution order.
    pub fn names(&self) -> Vec<&str> {
        self.sites.iter().map(|s| s.name.as_str()).collect()
    }

    /// Number of sites.
    pub fn len(&self) -> usize {
        self.sites.len()
    }

    /// Whether the trace is empty.
    pub fn is_empty(&self) -> bool {
        self.sites.is_empty()
    }

    /// Latent sample sites (not observed, with a density).
    pub fn stochastic_nodes(&self) -> impl Iterator<Item = &Site<D>> {
        self.sites
            .iter()
            .filter(|s| s.kind == SiteKind::Sample && !s.is_observed && !s.infer.deterministic)
    }

    /// Observed sample sites.
    pub fn observation_nodes(&self) -> impl Iterator<Item = &Site<D>> {
        self.sites
            .iter()
            .filter(|s| s.kind == SiteKind::Sample && s.is_observed && !s.infer.deterministic)
    }

    /// Param sites.
    pub fn param_nodes(&self) -> impl Iterator<Item = &Site<D>> {
        self.sites.iter().filter(|s| s.kind == SiteKind::Param)
    }

    /// Computes every sample site's masked log-probability and its scaled sum. A NaN or
    /// infinite sum is an error naming the site ([`PyroError::ObservedNan`] with the index of
    /// the NaN when an observed value holds one).
    pub fn compute_log_prob(&mut self) -> PyroResult<()> {
        // An observed NaN is the cause of a failed or non-finite log-probability: say so.
        let nan = |site: &Site<D>| {
            if !site.is_observed {
                return None;
            }
            let i = crate::distributions::first_nan(&site.value)?;
            Some(PyroError::observed_nan(&site.name, i, site.value.shape()))
        };
        for site in &mut self.sites {
            if !site.has_density() || site.log_prob.is_some() {
                continue;
            }
            let lp = match site.masked_log_prob() {
                Ok(lp) => lp,
                Err(e) => return Err(nan(site).unwrap_or(e)),
            };
            let total = lp.sum();
            // (Multiplying by one is exact: skip the node.)
            let total = if site.scale == 1.0 {
                total
            } else {
                total.mul_scalar(site.scale)
            };
            let v = total.item()?;
            if !v.is_finite() {
                if let Some(e) = nan(site) {
                    return Err(e);
                }
                return Err(PyroError::NonFiniteLogProb {
                    site: site.name.to_string(),
                    value: v,
                });
            }
            site.log_prob = Some(lp);
            site.log_prob_sum = Some(total);
        }
        Ok(())
    }

    /// The sum over sample sites of scaled, masked log-probabilities (a rank-0 tensor on
    /// the graph).
    pub fn log_prob_sum(&mut self) -> PyroResult<DynTensor<D>> {
        self.compute_log_prob()?;
        let mut total = DynTensor::scalar(0.0);
        for site in &self.sites {
            if let Some(s) = &site.log_prob_sum {
                total = total.add(s)?;
            }
        }
        Ok(total)
    }

    /// The values of all sample sites, by name.
    pub fn values(&self) -> HashMap<String, DynTensor<D>> {
        self.sites
            .iter()
            .filter(|s| s.kind == SiteKind::Sample)
            .map(|s| (s.name.to_string(), s.value.clone()))
            .collect()
    }

    /// A table of the sites and their shapes (like Pyro's `trace.format_shapes()`).
    pub fn format_shapes(&self) -> String {
        let mut out = String::from("site            kind    observed  value shape\n");
        for s in &self.sites {
            out.push_str(&format!(
                "{:<15} {:<7} {:<9} {:?}\n",
                s.name,
                match s.kind {
                    SiteKind::Sample => "sample",
                    SiteKind::Param => "param",
                    SiteKind::Subsample => "subsample",
                },
                s.is_observed,
                s.value.shape()
            ));
        }
        out
    }
}

/// The messenger behind [`trace`]: records each site on the way out.
#[derive(Default)]
pub struct TraceMessenger<D: Backend> {
    trace: RefCell<Trace<D>>,
}

impl<D: Backend> TraceMessenger<D> {
    /// A messenger with an empty trace.
    pub fn new() -> Self {
        TraceMessenger {
            trace: RefCell::new(Trace::new()),
        }
    }

    /// Takes the recorded trace.
    pub fn take(&self) -> Trace<D> {
        std::mem::take(&mut *self.trace.borrow_mut())
    }
}

impl<D: Backend> Messenger<D> for TraceMessenger<D> {
    fn postprocess(&self, msg: &mut Message<D>) -> PyroResult<()> {
        let mut trace = self.trace.borrow_mut();
        let hash = msg.name.fnv();
        if trace.position_hashed(hash, &msg.name).is_some() {
            // Param sites may repeat (a param read twice), and so may a plate's subsample
            // site (a plate entered twice); the first is kept.
            if msg.kind != SiteKind::Sample {
                return Ok(());
            }
            return Err(PyroError::DuplicateSite(msg.name.to_string()));
        }
        let site = Site::from_message(msg)?;
        trace.push_hashed(hash, site);
        Ok(())
    }
}

/// Wraps a program so that running it records a [`Trace`] (Pyro's `poutine.trace`).
///
/// ```
/// use pyro::prelude::*;
/// use pyro::poutine;
/// let model = || -> pyro::PyroResult<DynTensor> {
///     pyro::sample("x", Normal::new(0.0, 1.0))
/// };
/// let tr = poutine::trace(model).get_trace(()).unwrap();
/// assert_eq!(tr.names(), vec!["x"]);
/// ```
pub fn trace<P>(program: P) -> TraceHandler<P, dfdx::prelude::Cpu> {
    TraceHandler::new(program)
}

/// See [`trace`].
pub struct TraceHandler<P, D: Backend> {
    program: P,
    _d: std::marker::PhantomData<fn() -> D>,
}

impl<P, D: Backend> TraceHandler<P, D> {
    /// Wraps `program` (any device).
    pub fn new(program: P) -> Self {
        TraceHandler {
            program,
            _d: std::marker::PhantomData,
        }
    }

    /// Runs the program and returns its output and trace.
    pub fn run_traced<A>(&self, args: A) -> PyroResult<(P::Output, Trace<D>)>
    where
        P: Program<A>,
    {
        let m = Rc::new(TraceMessenger::<D>::new());
        let out = {
            let _g = push_rc::<D>(m.clone());
            self.program.call(args)?
        };
        Ok((out, m.take()))
    }

    /// Runs the program and returns its result together with the trace recorded so far,
    /// even when the program failed or escaped (Pyro keeps the partial trace on the
    /// trace messenger after a `NonlocalExit`).
    ///
    /// ```
    /// use pyro::prelude::*;
    /// use pyro::poutine;
    /// let model = || {
    ///     pyro::sample("a", Normal::new(0.0, 1.0))?;
    ///     pyro::sample("b", Normal::new(0.0, 1.0))
    /// };
    /// let (res, tr) = poutine::trace(poutine::escape(model, |m| m.name == "b"))
    ///     .get_partial_trace(());
    /// assert!(res.is_err());
    /// assert_eq!(tr.names(), vec!["a"]);
    /// ```
    pub fn get_partial_trace<A>(&self, args: A) -> (PyroResult<P::Output>, Trace<D>)
    where
        P: Program<A>,
    {
        let m = Rc::new(TraceMessenger::<D>::new());
        let out = {
            let _g = push_rc::<D>(m.clone());
            self.program.call(args)
        };
        (out, m.take())
    }

    /// Runs the program and returns its trace.
    pub fn get_trace<A>(&self, args: A) -> PyroResult<Trace<D>>
    where
        P: Program<A>,
    {
        Ok(self.run_traced(args)?.1)
    }
}

impl<A, P: Program<A>, D: Backend> Program<A> for TraceHandler<P, D> {
    type Output = P::Output;
    fn call(&self, args: A) -> PyroResult<P::Output> {
        Ok(self.run_traced(args)?.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distributions::Normal;
    use std::f32::consts::PI;

    fn model(n: usize) -> impl Fn() -> PyroResult<()> {
        move || {
            for i in 0..n {
                crate::sample(&format!("x{i}"), Normal::new(0.0, 1.0))?;
            }
            Ok(())
        }
    }

    /// A reparameterized site drawn while gradients are recorded keeps the density that came
    /// with the draw; once its value is replaced, the density is computed for the new value.
    #[test]
    fn the_density_of_a_draw_is_used_only_while_the_value_is_that_draw() {
        use dfdx::prelude::Cpu;
        let _scope = crate::tensor::GradScope::<Cpu>::open();
        let model = || crate::sample("z", Normal::new(1.0, 2.0));
        let mut tr = trace(model).get_trace(()).unwrap();
        let site = tr.get("z").unwrap();
        assert!(site.draw.is_some(), "the draw's density was not kept");
        let z = site.value.item().unwrap();
        let want = |x: f32| -((x - 1.0) / 2.0).powi(2) / 2.0 - (2.0f32 * (2.0 * PI).sqrt()).ln();
        let got = tr.log_prob_sum().unwrap().item().unwrap();
        assert!((got - want(z)).abs() < 1e-5, "{got} vs {}", want(z));

        let mut tr = trace(model).get_trace(()).unwrap();
        tr.get_mut("z").unwrap().value = DynTensor::scalar(4.0);
        let got = tr.log_prob_sum().unwrap().item().unwrap();
        assert!((got - want(4.0)).abs() < 1e-5, "{got} vs {}", want(4.0));
    }

    #[test]
    fn prediction_runs_draw_without_a_density() {
        let model = || crate::sample("z", Normal::new(1.0, 2.0));
        let tr = trace(model).get_trace(()).unwrap();
        assert!(tr.get("z").unwrap().draw.is_none());
    }

    #[test]
    fn long_traces_switch_to_the_hash_index_and_find_every_site() {
        for n in [0, 1, LINEAR_SITES, LINEAR_SITES + 1, 3 * LINEAR_SITES] {
            let mut tr = trace(model(n)).get_trace(()).unwrap();
            assert_eq!(tr.len(), n);
            assert_eq!(tr.index.is_some(), n > LINEAR_SITES);
            for i in 0..n {
                let name = format!("x{i}");
                assert_eq!(tr.get(&name).unwrap().name, name);
            }
            assert!(tr.get("x").is_none() && !tr.contains(&format!("x{n}")));
            if let Some(first) = tr.sites().first().cloned() {
                let err = tr.add(first).unwrap_err();
                assert!(matches!(err, PyroError::DuplicateSite(ref s) if s == "x0"));
            }
        }
    }

    #[test]
    fn a_reused_site_list_starts_empty() {
        let tr = trace(model(5)).get_trace(()).unwrap();
        drop(tr);
        // The next traces take the pooled lists: nothing of the dropped trace shows.
        let fresh = Trace::<crate::tensor::DefaultDevice>::new();
        assert!(fresh.is_empty() && fresh.get("x0").is_none());
        let tr = trace(model(2)).get_trace(()).unwrap();
        assert_eq!(tr.names(), vec!["x0", "x1"]);
        assert!(tr.get("x4").is_none());
    }
}
