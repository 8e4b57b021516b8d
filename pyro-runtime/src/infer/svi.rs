//! `Svi`: stochastic variational inference (Pyro's `pyro.infer.SVI`).

use std::marker::PhantomData;

use super::elbo::Elbo;
use crate::error::{PyroError, PyroResult};
use crate::optim::{step_store_owned, Optimizer};
use crate::poutine::Program;
use crate::tensor::{Backend, DefaultDevice, GradScope};

/// Stochastic variational inference: each [`Svi::step`] estimates the loss with `loss`,
/// back-propagates through the shared tape, and lets `optim` update every parameter the
/// model and guide touched (in the thread's parameter store).
///
/// The first step checks that the model and guide agree (every latent site has a guide
/// site, no guide site is unknown or observed, shapes match) and reports the first problem
/// naming the site.
///
/// ```
/// use pyro::prelude::*;
/// use pyro::infer::{Svi, TraceElbo};
/// use pyro::optim::Adam;
/// pyro::clear_param_store();
/// pyro::set_rng_seed(0);
/// let model = || pyro::sample("z", Normal::new(0.0, 1.0));
/// let guide = || {
///     let loc = pyro::param("loc", DynTensor::scalar(1.0), Constraint::Real)?;
///     pyro::sample("z", Normal::new(&loc, 1.0))
/// };
/// let mut svi = Svi::new(model, guide, Adam::with_lr(0.05).unwrap(), TraceElbo::with_particles(8));
/// for _ in 0..300 {
///     svi.step(()).unwrap();
/// }
/// let loc = pyro::params::get_param::<pyro::DefaultDevice>("loc").unwrap().unwrap();
/// assert!(loc.item().unwrap().abs() < 0.3);
/// ```
pub struct Svi<M, G, O, L, D: Backend = DefaultDevice> {
    model: M,
    guide: G,
    optim: O,
    loss: L,
    checked: bool,
    _d: PhantomData<fn() -> D>,
}

impl<M, G, O, L> Svi<M, G, O, L, DefaultDevice> {
    /// `Svi::new(model, guide, optim, loss)`, as in Pyro.
    pub fn new(model: M, guide: G, optim: O, loss: L) -> Self {
        Svi::on_device(model, guide, optim, loss)
    }
}

impl<M, G, O, L, D: Backend> Svi<M, G, O, L, D> {
    /// The same on any device.
    pub fn on_device(model: M, guide: G, optim: O, loss: L) -> Self {
        Svi {
            model,
            guide,
            optim,
            loss,
            checked: false,
            _d: PhantomData,
        }
    }

    /// The guide (e.g. to read an autoguide's median after training).
    pub fn guide(&self) -> &G {
        &self.guide
    }

    /// The model.
    pub fn model(&self) -> &M {
        &self.model
    }

    /// The optimizer.
    pub fn optim(&mut self) -> &mut O {
        &mut self.optim
    }

    /// One gradient step; returns the loss estimate before the update.
    pub fn step<A: Clone>(&mut self, args: A) -> PyroResult<f32>
    where
        M: Program<A>,
        G: Program<A>,
        L: Elbo<D>,
        O: Optimizer,
    {
        let scope = GradScope::<D>::open();
        let est = self
            .loss
            .estimate::<A, M, G>(&self.model, &self.guide, args, !self.checked)?;
        self.checked = true;
        let grads = scope.backward(&est.surrogate)?;
        let optim: &mut dyn Optimizer = &mut self.optim;
        crate::params::with_param_store_on::<D, _>(|s| {
            step_store_owned(optim, s, &grads, &est.params)
        })
        .map_err(store_busy)?
        .map_err(PyroError::Optim)?;
        self.optim.end_step();
        Ok(est.loss)
    }

    /// The loss estimate without updating anything (Pyro's `svi.evaluate_loss`).
    pub fn evaluate_loss<A: Clone>(&self, args: A) -> PyroResult<f32>
    where
        M: Program<A>,
        G: Program<A>,
        L: Elbo<D>,
    {
        Ok(self
            .loss
            .estimate::<A, M, G>(&self.model, &self.guide, args, true)?
            .loss)
    }
}

/// The thread's parameter store was already borrowed (a model or guide running SVI inside
/// itself): the store's own error, which says so.
fn store_busy(e: crate::params::ParamStoreError) -> PyroError {
    PyroError::ParamStore(e)
}
