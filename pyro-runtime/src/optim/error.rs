//! [`OptimError`]: everything that can go wrong in an optimizer, naming the optimizer
//! argument or the parameter at fault.

use thiserror::Error;

use crate::params::ParamStoreError;

/// Result of the optimizers.
///
/// ```
/// use pyro::optim::{OptimResult, Sgd};
/// fn make() -> OptimResult<Sgd> {
///     Sgd::with_lr(0.1)
/// }
/// assert!(make().is_ok());
/// ```
pub type OptimResult<T> = Result<T, OptimError>;

/// An error of an optimizer or learning-rate schedule. Configuration errors name the optimizer
/// and the argument; update errors name the parameter.
///
/// ```
/// use pyro::optim::{Adam, AdamConfig, OptimError};
/// let err = Adam::new(AdamConfig { lr: -1.0, ..Default::default() }).unwrap_err();
/// assert!(matches!(err, OptimError::InvalidConfig { argument: "lr", .. }));
/// assert!(err.to_string().contains("lr"));
/// ```
#[derive(Debug, Clone, Error)]
pub enum OptimError {
    /// A constructor (or `set_learning_rate`) got an invalid argument.
    #[error("{optimizer}: invalid `{argument}` = {value}: {reason}")]
    InvalidConfig {
        /// The optimizer or schedule (`"Adam"`, `"StepLr"`, ...).
        optimizer: &'static str,
        /// The argument at fault (`"lr"`, `"betas.0"`, ...).
        argument: &'static str,
        /// The value handed in.
        value: f64,
        /// What it must satisfy.
        reason: &'static str,
    },
    /// The gradient does not have as many elements as the parameter.
    #[error("parameter `{name}`: gradient has {grad_len} elements, the parameter has {value_len}")]
    ShapeMismatch {
        /// The parameter's name.
        name: String,
        /// Elements of the parameter.
        value_len: usize,
        /// Elements of the gradient.
        grad_len: usize,
    },
    /// The parameter changed size since the optimizer created its state (its moments).
    #[error(
        "parameter `{name}`: the optimizer's state has {state_len} elements, the parameter now \
         has {value_len} (it was resized; call `Optimizer::forget` to drop the old state)"
    )]
    StateMismatch {
        /// The parameter's name.
        name: String,
        /// Elements of the stored state.
        state_len: usize,
        /// Elements of the parameter now.
        value_len: usize,
    },
    /// A gradient element is NaN or infinite.
    #[error("parameter `{name}`: gradient element {index} is {value} (not finite)")]
    NonFiniteGradient {
        /// The parameter's name.
        name: String,
        /// Flat index of the first bad element.
        index: usize,
        /// Its value.
        value: f32,
    },
    /// A parameter value handed to the optimizer is NaN or infinite.
    #[error("parameter `{name}`: value element {index} is {value} (not finite)")]
    NonFiniteValue {
        /// The parameter's name.
        name: String,
        /// Flat index of the first bad element.
        index: usize,
        /// Its value.
        value: f32,
    },
    /// The update would make a parameter value NaN or infinite (overflow); nothing was changed.
    #[error("parameter `{name}`: the update makes element {index} {value} (not finite); nothing was changed")]
    NonFiniteUpdate {
        /// The parameter's name.
        name: String,
        /// Flat index of the first bad element.
        index: usize,
        /// The value it would have taken.
        value: f32,
    },
    /// `step_store` was asked for a parameter that is not in the store.
    #[error("no parameter named `{name}` in the param store")]
    UnknownParam {
        /// The parameter's name.
        name: String,
    },
    /// The optimizer cannot have its learning rate set (a schedule needs that).
    #[error("{optimizer}: the learning rate cannot be set from outside")]
    LrNotSettable {
        /// The optimizer's name.
        optimizer: &'static str,
    },
    /// The parameter store refused the new values.
    #[error("parameter `{name}`: the param store refused the update: {source}")]
    Store {
        /// The parameter's name.
        name: String,
        /// The store's error.
        #[source]
        source: Box<ParamStoreError>,
    },
    /// The updated values could not be put back into a tensor.
    #[error("parameter `{name}`: {message}")]
    Tensor {
        /// The parameter's name.
        name: String,
        /// What went wrong.
        message: String,
    },
}

impl OptimError {
    /// The parameter the error is about, when it is about one (configuration errors are not).
    ///
    /// ```
    /// use pyro::optim::{Adam, Optimizer};
    /// let mut adam = Adam::with_lr(0.1).unwrap();
    /// let err = adam.update("w", &mut [0.0], &[f32::NAN]).unwrap_err();
    /// assert_eq!(err.param_name(), Some("w"));
    /// assert_eq!(Adam::with_lr(-1.0).unwrap_err().param_name(), None);
    /// ```
    pub fn param_name(&self) -> Option<&str> {
        match self {
            OptimError::InvalidConfig { .. } | OptimError::LrNotSettable { .. } => None,
            OptimError::ShapeMismatch { name, .. }
            | OptimError::StateMismatch { name, .. }
            | OptimError::NonFiniteGradient { name, .. }
            | OptimError::NonFiniteValue { name, .. }
            | OptimError::NonFiniteUpdate { name, .. }
            | OptimError::UnknownParam { name }
            | OptimError::Store { name, .. }
            | OptimError::Tensor { name, .. } => Some(name),
        }
    }
}
