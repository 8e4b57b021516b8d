//! Errors of the differentiable linear algebra.

use thiserror::Error;

use crate::tensor::TensorError;

/// An error from a linear-algebra operation.
///
/// ```
/// use pyro::linalg::{cholesky, LinalgError};
/// use pyro::tensor::DynTensor;
/// let a = DynTensor::<dfdx::prelude::Cpu>::from_vec(vec![1.0, 2.0, 2.0, 1.0], &[2, 2]).unwrap();
/// assert!(matches!(
///     cholesky(&a),
///     Err(LinalgError::NotPositiveDefinite { index: 0, .. })
/// ));
/// ```
#[derive(Debug, Clone, PartialEq, Error)]
pub enum LinalgError {
    /// A matrix handed to a Cholesky factorisation is not (numerically) positive definite.
    #[error("{op}: matrix {index} of the batch is not positive definite")]
    NotPositiveDefinite {
        /// The operation.
        op: &'static str,
        /// Flat index of the offending matrix in the batch (0 when unbatched).
        index: usize,
    },
    /// A triangular matrix has a zero or non-finite diagonal entry.
    #[error(
        "{op}: triangular matrix {index} of the batch is singular (zero or non-finite diagonal)"
    )]
    Singular {
        /// The operation.
        op: &'static str,
        /// Flat index of the offending matrix in the batch.
        index: usize,
    },
    /// The result does not fit in `f32` (the matrix is too badly conditioned).
    #[error("{op}: the result for matrix {index} of the batch overflows f32 (ill-conditioned)")]
    NotFinite {
        /// The operation.
        op: &'static str,
        /// Flat index of the offending matrix in the batch.
        index: usize,
    },
    /// An operand has the wrong shape.
    #[error("{op}: {what} has shape {shape:?}, expected {expected}")]
    Shape {
        /// The operation.
        op: &'static str,
        /// Which operand.
        what: &'static str,
        /// Its shape.
        shape: Vec<usize>,
        /// What was needed.
        expected: String,
    },
    /// A tensor operation failed.
    #[error(transparent)]
    Tensor(#[from] TensorError),
}

/// Shorthand result of linear-algebra operations.
pub type LinalgResult<T> = Result<T, LinalgError>;
