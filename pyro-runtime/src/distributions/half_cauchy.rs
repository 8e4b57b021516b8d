//! The half-Cauchy distribution.

use rand::RngCore;

use super::boilerplate::{elementwise_params, impl_distribution};
use super::host_map::{masked_log_prob, uniform_noise};
use super::*;
use crate::tensor::Special;

elementwise_params! {
    /// `HalfCauchy(scale)`: `|X|` for `X ~ Cauchy(0, scale)`; density
    /// `2 / (π scale (1 + (x / scale)²))` on `x >= 0`. Its mean and variance are infinite (as in
    /// torch, they are returned as `+inf`).
    ///
    /// ```
    /// use pyro::distributions::{Distribution, HalfCauchy};
    /// let d = HalfCauchy::new(2.0).unwrap();
    /// assert_eq!(d.mean().unwrap().item().unwrap(), f32::INFINITY);
    /// assert!(HalfCauchy::new(-1.0).is_err()); // scale must be positive
    /// ```
    pub struct HalfCauchy {
        /// The scale parameter (the median of the distribution).
        scale: R = 0.5,
    }
    /// Errors when `scale <= 0` (with validation on).
    new;
    validate { scale: Positive }
}

impl_distribution!(HalfCauchy[scalar, reparameterized] {
    fn support(&self) -> Constraint {
        Constraint::NonNegative
    }
    fn rsample(&self, sample_shape: &[usize], rng: &mut dyn RngCore) -> DistResult<DynTensor<D>> {
        // `|tan(π (u - 1/2))|`: the absolute value of a standard Cauchy draw.
        let eps = uniform_noise(sample_shape, &self.batch_shape, rng, |u| {
            (std::f64::consts::PI * (u - 0.5)).tan().abs()
        })?;
        Ok(eps.mul(&self.scale)?)
    }
    fn log_prob(&self, value: &DynTensor<D>) -> DistResult<DynTensor<D>> {
        validate_value("HalfCauchy", &Constraint::NonNegative, value)?;
        masked_log_prob(value, &Constraint::NonNegative, 0.0, |v| {
            let z = v.div(&self.scale)?;
            let lp = z.square().log1p().neg().sub(&self.scale.ln())?;
            Ok(lp.add_scalar((2.0 / std::f64::consts::PI).ln() as f32))
        })
    }
    fn mean(&self) -> DistResult<DynTensor<D>> {
        Ok(DynTensor::full(&self.batch_shape, f32::INFINITY))
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
        HalfCauchy::new(p[0]).map(|d| Box::new(d) as BoxDist<Cpu>)
    }

    #[test]
    fn log_prob_matches_scipy() {
        check_fixture("halfcauchy", boxed);
    }

    #[test]
    fn mean_and_variance_match_scipy() {
        check_moments_fixture("halfcauchy", boxed);
    }

    #[test]
    fn sampler_ks() {
        // Heavy tails: no moments to compare, KS only.
        let d = HalfCauchy::new(1.7).unwrap();
        let s = 1.7f32 as f64;
        check_sampler_ks(&d, |x| 2.0 / std::f64::consts::PI * (x / s).atan());
    }

    #[test]
    fn rsample_gradients_match_finite_differences() {
        check_rsample_grad(&[0.8], |p| {
            HalfCauchy::new(&p[0]).map(|d| Box::new(d) as BoxDist<Cpu>)
        });
    }

    #[test]
    fn rejects_bad_parameters_and_values() {
        check_rejects(
            boxed,
            &[
                (&[0.0], "scale"),
                (&[-2.0], "scale"),
                (&[f32::NAN], "scale"),
            ],
            &[1.0],
            -0.5,
        );
    }

    #[test]
    fn expand_and_typed_shapes() {
        let d = HalfCauchy::new(typed_vec(&[0.5, 1.0, 2.0])).unwrap();
        check_expand_and_typed_shapes(&d, &d.expand::<(usize, usize)>(&[2, 3]).unwrap());
        assert!(d.expand::<(usize,)>(&[4]).is_err());
    }
}
