//! The identity map (with an optional event dim, for `real_vector`).

use super::{BoxTransform, Transform, TransformError, TransformResult};
use crate::constraints::Constraint;
use crate::tensor::{Backend, DynTensor};

/// `y = x`; log-det zero. `event_dim` rightmost dims form one event (1 for `real_vector`).
///
/// ```
/// use pyro::tensor::DynTensor;
/// use pyro::transforms::{IdentityTransform, Transform};
/// let t = IdentityTransform::new(1);
/// let x = DynTensor::<dfdx::prelude::Cpu>::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]).unwrap();
/// assert_eq!(t.forward(&x).unwrap().to_vec(), x.to_vec());
/// assert_eq!(t.log_abs_det_jacobian(&x, &x).unwrap().shape(), &[2]);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct IdentityTransform {
    event_dim: usize,
}

impl IdentityTransform {
    /// The identity with `event_dim` event dims.
    pub fn new(event_dim: usize) -> Self {
        IdentityTransform { event_dim }
    }
}

impl<D: Backend> Transform<D> for IdentityTransform {
    fn name(&self) -> &'static str {
        "IdentityTransform"
    }
    fn domain(&self) -> Constraint {
        if self.event_dim == 1 {
            Constraint::RealVector
        } else {
            Constraint::Real
        }
    }
    fn codomain(&self) -> Constraint {
        <Self as Transform<D>>::domain(self)
    }
    fn domain_event_dim(&self) -> usize {
        self.event_dim
    }
    fn codomain_event_dim(&self) -> usize {
        self.event_dim
    }
    fn forward(&self, x: &DynTensor<D>) -> TransformResult<DynTensor<D>> {
        Ok(x.clone())
    }
    fn inverse(&self, y: &DynTensor<D>) -> TransformResult<DynTensor<D>> {
        Ok(y.clone())
    }
    fn log_abs_det_jacobian(
        &self,
        x: &DynTensor<D>,
        _y: &DynTensor<D>,
    ) -> TransformResult<DynTensor<D>> {
        let r = x.rank();
        if self.event_dim > r {
            return Err(TransformError::Shape {
                transform: "IdentityTransform",
                direction: "log_abs_det_jacobian",
                shape: x.shape().to_vec(),
                reason: format!("needs at least {} dims", self.event_dim),
            });
        }
        // A constant: the log-det of the identity has no gradient.
        Ok(DynTensor::constant(&x.shape()[..r - self.event_dim], 0.0))
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
    fn identity_round_trips_and_has_zero_log_det() {
        let tr = IdentityTransform::new(1);
        let x = normal_vec(&mut rng(2), 6, 10.0);
        check_round_trip_x(&tr, &x, &[2, 3], 0.0);
        check_log_det_fd(&tr, &x[..3], &[3], &[0, 1, 2], &[0, 1, 2], 1e-5);
        let xt = t(x, &[2, 3]);
        let ld = Transform::<Cpu>::log_abs_det_jacobian(&IdentityTransform::new(0), &xt, &xt);
        assert_eq!(ld.unwrap().shape(), &[2, 3]);
        let too_many = IdentityTransform::new(3);
        assert!(Transform::<Cpu>::log_abs_det_jacobian(&too_many, &xt, &xt).is_err());
    }
}
