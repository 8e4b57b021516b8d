//! Unconstrained vectors onto Cholesky factors of correlation matrices.

use super::util::{
    assemble, host_map, last_dim_linear, offsets, square_batch, strict_lower, strict_lower_vec,
};
use super::{validate_inverse_input, BoxTransform, Transform, TransformError, TransformResult};
use crate::constraints::Constraint;
use crate::tensor::special::{host_unary, scalar};
use crate::tensor::{numel, Backend, DynTensor};

use super::util::ONE_MINUS_EPS;

/// Pyro's `CorrCholeskyTransform`: `[..., n(n-1)/2] -> [..., n, n]`.
///
/// The vector fills the strictly lower triangle row by row (`(1,0), (2,0), (2,1), (3,0),
/// ...`); each entry becomes a partial correlation `r = tanh(x)` (clipped to `±(1 - ε)`), and
/// row `i` is built by stick-breaking on squared values: `y_ij = r_ij sqrt(1 - Σ_{k<j}
/// y_ik²)` for `j < i`, `y_ii = sqrt(1 - Σ_{k<i} y_ik²)`, so every row has unit norm and a
/// positive diagonal. The log-det is that of the square map from `x` to the strictly lower
/// part of `y` (PyTorch's convention): `Σ_{j<i} ½ log(1 - Σ_{k<j} y_ik²) + Σ log(1 -
/// tanh²(x))`.
///
/// The row products are accumulated as sums of `½ log(1 - r²)` evaluated in `f64`, so the
/// diagonal keeps full relative precision when the correlations are close to ±1.
///
/// ```
/// use pyro::tensor::DynTensor;
/// use pyro::transforms::{CorrCholeskyTransform, Transform};
/// let x = DynTensor::<dfdx::prelude::Cpu>::zeros(&[3]);
/// let y = CorrCholeskyTransform.forward(&x).unwrap();
/// assert_eq!(y.shape(), &[3, 3]);
/// assert_eq!(y.to_vec(), vec![1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CorrCholeskyTransform;

const NAME: &str = "CorrCholeskyTransform";

/// The matrix size `n` with `n(n-1)/2 == m`, if there is one.
fn matrix_size(m: usize) -> Option<usize> {
    let n = ((0.25 + 2.0 * m as f64).sqrt() + 0.5).round() as usize;
    (n * (n - 1) / 2 == m).then_some(n)
}

fn vec_dims(direction: &'static str, shape: &[usize]) -> TransformResult<(usize, usize)> {
    let err = |reason: &str| TransformError::Shape {
        transform: NAME,
        direction,
        shape: shape.to_vec(),
        reason: reason.into(),
    };
    let m = *shape
        .last()
        .ok_or_else(|| err("expected at least one dim"))?;
    let n = matrix_size(m).ok_or_else(|| err("the last dim must be n(n-1)/2 for some n"))?;
    Ok((m, n))
}

/// Places `v: [..., n(n-1)/2]` into the strictly lower triangle of `[..., n, n]`, zeros
/// elsewhere.
fn place_strict_lower<D: Backend>(v: &DynTensor<D>, n: usize) -> TransformResult<DynTensor<D>> {
    let m = n * (n - 1) / 2;
    let batch = &v.shape()[..v.rank() - 1];
    let b = numel(batch);
    let parts = [v.clone(), DynTensor::zeros(&[1])];
    let off = offsets(&parts);
    let mut slot = vec![None; n * n];
    for (k, (i, j)) in strict_lower(n).into_iter().enumerate() {
        slot[i * n + j] = Some(k);
    }
    let mut idx = Vec::with_capacity(b * n * n);
    for bi in 0..b {
        for s in &slot {
            idx.push(match s {
                Some(k) => off[0] + bi * m + k,
                None => off[1],
            });
        }
    }
    let mut shape = batch.to_vec();
    shape.extend([n, n]);
    assemble(&parts, idx, &shape)
}

/// `(r, S)`: the partial correlations placed in the strictly lower triangle, and the row-wise
/// exclusive cumulative sums `S_ij = Σ_{k<j} ½ log(1 - r_ik²)` (so `y = (r + I) exp(S)`).
fn partials<D: Backend>(
    x: &DynTensor<D>,
    n: usize,
) -> TransformResult<(DynTensor<D>, DynTensor<D>)> {
    let r = host_unary(x, |v| {
        let t = v.tanh();
        if t.abs() >= ONE_MINUS_EPS {
            (ONE_MINUS_EPS.copysign(t), 0.0)
        } else {
            (t, 1.0 - t * t)
        }
    });
    // ½ log(1 - tanh² x) = log 2 - |x| - softplus(-2|x|), exact for any x.
    let half_log = host_unary(x, |v| {
        let t = v.tanh();
        if t.abs() >= ONE_MINUS_EPS {
            (0.5 * (1.0 - ONE_MINUS_EPS * ONE_MINUS_EPS).ln(), 0.0)
        } else {
            let a = v.abs();
            (std::f64::consts::LN_2 - a - scalar::softplus(-2.0 * a), -t)
        }
    });
    let r_mat = place_strict_lower(&r, n)?;
    let w_mat = place_strict_lower(&half_log, n)?;
    let mut excl = vec![0.0; n * n];
    for k in 0..n {
        for j in k + 1..n {
            excl[k * n + j] = 1.0;
        }
    }
    let s = last_dim_linear(&w_mat, excl, n, n)?;
    Ok((r_mat, s))
}

fn identity<D: Backend>(n: usize) -> TransformResult<DynTensor<D>> {
    let mut eye = vec![0.0; n * n];
    for i in 0..n {
        eye[i * n + i] = 1.0;
    }
    Ok(DynTensor::from_vec(eye, &[n, n])?)
}

impl<D: Backend> Transform<D> for CorrCholeskyTransform {
    fn name(&self) -> &'static str {
        NAME
    }
    fn domain(&self) -> Constraint {
        Constraint::RealVector
    }
    fn codomain(&self) -> Constraint {
        Constraint::CorrCholesky
    }
    fn forward(&self, x: &DynTensor<D>) -> TransformResult<DynTensor<D>> {
        let (_, n) = vec_dims("forward", x.shape())?;
        if n == 1 {
            let mut shape = x.shape()[..x.rank() - 1].to_vec();
            shape.extend([1, 1]);
            return Ok(DynTensor::ones(&shape));
        }
        let (r, s) = partials(x, n)?;
        Ok(r.add(&identity(n)?)?.mul(&s.exp())?)
    }
    fn inverse(&self, y: &DynTensor<D>) -> TransformResult<DynTensor<D>> {
        let (b, n) = square_batch(NAME, "inverse", y.shape())?;
        validate_inverse_input(self, y)?;
        let mut shape = y.shape()[..y.rank() - 2].to_vec();
        shape.push(n * (n - 1) / 2);
        if n == 1 {
            return Ok(DynTensor::zeros(&shape));
        }
        // With the squared mass after entry j, `a_ij = Σ_{k>j} y_ik²`, and `s² = y_ij² + a_ij`
        // (the mass left before j), the partial correlation is `r = y_ij / s` and
        // `x = atanh(r) = sign(y) (log(s + |y|) - ½ log a)`: no `1 - r` cancellation, so the
        // rows with a tiny diagonal keep their precision.
        let mut after = vec![0.0; n * n];
        for k in 0..n {
            for j in 0..k {
                after[k * n + j] = 1.0;
            }
        }
        let rest = last_dim_linear(&y.square(), after, n, n)?;
        let yv = strict_lower_vec(y, b, n)?.reshape(&shape)?;
        let av = strict_lower_vec(&rest, b, n)?.reshape(&shape)?;
        host_map(&[&yv, &av], |v| {
            let (y, a) = (v[0], v[1]);
            let x_max = ONE_MINUS_EPS.atanh();
            if a <= 0.0 {
                return (x_max.copysign(y), vec![0.0, 0.0]);
            }
            let s = (y * y + a).sqrt();
            let x = (s + y.abs()).ln() - 0.5 * a.ln();
            if x >= x_max {
                return (x_max.copysign(y), vec![0.0, 0.0]);
            }
            let da = 1.0 / (2.0 * s * (s + y.abs())) - 0.5 / a;
            (x.copysign(y), vec![1.0 / s, da * y.signum()])
        })
    }
    fn log_abs_det_jacobian(
        &self,
        x: &DynTensor<D>,
        _y: &DynTensor<D>,
    ) -> TransformResult<DynTensor<D>> {
        let (_, n) = vec_dims("log_abs_det_jacobian", x.shape())?;
        let batch = &x.shape()[..x.rank() - 1];
        if n == 1 {
            return Ok(DynTensor::zeros(batch));
        }
        let (_, s) = partials(x, n)?;
        let b = numel(batch);
        let stick = strict_lower_vec(&s, b, n)?.sum_rightmost(1)?;
        // log(1 - tanh² x) = 2 (log 2 - x - softplus(-2x)), unclipped as in PyTorch.
        let tanh = host_unary(x, |v| {
            (
                2.0 * (std::f64::consts::LN_2 - v - scalar::softplus(-2.0 * v)),
                -2.0 * v.tanh(),
            )
        });
        Ok(stick.add(&tanh.sum_rightmost(1)?)?)
    }
    fn forward_shape(&self, shape: &[usize]) -> TransformResult<Vec<usize>> {
        let (_, n) = vec_dims("forward_shape", shape)?;
        let mut s = shape[..shape.len() - 1].to_vec();
        s.extend([n, n]);
        Ok(s)
    }
    fn inverse_shape(&self, shape: &[usize]) -> TransformResult<Vec<usize>> {
        let (_, n) = square_batch(NAME, "inverse_shape", shape)?;
        let mut s = shape[..shape.len() - 2].to_vec();
        s.push(n * (n - 1) / 2);
        Ok(s)
    }
    fn clone_box(&self) -> BoxTransform<D> {
        Box::new(*self)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use dfdx::prelude::Cpu;

    /// PyTorch's algorithm in f64: tanh, then each row scaled by the running remainder.
    fn reference(x: &[f32], n: usize) -> Vec<f64> {
        let mut y = vec![0.0; n * n];
        let mut k = 0;
        for i in 0..n {
            let mut left = 1.0f64;
            for j in 0..i {
                let r = (x[k] as f64).tanh();
                k += 1;
                y[i * n + j] = r * left.sqrt();
                left -= y[i * n + j] * y[i * n + j];
            }
            y[i * n + i] = left.sqrt();
        }
        y
    }

    #[test]
    fn forward_matches_the_definition_and_lands_in_corr_cholesky() {
        for n in [2usize, 3, 4] {
            let m = n * (n - 1) / 2;
            let x = normal_vec(&mut rng(50 + n as u64), 2 * m, 1.0);
            let y = CorrCholeskyTransform
                .forward(&t(x.clone(), &[2, m]))
                .unwrap();
            assert_eq!(y.shape(), &[2, n, n]);
            assert!(Constraint::CorrCholesky.check_all(&y));
            let yv = y.to_vec();
            for b in 0..2 {
                let want = reference(&x[b * m..(b + 1) * m], n);
                for k in 0..n * n {
                    assert!((yv[b * n * n + k] as f64 - want[k]).abs() < 2e-6);
                }
            }
        }
        // n = 1: an empty vector maps to [[1]] and back.
        let y = CorrCholeskyTransform
            .forward(&DynTensor::<Cpu>::zeros(&[2, 0]))
            .unwrap();
        assert_eq!(
            (y.shape(), y.to_vec()),
            (&[2usize, 1, 1][..], vec![1.0, 1.0])
        );
        assert_eq!(CorrCholeskyTransform.inverse(&y).unwrap().shape(), &[2, 0]);
    }

    #[test]
    fn round_trips_on_random_and_extreme_inputs() {
        let tr = CorrCholeskyTransform;
        let x = normal_vec(&mut rng(55), 18, 1.0);
        check_round_trip_x(&tr, &x, &[3, 6], 2e-4);
        // Large partial correlations (|x| up to 5, tanh = 0.99991) and near-boundary rows.
        let x = vec![5.0, -4.0, 3.5, 4.5, -5.0, 2.0];
        check_round_trip_x(&tr, &x, &[6], 5e-3);
        // At ±20 the correlation is clipped (as in PyTorch) but the output stays valid.
        let x = t(vec![20.0, -20.0, 20.0], &[3]);
        let y = tr.forward(&x).unwrap();
        assert!(Constraint::CorrCholesky.check_all(&y));
        let y = vec![
            1.0, 0.0, 0.0, //
            0.6, 0.8, 0.0, //
            -0.36, 0.48, 0.8,
        ];
        check_round_trip_y(&tr, &y, &[3, 3], 1e-5);
        // A row whose diagonal is tiny: the remaining norm keeps its precision.
        let d = 1e-3f32;
        let a = (1.0 - d * d).sqrt() / 2f32.sqrt();
        let y = vec![1.0, 0.0, 0.0, 0.0, 1.0, 0.0, a, -a, d];
        check_round_trip_y(&tr, &y, &[3, 3], 1e-6);
    }

    #[test]
    fn log_det_matches_finite_differences_onto_the_strict_lower_part() {
        let tr = CorrCholeskyTransform;
        for n in [2usize, 3, 4] {
            let m = n * (n - 1) / 2;
            let x = normal_vec(&mut rng(60 + n as u64), m, 1.0);
            let cols: Vec<usize> = (0..m).collect();
            let rows: Vec<usize> = strict_lower(n)
                .into_iter()
                .map(|(i, j)| i * n + j)
                .collect();
            check_log_det_fd(&tr, &x, &[m], &cols, &rows, 2e-3);
        }
        let x = t(normal_vec(&mut rng(64), 12, 1.0), &[4, 3]);
        let y = tr.forward(&x).unwrap();
        assert_eq!(tr.log_abs_det_jacobian(&x, &y).unwrap().shape(), &[4]);
    }

    #[test]
    fn gradients_match_finite_differences() {
        let x = [0.3f32, -0.8, 1.1];
        let f = |v: &DynTensor<Cpu>| CorrCholeskyTransform.forward(v);
        check_grad("corr-cholesky forward", &f, &x, &[3], 1e-2);
        let g = |v: &DynTensor<Cpu>| CorrCholeskyTransform.log_abs_det_jacobian(v, v);
        check_grad("corr-cholesky log-det", &g, &x, &[3], 1e-2);
        // Through the inverse: x -> inverse(forward(x)) has the identity Jacobian, and both
        // inputs of the host-evaluated inverse (the entry and the mass after it) move.
        let h = |v: &DynTensor<Cpu>| {
            let y = CorrCholeskyTransform.forward(v)?;
            CorrCholeskyTransform.inverse(&y)
        };
        check_grad(
            "corr-cholesky inverse(forward)",
            &h,
            &[0.3, -0.8, 1.1, 2.0, -0.1, 0.6],
            &[6],
            1e-2,
        );
    }

    #[test]
    fn shapes_and_bad_inputs() {
        let tr = CorrCholeskyTransform;
        assert_eq!(
            Transform::<Cpu>::forward_shape(&tr, &[5, 6]).unwrap(),
            vec![5, 4, 4]
        );
        assert_eq!(
            Transform::<Cpu>::inverse_shape(&tr, &[4, 4]).unwrap(),
            vec![6]
        );
        assert!(Transform::<Cpu>::forward_shape(&tr, &[5]).is_err());
        assert!(matches!(
            tr.forward(&t(vec![0.0; 4], &[4])),
            Err(TransformError::Shape { .. })
        ));
        crate::enable_validation(true);
        let not_unit = t(vec![1.0, 0.0, 0.5, 0.5], &[2, 2]);
        assert!(matches!(
            tr.inverse(&not_unit),
            Err(TransformError::OutOfDomain { .. })
        ));
    }
}
