//! The normal (Gaussian) distribution.

use rand::RngCore;

use super::boilerplate::{elementwise_params, impl_distribution};
use super::host_map::noise;
use super::*;

elementwise_params! {
    /// `Normal(loc, scale)`: density `exp(-(x - loc)² / (2 scale²)) / (scale √(2π))`.
    ///
    /// ```
    /// use pyro::distributions::{Distribution, Normal};
    /// let d = Normal::new(1.0, 2.0).unwrap();
    /// assert_eq!(d.mean().unwrap().item().unwrap(), 1.0);
    /// assert_eq!(d.variance().unwrap().item().unwrap(), 4.0);
    /// assert!(Normal::new(0.0, -1.0).is_err()); // scale must be positive
    /// ```
    pub struct Normal {
        /// The location parameter.
        loc: L = 1.0,
        /// The scale parameter.
        scale: R = 0.5,
    }
    /// Errors when `scale <= 0` (with validation on).
    new;
    validate { scale: Positive, loc: Real }
}

impl_distribution!(Normal[scalar, reparameterized] {
    fn support(&self) -> Constraint {
        Constraint::Real
    }
    fn rsample(&self, sample_shape: &[usize], rng: &mut dyn RngCore) -> DistResult<DynTensor<D>> {
        if sample_shape.is_empty() {
            let eps = std_normal_vals(crate::tensor::numel(&self.batch_shape), rng);
            if let Some(x) = super::fused::loc_scale_draw(eps, &self.loc, &self.scale) {
                return Ok(x?);
            }
        }
        let eps = noise(sample_shape, &self.batch_shape, rng, std_normal_vec)?;
        Ok(eps.mul(&self.scale)?.add(&self.loc)?)
    }
    fn rsample_with_log_prob(
        &self,
        sample_shape: &[usize],
        rng: &mut dyn RngCore,
    ) -> DistResult<(DynTensor<D>, Option<DynTensor<D>>)> {
        if sample_shape.is_empty() {
            let fused = super::fused::normal_draw_with_log_prob(
                &self.loc,
                &self.scale,
                &self.batch_shape,
                |n| std_normal_vals(n, rng),
            );
            if let Some(r) = fused {
                let (x, lp) = r?;
                return Ok((x, Some(lp)));
            }
        }
        Ok((self.rsample(sample_shape, rng)?, None))
    }
    fn log_prob(&self, value: &DynTensor<D>) -> DistResult<DynTensor<D>> {
        validate_value("Normal", &Constraint::Real, value)?;
        if let Some(lp) = super::fused::normal_log_prob(value, &self.loc, &self.scale) {
            return Ok(lp?);
        }
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
});

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
    fn fused_draw_density_matches_log_prob_and_finite_differences() {
        // One value, and a vector of locations under one scale summed as one event.
        check_fused_draw_log_prob(&[0.3, 1.7], |p| {
            Normal::new(&p[0], &p[1]).map(|d| Box::new(d) as BoxDist<Cpu>)
        });
        check_fused_draw_log_prob(&[0.3, 1.7], |p| {
            let loc = DynTensor::from_vec(vec![0.5, -1.0, 2.0], &[3])?.mul(&p[0])?;
            let d = Normal::new(&loc, &p[1])?.to_event(1)?;
            Ok(Box::new(d) as BoxDist<Cpu>)
        });
        // One scale per element.
        check_fused_draw_log_prob(&[0.3, 0.6], |p| {
            let loc = DynTensor::from_vec(vec![0.5, -1.0], &[2])?.mul(&p[0])?;
            let scale = DynTensor::from_vec(vec![1.0, 3.0], &[2])?.mul(&p[1])?;
            Ok(Box::new(Normal::new(&loc, &scale)?) as BoxDist<Cpu>)
        });
    }

    #[test]
    fn draws_with_a_sample_shape_leave_the_density_to_log_prob() {
        let d = Normal::new(0.0, 1.0).unwrap();
        let mut rng = rand::SeedableRng::seed_from_u64(1);
        let r: &mut rand::rngs::StdRng = &mut rng;
        let (x, lp) = d.rsample_with_log_prob(&[4], r).unwrap();
        assert_eq!(x.shape(), &[4]);
        assert!(lp.is_none());
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
        let m: crate::tensor::Tensor<(usize,)> =
            crate::tensor::Tensor::from_vec(vec![0.0, 1.0, 2.0], (3,)).unwrap();
        let d = Normal::new(m, 1.0).unwrap();
        assert_eq!(d.batch_shape(), &[3]);
        let x: crate::tensor::Tensor<(usize,)> = d.draw().unwrap();
        assert_eq!(x.shape().0, 3);
    }
}
