//! The operations of [`DynTensor`]: shape changes, elementwise arithmetic and functions,
//! reductions, matrix products, each one host kernel (tensor/cpu_ops.rs, host_matmul.rs).

use std::marker::PhantomData;

use super::super::cpu_ops::{self, Binary, Unary};
use super::super::dims::Dims;
use super::{broadcast_index, broadcast_shapes, numel, DynTensor};
use crate::tensor::{Backend, TensorError, TensorResult};

impl<D: Backend> DynTensor<D> {
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
        let mut shape = self.shape.to_vec();
        let last = shape.len() - 1;
        shape[last] = n;
        let m: usize = self.shape[..last].iter().product();
        if k == 0 || m * n == 0 {
            // An empty inner dim: every entry is an empty sum.
            return Ok(Self::zeros(&shape));
        }
        let sizes = super::super::host_matmul::MatMul {
            b: 1,
            m,
            k,
            n,
            shared_rhs: true,
        };
        super::super::host_matmul::matmul(self, rhs, sizes, &shape)
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
