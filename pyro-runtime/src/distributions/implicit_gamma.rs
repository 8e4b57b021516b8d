//! Gamma(α, 1) draws in log space and their implicit reparameterization gradient, for the
//! reparameterized samplers built on gammas (Dirichlet).
//!
//! A draw `x` with cdf `P(α, x) = u` moves with α as `dx/dα = -(∂P/∂α) / p(x; α)` (implicit
//! differentiation of the cdf at a fixed quantile), with `P` the regularized lower incomplete
//! gamma function. We work with `log x`, which stays finite when `x` underflows (small α):
//!
//! - for `x < α + 1`, `P = x^α e^{-x} / Γ(α+1) · S`, `S = Σ_k x^k / ((α+1)…(α+k))`, and
//!   `d log x/dα = -((log x - ψ(α+1)) S + ∂S/∂α) / α`;
//! - otherwise `Q = 1 - P = x^α e^{-x} / Γ(α) · h`, `h` a continued fraction (evaluated by the
//!   modified Lentz method), and `d log x/dα = (log x - ψ(α)) h + ∂h/∂α`.
//!
//! The derivatives of `S` and `h` in α are carried exactly through the series and the
//! fraction by forward-mode dual numbers (rather than by finite differences).

use std::ops::{Add, Div, Mul, Sub};

use rand::RngCore;
use rand_distr::Distribution as _;

use crate::tensor::special::scalar::digamma;
#[cfg(test)]
use crate::tensor::special::scalar::lgamma;

/// A value and its derivative in α.
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

/// `S(α) = Σ_k x^k / ((α+1)…(α+k))` and its α-derivative.
fn series(a: f64, x: f64) -> Dual {
    let alpha = Dual { v: a, d: 1.0 };
    let mut term = Dual::cst(1.0);
    let mut sum = term;
    for k in 1..MAX_ITER {
        term = term * Dual::cst(x) / (alpha + Dual::cst(k as f64));
        sum = sum + term;
        if term.v.abs() <= sum.v.abs() * EPS
            && term.d.abs() <= sum.d.abs() * EPS + f64::MIN_POSITIVE
        {
            break;
        }
    }
    sum
}

/// The continued fraction `h(α)` of `Q(α, x) = x^α e^{-x} / Γ(α) · h` and its α-derivative.
fn continued_fraction(a: f64, x: f64) -> Dual {
    const TINY: f64 = 1e-300;
    let alpha = Dual { v: a, d: 1.0 };
    let fix = |mut z: Dual| {
        if z.v.abs() < TINY {
            z.v = TINY;
        }
        z
    };
    let mut b = Dual::cst(x + 1.0) - alpha;
    let mut c = Dual::cst(1.0 / TINY);
    let mut d = Dual::cst(1.0) / fix(b);
    let mut h = d;
    for i in 1..MAX_ITER {
        let fi = i as f64;
        let an = Dual::cst(-fi) * (Dual::cst(fi) - alpha);
        b = b + Dual::cst(2.0);
        d = fix(an * d + b);
        c = fix(b + an / c);
        d = Dual::cst(1.0) / d;
        let del = d * c;
        h = h * del;
        if (del.v - 1.0).abs() <= EPS && del.d.abs() * h.v.abs() <= EPS * h.d.abs() + 1e-300 {
            break;
        }
    }
    h
}

/// `d log x / dα` for a Gamma(α, 1) draw `x = exp(log_x)` held at its quantile.
pub(crate) fn dlogx_dalpha(alpha: f64, log_x: f64) -> f64 {
    let x = log_x.exp();
    if x < alpha + 1.0 {
        let s = series(alpha, x);
        -((log_x - digamma(alpha + 1.0)) * s.v + s.d) / alpha
    } else {
        let h = continued_fraction(alpha, x);
        (log_x - digamma(alpha)) * h.v + h.d
    }
}

/// The regularized lower incomplete gamma function `P(α, x)`.
#[cfg(test)]
pub(crate) fn gamma_p(alpha: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    let log_front = alpha * x.ln() - x;
    if x < alpha + 1.0 {
        (log_front - lgamma(alpha + 1.0) + series(alpha, x).v.ln()).exp()
    } else {
        1.0 - (log_front - lgamma(alpha) + continued_fraction(alpha, x).v.ln()).exp()
    }
}

/// `log x` for one draw `x ~ Gamma(α, 1)`; for `α < 1` as `log Gamma(α+1) + log(U)/α`, which
/// stays finite where `x` itself would underflow. `None` when α is not a valid shape.
pub(crate) fn log_gamma_draw(alpha: f64, rng: &mut dyn RngCore) -> Option<f64> {
    use rand::Rng as _;
    if !(alpha > 0.0 && alpha.is_finite()) {
        return None;
    }
    if alpha >= 1.0 {
        let g = rand_distr::Gamma::new(alpha, 1.0).ok()?.sample(rng);
        Some(g.ln())
    } else {
        let g = rand_distr::Gamma::new(alpha + 1.0, 1.0).ok()?.sample(rng);
        let u: f64 = 1.0 - rng.gen::<f64>(); // (0, 1]
        Some(g.ln() + u.ln() / alpha)
    }
}

/// `log x'` with `x' ~ Gamma(α', 1)` at the same quantile as `x₀ = exp(log_x0)` under
/// Gamma(α₀, 1): the transport map the implicit gradient differentiates (bisection in `log x`
/// on `log P` or `log Q`, whichever tail is smaller, so both tails keep full precision).
#[cfg(test)]
pub(crate) fn log_x_at_same_quantile(alpha_new: f64, alpha0: f64, log_x0: f64) -> f64 {
    // Series below a + 1, continued fraction above (each where it converges).
    let series_ln_p = |a: f64, lx: f64| {
        let x = lx.exp();
        a * lx - x - lgamma(a + 1.0) + series(a, x).v.ln()
    };
    let cf_ln_q = |a: f64, lx: f64| {
        let x = lx.exp();
        a * lx - x - lgamma(a) + continued_fraction(a, x).v.ln()
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
    let lower = gamma_p(alpha0, log_x0.exp()) < 0.5;
    let f = |a: f64, lx: f64| if lower { ln_p(a, lx) } else { -ln_q(a, lx) };
    let target = f(alpha0, log_x0);
    let (mut lo, mut hi) = (log_x0 - 50.0, log_x0 + 5.0);
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

#[cfg(test)]
#[allow(clippy::needless_range_loop)] // index-heavy numeric checks
mod tests {
    use super::*;
    use crate::distributions::testing::load_fixture;

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

    /// Against scipy: central differences of the inverse incomplete gamma at a fixed quantile.
    #[test]
    fn implicit_gradient_matches_scipy_inverse_cdf() {
        let rows = load_fixture("gamma_implicit_dlogx");
        assert!(rows.len() >= 20);
        for r in rows {
            let (a, x) = (r.params[0] as f64, r.value[0] as f64);
            let got = dlogx_dalpha(a, x.ln());
            assert!(
                (got - r.log_prob).abs() <= 1e-6 * r.log_prob.abs().max(1.0),
                "alpha {a}, x {x}: got {got}, scipy {}",
                r.log_prob
            );
        }
    }

    #[test]
    fn log_draws_are_finite_for_tiny_shapes() {
        let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(3);
        for _ in 0..1000 {
            let lx = log_gamma_draw(1e-3, &mut rng).unwrap();
            assert!(lx.is_finite());
            assert!(dlogx_dalpha(1e-3, lx).is_finite());
        }
        assert!(log_gamma_draw(-1.0, &mut rng).is_none());
        assert!(log_gamma_draw(f64::NAN, &mut rng).is_none());
    }
}
