//! `Independent`: reinterprets batch dims as event dims (Pyro's `.to_event(n)`).

use std::any::Any;
use std::marker::PhantomData;

use rand::RngCore;

use super::*;

/// Wraps a distribution so its rightmost `n` batch dims become event dims: `log_prob` sums
/// over them.
///
/// ```
/// use pyro::distributions::{Distribution, DistributionExt, Normal};
/// use pyro::tensor::DynTensor;
/// let loc = DynTensor::<dfdx::prelude::Cpu>::zeros(&[3]);
/// let d = Normal::from_dyn(loc, DynTensor::scalar(1.0)).unwrap().to_event(1).unwrap();
/// assert_eq!(d.batch_shape(), &[] as &[usize]);
/// assert_eq!(d.event_shape(), &[3]);
/// let lp = d.log_prob(&DynTensor::zeros(&[3])).unwrap();
/// assert_eq!(lp.shape(), &[] as &[usize]);
/// ```
#[derive(Debug, Clone)]
pub struct Independent<T, D: Backend> {
    base: T,
    n: usize,
    batch_shape: Vec<usize>,
    event_shape: Vec<usize>,
    _d: PhantomData<fn() -> D>,
}

impl<T: Distribution<D>, D: Backend> Independent<T, D> {
    /// Reinterprets the rightmost `n` batch dims of `base`; errors if it has fewer.
    pub fn new(base: T, n: usize) -> DistResult<Self> {
        let b = base.batch_shape();
        if n > b.len() {
            return Err(DistError::InvalidParameter {
                dist: "Independent",
                param: "reinterpreted_batch_ndims",
                reason: format!("{n} exceeds the base batch shape {b:?}"),
            });
        }
        let split = b.len() - n;
        let mut event_shape = b[split..].to_vec();
        event_shape.extend_from_slice(base.event_shape());
        Ok(Independent {
            batch_shape: b[..split].to_vec(),
            event_shape,
            base,
            n,
            _d: PhantomData,
        })
    }

    /// The wrapped distribution.
    pub fn base(&self) -> &T {
        &self.base
    }

    /// The number of reinterpreted dims.
    pub fn reinterpreted_batch_ndims(&self) -> usize {
        self.n
    }
}

impl<T: Distribution<D> + Clone, D: Backend> Distribution<D> for Independent<T, D> {
    fn name(&self) -> &'static str {
        self.base.name()
    }
    fn batch_shape(&self) -> &[usize] {
        &self.batch_shape
    }
    fn event_shape(&self) -> &[usize] {
        &self.event_shape
    }
    fn support(&self) -> Constraint {
        match self.base.support() {
            Constraint::Real if self.n > 0 => Constraint::RealVector,
            c => c,
        }
    }
    fn has_rsample(&self) -> bool {
        self.base.has_rsample()
    }
    fn is_discrete(&self) -> bool {
        self.base.is_discrete()
    }
    fn sample(&self, sample_shape: &[usize], rng: &mut dyn RngCore) -> DistResult<DynTensor<D>> {
        self.base.sample(sample_shape, rng)
    }
    fn rsample(&self, sample_shape: &[usize], rng: &mut dyn RngCore) -> DistResult<DynTensor<D>> {
        self.base.rsample(sample_shape, rng)
    }
    fn rsample_with_log_prob(
        &self,
        sample_shape: &[usize],
        rng: &mut dyn RngCore,
    ) -> DistResult<(DynTensor<D>, Option<DynTensor<D>>)> {
        let (x, lp) = self.base.rsample_with_log_prob(sample_shape, rng)?;
        let lp = match lp {
            Some(lp) => Some(lp.sum_rightmost(self.n)?),
            None => None,
        };
        Ok((x, lp))
    }
    fn log_prob(&self, value: &DynTensor<D>) -> DistResult<DynTensor<D>> {
        Ok(self.base.log_prob(value)?.sum_rightmost(self.n)?)
    }
    fn mean(&self) -> DistResult<DynTensor<D>> {
        self.base.mean()
    }
    fn variance(&self) -> DistResult<DynTensor<D>> {
        self.base.variance()
    }
    fn expand_box(&self, batch_shape: &[usize]) -> DistResult<BoxDist<D>> {
        let mut full = batch_shape.to_vec();
        let b = self.base.batch_shape();
        full.extend_from_slice(&b[b.len() - self.n..]);
        let base = self.base.expand_box(&full)?;
        Ok(Box::new(Independent::new(base, self.n)?))
    }
    fn clone_box(&self) -> BoxDist<D> {
        Box::new(self.clone())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn erased(&self) -> Option<BoxDist<D>> {
        let base = self.base.erased().unwrap_or_else(|| self.base.clone_box());
        Some(Box::new(Independent::new(base, self.n).ok()?))
    }
}

impl<D: Backend> Distribution<D> for BoxDist<D> {
    fn name(&self) -> &'static str {
        (**self).name()
    }
    fn batch_shape(&self) -> &[usize] {
        (**self).batch_shape()
    }
    fn event_shape(&self) -> &[usize] {
        (**self).event_shape()
    }
    fn support(&self) -> Constraint {
        (**self).support()
    }
    fn has_rsample(&self) -> bool {
        (**self).has_rsample()
    }
    fn is_discrete(&self) -> bool {
        (**self).is_discrete()
    }
    fn sample(&self, s: &[usize], rng: &mut dyn RngCore) -> DistResult<DynTensor<D>> {
        (**self).sample(s, rng)
    }
    fn rsample(&self, s: &[usize], rng: &mut dyn RngCore) -> DistResult<DynTensor<D>> {
        (**self).rsample(s, rng)
    }
    fn rsample_with_log_prob(
        &self,
        s: &[usize],
        rng: &mut dyn RngCore,
    ) -> DistResult<(DynTensor<D>, Option<DynTensor<D>>)> {
        (**self).rsample_with_log_prob(s, rng)
    }
    fn log_prob(&self, v: &DynTensor<D>) -> DistResult<DynTensor<D>> {
        (**self).log_prob(v)
    }
    fn mean(&self) -> DistResult<DynTensor<D>> {
        (**self).mean()
    }
    fn variance(&self) -> DistResult<DynTensor<D>> {
        (**self).variance()
    }
    fn stddev(&self) -> DistResult<DynTensor<D>> {
        (**self).stddev()
    }
    fn expand_box(&self, b: &[usize]) -> DistResult<BoxDist<D>> {
        (**self).expand_box(b)
    }
    fn clone_box(&self) -> BoxDist<D> {
        (**self).clone_box()
    }
    fn as_any(&self) -> &dyn Any {
        (**self).as_any()
    }
    fn erased(&self) -> Option<BoxDist<D>> {
        (**self).erased()
    }
}
