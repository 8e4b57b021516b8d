//! [`IntervalTransform`]: the real line onto a bounded interval, as one elementwise map.

use super::{validate_inverse_input, BoxTransform, Transform, TransformError, TransformResult};
use crate::constraints::Constraint;
use crate::tensor::special::{host_unary, scalar};
use crate::tensor::{Backend, DynTensor};

use super::util::{ONE_MINUS_EPS, TINY};

/// `y = low + (high - low) · σ(x)`: what `biject_to(interval(low, high))` is in Pyro
/// (`ComposeTransform([SigmoidTransform(), AffineTransform(low, high - low)])`), evaluated as
/// one elementwise map. `log |dy/dx| = log(high - low) + log σ(x) + log σ(-x)`.
///
/// ```
/// use pyro::tensor::DynTensor;
/// use pyro::transforms::{IntervalTransform, Transform};
/// let t = IntervalTransform::new(0.0, 10.0).unwrap();
/// let x = DynTensor::<dfdx::prelude::Cpu>::from_vec(vec![0.0, 2.0], &[2]).unwrap();
/// let y = t.forward(&x).unwrap().to_vec();
/// assert_eq!(y[0], 5.0);
/// let back = t.inverse(&t.forward(&x).unwrap()).unwrap().to_vec();
/// assert!((back[1] - 2.0).abs() < 1e-5);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IntervalTransform {
    low: f32,
    high: f32,
}

impl IntervalTransform {
    /// The map onto `(low, high)`; errors unless both bounds are finite and `low < high`.
    pub fn new(low: f32, high: f32) -> TransformResult<Self> {
        if !(low.is_finite() && high.is_finite() && low < high) {
            return Err(TransformError::InvalidParameter {
                transform: "IntervalTransform",
                param: "low, high",
                reason: format!("needs finite bounds with low < high, got ({low}, {high})"),
            });
        }
        Ok(IntervalTransform { low, high })
    }

    fn width(&self) -> f64 {
        self.high as f64 - self.low as f64
    }
}

impl<D: Backend> Transform<D> for IntervalTransform {
    fn name(&self) -> &'static str {
        "IntervalTransform"
    }
    fn domain(&self) -> Constraint {
        Constraint::Real
    }
    fn codomain(&self) -> Constraint {
        Constraint::Interval(self.low, self.high)
    }
    fn forward(&self, x: &DynTensor<D>) -> TransformResult<DynTensor<D>> {
        let (low, high, w) = (self.low as f64, self.high as f64, self.width());
        Ok(host_unary(x, move |v| {
            let s = scalar::sigmoid(v).clamp(TINY, ONE_MINUS_EPS);
            let y = (low + w * s).clamp(low, high);
            (y, w * scalar::sigmoid(v) * scalar::sigmoid(-v))
        }))
    }
    fn inverse(&self, y: &DynTensor<D>) -> TransformResult<DynTensor<D>> {
        validate_inverse_input(self, y)?;
        let (low, w) = (self.low as f64, self.width());
        Ok(host_unary(y, move |v| {
            let p = ((v - low) / w).clamp(TINY, ONE_MINUS_EPS);
            (p.ln() - libm::log1p(-p), 1.0 / (w * p * (1.0 - p)))
        }))
    }
    fn log_abs_det_jacobian(
        &self,
        x: &DynTensor<D>,
        _y: &DynTensor<D>,
    ) -> TransformResult<DynTensor<D>> {
        let log_w = self.width().ln();
        Ok(host_unary(x, move |v| {
            (
                log_w - scalar::softplus(-v) - scalar::softplus(v),
                1.0 - 2.0 * scalar::sigmoid(v),
            )
        }))
    }
    fn clone_box(&self) -> BoxTransform<D> {
        Box::new(*self)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::*;
    use dfdx::prelude::Cpu;

    fn tr() -> IntervalTransform {
        IntervalTransform::new(-2.0, 5.0).unwrap()
    }

    #[test]
    fn agrees_with_the_sigmoid_affine_chain() {
        // Pyro's definition, built from the two parts, is the reference.
        let chain: ComposeTransform<Cpu> = ComposeTransform::new(vec![
            Box::new(SigmoidTransform),
            Box::new(AffineTransform::<Cpu>::scalar(-2.0, 7.0).unwrap()),
        ]);
        let x = normal_vec(&mut rng(300), 32, 3.0);
        let xt = t(x, &[32]);
        let (y, ld) = Transform::<Cpu>::forward_with_log_abs_det_jacobian(&tr(), &xt).unwrap();
        let (y_ref, ld_ref) = chain.forward_with_log_abs_det_jacobian(&xt).unwrap();
        assert_close(&y.to_vec(), &y_ref.to_vec(), 1e-5, "value");
        assert_close(&ld.to_vec(), &ld_ref.to_vec(), 1e-5, "log-det");
        let back = Transform::<Cpu>::inverse(&tr(), &y).unwrap();
        let back_ref = chain.inverse(&y_ref).unwrap();
        assert_close(&back.to_vec(), &back_ref.to_vec(), 1e-4, "inverse");
    }

    #[test]
    fn round_trips_log_det_and_gradients() {
        let x: Vec<f32> = normal_vec(&mut rng(301), 16, 3.0);
        check_round_trip_x(&tr(), &x, &[16], 1e-3);
        check_round_trip_y(&tr(), &[-1.999, -1.0, 0.0, 4.5, 4.999], &[5], 1e-5);
        for &v in &x {
            check_log_det_fd(&tr(), &[v], &[], &[0], &[0], 1e-3);
        }
        let xs = normal_vec(&mut rng(302), 4, 1.5);
        let f = |v: &DynTensor<Cpu>| Transform::<Cpu>::forward(&tr(), v);
        check_grad("IntervalTransform", &f, &xs, &[4], 1e-2);
        let g = |v: &DynTensor<Cpu>| Transform::<Cpu>::log_abs_det_jacobian(&tr(), v, v);
        check_grad("IntervalTransform", &g, &xs, &[4], 1e-2);
        let h = |v: &DynTensor<Cpu>| Transform::<Cpu>::inverse(&tr(), &v.sigmoid().mul_scalar(3.0));
        check_grad("IntervalTransform", &h, &xs, &[4], 1e-2);
    }

    #[test]
    fn bad_bounds_and_values_outside_are_typed_errors() {
        assert!(IntervalTransform::new(1.0, 1.0).is_err());
        assert!(IntervalTransform::new(f32::NEG_INFINITY, 0.0).is_err());
        crate::enable_validation(true);
        let y = t(vec![0.0, 6.0], &[2]);
        let err = Transform::<Cpu>::inverse(&tr(), &y).unwrap_err();
        assert!(matches!(err, TransformError::OutOfDomain { .. }), "{err}");
    }
}
