//! `Unit`: the trivial distribution behind `factor`.

use std::any::Any;

use rand::RngCore;

use super::*;

/// A distribution over the empty set of values whose log-density is a given tensor (Pyro's
/// `Unit`); `factor(name, log_factor)` observes it to add `log_factor` to the joint density.
///
/// ```
/// use pyro::distributions::{Distribution, Unit};
/// use pyro::tensor::DynTensor;
/// let u = Unit::<pyro::DefaultDevice>::new(DynTensor::from_vec(vec![-1.0, 2.0], &[2]).unwrap());
/// let v = u.sample_global(&[]).unwrap();
/// assert_eq!(v.shape(), &[2, 0]);
/// assert_eq!(u.log_prob(&v).unwrap().to_vec(), vec![-1.0, 2.0]);
/// ```
#[derive(Debug, Clone)]
pub struct Unit<D: Backend> {
    log_factor: DynTensor<D>,
}

impl<D: Backend> Unit<D> {
    /// A unit distribution with batch shape `log_factor.shape()`.
    pub fn new(log_factor: DynTensor<D>) -> Self {
        Unit { log_factor }
    }
}

impl<D: Backend> Distribution<D> for Unit<D> {
    fn name(&self) -> &'static str {
        "Unit"
    }
    fn batch_shape(&self) -> &[usize] {
        self.log_factor.shape()
    }
    fn event_shape(&self) -> &[usize] {
        &[0]
    }
    fn support(&self) -> Constraint {
        Constraint::Real
    }
    fn has_rsample(&self) -> bool {
        true
    }
    fn sample(&self, sample_shape: &[usize], _rng: &mut dyn RngCore) -> DistResult<DynTensor<D>> {
        let shape = extended_shape(sample_shape, self.log_factor.shape(), &[0]);
        Ok(DynTensor::zeros(&shape))
    }
    fn rsample(&self, sample_shape: &[usize], rng: &mut dyn RngCore) -> DistResult<DynTensor<D>> {
        self.sample(sample_shape, rng)
    }
    fn log_prob(&self, value: &DynTensor<D>) -> DistResult<DynTensor<D>> {
        let r = value.rank().saturating_sub(1);
        let batch = &value.shape()[..r];
        let shape =
            crate::tensor::broadcast_shapes(batch, self.log_factor.shape()).ok_or_else(|| {
                DistError::Tensor(crate::tensor::TensorError::Broadcast {
                    op: "Unit::log_prob",
                    lhs: batch.to_vec(),
                    rhs: self.log_factor.shape().to_vec(),
                })
            })?;
        Ok(self.log_factor.broadcast_to(&shape)?)
    }
    fn mean(&self) -> DistResult<DynTensor<D>> {
        self.sample(&[], &mut rand::rngs::mock::StepRng::new(0, 0))
    }
    fn variance(&self) -> DistResult<DynTensor<D>> {
        self.mean()
    }
    fn expand_box(&self, batch_shape: &[usize]) -> DistResult<BoxDist<D>> {
        Ok(Box::new(Unit::new(
            self.log_factor.broadcast_to(batch_shape)?,
        )))
    }
    fn clone_box(&self) -> BoxDist<D> {
        Box::new(self.clone())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}
