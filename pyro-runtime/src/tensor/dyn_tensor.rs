//! [`DynTensor`]: a differentiable tensor whose shape is known at run time.
//!
//! The runtime (traces, distributions, autoguides, inference) holds values of many shapes in
//! one collection, so it works on this shape-erased form; users see the typed
//! [`Tensor`](super::Tensor), a view over it. Its values live in a host node
//! (tensor/host_node.rs) and every operation is one of the runtime's kernels
//! (tensor/host_op.rs): elementwise operations broadcast with NumPy's rules, and a backward
//! step is recorded on the runtime's tape while a [`GradScope`](super::GradScope) is open.

use dfdx::prelude::*;
use dfdx::shapes::Shape;

use super::backend::{default_device, Backend};
use super::cpu_ops;
use super::dims::Dims;
use super::host_node::{HostNode, Vals};
pub(crate) use super::shape::broadcast_index;
pub use super::shape::{broadcast_shapes, numel};
use crate::tensor::{TensorError, TensorResult};
use std::marker::PhantomData;
use std::sync::Arc;

mod ops;

/// A dfdx tensor of `f32` on device `D`: how values cross to and from dfdx's own operations
/// and modules ([`DynTensor::from_dfdx`], [`DynTensor::to_dfdx`]). The crossing copies
/// values; gradients are the runtime's ([`GradScope`](super::GradScope)), taken with
/// respect to the tensor made by `from_dfdx`. Models use the typed [`Tensor`](super::Tensor).
pub type DfdxTensor<S, D = super::DefaultDevice> = dfdx::prelude::Tensor<S, f32, D>;

/// A differentiable `f32` tensor with a run-time shape.
///
/// ```
/// use pyro::tensor::DynTensor;
/// let x = DynTensor::<dfdx::prelude::Cpu>::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]).unwrap();
/// let y = x.mul(&DynTensor::scalar(10.0)).unwrap();
/// assert_eq!(y.shape(), &[2, 2]);
/// assert_eq!(y.to_vec(), vec![10.0, 20.0, 30.0, 40.0]);
/// ```
pub struct DynTensor<D: Backend = super::DefaultDevice> {
    /// The values and the node's identity for gradients, shared by clones and reshapes.
    node: Arc<HostNode>,
    shape: Dims,
    /// A constant made by the runtime (data, a number given where a tensor goes, a zero
    /// log-density): kernels send no gradient to it, like PyTorch's tensors without
    /// `requires_grad`.
    constant: bool,
    _device: PhantomData<fn() -> D>,
}

impl<D: Backend> Clone for DynTensor<D> {
    fn clone(&self) -> Self {
        DynTensor {
            node: self.node.clone(),
            shape: self.shape.clone(),
            constant: self.constant,
            _device: PhantomData,
        }
    }
}

impl<D: Backend> std::fmt::Debug for DynTensor<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let v = self.node.vals();
        if v.len() <= 16 {
            write!(f, "DynTensor{:?}{:?}", self.shape, v)
        } else {
            write!(f, "DynTensor{:?}[{} values]", self.shape, v.len())
        }
    }
}

fn dev_err<E: std::fmt::Debug>(e: E) -> TensorError {
    TensorError::Device(format!("{e:?}"))
}

impl<D: Backend> DynTensor<D> {
    // ----- construction -------------------------------------------------------------------

    /// A tensor from row-major values and a shape (a leaf: a backward pass gives its
    /// gradient); errors if the lengths disagree.
    pub fn from_vec(values: Vec<f32>, shape: &[usize]) -> TensorResult<Self> {
        if values.len() != numel(shape) {
            return Err(TensorError::Shape {
                what: "DynTensor::from_vec".into(),
                expected: shape.to_vec(),
                found: vec![values.len()],
            });
        }
        Ok(Self::from_host(HostNode::leaf(values.into()), shape, false))
    }

    /// A rank-0 tensor.
    pub fn scalar(value: f32) -> Self {
        Self::full(&[], value)
    }

    /// A tensor filled with one value (a leaf).
    pub fn full(shape: &[usize], value: f32) -> Self {
        Self::from_host(
            HostNode::leaf(Vals::splat(value, numel(shape))),
            shape,
            false,
        )
    }

    /// A tensor over a host node.
    pub(crate) fn from_host(node: Arc<HostNode>, shape: &[usize], constant: bool) -> Self {
        DynTensor {
            node,
            shape: Dims::new(shape),
            constant,
            _device: PhantomData,
        }
    }

    /// The host node holding the values.
    pub(crate) fn host_node(&self) -> &Arc<HostNode> {
        &self.node
    }

    /// The node's identity for gradients (`None` for values made as constants).
    pub(crate) fn host_key(&self) -> Option<super::tape::Key> {
        self.node.key()
    }

    /// Whether `self` and `other` are clones of one tensor (the same storage and shape).
    pub(crate) fn is_clone_of(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.node, &other.node) && self.shape == other.shape
    }

    /// A runtime constant filled with `value`: kernels send it no gradient. Scalars come
    /// from a small per-thread cache (the numbers a model passes to its distributions every
    /// step), so they cost no allocation.
    pub(crate) fn constant(shape: &[usize], value: f32) -> Self {
        if shape.is_empty() {
            return Self::from_host(super::host_node::cached_scalar(value), shape, true);
        }
        Self::from_host(HostNode::new(Vals::splat(value, numel(shape))), shape, true)
    }

    /// Whether this is a runtime constant (no gradient is sent to it).
    pub(crate) fn is_constant(&self) -> bool {
        self.constant
    }

    /// The same tensor, marked as a runtime constant or not.
    pub(crate) fn with_constant(mut self, constant: bool) -> Self {
        self.constant = constant;
        self
    }

    /// A tensor of zeros.
    pub fn zeros(shape: &[usize]) -> Self {
        Self::full(shape, 0.0)
    }

    /// A tensor of ones.
    pub fn ones(shape: &[usize]) -> Self {
        Self::full(shape, 1.0)
    }

    /// A tensor holding the values of a dfdx tensor: a new leaf, whose gradient a backward
    /// pass gives ([`Grads::get`](super::Grads::get)) like any other's.
    ///
    /// ```
    /// use dfdx::prelude::*;
    /// use pyro::prelude::*;
    /// let w = pyro::tensor::default_device::<Cpu>().tensor([1.0f32, 2.0]);
    /// let x = DynTensor::from_dfdx(w);
    /// let scope = GradScope::<Cpu>::open();
    /// let g = scope.backward(&x.square().sum()).unwrap();
    /// assert_eq!(g.get(&x).unwrap().to_vec(), vec![2.0, 4.0]);
    /// ```
    pub fn from_dfdx<S: Shape>(t: DfdxTensor<S, D>) -> Self {
        let concrete = t.shape().concrete();
        let shape: &[usize] = concrete.as_ref();
        let values = if numel(shape) == 0 {
            Vec::new()
        } else {
            t.as_vec()
        };
        Self::from_host(HostNode::leaf(values.into()), shape, false)
    }

    /// The typed view of this tensor; errors naming both shapes when `S` does not fit.
    ///
    /// ```
    /// use pyro::prelude::*;
    /// let x = DynTensor::<Cpu>::from_vec(vec![1.0, 2.0], &[2]).unwrap();
    /// let t: Tensor<Rank1<2>, Cpu> = x.to_tensor().unwrap();
    /// assert_eq!(t.to_vec().unwrap(), [1.0, 2.0]);
    /// assert!(x.to_tensor::<Rank1<3>>().is_err());
    /// ```
    pub fn to_tensor<S: Shape>(&self) -> TensorResult<super::Tensor<S, D>> {
        super::Tensor::from_dyn(self.clone())
    }

    /// A copy of the values as a dfdx tensor of shape `S` on the thread's device of `D` (for
    /// dfdx's own operations and modules); errors naming both shapes when `S` does not fit.
    ///
    /// ```
    /// use dfdx::prelude::*;
    /// use pyro::tensor::DynTensor;
    /// let x = DynTensor::<Cpu>::from_vec(vec![1.0, 2.0], &[2]).unwrap();
    /// let t = x.to_dfdx::<Rank1<2>>().unwrap();
    /// assert_eq!(t.array(), [1.0, 2.0]);
    /// assert!(x.to_dfdx::<Rank1<3>>().is_err());
    /// ```
    pub fn to_dfdx<S: Shape>(&self) -> TensorResult<DfdxTensor<S, D>> {
        let err = || TensorError::Shape {
            what: format!("typed view as {}", std::any::type_name::<S>()),
            expected: vec![],
            found: self.shape.to_vec(),
        };
        if self.shape.len() != S::NUM_DIMS {
            return Err(err());
        }
        let mut c = S::Concrete::default();
        for (i, d) in self.shape.iter().enumerate() {
            c[i] = *d;
        }
        let s = S::from_concrete(&c).ok_or_else(err)?;
        default_device::<D>()
            .try_tensor_from_vec(self.to_vec(), s)
            .map_err(dev_err)
    }

    // ----- inspection ----------------------------------------------------------------------

    /// The logical shape.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// Number of dimensions.
    pub fn rank(&self) -> usize {
        self.shape.len()
    }

    /// Number of elements.
    pub fn numel(&self) -> usize {
        numel(&self.shape)
    }

    /// Whether `self` and `other` are the same node of the graph (a tensor and its clones
    /// or reshapes; for a parameter, the leaf before and after an optimizer step).
    ///
    /// ```
    /// use pyro::prelude::*;
    /// let x = DynTensor::<Cpu>::from_vec(vec![1.0, 2.0], &[2]).unwrap();
    /// assert!(x.same_node(&x.clone().reshape(&[2, 1]).unwrap()));
    /// assert!(!x.same_node(&DynTensor::from_vec(vec![1.0, 2.0], &[2]).unwrap()));
    /// ```
    pub fn same_node(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.node, &other.node)
            || (self.node.origin() != 0 && self.node.origin() == other.node.origin())
    }

    /// Writes new values into this tensor's storage, keeping its identity (`same_node`) and
    /// shape. Copy-on-write: clones of the tensor held elsewhere keep the old values; while a
    /// scope records, the new values are a new gradient identity (in a pass that uses both,
    /// each gets its own gradient).
    pub(crate) fn overwrite_values(&mut self, values: &[f32]) -> TensorResult<()> {
        if values.len() != self.numel() {
            return Err(TensorError::Shape {
                what: "overwrite_values".into(),
                expected: self.shape.to_vec(),
                found: vec![values.len()],
            });
        }
        self.node = HostNode::rewritten(values.to_vec().into(), &self.node);
        Ok(())
    }

    /// The values for writing in place, keeping the node's identity, when no other tensor
    /// (a clone, a reshape, a recorded backward step) shares them; `None` otherwise.
    pub(crate) fn values_mut(&mut self) -> Option<&mut [f32]> {
        Arc::get_mut(&mut self.node).map(HostNode::vals_mut)
    }

    /// Values in row-major order.
    pub fn to_vec(&self) -> Vec<f32> {
        self.node.vals().to_vec()
    }

    /// The values in row-major order, borrowed.
    pub fn values(&self) -> &[f32] {
        self.node.vals()
    }

    /// The single value of a one-element tensor.
    pub fn item(&self) -> TensorResult<f32> {
        match self.node.vals() {
            [v] => Ok(*v),
            _ => Err(TensorError::Shape {
                what: "item".into(),
                expected: vec![],
                found: self.shape.to_vec(),
            }),
        }
    }

    /// The thread's device of the backend this tensor belongs to.
    pub fn device(&self) -> D {
        default_device::<D>()
    }

    // ----- gradient control ----------------------------------------------------------------

    /// The same values, cut from the graph (a fresh tensor: no gradient flows back). Like
    /// PyTorch's `detach()`, the copy does not require a gradient either: operations send it
    /// none, so data passed this way (a model's covariates, observations) costs no gradient
    /// buffers.
    ///
    /// ```
    /// use pyro::prelude::*;
    /// let w = DynTensor::<Cpu>::scalar(2.0);
    /// let x = DynTensor::<Cpu>::from_vec(vec![1.0, 3.0], &[2]).unwrap().detach();
    /// let scope = GradScope::<Cpu>::open();
    /// let loss = x.mul(&w).unwrap().sum(); // d/dw = 1 + 3
    /// let g = scope.backward(&loss).unwrap();
    /// assert_eq!(g.get_or_zeros(&w).to_vec(), vec![4.0]);
    /// ```
    pub fn detach(&self) -> Self {
        Self::from_host(HostNode::new(self.to_vec().into()), &self.shape, true)
    }

    /// A copy that is a distinct node of the graph with the same gradient path.
    pub fn fresh(&self) -> Self {
        cpu_ops::identity(self)
    }
}
