//! `y = loc + scale * x`.

use super::{validate_inverse_input, BoxTransform, Transform, TransformError, TransformResult};
use crate::constraints::Constraint;
use crate::tensor::{broadcast_shapes, Backend, DefaultDevice, DynTensor};

/// `y = loc + scale * x` with `loc` and `scale` broadcasting against `x` (Pyro's
/// `AffineTransform`); `log |dy/dx| = log |scale|`, summed over `event_dim` rightmost dims
/// (0 unless set with [`AffineTransform::with_event_dim`]). `scale` must be non-zero.
///
/// ```
/// use pyro::tensor::DynTensor;
/// use pyro::transforms::{AffineTransform, Transform};
/// let t = AffineTransform::new(1.0, -2.0).unwrap();
/// let x = DynTensor::from_vec(vec![0.0, 3.0], &[2]).unwrap();
/// assert_eq!(t.forward(&x).unwrap().to_vec(), vec![1.0, -5.0]);
/// assert_eq!(t.inverse(&DynTensor::scalar(-5.0)).unwrap().to_vec(), vec![3.0]);
/// assert!(AffineTransform::new(0.0, 0.0).is_err());
/// ```
#[derive(Debug, Clone)]
pub struct AffineTransform<D: Backend = DefaultDevice> {
    loc: DynTensor<D>,
    scale: DynTensor<D>,
    event_dim: usize,
}

impl AffineTransform {
    /// An affine map with scalar `loc` and `scale` on the default device; errors when `scale` is zero or
    /// either is not finite.
    pub fn new(loc: f32, scale: f32) -> TransformResult<Self> {
        // Numbers are constants: no gradient is sent to them.
        AffineTransform::from_dyn(
            DynTensor::constant(&[], loc),
            DynTensor::constant(&[], scale),
        )
    }
}

impl<D: Backend> AffineTransform<D> {
    /// An affine map with scalar parameters on any device.
    pub fn scalar(loc: f32, scale: f32) -> TransformResult<Self> {
        Self::from_dyn(
            DynTensor::constant(&[], loc),
            DynTensor::constant(&[], scale),
        )
    }

    /// An affine map with tensor parameters (gradients flow to them); errors when their
    /// shapes do not broadcast, any scale is zero, or a value is not finite.
    pub fn from_dyn(loc: DynTensor<D>, scale: DynTensor<D>) -> TransformResult<Self> {
        if broadcast_shapes(loc.shape(), scale.shape()).is_none() {
            return Err(TransformError::InvalidParameter {
                transform: "AffineTransform",
                param: "scale",
                reason: format!(
                    "shape {:?} does not broadcast with loc's {:?}",
                    scale.shape(),
                    loc.shape()
                ),
            });
        }
        if let Some(v) = scale
            .to_vec()
            .into_iter()
            .find(|v| *v == 0.0 || !v.is_finite())
        {
            return Err(TransformError::InvalidParameter {
                transform: "AffineTransform",
                param: "scale",
                reason: format!("must be finite and non-zero, got {v}"),
            });
        }
        if let Some(v) = loc.to_vec().into_iter().find(|v| !v.is_finite()) {
            return Err(TransformError::InvalidParameter {
                transform: "AffineTransform",
                param: "loc",
                reason: format!("must be finite, got {v}"),
            });
        }
        Ok(AffineTransform {
            loc,
            scale,
            event_dim: 0,
        })
    }

    /// The same map with `event_dim` rightmost dims forming one event (the log-det is summed
    /// over them).
    pub fn with_event_dim(mut self, event_dim: usize) -> Self {
        self.event_dim = event_dim;
        self
    }

    /// The location.
    pub fn loc(&self) -> &DynTensor<D> {
        &self.loc
    }

    /// The scale.
    pub fn scale(&self) -> &DynTensor<D> {
        &self.scale
    }
}

impl<D: Backend> Transform<D> for AffineTransform<D> {
    fn name(&self) -> &'static str {
        "AffineTransform"
    }
    fn domain(&self) -> Constraint {
        Constraint::Real
    }
    fn codomain(&self) -> Constraint {
        Constraint::Real
    }
    fn domain_event_dim(&self) -> usize {
        self.event_dim
    }
    fn codomain_event_dim(&self) -> usize {
        self.event_dim
    }
    fn forward(&self, x: &DynTensor<D>) -> TransformResult<DynTensor<D>> {
        Ok(self.scale.mul(x)?.add(&self.loc)?)
    }
    fn inverse(&self, y: &DynTensor<D>) -> TransformResult<DynTensor<D>> {
        validate_inverse_input(self, y)?;
        Ok(y.sub(&self.loc)?.div(&self.scale)?)
    }
    fn log_abs_det_jacobian(
        &self,
        x: &DynTensor<D>,
        _y: &DynTensor<D>,
    ) -> TransformResult<DynTensor<D>> {
        let shape = broadcast_shapes(x.shape(), self.scale.shape()).ok_or_else(|| {
            TransformError::Shape {
                transform: "AffineTransform",
                direction: "log_abs_det_jacobian",
                shape: x.shape().to_vec(),
                reason: format!("does not broadcast with scale's {:?}", self.scale.shape()),
            }
        })?;
        let ld = self.scale.abs().ln().broadcast_to(&shape)?;
        if self.event_dim > ld.rank() {
            return Err(TransformError::Shape {
                transform: "AffineTransform",
                direction: "log_abs_det_jacobian",
                shape: x.shape().to_vec(),
                reason: format!("needs at least {} dims", self.event_dim),
            });
        }
        Ok(ld.sum_rightmost(self.event_dim)?)
    }
    fn forward_shape(&self, shape: &[usize]) -> TransformResult<Vec<usize>> {
        broadcast_shapes(shape, self.loc.shape())
            .and_then(|s| broadcast_shapes(&s, self.scale.shape()))
            .ok_or_else(|| TransformError::Shape {
                transform: "AffineTransform",
                direction: "forward_shape",
                shape: shape.to_vec(),
                reason: "does not broadcast with loc and scale".into(),
            })
    }
    fn inverse_shape(&self, shape: &[usize]) -> TransformResult<Vec<usize>> {
        self.forward_shape(shape)
    }
    fn clone_box(&self) -> BoxTransform<D> {
        Box::new(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use crate::tensor::GradScope;
    use dfdx::prelude::Cpu;

    #[test]
    fn round_trips_with_broadcast_parameters() {
        let loc = t(vec![1.0, -2.0, 0.5], &[3]);
        let scale = t(vec![2.0, -0.5, 1e-3], &[3]);
        let tr = AffineTransform::from_dyn(loc, scale).unwrap();
        let x = normal_vec(&mut rng(5), 12, 4.0);
        check_round_trip_x(&tr, &x, &[4, 3], 1e-4);
        check_round_trip_y(&tr, &x, &[4, 3], 1e-4);
        let y = tr.forward(&t(vec![1.0, 1.0, 1.0], &[3])).unwrap().to_vec();
        assert_close(&y, &[3.0, -2.5, 0.501], 1e-6, "affine values");
    }

    #[test]
    fn log_det_is_log_abs_scale_summed_over_event_dims() {
        let scale = t(vec![2.0, -0.5, 3.0], &[3]);
        let tr = AffineTransform::from_dyn(DynTensor::scalar(0.0), scale.clone()).unwrap();
        let x = t(vec![0.1; 6], &[2, 3]);
        let y = tr.forward(&x).unwrap();
        let ld = tr.log_abs_det_jacobian(&x, &y).unwrap();
        assert_eq!(ld.shape(), &[2, 3]);
        // Finite differences of one row, event dim 1: log |det diag(scale)|.
        let tr1 = tr.clone().with_event_dim(1);
        assert_eq!(tr1.domain_event_dim(), 1);
        check_log_det_fd(&tr1, &[0.3, -1.0, 2.0], &[3], &[0, 1, 2], &[0, 1, 2], 1e-4);
        let ld1 = tr1.log_abs_det_jacobian(&x, &y).unwrap();
        assert_eq!(ld1.shape(), &[2]);
        let want = (2.0f32 * 0.5 * 3.0).ln();
        assert_close(&ld1.to_vec(), &[want, want], 1e-6, "event-dim log-det");
        // A scalar scale broadcasts to the input's shape.
        let s = AffineTransform::new(0.0, -4.0).unwrap();
        let ld = s.log_abs_det_jacobian(&x, &x).unwrap();
        assert_eq!(ld.shape(), &[2, 3]);
        assert_close(&ld.to_vec(), &[4f32.ln(); 6], 1e-6, "scalar scale");
    }

    #[test]
    fn invalid_parameters_are_typed_errors() {
        let e = AffineTransform::new(0.0, 0.0).unwrap_err();
        assert!(matches!(
            e,
            TransformError::InvalidParameter { param: "scale", .. }
        ));
        let e = AffineTransform::new(f32::INFINITY, 1.0).unwrap_err();
        assert!(matches!(
            e,
            TransformError::InvalidParameter { param: "loc", .. }
        ));
        let e =
            AffineTransform::from_dyn(t(vec![0.0; 2], &[2]), t(vec![1.0; 3], &[3])).unwrap_err();
        assert!(matches!(e, TransformError::InvalidParameter { .. }));
    }

    #[test]
    fn gradients_flow_to_input_and_parameters() {
        // d/dx of forward is scale; d/dscale of the log-det is 1/scale.
        let x = [0.5f32, -1.0];
        let tr = AffineTransform::new(0.3, -1.7).unwrap();
        let f = |v: &DynTensor<Cpu>| tr.forward(v);
        check_grad("affine forward", &f, &x, &[2], 1e-3);
        let g = |s: &DynTensor<Cpu>| {
            let tr = AffineTransform::from_dyn(DynTensor::scalar(0.0), s.clone())?;
            tr.log_abs_det_jacobian(&t(vec![0.0; 3], &[3]), &t(vec![0.0; 3], &[3]))
        };
        check_grad("affine log-det wrt scale", &g, &[-1.7, 0.4], &[2, 1], 1e-3);
        // The scale's gradient also reaches through forward.
        let scale = DynTensor::<Cpu>::scalar(2.0);
        let scope = GradScope::<Cpu>::open();
        let tr = AffineTransform::from_dyn(DynTensor::scalar(1.0), scale.clone()).unwrap();
        let y = tr.forward(&DynTensor::scalar(3.0)).unwrap();
        let grads = scope.backward(&y).unwrap();
        assert_eq!(grads.get_or_zeros(&scale).to_vec(), vec![3.0]);
    }
}
