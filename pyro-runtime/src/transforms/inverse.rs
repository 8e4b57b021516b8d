//! The inverse of a transform (Pyro's `t.inv`).

use super::{BoxTransform, Transform, TransformResult};
use crate::constraints::Constraint;
use crate::tensor::{Backend, DynTensor};

/// Swaps `forward` and `inverse` of `base`; `log |det ∂x/∂y| = -log |det ∂y/∂x|`.
///
/// ```
/// use pyro::tensor::DynTensor;
/// use pyro::transforms::{ExpTransform, Transform};
/// let log = Transform::<dfdx::prelude::Cpu>::inv(&ExpTransform); // y = log(x)
/// let x = DynTensor::from_vec(vec![1.0, 4.0], &[2]).unwrap();
/// let y = log.forward(&x).unwrap();
/// assert!((y.to_vec()[1] - 4f32.ln()).abs() < 1e-6);
/// let ld = log.log_abs_det_jacobian(&x, &y).unwrap().to_vec();
/// assert!((ld[1] + 4f32.ln()).abs() < 1e-6); // d log(x)/dx = 1/x
/// ```
#[derive(Debug, Clone)]
pub struct InverseTransform<D: Backend> {
    base: BoxTransform<D>,
}

impl<D: Backend> InverseTransform<D> {
    /// The inverse of `base`.
    pub fn new(base: BoxTransform<D>) -> Self {
        InverseTransform { base }
    }

    /// The transform this one inverts.
    pub fn base(&self) -> &dyn Transform<D> {
        self.base.as_ref()
    }
}

impl<D: Backend> Transform<D> for InverseTransform<D> {
    fn name(&self) -> &'static str {
        "InverseTransform"
    }
    fn domain(&self) -> Constraint {
        self.base.codomain()
    }
    fn codomain(&self) -> Constraint {
        self.base.domain()
    }
    fn domain_event_dim(&self) -> usize {
        self.base.codomain_event_dim()
    }
    fn codomain_event_dim(&self) -> usize {
        self.base.domain_event_dim()
    }
    fn bijective(&self) -> bool {
        self.base.bijective()
    }
    fn forward(&self, x: &DynTensor<D>) -> TransformResult<DynTensor<D>> {
        self.base.inverse(x)
    }
    fn inverse(&self, y: &DynTensor<D>) -> TransformResult<DynTensor<D>> {
        self.base.forward(y)
    }
    fn log_abs_det_jacobian(
        &self,
        x: &DynTensor<D>,
        y: &DynTensor<D>,
    ) -> TransformResult<DynTensor<D>> {
        Ok(self.base.log_abs_det_jacobian(y, x)?.neg())
    }
    fn forward_shape(&self, shape: &[usize]) -> TransformResult<Vec<usize>> {
        self.base.inverse_shape(shape)
    }
    fn inverse_shape(&self, shape: &[usize]) -> TransformResult<Vec<usize>> {
        self.base.forward_shape(shape)
    }
    fn clone_box(&self) -> BoxTransform<D> {
        Box::new(self.clone())
    }
    fn inv(&self) -> BoxTransform<D> {
        self.base.clone_box()
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::{SigmoidTransform, StickBreakingTransform};
    use super::*;
    use dfdx::prelude::Cpu;

    #[test]
    fn inverse_of_sigmoid_is_logit_with_negated_log_det() {
        let logit = Transform::<Cpu>::inv(&SigmoidTransform);
        assert_eq!(logit.domain(), Constraint::UnitInterval);
        assert_eq!(logit.codomain(), Constraint::Real);
        let y = vec![1e-6, 0.2, 0.5, 0.9];
        check_round_trip_x(logit.as_ref(), &y, &[4], 1e-5);
        for &v in &y[1..] {
            check_log_det_fd(logit.as_ref(), &[v], &[], &[0], &[0], 1e-3);
        }
        // inv().inv() is the original transform.
        assert_eq!(logit.inv().name(), "SigmoidTransform");
    }

    #[test]
    fn inverse_of_stick_breaking_swaps_shapes_and_event_dims() {
        let inv = Transform::<Cpu>::inv(&StickBreakingTransform);
        assert_eq!(inv.forward_shape(&[5, 4]).unwrap(), vec![5, 3]);
        assert_eq!(inv.inverse_shape(&[3]).unwrap(), vec![4]);
        assert_eq!((inv.domain_event_dim(), inv.codomain_event_dim()), (1, 1));
        let y = t(vec![0.1, 0.2, 0.3, 0.4], &[4]);
        let x = inv.forward(&y).unwrap();
        let ld = inv.log_abs_det_jacobian(&y, &x).unwrap().item().unwrap();
        let fwd = Transform::<Cpu>::log_abs_det_jacobian(&StickBreakingTransform, &x, &y);
        assert!((ld + fwd.unwrap().item().unwrap()).abs() < 1e-5);
    }
}
