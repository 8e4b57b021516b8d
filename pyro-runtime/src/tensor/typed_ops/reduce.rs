//! Reductions of a typed tensor over axes (sum, mean, max, log-sum-exp) and softmax /
//! log-softmax over its last axis.

use dfdx::shapes::{Axes, ReduceShape, Shape};

use crate::tensor::backend::Backend;
use crate::tensor::dyn_tensor::{broadcast_index, numel, DynTensor};
use crate::tensor::typed::Tensor;
use crate::tensor::{TensorError, TensorResult};

/// The axis indices of `Ax`, ascending.
pub(super) fn axes_of<Ax: Axes>() -> Vec<usize> {
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

/// `x` before `y` as a maximum: larger, or NaN (NaN propagates, as in PyTorch).
fn beats(x: f32, y: f32) -> bool {
    x > y || (x.is_nan() && !y.is_nan())
}

/// The flat index of the first maximum of each group of `vals` (row-major, of `shape`)
/// reduced to `keep` (the same rank, 1 at the reduced axes, none of them empty), in the
/// reduced tensor's order.
fn argmax_flat(vals: &[f32], shape: &[usize], keep: &[usize]) -> Vec<usize> {
    let mut best: Vec<Option<usize>> = vec![None; numel(keep)];
    for (i, o) in broadcast_index(shape, keep).into_iter().enumerate() {
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

#[cfg(test)]
mod tests {
    use dfdx::shapes::{Axes2, Axis, Const, Rank0, Rank2};

    use super::*;
    use crate::tensor::grad_tests::check_grad;
    use crate::tensor::typed_ops::testing::{
        check_out, fixture, input, spread, t, view, weighted, Cpu, T,
    };

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
        let loss = m.into_dyn().unwrap();
        let g = scope.backward(&loss).unwrap();
        assert_eq!(g.get_or_zeros(&w).to_vec(), vec![1.0, 0.0, 0.0, 1.0]);
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
}
