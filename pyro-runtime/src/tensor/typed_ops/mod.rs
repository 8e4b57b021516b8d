//! The operations a model needs on typed [`Tensor`](super::typed::Tensor)s beyond
//! elementwise arithmetic: reductions over an axis, matrix products, indexing, joining,
//! reshaping, gathering, comparisons and selection, softmax.
//!
//! Each is built from differentiable [`DynTensor`](super::DynTensor) operations, so gradients
//! flow as they do everywhere else on the shared tape. Shape types are computed by the compiler
//! (dfdx's shape traits, and the small traits re-exported below); `usize` dims are checked when
//! the operation runs, and a mismatch, an index out of range or a wrong size is carried in the
//! result as a [`TensorError`](crate::tensor::TensorError) (to its first fallible use) instead
//! of panicking.

mod compare;
mod index;
mod join;
mod matmul;
mod reduce;
mod shapes;

#[cfg(test)]
mod carry_tests;
#[cfg(test)]
mod testing;

pub use compare::Operand;
pub use join::Tensors;
pub use matmul::{BatchDim, InnerDim, MatMulShape};
pub use shapes::{PrependDim, ResizeAxis, SplitFirst, StaticDim};
