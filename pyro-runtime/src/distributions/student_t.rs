//! Student's t distribution.

use rand::RngCore;

use super::boilerplate::{elementwise_params, impl_distribution};
use super::host_map::{host_map, linearize, where_host};
use super::implicit::log_standard_gammas;
use super::*;
use crate::tensor::numel;
use crate::tensor::special::scalar::{digamma, lgamma};

elementwise_params! {
    /// `StudentT(df, loc, scale)`: density
    /// `Γ((ν+1)/2) / (Γ(ν/2) √(νπ) scale) · (1 + z²/ν)^{-(ν+1)/2}`, `z = (x - loc) / scale`,
    /// ν = df, on the reals.
    ///
    /// `rsample` is reparameterized: `x = loc + scale · ε · √(ν / χ²)` with `ε` standard normal
    /// and `χ² = 2 g`, `g ~ Gamma(ν/2, 1)`; the gradient with respect to `df` is implicit through
    /// `g` (see the `implicit` module). As in torch, the mean is undefined for `df <= 1`
    /// ([`DistError::Undefined`]) and the variance is `+inf` for `1 < df <= 2` and undefined for
    /// `df <= 1`.
    ///
    /// ```
    /// use pyro::distributions::{DistError, Distribution, StudentT};
    /// let d = StudentT::new(4.0, 1.0, 2.0).unwrap();
    /// assert_eq!(d.mean().unwrap().item().unwrap(), 1.0);
    /// assert_eq!(d.variance().unwrap().item().unwrap(), 8.0);
    /// let heavy = StudentT::new(1.0, 0.0, 1.0).unwrap();
    /// assert!(matches!(heavy.mean(), Err(DistError::Undefined { .. })));
    /// assert!(StudentT::new(-1.0, 0.0, 1.0).is_err()); // df must be positive
    /// ```
    pub struct StudentT {
        /// The degrees of freedom ν.
        df: F = 3.0,
        /// The location parameter (the median; the mean when `df > 1`).
        loc: L = 1.0,
        /// The scale parameter.
        scale: R = 0.5,
    }
    /// Errors when `df <= 0` or `scale <= 0` (with validation on).
    new;
    validate { df: Positive, loc: Real, scale: Positive }
}

impl<S, D: Backend> StudentT<S, D> {
    /// Standard t draws `ε · w` with `w = √(ν / (2g))`, `g ~ Gamma(ν/2, 1)`; `w` is on the
    /// graph with `dw/dν = w (1/ν - (d ln g/dα) / 2) / 2` (α = ν/2) when `with_grad`.
    fn standard(
        &self,
        sample_shape: &[usize],
        rng: &mut dyn RngCore,
        with_grad: bool,
    ) -> DistResult<DynTensor<D>> {
        let shape = extended_shape(sample_shape, &self.batch_shape, &[]);
        let eps = DynTensor::from_vec(std_normal_vec(numel(&shape), rng), &shape)?;
        let df = self.df.broadcast_to(&shape)?;
        let nu = df.to_vec();
        let half: Vec<f32> = nu.iter().map(|v| 0.5 * v).collect();
        let with_grad = with_grad && crate::tensor::is_recording();
        let (ln_g, dln_g) = log_standard_gammas(&half, rng, with_grad);
        let w: Vec<f64> = nu
            .iter()
            .zip(&ln_g)
            .map(|(&v, l)| (0.5 * ((v as f64).ln() - std::f64::consts::LN_2 - l)).exp())
            .collect();
        let partials = dln_g.map(|d| {
            vec![w
                .iter()
                .zip(&nu)
                .zip(&d)
                .map(|((w, &v), d)| 0.5 * w * (1.0 / v as f64 - 0.5 * d))
                .collect()]
        });
        let w = linearize(&[&df], &shape, &w, partials.as_deref())?;
        Ok(eps.mul(&w)?)
    }

    fn check_df_above_one(&self, what: &'static str) -> DistResult<()> {
        if self.df.to_vec().iter().any(|&v| v <= 1.0 || v.is_nan()) {
            return Err(DistError::Undefined {
                dist: "StudentT",
                what,
            });
        }
        Ok(())
    }
}

/// `log p(x)` and its partials with respect to `(ν, loc, scale, x)`, in `f64`.
pub(crate) fn student_t_log_prob([nu, loc, scale, x]: [f64; 4]) -> (f64, [f64; 4]) {
    let z = (x - loc) / scale;
    let q = z * z / nu;
    let l1p = q.ln_1p();
    let h = 0.5 * (nu + 1.0);
    let v = lgamma(h)
        - lgamma(0.5 * nu)
        - 0.5 * (nu * std::f64::consts::PI).ln()
        - scale.ln()
        - h * l1p;
    let d_nu = 0.5 * digamma(h) - 0.5 * digamma(0.5 * nu) - 0.5 / nu - 0.5 * l1p
        + h * q / (nu * (1.0 + q));
    let d_x = -(nu + 1.0) * z / (nu * scale * (1.0 + q));
    let d_scale = -1.0 / scale + (nu + 1.0) * q / (scale * (1.0 + q));
    (v, [d_nu, -d_x, d_scale, d_x])
}

impl_distribution!(StudentT[scalar] {
    fn has_rsample(&self) -> bool {
        true
    }
    fn support(&self) -> Constraint {
        Constraint::Real
    }
    fn sample(&self, sample_shape: &[usize], rng: &mut dyn RngCore) -> DistResult<DynTensor<D>> {
        let t = self.standard(sample_shape, rng, false)?;
        Ok(t.mul(&self.scale)?.add(&self.loc)?.detach())
    }
    fn rsample(&self, sample_shape: &[usize], rng: &mut dyn RngCore) -> DistResult<DynTensor<D>> {
        let t = self.standard(sample_shape, rng, true)?;
        Ok(t.mul(&self.scale)?.add(&self.loc)?)
    }
    fn log_prob(&self, value: &DynTensor<D>) -> DistResult<DynTensor<D>> {
        validate_value("StudentT", &Constraint::Real, value)?;
        host_map(
            "StudentT::log_prob",
            [&self.df, &self.loc, &self.scale, value],
            student_t_log_prob,
        )
    }
    fn mean(&self) -> DistResult<DynTensor<D>> {
        self.check_df_above_one("the mean (df <= 1)")?;
        Ok(self.loc.clone())
    }
    fn variance(&self) -> DistResult<DynTensor<D>> {
        self.check_df_above_one("the variance (df <= 1)")?;
        // scale² ν / (ν - 2) is positive exactly when ν > 2 (+inf at ν = 2); +inf for
        // 1 < ν < 2.
        let r = self.df.div(&self.df.add_scalar(-2.0))?;
        let v = self.scale.square().mul(&r)?;
        where_host(&v, |v| v > 0.0, f32::INFINITY)
    }
});

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distributions::testing::*;
    use dfdx::prelude::Cpu;

    fn boxed(p: &[f32]) -> DistResult<BoxDist<Cpu>> {
        StudentT::new(p[0], p[1], p[2]).map(|d| Box::new(d) as BoxDist<Cpu>)
    }

    #[test]
    fn log_prob_matches_scipy() {
        check_fixture("studentt", boxed);
    }

    #[test]
    fn log_prob_partials_match_finite_differences() {
        for p in [
            [3.0, 0.5, 1.5, 2.0],
            [0.4, -1.0, 0.2, 30.0],
            [50.0, 2.0, 3.0, -4.0],
            [1.0, 0.0, 1.0, 0.0],
        ] {
            check_partials(student_t_log_prob, p);
        }
    }

    #[test]
    fn mean_and_variance_match_scipy() {
        check_moments_fixture("studentt", boxed);
    }

    #[test]
    fn sampler_moments_and_ks() {
        let d = StudentT::new(10.0, 1.0, 2.0).unwrap();
        check_sampler(&d, 1.0, 4.0 * 10.0 / 8.0, |x| {
            student_t_cdf(10.0, (x - 1.0) / 2.0)
        });
    }

    #[test]
    fn sampler_ks_heavy_tails() {
        // df = 1.5: infinite variance, KS only.
        let d = StudentT::new(1.5, -1.0, 0.5).unwrap();
        check_sampler_ks(&d, |x| student_t_cdf(1.5, (x + 1.0) / 0.5));
    }

    #[test]
    fn rsample_gradients_match_finite_differences() {
        // loc and scale act on fixed noise; df is checked below.
        check_rsample_grad(&[0.3, 1.7], |p| {
            StudentT::new(4.0, &p[0], &p[1]).map(|d| Box::new(d) as BoxDist<Cpu>)
        });
    }

    #[test]
    fn rsample_df_gradient_is_unbiased() {
        // E[x²] = scale² ν / (ν - 2) for loc = 0, so d/dν E[x²] = -2 scale² / (ν - 2)².
        let build = |p: &[DynTensor<Cpu>]| {
            StudentT::from_dyn(p[0].clone(), p[1].clone(), p[2].clone())
                .map(|d| Box::new(d) as BoxDist<Cpu>)
        };
        let (nu, s) = (12.0f64, 1.5f64);
        let want = -2.0 * s * s / ((nu - 2.0) * (nu - 2.0));
        check_mean_grad(&[12.0, 0.0, 1.5], 0, |x| x.square(), want, build);
    }

    #[test]
    fn rejects_bad_parameters_and_values() {
        check_rejects(
            boxed,
            &[
                (&[0.0, 0.0, 1.0], "df"),
                (&[1.0, f32::NAN, 1.0], "loc"),
                (&[1.0, 0.0, -1.0], "scale"),
            ],
            &[2.0, 0.0, 1.0],
            f32::NAN,
        );
    }

    #[test]
    fn expand_and_typed_shapes() {
        let d = StudentT::new(3.0, typed_vec(&[0.0, -1.0, 2.0]), 1.0).unwrap();
        check_expand_and_typed_shapes(&d, &d.expand::<(usize, usize)>(&[2, 3]).unwrap());
        assert!(d.expand::<(usize,)>(&[4]).is_err());
    }
}
