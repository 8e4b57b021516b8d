//! The log-normal distribution.

use std::any::Any;
use std::marker::PhantomData;

use rand::RngCore;

use super::host_map::masked_log_prob;
use super::param::{Dev2, Param, ParamMeta, Shape2};
use super::*;
use crate::tensor::Special;

/// `LogNormal(loc, scale)`: `exp(X)` for `X ~ Normal(loc, scale)`; support `x > 0`.
///
/// ```
/// use pyro::distributions::{Distribution, LogNormal};
/// let d = LogNormal::new(0.0, 1.0).unwrap();
/// let m = d.mean().unwrap().item().unwrap();
/// assert!((m - 0.5f32.exp()).abs() < 1e-6);
/// assert!(LogNormal::new(0.0, 0.0).is_err()); // scale must be positive
/// ```
#[derive(Debug, Clone)]
pub struct LogNormal<S = dfdx::shapes::Rank0, D: Backend = crate::tensor::DefaultDevice> {
    loc: DynTensor<D>,
    scale: DynTensor<D>,
    batch_shape: Vec<usize>,
    _s: PhantomData<fn() -> S>,
}

impl LogNormal {
    /// Builds a log-normal from parameters of any accepted kind (`f32`, typed tensor or
    /// `DynTensor`); their shapes broadcast. Errors when `scale <= 0` (with validation on).
    ///
    /// ```
    /// let d = pyro::distributions::LogNormal::new(1.0, 0.5).unwrap();
    /// assert_eq!(d.loc().item().unwrap(), 1.0);
    /// ```
    pub fn new<L, R>(loc: L, scale: R) -> DistResult<LogNormal<Shape2<L, R>, Dev2<L, R>>>
    where
        L: ParamMeta + Param<Dev2<L, R>>,
        R: ParamMeta + Param<Dev2<L, R>>,
        L::Shape: param::JoinShape<R::Shape>,
        L::Dev: param::JoinDev<R::Dev>,
        <L::Dev as param::JoinDev<R::Dev>>::Out: param::ResolveDev,
    {
        LogNormal::build(loc.into_dyn(), scale.into_dyn())
    }
}

impl<D: Backend> LogNormal<DynShape, D> {
    /// Builds from run-time shaped parameters.
    ///
    /// ```
    /// use pyro::distributions::{Distribution, LogNormal};
    /// use pyro::tensor::DynTensor;
    /// let loc = DynTensor::<dfdx::prelude::Cpu>::zeros(&[3]);
    /// let d = LogNormal::from_dyn(loc, DynTensor::scalar(1.0)).unwrap();
    /// assert_eq!(d.batch_shape(), &[3]);
    /// ```
    pub fn from_dyn(loc: DynTensor<D>, scale: DynTensor<D>) -> DistResult<Self> {
        Self::build(loc, scale)
    }
}

impl<S, D: Backend> LogNormal<S, D> {
    fn build(loc: DynTensor<D>, scale: DynTensor<D>) -> DistResult<Self> {
        validate_param("LogNormal", "scale", &scale, &Constraint::Positive)?;
        validate_param("LogNormal", "loc", &loc, &Constraint::Real)?;
        let (p, batch_shape) = broadcast_params("LogNormal", &[&loc, &scale])?;
        let mut p = p.into_iter();
        Ok(LogNormal {
            loc: p.next().unwrap_or(loc),
            scale: p.next().unwrap_or(scale),
            batch_shape,
            _s: PhantomData,
        })
    }

    /// The location parameter (mean of `ln x`).
    ///
    /// ```
    /// let d = pyro::distributions::LogNormal::new(2.0, 1.0).unwrap();
    /// assert_eq!(d.loc().item().unwrap(), 2.0);
    /// ```
    pub fn loc(&self) -> &DynTensor<D> {
        &self.loc
    }

    /// The scale parameter (standard deviation of `ln x`).
    ///
    /// ```
    /// let d = pyro::distributions::LogNormal::new(2.0, 0.5).unwrap();
    /// assert_eq!(d.scale().item().unwrap(), 0.5);
    /// ```
    pub fn scale(&self) -> &DynTensor<D> {
        &self.scale
    }

    /// The same distribution with parameters broadcast to `batch_shape`.
    ///
    /// ```
    /// use pyro::distributions::{Distribution, LogNormal};
    /// let d = LogNormal::new(0.0, 1.0).unwrap().expand::<(usize,)>(&[4]).unwrap();
    /// assert_eq!(d.batch_shape(), &[4]);
    /// ```
    pub fn expand<S2>(&self, batch_shape: &[usize]) -> DistResult<LogNormal<S2, D>> {
        Ok(LogNormal {
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

impl<S: std::fmt::Debug + Clone + 'static, D: Backend> Distribution<D> for LogNormal<S, D> {
    fn name(&self) -> &'static str {
        "LogNormal"
    }
    fn batch_shape(&self) -> &[usize] {
        &self.batch_shape
    }
    fn event_shape(&self) -> &[usize] {
        &[]
    }
    fn support(&self) -> Constraint {
        Constraint::Positive
    }
    fn has_rsample(&self) -> bool {
        true
    }
    fn sample(&self, sample_shape: &[usize], rng: &mut dyn RngCore) -> DistResult<DynTensor<D>> {
        Ok(self.rsample(sample_shape, rng)?.detach())
    }
    fn rsample(&self, sample_shape: &[usize], rng: &mut dyn RngCore) -> DistResult<DynTensor<D>> {
        let eps = self.noise(sample_shape, rng)?;
        Ok(eps.mul(&self.scale)?.add(&self.loc)?.exp())
    }
    fn log_prob(&self, value: &DynTensor<D>) -> DistResult<DynTensor<D>> {
        validate_value("LogNormal", &Constraint::Positive, value)?;
        masked_log_prob(value, &Constraint::Positive, 1.0, |v| {
            let lx = v.ln();
            let z = lx.sub(&self.loc)?.div(&self.scale)?;
            let lp = z
                .square()
                .mul_scalar(-0.5)
                .sub(&self.scale.ln())?
                .sub(&lx)?;
            Ok(lp.add_scalar(-HALF_LN_2PI))
        })
    }
    fn mean(&self) -> DistResult<DynTensor<D>> {
        Ok(self.scale.square().mul_scalar(0.5).add(&self.loc)?.exp())
    }
    fn variance(&self) -> DistResult<DynTensor<D>> {
        // (exp(σ²) - 1) exp(2μ + σ²)
        let s2 = self.scale.square();
        let e = self.loc.mul_scalar(2.0).add(&s2)?.exp();
        Ok(s2.expm1().mul(&e)?)
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

impl<S: dfdx::shapes::Shape, D: Backend> TypedDistribution<D> for LogNormal<S, D> {
    type Shape = S;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distributions::testing::*;
    use crate::tensor::special::scalar::ndtr;
    use dfdx::prelude::Cpu;

    fn boxed(p: &[f32]) -> DistResult<BoxDist<Cpu>> {
        LogNormal::new(p[0], p[1]).map(|d| Box::new(d) as BoxDist<Cpu>)
    }

    #[test]
    fn log_prob_matches_scipy() {
        check_fixture("lognormal", boxed);
    }

    #[test]
    fn mean_and_variance_match_scipy() {
        check_moments_fixture("lognormal", boxed);
    }

    #[test]
    fn sampler_moments_and_ks() {
        let d = LogNormal::new(0.3, 0.4).unwrap();
        let (m, v) = (
            (0.3f64 + 0.08).exp(),
            (0.16f64.exp() - 1.0) * (0.6f64 + 0.16).exp(),
        );
        check_sampler(&d, m, v, |x| ndtr((x.ln() - 0.3) / 0.4));
    }

    #[test]
    fn rsample_gradients_match_finite_differences() {
        check_rsample_grad(&[0.3, 0.7], |p| {
            LogNormal::new(&p[0], &p[1]).map(|d| Box::new(d) as BoxDist<Cpu>)
        });
    }

    #[test]
    fn rejects_bad_parameters_and_values() {
        crate::enable_validation(true);
        let e = LogNormal::new(0.0, -1.0).unwrap_err();
        assert!(
            matches!(e, DistError::InvalidParameter { param: "scale", .. }),
            "{e}"
        );
        let e = LogNormal::new(f32::NAN, 1.0).unwrap_err();
        assert!(matches!(
            e,
            DistError::InvalidParameter { param: "loc", .. }
        ));
        let d = LogNormal::new(0.0, 1.0).unwrap();
        let e = d.log_prob(&DynTensor::scalar(-1.0)).unwrap_err();
        assert!(matches!(e, DistError::OutOfSupport { .. }), "{e}");
    }

    #[test]
    fn expand_and_typed_shapes() {
        use dfdx::prelude::*;
        let dev = crate::tensor::default_device::<Cpu>();
        let m: crate::tensor::Tensor<(usize,)> =
            dev.tensor_from_vec(vec![0.0, 1.0, 2.0], (3,)).retaped();
        let d = LogNormal::new(m, 1.0).unwrap();
        assert_eq!(d.batch_shape(), &[3]);
        let x: crate::tensor::Tensor<(usize,)> = d.draw().unwrap();
        assert_eq!(x.shape().0, 3);
        let e = d.expand::<(usize, usize)>(&[2, 3]).unwrap();
        assert_eq!(e.batch_shape(), &[2, 3]);
        use rand::SeedableRng;
        let mut rng = rand::rngs::StdRng::seed_from_u64(0);
        let s = e.sample(&[4], &mut rng).unwrap();
        assert_eq!(s.shape(), &[4, 2, 3]);
        assert_eq!(e.log_prob(&s).unwrap().shape(), &[4, 2, 3]);
        assert_eq!(d.expand_box(&[5, 3]).unwrap().batch_shape(), &[5, 3]);
        assert!(d.expand::<(usize,)>(&[4]).is_err());
    }
}
