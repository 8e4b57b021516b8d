//! Stick-breaking: unconstrained `R^{K-1}` onto the simplex in `R^K`.

use super::util::last_dim_linear;
use super::{validate_inverse_input, BoxTransform, Transform, TransformError, TransformResult};
use crate::constraints::Constraint;
use crate::tensor::{Backend, DynTensor, Special};

/// Pyro's stick-breaking bijection `[..., K-1] -> [..., K]` onto the simplex. With
/// `z_i = sigmoid(x_i - log(K-1-i))`, the output is `y_i = z_i Π_{k<i} (1 - z_k)` for
/// `i < K-1` and `y_{K-1} = Π_k (1 - z_k)`; the offsets make `x = 0` the centre of the
/// simplex. The log-det is that of the square Jacobian of the first `K-1` outputs:
/// `Σ_i [log z_i + (K-1-i) log(1 - z_i)]`.
///
/// Everything is computed in log space (`log y` from log-sigmoids), so no component
/// underflows to zero for inputs of moderate size and the sum stays one to `f32` rounding.
///
/// ```
/// use pyro::tensor::DynTensor;
/// use pyro::transforms::{StickBreakingTransform, Transform};
/// let x = DynTensor::<dfdx::prelude::Cpu>::zeros(&[3]);
/// let y = StickBreakingTransform.forward(&x).unwrap();
/// assert_eq!(y.shape(), &[4]);
/// assert!(y.to_vec().iter().all(|v| (v - 0.25).abs() < 1e-6));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StickBreakingTransform;

const NAME: &str = "StickBreakingTransform";

fn shape_err(direction: &'static str, shape: &[usize], reason: &str) -> TransformError {
    TransformError::Shape {
        transform: NAME,
        direction,
        shape: shape.to_vec(),
        reason: reason.into(),
    }
}

/// `log(K-1-i)` for `i < m = K-1`.
fn log_offsets<D: Backend>(m: usize) -> TransformResult<DynTensor<D>> {
    let v = (0..m).map(|i| ((m - i) as f32).ln()).collect();
    Ok(DynTensor::from_vec(v, &[m])?)
}

/// `(log z, log(1 - z))` for `z = sigmoid(x - log offset)`.
fn log_sticks<D: Backend>(
    x: &DynTensor<D>,
    m: usize,
) -> TransformResult<(DynTensor<D>, DynTensor<D>)> {
    let u = x.sub(&log_offsets(m)?)?;
    Ok((u.log_sigmoid(), u.neg().log_sigmoid()))
}

fn last_dim(direction: &'static str, shape: &[usize]) -> TransformResult<usize> {
    shape
        .last()
        .copied()
        .ok_or_else(|| shape_err(direction, shape, "expected at least one dim"))
}

impl<D: Backend> Transform<D> for StickBreakingTransform {
    fn name(&self) -> &'static str {
        NAME
    }
    fn domain(&self) -> Constraint {
        Constraint::RealVector
    }
    fn codomain(&self) -> Constraint {
        Constraint::Simplex
    }
    fn forward(&self, x: &DynTensor<D>) -> TransformResult<DynTensor<D>> {
        let m = last_dim("forward", x.shape())?;
        let (ls, l1) = log_sticks(x, m)?;
        let k = m + 1;
        // log y_j = log z_j [j < m] + Σ_{i<j} log(1 - z_i).
        let mut own = vec![0.0; m * k];
        let mut before = vec![0.0; m * k];
        for i in 0..m {
            own[i * k + i] = 1.0;
            for j in i + 1..k {
                before[i * k + j] = 1.0;
            }
        }
        let log_y = last_dim_linear(&ls, own, m, k)?.add(&last_dim_linear(&l1, before, m, k)?)?;
        Ok(log_y.exp())
    }
    fn inverse(&self, y: &DynTensor<D>) -> TransformResult<DynTensor<D>> {
        let k = last_dim("inverse", y.shape())?;
        if k == 0 {
            return Err(shape_err("inverse", y.shape(), "the simplex needs K >= 1"));
        }
        validate_inverse_input(self, y)?;
        let m = k - 1;
        // x_i = log y_i - log Σ_{j>i} y_j + log(K-1-i): the remaining mass is summed directly
        // (not as 1 - cumsum) so it keeps full precision near the simplex's edges.
        let mut head = vec![0.0; k * m];
        let mut rest = vec![0.0; k * m];
        for i in 0..m {
            head[i * m + i] = 1.0;
            for j in i + 1..k {
                rest[j * m + i] = 1.0;
            }
        }
        let tiny = f32::MIN_POSITIVE;
        let yc = last_dim_linear(y, head, k, m)?.clamp(tiny, f32::MAX);
        let sf = last_dim_linear(y, rest, k, m)?.clamp(tiny, f32::MAX);
        Ok(yc.ln().sub(&sf.ln())?.add(&log_offsets(m)?)?)
    }
    fn log_abs_det_jacobian(
        &self,
        x: &DynTensor<D>,
        _y: &DynTensor<D>,
    ) -> TransformResult<DynTensor<D>> {
        let m = last_dim("log_abs_det_jacobian", x.shape())?;
        let (ls, l1) = log_sticks(x, m)?;
        let w = DynTensor::from_vec((0..m).map(|i| (m - i) as f32).collect(), &[m])?;
        Ok(ls.add(&l1.mul(&w)?)?.sum_rightmost(1)?)
    }
    fn forward_shape(&self, shape: &[usize]) -> TransformResult<Vec<usize>> {
        let m = last_dim("forward_shape", shape)?;
        let mut s = shape.to_vec();
        *s.last_mut().expect("non-empty") = m + 1;
        Ok(s)
    }
    fn inverse_shape(&self, shape: &[usize]) -> TransformResult<Vec<usize>> {
        let k = last_dim("inverse_shape", shape)?;
        if k == 0 {
            return Err(shape_err(
                "inverse_shape",
                shape,
                "the simplex needs K >= 1",
            ));
        }
        let mut s = shape.to_vec();
        *s.last_mut().expect("non-empty") = k - 1;
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
    use crate::tensor::special::scalar;
    use dfdx::prelude::Cpu;

    /// Pyro's definition evaluated directly in f64 (products of sticks, no logs).
    fn reference(x: &[f32]) -> Vec<f64> {
        let m = x.len();
        let mut y = Vec::with_capacity(m + 1);
        let mut left = 1.0;
        for (i, &xi) in x.iter().enumerate() {
            let z = scalar::sigmoid(xi as f64 - ((m - i) as f64).ln());
            y.push(z * left);
            left *= 1.0 - z;
        }
        y.push(left);
        y
    }

    #[test]
    fn forward_matches_the_definition() {
        let x = normal_vec(&mut rng(11), 12, 2.0);
        let y = StickBreakingTransform
            .forward(&t(x.clone(), &[3, 4]))
            .unwrap();
        assert_eq!(y.shape(), &[3, 5]);
        let yv = y.to_vec();
        for b in 0..3 {
            let want = reference(&x[b * 4..b * 4 + 4]);
            for j in 0..5 {
                let got = yv[b * 5 + j] as f64;
                assert!(
                    (got - want[j]).abs() <= 1e-6 * want[j].max(1e-3),
                    "{got} vs {}",
                    want[j]
                );
            }
        }
        assert!(Constraint::Simplex.check_all(&y));
    }

    #[test]
    fn round_trips_on_random_and_extreme_inputs() {
        let tr = StickBreakingTransform;
        let x = normal_vec(&mut rng(12), 20, 2.0);
        check_round_trip_x(&tr, &x, &[5, 4], 1e-4);
        // Extreme inputs: the early sticks take (almost) everything or nothing.
        let x = vec![20.0, -20.0, 20.0, -20.0, -20.0, -20.0, -20.0, 20.0];
        check_round_trip_x(&tr, &x, &[2, 4], 1e-3);
        // Points near the edges and corners of the simplex.
        let y = vec![
            1.0 - 3e-6,
            1e-6,
            1e-6,
            1e-6, //
            1e-7,
            1e-7,
            0.5,
            0.5 - 2e-7, //
            0.25,
            0.25,
            0.25,
            0.25,
        ];
        check_round_trip_y(&tr, &y, &[3, 4], 1e-6);
        // K = 2 is the logistic map with offset log 1 = 0.
        let y = tr.forward(&t(vec![0.7], &[1])).unwrap().to_vec();
        assert!((y[0] as f64 - scalar::sigmoid(0.7)).abs() < 1e-6);
    }

    #[test]
    fn log_det_matches_finite_differences() {
        let tr = StickBreakingTransform;
        for (seed, m) in [(21u64, 1usize), (22, 2), (23, 4)] {
            let x = normal_vec(&mut rng(seed), m, 1.5);
            let idx: Vec<usize> = (0..m).collect();
            check_log_det_fd(&tr, &x, &[m], &idx, &idx, 1e-3);
        }
        check_log_det_fd(&tr, &[4.0, -3.0, 0.5], &[3], &[0, 1, 2], &[0, 1, 2], 1e-3);
        let x = t(normal_vec(&mut rng(24), 6, 1.0), &[2, 3]);
        let y = tr.forward(&x).unwrap();
        assert_eq!(tr.log_abs_det_jacobian(&x, &y).unwrap().shape(), &[2]);
    }

    #[test]
    fn gradients_match_finite_differences() {
        let x = [0.4f32, -1.1, 0.9];
        let f = |v: &DynTensor<Cpu>| StickBreakingTransform.forward(v);
        check_grad("stick-breaking forward", &f, &x, &[3], 1e-2);
        let g = |v: &DynTensor<Cpu>| StickBreakingTransform.log_abs_det_jacobian(v, v);
        check_grad("stick-breaking log-det", &g, &x, &[3], 1e-2);
        // The inverse on the simplex: normalise first so perturbed points stay on it.
        let y = [0.1f32, 0.3, 0.2, 0.4];
        let h = |v: &DynTensor<Cpu>| StickBreakingTransform.inverse(&v.div(&v.sum())?);
        check_grad("stick-breaking inverse", &h, &y, &[4], 1e-2);
    }

    #[test]
    fn shapes_and_bad_inputs() {
        let tr = StickBreakingTransform;
        assert_eq!(
            Transform::<Cpu>::forward_shape(&tr, &[2, 3]).unwrap(),
            vec![2, 4]
        );
        assert_eq!(Transform::<Cpu>::inverse_shape(&tr, &[4]).unwrap(), vec![3]);
        assert!(Transform::<Cpu>::forward_shape(&tr, &[]).is_err());
        assert!(matches!(
            tr.forward(&DynTensor::<Cpu>::scalar(1.0)),
            Err(TransformError::Shape { .. })
        ));
        crate::enable_validation(true);
        assert!(matches!(
            tr.inverse(&t(vec![0.5, 0.6], &[2])),
            Err(TransformError::OutOfDomain { .. })
        ));
    }
}
