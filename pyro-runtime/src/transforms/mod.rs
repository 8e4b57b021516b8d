//! Transforms between unconstrained and constrained spaces (Pyro's
//! `torch.distributions.transforms` and the constraint registries `biject_to` /
//! `transform_to`).
//!
//! A [`Transform`] maps `x` in its domain to `y = forward(x)` in its codomain, maps back with
//! [`Transform::inverse`], and reports `log |det ∂y/∂x|` with
//! [`Transform::log_abs_det_jacobian`], summed over the transform's event dims so the result
//! has the batch shape. Everything runs on [`DynTensor`]s and is differentiable.
//!
//! Conventions (as in Pyro / PyTorch):
//! - Elementwise transforms ([`ExpTransform`], [`AffineTransform`], [`SigmoidTransform`],
//!   [`TanhTransform`], [`SoftplusTransform`], [`PowerTransform`]) have event dim 0 and return a
//!   log-det of the input's shape.
//! - [`StickBreakingTransform`] maps `[..., K-1] -> [..., K]`; its log-det is that of the square
//!   Jacobian of the first `K-1` outputs.
//! - [`LowerCholeskyTransform`] and [`SoftplusLowerCholeskyTransform`] map `[..., n, n]` to
//!   `[..., n, n]` (the strictly upper part of the input is ignored); their log-det is taken
//!   with respect to the `n(n+1)/2` lower-triangular entries.
//! - [`CorrCholeskyTransform`] maps `[..., n(n-1)/2] -> [..., n, n]`; its log-det is that of the
//!   map to the strictly lower part of the output.
//! - [`PositiveDefiniteTransform`] maps `[..., n, n]` to `L Lᵀ`; its log-det is taken from the
//!   lower entries of `x` to the lower triangle of `y`.
//! - [`SoftmaxTransform`] is not a bijection and has no log-det (a typed error).
//! - `inverse` checks its input against the codomain when validation is on
//!   ([`crate::enable_validation`]) and returns [`TransformError::OutOfDomain`] instead of NaN.
//!
//! ```
//! use pyro::constraints::Constraint;
//! use pyro::tensor::DynTensor;
//! use pyro::transforms::biject_to;
//! let t = biject_to::<dfdx::prelude::Cpu>(&Constraint::Interval(-1.0, 3.0)).unwrap();
//! let x = DynTensor::from_vec(vec![-2.0, 0.0, 5.0], &[3]).unwrap();
//! let y = t.forward(&x).unwrap();
//! assert!(Constraint::Interval(-1.0, 3.0).check_all(&y));
//! let back = t.inverse(&y).unwrap().to_vec();
//! assert!((back[0] + 2.0).abs() < 1e-4 && back[1].abs() < 1e-5);
//! ```

use std::fmt::Debug;

use thiserror::Error;

use crate::constraints::Constraint;
use crate::tensor::TensorError;
use crate::tensor::{Backend, DynTensor};

mod affine;
mod compose;
mod corr_cholesky;
mod elementwise;
mod identity;
mod independent;
mod interval;
mod inverse;
mod lower_cholesky;
mod positive_definite;
mod power;
mod registry;
mod softmax;
mod stick_breaking;
#[cfg(test)]
pub(crate) mod testing;
mod util;

pub use affine::AffineTransform;
pub use compose::ComposeTransform;
pub use corr_cholesky::CorrCholeskyTransform;
pub use elementwise::{ExpTransform, SigmoidTransform, SoftplusTransform, TanhTransform};
pub use identity::IdentityTransform;
pub use independent::IndependentTransform;
pub use interval::IntervalTransform;
pub use inverse::InverseTransform;
pub use lower_cholesky::{
    LowerCholeskyTransform, SoftplusLowerCholeskyTransform, UnitLowerCholeskyTransform,
};
pub use positive_definite::PositiveDefiniteTransform;
pub use power::PowerTransform;
pub use registry::{biject_to, transform_to};
pub use softmax::SoftmaxTransform;
pub use stick_breaking::StickBreakingTransform;

/// Errors from building or applying a transform.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum TransformError {
    /// No transform is registered for a constraint (discrete constraints have none).
    #[error("{registry}: no transform is registered for the constraint `{constraint}`")]
    Unsupported {
        /// The constraint asked for.
        constraint: String,
        /// `biject_to` or `transform_to`.
        registry: &'static str,
    },
    /// A constraint whose parameters do not describe a set (`interval(a, b)` with `a >= b`).
    #[error("{registry}: invalid constraint `{constraint}`: {reason}")]
    InvalidConstraint {
        /// The constraint asked for.
        constraint: String,
        /// `biject_to` or `transform_to`.
        registry: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The transform has no log-determinant (it is not a bijection, like Softmax).
    #[error("{transform}: log_abs_det_jacobian is undefined: {reason}")]
    NoLogDet {
        /// The transform.
        transform: &'static str,
        /// Why.
        reason: &'static str,
    },
    /// A parameter of a transform is invalid (a zero scale, a zero exponent).
    #[error("{transform}: invalid parameter `{param}`: {reason}")]
    InvalidParameter {
        /// The transform.
        transform: &'static str,
        /// The parameter's name.
        param: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The input does not have a shape the transform accepts.
    #[error("{transform}: {direction} input of shape {shape:?}: {reason}")]
    Shape {
        /// The transform.
        transform: &'static str,
        /// `forward`, `inverse`, `log_abs_det_jacobian`, `forward_shape` or `inverse_shape`.
        direction: &'static str,
        /// The shape found.
        shape: Vec<usize>,
        /// What was expected.
        reason: String,
    },
    /// An input value lies outside the set the transform maps from (checked when validation
    /// is on, see [`crate::enable_validation`], and always where the map cannot be evaluated).
    #[error("{transform}: {direction} input outside `{constraint}`: {detail}")]
    OutOfDomain {
        /// The transform.
        transform: &'static str,
        /// `forward` or `inverse`.
        direction: &'static str,
        /// The set the input must lie in.
        constraint: String,
        /// Which values.
        detail: String,
    },
    /// A tensor operation failed.
    #[error(transparent)]
    Tensor(#[from] TensorError),
}

/// Shorthand result of transforms.
pub type TransformResult<T> = Result<T, TransformError>;

/// A boxed transform on device `D`.
pub type BoxTransform<D> = Box<dyn Transform<D>>;

/// A differentiable map between a domain and a codomain of real tensors (object-safe).
///
/// ```
/// use pyro::tensor::DynTensor;
/// use pyro::transforms::{ExpTransform, Transform};
/// let t: &dyn Transform<dfdx::prelude::Cpu> = &ExpTransform;
/// let x = DynTensor::from_vec(vec![0.0, 1.0], &[2]).unwrap();
/// let y = t.forward(&x).unwrap();
/// assert!((y.to_vec()[1] - std::f32::consts::E).abs() < 1e-6);
/// assert_eq!(t.log_abs_det_jacobian(&x, &y).unwrap().to_vec(), vec![0.0, 1.0]);
/// let back = t.inv().forward(&y).unwrap().to_vec();
/// assert!(back[0] == 0.0 && (back[1] - 1.0).abs() < 1e-6);
/// ```
pub trait Transform<D: Backend>: Debug + 'static {
    /// The transform's name, for messages.
    fn name(&self) -> &'static str;
    /// The set `x` lives in (per element; see [`Transform::domain_event_dim`]).
    fn domain(&self) -> Constraint;
    /// The set `y` lives in.
    fn codomain(&self) -> Constraint;
    /// Number of rightmost dims of `x` that form one event.
    fn domain_event_dim(&self) -> usize {
        self.domain().event_dim()
    }
    /// Number of rightmost dims of `y` that form one event.
    fn codomain_event_dim(&self) -> usize {
        self.codomain().event_dim()
    }
    /// Whether the map is a bijection between domain and codomain (then it has a log-det).
    fn bijective(&self) -> bool {
        true
    }
    /// `y = f(x)`.
    fn forward(&self, x: &DynTensor<D>) -> TransformResult<DynTensor<D>>;
    /// `x = f⁻¹(y)`.
    fn inverse(&self, y: &DynTensor<D>) -> TransformResult<DynTensor<D>>;
    /// `log |det ∂y/∂x|`, summed over the event dims: shape `x.shape()` without its last
    /// [`Transform::domain_event_dim`] dims.
    fn log_abs_det_jacobian(
        &self,
        x: &DynTensor<D>,
        y: &DynTensor<D>,
    ) -> TransformResult<DynTensor<D>>;
    /// `forward(x)` and its `log_abs_det_jacobian` together; a chain overrides it to compute
    /// each intermediate value once.
    ///
    /// ```
    /// use pyro::tensor::DynTensor;
    /// use pyro::transforms::{ExpTransform, Transform};
    /// let x = DynTensor::<dfdx::prelude::Cpu>::from_vec(vec![0.0, 1.0], &[2]).unwrap();
    /// let (y, ld) = ExpTransform.forward_with_log_abs_det_jacobian(&x).unwrap();
    /// assert_eq!(y.to_vec(), vec![1.0, 1f32.exp()]);
    /// assert_eq!(ld.to_vec(), vec![0.0, 1.0]);
    /// ```
    fn forward_with_log_abs_det_jacobian(
        &self,
        x: &DynTensor<D>,
    ) -> TransformResult<(DynTensor<D>, DynTensor<D>)> {
        let y = self.forward(x)?;
        let ld = self.log_abs_det_jacobian(x, &y)?;
        Ok((y, ld))
    }
    /// The shape of `forward(x)` for an `x` of shape `shape`.
    fn forward_shape(&self, shape: &[usize]) -> TransformResult<Vec<usize>> {
        Ok(shape.to_vec())
    }
    /// The shape of `inverse(y)` for a `y` of shape `shape`.
    fn inverse_shape(&self, shape: &[usize]) -> TransformResult<Vec<usize>> {
        Ok(shape.to_vec())
    }
    /// A boxed copy.
    fn clone_box(&self) -> BoxTransform<D>;
    /// The inverse transform (Pyro's `t.inv`).
    fn inv(&self) -> BoxTransform<D> {
        Box::new(InverseTransform::new(self.clone_box()))
    }
}

impl<D: Backend> Clone for BoxTransform<D> {
    fn clone(&self) -> Self {
        self.clone_box()
    }
}

/// Checks `y` against the codomain of `t` before an inverse, when validation is on.
pub(crate) fn validate_inverse_input<D: Backend>(
    t: &dyn Transform<D>,
    y: &DynTensor<D>,
) -> TransformResult<()> {
    if !crate::is_validation_enabled() {
        return Ok(());
    }
    validate_in(t.name(), "inverse", &t.codomain(), y)
}

/// Checks that every event of `v` lies in `c`; the error names the transform and direction.
pub(crate) fn validate_in<D: Backend>(
    transform: &'static str,
    direction: &'static str,
    c: &Constraint,
    v: &DynTensor<D>,
) -> TransformResult<()> {
    let vals = v.to_vec();
    let ok = c.check_values(&vals, v.shape());
    if let Some(bad) = ok.iter().position(|b| !b) {
        let n_bad = ok.iter().filter(|b| !**b).count();
        let event: usize = vals.len() / ok.len().max(1);
        let first = &vals[bad * event..(bad + 1) * event];
        return Err(TransformError::OutOfDomain {
            transform,
            direction,
            constraint: c.to_string(),
            detail: format!(
                "{n_bad} of {} events, the first (index {bad}) is {first:?}",
                ok.len()
            ),
        });
    }
    Ok(())
}
