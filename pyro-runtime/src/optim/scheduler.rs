//! Learning-rate schedules wrapping any [`Optimizer`]: [`Scheduled`] with [`StepLr`] or
//! [`ExponentialLr`] (torch's `StepLR` / `ExponentialLR`, Pyro's `pyro.optim.StepLR` /
//! `pyro.optim.ExponentialLR`).
//!
//! The schedule advances once per [`Optimizer::end_step`] (an SVI step plays the part of
//! torch's epoch). After `e` calls the learning rate is `lr * factor(e)` with
//!
//! ```text
//! StepLr:        factor(e) = gamma^floor(e / step_size)
//! ExponentialLr: factor(e) = gamma^e
//! ```
//!
//! As in Pyro, where every parameter gets its own optimizer and scheduler when it is first
//! seen, `e` counts the steps since *that parameter's* first update: a parameter that first
//! appears at step 10 starts from the base learning rate. The factor multiplies whatever
//! the wrapped optimizer does with its learning rate (e.g. [`ClippedAdam`](super::ClippedAdam)'s
//! own `lrd` decay), as torch's chainable schedulers do.

use std::collections::HashMap;

use super::common::{non_negative, positive, require};
use super::error::OptimResult;
use super::Optimizer;

/// A learning-rate schedule: the factor applied to the base learning rate after `epoch`
/// calls of [`Optimizer::end_step`].
///
/// ```
/// use pyro::optim::{ExponentialLr, LrSchedule};
/// assert!((ExponentialLr { gamma: 0.5 }.factor(3) - 0.125).abs() < 1e-12);
/// ```
pub trait LrSchedule {
    /// The schedule's name, for errors.
    fn name(&self) -> &'static str;
    /// Checks the schedule's arguments.
    fn validate(&self) -> OptimResult<()>;
    /// The factor after `epoch` steps (`factor(0) == 1`).
    fn factor(&self, epoch: u64) -> f64;
}

/// torch's `StepLR`: the learning rate is multiplied by `gamma` every `step_size` steps.
///
/// ```
/// use pyro::optim::{LrSchedule, StepLr};
/// let s = StepLr { step_size: 2, gamma: 0.1 };
/// assert_eq!(s.factor(1), 1.0);
/// assert!((s.factor(2) - 0.1).abs() < 1e-7);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepLr {
    /// Steps between two decays (`>= 1`).
    pub step_size: u64,
    /// Multiplicative decay (`> 0`).
    pub gamma: f32,
}

impl LrSchedule for StepLr {
    fn name(&self) -> &'static str {
        "StepLr"
    }

    fn validate(&self) -> OptimResult<()> {
        require(
            self.step_size >= 1,
            "StepLr",
            "step_size",
            self.step_size as f32,
            "must be >= 1",
        )?;
        positive("StepLr", "gamma", self.gamma)
    }

    fn factor(&self, epoch: u64) -> f64 {
        powu(self.gamma as f64, epoch / self.step_size.max(1))
    }
}

/// torch's `ExponentialLR`: the learning rate is multiplied by `gamma` every step.
///
/// ```
/// use pyro::optim::{ExponentialLr, LrSchedule};
/// assert!((ExponentialLr { gamma: 0.9 }.factor(2) - 0.81).abs() < 1e-7);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ExponentialLr {
    /// Multiplicative decay per step (`> 0`).
    pub gamma: f32,
}

impl LrSchedule for ExponentialLr {
    fn name(&self) -> &'static str {
        "ExponentialLr"
    }

    fn validate(&self) -> OptimResult<()> {
        positive("ExponentialLr", "gamma", self.gamma)
    }

    fn factor(&self, epoch: u64) -> f64 {
        powu(self.gamma as f64, epoch)
    }
}

fn powu(x: f64, n: u64) -> f64 {
    x.powi(n.min(i32::MAX as u64) as i32)
}

/// An optimizer whose learning rate follows a schedule (Pyro's `pyro.optim.ExponentialLR`,
/// `pyro.optim.StepLR`).
///
/// ```
/// use pyro::optim::{Adam, ExponentialLr, Optimizer, Scheduled};
/// let mut opt = Scheduled::new(Adam::with_lr(0.1).unwrap(), ExponentialLr { gamma: 0.5 }).unwrap();
/// let mut x = vec![0.0_f32];
/// opt.update("x", &mut x, &[1.0]).unwrap();
/// opt.end_step();
/// assert!((opt.learning_rate() - 0.05).abs() < 1e-8);
/// ```
#[derive(Debug, Clone)]
pub struct Scheduled<O, S> {
    inner: O,
    schedule: S,
    base_lr: f32,
    epoch: u64,
    /// Steps since each parameter's first update.
    param_epochs: HashMap<String, u64>,
}

impl<O: Optimizer, S: LrSchedule> Scheduled<O, S> {
    /// Wraps `inner`, whose current learning rate becomes the base learning rate. Errors on
    /// invalid schedule arguments, or when `inner` cannot have its learning rate set.
    ///
    /// ```
    /// use pyro::optim::{Scheduled, Sgd, StepLr};
    /// assert!(Scheduled::new(Sgd::with_lr(0.1).unwrap(), StepLr { step_size: 0, gamma: 0.5 }).is_err());
    /// ```
    pub fn new(mut inner: O, schedule: S) -> OptimResult<Self> {
        schedule.validate()?;
        let base_lr = inner.learning_rate();
        inner.set_learning_rate(base_lr)?;
        Ok(Self {
            inner,
            schedule,
            base_lr,
            epoch: 0,
            param_epochs: HashMap::new(),
        })
    }

    /// The wrapped optimizer.
    ///
    /// ```
    /// use pyro::optim::{Adam, ExponentialLr, Scheduled};
    /// let opt = Scheduled::new(Adam::with_lr(0.1).unwrap(), ExponentialLr { gamma: 0.5 }).unwrap();
    /// assert_eq!(opt.inner().config().eps, 1e-8);
    /// ```
    pub fn inner(&self) -> &O {
        &self.inner
    }

    /// The schedule.
    ///
    /// ```
    /// use pyro::optim::{Adam, ExponentialLr, Scheduled};
    /// let opt = Scheduled::new(Adam::with_lr(0.1).unwrap(), ExponentialLr { gamma: 0.5 }).unwrap();
    /// assert_eq!(opt.schedule().gamma, 0.5);
    /// ```
    pub fn schedule(&self) -> &S {
        &self.schedule
    }

    /// Number of [`Optimizer::end_step`] calls so far (torch's `last_epoch`).
    ///
    /// ```
    /// use pyro::optim::{Adam, ExponentialLr, Optimizer, Scheduled};
    /// let mut opt = Scheduled::new(Adam::with_lr(0.1).unwrap(), ExponentialLr { gamma: 0.5 }).unwrap();
    /// opt.end_step();
    /// assert_eq!(opt.epoch(), 1);
    /// ```
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The learning rate the next update of `name` will use (before anything the wrapped
    /// optimizer adds, such as ClippedAdam's `lrd`).
    ///
    /// ```
    /// use pyro::optim::{Adam, ExponentialLr, Optimizer, Scheduled};
    /// let mut opt = Scheduled::new(Adam::with_lr(1.0).unwrap(), ExponentialLr { gamma: 0.5 }).unwrap();
    /// opt.update("a", &mut [0.0], &[1.0]).unwrap();
    /// opt.end_step();
    /// assert_eq!(opt.learning_rate_for("a"), 0.5);
    /// assert_eq!(opt.learning_rate_for("new"), 1.0); // a new parameter starts its own schedule
    /// ```
    pub fn learning_rate_for(&self, name: &str) -> f32 {
        let e = self.param_epochs.get(name).copied().unwrap_or(0);
        self.lr_at(e)
    }

    fn lr_at(&self, epoch: u64) -> f32 {
        (self.base_lr as f64 * self.schedule.factor(epoch)) as f32
    }
}

impl<O: Optimizer, S: LrSchedule> Optimizer for Scheduled<O, S> {
    fn update(&mut self, name: &str, value: &mut [f32], grad: &[f32]) -> OptimResult<()> {
        let lr = self.learning_rate_for(name);
        self.inner.set_learning_rate(lr)?;
        self.inner.update(name, value, grad)?;
        if !self.param_epochs.contains_key(name) {
            self.param_epochs.insert(name.to_string(), 0);
        }
        Ok(())
    }

    fn end_step(&mut self) {
        self.epoch += 1;
        for e in self.param_epochs.values_mut() {
            *e += 1;
        }
        self.inner.end_step();
    }

    /// The scheduled learning rate after [`epoch`](Scheduled::epoch) steps (that of a
    /// parameter seen since the first step).
    fn learning_rate(&self) -> f32 {
        self.lr_at(self.epoch)
    }

    /// Sets the base learning rate (the one the schedule multiplies).
    fn set_learning_rate(&mut self, lr: f32) -> OptimResult<()> {
        non_negative(self.schedule.name(), "lr", lr)?;
        self.base_lr = lr;
        Ok(())
    }

    fn forget(&mut self, name: &str) -> bool {
        self.param_epochs.remove(name);
        self.inner.forget(name)
    }

    fn reset(&mut self) {
        self.param_epochs.clear();
        self.inner.reset();
    }

    fn num_states(&self) -> usize {
        self.inner.num_states()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::{Adam, OptimError, Sgd};

    #[test]
    fn step_lr_sequence_is_torchs() {
        // torch StepLR(step_size=3, gamma=0.5) from lr 0.8: 0.8 for epochs 0-2, 0.4 for 3-5, ...
        let mut opt = Scheduled::new(
            Sgd::with_lr(0.8).unwrap(),
            StepLr {
                step_size: 3,
                gamma: 0.5,
            },
        )
        .unwrap();
        let want = [0.8, 0.8, 0.8, 0.4, 0.4, 0.4, 0.2, 0.2, 0.2, 0.1, 0.1];
        for (e, &lr) in want.iter().enumerate() {
            assert_eq!(opt.epoch(), e as u64);
            assert!((opt.learning_rate() - lr).abs() < 1e-7, "epoch {e}");
            opt.end_step();
        }
    }

    #[test]
    fn exponential_lr_sequence_is_torchs() {
        let mut opt =
            Scheduled::new(Adam::with_lr(0.5).unwrap(), ExponentialLr { gamma: 0.9 }).unwrap();
        for e in 0..30 {
            // gamma is the f32 0.9, as handed in
            let want = 0.5 * (0.9f32 as f64).powi(e);
            assert!(
                (opt.learning_rate() as f64 - want).abs() < 1e-7 * want,
                "epoch {e}"
            );
            opt.end_step();
        }
    }

    #[test]
    fn the_scheduled_rate_drives_the_updates() {
        // Plain SGD: the displacement of each step is exactly lr_e * g.
        let mut opt = Scheduled::new(
            Sgd::with_lr(1.0).unwrap(),
            StepLr {
                step_size: 2,
                gamma: 0.5,
            },
        )
        .unwrap();
        let mut x = vec![0.0_f32];
        for e in 0..8 {
            let before = x[0];
            opt.update("x", &mut x, &[-1.0]).unwrap();
            opt.end_step();
            assert_eq!(x[0] - before, 0.5f32.powi(e / 2), "epoch {e}");
        }
    }

    #[test]
    fn each_parameter_starts_its_own_schedule() {
        // As in Pyro, where a parameter's scheduler is created at its first update.
        let mut opt =
            Scheduled::new(Sgd::with_lr(1.0).unwrap(), ExponentialLr { gamma: 0.5 }).unwrap();
        let (mut a, mut b) = (vec![0.0_f32], vec![0.0_f32]);
        for _ in 0..3 {
            opt.update("a", &mut a, &[-1.0]).unwrap();
            opt.end_step();
        }
        assert_eq!(opt.learning_rate_for("a"), 0.125);
        opt.update("b", &mut b, &[-1.0]).unwrap();
        assert_eq!(b[0], 1.0);
        opt.end_step();
        assert_eq!(opt.learning_rate_for("b"), 0.5);
        assert!(opt.forget("b"));
        assert_eq!(opt.learning_rate_for("b"), 1.0);
    }

    #[test]
    fn invalid_schedules_are_errors() {
        let sgd = || Sgd::with_lr(0.1).unwrap();
        for (sched, arg) in [
            (
                Scheduled::new(
                    sgd(),
                    StepLr {
                        step_size: 0,
                        gamma: 0.5,
                    },
                )
                .err(),
                "step_size",
            ),
            (
                Scheduled::new(
                    sgd(),
                    StepLr {
                        step_size: 2,
                        gamma: 0.0,
                    },
                )
                .err(),
                "gamma",
            ),
            (
                Scheduled::new(sgd(), ExponentialLr { gamma: -0.5 }).err(),
                "gamma",
            ),
            (
                Scheduled::new(sgd(), ExponentialLr { gamma: f32::NAN }).err(),
                "gamma",
            ),
        ] {
            match sched {
                Some(OptimError::InvalidConfig { argument, .. }) => assert_eq!(argument, arg),
                other => panic!("{other:?}"),
            }
        }
        let mut ok = Scheduled::new(sgd(), ExponentialLr { gamma: 0.5 }).unwrap();
        assert!(ok.set_learning_rate(-1.0).is_err());
    }

    /// An optimizer that does not let its learning rate be set.
    #[derive(Debug)]
    struct Fixed;
    impl Optimizer for Fixed {
        fn update(&mut self, _: &str, _: &mut [f32], _: &[f32]) -> OptimResult<()> {
            Ok(())
        }
        fn learning_rate(&self) -> f32 {
            1.0
        }
    }

    #[test]
    fn an_optimizer_without_settable_rate_cannot_be_scheduled() {
        let err = Scheduled::new(Fixed, ExponentialLr { gamma: 0.5 }).unwrap_err();
        assert!(matches!(err, OptimError::LrNotSettable { .. }), "{err}");
    }
}
