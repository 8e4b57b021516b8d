//! Optimizers over the parameter store (Pyro's `pyro.optim`).
//!
//! An [`Optimizer`] updates one parameter at a time, in place, from the gradient of the loss
//! (it minimises). Per-parameter state (moments, step counts) is kept by parameter name and
//! created the first time a name is seen, as Pyro's `PyroOptim` creates one torch optimizer
//! per parameter. SVI calls [`Optimizer::update`] (or [`step_store`], which reads the
//! parameter's unconstrained leaf and its gradient and writes the result back into the
//! [`ParamStore`](crate::params::ParamStore)) for every parameter of a step, then
//! [`Optimizer::end_step`] once.
//!
//! | pyro-rs | Pyro / torch |
//! |---|---|
//! | [`Adam`] / [`AdamConfig`] | `pyro.optim.Adam` (`torch.optim.Adam`) |
//! | [`ClippedAdam`] / [`ClippedAdamConfig`] | `pyro.optim.ClippedAdam` |
//! | [`Sgd`] / [`SgdConfig`] | `pyro.optim.SGD` (`torch.optim.SGD`) |
//! | [`RmsProp`] / [`RmsPropConfig`] | `pyro.optim.RMSprop` (`torch.optim.RMSprop`) |
//! | [`Adagrad`] / [`AdagradConfig`] | `pyro.optim.Adagrad` (`torch.optim.Adagrad`) |
//! | [`Scheduled`] + [`StepLr`] / [`ExponentialLr`] | `pyro.optim.StepLR` / `pyro.optim.ExponentialLR` |
//!
//! Inputs are checked: a gradient whose length differs from the parameter's, or that holds
//! NaN or an infinity, is an [`OptimError`] naming the parameter, and an update that would
//! overflow is refused (nothing is changed). Arithmetic is in `f32` like torch's, with the
//! scalar factors (bias corrections, decays) in `f64`.
//!
//! ```
//! use pyro::optim::{Adam, AdamConfig, ExponentialLr, Optimizer, Scheduled};
//! let adam = Adam::new(AdamConfig { lr: 0.05, ..Default::default() }).unwrap();
//! let mut opt = Scheduled::new(adam, ExponentialLr { gamma: 0.999 }).unwrap();
//! // Minimise (x - 3)^2.
//! let mut x = vec![0.0_f32];
//! for _ in 0..500 {
//!     let grad = [2.0 * (x[0] - 3.0)];
//!     opt.update("x", &mut x, &grad).unwrap();
//!     opt.end_step();
//! }
//! assert!((x[0] - 3.0).abs() < 1e-2);
//! ```

mod adagrad;
mod adam;
mod clipped_adam;
mod common;
mod error;
mod rmsprop;
mod scheduler;
mod sgd;
mod store;

#[cfg(test)]
mod tests;

pub use adagrad::{Adagrad, AdagradConfig};
pub use adam::{Adam, AdamConfig};
pub use clipped_adam::{ClippedAdam, ClippedAdamConfig};
pub use error::{OptimError, OptimResult};
pub use rmsprop::{RmsProp, RmsPropConfig};
pub use scheduler::{ExponentialLr, LrSchedule, Scheduled, StepLr};
pub use sgd::{Sgd, SgdConfig};
pub use store::step_store;
pub(crate) use store::step_store_owned;

/// An optimizer over named parameters (Pyro's `PyroOptim`). Object safe: SVI holds a
/// `Box<dyn Optimizer>` or `&mut dyn Optimizer`.
///
/// ```
/// use pyro::optim::{Optimizer, Sgd};
/// let mut opt: Box<dyn Optimizer> = Box::new(Sgd::with_lr(0.5).unwrap());
/// let mut w = vec![1.0_f32, 2.0];
/// opt.update("w", &mut w, &[2.0, -2.0]).unwrap();
/// opt.end_step();
/// assert_eq!(w, vec![0.0, 3.0]);
/// ```
pub trait Optimizer {
    /// Updates one parameter in place (its unconstrained values) from its gradient of the LOSS
    /// (minimisation). Per-parameter state (moments, step counts) is kept by name and created
    /// lazily the first time a name is seen, as Pyro's PyroOptim does.
    ///
    /// Errors (nothing is changed, neither the values nor the state): a gradient of another
    /// length ([`OptimError::ShapeMismatch`]), a NaN or infinite gradient or value, a
    /// parameter whose length changed since its state was made
    /// ([`OptimError::StateMismatch`]; see [`forget`](Self::forget)), an update that would
    /// overflow.
    ///
    /// ```
    /// use pyro::optim::{Adam, OptimError, Optimizer};
    /// let mut adam = Adam::with_lr(0.1).unwrap();
    /// let err = adam.update("loc", &mut [0.0, 0.0], &[1.0, f32::NAN]).unwrap_err();
    /// assert!(matches!(err, OptimError::NonFiniteGradient { ref name, index: 1, .. } if name == "loc"));
    /// ```
    fn update(&mut self, name: &str, value: &mut [f32], grad: &[f32]) -> OptimResult<()>;

    /// Called once after every SVI step (learning-rate schedules advance here).
    ///
    /// ```
    /// use pyro::optim::{Adam, Optimizer};
    /// let mut adam = Adam::with_lr(0.1).unwrap();
    /// adam.end_step(); // no schedule: nothing changes
    /// assert_eq!(adam.learning_rate(), 0.1);
    /// ```
    fn end_step(&mut self) {}

    /// Current base learning rate.
    ///
    /// ```
    /// use pyro::optim::{Optimizer, RmsProp};
    /// assert_eq!(RmsProp::with_lr(0.02).unwrap().learning_rate(), 0.02);
    /// ```
    fn learning_rate(&self) -> f32;

    /// Sets the base learning rate (what [`Scheduled`] calls before each update). The
    /// default refuses with [`OptimError::LrNotSettable`]; every optimizer of this module
    /// accepts any finite `lr >= 0`.
    ///
    /// ```
    /// use pyro::optim::{Optimizer, Sgd};
    /// let mut sgd = Sgd::with_lr(0.1).unwrap();
    /// sgd.set_learning_rate(0.01).unwrap();
    /// assert_eq!(sgd.learning_rate(), 0.01);
    /// assert!(sgd.set_learning_rate(f32::NAN).is_err());
    /// ```
    fn set_learning_rate(&mut self, lr: f32) -> OptimResult<()> {
        let _ = lr;
        Err(OptimError::LrNotSettable {
            optimizer: std::any::type_name::<Self>(),
        })
    }

    /// Drops the state of one parameter (e.g. after it was removed from the store or
    /// resized); its next update starts afresh. Returns whether it had state.
    ///
    /// ```
    /// use pyro::optim::{Adam, Optimizer};
    /// let mut adam = Adam::with_lr(0.1).unwrap();
    /// adam.update("x", &mut [0.0], &[1.0]).unwrap();
    /// assert!(adam.forget("x"));
    /// assert!(adam.update("x", &mut [0.0, 0.0], &[1.0, 1.0]).is_ok()); // new shape accepted
    /// ```
    fn forget(&mut self, name: &str) -> bool {
        let _ = name;
        false
    }

    /// Drops the state of every parameter.
    ///
    /// ```
    /// use pyro::optim::{Adam, Optimizer};
    /// let mut adam = Adam::with_lr(0.1).unwrap();
    /// adam.update("x", &mut [0.0], &[1.0]).unwrap();
    /// adam.reset();
    /// assert_eq!(adam.num_states(), 0);
    /// ```
    fn reset(&mut self) {}

    /// Number of parameters that have state.
    ///
    /// ```
    /// use pyro::optim::{Adagrad, Optimizer};
    /// let mut opt = Adagrad::with_lr(0.1).unwrap();
    /// opt.update("a", &mut [0.0], &[1.0]).unwrap();
    /// opt.update("b", &mut [0.0], &[1.0]).unwrap();
    /// assert_eq!(opt.num_states(), 2);
    /// ```
    fn num_states(&self) -> usize {
        0
    }
}

impl<O: Optimizer + ?Sized> Optimizer for Box<O> {
    fn update(&mut self, name: &str, value: &mut [f32], grad: &[f32]) -> OptimResult<()> {
        (**self).update(name, value, grad)
    }

    fn end_step(&mut self) {
        (**self).end_step()
    }

    fn learning_rate(&self) -> f32 {
        (**self).learning_rate()
    }

    fn set_learning_rate(&mut self, lr: f32) -> OptimResult<()> {
        (**self).set_learning_rate(lr)
    }

    fn forget(&mut self, name: &str) -> bool {
        (**self).forget(name)
    }

    fn reset(&mut self) {
        (**self).reset()
    }

    fn num_states(&self) -> usize {
        (**self).num_states()
    }
}
