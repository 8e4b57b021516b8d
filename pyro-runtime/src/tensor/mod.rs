//! Tensors: the shared gradient tape, the run-time-shaped [`DynTensor`], special functions.

mod backend;
pub(crate) mod cpu_ops;
mod dims;
mod dyn_tensor;
#[cfg(test)]
mod grad_tests;
pub(crate) mod host_node;
pub(crate) mod host_op;
#[cfg(test)]
mod host_op_tests;
mod index;
pub mod special;
mod tape;

pub use backend::{default_device, Backend, DefaultDevice};
pub use dyn_tensor::{broadcast_shapes, node_id, numel, same_node, DynTensor, Flat, Tensor};
pub use index::At;
pub use special::Special;
pub use tape::{is_recording, GradScope, GradTape};
