//! The Laplace distribution.

use rand::RngCore;

use super::boilerplate::{elementwise_params, impl_distribution};
use super::host_map::uniform_noise;
use super::*;

elementwise_params! {
    /// `Laplace(loc, scale)`: density `exp(-|x - loc| / scale) / (2 scale)` on the reals.
    ///
    /// ```
    /// use pyro::distributions::{Distribution, Laplace};
    /// let d = Laplace::new(1.0, 2.0).unwrap();
    /// assert_eq!(d.mean().unwrap().item().unwrap(), 1.0);
    /// assert_eq!(d.variance().unwrap().item().unwrap(), 8.0);
    /// assert!(Laplace::new(0.0, -3.0).is_err()); // scale must be positive
    /// ```
    pub struct Laplace {
        /// The location parameter (mean and median).
        loc: L = 1.0,
        /// The scale parameter (the mean absolute deviation).
        scale: R = 0.5,
    }
    /// Errors when `scale <= 0` (with validation on).
    new;
    validate { scale: Positive, loc: Real }
}

impl_distribution!(Laplace[scalar, reparameterized] {
    fn support(&self) -> Constraint {
        Constraint::Real
    }
    fn rsample(&self, sample_shape: &[usize], rng: &mut dyn RngCore) -> DistResult<DynTensor<D>> {
        // Standard Laplace draws by inverting the cdf: `ln(2u)` for `u < 1/2`,
        // `-ln(2(1 - u))` otherwise.
        let eps = uniform_noise(sample_shape, &self.batch_shape, rng, |u| {
            if u < 0.5 {
                (2.0 * u).ln()
            } else {
                -(2.0 * (1.0 - u)).ln()
            }
        })?;
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
});

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
        check_rejects(
            boxed,
            &[(&[0.0, -1.0], "scale"), (&[f32::NAN, 1.0], "loc")],
            &[0.0, 1.0],
            f32::NAN,
        );
    }

    #[test]
    fn expand_and_typed_shapes() {
        let d = Laplace::new(typed_vec(&[0.0, -1.0, 2.0]), 1.0).unwrap();
        check_expand_and_typed_shapes(&d, &d.expand::<(usize, usize)>(&[2, 3]).unwrap());
        assert!(d.expand::<(usize,)>(&[4]).is_err());
    }
}
