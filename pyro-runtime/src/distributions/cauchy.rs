//! The Cauchy distribution.

use rand::RngCore;

use super::boilerplate::{elementwise_params, impl_distribution};
use super::host_map::uniform_noise;
use super::*;
use crate::tensor::Special;

elementwise_params! {
    /// `Cauchy(loc, scale)`: density `1 / (π scale (1 + ((x - loc) / scale)²))` on the reals.
    /// Its mean does not exist ([`DistError::Undefined`]); its variance is returned as `+inf`, as
    /// torch does.
    ///
    /// ```
    /// use pyro::distributions::{DistError, Distribution, Cauchy};
    /// let d = Cauchy::new(1.0, 2.0).unwrap();
    /// assert!(matches!(d.mean(), Err(DistError::Undefined { .. })));
    /// let lp = d.log_prob(&pyro::tensor::DynTensor::scalar(1.0)).unwrap().item().unwrap();
    /// assert!((lp + (2.0 * std::f32::consts::PI).ln()).abs() < 1e-6);
    /// assert!(Cauchy::new(0.0, 0.0).is_err()); // scale must be positive
    /// ```
    pub struct Cauchy {
        /// The location parameter (the median).
        loc: L = 1.0,
        /// The scale parameter (half the interquartile range).
        scale: R = 0.5,
    }
    /// Errors when `scale <= 0` (with validation on).
    new;
    validate { scale: Positive, loc: Real }
}

impl_distribution!(Cauchy[scalar, reparameterized] {
    fn support(&self) -> Constraint {
        Constraint::Real
    }
    fn rsample(&self, sample_shape: &[usize], rng: &mut dyn RngCore) -> DistResult<DynTensor<D>> {
        // `tan(π (u - 1/2))` for uniform `u`: standard Cauchy draws.
        let eps = uniform_noise(sample_shape, &self.batch_shape, rng, |u| {
            (std::f64::consts::PI * (u - 0.5)).tan()
        })?;
        Ok(eps.mul(&self.scale)?.add(&self.loc)?)
    }
    fn log_prob(&self, value: &DynTensor<D>) -> DistResult<DynTensor<D>> {
        validate_value("Cauchy", &Constraint::Real, value)?;
        let z = value.sub(&self.loc)?.div(&self.scale)?;
        let lp = z.square().log1p().neg().sub(&self.scale.ln())?;
        Ok(lp.add_scalar(-std::f64::consts::PI.ln() as f32))
    }
    fn mean(&self) -> DistResult<DynTensor<D>> {
        Err(DistError::Undefined {
            dist: "Cauchy",
            what: "the mean",
        })
    }
    fn variance(&self) -> DistResult<DynTensor<D>> {
        Ok(DynTensor::full(&self.batch_shape, f32::INFINITY))
    }
});

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distributions::testing::*;
    use dfdx::prelude::Cpu;

    fn boxed(p: &[f32]) -> DistResult<BoxDist<Cpu>> {
        Cauchy::new(p[0], p[1]).map(|d| Box::new(d) as BoxDist<Cpu>)
    }

    #[test]
    fn log_prob_matches_scipy() {
        check_fixture("cauchy", boxed);
    }

    #[test]
    fn mean_and_variance_match_scipy() {
        check_moments_fixture("cauchy", boxed);
    }

    #[test]
    fn sampler_ks() {
        // Heavy tails: no moments to compare, KS only.
        let d = Cauchy::new(-0.5, 1.5).unwrap();
        check_sampler_ks(&d, |x| {
            0.5 + ((x + 0.5) / 1.5).atan() / std::f64::consts::PI
        });
    }

    #[test]
    fn rsample_gradients_match_finite_differences() {
        check_rsample_grad(&[0.3, 0.7], |p| {
            Cauchy::new(&p[0], &p[1]).map(|d| Box::new(d) as BoxDist<Cpu>)
        });
    }

    #[test]
    fn rejects_bad_parameters_and_values() {
        check_rejects(
            boxed,
            &[(&[0.0, -1.0], "scale"), (&[f32::NAN, 1.0], "loc")],
            &[0.0, 1.0],
            f32::NAN,
        );
    }

    #[test]
    fn expand_and_typed_shapes() {
        let d = Cauchy::new(typed_vec(&[0.0, -1.0, 2.0]), 1.0).unwrap();
        check_expand_and_typed_shapes(&d, &d.expand::<(usize, usize)>(&[2, 3]).unwrap());
        assert!(d.expand::<(usize,)>(&[4]).is_err());
    }
}
