//! Comparisons of typed tensors giving masks (`gt`, `ge`, `lt`, `le`, `eq`) and selection
//! by a mask (`where_`).

use dfdx::shapes::Shape;

use crate::tensor::backend::Backend;
use crate::tensor::dyn_tensor::broadcast_index;
use crate::tensor::dyn_tensor::{broadcast_shapes, DynTensor};
use crate::tensor::typed::{BroadcastShape, Tensor};
use crate::tensor::{TensorError, TensorResult};

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
    broadcast_index(shape, &keep)
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
    use dfdx::shapes::{Rank0, Rank1, Rank2};

    use super::*;
    use crate::tensor::grad_tests::check_grad;
    use crate::tensor::typed_ops::testing::{t, view, weighted, Cpu, T};

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
        let loss = loss.into_dyn().unwrap();
        let g = scope.backward(&loss).unwrap();
        // d/dx Σ [x > 0] x = [x > 0]: the mask is a constant.
        assert_eq!(g.get_or_zeros(&w).to_vec(), vec![1.0, 0.0]);
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
}
