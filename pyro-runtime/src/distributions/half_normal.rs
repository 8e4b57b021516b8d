//! The half-normal distribution.

use rand::RngCore;

use super::boilerplate::{elementwise_params, impl_distribution};
use super::host_map::{masked_log_prob, noise};
use super::*;

elementwise_params! {
    /// `HalfNormal(scale)`: `|X|` for `X ~ Normal(0, scale)`; density
    /// `√2 exp(-x² / (2 scale²)) / (scale √π)` on `x >= 0`.
    ///
    /// ```
    /// use pyro::distributions::{Distribution, HalfNormal};
    /// let d = HalfNormal::new(2.0).unwrap();
    /// let m = d.mean().unwrap().item().unwrap();
    /// assert!((m - 2.0 * (2.0 / std::f32::consts::PI).sqrt()).abs() < 1e-6);
    /// assert!(HalfNormal::new(-1.0).is_err()); // scale must be positive
    /// ```
    pub struct HalfNormal {
        /// The scale parameter (that of the underlying normal).
        scale: R = 0.5,
    }
    /// Errors when `scale <= 0` (with validation on).
    new;
    validate { scale: Positive }
}

impl_distribution!(HalfNormal[scalar, reparameterized] {
    fn support(&self) -> Constraint {
        Constraint::NonNegative
    }
    fn rsample(&self, sample_shape: &[usize], rng: &mut dyn RngCore) -> DistResult<DynTensor<D>> {
        // `|ε|` for standard normal `ε`.
        let eps = noise(sample_shape, &self.batch_shape, rng, |n, rng| {
            std_normal_vec(n, rng).into_iter().map(f32::abs).collect()
        })?;
        Ok(eps.mul(&self.scale)?)
    }
    fn log_prob(&self, value: &DynTensor<D>) -> DistResult<DynTensor<D>> {
        validate_value("HalfNormal", &Constraint::NonNegative, value)?;
        masked_log_prob(value, &Constraint::NonNegative, 0.0, |v| {
            let z = v.div(&self.scale)?;
            let lp = z.square().mul_scalar(-0.5).sub(&self.scale.ln())?;
            Ok(lp.add_scalar(std::f32::consts::LN_2 - HALF_LN_2PI))
        })
    }
    fn mean(&self) -> DistResult<DynTensor<D>> {
        Ok(self
            .scale
            .mul_scalar((2.0 / std::f64::consts::PI).sqrt() as f32))
    }
    fn variance(&self) -> DistResult<DynTensor<D>> {
        Ok(self
            .scale
            .square()
            .mul_scalar((1.0 - 2.0 / std::f64::consts::PI) as f32))
    }
});

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distributions::testing::*;
    use dfdx::prelude::Cpu;

    fn boxed(p: &[f32]) -> DistResult<BoxDist<Cpu>> {
        HalfNormal::new(p[0]).map(|d| Box::new(d) as BoxDist<Cpu>)
    }

    #[test]
    fn log_prob_matches_scipy() {
        check_fixture("halfnormal", boxed);
    }

    #[test]
    fn mean_and_variance_match_scipy() {
        check_moments_fixture("halfnormal", boxed);
    }

    #[test]
    fn sampler_moments_and_ks() {
        let d = HalfNormal::new(1.7).unwrap();
        let pi = std::f64::consts::PI;
        let s = 1.7f32 as f64;
        check_sampler(&d, s * (2.0 / pi).sqrt(), s * s * (1.0 - 2.0 / pi), |x| {
            libm::erf(x / (s * std::f64::consts::SQRT_2))
        });
    }

    #[test]
    fn rsample_gradients_match_finite_differences() {
        check_rsample_grad(&[0.8], |p| {
            HalfNormal::new(&p[0]).map(|d| Box::new(d) as BoxDist<Cpu>)
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
        let d = HalfNormal::new(typed_vec(&[0.5, 1.0, 2.0])).unwrap();
        check_expand_and_typed_shapes(&d, &d.expand::<(usize, usize)>(&[2, 3]).unwrap());
        assert!(d.expand::<(usize,)>(&[4]).is_err());
    }
}
