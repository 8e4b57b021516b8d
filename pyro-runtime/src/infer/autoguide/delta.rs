//! `AutoDelta`: a point estimate (MAP) per latent site.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use super::init::InitLoc;
use super::prototype::{repeat_to_full, Batches, LatentSite, Prototype};
use super::{not_set_up, AutoGuide};
use crate::distributions::Delta;
use crate::error::{PyroError, PyroResult};
use crate::params::ParamInit;
use crate::poutine::{Name, Program};
use crate::primitives::param_on;
use crate::tensor::{Backend, DefaultDevice, DynTensor};

/// Pyro's `AutoDelta`: each latent site is a learnable point (`AutoDelta.<site>`, in the
/// site's support), so SVI finds the MAP estimate. Inside a subsampled plate the point has
/// the plate's full size and each step uses the rows of its minibatch.
///
/// ```
/// use pyro::prelude::*;
/// use pyro::infer::autoguide::{AutoDelta, AutoGuide};
/// use pyro::poutine::Program;
/// pyro::clear_param_store();
/// let model = || pyro::sample("p", Beta::new(2.0, 2.0));
/// let guide = AutoDelta::new(model).init_loc(InitLoc::Feasible);
/// guide.call(()).unwrap();
/// # use pyro::infer::autoguide::InitLoc;
/// assert!((guide.median().unwrap()["p"].item().unwrap() - 0.5).abs() < 1e-6);
/// ```
pub struct AutoDelta<M, D: Backend = DefaultDevice> {
    model: M,
    prefix: String,
    init_loc: InitLoc<D>,
    proto: RefCell<Option<Rc<Prototype<D>>>>,
}

impl<M: Clone, D: Backend> Clone for AutoDelta<M, D> {
    fn clone(&self) -> Self {
        AutoDelta {
            model: self.model.clone(),
            prefix: self.prefix.clone(),
            init_loc: self.init_loc.clone(),
            proto: RefCell::new(self.proto.borrow().clone()),
        }
    }
}

impl<M> AutoDelta<M> {
    /// An AutoDelta guide for `model` (Pyro's default: init to the prior median).
    pub fn new(model: M) -> Self {
        Self::on_device(model)
    }
}

impl<M, D: Backend> AutoDelta<M, D> {
    /// The same on any device.
    pub fn on_device(model: M) -> Self {
        AutoDelta {
            model,
            prefix: "AutoDelta".into(),
            init_loc: InitLoc::Median { num_samples: 15 },
            proto: RefCell::new(None),
        }
    }

    /// Sets the initialization strategy.
    pub fn init_loc(mut self, init: InitLoc<D>) -> Self {
        self.init_loc = init;
        self
    }

    /// Sets the prefix of the parameter names.
    pub fn prefix(mut self, prefix: &str) -> Self {
        self.prefix = prefix.to_string();
        self
    }

    fn name(&self, site: &LatentSite<D>) -> String {
        format!("{}.{}", self.prefix, site.name)
    }

    fn proto(&self) -> PyroResult<Rc<Prototype<D>>> {
        self.proto
            .borrow()
            .clone()
            .ok_or_else(|| not_set_up("AutoDelta"))
    }
}

impl<A: Clone, M: Program<A>, D: Backend> Program<A> for AutoDelta<M, D> {
    type Output = HashMap<String, DynTensor<D>>;

    fn call(&self, args: A) -> PyroResult<Self::Output> {
        let existing = self.proto.borrow().clone();
        let proto = match existing {
            Some(p) => p,
            None => {
                let p = Rc::new(Prototype::from_model_with(
                    &self.model,
                    args,
                    "AutoDelta",
                    true,
                )?);
                *self.proto.borrow_mut() = Some(p.clone());
                p
            }
        };
        let mut out = HashMap::new();
        let mut batches = Batches::default();
        for site in &proto.sites {
            let name: Name = self.name(site).into();
            let exists = super::stored_as::<D>(&name, &site.full_shape, &site.support)?;
            let init = if exists {
                None
            } else {
                Some(ParamInit::Value(repeat_to_full(
                    site,
                    self.init_loc.init(site)?,
                )?))
            };
            let value = param_on::<D>(name, init, site.support.clone(), Some(site.event_dim))?;
            // The site's plates with this step's batch; a full-size value is indexed by it.
            let plates = batches.enter_site::<D>(site)?;
            let value = plates.batch_of(site, value)?;
            let delta = Delta::from_dyn(value, DynTensor::scalar(0.0), site.event_dim);
            out.insert(
                String::from(site.name.as_str()),
                crate::sample(&site.name, delta)?,
            );
            drop(plates);
        }
        Ok(out)
    }
}

impl<M, D: Backend> AutoGuide<D> for AutoDelta<M, D> {
    fn median(&self) -> PyroResult<HashMap<String, DynTensor<D>>> {
        let proto = self.proto()?;
        let mut out = HashMap::new();
        for site in &proto.sites {
            let name = self.name(site);
            let v = crate::params::get_param::<D>(&name)
                .map_err(|e| PyroError::ParamStoreAt {
                    site: name.clone(),
                    source: Box::new(e),
                })?
                .ok_or_else(|| not_set_up("AutoDelta"))?;
            out.insert(site.name.to_string(), v.detach());
        }
        Ok(out)
    }

    fn quantiles(&self, qs: &[f32]) -> PyroResult<HashMap<String, DynTensor<D>>> {
        let mut m = self.median()?;
        for v in m.values_mut() {
            let mut shape = vec![qs.len()];
            shape.extend_from_slice(v.shape());
            *v = v.broadcast_to(&shape)?;
        }
        Ok(m)
    }

    fn sample_posterior(&self, n: usize) -> PyroResult<HashMap<String, DynTensor<D>>> {
        let mut m = self.median()?;
        for v in m.values_mut() {
            let mut shape = vec![n];
            shape.extend_from_slice(v.shape());
            *v = v.broadcast_to(&shape)?;
        }
        Ok(m)
    }
}
