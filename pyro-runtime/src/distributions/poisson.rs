//! The Poisson distribution.

use rand::RngCore;

use super::boilerplate::{elementwise_params, impl_distribution};
use super::host_map::{linearize, require_finite, uniform_f64, value_batch_pairs, xlogy};
use super::*;
use crate::tensor::numel;
use crate::tensor::special::scalar;

elementwise_params! {
    /// `Poisson(rate)`: `P(x = k) = rate^k e^{-rate} / k!` for `k = 0, 1, 2, ...` (values as
    /// `f32`), with `rate >= 0` (`rate = 0` puts all mass on 0).
    ///
    /// `log_prob = x ln(rate) - rate - ln Γ(x + 1)` is evaluated in `f64` on the host, so large
    /// rates lose no precision to cancellation, and put back on the graph with its exact
    /// derivative `x / rate - 1` with respect to `rate` (the value is treated as a constant). The
    /// sampler is exact: inversion for rates below 10, Hörmann's transformed rejection (PTRS)
    /// above. There is no reparameterized sampler.
    ///
    /// ```
    /// use pyro::distributions::{Distribution, Poisson};
    /// use pyro::tensor::DynTensor;
    /// let d = Poisson::new(2.0).unwrap();
    /// assert_eq!(d.mean().unwrap().item().unwrap(), 2.0);
    /// let lp = d.log_prob(&DynTensor::scalar(0.0)).unwrap().item().unwrap();
    /// assert!((lp + 2.0).abs() < 1e-6);
    /// assert!(Poisson::new(-1.0).is_err()); // rate must be non-negative
    /// ```
    pub struct Poisson {
        /// The rate (mean) parameter.
        rate: R = 4.0,
    }
    /// Errors unless `rate` is finite and non-negative (with validation on).
    new;
    validate { rate: NonNegative }
    check check_finite_rate;
}

/// With validation on, a finite rate (the sampler cannot run on `+inf`).
fn check_finite_rate<S, D: Backend>(d: &Poisson<S, D>) -> DistResult<()> {
    if crate::is_validation_enabled() {
        require_finite("Poisson", "rate", &d.rate.to_vec())?;
    }
    Ok(())
}

/// One exact Poisson draw for a finite `rate >= 0`.
pub(crate) fn sample_poisson(rate: f64, rng: &mut dyn RngCore) -> f64 {
    if rate == 0.0 {
        0.0
    } else if rate < 10.0 {
        poisson_inversion(rate, rng)
    } else {
        poisson_ptrs(rate, rng)
    }
}

/// Sequential search of the cdf from 0 (expected `rate + 1` steps).
fn poisson_inversion(rate: f64, rng: &mut dyn RngCore) -> f64 {
    let u = uniform_f64(rng);
    let mut pk = (-rate).exp();
    let mut cdf = pk;
    let mut k = 0.0;
    while u >= cdf {
        k += 1.0;
        pk *= rate / k;
        cdf += pk;
        if pk == 0.0 {
            break; // the remaining mass underflows: rounding left u above the total
        }
    }
    k
}

/// Transformed rejection with squeeze (Hörmann 1993, "The transformed rejection method for
/// generating Poisson random variables", algorithm PTRS), for `rate >= 10`; the acceptance
/// test uses the exact log-pmf, so draws are exact.
fn poisson_ptrs(rate: f64, rng: &mut dyn RngCore) -> f64 {
    let s = rate.sqrt();
    let b = 0.931 + 2.53 * s;
    let a = -0.059 + 0.02483 * b;
    let inv_alpha = 1.1239 + 1.1328 / (b - 3.4);
    let v_r = 0.9277 - 3.6224 / (b - 2.0);
    let ln_rate = rate.ln();
    loop {
        let u = uniform_f64(rng) - 0.5;
        let v = uniform_f64(rng);
        let us = 0.5 - u.abs();
        let k = ((2.0 * a / us + b) * u + rate + 0.43).floor();
        if us >= 0.07 && v <= v_r {
            return k;
        }
        if k < 0.0 || (us < 0.013 && v > us) {
            continue;
        }
        let lhs = (v * inv_alpha / (a / (us * us) + b)).ln();
        let rhs = -rate + k * ln_rate - scalar::lgamma(k + 1.0);
        if lhs <= rhs {
            return k;
        }
    }
}

impl_distribution!(Poisson[scalar] {
    fn support(&self) -> Constraint {
        Constraint::NonNegativeInteger
    }
    fn sample(&self, sample_shape: &[usize], rng: &mut dyn RngCore) -> DistResult<DynTensor<D>> {
        let rate = self.rate.to_vec();
        require_finite("Poisson", "rate", &rate)?;
        if let Some(i) = rate.iter().position(|&r| r < 0.0) {
            return Err(DistError::InvalidParameter {
                dist: "Poisson",
                param: "rate",
                reason: format!("{} (at element {i}) is negative", rate[i]),
            });
        }
        let shape = extended_shape(sample_shape, &self.batch_shape, &[]);
        let nb = rate.len().max(1);
        let out: Vec<f32> = (0..numel(&shape))
            .map(|j| sample_poisson(rate[j % nb] as f64, rng) as f32)
            .collect();
        Ok(DynTensor::from_vec(out, &shape)?)
    }
    fn log_prob(&self, value: &DynTensor<D>) -> DistResult<DynTensor<D>> {
        validate_value("Poisson", &Constraint::NonNegativeInteger, value)?;
        let (out_shape, pairs) =
            value_batch_pairs("Poisson::log_prob", value.shape(), &self.batch_shape)?;
        let x = value.to_vec();
        let r = self.rate.to_vec();
        let mut vals = Vec::with_capacity(pairs.len());
        let mut ders = Vec::with_capacity(pairs.len());
        for &(vi, bi) in &pairs {
            let (x, r) = (x[vi] as f64, r[bi] as f64);
            if x.is_nan() || x < 0.0 {
                // Outside the support (only reachable with validation off).
                vals.push(f64::NEG_INFINITY);
                ders.push(0.0);
                continue;
            }
            vals.push(xlogy(x, r) - r - scalar::lgamma(x + 1.0));
            ders.push(if x > 0.0 { x / r - 1.0 } else { -1.0 });
        }
        let rate = self.rate.broadcast_to(&out_shape)?;
        linearize(&[&rate], &out_shape, &vals, Some(&[ders]))
    }
    fn mean(&self) -> DistResult<DynTensor<D>> {
        Ok(self.rate.clone())
    }
    fn variance(&self) -> DistResult<DynTensor<D>> {
        Ok(self.rate.clone())
    }
});

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distributions::testing::*;
    use dfdx::prelude::Cpu;

    fn pmf(rate: f64) -> impl Fn(u64) -> f64 {
        move |k| {
            let k = k as f64;
            (k * rate.ln() - rate - libm::lgamma(k + 1.0)).exp()
        }
    }

    #[test]
    fn log_prob_matches_scipy() {
        check_fixture("poisson", |p| {
            Poisson::new(p[0]).map(|d| Box::new(d) as BoxDist<Cpu>)
        });
    }

    #[test]
    fn zero_rate_puts_all_mass_on_zero() {
        let d = Poisson::new(0.0).unwrap();
        assert_eq!(
            d.log_prob(&DynTensor::scalar(0.0)).unwrap().item().unwrap(),
            0.0
        );
        let lp = d.log_prob(&DynTensor::scalar(2.0)).unwrap().item().unwrap();
        assert_eq!(lp, f32::NEG_INFINITY);
        use rand::SeedableRng;
        let mut rng = rand::rngs::StdRng::seed_from_u64(2);
        assert!(d
            .sample(&[50], &mut rng)
            .unwrap()
            .to_vec()
            .iter()
            .all(|&x| x == 0.0));
    }

    #[test]
    fn sampler_moments_and_chi_square_small_rate() {
        check_discrete_sampler(&Poisson::new(3.5).unwrap(), 3.5, 3.5, pmf(3.5));
        check_discrete_sampler(
            &Poisson::new(0.01).unwrap(),
            0.01,
            0.01,
            pmf(0.01f32 as f64),
        );
    }

    #[test]
    fn sampler_moments_and_chi_square_large_rate() {
        check_discrete_sampler(&Poisson::new(12.0).unwrap(), 12.0, 12.0, pmf(12.0));
        check_discrete_sampler(&Poisson::new(1e4).unwrap(), 1e4, 1e4, pmf(1e4));
    }

    #[test]
    fn log_prob_gradients_match_finite_differences() {
        let x = DynTensor::<Cpu>::from_vec(vec![0.0, 3.0, 12.0, 9990.0], &[4]).unwrap();
        let rate = [0.7f32, 2.5, 15.0, 1e4];
        check_log_prob_grad(&[(&rate, &[4])], &x, |p| {
            Poisson::from_dyn(p[0].clone()).map(|d| Box::new(d) as BoxDist<Cpu>)
        });
    }

    #[test]
    fn has_no_rsample() {
        use rand::SeedableRng;
        let mut rng = rand::rngs::StdRng::seed_from_u64(0);
        let d = Poisson::new(1.0).unwrap();
        assert!(!d.has_rsample() && d.is_discrete());
        let e = d.rsample(&[], &mut rng).unwrap_err();
        assert_eq!(e, DistError::NotReparameterized { dist: "Poisson" });
    }

    #[test]
    fn validation_names_the_parameter() {
        crate::enable_validation(true);
        for bad in [-0.5, f32::NAN, f32::INFINITY] {
            let e = Poisson::new(bad).unwrap_err();
            assert!(
                matches!(e, DistError::InvalidParameter { param: "rate", .. }),
                "{bad}: {e}"
            );
        }
        let d = Poisson::new(1.0).unwrap();
        for bad in [-1.0, 0.5, f32::NAN] {
            let e = d.log_prob(&DynTensor::scalar(bad)).unwrap_err();
            assert!(matches!(e, DistError::OutOfSupport { .. }), "{bad}: {e}");
        }
    }

    #[test]
    fn broadcasting_and_expand() {
        let r = DynTensor::<Cpu>::from_vec(vec![1.0, 4.0], &[2]).unwrap();
        let d = Poisson::from_dyn(r).unwrap();
        let x = DynTensor::<Cpu>::from_vec(vec![0.0, 2.0, 1.0], &[3, 1]).unwrap();
        let lp = d.log_prob(&x).unwrap();
        assert_eq!(lp.shape(), &[3, 2]);
        let want = |k: f64, r: f64| k * r.ln() - r - libm::lgamma(k + 1.0);
        let w = [
            want(0.0, 1.0),
            want(0.0, 4.0),
            want(2.0, 1.0),
            want(2.0, 4.0),
            want(1.0, 1.0),
            want(1.0, 4.0),
        ];
        for (a, b) in lp.to_vec().iter().zip(w) {
            assert!((*a as f64 - b).abs() < 1e-6, "{a} vs {b}");
        }
        let e = d.expand::<DynShape>(&[5, 2]).unwrap();
        assert_eq!(e.sample_global(&[3]).unwrap().shape(), &[3, 5, 2]);
    }
}
