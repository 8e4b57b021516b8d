//! Indexing and reshaping a typed tensor: `at`/`select`/`narrow` along the first axis,
//! `index_select` and `gather` along any axis, `reshape`.

use dfdx::shapes::{Axes, Shape};

use super::reduce::axes_of;
use super::shapes::{ResizeAxis, SplitFirst, StaticDim};
use crate::tensor::backend::Backend;
use crate::tensor::dyn_tensor::{numel, DynTensor};
use crate::tensor::typed::Tensor;
use crate::tensor::{TensorError, TensorResult};

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
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use dfdx::shapes::{Axis, Const, Rank0, Rank1, Rank2, Rank3};

    use super::*;
    use crate::tensor::grad_tests::check_grad;
    use crate::tensor::typed_ops::testing::{
        check_out, fixture, input, spread, t, view, weighted, Array, T,
    };

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
}
