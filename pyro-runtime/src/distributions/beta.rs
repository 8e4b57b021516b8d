//! The beta distribution, with implicitly reparameterized sampling.

use rand::RngCore;

use super::boilerplate::{elementwise_params, impl_distribution};
use super::host_map::{host_map, linearize, xlogy};
use super::implicit::log_standard_gammas_of;
use super::*;
use crate::tensor::special::scalar::{digamma, lgamma, sigmoid};

elementwise_params! {
    /// `Beta(concentration1, concentration0)`: density
    /// `x^{α-1} (1-x)^{β-1} / B(α, β)` on `0 <= x <= 1` (α = concentration1, β = concentration0).
    ///
    /// `rsample` is reparameterized: `x = g_α / (g_α + g_β)` for independent standard gamma draws,
    /// each differentiated implicitly (see the `implicit` module); the ratio is formed from
    /// `ln g` in `f64`, so tiny concentrations do not give `0/0`. Draws are clamped into
    /// `[tiny, 1 - 2^-24]`, as torch clamps them.
    ///
    /// ```
    /// use pyro::distributions::{Distribution, Beta};
    /// let d = Beta::new(2.0, 6.0).unwrap();
    /// assert_eq!(d.mean().unwrap().item().unwrap(), 0.25);
    /// assert!(Beta::new(2.0, 0.0).is_err()); // concentration0 must be positive
    /// ```
    pub struct Beta {
        /// The first concentration α (the exponent of `x`).
        concentration1: A = 2.0,
        /// The second concentration β (the exponent of `1 - x`).
        concentration0: R = 0.5,
    }
    /// Errors when a parameter is not positive (with validation on).
    new;
    validate { concentration1: Positive, concentration0: Positive }
}

impl<S, D: Backend> Beta<S, D> {
    /// Draws of shape `sample_shape + batch_shape`, on the graph with the implicit
    /// derivatives `dx/dα = x(1-x) d ln g_α/dα` and `dx/dβ = -x(1-x) d ln g_β/dβ` when
    /// `with_grad` (and a scope is open).
    fn generate(
        &self,
        sample_shape: &[usize],
        rng: &mut dyn RngCore,
        with_grad: bool,
    ) -> DistResult<DynTensor<D>> {
        let shape = extended_shape(sample_shape, &self.batch_shape, &[]);
        let (a, ln_ga, da) = log_standard_gammas_of(&self.concentration1, &shape, rng, with_grad)?;
        let (b, ln_gb, db) = log_standard_gammas_of(&self.concentration0, &shape, rng, with_grad)?;
        let hi = 1.0 - f64::from(f32::EPSILON) / 2.0;
        let x: Vec<f64> = ln_ga
            .iter()
            .zip(&ln_gb)
            .map(|(la, lb)| sigmoid(la - lb).clamp(f32::MIN_POSITIVE as f64, hi))
            .collect();
        let partials = da.zip(db).map(|(da, db)| {
            let w: Vec<f64> = x.iter().map(|x| x * (1.0 - x)).collect();
            vec![
                w.iter().zip(&da).map(|(w, d)| w * d).collect::<Vec<f64>>(),
                w.iter().zip(&db).map(|(w, d)| -w * d).collect(),
            ]
        });
        linearize(&[&a, &b], &shape, &x, partials.as_deref())
    }
}

/// `log p(x)` and its partials with respect to `(α, β, x)`, in `f64`.
pub(crate) fn beta_log_prob([a, b, x]: [f64; 3]) -> (f64, [f64; 3]) {
    if !(0.0..=1.0).contains(&x) {
        return (f64::NEG_INFINITY, [0.0; 3]);
    }
    let y = 1.0 - x;
    let lbeta = lgamma(a) + lgamma(b) - lgamma(a + b);
    let v = xlogy(a - 1.0, x) + xlogy(b - 1.0, y) - lbeta;
    let psi = digamma(a + b);
    let dx_a = if a == 1.0 { 0.0 } else { (a - 1.0) / x };
    let dx_b = if b == 1.0 { 0.0 } else { (b - 1.0) / y };
    (
        v,
        [
            x.ln() - digamma(a) + psi,
            y.ln() - digamma(b) + psi,
            dx_a - dx_b,
        ],
    )
}

impl_distribution!(Beta[scalar] {
    fn has_rsample(&self) -> bool {
        true
    }
    fn support(&self) -> Constraint {
        Constraint::UnitInterval
    }
    fn sample(&self, sample_shape: &[usize], rng: &mut dyn RngCore) -> DistResult<DynTensor<D>> {
        Ok(self.generate(sample_shape, rng, false)?.detach())
    }
    fn rsample(&self, sample_shape: &[usize], rng: &mut dyn RngCore) -> DistResult<DynTensor<D>> {
        self.generate(sample_shape, rng, true)
    }
    fn log_prob(&self, value: &DynTensor<D>) -> DistResult<DynTensor<D>> {
        validate_value("Beta", &Constraint::UnitInterval, value)?;
        host_map(
            "Beta::log_prob",
            [&self.concentration1, &self.concentration0, value],
            beta_log_prob,
        )
    }
    fn mean(&self) -> DistResult<DynTensor<D>> {
        let total = self.concentration1.add(&self.concentration0)?;
        Ok(self.concentration1.div(&total)?)
    }
    fn variance(&self) -> DistResult<DynTensor<D>> {
        // αβ / ((α + β)² (α + β + 1))
        let total = self.concentration1.add(&self.concentration0)?;
        let num = self.concentration1.mul(&self.concentration0)?;
        let den = total.square().mul(&total.add_scalar(1.0))?;
        Ok(num.div(&den)?)
    }
});

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distributions::testing::*;
    use dfdx::prelude::Cpu;

    fn boxed(p: &[f32]) -> DistResult<BoxDist<Cpu>> {
        Beta::new(p[0], p[1]).map(|d| Box::new(d) as BoxDist<Cpu>)
    }

    #[test]
    fn log_prob_matches_scipy() {
        check_fixture("beta", boxed);
    }

    #[test]
    fn log_prob_partials_match_finite_differences() {
        for p in [
            [2.5, 1.3, 0.7],
            [0.3, 4.0, 0.01],
            [40.0, 0.5, 0.9],
            [1.0, 2.0, 0.3],
        ] {
            check_partials(beta_log_prob, p);
        }
    }

    #[test]
    fn mean_and_variance_match_scipy() {
        check_moments_fixture("beta", boxed);
    }

    #[test]
    fn sampler_moments_and_ks() {
        for (a, b) in [(2.5f32, 1.5f32), (0.3, 0.7)] {
            let d = Beta::new(a, b).unwrap();
            let (a, b) = (a as f64, b as f64);
            let (m, s) = (a / (a + b), a + b);
            check_sampler(&d, m, a * b / (s * s * (s + 1.0)), |x| betainc(a, b, x));
        }
    }

    #[test]
    fn tiny_concentrations_give_draws_inside_the_support() {
        use rand::SeedableRng;
        let d = Beta::new(0.01, 0.01).unwrap();
        let mut rng = rand::rngs::StdRng::seed_from_u64(8);
        let x = d.sample(&[2000], &mut rng).unwrap().to_vec();
        assert!(x.iter().all(|&x| x > 0.0 && x < 1.0));
        // About half the mass sits at each end.
        let low = x.iter().filter(|&&x| x < 0.5).count();
        assert!((800..1200).contains(&low), "{low}");
    }

    #[test]
    fn rsample_concentration_gradients_are_unbiased() {
        // d/dα E[x] = β / (α + β)², d/dβ E[x] = -α / (α + β)².
        let build = |p: &[DynTensor<Cpu>]| {
            Beta::from_dyn(p[0].clone(), p[1].clone()).map(|d| Box::new(d) as BoxDist<Cpu>)
        };
        for (a, b) in [(0.5f32, 2.0f32), (3.0, 1.5)] {
            let (a64, b64) = (a as f64, b as f64);
            let s2 = (a64 + b64).powi(2);
            check_mean_grad(&[a, b], 0, |x| x.clone(), b64 / s2, build);
            check_mean_grad(&[a, b], 1, |x| x.clone(), -a64 / s2, build);
        }
    }

    #[test]
    fn rejects_bad_parameters_and_values() {
        check_rejects(
            boxed,
            &[
                (&[-1.0, 1.0], "concentration1"),
                (&[1.0, 0.0], "concentration0"),
            ],
            &[2.0, 1.0],
            1.5,
        );
    }

    #[test]
    fn expand_and_typed_shapes() {
        let d = Beta::new(typed_vec(&[0.5, 1.0, 2.0]), 1.0).unwrap();
        check_expand_and_typed_shapes(&d, &d.expand::<(usize, usize)>(&[2, 3]).unwrap());
        assert!(d.expand::<(usize,)>(&[4]).is_err());
    }
}
