//! The gamma distribution, with implicitly reparameterized sampling.

use rand::RngCore;

use super::boilerplate::{elementwise_params, impl_distribution};
use super::host_map::{host_map, linearize, xlogy};
use super::implicit::log_standard_gammas_of;
use super::*;
use crate::tensor::special::scalar::{digamma, lgamma};

elementwise_params! {
    /// `Gamma(concentration, rate)`: density
    /// `rate^α x^{α-1} e^{-rate x} / Γ(α)` on `x >= 0` (α = concentration).
    ///
    /// `rsample` is reparameterized: the gradient with respect to `rate` flows through
    /// `x = g / rate`, the one with respect to `concentration` by implicit differentiation of the
    /// cdf of the standard gamma draw `g` (see the `implicit` module).
    ///
    /// ```
    /// use pyro::distributions::{Distribution, Gamma};
    /// let d = Gamma::new(3.0, 2.0).unwrap();
    /// assert_eq!(d.mean().unwrap().item().unwrap(), 1.5);
    /// assert_eq!(d.variance().unwrap().item().unwrap(), 0.75);
    /// assert!(Gamma::new(0.0, 1.0).is_err()); // concentration must be positive
    /// ```
    pub struct Gamma {
        /// The concentration (shape) parameter α.
        concentration: A = 2.0,
        /// The rate (inverse scale) parameter.
        rate: R = 0.5,
    }
    /// Errors when a parameter is not positive (with validation on).
    new;
    validate { concentration: Positive, rate: Positive }
}

impl<S, D: Backend> Gamma<S, D> {
    /// Standard gamma draws `g ~ Gamma(α, 1)` of shape `sample_shape + batch_shape`, on the
    /// graph with the implicit derivative `dg/dα` when `with_grad` (and a scope is open).
    /// Values are clamped below at the smallest normal `f32`, as torch does.
    fn standard(
        &self,
        sample_shape: &[usize],
        rng: &mut dyn RngCore,
        with_grad: bool,
    ) -> DistResult<DynTensor<D>> {
        let shape = extended_shape(sample_shape, &self.batch_shape, &[]);
        let (alpha, ln_g, dln_g) =
            log_standard_gammas_of(&self.concentration, &shape, rng, with_grad)?;
        let g: Vec<f64> = ln_g
            .iter()
            .map(|l| l.exp().max(f32::MIN_POSITIVE as f64))
            .collect();
        let partials = dln_g.map(|d| vec![d.iter().zip(&g).map(|(d, g)| d * g).collect()]);
        linearize(&[&alpha], &shape, &g, partials.as_deref())
    }
}

/// `log p(x)` and its partials with respect to `(α, rate, x)`, in `f64`.
pub(crate) fn gamma_log_prob([a, b, x]: [f64; 3]) -> (f64, [f64; 3]) {
    if x < 0.0 {
        return (f64::NEG_INFINITY, [0.0; 3]);
    }
    let v = xlogy(a - 1.0, x) + a * b.ln() - b * x - lgamma(a);
    let dx = if a == 1.0 { -b } else { (a - 1.0) / x - b };
    (v, [b.ln() + x.ln() - digamma(a), a / b - x, dx])
}

impl_distribution!(Gamma[scalar] {
    fn has_rsample(&self) -> bool {
        true
    }
    fn support(&self) -> Constraint {
        Constraint::NonNegative
    }
    fn sample(&self, sample_shape: &[usize], rng: &mut dyn RngCore) -> DistResult<DynTensor<D>> {
        Ok(self
            .standard(sample_shape, rng, false)?
            .div(&self.rate)?
            .detach())
    }
    fn rsample(&self, sample_shape: &[usize], rng: &mut dyn RngCore) -> DistResult<DynTensor<D>> {
        Ok(self.standard(sample_shape, rng, true)?.div(&self.rate)?)
    }
    fn log_prob(&self, value: &DynTensor<D>) -> DistResult<DynTensor<D>> {
        validate_value("Gamma", &Constraint::NonNegative, value)?;
        host_map(
            "Gamma::log_prob",
            [&self.concentration, &self.rate, value],
            gamma_log_prob,
        )
    }
    fn mean(&self) -> DistResult<DynTensor<D>> {
        Ok(self.concentration.div(&self.rate)?)
    }
    fn variance(&self) -> DistResult<DynTensor<D>> {
        Ok(self.concentration.div(&self.rate.square())?)
    }
});

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distributions::implicit::gamma_p;
    use crate::distributions::testing::*;
    use crate::tensor::special::scalar::trigamma;
    use dfdx::prelude::Cpu;

    fn boxed(p: &[f32]) -> DistResult<BoxDist<Cpu>> {
        Gamma::new(p[0], p[1]).map(|d| Box::new(d) as BoxDist<Cpu>)
    }

    #[test]
    fn log_prob_matches_scipy() {
        check_fixture("gamma", boxed);
    }

    #[test]
    fn log_prob_partials_match_finite_differences() {
        for p in [
            [2.5, 1.3, 0.7],
            [0.3, 4.0, 0.01],
            [40.0, 0.5, 90.0],
            [1.0, 2.0, 3.0],
        ] {
            check_partials(gamma_log_prob, p);
        }
    }

    #[test]
    fn mean_and_variance_match_scipy() {
        check_moments_fixture("gamma", boxed);
    }

    #[test]
    fn sampler_moments_and_ks() {
        for (a, r) in [(2.5f32, 1.5f32), (0.3, 0.7)] {
            let d = Gamma::new(a, r).unwrap();
            let (a, r) = (a as f64, r as f64);
            check_sampler(&d, a / r, a / (r * r), |x| gamma_p(a, r * x));
        }
    }

    #[test]
    fn rsample_rate_gradient_matches_finite_differences() {
        // The standard draws do not depend on the rate, so fixed-noise differences apply.
        check_rsample_grad(&[1.7], |p| {
            Gamma::new(2.5, &p[0]).map(|d| Box::new(d) as BoxDist<Cpu>)
        });
    }

    #[test]
    fn rsample_concentration_gradient_is_unbiased() {
        // d/dα E[x] = 1/rate and d/dα E[ln x] = ψ'(α) (ln x = ln g - ln rate).
        for a in [0.4f32, 3.0] {
            let build = |p: &[DynTensor<Cpu>]| {
                Gamma::from_dyn(p[0].clone(), p[1].clone()).map(|d| Box::new(d) as BoxDist<Cpu>)
            };
            check_mean_grad(&[a, 2.0], 0, |x| x.clone(), 0.5, build);
            check_mean_grad(&[a, 2.0], 0, |x| x.ln(), trigamma(a as f64), build);
        }
    }

    #[test]
    fn rejects_bad_parameters_and_values() {
        check_rejects(
            boxed,
            &[(&[-1.0, 1.0], "concentration"), (&[1.0, 0.0], "rate")],
            &[2.0, 1.0],
            -1.0,
        );
    }

    #[test]
    fn expand_and_typed_shapes() {
        let d = Gamma::new(typed_vec(&[0.5, 1.0, 2.0]), 1.0).unwrap();
        check_expand_and_typed_shapes(&d, &d.expand::<(usize, usize)>(&[2, 3]).unwrap());
        assert!(d.expand::<(usize,)>(&[4]).is_err());
    }
}
