//! How the layers above write a differentiable operation of their own (a fused density, a
//! transform's map): a forward and a backward over host slices, recorded as one node. This
//! is the same API every tensor operation uses (the machinery is in `host_op.rs`):
//!
//! - [`host_kernel`]: elementwise, inputs broadcast inside the kernel ([`Arg`],
//!   [`accumulate`]);
//! - [`host_custom`]: inputs in their own layouts, an output of any shape;
//! - [`host_linearized`] / [`weighted_sum`]: values whose partial derivatives are known;
//! - [`Vals`]: the values a kernel returns (one value stays off the heap).

pub(crate) use super::cpu_ops::weighted_sum;
pub(crate) use super::host_node::Vals;
pub(crate) use super::host_op::{accumulate, host_custom, host_kernel, host_linearized, Arg};
