//! Tensors: the shared gradient tape, the run-time-shaped [`DynTensor`], special functions.
//!
//! A [`DynTensor`] holds either a dfdx tensor (parameters, user tensors, any value on another
//! device) or, on the CPU, a *host node*: the result of one of the runtime's host kernels, kept
//! as a plain vector whose gradient lives in a numbered slot of the recording [`GradScope`].
//! Both kinds record onto the same tape; a host node is turned into a dfdx tensor only when a
//! dfdx operation (or a typed view) needs it, and its gradient then flows back through a bridge.

mod backend;
mod cpu_ops;
mod dims;
mod dyn_extra;
mod dyn_tensor;
mod error;
#[cfg(test)]
mod grad_tests;
mod grads;
mod host_matmul;
mod host_node;
mod host_op;
#[cfg(test)]
mod host_op_tests;
pub(crate) mod op;
mod shape;
pub mod special;
mod tape;
pub mod typed;
mod typed_ops;

pub use backend::{default_device, Backend, DefaultDevice};
pub use dyn_tensor::{broadcast_shapes, numel, DfdxTensor, DynTensor};
pub use error::{TensorError, TensorResult};
pub use grads::Grads;
pub use special::Special;
#[cfg(test)]
pub(crate) use tape::Key;
pub use tape::{is_recording, GradScope};
pub use typed::{BroadcastShape, Tensor};
pub use typed_ops::{
    BatchDim, InnerDim, MatMulShape, Operand, PrependDim, ResizeAxis, SplitFirst, StaticDim,
    Tensors,
};
