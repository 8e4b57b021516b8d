//! The exponential distribution.

use rand::RngCore;

use super::boilerplate::{elementwise_params, impl_distribution};
use super::host_map::{masked_log_prob, uniform_noise};
use super::*;

elementwise_params! {
    /// `Exponential(rate)`: density `rate · exp(-rate · x)` on `x >= 0`.
    ///
    /// ```
    /// use pyro::distributions::{Distribution, Exponential};
    /// let d = Exponential::new(2.0).unwrap();
    /// assert_eq!(d.mean().unwrap().item().unwrap(), 0.5);
    /// assert_eq!(d.variance().unwrap().item().unwrap(), 0.25);
    /// assert!(Exponential::new(-1.0).is_err()); // rate must be positive
    /// ```
    pub struct Exponential {
        /// The rate parameter (the inverse of the mean).
        rate: R = 0.5,
    }
    /// Errors when `rate <= 0` (with validation on).
    new;
    validate { rate: Positive }
}

impl_distribution!(Exponential[scalar, reparameterized] {
    fn support(&self) -> Constraint {
        Constraint::NonNegative
    }
    fn rsample(&self, sample_shape: &[usize], rng: &mut dyn RngCore) -> DistResult<DynTensor<D>> {
        // `-ln u` for uniform `u`: standard exponential draws.
        let eps = uniform_noise(sample_shape, &self.batch_shape, rng, |u| -u.ln())?;
        Ok(eps.div(&self.rate)?)
    }
    fn log_prob(&self, value: &DynTensor<D>) -> DistResult<DynTensor<D>> {
        validate_value("Exponential", &Constraint::NonNegative, value)?;
        masked_log_prob(value, &Constraint::NonNegative, 0.0, |v| {
            Ok(self.rate.ln().sub(&v.mul(&self.rate)?)?)
        })
    }
    fn mean(&self) -> DistResult<DynTensor<D>> {
        Ok(self.rate.recip())
    }
    fn variance(&self) -> DistResult<DynTensor<D>> {
        Ok(self.rate.square().recip())
    }
});

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distributions::testing::*;
    use dfdx::prelude::Cpu;

    fn boxed(p: &[f32]) -> DistResult<BoxDist<Cpu>> {
        Exponential::new(p[0]).map(|d| Box::new(d) as BoxDist<Cpu>)
    }

    #[test]
    fn log_prob_matches_scipy() {
        check_fixture("exponential", boxed);
    }

    #[test]
    fn mean_and_variance_match_scipy() {
        check_moments_fixture("exponential", boxed);
    }

    #[test]
    fn sampler_moments_and_ks() {
        let d = Exponential::new(1.7).unwrap();
        let r = 1.7f32 as f64;
        check_sampler(&d, 1.0 / r, 1.0 / (r * r), |x| -libm::expm1(-r * x));
    }

    #[test]
    fn rsample_gradients_match_finite_differences() {
        check_rsample_grad(&[0.8], |p| {
            Exponential::new(&p[0]).map(|d| Box::new(d) as BoxDist<Cpu>)
        });
    }

    #[test]
    fn rejects_bad_parameters_and_values() {
        check_rejects(
            boxed,
            &[(&[0.0], "rate"), (&[-2.0], "rate"), (&[f32::NAN], "rate")],
            &[1.0],
            -0.5,
        );
    }

    #[test]
    fn expand_and_typed_shapes() {
        let d = Exponential::new(typed_vec(&[0.5, 1.0, 2.0])).unwrap();
        check_expand_and_typed_shapes(&d, &d.expand::<(usize, usize)>(&[2, 3]).unwrap());
        assert!(d.expand::<(usize,)>(&[4]).is_err());
    }
}
