//! Reinterprets batch dims of a transform as event dims (Pyro's `IndependentTransform`).

use super::{BoxTransform, Transform, TransformError, TransformResult};
use crate::constraints::Constraint;
use crate::tensor::{Backend, DynTensor};

/// Wraps `base` so that `reinterpreted` more rightmost dims form one event: the log-det is
/// summed over them as well.
///
/// ```
/// use pyro::tensor::DynTensor;
/// use pyro::transforms::{ExpTransform, IndependentTransform, Transform};
/// let t = IndependentTransform::new(Box::new(ExpTransform), 1);
/// let x = DynTensor::<dfdx::prelude::Cpu>::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]).unwrap();
/// let y = t.forward(&x).unwrap();
/// assert_eq!(t.log_abs_det_jacobian(&x, &y).unwrap().to_vec(), vec![3.0, 7.0]);
/// ```
#[derive(Debug, Clone)]
pub struct IndependentTransform<D: Backend> {
    base: BoxTransform<D>,
    reinterpreted: usize,
}

impl<D: Backend> IndependentTransform<D> {
    /// `base` with `reinterpreted` extra event dims.
    pub fn new(base: BoxTransform<D>, reinterpreted: usize) -> Self {
        IndependentTransform {
            base,
            reinterpreted,
        }
    }
}

impl<D: Backend> Transform<D> for IndependentTransform<D> {
    fn name(&self) -> &'static str {
        "IndependentTransform"
    }
    fn domain(&self) -> Constraint {
        self.base.domain()
    }
    fn codomain(&self) -> Constraint {
        self.base.codomain()
    }
    fn domain_event_dim(&self) -> usize {
        self.base.domain_event_dim() + self.reinterpreted
    }
    fn codomain_event_dim(&self) -> usize {
        self.base.codomain_event_dim() + self.reinterpreted
    }
    fn bijective(&self) -> bool {
        self.base.bijective()
    }
    fn forward(&self, x: &DynTensor<D>) -> TransformResult<DynTensor<D>> {
        self.base.forward(x)
    }
    fn inverse(&self, y: &DynTensor<D>) -> TransformResult<DynTensor<D>> {
        self.base.inverse(y)
    }
    fn log_abs_det_jacobian(
        &self,
        x: &DynTensor<D>,
        y: &DynTensor<D>,
    ) -> TransformResult<DynTensor<D>> {
        let ld = self.base.log_abs_det_jacobian(x, y)?;
        if self.reinterpreted > ld.rank() {
            return Err(TransformError::Shape {
                transform: "IndependentTransform",
                direction: "log_abs_det_jacobian",
                shape: x.shape().to_vec(),
                reason: format!("too few dims for {} more event dims", self.reinterpreted),
            });
        }
        Ok(ld.sum_rightmost(self.reinterpreted)?)
    }
    fn forward_shape(&self, shape: &[usize]) -> TransformResult<Vec<usize>> {
        self.base.forward_shape(shape)
    }
    fn inverse_shape(&self, shape: &[usize]) -> TransformResult<Vec<usize>> {
        self.base.inverse_shape(shape)
    }
    fn clone_box(&self) -> BoxTransform<D> {
        Box::new(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::SigmoidTransform;
    use super::*;

    #[test]
    fn log_det_is_summed_over_reinterpreted_dims() {
        let tr = IndependentTransform::new(Box::new(SigmoidTransform), 1);
        assert_eq!(tr.domain_event_dim(), 1);
        let x = vec![-1.0, 0.5, 2.0];
        check_log_det_fd(&tr, &x, &[3], &[0, 1, 2], &[0, 1, 2], 1e-3);
        check_round_trip_x(&tr, &x, &[3], 1e-5);
        let xt = t(x.clone(), &[3]);
        let too_many = IndependentTransform::new(Box::new(SigmoidTransform), 2);
        assert!(too_many.log_abs_det_jacobian(&xt, &xt).is_err());
    }
}
