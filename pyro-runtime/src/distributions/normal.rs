//! The normal (Gaussian) distribution.

use std::any::Any;
use std::marker::PhantomData;

use rand::RngCore;

use super::param::{Dev2, Param, ParamMeta, Shape2};
use super::*;

/// `Normal(loc, scale)`: density `exp(-(x - loc)² / (2 scale²)) / (scale √(2π))`.
///
/// ```
/// use pyro::distributions::{Distribution, Normal};
/// let d = Normal::new(1.0, 2.0).unwrap();
/// assert_eq!(d.mean().unwrap().item().unwrap(), 1.0);
/// assert_eq!(d.variance().unwrap().item().unwrap(), 4.0);
/// assert!(Normal::new(0.0, -1.0).is_err()); // scale must be positive
/// ```
#[derive(Debug, Clone)]
pub struct Normal<S = dfdx::shapes::Rank0, D: Backend = crate::tensor::DefaultDevice> {
    loc: DynTensor<D>,
    scale: DynTensor<D>,
    batch_shape: Vec<usize>,
    _s: PhantomData<fn() -> S>,
}

impl Normal {
    /// Builds a normal from parameters of any accepted kind (`f32`, typed tensor or
    /// `DynTensor`); their shapes broadcast. Errors when `scale <= 0` (with validation on).
    pub fn new<L, R>(loc: L, scale: R) -> DistResult<Normal<Shape2<L, R>, Dev2<L, R>>>
    where
        L: ParamMeta + Param<Dev2<L, R>>,
        R: ParamMeta + Param<Dev2<L, R>>,
        L::Shape: param::JoinShape<R::Shape>,
        L::Dev: param::JoinDev<R::Dev>,
        <L::Dev as param::JoinDev<R::Dev>>::Out: param::ResolveDev,
    {
        Normal::build(loc.into_dyn(), scale.into_dyn())
    }
}

impl<D: Backend> Normal<DynShape, D> {
    /// Builds from run-time shaped parameters.
    pub fn from_dyn(loc: DynTensor<D>, scale: DynTensor<D>) -> DistResult<Self> {
        Self::build(loc, scale)
    }
}

impl<S, D: Backend> Normal<S, D> {
    fn build(loc: DynTensor<D>, scale: DynTensor<D>) -> DistResult<Self> {
        validate_param("Normal", "scale", &scale, &Constraint::Positive)?;
        validate_param("Normal", "loc", &loc, &Constraint::Real)?;
        let (p, batch_shape) = broadcast_params("Normal", &[&loc, &scale])?;
        let mut p = p.into_iter();
        Ok(Normal {
            loc: p.next().unwrap_or(loc),
            scale: p.next().unwrap_or(scale),
            batch_shape,
            _s: PhantomData,
        })
    }

    /// The location parameter.
    pub fn loc(&self) -> &DynTensor<D> {
        &self.loc
    }

    /// The scale parameter.
    pub fn scale(&self) -> &DynTensor<D> {
        &self.scale
    }

    /// The same distribution with parameters broadcast to `batch_shape`.
    pub fn expand<S2>(&self, batch_shape: &[usize]) -> DistResult<Normal<S2, D>> {
        Ok(Normal {
            loc: self.loc.broadcast_to(batch_shape)?,
            scale: self.scale.broadcast_to(batch_shape)?,
            batch_shape: batch_shape.to_vec(),
            _s: PhantomData,
        })
    }

    fn noise(&self, sample_shape: &[usize], rng: &mut dyn RngCore) -> DistResult<DynTensor<D>> {
        let shape = extended_shape(sample_shape, &self.batch_shape, &[]);
        let eps = std_normal_vec(numel(&shape), rng);
        Ok(DynTensor::from_vec(eps, &shape)?)
    }
}

use crate::tensor::numel;

impl<S: std::fmt::Debug + Clone + 'static, D: Backend> Distribution<D> for Normal<S, D> {
    fn name(&self) -> &'static str {
        "Normal"
    }
    fn batch_shape(&self) -> &[usize] {
        &self.batch_shape
    }
    fn event_shape(&self) -> &[usize] {
        &[]
    }
    fn support(&self) -> Constraint {
        Constraint::Real
    }
    fn has_rsample(&self) -> bool {
        true
    }
    fn sample(&self, sample_shape: &[usize], rng: &mut dyn RngCore) -> DistResult<DynTensor<D>> {
        Ok(self.rsample(sample_shape, rng)?.detach())
    }
    fn rsample(&self, sample_shape: &[usize], rng: &mut dyn RngCore) -> DistResult<DynTensor<D>> {
        let eps = self.noise(sample_shape, rng)?;
        Ok(eps.mul(&self.scale)?.add(&self.loc)?)
    }
    fn log_prob(&self, value: &DynTensor<D>) -> DistResult<DynTensor<D>> {
        validate_value("Normal", &Constraint::Real, value)?;
        let z = value.sub(&self.loc)?.div(&self.scale)?;
        let lp = z.square().mul_scalar(-0.5).sub(&self.scale.ln())?;
        Ok(lp.add_scalar(-HALF_LN_2PI))
    }
    fn mean(&self) -> DistResult<DynTensor<D>> {
        Ok(self.loc.clone())
    }
    fn variance(&self) -> DistResult<DynTensor<D>> {
        Ok(self.scale.square())
    }
    fn stddev(&self) -> DistResult<DynTensor<D>> {
        Ok(self.scale.clone())
    }
    fn expand_box(&self, batch_shape: &[usize]) -> DistResult<BoxDist<D>> {
        Ok(Box::new(self.expand::<S>(batch_shape)?))
    }
    fn clone_box(&self) -> BoxDist<D> {
        Box::new(self.clone())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn erased(&self) -> Option<BoxDist<D>> {
        Some(Box::new(self.expand::<DynShape>(&self.batch_shape).ok()?))
    }
}

impl<S: dfdx::shapes::Shape, D: Backend> TypedDistribution<D> for Normal<S, D> {
    type Shape = S;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distributions::testing::*;
    use dfdx::prelude::Cpu;

    #[test]
    fn log_prob_matches_scipy() {
        check_fixture("normal", |p| {
            Normal::new(p[0], p[1]).map(|d| Box::new(d) as BoxDist<Cpu>)
        });
    }

    #[test]
    fn sampler_moments_and_ks() {
        let d = Normal::new(1.5, 0.7).unwrap();
        check_sampler(&d, 1.5, 0.49, |x| {
            crate::tensor::special::scalar::ndtr((x - 1.5) / 0.7)
        });
    }

    #[test]
    fn rsample_gradients_match_finite_differences() {
        check_rsample_grad(&[0.3, 1.7], |p| {
            Normal::new(&p[0], &p[1]).map(|d| Box::new(d) as BoxDist<Cpu>)
        });
    }

    #[test]
    fn rejects_bad_scale() {
        crate::enable_validation(true);
        let e = Normal::new(0.0, -1.0).unwrap_err();
        assert!(
            matches!(e, DistError::InvalidParameter { param: "scale", .. }),
            "{e}"
        );
        assert!(Normal::new(0.0, f32::NAN).is_err());
    }

    #[test]
    fn typed_shapes_follow_parameters() {
        use dfdx::prelude::*;
        let dev = crate::tensor::default_device::<Cpu>();
        let m: crate::tensor::Tensor<(usize,)> =
            dev.tensor_from_vec(vec![0.0, 1.0, 2.0], (3,)).retaped();
        let d = Normal::new(m, 1.0).unwrap();
        assert_eq!(d.batch_shape(), &[3]);
        let x: crate::tensor::Tensor<(usize,)> = d.draw().unwrap();
        assert_eq!(x.shape().0, 3);
    }
}
