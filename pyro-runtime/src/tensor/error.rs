//! [`TensorError`]: the errors of tensor operations (the lowest layer's own error type).

use thiserror::Error;

/// An error from a tensor operation: a shape that does not fit, or a failed backward pass.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum TensorError {
    /// Two shapes that must agree (or broadcast) do not.
    #[error("{op}: shapes {lhs:?} and {rhs:?} do not broadcast")]
    Broadcast {
        /// The operation that needed them to agree.
        op: &'static str,
        /// Left operand's shape.
        lhs: Vec<usize>,
        /// Right operand's shape.
        rhs: Vec<usize>,
    },
    /// A tensor did not have the shape an operation or typed view needed.
    #[error("{what}: expected shape {expected:?}, found {found:?}")]
    Shape {
        /// What was being done.
        what: String,
        /// The shape that was needed.
        expected: Vec<usize>,
        /// The shape that was found.
        found: Vec<usize>,
    },
    /// A value handed in was out of range (an index, a dimension).
    #[error("{0}")]
    Invalid(String),
    /// The backward pass failed.
    #[error("backward pass failed: {0}")]
    Backward(String),
    /// The device reported an error (allocation, kernel launch).
    #[error("device error: {0}")]
    Device(String),
}

/// Shorthand result of tensor operations.
pub type TensorResult<T> = Result<T, TensorError>;
