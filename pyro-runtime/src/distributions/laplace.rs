//! The Laplace distribution.

use std::any::Any;
use std::marker::PhantomData;

use rand::RngCore;

use super::host_map::open_uniform_f64;
use super::param::{Dev2, Param, ParamMeta, Shape2};
use super::*;

/// `Laplace(loc, scale)`: density `exp(-|x - loc| / scale) / (2 scale)` on the reals.
///
/// ```
/// use pyro::distributions::{Distribution, Laplace};
/// let d = Laplace::new(1.0, 2.0).unwrap();
/// assert_eq!(d.mean().unwrap().item().unwrap(), 1.0);
/// assert_eq!(d.variance().unwrap().item().unwrap(), 8.0);
/// assert!(Laplace::new(0.0, -3.0).is_err()); // scale must be positive
/// ```
#[derive(Debug, Clone)]
pub struct Laplace<S = dfdx::shapes::Rank0, D: Backend = crate::tensor::DefaultDevice> {
    loc: DynTensor<D>,
    scale: DynTensor<D>,
    batch_shape: Vec<usize>,
    _s: PhantomData<fn() -> S>,
}

impl Laplace {
    /// Builds a Laplace from parameters of any accepted kind (`f32`, typed tensor or
    /// `DynTensor`); their shapes broadcast. Errors when `scale <= 0` (with validation on).
    ///
    /// ```
    /// let d = pyro::distributions::Laplace::new(1.0, 0.5).unwrap();
    /// assert_eq!(d.loc().item().unwrap(), 1.0);
    /// ```
    pub fn new<L, R>(loc: L, scale: R) -> DistResult<Laplace<Shape2<L, R>, Dev2<L, R>>>
    where
        L: ParamMeta + Param<Dev2<L, R>>,
        R: ParamMeta + Param<Dev2<L, R>>,
        L::Shape: param::JoinShape<R::Shape>,
        L::Dev: param::JoinDev<R::Dev>,
        <L::Dev as param::JoinDev<R::Dev>>::Out: param::ResolveDev,
    {
        Laplace::build(loc.into_dyn(), scale.into_dyn())
    }
}

impl<D: Backend> Laplace<DynShape, D> {
    /// Builds from run-time shaped parameters.
    ///
    /// ```
    /// use pyro::distributions::{Distribution, Laplace};
    /// use pyro::tensor::DynTensor;
    /// let loc = DynTensor::<dfdx::prelude::Cpu>::zeros(&[3]);
    /// let d = Laplace::from_dyn(loc, DynTensor::scalar(1.0)).unwrap();
    /// assert_eq!(d.batch_shape(), &[3]);
    /// ```
    pub fn from_dyn(loc: DynTensor<D>, scale: DynTensor<D>) -> DistResult<Self> {
        Self::build(loc, scale)
    }
}

impl<S, D: Backend> Laplace<S, D> {
    fn build(loc: DynTensor<D>, scale: DynTensor<D>) -> DistResult<Self> {
        validate_param("Laplace", "scale", &scale, &Constraint::Positive)?;
        validate_param("Laplace", "loc", &loc, &Constraint::Real)?;
        let (p, batch_shape) = broadcast_params("Laplace", &[&loc, &scale])?;
        let mut p = p.into_iter();
        Ok(Laplace {
            loc: p.next().unwrap_or(loc),
            scale: p.next().unwrap_or(scale),
            batch_shape,
            _s: PhantomData,
        })
    }

    /// The location parameter (mean and median).
    ///
    /// ```
    /// let d = pyro::distributions::Laplace::new(2.0, 1.0).unwrap();
    /// assert_eq!(d.loc().item().unwrap(), 2.0);
    /// ```
    pub fn loc(&self) -> &DynTensor<D> {
        &self.loc
    }

    /// The scale parameter (the mean absolute deviation).
    ///
    /// ```
    /// let d = pyro::distributions::Laplace::new(2.0, 0.5).unwrap();
    /// assert_eq!(d.scale().item().unwrap(), 0.5);
    /// ```
    pub fn scale(&self) -> &DynTensor<D> {
        &self.scale
    }

    /// The same distribution with parameters broadcast to `batch_shape`.
    ///
    /// ```
    /// use pyro::distributions::{Distribution, Laplace};
    /// let d = Laplace::new(0.0, 1.0).unwrap().expand::<(usize,)>(&[4]).unwrap();
    /// assert_eq!(d.batch_shape(), &[4]);
    /// ```
    pub fn expand<S2>(&self, batch_shape: &[usize]) -> DistResult<Laplace<S2, D>> {
        Ok(Laplace {
            loc: self.loc.broadcast_to(batch_shape)?,
            scale: self.scale.broadcast_to(batch_shape)?,
            batch_shape: batch_shape.to_vec(),
            _s: PhantomData,
        })
    }

    /// Standard Laplace draws by inverting the cdf: `ln(2u)` for `u < 1/2`,
    /// `-ln(2(1 - u))` otherwise.
    fn noise(&self, sample_shape: &[usize], rng: &mut dyn RngCore) -> DistResult<DynTensor<D>> {
        let shape = extended_shape(sample_shape, &self.batch_shape, &[]);
        let eps: Vec<f32> = open_uniform_f64(numel(&shape), rng)
            .into_iter()
            .map(|u| {
                if u < 0.5 {
                    (2.0 * u).ln() as f32
                } else {
                    -(2.0 * (1.0 - u)).ln() as f32
                }
            })
            .collect();
        Ok(DynTensor::from_vec(eps, &shape)?)
    }
}

use crate::tensor::numel;

impl<S: std::fmt::Debug + Clone + 'static, D: Backend> Distribution<D> for Laplace<S, D> {
    fn name(&self) -> &'static str {
        "Laplace"
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
        validate_value("Laplace", &Constraint::Real, value)?;
        let z = value.sub(&self.loc)?.abs().div(&self.scale)?;
        let lp = z.neg().sub(&self.scale.ln())?;
        Ok(lp.add_scalar(-std::f32::consts::LN_2))
    }
    fn mean(&self) -> DistResult<DynTensor<D>> {
        Ok(self.loc.clone())
    }
    fn variance(&self) -> DistResult<DynTensor<D>> {
        Ok(self.scale.square().mul_scalar(2.0))
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

impl<S: dfdx::shapes::Shape, D: Backend> TypedDistribution<D> for Laplace<S, D> {
    type Shape = S;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distributions::testing::*;
    use dfdx::prelude::Cpu;

    fn boxed(p: &[f32]) -> DistResult<BoxDist<Cpu>> {
        Laplace::new(p[0], p[1]).map(|d| Box::new(d) as BoxDist<Cpu>)
    }

    #[test]
    fn log_prob_matches_scipy() {
        check_fixture("laplace", boxed);
    }

    #[test]
    fn mean_and_variance_match_scipy() {
        check_moments_fixture("laplace", boxed);
    }

    #[test]
    fn sampler_moments_and_ks() {
        let d = Laplace::new(0.5, 1.3).unwrap();
        let s = 1.3f32 as f64;
        check_sampler(&d, 0.5, 2.0 * s * s, |x| {
            let z = (x - 0.5) / s;
            if z < 0.0 {
                0.5 * z.exp()
            } else {
                1.0 - 0.5 * (-z).exp()
            }
        });
    }

    #[test]
    fn rsample_gradients_match_finite_differences() {
        check_rsample_grad(&[0.3, 0.7], |p| {
            Laplace::new(&p[0], &p[1]).map(|d| Box::new(d) as BoxDist<Cpu>)
        });
    }

    #[test]
    fn rejects_bad_parameters_and_values() {
        crate::enable_validation(true);
        let e = Laplace::new(0.0, -1.0).unwrap_err();
        assert!(
            matches!(e, DistError::InvalidParameter { param: "scale", .. }),
            "{e}"
        );
        let e = Laplace::new(f32::NAN, 1.0).unwrap_err();
        assert!(matches!(
            e,
            DistError::InvalidParameter { param: "loc", .. }
        ));
        let d = Laplace::new(0.0, 1.0).unwrap();
        let e = d.log_prob(&DynTensor::scalar(f32::NAN)).unwrap_err();
        assert!(matches!(e, DistError::OutOfSupport { .. }), "{e}");
    }

    #[test]
    fn expand_and_typed_shapes() {
        use dfdx::prelude::*;
        let dev = crate::tensor::default_device::<Cpu>();
        let m: crate::tensor::Tensor<(usize,)> =
            dev.tensor_from_vec(vec![0.0, -1.0, 2.0], (3,)).retaped();
        let d = Laplace::new(m, 1.0).unwrap();
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
