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
use super::cpu_ops::{self, Binary, Unary};
use super::dims::Dims;
use super::host_node::{HostNode, Vals};
use crate::tensor::{TensorError, TensorResult};
use std::marker::PhantomData;
use std::sync::Arc;

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

/// Number of elements of a shape.
pub fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

/// NumPy broadcasting of two shapes, or `None` when they do not broadcast.
///
/// ```
/// assert_eq!(pyro::tensor::broadcast_shapes(&[3, 1], &[4]), Some(vec![3, 4]));
/// assert_eq!(pyro::tensor::broadcast_shapes(&[3], &[4]), None);
/// ```
pub fn broadcast_shapes(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let n = a.len().max(b.len());
    let mut out = vec![0; n];
    for i in 0..n {
        let da = if i < n - a.len() {
            1
        } else {
            a[i - (n - a.len())]
        };
        let db = if i < n - b.len() {
            1
        } else {
            b[i - (n - b.len())]
        };
        out[i] = if da == db || db == 1 {
            da
        } else if da == 1 {
            db
        } else {
            return None;
        };
    }
    Some(out)
}

/// For each element of `shape` (row-major), the flat index of the element of `src` it comes
/// from when `src` is broadcast to `shape` (NumPy's rules: `src` aligned to the right, its
/// missing and size-1 dims repeated) — equally, the element of `src` it is summed into when
/// `shape` is reduced to `src`. The caller has checked that `src` broadcasts to `shape`.
pub(crate) fn broadcast_index(shape: &[usize], src: &[usize]) -> Vec<usize> {
    let off = shape.len() - src.len();
    let src_strides = strides(src);
    // The stride in `src` of each dim of `shape` (0 where it repeats).
    let step: Vec<usize> = (0..shape.len())
        .map(|k| match k.checked_sub(off) {
            Some(j) if src[j] != 1 => src_strides[j],
            _ => 0,
        })
        .collect();
    let n = numel(shape);
    let mut coord = vec![0usize; shape.len()];
    let mut at = 0usize;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(at);
        for k in (0..shape.len()).rev() {
            coord[k] += 1;
            at += step[k];
            if coord[k] < shape[k] {
                break;
            }
            at -= step[k] * coord[k];
            coord[k] = 0;
        }
    }
    out
}

/// Row-major strides of a shape.
fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1];
    }
    s
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
            || (self.node.key().is_some() && self.node.key() == other.node.key())
    }

    /// Writes new values into this tensor's storage, keeping its node identity and shape.
    /// Copy-on-write: clones of the tensor held elsewhere keep the old values.
    pub(crate) fn overwrite_values(&mut self, values: &[f32]) -> TensorResult<()> {
        if values.len() != self.numel() {
            return Err(TensorError::Shape {
                what: "overwrite_values".into(),
                expected: self.shape.to_vec(),
                found: vec![values.len()],
            });
        }
        self.node = HostNode::with_key(values.to_vec().into(), self.node.key());
        Ok(())
    }

    /// The values for writing in place, keeping the node's identity, when no other tensor
    /// (a clone, a reshape, a recorded backward step) shares them; `None` otherwise.
    pub(crate) fn values_mut(&mut self) -> Option<&mut [f32]> {
        Arc::get_mut(&mut self.node).map(HostNode::vals_mut)
    }

    /// Whether `self` and `other` are the same node (both made from one operation).
    pub(crate) fn known_same_node(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.node, &other.node)
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

    // ----- shape -----------------------------------------------------------------------------

    /// The same data with another shape of the same size.
    pub fn reshape(&self, shape: &[usize]) -> TensorResult<Self> {
        if numel(shape) != self.numel() {
            return Err(TensorError::Shape {
                what: "reshape".into(),
                expected: shape.to_vec(),
                found: self.shape.to_vec(),
            });
        }
        Ok(DynTensor {
            node: self.node.clone(),
            shape: Dims::new(shape),
            constant: self.constant,
            _device: PhantomData,
        })
    }

    /// Broadcasts to `shape` (NumPy rules: leading dims added, size-1 dims repeated).
    pub fn broadcast_to(&self, shape: &[usize]) -> TensorResult<Self> {
        if *self.shape == *shape {
            return Ok(self.clone());
        }
        let ok = broadcast_shapes(&self.shape, shape).is_some_and(|s| s == shape);
        if !ok {
            return Err(TensorError::Broadcast {
                op: "broadcast_to",
                lhs: self.shape.to_vec(),
                rhs: shape.to_vec(),
            });
        }
        if numel(shape) == 0 {
            return Ok(Self::zeros(shape));
        }
        if self.numel() == 1 {
            return Ok(cpu_ops::broadcast_scalar(self, shape));
        }
        // General case: gather with precomputed flat indices.
        self.gather_flat(broadcast_index(shape, &self.shape), shape)
    }

    /// Gathers elements by flat index (differentiable; the backward pass scatter-adds).
    pub fn gather_flat(&self, idx: Vec<usize>, shape: &[usize]) -> TensorResult<Self> {
        let n = idx.len();
        if n != numel(shape) {
            return Err(TensorError::Shape {
                what: "gather_flat".into(),
                expected: shape.to_vec(),
                found: vec![n],
            });
        }
        if n == 0 {
            return Ok(Self::zeros(shape));
        }
        if let Some(bad) = idx.iter().find(|&&i| i >= self.numel()) {
            return Err(TensorError::Invalid(format!(
                "gather_flat: index {bad} out of range for {} elements",
                self.numel()
            )));
        }
        cpu_ops::gather(self, idx, shape)
    }

    /// Selects `indices` along dimension `dim` (used by subsampling plates).
    pub fn index_select(&self, dim: usize, indices: &[usize]) -> TensorResult<Self> {
        if dim >= self.rank() {
            return Err(TensorError::Invalid(format!(
                "index_select: dim {dim} out of range for shape {:?}",
                self.shape
            )));
        }
        let size = self.shape[dim];
        if let Some(bad) = indices.iter().find(|&&i| i >= size) {
            return Err(TensorError::Invalid(format!(
                "index_select: index {bad} out of range for dim {dim} of size {size}"
            )));
        }
        let outer: usize = self.shape[..dim].iter().product();
        let inner: usize = self.shape[dim + 1..].iter().product();
        let mut idx = Vec::with_capacity(outer * indices.len() * inner);
        for o in 0..outer {
            for &i in indices {
                let base = (o * size + i) * inner;
                idx.extend(base..base + inner);
            }
        }
        let mut shape = self.shape.to_vec();
        shape[dim] = indices.len();
        self.gather_flat(idx, &shape)
    }

    /// Elements `start..end` of the flat data, as a rank-1 tensor.
    pub fn slice_flat(&self, start: usize, end: usize) -> TensorResult<Self> {
        if start > end || end > self.numel() {
            return Err(TensorError::Invalid(format!(
                "slice_flat: {start}..{end} out of range for {} elements",
                self.numel()
            )));
        }
        self.gather_flat((start..end).collect(), &[end - start])
    }

    /// Concatenates the flat data of several tensors into one rank-1 tensor (a part may
    /// repeat: each use gets its gradient).
    pub fn cat_flat(parts: &[Self]) -> TensorResult<Self> {
        let mut iter = parts.iter();
        let Some(first) = iter.next() else {
            return Ok(Self::zeros(&[0]));
        };
        let mut acc = first.reshape(&[first.numel()])?;
        for p in iter {
            acc = cpu_ops::concat2(&acc, p)?;
        }
        Ok(acc)
    }

    // ----- elementwise binary with broadcasting --------------------------------------------

    /// A binary elementwise op with broadcasting: one host kernel (the operands first
    /// expanded by host gathers where neither is a single value).
    fn elementwise(&self, op: Binary, rhs: &Self) -> TensorResult<Self> {
        if let Some(r) = cpu_ops::binary(op, self, rhs) {
            return r;
        }
        let shape =
            broadcast_shapes(&self.shape, &rhs.shape).ok_or_else(|| TensorError::Broadcast {
                op: op.name(),
                lhs: self.shape.to_vec(),
                rhs: rhs.shape.to_vec(),
            })?;
        if numel(&shape) == 0 {
            return Ok(Self::zeros(&shape));
        }
        let (l, r) = (self.broadcast_to(&shape)?, rhs.broadcast_to(&shape)?);
        cpu_ops::binary(op, &l, &r).unwrap_or_else(|| {
            Err(TensorError::Invalid(format!(
                "{}: operands of shape {shape:?} after broadcasting",
                op.name()
            )))
        })
    }

    /// Each row of the matrix `self` (`[n, m]`) times the matching element of `s` (`[n]`):
    /// `self * s[:, None]` as one operation.
    ///
    /// ```
    /// use pyro::prelude::*;
    /// let m = DynTensor::<Cpu>::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]).unwrap();
    /// let s = DynTensor::<Cpu>::from_vec(vec![10.0, -1.0], &[2]).unwrap();
    /// assert_eq!(m.mul_rows(&s).unwrap().to_vec(), vec![10.0, 20.0, -3.0, -4.0]);
    /// ```
    pub fn mul_rows(&self, s: &Self) -> TensorResult<Self> {
        if self.rank() != 2 || s.rank() != 1 || s.shape[0] != self.shape[0] {
            return Err(TensorError::Broadcast {
                op: "mul_rows",
                lhs: self.shape.to_vec(),
                rhs: s.shape.to_vec(),
            });
        }
        cpu_ops::mul_rows(self, s)
    }

    /// `self + rhs`, broadcasting.
    pub fn add(&self, rhs: &Self) -> TensorResult<Self> {
        self.elementwise(Binary::Add, rhs)
    }
    /// `self - rhs`, broadcasting.
    pub fn sub(&self, rhs: &Self) -> TensorResult<Self> {
        self.elementwise(Binary::Sub, rhs)
    }
    /// `self * rhs`, broadcasting.
    pub fn mul(&self, rhs: &Self) -> TensorResult<Self> {
        self.elementwise(Binary::Mul, rhs)
    }
    /// `self / rhs`, broadcasting.
    pub fn div(&self, rhs: &Self) -> TensorResult<Self> {
        self.elementwise(Binary::Div, rhs)
    }
    /// Elementwise maximum, broadcasting.
    pub fn maximum(&self, rhs: &Self) -> TensorResult<Self> {
        self.elementwise(Binary::Maximum, rhs)
    }
    /// Elementwise minimum, broadcasting.
    pub fn minimum(&self, rhs: &Self) -> TensorResult<Self> {
        self.elementwise(Binary::Minimum, rhs)
    }

    /// Keeps elements where `keep` is true and puts exact zeros elsewhere (no NaN from
    /// `-inf * 0`); gradients flow only through kept elements.
    pub fn where_mask(&self, keep: &[bool]) -> TensorResult<Self> {
        if keep.len() != self.numel() {
            return Err(TensorError::Shape {
                what: "where_mask".into(),
                expected: self.shape.to_vec(),
                found: vec![keep.len()],
            });
        }
        Ok(cpu_ops::where_mask(self, keep))
    }

    // ----- elementwise unary -----------------------------------------------------------------

    /// `self + c`.
    pub fn add_scalar(&self, c: f32) -> Self {
        cpu_ops::unary(Unary::AddScalar(c), self)
    }
    /// `self * c`.
    pub fn mul_scalar(&self, c: f32) -> Self {
        cpu_ops::unary(Unary::MulScalar(c), self)
    }
    /// `c - self`.
    pub fn rsub_scalar(&self, c: f32) -> Self {
        cpu_ops::unary(Unary::RSubScalar(c), self)
    }
    /// `-self`.
    pub fn neg(&self) -> Self {
        cpu_ops::unary(Unary::Neg, self)
    }
    /// `exp(self)`.
    pub fn exp(&self) -> Self {
        cpu_ops::unary(Unary::Exp, self)
    }
    /// Natural logarithm.
    pub fn ln(&self) -> Self {
        cpu_ops::unary(Unary::Ln, self)
    }
    /// Square root.
    pub fn sqrt(&self) -> Self {
        cpu_ops::unary(Unary::Sqrt, self)
    }
    /// Square.
    pub fn square(&self) -> Self {
        cpu_ops::unary(Unary::Square, self)
    }
    /// Absolute value.
    pub fn abs(&self) -> Self {
        cpu_ops::unary(Unary::Abs, self)
    }
    /// `1 / self`.
    pub fn recip(&self) -> Self {
        cpu_ops::unary(Unary::Recip, self)
    }
    /// Logistic sigmoid.
    pub fn sigmoid(&self) -> Self {
        cpu_ops::unary(Unary::Sigmoid, self)
    }
    /// Hyperbolic tangent.
    pub fn tanh(&self) -> Self {
        cpu_ops::unary(Unary::Tanh, self)
    }
    /// `self ^ p`.
    pub fn powf(&self, p: f32) -> Self {
        cpu_ops::unary(Unary::Powf(p), self)
    }
    /// Clamps into `[lo, hi]`.
    pub fn clamp(&self, lo: f32, hi: f32) -> Self {
        cpu_ops::unary(Unary::Clamp(lo, hi), self)
    }

    // ----- reductions ------------------------------------------------------------------------

    /// Sum of all elements, as a rank-0 tensor. (The sum of a single element is that element:
    /// the same node, reshaped.)
    pub fn sum(&self) -> Self {
        if self.numel() == 1 {
            return DynTensor {
                node: self.node.clone(),
                shape: Dims::new(&[]),
                constant: self.constant,
                _device: PhantomData,
            };
        }
        cpu_ops::sum_groups(self, self.numel(), &[])
    }

    /// Sums the trailing `k` dimensions (as `Independent`/`to_event` need).
    pub fn sum_rightmost(&self, k: usize) -> TensorResult<Self> {
        if k == 0 {
            return Ok(self.clone());
        }
        if k > self.rank() {
            return Err(TensorError::Invalid(format!(
                "sum_rightmost: cannot sum {k} dims of shape {:?}",
                self.shape
            )));
        }
        let keep = self.rank() - k;
        let inner: usize = self.shape[keep..].iter().product();
        Ok(cpu_ops::sum_groups(self, inner, &self.shape[..keep]))
    }

    /// Log-sum-exp over the last dimension (numerically stable).
    pub fn logsumexp_last(&self) -> TensorResult<Self> {
        let Some((&last, lead)) = self.shape.split_last() else {
            return Err(TensorError::Invalid("logsumexp_last of a scalar".into()));
        };
        Ok(cpu_ops::logsumexp_groups(self, last, lead))
    }

    /// Sums so the result has `shape` (the inverse of broadcasting; used by gradients and
    /// when a log-density must be reduced to a batch shape).
    pub fn sum_to_shape(&self, shape: &[usize]) -> TensorResult<Self> {
        if *self.shape == *shape {
            return Ok(self.clone());
        }
        if broadcast_shapes(shape, &self.shape).as_deref() != Some(&self.shape[..]) {
            return Err(TensorError::Broadcast {
                op: "sum_to_shape",
                lhs: self.shape.to_vec(),
                rhs: shape.to_vec(),
            });
        }
        Ok(cpu_ops::sum_to(self, &self.shape, shape))
    }

    // ----- linear algebra --------------------------------------------------------------------

    /// Matrix product of the last two dims, `[..., m, k] x [k, n] -> [..., m, n]`.
    pub fn matmul(&self, rhs: &Self) -> TensorResult<Self> {
        let err = || TensorError::Broadcast {
            op: "matmul",
            lhs: self.shape.to_vec(),
            rhs: rhs.shape.to_vec(),
        };
        if self.rank() < 2 || rhs.rank() != 2 {
            return Err(err());
        }
        let k = self.shape[self.rank() - 1];
        let (k2, n) = (rhs.shape[0], rhs.shape[1]);
        if k != k2 {
            return Err(err());
        }
        let m = self.numel() / k.max(1);
        let mut shape = self.shape.to_vec();
        let last = shape.len() - 1;
        shape[last] = n;
        let sizes = super::host_matmul::MatMul {
            b: 1,
            m,
            k,
            n,
            shared_rhs: true,
        };
        super::host_matmul::matmul(self, rhs, sizes, &shape)
    }

    /// Transpose of a matrix (rank 2).
    pub fn t(&self) -> TensorResult<Self> {
        if self.rank() != 2 {
            return Err(TensorError::Invalid(format!(
                "t(): expected a matrix, found shape {:?}",
                self.shape
            )));
        }
        let (r, c) = (self.shape[0], self.shape[1]);
        let idx = (0..c)
            .flat_map(|j| (0..r).map(move |i| i * c + j))
            .collect();
        self.gather_flat(idx, &[c, r])
    }
}
