//! [`DynTensor`]: a differentiable tensor whose shape is known at run time.
//!
//! User code sees typed dfdx tensors; the runtime (traces, distributions, autoguides, MCMC)
//! holds values of many shapes in one collection, so it works on this shape-erased form
//! (DESIGN.md §4): a flat dfdx tensor plus its logical shape. Elementwise operations broadcast
//! with NumPy's rules. Conversion back to a typed tensor checks the shape at run time.

use dfdx::prelude::*;
use dfdx::shapes::Shape;

use super::backend::{default_device, Backend};
use super::cpu_ops::{self, Binary, Unary};
use super::dims::Dims;
use super::host_node::{HostNode, Vals};
use super::tape::GradTape;
use crate::error::{TensorError, TensorResult};
use std::sync::Arc;

/// A dfdx tensor of `f32` on device `D`: how values cross to and from dfdx's own operations
/// and modules ([`DynTensor::from_dfdx`], [`DynTensor::to_dfdx`]). The crossing copies
/// values; gradients are the runtime's ([`GradScope`](super::GradScope)), taken with
/// respect to the tensor made by `from_dfdx`. Models use the typed [`Tensor`](super::Tensor).
pub type DfdxTensor<S, D = super::DefaultDevice> = dfdx::prelude::Tensor<S, f32, D>;

/// The flat dfdx storage of a value on a device (and the CPU form a dfdx operation of the
/// runtime works on), recording onto the runtime's tape.
pub(crate) type Flat<D> = dfdx::prelude::Tensor<(usize,), f32, D, GradTape<D>>;

/// A dfdx tensor of any shape recording onto the runtime's tape (the runtime's own dfdx
/// operations on device values).
pub(crate) type Taped<S, D> = dfdx::prelude::Tensor<S, f32, D, GradTape<D>>;

/// A differentiable `f32` tensor with a run-time shape.
///
/// ```
/// use pyro::tensor::DynTensor;
/// let x = DynTensor::<dfdx::prelude::Cpu>::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]).unwrap();
/// let y = x.mul(&DynTensor::scalar(10.0)).unwrap();
/// assert_eq!(y.shape(), &[2, 2]);
/// assert_eq!(y.to_vec(), vec![10.0, 20.0, 30.0, 40.0]);
/// ```
#[derive(Clone)]
pub struct DynTensor<D: Backend = super::DefaultDevice> {
    repr: Repr<D>,
    shape: Dims,
    /// A constant made by the runtime (a number given where a tensor goes, a zero
    /// log-density): host kernels send no gradient to it, like PyTorch's tensors without
    /// `requires_grad`.
    constant: bool,
}

/// Where the values live.
#[derive(Clone)]
enum Repr<D: Backend> {
    /// A dfdx tensor (parameters, user tensors, values on other devices), shared so that
    /// cloning a tensor is one reference count.
    Dev(Arc<DevNode<D>>),
    /// Values computed by a host kernel (CPU only; see tensor/host_node.rs).
    Host(Arc<HostNode>),
}

/// A dfdx tensor (on a device other than the CPU) with the runtime's identity of it.
#[derive(Clone)]
struct DevNode<D: Backend> {
    data: Flat<D>,
    /// An id from a counter, given when the node is made: every `DevNode` holds a dfdx tensor
    /// no other `DevNode` was made with (external tensors are copied first), so two tensors
    /// are the same node exactly when these agree.
    fresh: u64,
}

static FRESH: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

fn next_fresh() -> u64 {
    FRESH.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

impl<D: Backend> std::fmt::Debug for DynTensor<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let v = self.to_vec();
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

    /// A tensor from row-major values and a shape; errors if the lengths disagree.
    pub fn from_vec(values: Vec<f32>, shape: &[usize]) -> TensorResult<Self> {
        if values.len() != numel(shape) {
            return Err(TensorError::Shape {
                what: "DynTensor::from_vec".into(),
                expected: shape.to_vec(),
                found: vec![values.len()],
            });
        }
        if D::HOST {
            return Ok(Self::from_host(HostNode::leaf(values.into()), shape, false));
        }
        let dev = default_device::<D>();
        let n = values.len();
        let data = dev
            .try_tensor_from_vec(values, (n,))
            .map_err(dev_err)?
            .retaped::<GradTape<D>>();
        Ok(DynTensor::dev(data, Dims::new(shape)))
    }

    /// A rank-0 tensor.
    pub fn scalar(value: f32) -> Self {
        Self::full(&[], value)
    }

    /// A tensor filled with one value.
    pub fn full(shape: &[usize], value: f32) -> Self {
        let n = numel(shape);
        if super::host_op::is_cpu::<D>() {
            return Self::from_host(HostNode::leaf(Vals::splat(value, n)), shape, false);
        }
        let dev = default_device::<D>();
        let data = dev.tensor_from_vec(vec![value; n], (n,)).retaped();
        DynTensor::dev(data, Dims::new(shape))
    }

    /// A tensor over a dfdx flat tensor that no other `DynTensor` holds (the result of a dfdx
    /// operation). On the CPU its values move to a host node whose gradient flows back into
    /// the dfdx tensor's.
    fn dev(data: Flat<D>, shape: Dims) -> Self {
        if let Some(t) = super::host_op::host_from_flat(&data, &shape) {
            return t;
        }
        DynTensor {
            repr: Repr::Dev(Arc::new(DevNode {
                data,
                fresh: next_fresh(),
            })),
            shape,
            constant: false,
        }
    }

    /// The node's identity for gradients, when the values live on the host.
    pub(crate) fn host_key(&self) -> Option<super::tape::Key> {
        self.host_node().and_then(|n| n.key())
    }

    /// A tensor over a host node (CPU only).
    pub(crate) fn from_host(node: Arc<HostNode>, shape: &[usize], constant: bool) -> Self {
        debug_assert!(super::host_op::is_cpu::<D>());
        DynTensor {
            repr: Repr::Host(node),
            shape: Dims::new(shape),
            constant,
        }
    }

    /// The host node holding the values, when a host kernel made them.
    pub(crate) fn host_node(&self) -> Option<&Arc<HostNode>> {
        match &self.repr {
            Repr::Host(n) => Some(n),
            Repr::Dev(_) => None,
        }
    }

    /// Whether `self` and `other` are clones of one tensor (the same storage and shape).
    pub(crate) fn is_clone_of(&self, other: &Self) -> bool {
        let same = match (&self.repr, &other.repr) {
            (Repr::Host(a), Repr::Host(b)) => Arc::ptr_eq(a, b),
            (Repr::Dev(a), Repr::Dev(b)) => Arc::ptr_eq(a, b),
            _ => false,
        };
        same && self.shape == other.shape
    }

    /// A runtime constant filled with `value`: host kernels send it no gradient.
    /// Scalars on the CPU come from a small per-thread cache (the numbers a model passes to
    /// its distributions every step), so they cost no allocation.
    pub(crate) fn constant(shape: &[usize], value: f32) -> Self {
        if shape.is_empty() && super::host_op::is_cpu::<D>() {
            let node = super::host_node::cached_scalar(value);
            return Self::from_host(node, shape, true);
        }
        Self::full(shape, value).with_constant(true)
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
        let n = numel(shape);
        if D::HOST {
            let values = if n == 0 { Vec::new() } else { t.as_vec() };
            return Self::from_host(HostNode::leaf(values.into()), shape, false);
        }
        let dims = Dims::new(shape);
        DynTensor::dev(
            Self::own(t.retaped::<GradTape<D>>().reshape_like(&(n,))),
            dims,
        )
    }

    /// Wraps a flat tensor with a logical shape. (A strided flat tensor, e.g. a broadcast, is
    /// copied into contiguous storage: every `DynTensor` holds its values in order.)
    pub(crate) fn from_flat(data: Flat<D>, shape: &[usize]) -> TensorResult<Self> {
        if data.shape().0 != numel(shape) {
            return Err(TensorError::Shape {
                what: "DynTensor::from_flat".into(),
                expected: shape.to_vec(),
                found: vec![data.shape().0],
            });
        }
        Ok(DynTensor::dev(
            Self::own(data.contiguous()),
            Dims::new(shape),
        ))
    }

    /// Wraps a flat tensor that the caller has just created (the result of an operation, no
    /// other `DynTensor` holds it): no copy is needed to tell it apart from others.
    pub(crate) fn from_new_flat(data: Flat<D>, shape: &[usize]) -> TensorResult<Self> {
        if data.shape().0 != numel(shape) {
            return Err(TensorError::Shape {
                what: "DynTensor::from_flat".into(),
                expected: shape.to_vec(),
                found: vec![data.shape().0],
            });
        }
        Ok(DynTensor::dev(data.contiguous(), Dims::new(shape)))
    }

    /// A dfdx tensor given from outside, as a node of its own: on a device, a copy (a new
    /// dfdx node, so the runtime's ids tell it apart from every other); on the CPU the
    /// values move to a host node anyway.
    fn own(data: Flat<D>) -> Flat<D> {
        if D::HOST {
            data
        } else {
            data * 1.0
        }
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

    /// A copy of the values as a dfdx tensor of shape `S` (for dfdx's own operations and
    /// modules); errors naming both shapes when `S` does not fit.
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
        if D::HOST {
            return default_device::<D>()
                .try_tensor_from_vec(self.to_vec(), s)
                .map_err(dev_err);
        }
        Ok(self.flat().clone().retaped::<NoneTape>().reshape_like(&s))
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
        match (&self.repr, &other.repr) {
            (Repr::Host(a), Repr::Host(b)) => {
                Arc::ptr_eq(a, b) || (a.key().is_some() && a.key() == b.key())
            }
            (Repr::Dev(a), Repr::Dev(b)) => a.fresh == b.fresh,
            _ => false,
        }
    }

    fn same_node_as(&self, other: &Self) -> bool {
        self.same_node(other)
    }

    /// Writes new values into this tensor's storage, keeping its node (dfdx id) and shape.
    /// Copy-on-write: clones of the tensor held elsewhere keep the old values.
    pub(crate) fn overwrite_values(&mut self, values: &[f32]) -> TensorResult<()> {
        if values.len() != self.numel() {
            return Err(TensorError::Shape {
                what: "overwrite_values".into(),
                expected: self.shape.to_vec(),
                found: vec![values.len()],
            });
        }
        match &mut self.repr {
            Repr::Dev(node) => Arc::make_mut(node).data.copy_from(values),
            Repr::Host(node) => *node = HostNode::with_key(values.to_vec().into(), node.key()),
        }
        Ok(())
    }

    /// Whether `self` and `other` are known, without asking dfdx, to be the same node (both
    /// made by this module from one operation); `false` means "different or unknown".
    pub(crate) fn known_same_node(&self, other: &Self) -> bool {
        match (&self.repr, &other.repr) {
            (Repr::Host(a), Repr::Host(b)) => Arc::ptr_eq(a, b),
            (Repr::Dev(a), Repr::Dev(b)) => a.fresh == b.fresh,
            _ => false,
        }
    }

    /// The flat dfdx tensor (made on first use for values a host kernel computed).
    pub(crate) fn flat(&self) -> &Flat<D> {
        match &self.repr {
            Repr::Dev(node) => &node.data,
            Repr::Host(node) => {
                D::from_cpu_flat(node.flat()).expect("host nodes exist only on the CPU backend")
            }
        }
    }

    /// Consumes into the flat dfdx tensor.
    pub(crate) fn into_flat(self) -> Flat<D> {
        match self.repr {
            Repr::Dev(node) => match Arc::try_unwrap(node) {
                Ok(node) => node.data,
                Err(node) => node.data.clone(),
            },
            Repr::Host(_) => self.flat().clone(),
        }
    }

    /// Values in row-major order (copied to the host).
    pub fn to_vec(&self) -> Vec<f32> {
        if let Repr::Host(node) = &self.repr {
            return node.vals().to_vec();
        }
        if self.numel() == 0 {
            return Vec::new(); // dfdx's iterators do not handle empty tensors
        }
        if let Some(v) = super::host_op::cpu_values(self) {
            return v;
        }
        self.flat().as_vec()
    }

    /// The single value of a one-element tensor.
    pub fn item(&self) -> TensorResult<f32> {
        if self.numel() != 1 {
            return Err(TensorError::Shape {
                what: "item".into(),
                expected: vec![],
                found: self.shape.to_vec(),
            });
        }
        if let Some(v) = super::host_op::cpu_item(self) {
            return Ok(v);
        }
        Ok(self.to_vec()[0])
    }

    /// A rank-0 typed tensor from a one-element tensor (for a loss to back-propagate from).
    pub(crate) fn to_scalar_tensor(&self) -> TensorResult<Taped<Rank0, D>> {
        if self.numel() != 1 {
            return Err(TensorError::Shape {
                what: "scalar loss".into(),
                expected: vec![],
                found: self.shape.to_vec(),
            });
        }
        Ok(self.flat().clone().reshape_like(&()))
    }

    /// The device holding the data.
    pub fn device(&self) -> D {
        match &self.repr {
            Repr::Dev(node) => node.data.device().clone(),
            Repr::Host(_) => default_device::<D>(),
        }
    }

    // ----- gradient control ----------------------------------------------------------------

    /// The same values, cut from the graph (a fresh tensor: no gradient flows back). Like
    /// PyTorch's `detach()`, the copy does not require a gradient either: operations on the
    /// CPU send it none, so data passed this way (a model's covariates, observations) costs
    /// no gradient buffers.
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
        if super::host_op::is_cpu::<D>() {
            let node = HostNode::new(self.to_vec().into());
            return Self::from_host(node, &self.shape, true);
        }
        let d = self.flat().retaped::<NoneTape>() * 1.0;
        DynTensor::dev(d.retaped(), self.shape.clone())
    }

    /// A copy that is a distinct node of the graph (a new id) with the same gradient path.
    pub fn fresh(&self) -> Self {
        if let Some(t) = cpu_ops::identity(self) {
            return t;
        }
        DynTensor::dev(self.flat().clone() * 1.0, self.shape.clone())
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
            repr: self.repr.clone(),
            shape: Dims::new(shape),
            constant: self.constant,
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
        let n = numel(shape);
        if n == 0 {
            // dfdx's strided iterators do not handle empty tensors.
            return Ok(Self::zeros(shape));
        }
        if self.numel() == 1 {
            if let Some(t) = cpu_ops::broadcast_scalar(self, shape) {
                return Ok(t);
            }
            let s: Taped<Rank0, D> = self.flat().clone().reshape_like(&());
            let data = s.broadcast_like(&(n,)).reshape_like(&(n,));
            return Ok(DynTensor::dev(data, Dims::new(shape)));
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
        if super::host_op::is_cpu::<D>() {
            return cpu_ops::gather(self, idx, shape)
                .ok_or_else(|| TensorError::Invalid("gather_flat: the host kernel failed".into()));
        }
        let dev = self.device();
        let idx = dev.tensor_from_vec(idx, (n,));
        let data: Flat<D> = self.flat().clone().gather(idx);
        Ok(DynTensor::dev(data, Dims::new(shape)))
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

    /// Concatenates the flat data of several tensors into one rank-1 tensor.
    pub fn cat_flat(parts: &[Self]) -> TensorResult<Self> {
        let mut iter = parts.iter();
        let Some(first) = iter.next() else {
            return Ok(Self::zeros(&[0]));
        };
        if super::host_op::is_cpu::<D>() {
            // One host node per joined part (a part may repeat: each use gets its gradient).
            let mut acc = first.reshape(&[first.numel()])?;
            for p in iter {
                acc = cpu_ops::concat2(&acc, p).ok_or_else(|| {
                    TensorError::Invalid("cat_flat: the host kernel failed".into())
                })?;
            }
            return Ok(acc);
        }
        let mut acc = first.flat().clone();
        for (i, p) in iter.enumerate() {
            // dfdx's concatenation needs distinct nodes: a repeated part goes in as a copy.
            let repeated = parts[..=i].iter().any(|q| q.same_node(p));
            let pf = if repeated { p.fresh() } else { p.clone() };
            acc = (acc, pf.into_flat()).concat_along(Axis::<0>);
        }
        let n = acc.shape().0;
        Ok(DynTensor::dev(acc, Dims::new(&[n])))
    }

    // ----- elementwise binary with broadcasting --------------------------------------------

    fn binary(
        &self,
        rhs: &Self,
        op: &'static str,
        f: impl FnOnce(Flat<D>, Flat<D>) -> Flat<D>,
    ) -> TensorResult<Self> {
        if self.shape == rhs.shape {
            let r = if self.same_node_as(rhs) {
                rhs.fresh()
            } else {
                rhs.clone()
            };
            if self.numel() == 0 {
                return Ok(Self::zeros(&self.shape));
            }
            return Ok(DynTensor::dev(
                f(self.flat().clone(), r.into_flat()),
                self.shape.clone(),
            ));
        }
        let shape =
            broadcast_shapes(&self.shape, &rhs.shape).ok_or_else(|| TensorError::Broadcast {
                op,
                lhs: self.shape.to_vec(),
                rhs: rhs.shape.to_vec(),
            })?;
        if numel(&shape) == 0 {
            return Ok(Self::zeros(&shape));
        }
        let l = self.broadcast_to(&shape)?;
        let mut r = rhs.broadcast_to(&shape)?;
        if l.same_node_as(&r) {
            // dfdx's backward needs distinct ids for the two operands.
            r = r.fresh();
        }
        Ok(DynTensor::dev(
            f(l.into_flat(), r.into_flat()),
            Dims::new(&shape),
        ))
    }

    /// A binary elementwise op with broadcasting: one host kernel on the CPU (the operands
    /// first expanded by host gathers where neither is a single value), dfdx's kernel elsewhere.
    fn elementwise(
        &self,
        op: Binary,
        rhs: &Self,
        f: impl FnOnce(Flat<D>, Flat<D>) -> Flat<D>,
    ) -> TensorResult<Self> {
        if let Some(r) = cpu_ops::binary(op, self, rhs) {
            return r;
        }
        if super::host_op::is_cpu::<D>() {
            let shape = broadcast_shapes(&self.shape, &rhs.shape).ok_or_else(|| {
                TensorError::Broadcast {
                    op: op.name(),
                    lhs: self.shape.to_vec(),
                    rhs: rhs.shape.to_vec(),
                }
            })?;
            if numel(&shape) == 0 {
                return Ok(Self::zeros(&shape));
            }
            let (l, r) = (self.broadcast_to(&shape)?, rhs.broadcast_to(&shape)?);
            if let Some(out) = cpu_ops::binary(op, &l, &r) {
                return out;
            }
        }
        self.binary(rhs, op.name(), f)
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
        if let Some(t) = cpu_ops::mul_rows(self, s) {
            return Ok(t);
        }
        self.mul(&s.reshape(&[s.shape[0], 1])?)
    }

    /// `self + rhs`, broadcasting.
    pub fn add(&self, rhs: &Self) -> TensorResult<Self> {
        self.elementwise(Binary::Add, rhs, |a, b| a + b)
    }
    /// `self - rhs`, broadcasting.
    pub fn sub(&self, rhs: &Self) -> TensorResult<Self> {
        self.elementwise(Binary::Sub, rhs, |a, b| a - b)
    }
    /// `self * rhs`, broadcasting.
    pub fn mul(&self, rhs: &Self) -> TensorResult<Self> {
        self.elementwise(Binary::Mul, rhs, |a, b| a * b)
    }
    /// `self / rhs`, broadcasting.
    pub fn div(&self, rhs: &Self) -> TensorResult<Self> {
        self.elementwise(Binary::Div, rhs, |a, b| a / b)
    }
    /// Elementwise maximum, broadcasting.
    pub fn maximum(&self, rhs: &Self) -> TensorResult<Self> {
        self.elementwise(Binary::Maximum, rhs, |a, b| a.maximum(b))
    }
    /// Elementwise minimum, broadcasting.
    pub fn minimum(&self, rhs: &Self) -> TensorResult<Self> {
        self.elementwise(Binary::Minimum, rhs, |a, b| a.minimum(b))
    }

    /// Keeps elements where `keep` is true and puts exact zeros elsewhere (no NaN from
    /// `-inf * 0`); gradients flow only through kept elements.
    pub fn where_mask(&self, keep: &[bool]) -> TensorResult<Self> {
        let n = self.numel();
        if keep.len() != n {
            return Err(TensorError::Shape {
                what: "where_mask".into(),
                expected: self.shape.to_vec(),
                found: vec![keep.len()],
            });
        }
        if let Some(t) = cpu_ops::where_mask(self, keep) {
            return Ok(t);
        }
        let dev = self.device();
        let flags: Vec<f32> = keep.iter().map(|&k| if k { 1.0 } else { 0.0 }).collect();
        let cond = dev.tensor_from_vec(flags, (n,)).gt(0.5);
        let zeros: dfdx::prelude::Tensor<(usize,), f32, D> = dev.zeros_like(&(n,));
        let data = cond.choose(self.flat().clone(), zeros);
        Ok(DynTensor::dev(data, self.shape.clone()))
    }

    // ----- elementwise unary -----------------------------------------------------------------

    /// Applies a dfdx op to the flat data, keeping the shape.
    pub(crate) fn map(&self, f: impl FnOnce(Flat<D>) -> Flat<D>) -> Self {
        DynTensor::dev(f(self.flat().clone()), self.shape.clone())
    }

    /// `self + c`.
    pub fn add_scalar(&self, c: f32) -> Self {
        cpu_ops::unary(Unary::AddScalar(c), self).unwrap_or_else(|| self.map(|x| x + c))
    }
    /// `self * c`.
    pub fn mul_scalar(&self, c: f32) -> Self {
        cpu_ops::unary(Unary::MulScalar(c), self).unwrap_or_else(|| self.map(|x| x * c))
    }
    /// `c - self`.
    pub fn rsub_scalar(&self, c: f32) -> Self {
        cpu_ops::unary(Unary::RSubScalar(c), self).unwrap_or_else(|| self.map(|x| x.negate() + c))
    }
    /// `-self`.
    pub fn neg(&self) -> Self {
        cpu_ops::unary(Unary::Neg, self).unwrap_or_else(|| self.map(|x| x.negate()))
    }
    /// `exp(self)`.
    pub fn exp(&self) -> Self {
        cpu_ops::unary(Unary::Exp, self).unwrap_or_else(|| self.map(|x| x.exp()))
    }
    /// Natural logarithm.
    pub fn ln(&self) -> Self {
        cpu_ops::unary(Unary::Ln, self).unwrap_or_else(|| self.map(|x| x.ln()))
    }
    /// Square root.
    pub fn sqrt(&self) -> Self {
        cpu_ops::unary(Unary::Sqrt, self).unwrap_or_else(|| self.map(|x| x.sqrt()))
    }
    /// Square.
    pub fn square(&self) -> Self {
        cpu_ops::unary(Unary::Square, self).unwrap_or_else(|| self.map(|x| x.square()))
    }
    /// Absolute value.
    pub fn abs(&self) -> Self {
        cpu_ops::unary(Unary::Abs, self).unwrap_or_else(|| self.map(|x| x.abs()))
    }
    /// `1 / self`.
    pub fn recip(&self) -> Self {
        cpu_ops::unary(Unary::Recip, self).unwrap_or_else(|| self.map(|x| x.recip()))
    }
    /// Logistic sigmoid.
    pub fn sigmoid(&self) -> Self {
        cpu_ops::unary(Unary::Sigmoid, self).unwrap_or_else(|| self.map(|x| x.sigmoid()))
    }
    /// Hyperbolic tangent.
    pub fn tanh(&self) -> Self {
        cpu_ops::unary(Unary::Tanh, self).unwrap_or_else(|| self.map(|x| x.tanh()))
    }
    /// `self ^ p`.
    pub fn powf(&self, p: f32) -> Self {
        cpu_ops::unary(Unary::Powf(p), self).unwrap_or_else(|| self.map(|x| x.powf(p)))
    }
    /// Clamps into `[lo, hi]`.
    pub fn clamp(&self, lo: f32, hi: f32) -> Self {
        cpu_ops::unary(Unary::Clamp(lo, hi), self).unwrap_or_else(|| self.map(|x| x.clamp(lo, hi)))
    }

    // ----- reductions ------------------------------------------------------------------------

    /// Sum of all elements, as a rank-0 tensor. (The sum of a single element is that element:
    /// the same node, reshaped.)
    pub fn sum(&self) -> Self {
        if self.numel() == 1 {
            return DynTensor {
                repr: self.repr.clone(),
                shape: Dims::new(&[]),
                constant: self.constant,
            };
        }
        if let Some(s) = cpu_ops::sum_groups(self, self.numel(), &[]) {
            return s;
        }
        let s: Taped<Rank0, D> = self.flat().clone().sum();
        DynTensor::dev(s.reshape_like(&(1,)), Dims::new(&[]))
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
        let outer: usize = self.shape[..keep].iter().product();
        let inner: usize = self.shape[keep..].iter().product();
        if let Some(s) = cpu_ops::sum_groups(self, inner, &self.shape[..keep]) {
            return Ok(s);
        }
        let m: Taped<(usize, usize), D> = self.flat().clone().reshape_like(&(outer, inner));
        let s: Taped<(usize,), D> = m.sum::<(usize,), Axis<1>>();
        Ok(DynTensor::dev(s, Dims::new(&self.shape[..keep])))
    }

    /// Log-sum-exp over the last dimension (numerically stable).
    pub fn logsumexp_last(&self) -> TensorResult<Self> {
        let Some((&last, lead)) = self.shape.split_last() else {
            return Err(TensorError::Invalid("logsumexp_last of a scalar".into()));
        };
        if let Some(t) = cpu_ops::logsumexp_groups(self, last, lead) {
            return Ok(t);
        }
        let outer = numel(lead);
        let m: Taped<(usize, usize), D> = self.flat().clone().reshape_like(&(outer, last));
        let s: Taped<(usize,), D> = m.logsumexp::<(usize,), Axis<1>>();
        Ok(DynTensor::dev(s, Dims::new(lead)))
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
        if let Some(t) = cpu_ops::sum_to(self, &self.shape, shape) {
            return Ok(t);
        }
        // Sum away the extra leading dims, then every dim that the target keeps as size 1.
        let lead = self.rank() - shape.len();
        let outer: usize = self.shape[..lead].iter().product();
        let rest: usize = self.shape[lead..].iter().product();
        let m: Taped<(usize, usize), D> = self.flat().clone().reshape_like(&(outer, rest));
        let mut data: Flat<D> = m.sum::<(usize,), Axis<0>>();
        let mut cur: Vec<usize> = self.shape[lead..].to_vec();
        for k in 0..cur.len() {
            if shape[k] == 1 && cur[k] != 1 {
                let a: usize = cur[..k].iter().product();
                let b: usize = cur[k + 1..].iter().product();
                let t: Taped<(usize, usize, usize), D> = data.reshape_like(&(a, cur[k], b));
                let r: Taped<(usize, usize), D> = t.sum::<(usize, usize), Axis<1>>();
                data = r.reshape_like(&(a * b,));
                cur[k] = 1;
            }
        }
        Ok(DynTensor::dev(data, Dims::new(shape)))
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
        if let Some(c) = super::host_matmul::matmul(self, rhs, sizes, &shape) {
            return Ok(c);
        }
        let a: Taped<(usize, usize), D> = self.flat().clone().reshape_like(&(m, k));
        let mut b_flat = rhs.flat().clone();
        if self.same_node_as(rhs) {
            b_flat = b_flat * 1.0;
        }
        let b: Taped<(usize, usize), D> = b_flat.reshape_like(&(k, n));
        let c = a.matmul(b);
        Ok(DynTensor::dev(c.reshape_like(&(m * n,)), Dims::new(&shape)))
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
        if super::host_op::is_cpu::<D>() {
            let idx = (0..c)
                .flat_map(|j| (0..r).map(move |i| i * c + j))
                .collect();
            return self.gather_flat(idx, &[c, r]);
        }
        let m: Taped<(usize, usize), D> = self.flat().clone().reshape_like(&(r, c));
        let t: Taped<(usize, usize), D> = m.permute::<_, Axes2<1, 0>>();
        Ok(DynTensor::dev(
            t.reshape_like(&(r * c,)),
            Dims::new(&[c, r]),
        ))
    }
}
