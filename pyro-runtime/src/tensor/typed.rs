//! [`Tensor`]: the typed tensor users write models with — a view over the runtime's erased
//! [`DynTensor`] with the shape as a type parameter (dfdx's shape types: `Rank0`, `Rank1<N>`,
//! `(usize,)`, `(usize, Const<N>)`, ...).
//!
//! Arithmetic reads like Pyro: operators take values and references, a `Rank0` tensor (or an
//! `f32`) broadcasts against any shape, a shape against its trailing dims (a `Rank1<3>` bias
//! added to `(usize, Const<3>)` rows, see [`BroadcastShape`]), and a tensor can be reused
//! without `.clone()`:
//!
//! ```
//! use pyro::prelude::*;
//! use pyro::tensor::typed::Tensor;
//! let x: Tensor<(usize,)> = Tensor::from_vec(vec![1.0, 2.0, 3.0], (3,)).unwrap();
//! let a = Tensor::scalar(0.5);
//! let y = &a + &x * &x * 2.0; // 0.5 + 2 x²
//! assert_eq!(y.to_vec().unwrap(), vec![2.5, 8.5, 18.5]);
//! ```
//!
//! Static shapes are checked by the compiler; `usize` dims are checked when the operation
//! runs. A mismatch there does not panic: the result carries the error (as a NaN would carry
//! through arithmetic), and the first fallible use — a site, `to_vec`, `item`, `into_dyn` —
//! returns it.

use std::marker::PhantomData;
use std::ops::{Add, Div, Mul, Neg, Sub};

use dfdx::shapes::{Dim, Rank0, Shape};

use super::backend::{Backend, DefaultDevice};
use super::dyn_tensor::{numel, DynTensor};
use super::host_node::HostNode;
use super::special::Special;
use crate::tensor::{TensorError, TensorResult};

/// A differentiable `f32` tensor of shape type `S` on device `D` (CPU by default).
///
/// Cloning is one reference count; values are recorded on the gradient tape of the open
/// [`GradScope`](super::GradScope), like every [`DynTensor`].
pub struct Tensor<S: Shape, D: Backend = DefaultDevice> {
    value: Result<DynTensor<D>, TensorError>,
    _shape: PhantomData<fn() -> S>,
}

impl<S: Shape, D: Backend> Clone for Tensor<S, D> {
    fn clone(&self) -> Self {
        Tensor {
            value: self.value.clone(),
            _shape: PhantomData,
        }
    }
}

impl<S: Shape, D: Backend> std::fmt::Debug for Tensor<S, D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.value {
            Ok(v) => write!(f, "Tensor<{}>{v:?}", std::any::type_name::<S>()),
            Err(e) => write!(f, "Tensor<{}>(error: {e})", std::any::type_name::<S>()),
        }
    }
}

/// The run-time dims of a shape value.
fn dims_of<S: Shape>(shape: &S) -> Vec<usize> {
    let c = shape.concrete();
    c.as_ref().to_vec()
}

/// The name of a type without the paths of its parts (`(usize, Const<4>)`).
fn short_type_name<T: ?Sized>() -> String {
    fn last(path: &str) -> &str {
        path.rsplit("::").next().unwrap_or(path)
    }
    let full = std::any::type_name::<T>();
    let mut out = String::with_capacity(full.len());
    let mut path = String::new();
    for ch in full.chars() {
        if ch.is_alphanumeric() || ch == '_' || ch == ':' {
            path.push(ch);
        } else {
            out.push_str(last(&path));
            path.clear();
            out.push(ch);
        }
    }
    out.push_str(last(&path));
    out
}

/// The error of a typed view as `S` of a tensor whose dims `found` do not fit it: the
/// type, its rank and the dims.
fn view_error<S: Shape>(found: &[usize]) -> TensorError {
    let (name, rank) = (short_type_name::<S>(), S::NUM_DIMS);
    TensorError::Invalid(if found.len() != rank {
        format!(
            "typed view as `{name}` (rank {rank}): the tensor has dims {found:?} (rank {})",
            found.len()
        )
    } else {
        format!("typed view as `{name}` (rank {rank}): the tensor's dims {found:?} do not fit its static dims")
    })
}

/// The shape value of type `S` with run-time dims `dims`, if they fit its rank and its
/// static dims.
fn shape_from<S: Shape>(dims: &[usize]) -> Option<S> {
    if dims.len() != S::NUM_DIMS {
        return None;
    }
    let mut c = S::Concrete::default();
    for (i, d) in dims.iter().enumerate() {
        c[i] = *d;
    }
    S::from_concrete(&c)
}

/// Row-major values as a runtime constant (no gradient is sent to it, like the constants
/// of [`DynTensor::constant`]): a host node without a gradient identity.
fn constant_from_vec<D: Backend>(values: Vec<f32>, dims: &[usize]) -> TensorResult<DynTensor<D>> {
    if values.len() != numel(dims) {
        return Err(TensorError::Shape {
            what: "Tensor::from_vec".into(),
            expected: dims.to_vec(),
            found: vec![values.len()],
        });
    }
    Ok(DynTensor::from_host(
        HostNode::new(values.into()),
        dims,
        true,
    ))
}

impl<S: Shape, D: Backend> Tensor<S, D> {
    fn wrap(value: TensorResult<DynTensor<D>>) -> Self {
        Tensor {
            value,
            _shape: PhantomData,
        }
    }

    /// A tensor from row-major values; errors if their number does not match `shape`.
    ///
    /// Like `torch.tensor`, data made this way (and by [`full`](Self::full),
    /// [`zeros`](Self::zeros), [`ones`](Self::ones), [`scalar`](Tensor::scalar) and `From`
    /// arrays) is a constant: no gradient is computed for it.
    ///
    /// ```
    /// use pyro::prelude::*;
    /// use pyro::tensor::typed::Tensor;
    /// let x = Tensor::<(usize, Const<2>)>::from_vec(vec![1.0, 2.0, 3.0, 4.0], (2, Const)).unwrap();
    /// assert_eq!(x.shape(), (2, Const));
    /// assert!(Tensor::<(usize,)>::from_vec(vec![1.0], (2,)).is_err());
    /// ```
    pub fn from_vec(values: Vec<f32>, shape: S) -> TensorResult<Self> {
        Ok(Self::wrap(Ok(constant_from_vec(values, &dims_of(&shape))?)))
    }

    /// A tensor filled with `value`.
    pub fn full(shape: S, value: f32) -> Self {
        Self::wrap(Ok(DynTensor::constant(&dims_of(&shape), value)))
    }

    /// A tensor of zeros.
    ///
    /// ```
    /// use pyro::prelude::*;
    /// use pyro::tensor::typed::Tensor;
    /// assert_eq!(Tensor::<Rank1<3>>::zeros(Default::default()).to_vec().unwrap(), vec![0.0; 3]);
    /// ```
    pub fn zeros(shape: S) -> Self {
        Self::full(shape, 0.0)
    }

    /// A tensor of ones.
    pub fn ones(shape: S) -> Self {
        Self::full(shape, 1.0)
    }

    /// The typed view of an erased tensor; errors naming both shapes when its dims do not
    /// fit `S`.
    ///
    /// ```
    /// use pyro::prelude::*;
    /// use pyro::tensor::typed::Tensor;
    /// let d = DynTensor::<Cpu>::zeros(&[2, 3]);
    /// assert!(Tensor::<(usize, Const<3>), Cpu>::from_dyn(d.clone()).is_ok());
    /// assert!(Tensor::<(usize, Const<4>), Cpu>::from_dyn(d).is_err());
    /// ```
    pub fn from_dyn(value: DynTensor<D>) -> TensorResult<Self> {
        if shape_from::<S>(value.shape()).is_none() {
            return Err(view_error::<S>(value.shape()));
        }
        Ok(Self::wrap(Ok(value)))
    }

    /// The shape value, its `usize` dims at their run-time sizes, or the error this tensor
    /// carries from an earlier operation (where [`shape`](Self::shape) reads zeros).
    ///
    /// ```
    /// use pyro::prelude::*;
    /// let x: Tensor<(usize,)> = Tensor::from_vec(vec![1.0, 2.0], (2,)).unwrap();
    /// let y: Tensor<(usize,)> = Tensor::from_vec(vec![1.0; 3], (3,)).unwrap();
    /// assert_eq!(x.try_shape().unwrap(), (2,));
    /// let bad = &x + &y; // 2 and 3 do not broadcast: the result carries the error
    /// assert!(bad.try_shape().is_err());
    /// assert_eq!(bad.shape(), (0,));
    /// ```
    pub fn try_shape(&self) -> TensorResult<S> {
        let v = self.as_dyn()?;
        shape_from::<S>(v.shape()).ok_or_else(|| view_error::<S>(v.shape()))
    }

    /// A typed tensor holding the values of a dfdx tensor (a new leaf, see
    /// [`DynTensor::from_dfdx`]).
    ///
    /// ```
    /// use dfdx::prelude::*;
    /// use pyro::prelude::*;
    /// let w = pyro::tensor::default_device::<Cpu>().tensor([1.0f32, 2.0]);
    /// let x: pyro::tensor::Tensor<Rank1<2>, Cpu> = pyro::tensor::Tensor::from_dfdx(w);
    /// assert_eq!(x.to_vec().unwrap(), [1.0, 2.0]);
    /// ```
    pub fn from_dfdx(t: super::DfdxTensor<S, D>) -> Self {
        Self::wrap(Ok(DynTensor::from_dfdx(t)))
    }

    /// A copy of the values as a dfdx tensor, for dfdx's own operations and modules.
    ///
    /// ```
    /// use dfdx::prelude::AsArray;
    /// use pyro::prelude::*;
    /// let x: Tensor<Rank1<2>> = [1.0, 2.0].into();
    /// assert_eq!(x.to_dfdx().unwrap().array(), [1.0, 2.0]);
    /// ```
    pub fn to_dfdx(&self) -> TensorResult<super::DfdxTensor<S, D>> {
        self.as_dyn()?.to_dfdx()
    }

    /// The erased value (or the error an earlier operation left in this tensor).
    pub fn into_dyn(self) -> TensorResult<DynTensor<D>> {
        self.value
    }

    /// The erased value, borrowed.
    pub fn as_dyn(&self) -> TensorResult<&DynTensor<D>> {
        self.value.as_ref().map_err(Clone::clone)
    }

    /// The run-time dims.
    pub fn dims(&self) -> TensorResult<&[usize]> {
        Ok(self.as_dyn()?.shape())
    }

    /// The values, row-major.
    pub fn to_vec(&self) -> TensorResult<Vec<f32>> {
        Ok(self.as_dyn()?.to_vec())
    }

    /// The same values cut from the graph (no gradient flows back through them).
    pub fn detach(&self) -> Self {
        self.map(|v| Ok(v.detach()))
    }

    /// Applies an erased operation that keeps the shape type.
    pub(crate) fn map(&self, f: impl FnOnce(&DynTensor<D>) -> TensorResult<DynTensor<D>>) -> Self {
        self.map_to(f)
    }

    /// Applies an erased operation whose result has shape type `R`.
    pub(crate) fn map_to<R: Shape>(
        &self,
        f: impl FnOnce(&DynTensor<D>) -> TensorResult<DynTensor<D>>,
    ) -> Tensor<R, D> {
        Tensor::wrap(self.value.as_ref().map_err(Clone::clone).and_then(f))
    }

    /// Combines with another tensor through an erased binary operation.
    pub(crate) fn zip_to<R: Shape, O: Shape>(
        &self,
        rhs: &Tensor<R, D>,
        f: impl FnOnce(&DynTensor<D>, &DynTensor<D>) -> TensorResult<DynTensor<D>>,
    ) -> Tensor<O, D> {
        Tensor::wrap(match (&self.value, &rhs.value) {
            (Ok(a), Ok(b)) => f(a, b),
            (Err(e), _) | (_, Err(e)) => Err(e.clone()),
        })
    }

    /// The sum of every element.
    pub fn sum(&self) -> Tensor<Rank0, D> {
        self.map_to(|v| Ok(v.sum()))
    }

    /// The mean of every element (NaN for an empty tensor, as in PyTorch and
    /// [`mean_axis`](Self::mean_axis)).
    ///
    /// ```
    /// use pyro::prelude::*;
    /// let x: Tensor<(usize,)> = Tensor::from_vec(vec![1.0, 2.0, 6.0], (3,)).unwrap();
    /// assert_eq!(x.mean().item().unwrap(), 3.0);
    /// let empty: Tensor<(usize,)> = Tensor::from_vec(vec![], (0,)).unwrap();
    /// assert!(empty.mean().item().unwrap().is_nan());
    /// ```
    pub fn mean(&self) -> Tensor<Rank0, D> {
        self.map_to(|v| {
            let n = DynTensor::constant(&[], v.numel() as f32);
            v.sum().div(&n) // 0/0 = NaN when empty
        })
    }
}

impl<S: Shape + Default, D: Backend> Tensor<S, D> {
    /// The shape value, its `usize` dims at their run-time sizes (dfdx's `shape()`).
    ///
    /// A tensor that carries an error from an earlier operation has no elements: its `usize`
    /// dims read 0 (and its static dims their sizes), and its first fallible use returns
    /// the error. [`try_shape`](Self::try_shape) returns that error instead of zeros.
    ///
    /// ```
    /// use pyro::prelude::*;
    /// let x = Tensor::<(usize, Const<2>)>::from_vec(vec![1.0; 6], (3, Const)).unwrap();
    /// assert_eq!(x.shape().0, 3);
    /// ```
    pub fn shape(&self) -> S {
        self.value
            .as_ref()
            .ok()
            .and_then(|v| shape_from::<S>(v.shape()))
            .unwrap_or_default()
    }
}

impl<D: Backend> Tensor<Rank0, D> {
    /// A rank-0 tensor.
    pub fn scalar(value: f32) -> Self {
        Self::wrap(Ok(DynTensor::constant(&[], value)))
    }

    /// The single value.
    pub fn item(&self) -> TensorResult<f32> {
        self.as_dyn()?.item()
    }
}

impl<D: Backend> From<f32> for Tensor<Rank0, D> {
    fn from(value: f32) -> Self {
        Tensor::scalar(value)
    }
}

impl<const N: usize, D: Backend> From<[f32; N]> for Tensor<dfdx::shapes::Rank1<N>, D> {
    fn from(values: [f32; N]) -> Self {
        Self::wrap(constant_from_vec(values.to_vec(), &[N]))
    }
}

impl<const M: usize, const N: usize, D: Backend> From<[[f32; N]; M]>
    for Tensor<dfdx::shapes::Rank2<M, N>, D>
{
    fn from(values: [[f32; N]; M]) -> Self {
        Self::wrap(constant_from_vec(
            values.iter().flatten().copied().collect(),
            &[M, N],
        ))
    }
}

// ----- broadcasting -------------------------------------------------------------------------

/// The shape of an elementwise operation between shapes `Self` and `Rhs`: equal shapes, a
/// `Rank0` with any shape, or a shape with one of its suffixes (NumPy's broadcasting of
/// trailing dims: `(usize, Const<3>)` with `Rank1<3>`, a bias add; `(A, B, C)` with `(C,)`
/// or `(B, C)`, ...), in either order, up to rank 5. The shared dims must be the same dim
/// types; their `usize` sizes are checked when the operation runs.
///
/// Other NumPy broadcasts (a size-1 dim repeated, `(usize, Const<1>)` with `(usize,
/// Const<3>)`) go through [`Tensor::broadcast_to`] first.
///
/// ```
/// use pyro::prelude::*;
/// let x = Tensor::<(usize, Const<3>)>::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], (2, Const)).unwrap();
/// let bias: Tensor<Rank1<3>> = [0.5, 0.0, -0.5].into();
/// let y: Tensor<(usize, Const<3>)> = &x + &bias;
/// assert_eq!(y.to_vec().unwrap(), vec![1.5, 2.0, 2.5, 4.5, 5.0, 5.5]);
/// ```
#[diagnostic::on_unimplemented(
    message = "tensors of shapes `{Self}` and `{Rhs}` cannot be combined elementwise",
    label = "shape `{Self}` combined with shape `{Rhs}` here",
    note = "elementwise operations need equal shape types, a `Rank0` tensor (or an `f32`) on one side, or one shape ending in the other (`(usize, Const<3>)` with `Rank1<3>`); otherwise broadcast one operand first with `.broadcast_to(shape)` (size-1 dims repeat), or reshape it"
)]
pub trait BroadcastShape<Rhs: Shape>: Shape {
    /// The result's shape type.
    type Output: Shape;
}

impl<S: Shape> BroadcastShape<S> for S {
    type Output = S;
}

macro_rules! broadcast_rank0 {
    ($($d:ident),+) => {
        impl<$($d: Dim),+> BroadcastShape<($($d,)+)> for Rank0 {
            type Output = ($($d,)+);
        }
        impl<$($d: Dim),+> BroadcastShape<Rank0> for ($($d,)+) {
            type Output = ($($d,)+);
        }
    };
}
broadcast_rank0!(A);
broadcast_rank0!(A, B);
broadcast_rank0!(A, B, C);
broadcast_rank0!(A, B, C, E);
broadcast_rank0!(A, B, C, E, F);

/// A shape `(P.., Q..)` with its suffix `(Q..)`, both orders (the ranks differ, so these
/// never overlap the impl for equal shapes, each other or the `Rank0` ones).
macro_rules! broadcast_suffix {
    ($($p:ident),+ ; $($q:ident),+) => {
        impl<$($p: Dim,)+ $($q: Dim),+> BroadcastShape<($($q,)+)> for ($($p,)+ $($q,)+) {
            type Output = ($($p,)+ $($q,)+);
        }
        impl<$($p: Dim,)+ $($q: Dim),+> BroadcastShape<($($p,)+ $($q,)+)> for ($($q,)+) {
            type Output = ($($p,)+ $($q,)+);
        }
    };
}
broadcast_suffix!(A; B);
broadcast_suffix!(A; B, C);
broadcast_suffix!(A, B; C);
broadcast_suffix!(A; B, C, E);
broadcast_suffix!(A, B; C, E);
broadcast_suffix!(A, B, C; E);
broadcast_suffix!(A; B, C, E, F);
broadcast_suffix!(A, B; C, E, F);
broadcast_suffix!(A, B, C; E, F);
broadcast_suffix!(A, B, C, E; F);

impl<S: Shape, D: Backend> Tensor<S, D> {
    /// The values broadcast to `shape` with NumPy's rules (dims added on the left, size-1
    /// dims repeated), as `torch.broadcast_to`; the gradient sums over the repeats. Shapes
    /// that do not broadcast are an error carried in the result.
    ///
    /// ```
    /// use pyro::prelude::*;
    /// let col = Tensor::<(usize, Const<1>)>::from_vec(vec![1.0, 2.0], (2, Const)).unwrap();
    /// let wide: Tensor<(usize, Const<3>)> = col.broadcast_to((2, Const));
    /// assert_eq!(wide.to_vec().unwrap(), vec![1.0, 1.0, 1.0, 2.0, 2.0, 2.0]);
    /// let x = Tensor::<(usize, Const<3>)>::zeros((2, Const));
    /// assert_eq!((&x + &wide).to_vec().unwrap(), wide.to_vec().unwrap());
    /// assert!(col.broadcast_to((3, Const::<3>)).to_vec().is_err());
    /// ```
    pub fn broadcast_to<R: Shape>(&self, shape: R) -> Tensor<R, D> {
        let dims = dims_of(&shape);
        self.map_to(move |v| v.broadcast_to(&dims))
    }
}

// ----- operators ----------------------------------------------------------------------------

macro_rules! binary_operator {
    ($trait:ident, $method:ident, $op:ident, $scalar:expr, $rscalar:expr) => {
        impl<S, R, D> $trait<&Tensor<R, D>> for &Tensor<S, D>
        where
            S: BroadcastShape<R>,
            R: Shape,
            D: Backend,
        {
            type Output = Tensor<S::Output, D>;
            fn $method(self, rhs: &Tensor<R, D>) -> Self::Output {
                self.zip_to(rhs, |a, b| a.$op(b))
            }
        }
        impl<S, R, D> $trait<Tensor<R, D>> for &Tensor<S, D>
        where
            S: BroadcastShape<R>,
            R: Shape,
            D: Backend,
        {
            type Output = Tensor<S::Output, D>;
            fn $method(self, rhs: Tensor<R, D>) -> Self::Output {
                self.zip_to(&rhs, |a, b| a.$op(b))
            }
        }
        impl<S, R, D> $trait<&Tensor<R, D>> for Tensor<S, D>
        where
            S: BroadcastShape<R>,
            R: Shape,
            D: Backend,
        {
            type Output = Tensor<S::Output, D>;
            fn $method(self, rhs: &Tensor<R, D>) -> Self::Output {
                self.zip_to(rhs, |a, b| a.$op(b))
            }
        }
        impl<S, R, D> $trait<Tensor<R, D>> for Tensor<S, D>
        where
            S: BroadcastShape<R>,
            R: Shape,
            D: Backend,
        {
            type Output = Tensor<S::Output, D>;
            fn $method(self, rhs: Tensor<R, D>) -> Self::Output {
                self.zip_to(&rhs, |a, b| a.$op(b))
            }
        }
        impl<S: Shape, D: Backend> $trait<f32> for &Tensor<S, D> {
            type Output = Tensor<S, D>;
            fn $method(self, rhs: f32) -> Self::Output {
                let f: fn(&DynTensor<D>, f32) -> TensorResult<DynTensor<D>> = $scalar;
                self.map(|a| f(a, rhs))
            }
        }
        impl<S: Shape, D: Backend> $trait<f32> for Tensor<S, D> {
            type Output = Tensor<S, D>;
            fn $method(self, rhs: f32) -> Self::Output {
                (&self).$method(rhs)
            }
        }
        impl<S: Shape, D: Backend> $trait<&Tensor<S, D>> for f32 {
            type Output = Tensor<S, D>;
            fn $method(self, rhs: &Tensor<S, D>) -> Self::Output {
                let f: fn(&DynTensor<D>, f32) -> TensorResult<DynTensor<D>> = $rscalar;
                rhs.map(|b| f(b, self))
            }
        }
        impl<S: Shape, D: Backend> $trait<Tensor<S, D>> for f32 {
            type Output = Tensor<S, D>;
            fn $method(self, rhs: Tensor<S, D>) -> Self::Output {
                self.$method(&rhs)
            }
        }
    };
}

// The tensor is `a` or `b`, the number `c`: `a op c` and `c op b`.
binary_operator!(Add, add, add, |a, c| Ok(a.add_scalar(c)), |b, c| Ok(
    b.add_scalar(c)
));
binary_operator!(Sub, sub, sub, |a, c| Ok(a.add_scalar(-c)), |b, c| Ok(
    b.rsub_scalar(c)
));
binary_operator!(Mul, mul, mul, |a, c| Ok(a.mul_scalar(c)), |b, c| Ok(
    b.mul_scalar(c)
));
// True divisions by (and of) a constant: `a * (1/c)` would round twice and overflow where
// `1/c` does (`1e-30 / 1e-39` is about `1e9`, but `1/1e-39` is inf in `f32`).
binary_operator!(
    Div,
    div,
    div,
    |a, c| a.div(&DynTensor::constant(&[], c)),
    |b, c| DynTensor::constant(&[], c).div(b)
);

impl<S: Shape, D: Backend> Neg for &Tensor<S, D> {
    type Output = Tensor<S, D>;
    fn neg(self) -> Self::Output {
        self.map(|a| Ok(a.neg()))
    }
}

impl<S: Shape, D: Backend> Neg for Tensor<S, D> {
    type Output = Tensor<S, D>;
    fn neg(self) -> Self::Output {
        -&self
    }
}

// ----- elementwise functions ----------------------------------------------------------------

macro_rules! unary_methods {
    ($($(#[$doc:meta])* $name:ident => $f:expr;)*) => {
        impl<S: Shape, D: Backend> Tensor<S, D> {
            $(
                $(#[$doc])*
                pub fn $name(&self) -> Self {
                    let f: fn(&DynTensor<D>) -> DynTensor<D> = $f;
                    self.map(|v| Ok(f(v)))
                }
            )*
        }
    };
}

unary_methods! {
    /// `e^x`.
    exp => |v| v.exp();
    /// The natural logarithm.
    ln => |v| v.ln();
    /// `√x`.
    sqrt => |v| v.sqrt();
    /// `x²`.
    square => |v| v.square();
    /// `|x|`.
    abs => |v| v.abs();
    /// `1 / x`.
    recip => |v| v.recip();
    /// `1 / (1 + e^-x)`.
    sigmoid => |v| v.sigmoid();
    /// The hyperbolic tangent.
    tanh => |v| v.tanh();
    /// `ln(1 + e^x)`.
    softplus => |v| v.softplus();
}

impl<S: Shape, D: Backend> Tensor<S, D> {
    /// `x^p`.
    pub fn powf(&self, p: f32) -> Self {
        self.map(|v| Ok(v.powf(p)))
    }

    /// `max(x, 0)`.
    pub fn relu(&self) -> Self {
        self.map(|v| Ok(v.clamp(0.0, f32::INFINITY)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dfdx::shapes::{Const, Rank1};

    type Cpu = dfdx::prelude::Cpu;
    type T<S> = Tensor<S, Cpu>;

    #[test]
    fn scalars_broadcast_against_any_shape_from_either_side() {
        let x: T<(usize,)> = Tensor::from_vec(vec![1.0, 2.0], (2,)).unwrap();
        let a: T<Rank0> = Tensor::scalar(3.0);
        assert_eq!((&a + &x).to_vec().unwrap(), vec![4.0, 5.0]);
        assert_eq!((&x - &a).to_vec().unwrap(), vec![-2.0, -1.0]);
        assert_eq!((&a * &x).to_vec().unwrap(), vec![3.0, 6.0]);
        assert_eq!((&x / &a).to_vec().unwrap(), vec![1.0 / 3.0, 2.0 / 3.0]);
        assert_eq!((2.0 - &x).to_vec().unwrap(), vec![1.0, 0.0]);
        assert_eq!((6.0 / &x).to_vec().unwrap(), vec![6.0, 3.0]);
        assert_eq!((-&x).to_vec().unwrap(), vec![-1.0, -2.0]);
        let m: T<(usize, Const<2>)> =
            Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], (2, Const)).unwrap();
        assert_eq!((&m * 2.0).to_vec().unwrap(), vec![2.0, 4.0, 6.0, 8.0]);
    }

    #[test]
    fn a_run_time_dim_mismatch_is_carried_to_the_first_fallible_use() {
        let x: T<(usize,)> = Tensor::from_vec(vec![1.0, 2.0], (2,)).unwrap();
        let y: T<(usize,)> = Tensor::from_vec(vec![1.0, 2.0, 3.0], (3,)).unwrap();
        let z = (&x + &y).exp() * 2.0;
        let e = z.to_vec().unwrap_err();
        assert!(matches!(e, TensorError::Broadcast { .. }), "{e}");
        assert!(format!("{z:?}").contains("error"));
    }

    #[test]
    fn typed_views_check_static_dims() {
        let t: T<Rank1<2>> = [1.0, 2.0].into();
        assert_eq!(t.shape(), Default::default());
        assert_eq!(t.dims().unwrap(), &[2]);
        assert!(T::<Rank1<3>>::from_dyn(t.clone().into_dyn().unwrap()).is_err());
        assert!(T::<(usize,)>::from_dyn(t.into_dyn().unwrap()).is_ok());
    }

    #[test]
    fn dividing_by_a_number_is_a_true_division() {
        // `x * (1/c)` is off by an ulp for some values, and overflows when `1/c` does
        // (1/1e-39 is inf in f32, 1e-30/1e-39 about 1e9).
        let xs: Vec<f32> = (1..=40)
            .map(|i| i as f32 * 0.7)
            .chain([1e-30, 1e-39, 3.0e38])
            .collect();
        let x: T<(usize,)> = Tensor::from_vec(xs.clone(), (xs.len(),)).unwrap();
        let mut rounded_differently = false;
        for c in [3.0f32, 0.1, 7.0, 1e-39, 1e-30] {
            let want: Vec<u32> = xs.iter().map(|v| (v / c).to_bits()).collect();
            let got: Vec<u32> = (&x / c)
                .to_vec()
                .unwrap()
                .iter()
                .map(|v| v.to_bits())
                .collect();
            assert_eq!(got, want, "x / {c}");
            let want: Vec<u32> = xs.iter().map(|v| (c / v).to_bits()).collect();
            let got: Vec<u32> = (c / &x)
                .to_vec()
                .unwrap()
                .iter()
                .map(|v| v.to_bits())
                .collect();
            assert_eq!(got, want, "{c} / x");
            rounded_differently |= xs.iter().any(|v| v * (1.0 / c) != v / c);
            rounded_differently |= xs.iter().any(|v| v.recip() * c != c / v);
        }
        assert!(
            rounded_differently,
            "the values do not tell a division from a product"
        );
        let tiny = (&T::<Rank0>::scalar(1e-30) / 1e-39).item().unwrap();
        assert!(tiny.is_finite() && (tiny - 1e9).abs() < 1e3, "{tiny}");
        assert_eq!(tiny, 1e-30f32 / 1e-39f32);
    }

    #[test]
    fn the_mean_of_an_empty_tensor_is_nan() {
        let e: T<(usize,)> = Tensor::from_vec(vec![], (0,)).unwrap();
        assert!(e.mean().item().unwrap().is_nan());
        let e: T<(usize, Const<3>)> = Tensor::zeros((0, Const));
        assert!(e.mean().item().unwrap().is_nan());
        let x: T<(usize,)> = Tensor::from_vec(vec![1.0, 2.0, 4.0], (3,)).unwrap();
        assert_eq!(x.mean().item().unwrap(), 7.0 / 3.0);
    }

    /// `c` is a constant: operations on it alone record nothing, and in a backward pass
    /// through it no gradient is recorded for it.
    fn assert_gets_no_gradient<S: Shape>(name: &str, c: &T<S>) {
        let cd = c.as_dyn().unwrap();
        assert!(cd.is_constant(), "{name}: not a constant");
        assert!(
            cd.host_node().slot().is_none(),
            "{name}: has a gradient slot"
        );
        // A tracked leaf of the same shape.
        let w = DynTensor::<Cpu>::from_vec(
            (0..cd.numel()).map(|i| i as f32 - 0.5).collect(),
            cd.shape(),
        )
        .unwrap();
        let scope = super::super::GradScope::<Cpu>::open();
        let k = c * 3.0;
        assert!(
            scope.is_empty(),
            "{name}: an operation on it alone was recorded"
        );
        let wt: T<S> = Tensor::from_dyn(w.clone()).unwrap();
        let loss = (&wt * c + &k * &wt).sum();
        let grads = scope.backward(loss.as_dyn().unwrap()).unwrap();
        let want: Vec<f32> = cd.to_vec().iter().map(|v| 4.0 * v).collect();
        assert_eq!(
            grads.get_or_zeros(&w).to_vec(),
            want,
            "{name}: gradient of the leaf"
        );
        assert!(
            grads.get(cd).is_none(),
            "{name}: a gradient was recorded for it"
        );
    }

    #[test]
    fn data_from_the_constructors_gets_no_gradient() {
        let v: T<(usize, Const<2>)> =
            Tensor::from_vec(vec![1.0, -2.0, 3.0, 0.5], (2, Const)).unwrap();
        assert_gets_no_gradient("from_vec", &v);
        assert_gets_no_gradient("full", &T::<Rank1<3>>::full(Default::default(), 2.5));
        assert_gets_no_gradient("zeros", &T::<(usize,)>::zeros((2,)));
        assert_gets_no_gradient("ones", &T::<(usize,)>::ones((4,)));
        assert_gets_no_gradient("scalar", &T::<Rank0>::scalar(1.5));
        assert_gets_no_gradient("From<f32>", &T::<Rank0>::from(-0.25));
        assert_gets_no_gradient("From<[f32; N]>", &T::<Rank1<2>>::from([1.0, 2.0]));
        assert_gets_no_gradient(
            "From<[[f32; N]; M]>",
            &T::<dfdx::shapes::Rank2<2, 2>>::from([[1.0, 2.0], [3.0, -4.0]]),
        );
    }

    #[test]
    fn try_shape_returns_the_carried_error() {
        let x: T<(usize, Const<2>)> = Tensor::from_vec(vec![0.0; 6], (3, Const)).unwrap();
        assert_eq!(x.try_shape().unwrap(), (3, Const));
        let y: T<(usize, Const<2>)> = Tensor::zeros((2, Const));
        let bad = &x * &y;
        let e = bad.try_shape().unwrap_err();
        assert!(matches!(e, TensorError::Broadcast { .. }), "{e}");
        assert_eq!(e, bad.to_vec().unwrap_err());
        assert_eq!(bad.shape(), (0, Const), "an errored tensor reads zeros");
        let r0: T<Rank0> = Tensor::scalar(1.0);
        assert_eq!(r0.try_shape().unwrap(), ());
    }

    #[test]
    fn from_dyn_errors_name_the_type_its_rank_and_the_dims() {
        let d = DynTensor::<Cpu>::zeros(&[2, 3]);
        let msg = T::<(usize, Const<4>)>::from_dyn(d.clone())
            .unwrap_err()
            .to_string();
        for part in ["(usize, Const<4>)", "rank 2", "[2, 3]"] {
            assert!(msg.contains(part), "{part:?} not in {msg:?}");
        }
        assert!(!msg.contains("expected shape []"), "{msg}");
        let msg = T::<Rank1<6>>::from_dyn(d).unwrap_err().to_string();
        for part in ["(Const<6>,)", "rank 1", "[2, 3]", "rank 2"] {
            assert!(msg.contains(part), "{part:?} not in {msg:?}");
        }
    }

    #[test]
    fn a_shape_broadcasts_with_its_suffixes_from_either_side() {
        use dfdx::shapes::Rank2;
        // A bias add: rows `(usize, Const<3>)` plus a `Rank1<3>`.
        let x: T<(usize, Const<3>)> =
            Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], (2, Const)).unwrap();
        let b: T<Rank1<3>> = [10.0, 20.0, 30.0].into();
        let y: T<(usize, Const<3>)> = &x + &b;
        assert_eq!(
            y.to_vec().unwrap(),
            vec![11.0, 22.0, 33.0, 14.0, 25.0, 36.0]
        );
        assert_eq!(y.shape(), (2, Const));
        let y: T<(usize, Const<3>)> = &b - x.clone();
        assert_eq!(y.to_vec().unwrap(), vec![9.0, 18.0, 27.0, 6.0, 15.0, 24.0]);
        let y: T<(usize, Const<3>)> = b.clone() / &x;
        assert_eq!(y.to_vec().unwrap()[4], 20.0 / 5.0);
        // Rank 3 with its rank-2 and rank-1 suffixes, in both orders.
        let z: T<(usize, Const<2>, Const<3>)> =
            Tensor::from_vec((0..12).map(|i| i as f32).collect(), (2, Const, Const)).unwrap();
        let m: T<Rank2<2, 3>> = [[1.0, 0.0, -1.0], [2.0, 0.5, 0.0]].into();
        let zm: T<(usize, Const<2>, Const<3>)> = &z * &m;
        let mz: T<(usize, Const<2>, Const<3>)> = &m * &z;
        let want: Vec<f32> = (0..12)
            .map(|i| i as f32 * [1.0, 0.0, -1.0, 2.0, 0.5, 0.0][i % 6])
            .collect();
        assert_eq!(zm.to_vec().unwrap(), want);
        assert_eq!(mz.to_vec().unwrap(), want);
        let zb: T<(usize, Const<2>, Const<3>)> = &b + &z;
        assert_eq!(zb.to_vec().unwrap()[5], 5.0 + 30.0);
        // Run-time dims: `(usize, usize)` with `(usize,)` broadcasts when the last dims agree,
        // and a mismatch is carried.
        let r: T<(usize, usize)> = Tensor::from_vec(vec![1.0; 6], (3, 2)).unwrap();
        let ok: T<(usize,)> = Tensor::from_vec(vec![1.0, 2.0], (2,)).unwrap();
        let bad: T<(usize,)> = Tensor::from_vec(vec![1.0, 2.0, 3.0], (3,)).unwrap();
        assert_eq!((&r + &ok).try_shape().unwrap(), (3, 2));
        let e = (&bad * &r).to_vec().unwrap_err();
        assert!(matches!(e, TensorError::Broadcast { .. }), "{e}");
        // Rank 5 with its rank-4 suffix, and rank 4 with a rank-2 one.
        let f: T<(usize, Const<1>, Const<2>, Const<1>, Const<2>)> =
            Tensor::ones((3, Const, Const, Const, Const));
        let g: T<(Const<1>, Const<2>, Const<1>, Const<2>)> = Tensor::full(Default::default(), 2.0);
        let fg: T<(usize, Const<1>, Const<2>, Const<1>, Const<2>)> = &g + &f;
        assert_eq!(fg.to_vec().unwrap(), vec![3.0; 12]);
        let h: T<(Const<1>, Const<2>)> = Tensor::full(Default::default(), 0.5);
        let gh: T<(Const<1>, Const<2>, Const<1>, Const<2>)> = &g * &h;
        assert_eq!(gh.to_vec().unwrap(), vec![1.0; 4]);
    }

    #[test]
    fn the_gradient_of_a_bias_add() {
        use super::super::grad_tests::check_grad;
        // loss = Σ w ⊙ (x + b)² + Σ b·x: every input element with its own weight.
        check_grad(
            &|v| {
                let x: T<(usize, Const<3>)> = Tensor::from_dyn(v[0].clone()).unwrap();
                let b: T<Rank1<3>> = Tensor::from_dyn(v[1].clone()).unwrap();
                let w: T<(usize, Const<3>)> =
                    Tensor::from_vec(vec![1.0, -2.0, 0.5, 3.0, 0.25, -1.0], (2, Const)).unwrap();
                let y = (&x + &b).square() * &w + &b * &x;
                y.sum().into_dyn().unwrap()
            },
            vec![
                (vec![0.3, -0.7, 1.2, 0.9, -1.5, 0.4], vec![2, 3]),
                (vec![0.5, 1.1, -0.6], vec![3]),
            ],
        );
    }

    #[test]
    fn broadcast_to_repeats_size_one_and_leading_dims() {
        use super::super::grad_tests::check_grad;
        let col: T<(usize, Const<1>)> = Tensor::from_vec(vec![1.0, 2.0], (2, Const)).unwrap();
        let wide: T<(usize, Const<3>)> = col.broadcast_to((2, Const));
        assert_eq!(wide.to_vec().unwrap(), vec![1.0, 1.0, 1.0, 2.0, 2.0, 2.0]);
        let row: T<Rank1<2>> = [1.0, 2.0].into();
        let rows: T<(usize, Const<2>)> = row.broadcast_to((3, Const));
        assert_eq!(rows.to_vec().unwrap(), vec![1.0, 2.0, 1.0, 2.0, 1.0, 2.0]);
        let e = col.broadcast_to((3, Const::<3>)).to_vec().unwrap_err();
        assert!(matches!(e, TensorError::Broadcast { .. }), "{e}");
        // The gradient sums over the repeated elements.
        check_grad(
            &|v| {
                let c: T<(usize, Const<1>)> = Tensor::from_dyn(v[0].clone()).unwrap();
                let w: T<(usize, Const<3>)> =
                    Tensor::from_vec(vec![1.0, -2.0, 0.5, 3.0, 0.25, -1.0], (2, Const)).unwrap();
                let b: T<(usize, Const<3>)> = c.broadcast_to((2, Const));
                (b.square() * &w).sum().into_dyn().unwrap()
            },
            vec![(vec![0.7, -1.3], vec![2, 1])],
        );
    }
}
