//! Tensors: the typed [`Tensor`] users write models with, the run-time-shaped [`DynTensor`]
//! the runtime works on, the gradient tape ([`GradScope`], [`Grads`]), special functions.
//!
//! One engine: a [`DynTensor`]'s values are a host node (a plain vector with the runtime's
//! identity of it for gradients), and every operation is a kernel over host slices with one
//! backward step (`host_op.rs`; `op.rs` is how other layers write one). dfdx supplies the shape
//! types, the devices, and interop by copy ([`DynTensor::from_dfdx`], [`DynTensor::to_dfdx`]).

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
pub use tape::{is_recording, no_grad, GradScope, NoGrad};
pub use typed::{BroadcastShape, Tensor};
pub use typed_ops::{
    BatchDim, InnerDim, MatMulShape, Operand, PrependDim, ResizeAxis, SplitFirst, StaticDim,
    Tensors,
};
