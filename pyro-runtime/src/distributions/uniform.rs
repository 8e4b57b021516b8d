//! The continuous uniform distribution.

use rand::RngCore;

use super::boilerplate::{elementwise_params, impl_distribution};
use super::host_map::noise;
use super::*;

elementwise_params! {
    /// `Uniform(low, high)`: density `1 / (high - low)` on `low <= x <= high`.
    ///
    /// Validation (on by default in debug builds) requires `low < high` elementwise and values
    /// inside `[low, high]`; with validation off, values outside get log-density `-inf`.
    ///
    /// ```
    /// use pyro::distributions::{Distribution, Uniform};
    /// let d = Uniform::new(-1.0, 3.0).unwrap();
    /// assert_eq!(d.mean().unwrap().item().unwrap(), 1.0);
    /// let lp = d.log_prob(&pyro::tensor::DynTensor::scalar(0.0)).unwrap().item().unwrap();
    /// assert!((lp + 4f32.ln()).abs() < 1e-7);
    /// assert!(Uniform::new(2.0, 1.0).is_err()); // low must be below high
    /// ```
    pub struct Uniform {
        /// The lower bound.
        low: L = 1.0,
        /// The upper bound.
        high: R = 1.5,
    }
    /// Errors unless `low < high` everywhere (with validation on).
    new;
    validate { low: Real, high: Real }
    check check_bounds;
}

/// With validation on, `low < high` elementwise (after broadcasting).
fn check_bounds<S, D: Backend>(d: &Uniform<S, D>) -> DistResult<()> {
    if crate::is_validation_enabled() {
        let (lo, hi) = (d.low.to_vec(), d.high.to_vec());
        if let Some(i) = lo.iter().zip(&hi).position(|(l, h)| l >= h) {
            return Err(DistError::InvalidParameter {
                dist: "Uniform",
                param: "low",
                reason: format!(
                    "low must be less than high; low = {} >= high = {} at index {i}",
                    lo[i], hi[i]
                ),
            });
        }
    }
    Ok(())
}

impl_distribution!(Uniform[scalar, reparameterized] {
    /// `interval(low, high)`. The [`Constraint`] enum holds scalar bounds: when the bounds
    /// differ across the batch this is the hull `interval(min low, max high)`, and
    /// [`Distribution::log_prob`] checks each value against its own bounds.
    fn support(&self) -> Constraint {
        let lo = self.low.to_vec().into_iter().fold(f32::INFINITY, f32::min);
        let hi = self
            .high
            .to_vec()
            .into_iter()
            .fold(f32::NEG_INFINITY, f32::max);
        Constraint::Interval(lo, hi)
    }
    fn rsample(&self, sample_shape: &[usize], rng: &mut dyn RngCore) -> DistResult<DynTensor<D>> {
        // Standard uniform draws in `(0, 1)`.
        let eps = noise(sample_shape, &self.batch_shape, rng, std_uniform_vec)?;
        Ok(eps.mul(&self.high.sub(&self.low)?)?.add(&self.low)?)
    }
    fn log_prob(&self, value: &DynTensor<D>) -> DistResult<DynTensor<D>> {
        let lp_of_params = || -> DistResult<DynTensor<D>> {
            Ok(match super::fused::uniform_log_density(&self.low, &self.high) {
                Some(lp) => lp?,
                None => self.high.sub(&self.low)?.ln().neg(),
            })
        };
        // One value inside the support of a single uniform (a scalar latent): no copies.
        let single = value.numel() == 1
            && self.batch_shape.iter().all(|&d| d == 1)
            && value.rank() >= self.batch_shape.len();
        if single {
            let (v, lo, hi) = (value.item()?, self.low.item()?, self.high.item()?);
            if lo <= v && v <= hi {
                return Ok(lp_of_params()?.broadcast_to(value.shape())?);
            }
        }
        let shape =
            crate::tensor::broadcast_shapes(value.shape(), &self.batch_shape).ok_or_else(|| {
                crate::tensor::TensorError::Broadcast {
                    op: "Uniform::log_prob",
                    lhs: value.shape().to_vec(),
                    rhs: self.batch_shape.clone(),
                }
            })?;
        let v = value.broadcast_to(&shape)?.to_vec();
        let lo = self.low.broadcast_to(&shape)?.to_vec();
        let hi = self.high.broadcast_to(&shape)?.to_vec();
        let inside: Vec<bool> = (0..v.len())
            .map(|i| lo[i] <= v[i] && v[i] <= hi[i])
            .collect();
        let lp = lp_of_params()?.broadcast_to(&shape)?;
        let Some(i) = inside.iter().position(|ok| !ok) else {
            return Ok(lp);
        };
        if crate::is_validation_enabled() {
            return Err(DistError::OutOfSupport {
                dist: "Uniform",
                support: format!("interval({}, {})", lo[i], hi[i]),
                detail: format!("value {} at index {i}", v[i]),
            });
        }
        let mask: Vec<f32> = inside
            .iter()
            .map(|&ok| if ok { 0.0 } else { f32::NEG_INFINITY })
            .collect();
        Ok(lp.add(&DynTensor::from_vec(mask, &shape)?)?)
    }
    fn mean(&self) -> DistResult<DynTensor<D>> {
        Ok(self.low.add(&self.high)?.mul_scalar(0.5))
    }
    fn variance(&self) -> DistResult<DynTensor<D>> {
        Ok(self.high.sub(&self.low)?.square().mul_scalar(1.0 / 12.0))
    }
});

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distributions::testing::*;
    use dfdx::prelude::Cpu;

    fn boxed(p: &[f32]) -> DistResult<BoxDist<Cpu>> {
        Uniform::new(p[0], p[1]).map(|d| Box::new(d) as BoxDist<Cpu>)
    }

    #[test]
    fn log_prob_matches_scipy() {
        check_fixture("uniform", boxed);
    }

    #[test]
    fn mean_and_variance_match_scipy() {
        check_moments_fixture("uniform", boxed);
    }

    #[test]
    fn sampler_moments_and_ks() {
        let d = Uniform::new(-1.5, 2.5).unwrap();
        check_sampler(&d, 0.5, 16.0 / 12.0, |x| ((x + 1.5) / 4.0).clamp(0.0, 1.0));
    }

    #[test]
    fn rsample_gradients_match_finite_differences() {
        check_rsample_grad(&[0.3, 1.7], |p| {
            Uniform::new(&p[0], &p[1]).map(|d| Box::new(d) as BoxDist<Cpu>)
        });
    }

    #[test]
    fn rejects_bad_parameters_and_values() {
        check_rejects(
            boxed,
            &[
                (&[1.0, 1.0], "low"),
                (&[2.0, -1.0], "low"),
                (&[f32::NAN, 1.0], "low"),
                (&[0.0, f32::NAN], "high"),
            ],
            &[0.0, 2.0],
            3.0,
        );
        // The check is elementwise after broadcasting.
        let lo = DynTensor::<Cpu>::from_vec(vec![0.0, 1.0], &[2]).unwrap();
        let hi = DynTensor::<Cpu>::from_vec(vec![1.0, 0.5], &[2]).unwrap();
        assert!(Uniform::from_dyn(lo.clone(), hi).is_err());
        let d = Uniform::from_dyn(lo, DynTensor::scalar(2.0)).unwrap();
        // 0.5 is inside [0, 2] but not inside [1, 2].
        let e = d.log_prob(&DynTensor::scalar(0.5)).unwrap_err();
        assert!(matches!(e, DistError::OutOfSupport { .. }), "{e}");
        let lp = d.log_prob(&DynTensor::scalar(1.5)).unwrap().to_vec();
        assert_eq!(lp, vec![-(2f32.ln()), 0.0]);
    }

    #[test]
    fn expand_and_typed_shapes() {
        let d = Uniform::new(typed_vec(&[0.0, -1.0, 2.0]), 3.0).unwrap();
        check_expand_and_typed_shapes(&d, &d.expand::<(usize, usize)>(&[2, 3]).unwrap());
        assert!(d.expand::<(usize,)>(&[4]).is_err());
    }
}
