//! The inverse-gamma distribution, with implicitly reparameterized sampling.

use rand::RngCore;

use super::boilerplate::{elementwise_params, impl_distribution};
use super::host_map::where_host;
use super::host_map::{host_map, linearize};
use super::implicit::log_standard_gammas_of;
use super::*;
use crate::tensor::special::scalar::{digamma, lgamma};

elementwise_params! {
    /// `InverseGamma(concentration, rate)`: `1 / X` for `X ~ Gamma(concentration, rate)`; density
    /// `rate^α x^{-α-1} e^{-rate / x} / Γ(α)` on `x > 0` (α = concentration).
    ///
    /// `rsample` is reparameterized (`x = rate / g` with `g ~ Gamma(α, 1)`; the gradient with
    /// respect to `α` is implicit, see the `implicit` module). The mean is `+inf` for `α <= 1`
    /// and the variance `+inf` for `α <= 2`, as in torch.
    ///
    /// ```
    /// use pyro::distributions::{Distribution, InverseGamma};
    /// let d = InverseGamma::new(3.0, 2.0).unwrap();
    /// assert_eq!(d.mean().unwrap().item().unwrap(), 1.0);
    /// assert_eq!(d.variance().unwrap().item().unwrap(), 1.0);
    /// assert!(InverseGamma::new(1.0, -2.0).is_err()); // rate must be positive
    /// ```
    pub struct InverseGamma {
        /// The concentration (shape) parameter α (that of the gamma distribution of `1/x`).
        concentration: A = 2.0,
        /// The rate parameter (that of the gamma distribution of `1/x`; the scale of `x`).
        rate: R = 0.5,
    }
    /// Errors when a parameter is not positive (with validation on).
    new;
    validate { concentration: Positive, rate: Positive }
}

impl<S, D: Backend> InverseGamma<S, D> {
    /// `1 / g` for standard gamma draws `g ~ Gamma(α, 1)`, of shape
    /// `sample_shape + batch_shape`, on the graph with the implicit derivative
    /// `d(1/g)/dα = -(1/g) d ln g/dα` when `with_grad` (and a scope is open). Computed from
    /// `ln g`, so tiny `g` give large finite values (clamped at the largest `f32`).
    fn inverse_standard(
        &self,
        sample_shape: &[usize],
        rng: &mut dyn RngCore,
        with_grad: bool,
    ) -> DistResult<DynTensor<D>> {
        let shape = extended_shape(sample_shape, &self.batch_shape, &[]);
        let (alpha, ln_g, dln_g) =
            log_standard_gammas_of(&self.concentration, &shape, rng, with_grad)?;
        let inv: Vec<f64> = ln_g
            .iter()
            .map(|l| (-l).exp().min(f32::MAX as f64))
            .collect();
        let partials = dln_g.map(|d| vec![d.iter().zip(&inv).map(|(d, y)| -d * y).collect()]);
        linearize(&[&alpha], &shape, &inv, partials.as_deref())
    }
}

/// `log p(x)` and its partials with respect to `(α, rate, x)`, in `f64`.
pub(crate) fn inverse_gamma_log_prob([a, b, x]: [f64; 3]) -> (f64, [f64; 3]) {
    if x <= 0.0 {
        return (f64::NEG_INFINITY, [0.0; 3]);
    }
    let v = a * b.ln() - lgamma(a) - (a + 1.0) * x.ln() - b / x;
    let g = [
        b.ln() - digamma(a) - x.ln(),
        a / b - 1.0 / x,
        -(a + 1.0) / x + b / (x * x),
    ];
    (v, g)
}

impl_distribution!(InverseGamma[scalar] {
    fn has_rsample(&self) -> bool {
        true
    }
    fn support(&self) -> Constraint {
        Constraint::Positive
    }
    fn sample(&self, sample_shape: &[usize], rng: &mut dyn RngCore) -> DistResult<DynTensor<D>> {
        Ok(self
            .inverse_standard(sample_shape, rng, false)?
            .mul(&self.rate)?
            .detach())
    }
    fn rsample(&self, sample_shape: &[usize], rng: &mut dyn RngCore) -> DistResult<DynTensor<D>> {
        Ok(self
            .inverse_standard(sample_shape, rng, true)?
            .mul(&self.rate)?)
    }
    fn log_prob(&self, value: &DynTensor<D>) -> DistResult<DynTensor<D>> {
        validate_value("InverseGamma", &Constraint::Positive, value)?;
        host_map(
            "InverseGamma::log_prob",
            [&self.concentration, &self.rate, value],
            inverse_gamma_log_prob,
        )
    }
    fn mean(&self) -> DistResult<DynTensor<D>> {
        // rate / (α - 1) is positive exactly when α > 1 (and +inf at α = 1); elsewhere the
        // mean is +inf.
        let m = self.rate.div(&self.concentration.add_scalar(-1.0))?;
        where_host(&m, |v| v > 0.0, f32::INFINITY)
    }
    fn variance(&self) -> DistResult<DynTensor<D>> {
        // rate² / ((α - 1)² (α - 2)) is positive exactly when α > 2; elsewhere +inf.
        let am1 = self.concentration.add_scalar(-1.0);
        let den = am1.square().mul(&self.concentration.add_scalar(-2.0))?;
        let v = self.rate.square().div(&den)?;
        where_host(&v, |v| v > 0.0, f32::INFINITY)
    }
});

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distributions::implicit::gamma_q;
    use crate::distributions::testing::*;
    use crate::tensor::special::scalar::trigamma;
    use dfdx::prelude::Cpu;

    fn boxed(p: &[f32]) -> DistResult<BoxDist<Cpu>> {
        InverseGamma::new(p[0], p[1]).map(|d| Box::new(d) as BoxDist<Cpu>)
    }

    #[test]
    fn log_prob_matches_scipy() {
        check_fixture("inversegamma", boxed);
    }

    #[test]
    fn log_prob_partials_match_finite_differences() {
        for p in [
            [2.5, 1.3, 0.7],
            [0.3, 4.0, 0.01],
            [40.0, 0.5, 90.0],
            [1.0, 2.0, 3.0],
        ] {
            check_partials(inverse_gamma_log_prob, p);
        }
    }

    #[test]
    fn mean_and_variance_match_scipy() {
        check_moments_fixture("inversegamma", boxed);
    }

    #[test]
    fn sampler_moments_and_ks() {
        // P(1/g <= x / rate) = Q(α, rate / x). Moments need α > 4 (finite fourth moment).
        let (a, r) = (6.5f32 as f64, 1.5f32 as f64);
        let d = InverseGamma::new(6.5, 1.5).unwrap();
        let var = r * r / ((a - 1.0).powi(2) * (a - 2.0));
        check_sampler(&d, r / (a - 1.0), var, |x| gamma_q(a, r / x));
        let d = InverseGamma::new(0.7, 2.0).unwrap();
        check_sampler_ks(&d, |x| gamma_q(0.7f32 as f64, 2.0 / x));
    }

    #[test]
    fn rsample_rate_gradient_matches_finite_differences() {
        // The standard draws do not depend on the rate, so fixed-noise differences apply.
        check_rsample_grad(&[1.7], |p| {
            InverseGamma::new(4.5, &p[0]).map(|d| Box::new(d) as BoxDist<Cpu>)
        });
    }

    #[test]
    fn rsample_concentration_gradient_is_unbiased() {
        // d/dα E[x] = -rate / (α - 1)² and d/dα E[ln x] = -ψ'(α) (ln x = ln rate - ln g).
        let build = |p: &[DynTensor<Cpu>]| {
            InverseGamma::from_dyn(p[0].clone(), p[1].clone()).map(|d| Box::new(d) as BoxDist<Cpu>)
        };
        check_mean_grad(&[6.0, 2.0], 0, |x| x.clone(), -2.0 / 25.0, build);
        for a in [0.4f32, 3.0] {
            check_mean_grad(&[a, 2.0], 0, |x| x.ln(), -trigamma(a as f64), build);
        }
    }

    #[test]
    fn rejects_bad_parameters_and_values() {
        check_rejects(
            boxed,
            &[(&[-1.0, 1.0], "concentration"), (&[1.0, 0.0], "rate")],
            &[2.0, 1.0],
            0.0,
        );
    }

    #[test]
    fn expand_and_typed_shapes() {
        let d = InverseGamma::new(typed_vec(&[0.5, 1.0, 2.0]), 1.0).unwrap();
        check_expand_and_typed_shapes(&d, &d.expand::<(usize, usize)>(&[2, 3]).unwrap());
        assert!(d.expand::<(usize,)>(&[4]).is_err());
    }
}
