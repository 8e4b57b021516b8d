//! Softmax onto the simplex (not a bijection).

use super::{validate_inverse_input, BoxTransform, Transform, TransformError, TransformResult};
use crate::constraints::Constraint;
use crate::tensor::{Backend, DynTensor};

/// `y = exp(x) / Σ exp(x)` over the last dim (Pyro's `SoftmaxTransform`, what
/// `transform_to(simplex)` gives). It is not a bijection (adding a constant to `x` does not
/// change `y`); the inverse returns the representative `log y`, and there is no log-det
/// ([`TransformError::NoLogDet`]).
///
/// ```
/// use pyro::tensor::DynTensor;
/// use pyro::transforms::{SoftmaxTransform, Transform};
/// let x = DynTensor::<dfdx::prelude::Cpu>::from_vec(vec![0.0, 2f32.ln()], &[2]).unwrap();
/// let y = SoftmaxTransform.forward(&x).unwrap().to_vec();
/// assert!((y[0] - 1.0 / 3.0).abs() < 1e-6 && (y[1] - 2.0 / 3.0).abs() < 1e-6);
/// assert!(SoftmaxTransform.log_abs_det_jacobian(&x, &x).is_err());
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SoftmaxTransform;

const NAME: &str = "SoftmaxTransform";

impl<D: Backend> Transform<D> for SoftmaxTransform {
    fn name(&self) -> &'static str {
        NAME
    }
    fn domain(&self) -> Constraint {
        Constraint::RealVector
    }
    fn codomain(&self) -> Constraint {
        Constraint::Simplex
    }
    fn bijective(&self) -> bool {
        false
    }
    fn forward(&self, x: &DynTensor<D>) -> TransformResult<DynTensor<D>> {
        let shape = x.shape();
        let Some((&k, batch)) = shape.split_last() else {
            return Err(TransformError::Shape {
                transform: NAME,
                direction: "forward",
                shape: vec![],
                reason: "expected at least one dim".into(),
            });
        };
        if k == 0 {
            return Ok(x.clone());
        }
        let mut col = batch.to_vec();
        col.push(1);
        let lse = x.logsumexp_last()?.reshape(&col)?;
        Ok(x.sub(&lse)?.exp())
    }
    fn inverse(&self, y: &DynTensor<D>) -> TransformResult<DynTensor<D>> {
        validate_inverse_input(self, y)?;
        Ok(y.ln())
    }
    fn log_abs_det_jacobian(
        &self,
        _x: &DynTensor<D>,
        _y: &DynTensor<D>,
    ) -> TransformResult<DynTensor<D>> {
        Err(TransformError::NoLogDet {
            transform: NAME,
            reason: "softmax is not a bijection; use StickBreakingTransform (biject_to(simplex))",
        })
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

    #[test]
    fn forward_matches_host_softmax_and_lands_in_the_simplex() {
        let mut x = normal_vec(&mut rng(70), 12, 3.0);
        x[0] = 80.0; // would overflow exp without the shift
        x[5] = -80.0;
        let y = SoftmaxTransform.forward(&t(x.clone(), &[3, 4])).unwrap();
        assert!(Constraint::Simplex.check_all(&y));
        let yv = y.to_vec();
        for b in 0..3 {
            let row: Vec<f64> = x[b * 4..b * 4 + 4].iter().map(|&v| v as f64).collect();
            let mx = row.iter().cloned().fold(f64::MIN, f64::max);
            let z: f64 = row.iter().map(|v| (v - mx).exp()).sum();
            for j in 0..4 {
                let want = (row[j] - mx).exp() / z;
                assert!((yv[b * 4 + j] as f64 - want).abs() < 1e-6 * want.max(1e-3));
            }
        }
    }

    #[test]
    fn inverse_is_a_right_inverse_and_there_is_no_log_det() {
        let y = vec![0.1, 0.2, 0.3, 0.4, 1e-7, 1e-7, 0.5, 0.5 - 2e-7];
        check_round_trip_y(&SoftmaxTransform, &y, &[2, 4], 1e-6);
        // forward(inverse(forward(x))) == forward(x): x is recovered up to a constant.
        let x = t(vec![1.0, 2.0, 3.0], &[3]);
        let y = SoftmaxTransform.forward(&x).unwrap();
        let back = SoftmaxTransform.inverse(&y).unwrap().to_vec();
        assert!((back[1] - back[0] - 1.0).abs() < 1e-5 && (back[2] - back[0] - 2.0).abs() < 1e-5);
        let e = SoftmaxTransform.log_abs_det_jacobian(&x, &y).unwrap_err();
        assert!(matches!(e, TransformError::NoLogDet { .. }));
        assert!(!Transform::<Cpu>::bijective(&SoftmaxTransform));
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let f = |v: &DynTensor<Cpu>| SoftmaxTransform.forward(v);
        check_grad("softmax forward", &f, &[0.2, -1.0, 0.7], &[3], 1e-2);
    }
}
