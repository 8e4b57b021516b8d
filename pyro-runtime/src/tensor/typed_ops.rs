//! The operations a model needs on typed [`Tensor`](super::typed::Tensor)s beyond
//! elementwise arithmetic: reductions over an axis, matrix products, indexing, joining,
//! reshaping, gathering, comparisons and selection, softmax.
//!
//! Each is built from differentiable [`DynTensor`] operations, so gradients flow as they do
//! everywhere else on the shared tape. Shape types are computed by the compiler (dfdx's shape
//! traits, and the small traits below); `usize` dims are checked when the operation runs,
//! and a mismatch, an index out of range or a wrong size is carried in the result as a
//! [`TensorError`] (to its first fallible use) instead of panicking.

use dfdx::shapes::{Axes, Const, Dim, Rank0, ReduceShape, Shape};

use super::backend::Backend;
use super::dyn_tensor::{broadcast_shapes, node_id, numel, DynTensor};
use super::typed::{BroadcastShape, Tensor};
use crate::error::{TensorError, TensorResult};

// ----- reductions and softmax ---------------------------------------------------------------

/// The axis indices of `Ax`, ascending.
fn axes_of<Ax: Axes>() -> Vec<usize> {
    let mut a: Vec<usize> = Ax::as_array().into_iter().map(|i| i as usize).collect();
    a.sort_unstable();
    a
}

/// `shape` with the dims at `axes` set to 1 (kept) and removed (reduced).
fn reduced_shapes(shape: &[usize], axes: &[usize]) -> (Vec<usize>, Vec<usize>) {
    let keep = (0..shape.len())
        .map(|k| if axes.contains(&k) { 1 } else { shape[k] })
        .collect();
    let out = (0..shape.len())
        .filter(|k| !axes.contains(k))
        .map(|k| shape[k])
        .collect();
    (keep, out)
}

/// Row-major strides.
fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1];
    }
    s
}

/// For each element of `shape` (row-major), the flat index of the element of the reduced
/// tensor (`keep`, the same rank with 1 at reduced axes) it belongs to; also the broadcast
/// source index of `keep`'s values.
fn reduced_index(shape: &[usize], keep: &[usize]) -> Vec<usize> {
    let ks = strides(keep);
    let n = numel(shape);
    let mut coord = vec![0usize; shape.len()];
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(
            coord
                .iter()
                .zip(keep)
                .zip(&ks)
                .map(|((&c, &k), &s)| if k == 1 { 0 } else { c * s })
                .sum(),
        );
        for k in (0..shape.len()).rev() {
            coord[k] += 1;
            if coord[k] < shape[k] {
                break;
            }
            coord[k] = 0;
        }
    }
    out
}

/// `x` before `y` as a maximum: larger, or NaN (NaN propagates, as in PyTorch).
fn beats(x: f32, y: f32) -> bool {
    x > y || (x.is_nan() && !y.is_nan())
}

/// The flat index of the first maximum of each group of `vals` (row-major, of `shape`)
/// reduced to `keep` (the same rank, 1 at the reduced axes, none of them empty), in the
/// reduced tensor's order.
fn argmax_flat(vals: &[f32], shape: &[usize], keep: &[usize]) -> Vec<usize> {
    let mut best: Vec<Option<usize>> = vec![None; numel(keep)];
    for (i, o) in reduced_index(shape, keep).into_iter().enumerate() {
        match best[o] {
            Some(b) if !beats(vals[i], vals[b]) => {}
            _ => best[o] = Some(i),
        }
    }
    best.into_iter().map(|b| b.unwrap_or(0)).collect()
}

fn empty_axis_error(op: &str, shape: &[usize], axes: &[usize]) -> TensorError {
    TensorError::Invalid(format!(
        "{op}: axis {axes:?} of shape {shape:?} is empty (no elements to reduce)"
    ))
}

/// The sum over `axes` (ascending, below the rank).
fn sum_axes<D: Backend>(v: &DynTensor<D>, axes: &[usize]) -> TensorResult<DynTensor<D>> {
    if v.rank() == 0 {
        return Ok(v.clone());
    }
    let (keep, out) = reduced_shapes(v.shape(), axes);
    if v.numel() == 0 {
        return Ok(DynTensor::zeros(&out));
    }
    v.sum_to_shape(&keep)?.reshape(&out)
}

/// The maximum over `axes`: a gather of the first maximum of each group, so its gradient goes
/// to that one element (as PyTorch's `max(dim)`).
fn max_axes<D: Backend>(v: &DynTensor<D>, axes: &[usize]) -> TensorResult<DynTensor<D>> {
    if v.rank() == 0 {
        return Ok(v.clone());
    }
    let (keep, out) = reduced_shapes(v.shape(), axes);
    if axes.iter().any(|&a| v.shape()[a] == 0) {
        return Err(empty_axis_error("max_axis", v.shape(), axes));
    }
    if numel(&out) == 0 {
        return Ok(DynTensor::zeros(&out));
    }
    v.gather_flat(argmax_flat(&v.to_vec(), v.shape(), &keep), &out)
}

/// `m` (the values of the maximum over `axes`, with shape `keep`), with the non-finite ones
/// replaced by 0, as a constant: the shift of a stable log-sum-exp.
fn lse_shift<D: Backend>(v: &DynTensor<D>, keep: &[usize]) -> TensorResult<DynTensor<D>> {
    let vals = v.to_vec();
    let shift: Vec<f32> = argmax_flat(&vals, v.shape(), keep)
        .into_iter()
        .map(|i| if vals[i].is_finite() { vals[i] } else { 0.0 })
        .collect();
    Ok(DynTensor::from_vec(shift, keep)?.detach())
}

/// `ln Σ exp` over `axes`, shifted by the maximum (stable; `-inf` for all `-inf`).
fn logsumexp_axes<D: Backend>(v: &DynTensor<D>, axes: &[usize]) -> TensorResult<DynTensor<D>> {
    if v.rank() == 0 {
        return Ok(v.clone());
    }
    let (keep, out) = reduced_shapes(v.shape(), axes);
    if axes.iter().any(|&a| v.shape()[a] == 0) {
        return Ok(DynTensor::full(&out, f32::NEG_INFINITY));
    }
    if numel(&out) == 0 {
        return Ok(DynTensor::zeros(&out));
    }
    let shift = lse_shift(v, &keep)?;
    let s = sum_axes(&v.sub(&shift)?.exp(), axes)?;
    s.ln().add(&shift.reshape(&out)?)
}

/// `x - logsumexp(x)` over the last axis, keeping it.
fn log_softmax_last<D: Backend>(v: &DynTensor<D>) -> TensorResult<DynTensor<D>> {
    if v.rank() == 0 || v.numel() == 0 {
        return Ok(DynTensor::zeros(v.shape()));
    }
    let last = [v.rank() - 1];
    let (keep, _) = reduced_shapes(v.shape(), &last);
    let z = v.sub(&lse_shift(v, &keep)?)?;
    let lse = sum_axes(&z.exp(), &last)?.ln().reshape(&keep)?;
    z.sub(&lse)
}

/// `exp(x) / Σ exp(x)` over the last axis.
fn softmax_last<D: Backend>(v: &DynTensor<D>) -> TensorResult<DynTensor<D>> {
    if v.rank() == 0 || v.numel() == 0 {
        return Ok(DynTensor::ones(v.shape()));
    }
    let last = [v.rank() - 1];
    let (keep, _) = reduced_shapes(v.shape(), &last);
    let e = v.sub(&lse_shift(v, &keep)?)?.exp();
    let total = sum_axes(&e, &last)?.reshape(&keep)?;
    e.div(&total)
}

impl<S: Shape, D: Backend> Tensor<S, D> {
    /// The sum over the axes `Ax` (`Axis<1>`, or several: `Axes2<0, 2>`); the result's shape
    /// type drops them (dfdx's [`ReduceShape`]). PyTorch's `x.sum(dim)`.
    ///
    /// ```
    /// use pyro::prelude::*;
    /// use pyro::tensor::typed::Tensor;
    /// let x: Tensor<Rank2<2, 3>> = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]].into();
    /// let rows: Tensor<Rank1<2>> = x.sum_axis::<Axis<1>>();
    /// assert_eq!(rows.to_vec().unwrap(), vec![6.0, 15.0]);
    /// assert_eq!(x.sum_axis::<Axis<0>>().to_vec().unwrap(), vec![5.0, 7.0, 9.0]);
    /// let all: Tensor<Rank0> = x.sum_axis::<dfdx::shapes::Axes2<0, 1>>();
    /// assert_eq!(all.item().unwrap(), 21.0);
    /// ```
    pub fn sum_axis<Ax: Axes>(&self) -> Tensor<<S as ReduceShape<Ax>>::Reduced, D>
    where
        S: ReduceShape<Ax>,
    {
        self.map_to(|v| sum_axes(v, &axes_of::<Ax>()))
    }

    /// The mean over the axes `Ax` (NaN over an empty axis, as in PyTorch).
    ///
    /// ```
    /// use pyro::prelude::*;
    /// use pyro::tensor::typed::Tensor;
    /// let x: Tensor<(usize, Const<2>)> = Tensor::from_vec(vec![1.0, 2.0, 3.0, 6.0], (2, Const)).unwrap();
    /// let m: Tensor<Rank1<2>> = x.mean_axis::<Axis<0>>();
    /// assert_eq!(m.to_vec().unwrap(), vec![2.0, 4.0]);
    /// ```
    pub fn mean_axis<Ax: Axes>(&self) -> Tensor<<S as ReduceShape<Ax>>::Reduced, D>
    where
        S: ReduceShape<Ax>,
    {
        self.map_to(|v| {
            let axes = axes_of::<Ax>();
            let n: usize = axes
                .iter()
                .map(|&a| v.shape().get(a).copied().unwrap_or(1))
                .product();
            Ok(sum_axes(v, &axes)?.mul_scalar(1.0 / n as f32))
        })
    }

    /// The maximum over the axes `Ax`. Its gradient goes to one element of each group, the
    /// first maximum in row-major order (PyTorch's `max(dim)`); NaN propagates. An empty axis
    /// is an error.
    ///
    /// ```
    /// use pyro::prelude::*;
    /// use pyro::tensor::typed::Tensor;
    /// let x: Tensor<Rank2<2, 3>> = [[1.0, 7.0, 3.0], [4.0, -5.0, 2.0]].into();
    /// assert_eq!(x.max_axis::<Axis<1>>().to_vec().unwrap(), vec![7.0, 4.0]);
    /// assert_eq!(x.max_axis::<Axis<0>>().to_vec().unwrap(), vec![4.0, 7.0, 3.0]);
    /// ```
    pub fn max_axis<Ax: Axes>(&self) -> Tensor<<S as ReduceShape<Ax>>::Reduced, D>
    where
        S: ReduceShape<Ax>,
    {
        self.map_to(|v| max_axes(v, &axes_of::<Ax>()))
    }

    /// `ln Σ exp(x)` over the axes `Ax`, computed stably (shifted by the maximum); `-inf` over
    /// an empty axis or where every value is `-inf`.
    ///
    /// ```
    /// use pyro::prelude::*;
    /// use pyro::tensor::typed::Tensor;
    /// let x: Tensor<Rank2<2, 2>> = [[0.0, 0.0], [1000.0, 1000.0]].into();
    /// let l = x.logsumexp_axis::<Axis<1>>().to_vec().unwrap();
    /// assert!((l[0] - 2f32.ln()).abs() < 1e-6 && (l[1] - (1000.0 + 2f32.ln())).abs() < 1e-3);
    /// ```
    pub fn logsumexp_axis<Ax: Axes>(&self) -> Tensor<<S as ReduceShape<Ax>>::Reduced, D>
    where
        S: ReduceShape<Ax>,
    {
        self.map_to(|v| logsumexp_axes(v, &axes_of::<Ax>()))
    }

    /// The maximum over the last axis (for any shape type; see [`Tensor::max_axis`]).
    ///
    /// ```
    /// use pyro::prelude::*;
    /// use pyro::tensor::typed::Tensor;
    /// let x: Tensor<Rank2<2, 2>> = [[1.0, 3.0], [-1.0, -2.0]].into();
    /// assert_eq!(x.max_last().to_vec().unwrap(), vec![3.0, -1.0]);
    /// ```
    pub fn max_last(&self) -> Tensor<<S as ReduceShape<S::LastAxis>>::Reduced, D> {
        self.max_axis::<S::LastAxis>()
    }

    /// `ln Σ exp(x)` over the last axis (for any shape type; see [`Tensor::logsumexp_axis`]).
    ///
    /// ```
    /// use pyro::prelude::*;
    /// use pyro::tensor::typed::Tensor;
    /// let x: Tensor<Rank1<2>> = [0.0, 0.0].into();
    /// assert!((x.logsumexp_last().item().unwrap() - 2f32.ln()).abs() < 1e-6);
    /// ```
    pub fn logsumexp_last(&self) -> Tensor<<S as ReduceShape<S::LastAxis>>::Reduced, D> {
        self.logsumexp_axis::<S::LastAxis>()
    }

    /// `exp(x) / Σ exp(x)` over the last axis, computed stably (shifted by the maximum).
    ///
    /// ```
    /// use pyro::prelude::*;
    /// use pyro::tensor::typed::Tensor;
    /// let x: Tensor<Rank1<3>> = [1000.0, 1000.0, -1000.0].into();
    /// assert_eq!(x.softmax().to_vec().unwrap(), vec![0.5, 0.5, 0.0]);
    /// ```
    pub fn softmax(&self) -> Self {
        self.map(softmax_last)
    }

    /// `x - logsumexp(x)` over the last axis, computed stably.
    ///
    /// ```
    /// use pyro::prelude::*;
    /// use pyro::tensor::typed::Tensor;
    /// let x: Tensor<Rank1<2>> = [3.0, 3.0].into();
    /// let l = x.log_softmax().to_vec().unwrap();
    /// assert!(l.iter().all(|v| (v + 2f32.ln()).abs() < 1e-6));
    /// ```
    pub fn log_softmax(&self) -> Self {
        self.map(log_softmax_last)
    }
}

// ----- matrix products ----------------------------------------------------------------------

/// The two contracted dims of a matrix product agree: the same `Const<K>`, or a `usize` on
/// either side (then checked when the product runs).
#[diagnostic::on_unimplemented(
    message = "the inner dims of this matrix product disagree: `{Self}` against `{Rhs}`",
    label = "the left operand's last dim is `{Self}`, the right operand's contracted dim is `{Rhs}`",
    note = "in `a.matmul(&b)` the last dim of `a` must equal the first dim of `b` (its second-to-last for a batch `(B, K, N)`)"
)]
pub trait InnerDim<Rhs: Dim>: Dim {}

/// The batch dims of a batched matrix product agree; `Output` is the more static of the two.
#[diagnostic::on_unimplemented(
    message = "the batch dims of this matrix product disagree: `{Self}` against `{Rhs}`",
    label = "a batch of `{Self}` matrices times a batch of `{Rhs}`",
    note = "`(B, M, K)` times `(B, K, N)` needs the same `B` on both sides"
)]
pub trait BatchDim<Rhs: Dim>: Dim {
    /// The result's batch dim.
    type Output: Dim;
}

impl<const K: usize> InnerDim<Const<K>> for Const<K> {}
impl<const K: usize> InnerDim<usize> for Const<K> {}
impl<const K: usize> InnerDim<Const<K>> for usize {}
impl InnerDim<usize> for usize {}

impl<const B: usize> BatchDim<Const<B>> for Const<B> {
    type Output = Const<B>;
}
impl<const B: usize> BatchDim<usize> for Const<B> {
    type Output = Const<B>;
}
impl<const B: usize> BatchDim<Const<B>> for usize {
    type Output = Const<B>;
}
impl BatchDim<usize> for usize {
    type Output = usize;
}

/// The shape of `Self` matmul `Rhs`, as [`Tensor::matmul`] computes it (NumPy's `matmul`
/// for these ranks): `(K,)·(K,) -> ()`, `(K,)·(K, N) -> (N,)`, `(M, K)·(K,) -> (M,)`,
/// `(M, K)·(K, N) -> (M, N)`, `(B, M, K)·(K,) -> (B, M)`, `(B, M, K)·(K, N) -> (B, M, N)`
/// and `(B, M, K)·(B, K, N) -> (B, M, N)`.
#[diagnostic::on_unimplemented(
    message = "no matrix product of a tensor of shape `{Self}` by one of shape `{Rhs}`",
    label = "`{Self}` times `{Rhs}`",
    note = "matmul takes (K,)·(K,), (K,)·(K, N), (M, K)·(K,), (M, K)·(K, N), (B, M, K)·(K,), (B, M, K)·(K, N) and (B, M, K)·(B, K, N)"
)]
pub trait MatMulShape<Rhs: Shape>: Shape {
    /// The product's shape.
    type Output: Shape;
}

impl<K: InnerDim<K2>, K2: Dim> MatMulShape<(K2,)> for (K,) {
    type Output = Rank0;
}
impl<K: InnerDim<K2>, K2: Dim, N: Dim> MatMulShape<(K2, N)> for (K,) {
    type Output = (N,);
}
impl<M: Dim, K: InnerDim<K2>, K2: Dim> MatMulShape<(K2,)> for (M, K) {
    type Output = (M,);
}
impl<M: Dim, K: InnerDim<K2>, K2: Dim, N: Dim> MatMulShape<(K2, N)> for (M, K) {
    type Output = (M, N);
}
impl<B: Dim, M: Dim, K: InnerDim<K2>, K2: Dim> MatMulShape<(K2,)> for (B, M, K) {
    type Output = (B, M);
}
impl<B: Dim, M: Dim, K: InnerDim<K2>, K2: Dim, N: Dim> MatMulShape<(K2, N)> for (B, M, K) {
    type Output = (B, M, N);
}
impl<B: BatchDim<B2>, B2: Dim, M: Dim, K: InnerDim<K2>, K2: Dim, N: Dim> MatMulShape<(B2, K2, N)>
    for (B, M, K)
{
    type Output = (B::Output, M, N);
}

/// Matrix products of the ranks [`MatMulShape`] allows.
fn matmul_dyn<D: Backend>(a: &DynTensor<D>, b: &DynTensor<D>) -> TensorResult<DynTensor<D>> {
    let (ra, rb) = (a.rank(), b.rank());
    let (sa, sb) = (a.shape(), b.shape());
    let unsupported = || TensorError::Broadcast {
        op: "matmul",
        lhs: sa.to_vec(),
        rhs: sb.to_vec(),
    };
    if ra == 0 || rb == 0 || rb > 3 || (rb == 3 && ra != 3) {
        return Err(unsupported());
    }
    let k = sa[ra - 1];
    let k2 = if rb == 1 { sb[0] } else { sb[rb - 2] };
    if k != k2 {
        return Err(TensorError::Shape {
            what: format!("matmul of {sa:?} by {sb:?}: the inner dims disagree"),
            expected: vec![k],
            found: vec![k2],
        });
    }
    let mut out: Vec<usize> = sa[..ra - 1].to_vec();
    if rb >= 2 {
        out.push(sb[rb - 1]);
    }
    if rb == 3 && sa[0] != sb[0] {
        return Err(TensorError::Shape {
            what: format!("matmul of {sa:?} by {sb:?}: the batch dims disagree"),
            expected: vec![sa[0]],
            found: vec![sb[0]],
        });
    }
    if numel(&out) == 0 || k == 0 {
        return Ok(DynTensor::zeros(&out));
    }
    match (ra, rb) {
        (1, 1) => Ok(a.mul(b)?.sum()),
        (1, 2) => a.reshape(&[1, k])?.matmul(b)?.reshape(&out),
        (_, 1) => a.matmul(&b.reshape(&[k, 1])?)?.reshape(&out),
        (_, 2) => a.matmul(b),
        _ => a.bmm(b),
    }
}

impl<S: Shape, D: Backend> Tensor<S, D> {
    /// The matrix product, typed through the trait `MatMulShape`: vector·vector (a dot product),
    /// vector·matrix, matrix·vector, matrix·matrix, a batch of matrices times one matrix or
    /// vector, and a batch times a batch (NumPy's `matmul`). The inner dims must agree: two
    /// `Const` dims are compared by the compiler, a `usize` one when the product runs.
    ///
    /// ```
    /// use pyro::prelude::*;
    /// use pyro::tensor::typed::Tensor;
    /// let a: Tensor<Rank2<2, 3>> = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]].into();
    /// let v: Tensor<Rank1<3>> = [1.0, 0.0, -1.0].into();
    /// let av: Tensor<Rank1<2>> = a.matmul(&v);
    /// assert_eq!(av.to_vec().unwrap(), vec![-2.0, -2.0]);
    /// let b: Tensor<(usize, Const<3>, Const<2>)> =
    ///     Tensor::from_vec((0..12).map(|i| i as f32).collect(), (2, Const, Const)).unwrap();
    /// let w: Tensor<Rank2<2, 1>> = [[1.0], [1.0]].into();
    /// assert_eq!(b.matmul(&w).to_vec().unwrap(), vec![1.0, 5.0, 9.0, 13.0, 17.0, 21.0]);
    /// ```
    ///
    /// Inner dims that disagree do not compile:
    ///
    /// ```compile_fail
    /// use pyro::prelude::*;
    /// use pyro::tensor::typed::Tensor;
    /// let a: Tensor<Rank2<2, 3>> = Tensor::zeros(Default::default());
    /// let b: Tensor<Rank2<4, 2>> = Tensor::zeros(Default::default());
    /// let _ = a.matmul(&b); // the inner dims of this matrix product disagree
    /// ```
    pub fn matmul<R: Shape>(&self, rhs: &Tensor<R, D>) -> Tensor<S::Output, D>
    where
        S: MatMulShape<R>,
    {
        self.zip_to(rhs, matmul_dyn)
    }
}

// ----- reshaping and gathering --------------------------------------------------------------

/// A shape with a first dim, `(First, Rest...)`: what indexing and joining along the first
/// axis need. Implemented for ranks 1 to 6.
#[diagnostic::on_unimplemented(
    message = "a tensor of shape `{Self}` has no first dim to index or join along",
    note = "`at`, `select`, `narrow` and `concat` work along the first dim of a tensor of rank 1 to 6"
)]
pub trait SplitFirst: Shape {
    /// The first dim.
    type First: Dim;
    /// The shape without its first dim (what `at`/`select` return).
    type Rest: Shape;
    /// The shape with its first dim replaced by `N`.
    type WithFirst<N: Dim>: Shape;
}

/// A shape that can take one more leading dim (ranks 0 to 5; dfdx's shapes stop at 6).
#[diagnostic::on_unimplemented(
    message = "tensors of shape `{Self}` cannot be stacked: the result would have more than 6 dims"
)]
pub trait PrependDim: Shape {
    /// `(N, Self...)`.
    type Prepended<N: Dim>: Shape;
}

/// A dim whose size the compiler knows: `Const<N>`.
#[diagnostic::on_unimplemented(
    message = "`at::<I>()` needs a first dim known at compile time; this one is `{Self}`",
    label = "the first dim is `{Self}`",
    note = "index a `usize` dim with `select(i)`, which checks the index when it runs"
)]
pub trait StaticDim: Dim {
    /// The size.
    const SIZE: usize;
}

impl<const N: usize> StaticDim for Const<N> {
    const SIZE: usize = N;
}

/// The shape with the dim at axis `Ax` replaced by a `usize` (what `index_select` and
/// `gather` along that axis return). Implemented for every axis of ranks 1 to 6.
#[diagnostic::on_unimplemented(
    message = "a tensor of shape `{Self}` has no axis `{Ax}`",
    note = "the axis is `Axis<I>` with `I` below the tensor's rank"
)]
pub trait ResizeAxis<Ax>: Shape {
    /// The resized shape.
    type Resized: Shape;
}

macro_rules! split_first {
    ($first:ident $(, $rest:ident)*) => {
        impl<$first: Dim $(, $rest: Dim)*> SplitFirst for ($first, $($rest,)*) {
            type First = $first;
            type Rest = ($($rest,)*);
            type WithFirst<N: Dim> = (N, $($rest,)*);
        }
    };
}
split_first!(A);
split_first!(A, B);
split_first!(A, B, C);
split_first!(A, B, C, E);
split_first!(A, B, C, E, F);
split_first!(A, B, C, E, F, G);

macro_rules! prepend_dim {
    ($($d:ident),*) => {
        impl<$($d: Dim),*> PrependDim for ($($d,)*) {
            type Prepended<N: Dim> = (N, $($d,)*);
        }
    };
}
prepend_dim!();
prepend_dim!(A);
prepend_dim!(A, B);
prepend_dim!(A, B, C);
prepend_dim!(A, B, C, E);
prepend_dim!(A, B, C, E, F);

macro_rules! resize_axis {
    ($ax:literal: ($($d:ident),+) => $out:ty) => {
        impl<$($d: Dim),+> ResizeAxis<dfdx::shapes::Axis<$ax>> for ($($d,)+) {
            type Resized = $out;
        }
    };
}
resize_axis!(0: (A) => (usize,));
resize_axis!(0: (A, B) => (usize, B));
resize_axis!(1: (A, B) => (A, usize));
resize_axis!(0: (A, B, C) => (usize, B, C));
resize_axis!(1: (A, B, C) => (A, usize, C));
resize_axis!(2: (A, B, C) => (A, B, usize));
resize_axis!(0: (A, B, C, E) => (usize, B, C, E));
resize_axis!(1: (A, B, C, E) => (A, usize, C, E));
resize_axis!(2: (A, B, C, E) => (A, B, usize, E));
resize_axis!(3: (A, B, C, E) => (A, B, C, usize));
resize_axis!(0: (A, B, C, E, F) => (usize, B, C, E, F));
resize_axis!(1: (A, B, C, E, F) => (A, usize, C, E, F));
resize_axis!(2: (A, B, C, E, F) => (A, B, usize, E, F));
resize_axis!(3: (A, B, C, E, F) => (A, B, C, usize, F));
resize_axis!(4: (A, B, C, E, F) => (A, B, C, E, usize));
resize_axis!(0: (A, B, C, E, F, G) => (usize, B, C, E, F, G));
resize_axis!(1: (A, B, C, E, F, G) => (A, usize, C, E, F, G));
resize_axis!(2: (A, B, C, E, F, G) => (A, B, usize, E, F, G));
resize_axis!(3: (A, B, C, E, F, G) => (A, B, C, usize, F, G));
resize_axis!(4: (A, B, C, E, F, G) => (A, B, C, E, usize, G));
resize_axis!(5: (A, B, C, E, F, G) => (A, B, C, E, F, usize));

/// A list of tensors of one shape type to [`Tensor::concat`] or [`Tensor::stack`]: an array
/// (its length is then known to the compiler: `Count = Const<K>`), a slice or a `Vec`.
pub trait Tensors<S: Shape, D: Backend> {
    /// The number of tensors.
    type Count: Dim;
    /// The tensors.
    fn tensors(&self) -> &[Tensor<S, D>];
}

impl<S: Shape, D: Backend, const K: usize> Tensors<S, D> for [Tensor<S, D>; K] {
    type Count = Const<K>;
    fn tensors(&self) -> &[Tensor<S, D>] {
        self
    }
}
impl<S: Shape, D: Backend, const K: usize> Tensors<S, D> for &[Tensor<S, D>; K] {
    type Count = Const<K>;
    fn tensors(&self) -> &[Tensor<S, D>] {
        *self
    }
}
impl<S: Shape, D: Backend> Tensors<S, D> for &[Tensor<S, D>] {
    type Count = usize;
    fn tensors(&self) -> &[Tensor<S, D>] {
        self
    }
}
impl<S: Shape, D: Backend> Tensors<S, D> for Vec<Tensor<S, D>> {
    type Count = usize;
    fn tensors(&self) -> &[Tensor<S, D>] {
        self
    }
}
impl<S: Shape, D: Backend> Tensors<S, D> for &Vec<Tensor<S, D>> {
    type Count = usize;
    fn tensors(&self) -> &[Tensor<S, D>] {
        self
    }
}

/// A typed tensor holding `value` (a value or the error to carry), of shape type `O`.
/// (The typed tensor's constructor is private to typed.rs; `map_to` from a throwaway scalar
/// wraps any result.)
fn lift<O: Shape, D: Backend>(value: TensorResult<DynTensor<D>>) -> Tensor<O, D> {
    Tensor::<Rank0, D>::scalar(0.0).map_to(move |_| value)
}

/// Rows `start..start + len` of the first axis.
fn rows<D: Backend>(v: &DynTensor<D>, start: usize, len: usize) -> TensorResult<DynTensor<D>> {
    let first = v.shape()[0];
    if start.checked_add(len).is_none_or(|end| end > first) {
        return Err(TensorError::Invalid(format!(
            "rows {start}..{} out of range for a first dim of size {first}",
            start.saturating_add(len)
        )));
    }
    let inner = numel(&v.shape()[1..]);
    let mut shape = v.shape().to_vec();
    shape[0] = len;
    v.slice_flat(start * inner, (start + len) * inner)?
        .reshape(&shape)
}

/// The flat data of `parts` one after another, as a rank-1 tensor. (A part that is the same
/// node as an earlier one goes in as a copy: dfdx's concatenation needs distinct nodes.)
fn cat_values<D: Backend>(parts: &[DynTensor<D>]) -> TensorResult<DynTensor<D>> {
    let parts: Vec<&DynTensor<D>> = parts.iter().filter(|p| p.numel() > 0).collect();
    match parts.as_slice() {
        [] => return Ok(DynTensor::zeros(&[0])),
        [one] => return one.reshape(&[one.numel()]),
        _ => {}
    }
    let mut seen = Vec::with_capacity(parts.len());
    let distinct: Vec<DynTensor<D>> = parts
        .iter()
        .map(|p| match node_id(p.flat()) {
            Some(id) if !seen.contains(&id) => {
                seen.push(id);
                (*p).clone()
            }
            _ => p.fresh(),
        })
        .collect();
    DynTensor::cat_flat(&distinct)
}

fn dyn_parts<S: Shape, D: Backend>(parts: &[Tensor<S, D>]) -> TensorResult<Vec<DynTensor<D>>> {
    parts.iter().map(|p| p.as_dyn().cloned()).collect()
}

fn concat_dyn<D: Backend>(parts: &[DynTensor<D>]) -> TensorResult<DynTensor<D>> {
    let Some(first) = parts.first() else {
        return Err(TensorError::Invalid("concat of no tensors".into()));
    };
    let rest = &first.shape()[1..];
    for (i, p) in parts.iter().enumerate() {
        if &p.shape()[1..] != rest {
            return Err(TensorError::Shape {
                what: format!("concat: the dims after the first of part {i}"),
                expected: rest.to_vec(),
                found: p.shape()[1..].to_vec(),
            });
        }
    }
    let mut shape = first.shape().to_vec();
    shape[0] = parts.iter().map(|p| p.shape()[0]).sum();
    cat_values(parts)?.reshape(&shape)
}

fn stack_dyn<D: Backend>(parts: &[DynTensor<D>], item: &[usize]) -> TensorResult<DynTensor<D>> {
    for (i, p) in parts.iter().enumerate() {
        if p.shape() != item {
            return Err(TensorError::Shape {
                what: format!("stack: part {i}"),
                expected: item.to_vec(),
                found: p.shape().to_vec(),
            });
        }
    }
    let mut shape = vec![parts.len()];
    shape.extend_from_slice(item);
    cat_values(parts)?.reshape(&shape)
}

/// PyTorch's `gather(axis, index)`: `out[.., j, ..] = v[.., index[.., j, ..], ..]`, with
/// `index` row-major of `v`'s shape except along `axis`.
fn gather_dyn<D: Backend>(
    v: &DynTensor<D>,
    axis: usize,
    index: &[usize],
) -> TensorResult<DynTensor<D>> {
    let shape = v.shape();
    let outer = numel(&shape[..axis]);
    let size = shape[axis];
    let inner = numel(&shape[axis + 1..]);
    let per = outer * inner;
    if !index.len().is_multiple_of(per) {
        let mut others = shape.to_vec();
        others.remove(axis);
        return Err(TensorError::Shape {
            what: format!(
                "gather along axis {axis} of {shape:?}: the index has {} values, which the other dims do not divide",
                index.len()
            ),
            expected: others,
            found: vec![index.len()],
        });
    }
    let m = index.len().checked_div(per).unwrap_or(0);
    let mut out_shape = shape.to_vec();
    out_shape[axis] = m;
    let mut src = Vec::with_capacity(index.len());
    for (pos, &i) in index.iter().enumerate() {
        if i >= size {
            return Err(TensorError::Invalid(format!(
                "gather: index {i} (at position {pos}) out of range for axis {axis} of size {size}"
            )));
        }
        let (o, r) = (pos / (m * inner), pos % inner);
        src.push((o * size + i) * inner + r);
    }
    v.gather_flat(src, &out_shape)
}

impl<S: Shape, D: Backend> Tensor<S, D> {
    /// The same values with the shape `shape` (of any shape type with as many elements; a
    /// different number is an error carried in the result). PyTorch's `reshape`.
    ///
    /// ```
    /// use pyro::prelude::*;
    /// use pyro::tensor::typed::Tensor;
    /// let x: Tensor<Rank1<6>> = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0].into();
    /// let m = x.reshape((3, Const::<2>));
    /// assert_eq!(m.shape(), (3, Const));
    /// assert!(x.reshape((4,)).to_vec().is_err());
    /// ```
    pub fn reshape<R: Shape>(&self, shape: R) -> Tensor<R, D> {
        let dims = shape.concrete();
        self.map_to(move |v| {
            let dims = dims.as_ref();
            if numel(dims) != v.numel() {
                return Err(TensorError::Shape {
                    what: format!("reshape to {dims:?} needs {} elements", numel(dims)),
                    expected: dims.to_vec(),
                    found: v.shape().to_vec(),
                });
            }
            v.reshape(dims)
        })
    }

    /// Selects `indices` along the axis `Ax` (PyTorch's `index_select(dim, indices)`, Pyro's
    /// `x[idx]` for `Axis<0>`); that axis becomes a `usize` of `indices.len()`. An index out
    /// of range is an error carried in the result. The gradient scatter-adds back.
    ///
    /// ```
    /// use pyro::prelude::*;
    /// use pyro::tensor::typed::Tensor;
    /// let loc: Tensor<Rank1<3>> = [10.0, 20.0, 30.0].into();
    /// let per_obs: Tensor<(usize,)> = loc.index_select::<Axis<0>>(&[2, 0, 0, 1]);
    /// assert_eq!(per_obs.to_vec().unwrap(), vec![30.0, 10.0, 10.0, 20.0]);
    /// assert!(loc.index_select::<Axis<0>>(&[3]).to_vec().is_err());
    /// ```
    pub fn index_select<Ax: Axes>(&self, indices: &[usize]) -> Tensor<S::Resized, D>
    where
        S: ResizeAxis<Ax>,
    {
        self.map_to(|v| v.index_select(axes_of::<Ax>()[0], indices))
    }

    /// PyTorch's `gather(dim, index)` along the axis `Ax`: `out[.., j, ..] =
    /// x[.., index[.., j, ..], ..]`. The index is given as row-major `usize`s (exact, unlike
    /// `f32` indices, and never differentiated) of the result's shape, which is `x`'s except
    /// along `Ax` (its size there is the number of indices over the other dims' product).
    /// A count that does not fit, or an index out of range, is an error carried in the result.
    ///
    /// ```
    /// use pyro::prelude::*;
    /// use pyro::tensor::typed::Tensor;
    /// let logits: Tensor<Rank2<2, 3>> = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]].into();
    /// // one column per row: the values at [0, 2] and [1, 0]
    /// let picked: Tensor<(Const<2>, usize)> = logits.gather::<Axis<1>>(&[2, 0]);
    /// assert_eq!(picked.dims().unwrap(), &[2, 1]);
    /// assert_eq!(picked.to_vec().unwrap(), vec![3.0, 4.0]);
    /// ```
    pub fn gather<Ax: Axes>(&self, index: &[usize]) -> Tensor<S::Resized, D>
    where
        S: ResizeAxis<Ax>,
    {
        self.map_to(|v| gather_dyn(v, axes_of::<Ax>()[0], index))
    }
}

// ----- indexing and joining along the first axis --------------------------------------------

impl<S: Shape, D: Backend> Tensor<S, D> {
    /// Row `I` of the first axis, a `Const` dim: the bound is checked when the program is
    /// compiled (a const assertion, evaluated when `at::<I>` is instantiated, so by
    /// `cargo build`/`cargo test` rather than `cargo check`). Pyro's `w[0]`.
    ///
    /// ```
    /// use pyro::prelude::*;
    /// use pyro::tensor::typed::Tensor;
    /// let w: Tensor<Rank2<3, 2>> = [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]].into();
    /// let row: Tensor<Rank1<2>> = w.at::<1>();
    /// assert_eq!(row.to_vec().unwrap(), vec![3.0, 4.0]);
    /// let b: Tensor<Rank1<3>> = [0.5, 1.5, 2.5].into();
    /// assert_eq!(b.at::<2>().item().unwrap(), 2.5);
    /// ```
    ///
    /// An index out of range does not compile:
    ///
    /// ```compile_fail
    /// use pyro::prelude::*;
    /// use pyro::tensor::typed::Tensor;
    /// let b: Tensor<Rank1<3>> = [0.5, 1.5, 2.5].into();
    /// let _ = b.at::<3>();
    /// ```
    pub fn at<const I: usize>(&self) -> Tensor<S::Rest, D>
    where
        S: SplitFirst,
        S::First: StaticDim,
    {
        const {
            assert!(
                I < <S::First as StaticDim>::SIZE,
                "at::<I>(): I is out of range for the first dim"
            )
        };
        self.select(I)
    }

    /// Row `i` of the first axis, checked when it runs: an index out of range is an error
    /// carried in the result. PyTorch's `select(0, i)`.
    ///
    /// ```
    /// use pyro::prelude::*;
    /// use pyro::tensor::typed::Tensor;
    /// let x: Tensor<(usize, Const<2>)> = Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], (2, Const)).unwrap();
    /// assert_eq!(x.select(1).to_vec().unwrap(), vec![3.0, 4.0]);
    /// assert!(x.select(2).to_vec().is_err());
    /// ```
    pub fn select(&self, i: usize) -> Tensor<S::Rest, D>
    where
        S: SplitFirst,
    {
        self.map_to(|v| {
            let first = v.shape()[0];
            if i >= first {
                return Err(TensorError::Invalid(format!(
                    "select: index {i} out of range for a first dim of size {first}"
                )));
            }
            rows(v, i, 1)?.reshape(&v.shape()[1..])
        })
    }

    /// Rows `start..start + len` of the first axis (PyTorch's `narrow(0, start, len)`); the
    /// first dim becomes a `usize`. A range past the end is an error carried in the result.
    ///
    /// ```
    /// use pyro::prelude::*;
    /// use pyro::tensor::typed::Tensor;
    /// let x: Tensor<Rank1<5>> = [0.0, 1.0, 2.0, 3.0, 4.0].into();
    /// let mid: Tensor<(usize,)> = x.narrow(1, 3);
    /// assert_eq!(mid.to_vec().unwrap(), vec![1.0, 2.0, 3.0]);
    /// assert!(x.narrow(3, 3).to_vec().is_err());
    /// ```
    pub fn narrow(&self, start: usize, len: usize) -> Tensor<S::WithFirst<usize>, D>
    where
        S: SplitFirst,
    {
        self.map_to(|v| rows(v, start, len))
    }

    /// Joins tensors along the first axis (PyTorch's `cat(parts, 0)`); the first dim of the
    /// result is a `usize` (a sum of `Const`s is not a type on stable Rust). The other dims
    /// must agree: `Const` ones do by type, `usize` ones are checked when it runs; an empty
    /// list is an error carried in the result.
    ///
    /// ```
    /// use pyro::prelude::*;
    /// use pyro::tensor::typed::Tensor;
    /// let a: Tensor<(usize, Const<2>)> = Tensor::from_vec(vec![1.0, 2.0], (1, Const)).unwrap();
    /// let b: Tensor<(usize, Const<2>)> = Tensor::from_vec(vec![3.0, 4.0, 5.0, 6.0], (2, Const)).unwrap();
    /// let c = Tensor::concat([a, b]);
    /// assert_eq!(c.shape(), (3, Const));
    /// assert_eq!(c.to_vec().unwrap(), vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    /// ```
    pub fn concat(parts: impl Tensors<S, D>) -> Tensor<S::WithFirst<usize>, D>
    where
        S: SplitFirst,
    {
        lift(dyn_parts(parts.tensors()).and_then(|p| concat_dyn(&p)))
    }
}

impl<S: Shape, D: Backend> Tensor<S, D> {
    /// Stacks tensors of one shape along a new first axis (PyTorch's `stack(parts, 0)`). Its
    /// dim is `Const<K>` for an array of `K` tensors, a `usize` for a slice or a `Vec`. The
    /// tensors' `usize` dims must agree (checked when it runs); an empty list is an error
    /// carried in the result.
    ///
    /// ```
    /// use pyro::prelude::*;
    /// use pyro::tensor::typed::Tensor;
    /// let a: Tensor<Rank1<2>> = [1.0, 2.0].into();
    /// let b: Tensor<Rank1<2>> = [3.0, 4.0].into();
    /// let m: Tensor<Rank2<2, 2>> = Tensor::stack([a.clone(), b.clone()]);
    /// assert_eq!(m.to_vec().unwrap(), vec![1.0, 2.0, 3.0, 4.0]);
    /// let rows = vec![a, b.clone(), b];
    /// let n: Tensor<(usize, Const<2>)> = Tensor::stack(&rows);
    /// assert_eq!(n.dims().unwrap(), &[3, 2]);
    /// ```
    pub fn stack<P: Tensors<S, D>>(parts: P) -> Tensor<S::Prepended<P::Count>, D>
    where
        S: PrependDim,
    {
        lift(dyn_parts(parts.tensors()).and_then(|p| match p.first() {
            Some(t) => stack_dyn(&p, t.shape()),
            None => Err(TensorError::Invalid("stack of no tensors".into())),
        }))
    }
}

// ----- comparisons and selection ------------------------------------------------------------

/// The other operand of a comparison, or a branch of [`Tensor::where_`], next to a tensor of
/// shape `S`: an `f32`, or a tensor (by value or reference) whose shape broadcasts with `S`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be compared with or selected against a tensor of shape `{S}`",
    note = "the other operand is an `f32` or a tensor of a shape that broadcasts with `{S}`"
)]
pub trait Operand<S: Shape, D: Backend> {
    /// The result's shape.
    type Output: Shape;
    /// The operand as an erased tensor (or the error it carries).
    fn to_operand(&self) -> TensorResult<DynTensor<D>>;
}

impl<S: Shape, D: Backend> Operand<S, D> for f32 {
    type Output = S;
    fn to_operand(&self) -> TensorResult<DynTensor<D>> {
        Ok(DynTensor::constant(&[], *self))
    }
}
impl<S: BroadcastShape<R>, R: Shape, D: Backend> Operand<S, D> for &Tensor<R, D> {
    type Output = S::Output;
    fn to_operand(&self) -> TensorResult<DynTensor<D>> {
        self.as_dyn().cloned()
    }
}
impl<S: BroadcastShape<R>, R: Shape, D: Backend> Operand<S, D> for Tensor<R, D> {
    type Output = S::Output;
    fn to_operand(&self) -> TensorResult<DynTensor<D>> {
        self.as_dyn().cloned()
    }
}

/// The values of `v` broadcast (NumPy rules) to `shape`, on the host, off the tape.
fn broadcast_values<D: Backend>(v: &DynTensor<D>, shape: &[usize]) -> Vec<f32> {
    let vals = v.to_vec();
    if v.shape() == shape {
        return vals;
    }
    let lead = shape.len() - v.rank();
    let keep: Vec<usize> = (0..shape.len())
        .map(|k| if k < lead { 1 } else { v.shape()[k - lead] })
        .collect();
    reduced_index(shape, &keep)
        .into_iter()
        .map(|i| vals[i])
        .collect()
}

fn compare_dyn<D: Backend>(
    a: &DynTensor<D>,
    b: &DynTensor<D>,
    op: &'static str,
    f: fn(f32, f32) -> bool,
) -> TensorResult<DynTensor<D>> {
    let shape = broadcast_shapes(a.shape(), b.shape()).ok_or_else(|| TensorError::Broadcast {
        op,
        lhs: a.shape().to_vec(),
        rhs: b.shape().to_vec(),
    })?;
    let (x, y) = (broadcast_values(a, &shape), broadcast_values(b, &shape));
    let mask = x
        .iter()
        .zip(&y)
        .map(|(&x, &y)| if f(x, y) { 1.0 } else { 0.0 })
        .collect();
    Ok(DynTensor::from_vec(mask, &shape)?.detach())
}

fn where_dyn<D: Backend>(
    mask: &DynTensor<D>,
    a: &DynTensor<D>,
    b: &DynTensor<D>,
) -> TensorResult<DynTensor<D>> {
    let err = |l: &[usize], r: &[usize]| TensorError::Broadcast {
        op: "where_",
        lhs: l.to_vec(),
        rhs: r.to_vec(),
    };
    let ab = broadcast_shapes(a.shape(), b.shape()).ok_or_else(|| err(a.shape(), b.shape()))?;
    let shape = broadcast_shapes(mask.shape(), &ab).ok_or_else(|| err(mask.shape(), &ab))?;
    let pick_a: Vec<bool> = broadcast_values(mask, &shape)
        .into_iter()
        .map(|m| m != 0.0)
        .collect();
    let pick_b: Vec<bool> = pick_a.iter().map(|p| !p).collect();
    let a = a.broadcast_to(&shape)?.where_mask(&pick_a)?;
    let b = b.broadcast_to(&shape)?.where_mask(&pick_b)?;
    a.add(&b)
}

macro_rules! comparisons {
    ($($(#[$doc:meta])* $name:ident => $f:expr;)*) => {
        impl<S: Shape, D: Backend> Tensor<S, D> {
            $(
                $(#[$doc])*
                pub fn $name<O: Operand<S, D>>(&self, rhs: O) -> Tensor<O::Output, D> {
                    let r = rhs.to_operand();
                    self.map_to(move |a| compare_dyn(a, &r?, stringify!($name), $f))
                }
            )*
        }
    };
}

comparisons! {
    /// `1.0` where `self > rhs` and `0.0` elsewhere (`rhs` an `f32` or a tensor that
    /// broadcasts), as a tensor with no gradient: a mask for [`Tensor::where_`] or to multiply
    /// by. NaN compares false.
    ///
    /// ```
    /// use pyro::prelude::*;
    /// use pyro::tensor::typed::Tensor;
    /// let x: Tensor<Rank1<3>> = [-1.0, 0.0, 2.0].into();
    /// assert_eq!(x.gt(0.0).to_vec().unwrap(), vec![0.0, 0.0, 1.0]);
    /// let y: Tensor<Rank1<3>> = [0.0, 0.0, 0.0].into();
    /// assert_eq!(x.gt(&y).to_vec().unwrap(), vec![0.0, 0.0, 1.0]);
    /// ```
    gt => |a, b| a > b;
    /// `1.0` where `self >= rhs`, `0.0` elsewhere (see [`Tensor::gt`]).
    ///
    /// ```
    /// use pyro::prelude::*;
    /// use pyro::tensor::typed::Tensor;
    /// let x: Tensor<Rank1<3>> = [-1.0, 0.0, 2.0].into();
    /// assert_eq!(x.ge(0.0).to_vec().unwrap(), vec![0.0, 1.0, 1.0]);
    /// ```
    ge => |a, b| a >= b;
    /// `1.0` where `self < rhs`, `0.0` elsewhere (see [`Tensor::gt`]).
    ///
    /// ```
    /// use pyro::prelude::*;
    /// use pyro::tensor::typed::Tensor;
    /// let x: Tensor<Rank1<3>> = [-1.0, 0.0, 2.0].into();
    /// assert_eq!(x.lt(Tensor::scalar(0.0)).to_vec().unwrap(), vec![1.0, 0.0, 0.0]);
    /// ```
    lt => |a, b| a < b;
    /// `1.0` where `self <= rhs`, `0.0` elsewhere (see [`Tensor::gt`]).
    ///
    /// ```
    /// use pyro::prelude::*;
    /// use pyro::tensor::typed::Tensor;
    /// let x: Tensor<Rank1<3>> = [-1.0, 0.0, 2.0].into();
    /// assert_eq!(x.le(0.0).to_vec().unwrap(), vec![1.0, 1.0, 0.0]);
    /// ```
    le => |a, b| a <= b;
    /// `1.0` where `self == rhs` exactly, `0.0` elsewhere (see [`Tensor::gt`]).
    ///
    /// ```
    /// use pyro::prelude::*;
    /// use pyro::tensor::typed::Tensor;
    /// let x: Tensor<Rank1<3>> = [-1.0, 0.0, 2.0].into();
    /// assert_eq!(x.eq(2.0).to_vec().unwrap(), vec![0.0, 0.0, 1.0]);
    /// ```
    eq => |a, b| a == b;
}

impl<S: Shape, D: Backend> Tensor<S, D> {
    /// `a` where `mask` is nonzero and `b` elsewhere (PyTorch's and NumPy's `where`; the
    /// underscore only avoids the keyword, nothing is done in place). `a` and `b` are tensors
    /// or `f32`s; the three broadcast together. Each element's gradient goes to the branch it
    /// was taken from (none to the other, even where that one is infinite or NaN) and none to
    /// the mask.
    ///
    /// ```
    /// use pyro::prelude::*;
    /// use pyro::tensor::typed::Tensor;
    /// let x: Tensor<Rank1<3>> = [-1.0, 0.5, 2.0].into();
    /// let relu = Tensor::where_(&x.gt(0.0), &x, 0.0);
    /// assert_eq!(relu.to_vec().unwrap(), vec![0.0, 0.5, 2.0]);
    /// let safe_ln = Tensor::where_(&x.gt(0.0), x.ln(), -1.0); // no NaN from ln(-1)
    /// assert_eq!(safe_ln.to_vec().unwrap()[0], -1.0);
    /// ```
    pub fn where_<A, B>(mask: &Self, a: A, b: B) -> Tensor<B::Output, D>
    where
        A: Operand<S, D>,
        B: Operand<A::Output, D>,
    {
        let (a, b) = (a.to_operand(), b.to_operand());
        mask.map_to(move |m| where_dyn(m, &a?, &b?))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use dfdx::shapes::{Axes2, Axis, Rank1, Rank2, Rank3};

    use super::*;
    use crate::tensor::grad_tests::check_grad;

    type Cpu = dfdx::prelude::Cpu;
    type T<S> = Tensor<S, Cpu>;

    /// An array of a fixture case: dims and row-major values.
    type Array = (Vec<usize>, Vec<f64>);

    /// The cases of `fixtures/typed_ops.txt` (written by `scripts/fixtures/typed_ops.py`).
    fn fixture() -> HashMap<String, HashMap<String, Array>> {
        let path = format!("{}/fixtures/typed_ops.txt", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap();
        let mut cases: HashMap<String, HashMap<String, Array>> = HashMap::new();
        let mut current = String::new();
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            if let Some(name) = line.strip_prefix("case ") {
                current = name.to_string();
                cases.insert(current.clone(), HashMap::new());
                continue;
            }
            let (head, vals) = line
                .split_once(" : ")
                .unwrap_or((line.trim_end_matches(" :"), ""));
            let mut head = head.split_whitespace();
            let label = head.next().unwrap().to_string();
            let dims = head.map(|d| d.parse().unwrap()).collect();
            let vals = vals
                .split_whitespace()
                .map(|v| v.parse().unwrap())
                .collect();
            cases.get_mut(&current).unwrap().insert(label, (dims, vals));
        }
        assert_eq!(cases.len(), 24, "{path}");
        cases
    }

    /// The typed tensor of a fixture array.
    fn input<S: Shape>(case: &HashMap<String, Array>, name: &str) -> T<S> {
        let (dims, vals) = &case[name];
        let d = DynTensor::from_vec(vals.iter().map(|&v| v as f32).collect(), dims).unwrap();
        T::from_dyn(d).unwrap()
    }

    /// Checks `got` against the case's `out` (dims and values, to f32 precision).
    fn check_out<S: Shape>(name: &str, case: &HashMap<String, Array>, got: &T<S>) {
        let (dims, want) = &case["out"];
        assert_eq!(got.dims().unwrap(), &dims[..], "{name}: dims");
        T::<S>::from_dyn(got.as_dyn().unwrap().clone()).unwrap(); // the run-time dims fit the shape type
        let got = got.to_vec().unwrap();
        assert_eq!(got.len(), want.len(), "{name}");
        for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
            assert!(
                (g as f64 - w).abs() <= 2e-6 * w.abs().max(1.0),
                "{name}[{i}]: {g} vs numpy {w}"
            );
        }
    }

    fn t<S: Shape>(values: Vec<f32>, shape: S) -> T<S> {
        Tensor::from_vec(values, shape).unwrap()
    }

    /// The typed view of a gradient-check input.
    fn view<S: Shape>(x: &DynTensor<Cpu>) -> T<S> {
        T::from_dyn(x.clone()).unwrap()
    }

    /// `Σ w_i y_i` with fixed weights of both signs, so that every element of `y` has its own
    /// weight in the gradient.
    fn weighted<S: Shape>(y: &T<S>) -> DynTensor<Cpu> {
        let y = y.as_dyn().unwrap();
        let w: Vec<f32> = (0..y.numel())
            .map(|i| ((i * 7 % 11) as f32 - 4.5) / 3.0)
            .collect();
        let w = DynTensor::from_vec(w, y.shape()).unwrap();
        y.mul(&w).unwrap().sum()
    }

    /// Distinct values (no ties) for gradient checks, of `n` elements.
    fn spread(n: usize, seed: usize) -> Vec<f32> {
        (0..n)
            .map(|i| ((i * 37 + seed * 11) % 97) as f32 / 24.0 - 2.0)
            .collect()
    }

    // ----- reductions -------------------------------------------------------------------

    #[test]
    fn reductions_over_axes_match_numpy() {
        let f = fixture();
        let x = |c: &str| input::<(usize, Const<3>, Const<4>)>(&f[c], "x");
        let s0: T<(Const<3>, Const<4>)> = x("sum_axis0").sum_axis::<Axis<0>>();
        check_out("sum_axis0", &f["sum_axis0"], &s0);
        let s1: T<(usize, Const<4>)> = x("sum_axis1").sum_axis::<Axis<1>>();
        check_out("sum_axis1", &f["sum_axis1"], &s1);
        let s2: T<(usize, Const<3>)> = x("sum_axis2").sum_axis::<Axis<2>>();
        check_out("sum_axis2", &f["sum_axis2"], &s2);
        let s02: T<(Const<3>,)> = x("sum_axes02").sum_axis::<Axes2<0, 2>>();
        check_out("sum_axes02", &f["sum_axes02"], &s02);
        let m1: T<(usize, Const<4>)> = x("mean_axis1").mean_axis::<Axis<1>>();
        check_out("mean_axis1", &f["mean_axis1"], &m1);
        check_out(
            "max_axis0",
            &f["max_axis0"],
            &x("max_axis0").max_axis::<Axis<0>>(),
        );
        check_out(
            "max_axis2",
            &f["max_axis2"],
            &x("max_axis2").max_axis::<Axis<2>>(),
        );
        check_out("max_axis2", &f["max_axis2"], &x("max_axis2").max_last());
        let l1 = x("logsumexp_axis1").logsumexp_axis::<Axis<1>>();
        check_out("logsumexp_axis1", &f["logsumexp_axis1"], &l1);
        let l2 = x("logsumexp_axis2").logsumexp_axis::<Axis<2>>();
        check_out("logsumexp_axis2", &f["logsumexp_axis2"], &l2);
        check_out(
            "logsumexp_axis2",
            &f["logsumexp_axis2"],
            &x("logsumexp_axis2").logsumexp_last(),
        );
        let l01: T<(Const<4>,)> = x("logsumexp_axes01").logsumexp_axis::<Axes2<0, 1>>();
        check_out("logsumexp_axes01", &f["logsumexp_axes01"], &l01);
    }

    #[test]
    fn reductions_handle_ties_infinities_nan_and_empty_axes() {
        // max: the first maximum; NaN wins.
        let x: T<Rank2<2, 3>> = [[1.0, f32::NAN, 3.0], [2.0, 2.0, -1.0]].into();
        let m = x.max_axis::<Axis<1>>().to_vec().unwrap();
        assert!(m[0].is_nan() && m[1] == 2.0, "{m:?}");
        // logsumexp: all -inf gives -inf, +inf gives +inf, no NaN from the shift.
        let ninf = f32::NEG_INFINITY;
        let y: T<Rank2<3, 2>> = [[ninf, ninf], [f32::INFINITY, 0.0], [ninf, 0.0]].into();
        assert_eq!(
            y.logsumexp_axis::<Axis<1>>().to_vec().unwrap(),
            vec![ninf, f32::INFINITY, 0.0]
        );
        // Empty axes: sums are 0, means NaN, logsumexp -inf, max an error.
        let e: T<(usize, Const<2>)> = t(vec![], (0, Const));
        assert_eq!(e.sum_axis::<Axis<0>>().to_vec().unwrap(), vec![0.0, 0.0]);
        assert!(e
            .mean_axis::<Axis<0>>()
            .to_vec()
            .unwrap()
            .iter()
            .all(|v| v.is_nan()));
        assert_eq!(
            e.logsumexp_axis::<Axis<0>>().to_vec().unwrap(),
            vec![ninf, ninf]
        );
        let err = e.max_axis::<Axis<0>>().to_vec().unwrap_err();
        assert!(matches!(err, TensorError::Invalid(_)), "{err}");
        assert_eq!(e.sum_axis::<Axis<1>>().dims().unwrap(), &[0]);
        // Rank 0: the last axis of a scalar is the scalar itself.
        let s: T<Rank0> = Tensor::scalar(2.5);
        assert_eq!(s.logsumexp_last().item().unwrap(), 2.5);
        assert_eq!(s.max_last().item().unwrap(), 2.5);
        assert_eq!(s.softmax().item().unwrap(), 1.0);
        assert_eq!(s.log_softmax().item().unwrap(), 0.0);
    }

    #[test]
    fn reductions_gradients_match_finite_differences() {
        let x = || vec![(spread(24, 1), vec![2, 3, 4])];
        type S3 = (usize, Const<3>, Const<4>);
        check_grad(&|x| weighted(&view::<S3>(&x[0]).sum_axis::<Axis<1>>()), x());
        check_grad(
            &|x| weighted(&view::<S3>(&x[0]).sum_axis::<Axes2<0, 2>>()),
            x(),
        );
        check_grad(
            &|x| weighted(&view::<S3>(&x[0]).mean_axis::<Axis<2>>()),
            x(),
        );
        check_grad(&|x| weighted(&view::<S3>(&x[0]).max_axis::<Axis<0>>()), x());
        check_grad(&|x| weighted(&view::<S3>(&x[0]).max_axis::<Axis<2>>()), x());
        check_grad(
            &|x| weighted(&view::<S3>(&x[0]).logsumexp_axis::<Axis<1>>()),
            x(),
        );
        check_grad(
            &|x| weighted(&view::<S3>(&x[0]).logsumexp_axis::<Axes2<0, 1>>()),
            x(),
        );
        check_grad(&|x| weighted(&view::<S3>(&x[0]).max_last()), x());
        check_grad(&|x| weighted(&view::<S3>(&x[0]).logsumexp_last()), x());
    }

    #[test]
    fn max_sends_its_gradient_to_the_first_maximum_only() {
        let w = DynTensor::<Cpu>::from_vec(vec![3.0, 1.0, 3.0, 2.0], &[2, 2]).unwrap();
        let scope = crate::tensor::GradScope::<Cpu>::open();
        let m = view::<Rank2<2, 2>>(&w).max_axis::<Axis<0>>().sum();
        let loss = m.into_dyn().unwrap().to_scalar_tensor().unwrap();
        let g = scope
            .backward_any(loss, |g| g.try_alloc_for(w.flat()))
            .unwrap();
        assert_eq!(g.get(w.flat()).as_vec(), vec![1.0, 0.0, 0.0, 1.0]);
    }

    // ----- softmax ----------------------------------------------------------------------

    #[test]
    fn softmax_and_log_softmax_match_numpy_including_extreme_logits() {
        let f = fixture();
        let x: T<(usize, Const<3>, Const<4>)> = input(&f["softmax"], "x");
        check_out("softmax", &f["softmax"], &x.softmax());
        let x: T<(usize, Const<3>, Const<4>)> = input(&f["log_softmax"], "x");
        check_out("log_softmax", &f["log_softmax"], &x.log_softmax());
        let x: T<(usize, usize)> = input(&f["softmax_extreme"], "x");
        check_out("softmax_extreme", &f["softmax_extreme"], &x.softmax());
        let x: T<(usize, usize)> = input(&f["log_softmax_extreme"], "x");
        check_out(
            "log_softmax_extreme",
            &f["log_softmax_extreme"],
            &x.log_softmax(),
        );
        // Rows sum to one.
        let p = x.softmax().sum_axis::<Axis<1>>().to_vec().unwrap();
        assert!(p.iter().all(|s| (s - 1.0).abs() < 1e-6), "{p:?}");
    }

    #[test]
    fn softmax_gradients_match_finite_differences() {
        let x = || vec![(spread(12, 2), vec![3, 4])];
        check_grad(
            &|x| weighted(&view::<(usize, Const<4>)>(&x[0]).softmax()),
            x(),
        );
        check_grad(
            &|x| weighted(&view::<(usize, Const<4>)>(&x[0]).log_softmax()),
            x(),
        );
        check_grad(
            &|x| weighted(&view::<(usize,)>(&x[0].reshape(&[12]).unwrap()).softmax()),
            x(),
        );
    }

    // ----- matmul -----------------------------------------------------------------------

    #[test]
    fn matmul_of_every_rank_pair_matches_numpy() {
        let f = fixture();
        let c = |n: &str| &f[n];
        let dot: T<Rank0> =
            input::<Rank1<4>>(c("dot"), "x").matmul(&input::<(usize,)>(c("dot"), "y"));
        check_out("dot", c("dot"), &dot);
        let vm: T<Rank1<5>> =
            input::<Rank1<4>>(c("vec_mat"), "x").matmul(&input::<Rank2<4, 5>>(c("vec_mat"), "y"));
        check_out("vec_mat", c("vec_mat"), &vm);
        let mv: T<(usize,)> = input::<(usize, usize)>(c("mat_vec"), "x")
            .matmul(&input::<Rank1<4>>(c("mat_vec"), "y"));
        check_out("mat_vec", c("mat_vec"), &mv);
        let mm: T<(usize, Const<5>)> = input::<(usize, Const<4>)>(c("mat_mat"), "x")
            .matmul(&input::<(usize, Const<5>)>(c("mat_mat"), "y"));
        check_out("mat_mat", c("mat_mat"), &mm);
        let bm: T<(usize, Const<3>, Const<5>)> =
            input::<(usize, Const<3>, Const<4>)>(c("batch_mat"), "x")
                .matmul(&input::<Rank2<4, 5>>(c("batch_mat"), "y"));
        check_out("batch_mat", c("batch_mat"), &bm);
        let bv: T<(usize, Const<3>)> = input::<(usize, Const<3>, Const<4>)>(c("batch_vec"), "x")
            .matmul(&input::<Rank1<4>>(c("batch_vec"), "y"));
        check_out("batch_vec", c("batch_vec"), &bv);
        // A usize batch against a Const one: the result takes the Const.
        let bb: T<(Const<2>, Const<3>, Const<5>)> =
            input::<(usize, Const<3>, Const<4>)>(c("batch_batch"), "x").matmul(&input::<
                Rank3<2, 4, 5>,
            >(
                c("batch_batch"),
                "y",
            ));
        check_out("batch_batch", c("batch_batch"), &bb);
    }

    #[test]
    fn matmul_gradients_match_finite_differences() {
        let ab = |a: Vec<usize>, b: Vec<usize>| {
            vec![(spread(numel(&a), 3), a), (spread(numel(&b), 4), b)]
        };
        check_grad(
            &|x| weighted(&view::<(usize,)>(&x[0]).matmul(&view::<(usize,)>(&x[1]))),
            ab(vec![3], vec![3]),
        );
        check_grad(
            &|x| weighted(&view::<(usize,)>(&x[0]).matmul(&view::<(usize, usize)>(&x[1]))),
            ab(vec![3], vec![3, 2]),
        );
        check_grad(
            &|x| weighted(&view::<(usize, usize)>(&x[0]).matmul(&view::<(usize,)>(&x[1]))),
            ab(vec![2, 3], vec![3]),
        );
        check_grad(
            &|x| weighted(&view::<(usize, usize)>(&x[0]).matmul(&view::<(usize, usize)>(&x[1]))),
            ab(vec![2, 3], vec![3, 4]),
        );
        check_grad(
            &|x| weighted(&view::<(usize, usize, usize)>(&x[0]).matmul(&view::<(usize,)>(&x[1]))),
            ab(vec![2, 2, 3], vec![3]),
        );
        check_grad(
            &|x| {
                weighted(
                    &view::<(usize, usize, usize)>(&x[0]).matmul(&view::<(usize, usize)>(&x[1])),
                )
            },
            ab(vec![2, 2, 3], vec![3, 2]),
        );
        check_grad(
            &|x| {
                let a = view::<(usize, usize, usize)>(&x[0]);
                weighted(&a.matmul(&view::<(usize, usize, usize)>(&x[1])))
            },
            ab(vec![2, 2, 3], vec![2, 3, 2]),
        );
    }

    #[test]
    fn matmul_of_a_tensor_by_itself_differentiates_both_sides() {
        // d/dA sum(w ∘ (A A)) and d/dB of a batch times itself: the same node on both sides.
        check_grad(
            &|x| {
                let a = view::<(usize, usize)>(&x[0]);
                weighted(&a.matmul(&a))
            },
            vec![(spread(9, 5), vec![3, 3])],
        );
        check_grad(
            &|x| {
                let b = view::<(usize, usize, usize)>(&x[0]);
                weighted(&b.matmul(&b))
            },
            vec![(spread(8, 6), vec![2, 2, 2])],
        );
        check_grad(
            &|x| {
                let v = view::<(usize,)>(&x[0]);
                weighted(&v.matmul(&v))
            },
            vec![(spread(3, 7), vec![3])],
        );
    }

    #[test]
    fn matmul_run_time_mismatches_are_typed_errors_in_the_result() {
        let a: T<(usize, usize)> = t(vec![0.0; 6], (2, 3));
        let b: T<(usize, usize)> = t(vec![0.0; 8], (4, 2));
        let e = a.matmul(&b).exp().to_vec().unwrap_err();
        assert!(
            matches!(&e, TensorError::Shape { expected, found, .. } if expected == &[3] && found == &[4]),
            "{e}"
        );
        assert!(e.to_string().contains("inner dims disagree"), "{e}");
        let x: T<(usize, usize, usize)> = t(vec![0.0; 12], (2, 2, 3));
        let y: T<(usize, usize, usize)> = t(vec![0.0; 18], (3, 3, 2));
        let e = x.matmul(&y).to_vec().unwrap_err();
        assert!(e.to_string().contains("batch dims disagree"), "{e}");
        // Empty dims give zeros of the right shape.
        let z: T<(usize, usize)> = t(vec![], (2, 0));
        let w: T<(usize, usize)> = t(vec![], (0, 3));
        assert_eq!(z.matmul(&w).to_vec().unwrap(), vec![0.0; 6]);
    }

    // ----- indexing ---------------------------------------------------------------------

    fn indices(case: &HashMap<String, Array>) -> Vec<usize> {
        case["idx"].1.iter().map(|&v| v as usize).collect()
    }

    #[test]
    fn at_select_and_narrow_take_rows_of_the_first_axis() {
        let w: T<Rank3<3, 2, 2>> = t((0..12).map(|i| i as f32).collect(), Default::default());
        let r: T<Rank2<2, 2>> = w.at::<2>();
        assert_eq!(r.to_vec().unwrap(), vec![8.0, 9.0, 10.0, 11.0]);
        assert_eq!(w.at::<0>().at::<1>().to_vec().unwrap(), vec![2.0, 3.0]);
        let x: T<(usize, Const<2>)> = t(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], (3, Const));
        let row: T<Rank1<2>> = x.select(1);
        assert_eq!(row.to_vec().unwrap(), vec![3.0, 4.0]);
        let e = x.select(3).to_vec().unwrap_err();
        assert!(matches!(e, TensorError::Invalid(_)), "{e}");
        let n: T<(usize, Const<2>)> = x.narrow(1, 2);
        assert_eq!(n.to_vec().unwrap(), vec![3.0, 4.0, 5.0, 6.0]);
        assert_eq!(x.narrow(3, 0).dims().unwrap(), &[0, 2]);
        assert!(matches!(
            x.narrow(2, 2).to_vec(),
            Err(TensorError::Invalid(_))
        ));
        assert!(x.narrow(usize::MAX, 2).to_vec().is_err());
        let v: T<Rank1<3>> = [7.0, 8.0, 9.0].into();
        let s: T<Rank0> = v.at::<1>();
        assert_eq!(s.item().unwrap(), 8.0);
    }

    #[test]
    fn index_select_and_gather_match_numpy() {
        let f = fixture();
        let c = &f["index_select_axis1"];
        let x: T<(usize, Const<3>, Const<4>)> = input(c, "x");
        let s: T<(usize, usize, Const<4>)> = x.index_select::<Axis<1>>(&indices(c));
        check_out("index_select_axis1", c, &s);
        let c = &f["gather_axis1"];
        let g: T<(usize, usize, Const<4>)> = x.gather::<Axis<1>>(&indices(c));
        check_out("gather_axis1", c, &g);
        let c = &f["gather_axis2"];
        let g: T<(usize, Const<3>, usize)> = x.gather::<Axis<2>>(&indices(c));
        check_out("gather_axis2", c, &g);
    }

    #[test]
    fn index_select_and_gather_errors_are_carried() {
        let x: T<Rank2<2, 3>> = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]].into();
        let e = x.gather::<Axis<1>>(&[0, 1, 2]).to_vec().unwrap_err();
        assert!(matches!(e, TensorError::Shape { .. }), "{e}");
        let e = x.gather::<Axis<1>>(&[0, 3]).to_vec().unwrap_err();
        assert!(matches!(e, TensorError::Invalid(_)), "{e}");
        let e = x.index_select::<Axis<0>>(&[2]).to_vec().unwrap_err();
        assert!(matches!(e, TensorError::Invalid(_)), "{e}");
        // An empty index gives an empty axis.
        assert_eq!(x.gather::<Axis<0>>(&[]).dims().unwrap(), &[0, 3]);
        assert_eq!(x.index_select::<Axis<1>>(&[]).dims().unwrap(), &[2, 0]);
    }

    #[test]
    fn indexing_gradients_match_finite_differences() {
        let x = || vec![(spread(12, 8), vec![3, 4])];
        type S2 = (usize, Const<4>);
        check_grad(&|x| weighted(&view::<Rank2<3, 4>>(&x[0]).at::<1>()), x());
        check_grad(&|x| weighted(&view::<S2>(&x[0]).select(2)), x());
        check_grad(&|x| weighted(&view::<S2>(&x[0]).narrow(1, 2)), x());
        check_grad(
            &|x| weighted(&view::<S2>(&x[0]).index_select::<Axis<0>>(&[2, 0, 2])),
            x(),
        );
        check_grad(
            &|x| weighted(&view::<S2>(&x[0]).index_select::<Axis<1>>(&[3, 3, 1])),
            x(),
        );
        check_grad(
            &|x| weighted(&view::<S2>(&x[0]).gather::<Axis<1>>(&[0, 3, 3, 1, 2, 2])),
            x(),
        );
        check_grad(
            &|x| weighted(&view::<S2>(&x[0]).gather::<Axis<0>>(&[2, 0, 1, 2, 2, 2, 0, 0])),
            x(),
        );
    }

    // ----- joining and reshaping --------------------------------------------------------

    #[test]
    fn concat_and_stack_join_along_the_first_axis() {
        let a: T<(usize, Const<2>)> = t(vec![1.0, 2.0], (1, Const));
        let b: T<(usize, Const<2>)> = t(vec![3.0, 4.0, 5.0, 6.0], (2, Const));
        let c: T<(usize, Const<2>)> = Tensor::concat(&[a.clone(), b.clone(), a.clone()]);
        assert_eq!(
            c.to_vec().unwrap(),
            vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 1.0, 2.0]
        );
        assert_eq!(c.shape(), (4, Const));
        // Static parts concatenate to a usize first dim.
        let p: T<Rank2<1, 2>> = [[7.0, 8.0]].into();
        let q: T<(usize, Const<2>)> = Tensor::concat(vec![p.clone(), p]);
        assert_eq!(q.to_vec().unwrap(), vec![7.0, 8.0, 7.0, 8.0]);
        // Stack: Const<K> for arrays, usize for slices and Vecs.
        let u: T<Rank1<2>> = [1.0, 2.0].into();
        let v: T<Rank1<2>> = [3.0, 4.0].into();
        let s: T<Rank2<3, 2>> = Tensor::stack([u.clone(), v.clone(), u.clone()]);
        assert_eq!(s.to_vec().unwrap(), vec![1.0, 2.0, 3.0, 4.0, 1.0, 2.0]);
        let parts = [u.clone(), v];
        let s2: T<(usize, Const<2>)> = Tensor::stack(&parts[..]);
        assert_eq!(s2.shape(), (2, Const));
        let s3: T<(Const<2>, Const<2>)> = Tensor::stack(&[u.clone(), u]);
        assert_eq!(s3.to_vec().unwrap(), vec![1.0, 2.0, 1.0, 2.0]);
        let scalars: T<(usize,)> = Tensor::stack(vec![Tensor::scalar(1.0), Tensor::scalar(2.0)]);
        assert_eq!(scalars.to_vec().unwrap(), vec![1.0, 2.0]);
        // A single part and empty parts.
        let one: T<(usize, Const<2>)> = Tensor::concat([b.clone()]);
        assert_eq!(one.to_vec().unwrap(), b.to_vec().unwrap());
        let empty: T<(usize, Const<2>)> = t(vec![], (0, Const));
        let with_empty = Tensor::concat([empty.clone(), b.clone(), empty]);
        assert_eq!(with_empty.to_vec().unwrap(), b.to_vec().unwrap());
    }

    #[test]
    fn concat_and_stack_errors_are_carried() {
        let a: T<(usize, usize)> = t(vec![0.0; 2], (1, 2));
        let b: T<(usize, usize)> = t(vec![0.0; 3], (1, 3));
        let e = Tensor::concat([a.clone(), b.clone()]).to_vec().unwrap_err();
        assert!(
            matches!(&e, TensorError::Shape { expected, found, .. } if expected == &[2] && found == &[3]),
            "{e}"
        );
        let e = Tensor::stack([a.clone(), b]).to_vec().unwrap_err();
        assert!(matches!(e, TensorError::Shape { .. }), "{e}");
        let none: Vec<T<(usize, usize)>> = vec![];
        assert!(matches!(
            Tensor::concat(&none).to_vec(),
            Err(TensorError::Invalid(_))
        ));
        assert!(matches!(
            Tensor::stack(&none).to_vec(),
            Err(TensorError::Invalid(_))
        ));
        // An error already in a part is the result's.
        let bad = a.matmul(&a);
        let e = Tensor::concat([a, bad]).to_vec().unwrap_err();
        assert!(e.to_string().contains("inner dims disagree"), "{e}");
    }

    #[test]
    fn joining_gradients_match_finite_differences_with_repeated_parts() {
        let x = || vec![(spread(4, 9), vec![2, 2]), (spread(6, 10), vec![3, 2])];
        type S2 = (usize, Const<2>);
        // `a` appears several times, first twice in a row: each copy's gradient reaches it.
        check_grad(
            &|x| {
                let (a, b) = (view::<S2>(&x[0]), view::<S2>(&x[1]));
                weighted(&Tensor::concat([a.clone(), a.clone(), b, a]))
            },
            x(),
        );
        check_grad(
            &|x| {
                let a = view::<Rank2<2, 2>>(&x[0]);
                weighted(&Tensor::stack([a.clone(), a]))
            },
            x(),
        );
        check_grad(
            &|x| {
                let (a, b) = (view::<S2>(&x[0]), view::<S2>(&x[1]).narrow(0, 2));
                weighted(&Tensor::stack([a.clone(), b.exp(), a]))
            },
            x(),
        );
        // Joined values used again next to their parts.
        check_grad(
            &|x| {
                let a = view::<S2>(&x[0]);
                let c = Tensor::concat([a.clone()]);
                weighted(&(&c * &a))
            },
            x(),
        );
    }

    #[test]
    fn reshape_keeps_values_and_checks_the_size() {
        let x: T<Rank2<2, 3>> = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]].into();
        let y: T<(Const<3>, usize)> = x.reshape((Const, 2));
        assert_eq!(y.shape(), (Const, 2));
        assert_eq!(y.to_vec().unwrap(), x.to_vec().unwrap());
        let z: T<Rank1<6>> = x.reshape(Default::default());
        assert_eq!(z.to_vec().unwrap(), vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let e = x.reshape((5,)).to_vec().unwrap_err();
        assert!(
            matches!(&e, TensorError::Shape { expected, found, .. } if expected == &[5] && found == &[2, 3]),
            "{e}"
        );
        check_grad(
            &|x| {
                let a = view::<(usize, usize)>(&x[0]);
                let r: T<(usize,)> = a.reshape((6,));
                weighted(&(&r * &a.reshape((6,)).exp()))
            },
            vec![(spread(6, 11), vec![2, 3])],
        );
    }

    // ----- comparisons and where_ -------------------------------------------------------

    #[test]
    fn comparisons_give_masks_with_broadcasting() {
        let x: T<Rank2<2, 3>> = [[1.0, 2.0, 3.0], [3.0, 2.0, f32::NAN]].into();
        assert_eq!(
            x.gt(2.0).to_vec().unwrap(),
            vec![0.0, 0.0, 1.0, 1.0, 0.0, 0.0]
        );
        assert_eq!(
            x.ge(2.0).to_vec().unwrap(),
            vec![0.0, 1.0, 1.0, 1.0, 1.0, 0.0]
        );
        assert_eq!(
            x.lt(2.0).to_vec().unwrap(),
            vec![1.0, 0.0, 0.0, 0.0, 0.0, 0.0]
        );
        assert_eq!(
            x.le(2.0).to_vec().unwrap(),
            vec![1.0, 1.0, 0.0, 0.0, 1.0, 0.0]
        );
        assert_eq!(
            x.eq(2.0).to_vec().unwrap(),
            vec![0.0, 1.0, 0.0, 0.0, 1.0, 0.0]
        );
        let y: T<Rank2<2, 3>> = [[0.0, 2.0, 5.0], [1.0, 1.0, 1.0]].into();
        let m: T<Rank2<2, 3>> = x.gt(&y);
        assert_eq!(m.to_vec().unwrap(), vec![1.0, 0.0, 0.0, 1.0, 1.0, 0.0]);
        let s: T<Rank0> = Tensor::scalar(2.0);
        assert_eq!(
            x.eq(s.clone()).to_vec().unwrap(),
            x.eq(2.0).to_vec().unwrap()
        );
        let r: T<Rank2<2, 3>> = s.lt(&x); // a scalar on the left broadcasts too
        assert_eq!(r.to_vec().unwrap(), vec![0.0, 0.0, 1.0, 1.0, 0.0, 0.0]);
        // A usize mismatch is an error in the result.
        let a: T<(usize,)> = t(vec![1.0, 2.0], (2,));
        let b: T<(usize,)> = t(vec![1.0, 2.0, 3.0], (3,));
        assert!(matches!(
            a.gt(&b).to_vec(),
            Err(TensorError::Broadcast { op: "gt", .. })
        ));
    }

    #[test]
    fn comparisons_have_no_gradient() {
        let w = DynTensor::<Cpu>::from_vec(vec![0.5, -1.0], &[2]).unwrap();
        let scope = crate::tensor::GradScope::<Cpu>::open();
        let x = view::<(usize,)>(&w);
        let loss = (&x.gt(0.0) * &x).sum() + x.le(&x).sum();
        let loss = loss.into_dyn().unwrap().to_scalar_tensor().unwrap();
        let g = scope
            .backward_any(loss, |g| g.try_alloc_for(w.flat()))
            .unwrap();
        // d/dx Σ [x > 0] x = [x > 0]: the mask is a constant.
        assert_eq!(g.get(w.flat()).as_vec(), vec![1.0, 0.0]);
    }

    #[test]
    fn where_selects_values_and_sends_gradients_to_the_chosen_branch() {
        let x: T<Rank1<4>> = [-2.0, -0.5, 0.5, 2.0].into();
        let y: T<Rank1<4>> = [10.0, 20.0, 30.0, 40.0].into();
        let r = Tensor::where_(&x.gt(0.0), &x, &y);
        assert_eq!(r.to_vec().unwrap(), vec![10.0, 20.0, 0.5, 2.0]);
        // Run-time broadcasting of usize dims (as elementwise arithmetic does): a [2, 1]
        // mask and branch against a [1, 3] branch.
        let m: T<(usize, usize)> = t(vec![1.0, 0.0], (2, 1));
        let b: T<(usize, usize)> = t(vec![-1.0, -2.0], (2, 1));
        let v: T<(usize, usize)> = t(vec![1.0, 2.0, 3.0], (1, 3));
        let w = Tensor::where_(&m, &b, &v);
        assert_eq!(w.dims().unwrap(), &[2, 3]);
        assert_eq!(w.to_vec().unwrap(), vec![-1.0, -1.0, -1.0, 1.0, 2.0, 3.0]);
        let c: T<Rank1<4>> = Tensor::where_(&x.lt(0.0), 0.0, 1.0);
        assert_eq!(c.to_vec().unwrap(), vec![0.0, 0.0, 1.0, 1.0]);
        // The branch not taken may be NaN or infinite: nothing of it shows.
        let safe = Tensor::where_(&x.gt(0.0), x.ln(), f32::NEG_INFINITY);
        assert_eq!(safe.to_vec().unwrap()[..2], [f32::NEG_INFINITY; 2]);
        // A usize mismatch is an error in the result.
        let a: T<(usize,)> = t(vec![1.0, 2.0], (2,));
        let z: T<(usize,)> = t(vec![1.0, 2.0, 3.0], (3,));
        assert!(matches!(
            Tensor::where_(&a, &a, &z).to_vec(),
            Err(TensorError::Broadcast { op: "where_", .. })
        ));
        // Gradients: to the chosen branch only, none from the NaN of ln(x < 0).
        check_grad(
            &|x| {
                let (a, b) = (view::<(usize,)>(&x[0]), view::<(usize,)>(&x[1]));
                let m = a.gt(&b);
                weighted(&Tensor::where_(&m, a.ln(), &(&b * &b)))
            },
            vec![
                (vec![0.5, -1.0, 2.0, -0.3], vec![4]),
                (vec![0.1, 0.7, 1.5, 0.2], vec![4]),
            ],
        );
        // The same tensor on both sides.
        check_grad(
            &|x| {
                let a = view::<(usize,)>(&x[0]);
                weighted(&Tensor::where_(&a.gt(0.0), &a, &a))
            },
            vec![(vec![0.5, -1.0, 2.0], vec![3])],
        );
    }

    #[test]
    fn errors_in_inputs_carry_through_every_operation() {
        let a: T<(usize, usize)> = t(vec![0.0; 6], (2, 3));
        let bad: T<(usize, usize)> = a.matmul(&a); // inner dims 3 vs 2
        let is_it = |e: TensorError| e.to_string().contains("inner dims disagree");
        assert!(is_it(bad.sum_axis::<Axis<0>>().to_vec().unwrap_err()));
        assert!(is_it(bad.mean_axis::<Axis<1>>().to_vec().unwrap_err()));
        assert!(is_it(bad.max_axis::<Axis<1>>().to_vec().unwrap_err()));
        assert!(is_it(bad.logsumexp_last().to_vec().unwrap_err()));
        assert!(is_it(bad.softmax().to_vec().unwrap_err()));
        assert!(is_it(bad.log_softmax().to_vec().unwrap_err()));
        assert!(is_it(a.matmul(&bad).to_vec().unwrap_err()));
        assert!(is_it(bad.select(0).to_vec().unwrap_err()));
        assert!(is_it(bad.narrow(0, 1).to_vec().unwrap_err()));
        assert!(is_it(bad.reshape((6,)).to_vec().unwrap_err()));
        assert!(is_it(
            bad.index_select::<Axis<0>>(&[0]).to_vec().unwrap_err()
        ));
        assert!(is_it(bad.gather::<Axis<0>>(&[0]).to_vec().unwrap_err()));
        assert!(is_it(
            Tensor::stack([a.clone(), bad.clone()])
                .to_vec()
                .unwrap_err()
        ));
        assert!(is_it(a.gt(&bad).to_vec().unwrap_err()));
        assert!(is_it(bad.gt(0.0).to_vec().unwrap_err()));
        assert!(is_it(Tensor::where_(&a, &bad, 0.0).to_vec().unwrap_err()));
        assert!(is_it(Tensor::where_(&bad, &a, 0.0).to_vec().unwrap_err()));
        assert!(is_it(Tensor::where_(&a, 0.0, &bad).to_vec().unwrap_err()));
    }
}
