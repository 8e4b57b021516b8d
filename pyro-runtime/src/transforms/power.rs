//! `y = x^p` on the positive half-line.

use super::{validate_inverse_input, BoxTransform, Transform, TransformError, TransformResult};
use crate::constraints::Constraint;
use crate::tensor::{Backend, DynTensor};

/// `y = x^exponent` for `x > 0` (Pyro's `PowerTransform`); `log |dy/dx| = log |p| + (p - 1)
/// log x`. The exponent must be finite and non-zero.
///
/// ```
/// use pyro::tensor::DynTensor;
/// use pyro::transforms::{PowerTransform, Transform};
/// let t = PowerTransform::new(2.0).unwrap();
/// let x = DynTensor::<dfdx::prelude::Cpu>::from_vec(vec![3.0], &[1]).unwrap();
/// assert_eq!(t.forward(&x).unwrap().to_vec(), vec![9.0]);
/// assert!(PowerTransform::new(0.0).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PowerTransform {
    exponent: f32,
}

impl PowerTransform {
    /// A power map; errors when `exponent` is zero or not finite (no inverse).
    pub fn new(exponent: f32) -> TransformResult<Self> {
        if exponent == 0.0 || !exponent.is_finite() {
            return Err(TransformError::InvalidParameter {
                transform: "PowerTransform",
                param: "exponent",
                reason: format!("must be finite and non-zero, got {exponent}"),
            });
        }
        Ok(PowerTransform { exponent })
    }

    /// The exponent.
    pub fn exponent(&self) -> f32 {
        self.exponent
    }
}

impl<D: Backend> Transform<D> for PowerTransform {
    fn name(&self) -> &'static str {
        "PowerTransform"
    }
    fn domain(&self) -> Constraint {
        Constraint::Positive
    }
    fn codomain(&self) -> Constraint {
        Constraint::Positive
    }
    fn forward(&self, x: &DynTensor<D>) -> TransformResult<DynTensor<D>> {
        Ok(x.powf(self.exponent))
    }
    fn inverse(&self, y: &DynTensor<D>) -> TransformResult<DynTensor<D>> {
        validate_inverse_input(self, y)?;
        Ok(y.powf(1.0 / self.exponent))
    }
    fn log_abs_det_jacobian(
        &self,
        x: &DynTensor<D>,
        _y: &DynTensor<D>,
    ) -> TransformResult<DynTensor<D>> {
        let p = self.exponent;
        Ok(x.ln().mul_scalar(p - 1.0).add_scalar(p.abs().ln()))
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
    fn round_trips_and_log_det_for_several_exponents() {
        let x: Vec<f32> = normal_vec(&mut rng(3), 12, 1.5)
            .into_iter()
            .map(f32::exp)
            .collect();
        for p in [-1.5f32, -1.0, 0.5, 2.0, 3.0] {
            let tr = PowerTransform::new(p).unwrap();
            check_round_trip_x(&tr, &x, &[x.len()], 1e-4);
            check_round_trip_y(&tr, &[1e-6, 0.2, 1.0, 4.0, 1e4], &[5], 1e-4);
            for &v in &x[..6] {
                check_log_det_fd(&tr, &[v], &[], &[0], &[0], 1e-3);
            }
        }
    }

    #[test]
    fn bad_exponents_and_inputs_are_typed_errors() {
        assert!(matches!(
            PowerTransform::new(f32::NAN),
            Err(TransformError::InvalidParameter {
                param: "exponent",
                ..
            })
        ));
        crate::enable_validation(true);
        let tr = PowerTransform::new(2.0).unwrap();
        let y = t(vec![-1.0], &[1]);
        assert!(matches!(
            Transform::<Cpu>::inverse(&tr, &y),
            Err(TransformError::OutOfDomain { .. })
        ));
    }

    #[test]
    fn gradient_of_log_det_matches_finite_differences() {
        let tr = PowerTransform::new(2.5).unwrap();
        let f = |v: &DynTensor<Cpu>| Transform::<Cpu>::log_abs_det_jacobian(&tr, v, v);
        check_grad("power log-det", &f, &[0.3, 1.0, 2.5], &[3], 1e-2);
        let g = |v: &DynTensor<Cpu>| Transform::<Cpu>::forward(&tr, v);
        check_grad("power forward", &g, &[0.3, 1.0, 2.5], &[3], 1e-2);
    }
}
