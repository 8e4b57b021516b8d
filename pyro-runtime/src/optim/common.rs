//! Helpers shared by the optimizers: argument validation, input checks, and the per-parameter
//! state map.

use super::error::{OptimError, OptimResult};
use crate::fast_hash::NameMap;

/// Per-parameter optimizer state (moments, step counts), kept by parameter name and created
/// lazily the first time a name is seen.
#[derive(Debug, Clone)]
pub(crate) struct StateMap<S> {
    states: NameMap<S>,
}

impl<S> Default for StateMap<S> {
    fn default() -> Self {
        Self {
            states: NameMap::default(),
        }
    }
}

/// What a per-parameter state must tell the map.
pub(crate) trait ParamState: Clone {
    /// Number of parameter elements the state was made for.
    fn len(&self) -> usize;
}

impl<S: ParamState> StateMap<S> {
    /// A copy of the state of `name` (or a fresh one from `init`), checked against the
    /// parameter's length. The caller updates the copy and hands it back with
    /// [`commit`](Self::commit) only when the whole update succeeded, so a failed update
    /// leaves the state as it was.
    pub(crate) fn working_copy(
        &self,
        name: &str,
        len: usize,
        init: impl FnOnce(usize) -> S,
    ) -> OptimResult<S> {
        match self.states.get(name) {
            Some(s) if s.len() != len => Err(OptimError::StateMismatch {
                name: name.to_string(),
                state_len: s.len(),
                value_len: len,
            }),
            Some(s) => Ok(s.clone()),
            None => Ok(init(len)),
        }
    }

    /// Mutable access to the state of `name` (`None` when unseen), checked against the
    /// parameter's length: one lookup, for updates that check their result before writing.
    pub(crate) fn checked_mut(&mut self, name: &str, len: usize) -> OptimResult<Option<&mut S>> {
        match self.states.get_mut(name) {
            Some(s) if s.len() != len => Err(OptimError::StateMismatch {
                name: name.to_string(),
                state_len: s.len(),
                value_len: len,
            }),
            s => Ok(s),
        }
    }

    /// The state of `name`, created with `init` when unseen (for updates that checked their
    /// result before committing).
    pub(crate) fn get_or_insert(&mut self, name: &str, init: impl FnOnce() -> S) -> &mut S {
        if !self.states.contains_key(name) {
            self.states.insert(name.to_string(), init());
        }
        self.states.get_mut(name).expect("inserted above")
    }

    /// Stores the updated state of `name`.
    pub(crate) fn commit(&mut self, name: &str, state: S) {
        match self.states.get_mut(name) {
            Some(slot) => *slot = state,
            None => {
                self.states.insert(name.to_string(), state);
            }
        }
    }

    pub(crate) fn get(&self, name: &str) -> Option<&S> {
        self.states.get(name)
    }

    pub(crate) fn remove(&mut self, name: &str) -> bool {
        self.states.remove(name).is_some()
    }

    pub(crate) fn clear(&mut self) {
        self.states.clear();
    }

    pub(crate) fn len(&self) -> usize {
        self.states.len()
    }
}

/// Checks that `grad` matches `value` in length and that both are finite.
pub(crate) fn check_inputs(name: &str, value: &[f32], grad: &[f32]) -> OptimResult<()> {
    if value.len() != grad.len() {
        return Err(OptimError::ShapeMismatch {
            name: name.to_string(),
            value_len: value.len(),
            grad_len: grad.len(),
        });
    }
    if let Some(index) = grad.iter().position(|g| !g.is_finite()) {
        return Err(OptimError::NonFiniteGradient {
            name: name.to_string(),
            index,
            value: grad[index],
        });
    }
    if let Some(index) = value.iter().position(|v| !v.is_finite()) {
        return Err(OptimError::NonFiniteValue {
            name: name.to_string(),
            index,
            value: value[index],
        });
    }
    Ok(())
}

/// Checks that the new values are finite before they are written.
pub(crate) fn check_output(name: &str, new_values: &[f32]) -> OptimResult<()> {
    match new_values.iter().position(|v| !v.is_finite()) {
        Some(index) => Err(OptimError::NonFiniteUpdate {
            name: name.to_string(),
            index,
            value: new_values[index],
        }),
        None => Ok(()),
    }
}

fn invalid(
    optimizer: &'static str,
    argument: &'static str,
    value: f64,
    reason: &'static str,
) -> OptimError {
    OptimError::InvalidConfig {
        optimizer,
        argument,
        value,
        reason,
    }
}

/// `value` must be finite and `>= 0` (learning rates, eps, weight decay, momentum, ...).
pub(crate) fn non_negative(
    optimizer: &'static str,
    argument: &'static str,
    value: f32,
) -> OptimResult<()> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(invalid(
            optimizer,
            argument,
            value as f64,
            "must be finite and >= 0",
        ))
    }
}

/// `value` must be finite and `> 0`.
pub(crate) fn positive(
    optimizer: &'static str,
    argument: &'static str,
    value: f32,
) -> OptimResult<()> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(invalid(
            optimizer,
            argument,
            value as f64,
            "must be finite and > 0",
        ))
    }
}

/// `value` must lie in `[0, 1)` (Adam's betas, as torch checks them).
pub(crate) fn unit_half_open(
    optimizer: &'static str,
    argument: &'static str,
    value: f32,
) -> OptimResult<()> {
    if (0.0..1.0).contains(&value) {
        Ok(())
    } else {
        Err(invalid(
            optimizer,
            argument,
            value as f64,
            "must be in [0, 1)",
        ))
    }
}

/// A condition on the combination of arguments (e.g. nesterov without momentum).
pub(crate) fn require(
    ok: bool,
    optimizer: &'static str,
    argument: &'static str,
    value: f32,
    reason: &'static str,
) -> OptimResult<()> {
    if ok {
        Ok(())
    } else {
        Err(invalid(optimizer, argument, value as f64, reason))
    }
}

/// The `Optimizer` methods every built-in optimizer shares: the learning rate lives in
/// `self.config.lr`, the per-parameter state in `self.states` (a [`StateMap`]).
macro_rules! state_methods {
    ($who:expr) => {
        fn learning_rate(&self) -> f32 {
            self.config.lr
        }

        fn set_learning_rate(&mut self, lr: f32) -> OptimResult<()> {
            non_negative($who, "lr", lr)?;
            self.config.lr = lr;
            Ok(())
        }

        fn forget(&mut self, name: &str) -> bool {
            self.states.remove(name)
        }

        fn reset(&mut self) {
            self.states.clear();
        }

        fn num_states(&self) -> usize {
            self.states.len()
        }
    };
}
pub(crate) use state_methods;
