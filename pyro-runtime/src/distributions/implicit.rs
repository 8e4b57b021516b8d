//! Implicit reparameterization of gamma draws (Figurnov et al., 2018), shared by `Gamma`,
//! `InverseGamma`, `Beta`, `StudentT` and `Dirichlet`.
//!
//! A draw `x ~ Gamma(α, 1)` comes from a rejection sampler (Marsaglia–Tsang), which is not a
//! smooth function of its noise. Its gradient with respect to `α` is taken instead from the
//! CDF held fixed: with `u = P(α, x)` (the regularized lower incomplete gamma function),
//! `dx/dα = -(∂P/∂α)(α, x) / p(x; α)`. Everything here is `f64` on the host:
//!
//! * `P` and `Q = 1 - P` by their power series (for `x < α + 1`) and Legendre continued
//!   fraction (otherwise), the usual split that keeps both converging fast;
//! * `∂P/∂α` by carrying a dual number `(value, d/dα)` through the same series or continued
//!   fraction, so the derivative is as accurate as the function;
//! * draws are produced as `ln x`, so tiny concentrations (where `x` underflows even in
//!   `f64`) still give finite values and derivatives of `ln x`.

use std::ops::{Add, Div, Mul, Sub};

use rand::RngCore;

use super::host_map::open_uniform;
use super::DistResult;
use crate::tensor::{Backend, DynTensor};

use crate::tensor::special::scalar::{digamma, lgamma};

/// A dual number `v + d ε` for forward-mode derivatives with respect to `α`.
#[derive(Debug, Clone, Copy)]
struct Dual {
    v: f64,
    d: f64,
}

impl Dual {
    fn cst(v: f64) -> Self {
        Dual { v, d: 0.0 }
    }
}
impl Add for Dual {
    type Output = Dual;
    fn add(self, o: Dual) -> Dual {
        Dual {
            v: self.v + o.v,
            d: self.d + o.d,
        }
    }
}
impl Sub for Dual {
    type Output = Dual;
    fn sub(self, o: Dual) -> Dual {
        Dual {
            v: self.v - o.v,
            d: self.d - o.d,
        }
    }
}
impl Mul for Dual {
    type Output = Dual;
    fn mul(self, o: Dual) -> Dual {
        Dual {
            v: self.v * o.v,
            d: self.d * o.v + self.v * o.d,
        }
    }
}
impl Div for Dual {
    type Output = Dual;
    fn div(self, o: Dual) -> Dual {
        Dual {
            v: self.v / o.v,
            d: (self.d * o.v - self.v * o.d) / (o.v * o.v),
        }
    }
}

const MAX_ITER: usize = 100_000;
const EPS: f64 = 1e-16;

/// `S(α, x) = Σ_{n≥0} x^n / ((α+1)(α+2)…(α+n))` and `∂S/∂α`, so that
/// `P(α, x) = e^{-x} x^α / Γ(α+1) · S`.
fn series(a: f64, x: f64) -> Dual {
    let alpha = Dual { v: a, d: 1.0 };
    let mut term = Dual::cst(1.0);
    let mut sum = Dual::cst(1.0);
    for n in 1..MAX_ITER {
        term = term * Dual::cst(x) / (alpha + Dual::cst(n as f64));
        sum = sum + term;
        if term.v.abs() <= EPS * sum.v.abs() && term.d.abs() <= EPS * sum.d.abs().max(1e-300) {
            break;
        }
    }
    sum
}

/// `C(α, x)` with `Q(α, x) = e^{-x} x^α / Γ(α) · C`, by the modified Lentz method on the
/// continued fraction `1 / (x+1-α - 1(1-α) / (x+3-α - 2(2-α) / (x+5-α - …)))`, and `∂C/∂α`.
fn cont_frac(a: f64, x: f64) -> Dual {
    const TINY: f64 = 1e-300;
    let alpha = Dual { v: a, d: 1.0 };
    let guard = |z: Dual| {
        if z.v.abs() < TINY {
            Dual { v: TINY, d: z.d }
        } else {
            z
        }
    };
    let one = Dual::cst(1.0);
    let mut b = Dual::cst(x + 1.0) - alpha;
    let mut c = Dual::cst(1.0 / TINY);
    let mut d = one / guard(b);
    let mut h = d;
    for i in 1..MAX_ITER {
        let fi = i as f64;
        let an = Dual::cst(-fi) * (Dual::cst(fi) - alpha);
        b = b + Dual::cst(2.0);
        d = one / guard(an * d + b);
        c = guard(b + an / c);
        let del = d * c;
        h = h * del;
        if (del.v - 1.0).abs() <= EPS && del.d.abs() <= EPS * (1.0 + h.d.abs() / h.v.abs()) {
            break;
        }
    }
    h
}

/// The regularized lower incomplete gamma function `P(α, x) = γ(α, x) / Γ(α)`.
#[allow(dead_code)] // used by the tests (cdfs); kept for a future `cdf`
pub(crate) fn gamma_p(a: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x.is_infinite() {
        return 1.0;
    }
    if x < a + 1.0 {
        (a * x.ln() - x - lgamma(a + 1.0)).exp() * series(a, x).v
    } else {
        1.0 - (a * x.ln() - x - lgamma(a)).exp() * cont_frac(a, x).v
    }
}

/// The regularized upper incomplete gamma function `Q(α, x) = 1 - P(α, x)`.
#[allow(dead_code)] // used by the tests (cdfs); kept for a future `cdf`
pub(crate) fn gamma_q(a: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 1.0;
    }
    if x.is_infinite() {
        return 0.0;
    }
    if x < a + 1.0 {
        1.0 - (a * x.ln() - x - lgamma(a + 1.0)).exp() * series(a, x).v
    } else {
        (a * x.ln() - x - lgamma(a)).exp() * cont_frac(a, x).v
    }
}

/// `d ln x / dα` for `x = exp(ln_x)` a draw of `Gamma(α, 1)` with `P(α, x)` held fixed.
///
/// Series region: `dx/dα = -(x/α) (S (ln x - ψ(α+1)) + ∂S/∂α)`; continued-fraction region:
/// `dx/dα = x (C (ln x - ψ(α)) + ∂C/∂α)` (the common factor `x^α e^{-x}/Γ` cancels against the
/// density, so nothing underflows).
pub(crate) fn dlnx_dalpha(a: f64, ln_x: f64) -> f64 {
    let x = ln_x.exp();
    if x < a + 1.0 {
        let s = series(a, x);
        -(s.v * (ln_x - digamma(a + 1.0)) + s.d) / a
    } else {
        let c = cont_frac(a, x);
        c.v * (ln_x - digamma(a)) + c.d
    }
}

/// `ln x` for one draw `x ~ Gamma(α, 1)`: Marsaglia–Tsang squeeze/rejection for `α >= 1`;
/// for `α < 1` a draw of `Gamma(α + 1, 1)` times `U^{1/α}`, added in log space.
pub(crate) fn log_standard_gamma(a: f64, rng: &mut dyn RngCore) -> f64 {
    use rand_distr::Distribution as _;
    if !(a > 0.0 && a.is_finite()) {
        // Not a valid shape (only reachable with validation off): no draw exists. Checking
        // here also keeps the boost below from recursing without end.
        return f64::NAN;
    }
    if a < 1.0 {
        let ln_u = open_uniform(rng).ln();
        return log_standard_gamma(a + 1.0, rng) + ln_u / a;
    }
    let d = a - 1.0 / 3.0;
    let c = 1.0 / (9.0 * d).sqrt();
    loop {
        let z: f64 = rand_distr::StandardNormal.sample(rng);
        let v = 1.0 + c * z;
        if v <= 0.0 {
            continue;
        }
        let v3 = v * v * v;
        let u = open_uniform(rng);
        let z2 = z * z;
        if u < 1.0 - 0.0331 * z2 * z2 || u.ln() < 0.5 * z2 + d * (1.0 - v3 + v3.ln()) {
            return d.ln() + 3.0 * v.ln();
        }
    }
}

/// [`log_standard_gamma`] for a shape that must be positive and finite; `None` otherwise.
pub(crate) fn log_standard_gamma_checked(a: f64, rng: &mut dyn RngCore) -> Option<f64> {
    // (log_standard_gamma itself returns NaN for such shapes.)
    (a > 0.0 && a.is_finite()).then(|| log_standard_gamma(a, rng))
}

/// `ln x'` with `x' ~ Gamma(α', 1)` at the same quantile as `x₀ = exp(ln_x0)` under
/// Gamma(α₀, 1): the transport map the implicit gradient differentiates (bisection in `ln x`
/// on `ln P` or `ln Q`, whichever tail is smaller, so both tails keep full precision).
#[cfg(test)]
pub(crate) fn log_x_at_same_quantile(alpha_new: f64, alpha0: f64, ln_x0: f64) -> f64 {
    // Series below α + 1, continued fraction above (each where it converges).
    let series_ln_p = |a: f64, lx: f64| {
        let x = lx.exp();
        a * lx - x - lgamma(a + 1.0) + series(a, x).v.ln()
    };
    let cf_ln_q = |a: f64, lx: f64| {
        let x = lx.exp();
        a * lx - x - lgamma(a) + cont_frac(a, x).v.ln()
    };
    let ln_p = |a: f64, lx: f64| {
        if lx.exp() < a + 1.0 {
            series_ln_p(a, lx)
        } else {
            libm::log1p(-cf_ln_q(a, lx).exp())
        }
    };
    let ln_q = |a: f64, lx: f64| {
        if lx.exp() >= a + 1.0 {
            cf_ln_q(a, lx)
        } else {
            libm::log1p(-series_ln_p(a, lx).exp())
        }
    };
    let lower = gamma_p(alpha0, ln_x0.exp()) < 0.5;
    let f = |a: f64, lx: f64| if lower { ln_p(a, lx) } else { -ln_q(a, lx) };
    let target = f(alpha0, ln_x0);
    let (mut lo, mut hi) = (ln_x0 - 50.0, ln_x0 + 5.0);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if f(alpha_new, mid) < target {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// Draws `ln x_i ~ ln Gamma(α_i, 1)` for each concentration, and, when `with_grad`, the
/// implicit derivatives `d ln x_i / dα_i`.
pub(crate) fn log_standard_gammas(
    alphas: &[f32],
    rng: &mut dyn RngCore,
    with_grad: bool,
) -> (Vec<f64>, Option<Vec<f64>>) {
    let ln_x: Vec<f64> = alphas
        .iter()
        .map(|&a| log_standard_gamma(a as f64, rng))
        .collect();
    let grads = with_grad.then(|| {
        alphas
            .iter()
            .zip(&ln_x)
            .map(|(&a, &l)| dlnx_dalpha(a as f64, l))
            .collect()
    });
    (ln_x, grads)
}

/// Broadcast concentrations, `ln g` and (optionally) `d ln g / dα`.
pub(crate) type LogGammaDraws<D> = (DynTensor<D>, Vec<f64>, Option<Vec<f64>>);

/// [`log_standard_gammas`] for the concentrations `alpha` broadcast to `shape`, with the
/// derivatives only when `with_grad` and a gradient scope is open; also returns the broadcast
/// concentrations (the input the draws are linearised in).
pub(crate) fn log_standard_gammas_of<D: Backend>(
    alpha: &DynTensor<D>,
    shape: &[usize],
    rng: &mut dyn RngCore,
    with_grad: bool,
) -> DistResult<LogGammaDraws<D>> {
    let alpha = alpha.broadcast_to(shape)?;
    let with_grad = with_grad && crate::tensor::is_recording();
    let (ln_g, d) = log_standard_gammas(&alpha.to_vec(), rng, with_grad);
    Ok((alpha, ln_g, d))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distributions::testing::load_fixture;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    #[test]
    fn incomplete_gamma_matches_scipy() {
        // Rows: a ; x ; scipy.special.gammainc(a, x) (resp. gammaincc), each to 1e-10
        // relative: the two are computed separately so each keeps its relative accuracy.
        for (file, f) in [
            ("gammainc", gamma_p as fn(f64, f64) -> f64),
            ("gammaincc", gamma_q),
        ] {
            let rows = load_fixture(file);
            assert!(rows.len() >= 20);
            for r in rows {
                let (a, x) = (r.params[0] as f64, r.value[0] as f64);
                let got = f(a, x);
                assert!(
                    (got - r.log_prob).abs() <= 1e-300 + 1e-10 * r.log_prob,
                    "{file}({a}, {x}) = {got}, scipy {}",
                    r.log_prob
                );
            }
        }
    }

    #[test]
    fn implicit_derivative_matches_scipy_inverse_cdf() {
        // Rows: a ; x ; dx/da with P(a, x) fixed, from central differences of scipy's
        // gammaincinv in f64.
        let rows = load_fixture("gamma_implicit_grad");
        assert!(rows.len() >= 20);
        for r in rows {
            let (a, x) = (r.params[0] as f64, r.value[0] as f64);
            let got = x * dlnx_dalpha(a, x.ln());
            assert!(
                (got - r.log_prob).abs() <= 1e-5 * r.log_prob.abs().max(1e-3 * x),
                "dx/da at a={a}, x={x}: {got}, scipy {}",
                r.log_prob
            );
        }
    }

    /// `P^{-1}(α, u)` by bisection on `ln x` (monotone, so it cannot fail to converge).
    fn inverse_p(a: f64, u: f64) -> f64 {
        let (mut lo, mut hi) = (-800.0f64, 10.0 + (10.0 * a).ln().max(0.0) * 2.0);
        while gamma_p(a, hi.exp()) < u {
            hi += 2.0;
        }
        for _ in 0..200 {
            let mid = 0.5 * (lo + hi);
            if gamma_p(a, mid.exp()) < u {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        (0.5 * (lo + hi)).exp()
    }

    #[test]
    fn implicit_derivative_matches_inverse_cdf_differences() {
        let mut rng = StdRng::seed_from_u64(5);
        for &a in &[0.05, 0.3, 1.0, 2.5, 7.0, 40.0, 300.0] {
            for _ in 0..6 {
                let ln_x = log_standard_gamma(a, &mut rng);
                let x = ln_x.exp();
                let u = gamma_p(a, x);
                if !(1e-10..1.0 - 1e-10).contains(&u) {
                    continue;
                }
                let h = 1e-5 * a;
                let fd = (inverse_p(a + h, u) - inverse_p(a - h, u)) / (2.0 * h);
                let got = x * dlnx_dalpha(a, ln_x);
                assert!(
                    (got - fd).abs() <= 1e-4 * fd.abs().max(1e-6 * x.max(1e-300)),
                    "a={a} x={x}: implicit {got}, inverse-cdf difference {fd}"
                );
            }
        }
    }

    #[test]
    fn incomplete_gamma_matches_closed_forms() {
        for &x in &[1e-8f64, 0.01, 0.3, 1.0, 2.5, 7.0, 30.0] {
            let e1 = 1.0 - (-x).exp();
            let e_half = libm::erf(x.sqrt());
            let e3 = 1.0 - (-x).exp() * (1.0 + x + x * x / 2.0);
            for (a, want) in [(1.0, e1), (0.5, e_half), (3.0, e3)] {
                let got = gamma_p(a, x);
                assert!(
                    (got - want).abs() <= 1e-13 + 1e-12 * want.abs(),
                    "P({a}, {x}) = {got}, want {want}"
                );
            }
        }
    }

    /// Against scipy: central differences of the inverse incomplete gamma at a fixed quantile,
    /// as `d ln x / dα`.
    #[test]
    fn implicit_log_derivative_matches_scipy_inverse_cdf() {
        let rows = load_fixture("gamma_implicit_dlogx");
        assert!(rows.len() >= 20);
        for r in rows {
            let (a, x) = (r.params[0] as f64, r.value[0] as f64);
            let got = dlnx_dalpha(a, x.ln());
            assert!(
                (got - r.log_prob).abs() <= 1e-6 * r.log_prob.abs().max(1.0),
                "alpha {a}, x {x}: got {got}, scipy {}",
                r.log_prob
            );
        }
    }

    #[test]
    fn checked_draws_reject_invalid_shapes() {
        let mut rng = StdRng::seed_from_u64(3);
        for _ in 0..1000 {
            let lx = log_standard_gamma_checked(1e-3, &mut rng).unwrap();
            assert!(lx.is_finite());
            assert!(dlnx_dalpha(1e-3, lx).is_finite());
        }
        for bad in [-1.0, 0.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert!(log_standard_gamma_checked(bad, &mut rng).is_none());
        }
    }

    #[test]
    fn tiny_concentration_gives_finite_log_draws() {
        let mut rng = StdRng::seed_from_u64(3);
        let a32 = 1e-3f32;
        let a = a32 as f64;
        let (l, g) = log_standard_gammas(&[a32; 50], &mut rng, true);
        let g = g.unwrap();
        assert!(l.iter().all(|v| v.is_finite()));
        assert!(g.iter().all(|v| v.is_finite()));
        // Most draws underflow f64 (ln x < -745) at α = 1e-3, yet d ln x/dα stays finite. There
        // P(α, x) ≈ x^α / Γ(α+1), so ln x = (ln u + ln Γ(α+1)) / α at fixed u, whose
        // α-derivative is -(ln x - ψ(α+1)) / α.
        let mut underflowed = 0;
        for (&lx, &gx) in l.iter().zip(&g) {
            if lx < -800.0 {
                underflowed += 1;
                let want = -(lx - digamma(a + 1.0)) / a;
                assert!((gx - want).abs() <= 1e-9 * want.abs(), "{gx} vs {want}");
            }
        }
        assert!(underflowed > 10, "only {underflowed} underflowing draws");
    }
}

#[cfg(test)]
mod invalid_shape_tests {
    use rand::SeedableRng;

    #[test]
    fn invalid_shapes_give_nan_without_recursing_or_looping() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(0);
        for a in [f64::NEG_INFINITY, -1e12, -1.0, 0.0, f64::NAN, f64::INFINITY] {
            assert!(super::log_standard_gamma(a, &mut rng).is_nan(), "shape {a}");
        }
        assert!(super::log_standard_gamma(0.5, &mut rng).is_finite());
    }
}
