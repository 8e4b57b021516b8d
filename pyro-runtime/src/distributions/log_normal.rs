//! The log-normal distribution.

use rand::RngCore;

use super::boilerplate::{elementwise_params, impl_distribution};
use super::host_map::{masked_log_prob, noise};
use super::*;
use crate::tensor::Special;

elementwise_params! {
    /// `LogNormal(loc, scale)`: `exp(X)` for `X ~ Normal(loc, scale)`; support `x > 0`.
    ///
    /// ```
    /// use pyro::distributions::{Distribution, LogNormal};
    /// let d = LogNormal::new(0.0, 1.0).unwrap();
    /// let m = d.mean().unwrap().item().unwrap();
    /// assert!((m - 0.5f32.exp()).abs() < 1e-6);
    /// assert!(LogNormal::new(0.0, 0.0).is_err()); // scale must be positive
    /// ```
    pub struct LogNormal {
        /// The location parameter (mean of `ln x`).
        loc: L = 1.0,
        /// The scale parameter (standard deviation of `ln x`).
        scale: R = 0.5,
    }
    /// Errors when `scale <= 0` (with validation on).
    new;
    validate { scale: Positive, loc: Real }
}

impl_distribution!(LogNormal[scalar, reparameterized] {
    fn support(&self) -> Constraint {
        Constraint::Positive
    }
    fn rsample(&self, sample_shape: &[usize], rng: &mut dyn RngCore) -> DistResult<DynTensor<D>> {
        let eps = noise(sample_shape, &self.batch_shape, rng, std_normal_vec)?;
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
});

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
        check_rejects(
            boxed,
            &[(&[0.0, -1.0], "scale"), (&[f32::NAN, 1.0], "loc")],
            &[0.0, 1.0],
            -1.0,
        );
    }

    #[test]
    fn expand_and_typed_shapes() {
        let d = LogNormal::new(typed_vec(&[0.0, 1.0, 2.0]), 1.0).unwrap();
        check_expand_and_typed_shapes(&d, &d.expand::<(usize, usize)>(&[2, 3]).unwrap());
        assert!(d.expand::<(usize,)>(&[4]).is_err());
    }
}
