//! `Predictive`: prior and posterior predictive samples (Pyro's `pyro.infer.Predictive`).

use std::collections::HashMap;
use std::marker::PhantomData;
use std::rc::Rc;

use crate::error::{PyroError, PyroResult};
use crate::poutine::{
    push_rc, ConditionMessenger, Program, ReplayMessenger, SiteKind, Trace, TraceMessenger,
};
use crate::tensor::{Backend, DefaultDevice, DynTensor};

/// Where the latent values come from.
enum Source<G, D: Backend> {
    Prior,
    Guide(G),
    Samples(HashMap<String, DynTensor<D>>),
}

/// Draws `num_samples` runs of a model and returns the values of its sites stacked along a
/// new leading dimension: from the prior, with latent values from a guide, or conditioned
/// on given posterior samples (each with a leading sample dim).
///
/// ```
/// use pyro::prelude::*;
/// use pyro::infer::Predictive;
/// let model = || {
///     let z = pyro::sample("z", Normal::new(0.0, 1.0))?;
///     pyro::sample("x", Normal::new(&z, 1.0))
/// };
/// let out = Predictive::new(model, 50).call(()).unwrap();
/// assert_eq!(out["x"].shape(), &[50]);
/// assert_eq!(out["z"].shape(), &[50]);
/// ```
pub struct Predictive<M, G = NoGuide, D: Backend = DefaultDevice> {
    model: M,
    source: Source<G, D>,
    num_samples: usize,
    return_sites: Option<Vec<String>>,
    _d: PhantomData<fn() -> D>,
}

/// The guide type of a `Predictive` without a guide.
pub struct NoGuide;

impl<A> Program<A> for NoGuide {
    type Output = ();
    fn call(&self, _: A) -> PyroResult<()> {
        Ok(())
    }
}

impl<M> Predictive<M, NoGuide, DefaultDevice> {
    /// Prior predictive: runs the model as it is.
    pub fn new(model: M, num_samples: usize) -> Self {
        Predictive {
            model,
            source: Source::Prior,
            num_samples,
            return_sites: None,
            _d: PhantomData,
        }
    }

    /// Conditions the model on posterior samples (`site -> [num_samples, ...]`, e.g. from
    /// MCMC or `AutoGuide::sample_posterior`); `num_samples` is taken from them.
    pub fn with_samples(
        model: M,
        samples: HashMap<String, DynTensor<DefaultDevice>>,
    ) -> PyroResult<Self> {
        Predictive::with_samples_on(model, samples)
    }
}

impl<M, D: Backend> Predictive<M, NoGuide, D> {
    /// [`Predictive::with_samples`] on any device.
    pub fn with_samples_on(model: M, samples: HashMap<String, DynTensor<D>>) -> PyroResult<Self> {
        let mut n = None;
        for (name, v) in &samples {
            let k = v
                .shape()
                .first()
                .copied()
                .ok_or_else(|| PyroError::SiteMismatch {
                    site: name.clone(),
                    reason: "posterior samples need a leading sample dimension".into(),
                })?;
            if n.is_some_and(|m| m != k) {
                return Err(PyroError::SiteMismatch {
                    site: name.clone(),
                    reason: format!("has {k} samples, other sites have {}", n.unwrap_or(0)),
                });
            }
            n = Some(k);
        }
        Ok(Predictive {
            model,
            source: Source::Samples(samples),
            num_samples: n.unwrap_or(0),
            return_sites: None,
            _d: PhantomData,
        })
    }
}

impl<M, G> Predictive<M, G, DefaultDevice> {
    /// Posterior predictive with latent values drawn from `guide`.
    pub fn with_guide(model: M, guide: G, num_samples: usize) -> Self {
        Predictive::with_guide_on(model, guide, num_samples)
    }
}

impl<M, G, D: Backend> Predictive<M, G, D> {
    /// [`Predictive::with_guide`] on any device.
    pub fn with_guide_on(model: M, guide: G, num_samples: usize) -> Self {
        Predictive {
            model,
            source: Source::Guide(guide),
            num_samples,
            return_sites: None,
            _d: PhantomData,
        }
    }

    /// Returns only these sites (default: every sample site of the model, except those
    /// given as posterior samples).
    pub fn return_sites(mut self, sites: &[&str]) -> Self {
        self.return_sites = Some(sites.iter().map(|s| s.to_string()).collect());
        self
    }

    fn wanted(&self, name: &str) -> bool {
        match (&self.return_sites, &self.source) {
            (Some(list), _) => list.iter().any(|s| s == name),
            (None, Source::Samples(s)) => !s.contains_key(name),
            (None, _) => true,
        }
    }

    fn one_run<A: Clone>(&self, i: usize, args: A) -> PyroResult<Trace<D>>
    where
        M: Program<A>,
        G: Program<A>,
    {
        let tm = Rc::new(TraceMessenger::<D>::new());
        match &self.source {
            Source::Prior => {
                let _t = push_rc::<D>(tm.clone());
                self.model.call(args)?;
            }
            Source::Guide(g) => {
                let gm = Rc::new(TraceMessenger::<D>::new());
                {
                    let _t = push_rc::<D>(gm.clone());
                    g.call(args.clone())?;
                }
                let guide_trace = Rc::new(gm.take());
                let _t = push_rc::<D>(tm.clone());
                let _r = push_rc::<D>(Rc::new(ReplayMessenger::new(guide_trace)));
                self.model.call(args)?;
            }
            Source::Samples(samples) => {
                let mut data = HashMap::with_capacity(samples.len());
                for (k, v) in samples {
                    let row = v.index_select(0, &[i])?;
                    let shape = v.shape()[1..].to_vec();
                    data.insert(k.clone(), row.reshape(&shape)?);
                }
                let _t = push_rc::<D>(tm.clone());
                let _c = push_rc::<D>(Rc::new(ConditionMessenger::new(data)));
                self.model.call(args)?;
            }
        }
        Ok(tm.take())
    }

    /// Runs the model `num_samples` times; returns `site -> [num_samples, ...value shape]`.
    pub fn call<A: Clone>(&self, args: A) -> PyroResult<HashMap<String, DynTensor<D>>>
    where
        M: Program<A>,
        G: Program<A>,
    {
        let mut values: HashMap<String, (Vec<usize>, Vec<f32>)> = HashMap::new();
        let mut order: Vec<String> = Vec::new();
        for i in 0..self.num_samples {
            let trace = self.one_run(i, args.clone())?;
            for site in trace.sites() {
                if site.kind != SiteKind::Sample
                    || site.infer.is_auxiliary
                    || !self.wanted(&site.name)
                {
                    continue;
                }
                let v = site.value.to_vec();
                match values.get_mut(site.name.as_str()) {
                    None => {
                        order.push(site.name.to_string());
                        values.insert(site.name.to_string(), (site.value.shape().to_vec(), v));
                    }
                    Some((shape, acc)) => {
                        if shape.as_slice() != site.value.shape() {
                            return Err(PyroError::SiteMismatch {
                                site: site.name.to_string(),
                                reason: format!(
                                    "value shape changed between samples: {:?} then {:?}",
                                    shape,
                                    site.value.shape()
                                ),
                            });
                        }
                        acc.extend(v);
                    }
                }
            }
        }
        let mut out = HashMap::with_capacity(values.len());
        for name in order {
            if let Some((shape, v)) = values.remove(&name) {
                let mut full = vec![self.num_samples];
                full.extend(shape);
                out.insert(name, DynTensor::from_vec(v, &full)?);
            }
        }
        Ok(out)
    }
}
