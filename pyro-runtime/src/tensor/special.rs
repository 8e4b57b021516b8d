//! Special functions with gradients: softplus, log1p, expm1, log_sigmoid, lgamma, digamma,
//! trigamma, erf, erfc, the normal cdf `ndtr` and its log.
//!
//! Each is evaluated in `f64` on the host as one kernel ([`host_unary`]): the value `f(x)`
//! and, for the backward step, the derivative `f'(x)` at the same point.

use dfdx::prelude::*;

use super::backend::Backend;
use super::dyn_tensor::DynTensor;
use super::host_node::Vals;
use super::tape::is_recording;

/// Scalar special functions in `f64`.
pub mod scalar {
    /// `log(1 + exp(x))` without overflow or loss of precision.
    pub fn softplus(x: f64) -> f64 {
        if x > 0.0 {
            x + libm::log1p((-x).exp())
        } else {
            libm::log1p(x.exp())
        }
    }

    /// Logistic sigmoid, stable for large `|x|`.
    pub fn sigmoid(x: f64) -> f64 {
        if x >= 0.0 {
            1.0 / (1.0 + (-x).exp())
        } else {
            let e = x.exp();
            e / (1.0 + e)
        }
    }

    /// `log Γ(x)` (for `x > 0`; the log of `|Γ(x)|` elsewhere).
    pub fn lgamma(x: f64) -> f64 {
        libm::lgamma_r(x).0
    }

    /// The digamma function ψ(x) = d/dx log Γ(x).
    pub fn digamma(mut x: f64) -> f64 {
        if x.is_nan() || x == f64::NEG_INFINITY {
            return f64::NAN;
        }
        let mut result = 0.0;
        if x <= 0.0 {
            if x == x.floor() {
                return f64::NAN; // poles at 0, -1, -2, ...
            }
            // Reflection: ψ(1 - x) - ψ(x) = π cot(πx).
            result -= std::f64::consts::PI / (std::f64::consts::PI * x).tan();
            x = 1.0 - x;
        }
        while x < 6.0 {
            result -= 1.0 / x;
            x += 1.0;
        }
        let f = 1.0 / (x * x);
        let series = f
            * (1.0 / 12.0
                - f * (1.0 / 120.0 - f * (1.0 / 252.0 - f * (1.0 / 240.0 - f * (1.0 / 132.0)))));
        result + x.ln() - 0.5 / x - series
    }

    /// The trigamma function ψ'(x).
    pub fn trigamma(mut x: f64) -> f64 {
        if x.is_nan() {
            return f64::NAN;
        }
        let mut result = 0.0;
        if x <= 0.0 {
            if x == x.floor() {
                return f64::NAN;
            }
            // Reflection: ψ'(1 - x) + ψ'(x) = π² / sin²(πx).
            let s = (std::f64::consts::PI * x).sin();
            let refl = std::f64::consts::PI * std::f64::consts::PI / (s * s);
            return refl - trigamma(1.0 - x);
        }
        while x < 6.0 {
            result += 1.0 / (x * x);
            x += 1.0;
        }
        let f = 1.0 / (x * x);
        let series = 1.0 / x
            + f / 2.0
            + f / x * (1.0 / 6.0 - f * (1.0 / 30.0 - f * (1.0 / 42.0 - f * (1.0 / 30.0))));
        result + series
    }

    /// The standard normal cdf Φ(x).
    pub fn ndtr(x: f64) -> f64 {
        0.5 * libm::erfc(-x / std::f64::consts::SQRT_2)
    }

    /// `log Φ(x)`, accurate in the far left tail.
    pub fn log_ndtr(x: f64) -> f64 {
        if x >= 0.0 {
            libm::log1p(-0.5 * libm::erfc(x / std::f64::consts::SQRT_2))
        } else if x > -37.0 {
            (0.5 * libm::erfc(-x / std::f64::consts::SQRT_2)).ln()
        } else {
            // Asymptotic expansion of the Mills ratio (relative error < 1e-20 here).
            let x2 = x * x;
            let mut term = 1.0;
            let mut sum = 1.0;
            for k in 1..8 {
                term *= -((2 * k - 1) as f64) / x2;
                sum += term;
            }
            -0.5 * x2 - (-x).ln() - 0.5 * (2.0 * std::f64::consts::PI).ln() + sum.ln()
        }
    }

    /// The standard normal quantile function Φ⁻¹(p) (`scipy.special.ndtri`): Acklam's
    /// rational approximation refined by two Newton steps on `erfc`.
    pub fn ndtri(p: f64) -> f64 {
        if p.is_nan() || !(0.0..=1.0).contains(&p) {
            return f64::NAN;
        }
        if p == 0.0 {
            return f64::NEG_INFINITY;
        }
        if p == 1.0 {
            return f64::INFINITY;
        }
        const A: [f64; 6] = [
            -3.969683028665376e1,
            2.209460984245205e2,
            -2.759285104469687e2,
            1.383_577_518_672_69e2,
            -3.066479806614716e1,
            2.506628277459239,
        ];
        const B: [f64; 5] = [
            -5.447609879822406e1,
            1.615858368580409e2,
            -1.556989798598866e2,
            6.680131188771972e1,
            -1.328068155288572e1,
        ];
        const C: [f64; 6] = [
            -7.784894002430293e-3,
            -3.223964580411365e-1,
            -2.400758277161838,
            -2.549732539343734,
            4.374664141464968,
            2.938163982698783,
        ];
        const E: [f64; 4] = [
            7.784695709041462e-3,
            3.224671290700398e-1,
            2.445134137142996,
            3.754408661907416,
        ];
        let tail = |q: f64| {
            (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
                / ((((E[0] * q + E[1]) * q + E[2]) * q + E[3]) * q + 1.0)
        };
        let mut x = if p < 0.02425 {
            tail((-2.0 * p.ln()).sqrt())
        } else if p > 1.0 - 0.02425 {
            -tail((-2.0 * (1.0 - p).ln()).sqrt())
        } else {
            let q = p - 0.5;
            let r = q * q;
            (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
                / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
        };
        for _ in 0..2 {
            // Newton on Φ(x) - p, in the tail-accurate form for p < 1/2.
            let err = if p < 0.5 {
                ndtr(x) - p
            } else {
                (1.0 - p) - 0.5 * libm::erfc(x / std::f64::consts::SQRT_2)
            };
            let d = normal_pdf(x);
            if d > 0.0 && d.is_finite() {
                x -= err / d;
            }
        }
        x
    }

    /// Standard normal density.
    pub fn normal_pdf(x: f64) -> f64 {
        (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt()
    }
}

/// Applies a host-evaluated function with known derivative: `f` returns `(f(x), f'(x))`.
pub fn host_unary<D: Backend>(x: &DynTensor<D>, f: impl Fn(f64) -> (f64, f64)) -> DynTensor<D> {
    let cpu = super::host_op::host_kernel(
        "host_unary",
        [x],
        |[a], n| {
            let finite = |dy: f64| if dy.is_finite() { dy as f32 } else { 0.0 };
            if n == 1 {
                // One value: no heap allocation for the value or its derivative.
                let (y, dy) = f(a.at(0) as f64);
                return (Vals::One(y as f32), Vals::One(finite(dy)));
            }
            let mut vals = Vec::with_capacity(n);
            let mut ders = Vec::with_capacity(if is_recording() { n } else { 0 });
            for k in 0..n {
                let (y, dy) = f(a.at(k) as f64);
                vals.push(y as f32);
                if ders.capacity() > 0 {
                    ders.push(finite(dy));
                }
            }
            (Vals::Many(vals), Vals::Many(ders))
        },
        |ders, [a], _, g_out, g_in| {
            let ders = ders.as_slice();
            super::host_op::accumulate(a, g_in, g_out, |k| ders[k])
        },
    );
    cpu.expect("one input is its own broadcast shape")
        .expect("one input broadcasts with itself")
}

/// Special functions on differentiable tensors.
///
/// ```
/// use pyro::tensor::{DynTensor, Special};
/// let x = DynTensor::<dfdx::prelude::Cpu>::from_vec(vec![1.0, 5.0], &[2]).unwrap();
/// let y = x.lgamma().to_vec();
/// assert!((y[0] - 0.0).abs() < 1e-6 && (y[1] - 24f32.ln()).abs() < 1e-5);
/// ```
pub trait Special: Sized {
    /// `log(1 + exp(x))`.
    fn softplus(&self) -> Self;
    /// `log(1 + x)`.
    fn log1p(&self) -> Self;
    /// `exp(x) - 1`.
    fn expm1(&self) -> Self;
    /// `log(sigmoid(x))`.
    fn log_sigmoid(&self) -> Self;
    /// `log Γ(x)`.
    fn lgamma(&self) -> Self;
    /// ψ(x).
    fn digamma(&self) -> Self;
    /// ψ'(x).
    fn trigamma(&self) -> Self;
    /// The error function.
    fn erf(&self) -> Self;
    /// The complementary error function.
    fn erfc(&self) -> Self;
    /// The standard normal cdf.
    fn ndtr(&self) -> Self;
    /// The log of the standard normal cdf.
    fn log_ndtr(&self) -> Self;
}

impl<D: Backend> Special for DynTensor<D> {
    fn softplus(&self) -> Self {
        host_unary(self, |x| (scalar::softplus(x), scalar::sigmoid(x)))
    }
    fn log1p(&self) -> Self {
        host_unary(self, |x| (libm::log1p(x), 1.0 / (1.0 + x)))
    }
    fn expm1(&self) -> Self {
        host_unary(self, |x| (libm::expm1(x), x.exp()))
    }
    fn log_sigmoid(&self) -> Self {
        host_unary(self, |x| (-scalar::softplus(-x), scalar::sigmoid(-x)))
    }
    fn lgamma(&self) -> Self {
        host_unary(self, |x| (scalar::lgamma(x), scalar::digamma(x)))
    }
    fn digamma(&self) -> Self {
        host_unary(self, |x| (scalar::digamma(x), scalar::trigamma(x)))
    }
    fn trigamma(&self) -> Self {
        // ψ''(x) by a central difference of ψ' (only used for second-order gradients).
        host_unary(self, |x| {
            let h = 1e-5 * x.abs();
            let d = (scalar::trigamma(x + h) - scalar::trigamma(x - h)) / (2.0 * h);
            (scalar::trigamma(x), d)
        })
    }
    fn erf(&self) -> Self {
        host_unary(self, |x| {
            (
                libm::erf(x),
                2.0 / std::f64::consts::PI.sqrt() * (-x * x).exp(),
            )
        })
    }
    fn erfc(&self) -> Self {
        host_unary(self, |x| {
            (
                libm::erfc(x),
                -2.0 / std::f64::consts::PI.sqrt() * (-x * x).exp(),
            )
        })
    }
    fn ndtr(&self) -> Self {
        host_unary(self, |x| (scalar::ndtr(x), scalar::normal_pdf(x)))
    }
    fn log_ndtr(&self) -> Self {
        host_unary(self, |x| {
            let l = scalar::log_ndtr(x);
            // d/dx log Φ = φ(x) / Φ(x) = exp(log φ - log Φ)
            let logphi = -0.5 * x * x - 0.5 * (2.0 * std::f64::consts::PI).ln();
            (l, (logphi - l).exp())
        })
    }
}

macro_rules! typed_special {
    ($($name:ident),*) => {
        impl<S: Shape, D: Backend> Special for super::typed::Tensor<S, D> {
            $(fn $name(&self) -> Self {
                self.map(|v| Ok(v.$name()))
            })*
        }
    };
}
typed_special!(
    softplus,
    log1p,
    expm1,
    log_sigmoid,
    lgamma,
    digamma,
    trigamma,
    erf,
    erfc,
    ndtr,
    log_ndtr
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::GradScope;

    /// Reads `fixtures/special_<name>.txt`: `x ; f(x) ; f'(x)` from scipy.
    fn fixture(name: &str) -> Vec<(f64, f64, f64)> {
        let path = format!("{}/fixtures/special_{name}.txt", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap();
        text.lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .map(|l| {
                let v: Vec<f64> = l.split(';').map(|t| t.trim().parse().unwrap()).collect();
                (v[0], v[1], v[2])
            })
            .collect()
    }

    fn close(got: f64, want: f64, rel: f64) -> bool {
        (got - want).abs() <= rel * want.abs() + 1e-30 || (got == want)
    }

    /// Checks value and gradient of `op` (on a tensor, through the tape) against scipy, and
    /// the f64 scalar derivative against central finite differences of the f64 value.
    fn check(
        name: &str,
        op: fn(&DynTensor<Cpu>) -> DynTensor<Cpu>,
        f64_fn: Option<fn(f64) -> f64>,
    ) {
        let rows = fixture(name);
        assert!(rows.len() >= 10, "{name}: {} rows", rows.len());
        let xs: Vec<f32> = rows.iter().map(|r| r.0 as f32).collect();
        let x = DynTensor::<Cpu>::from_vec(xs.clone(), &[xs.len()]).unwrap();
        let scope = GradScope::<Cpu>::open();
        let y = op(&x);
        let values = y.to_vec();
        let grads = scope.backward(&y.sum()).unwrap();
        let dydx = grads.get_or_zeros(&x).to_vec();
        for (i, &(x0, f, df)) in rows.iter().enumerate() {
            // f32 output: allow a few ulps relative, plus the f32 rounding of tiny values.
            assert!(
                close(values[i] as f64, f, 2e-6) || (f.abs() < 1e-37 && values[i].abs() < 1e-37),
                "{name}({x0}) = {} but scipy says {f}",
                values[i]
            );
            assert!(
                close(dydx[i] as f64, df, 2e-6) || (df.abs() < 1e-37 && dydx[i].abs() < 1e-37),
                "{name}'({x0}) = {} but scipy says {df}",
                dydx[i]
            );
            if let Some(g) = f64_fn {
                let h = 1e-6 * x0.abs().max(1e-3);
                let fd = (g(x0 + h) - g(x0 - h)) / (2.0 * h);
                // Rounding error of the difference quotient: a few ulps of f over h.
                let rounding = 8.0 * f64::EPSILON * f.abs().max(g(x0 + h).abs()) / h;
                assert!(
                    (fd - df).abs() <= 1e-4 * df.abs() + rounding,
                    "{name}: finite difference {fd} vs derivative {df} at {x0}"
                );
            }
        }
    }

    #[test]
    fn softplus() {
        check("softplus", |x| x.softplus(), Some(scalar::softplus));
    }
    #[test]
    fn log_sigmoid() {
        check(
            "log_sigmoid",
            |x| x.log_sigmoid(),
            Some(|x| -scalar::softplus(-x)),
        );
    }
    #[test]
    fn log1p() {
        check("log1p", |x| x.log1p(), Some(libm::log1p));
    }
    #[test]
    fn expm1() {
        check("expm1", |x| x.expm1(), Some(libm::expm1));
    }
    #[test]
    fn lgamma() {
        check("lgamma", |x| x.lgamma(), Some(scalar::lgamma));
    }
    #[test]
    fn digamma() {
        check("digamma", |x| x.digamma(), Some(scalar::digamma));
    }
    #[test]
    fn trigamma_values() {
        // The derivative of trigamma is itself a finite difference; check values tightly and
        // the derivative loosely against scipy's polygamma(2, x).
        let rows = fixture("trigamma");
        for (x0, f, df) in rows {
            assert!(close(scalar::trigamma(x0), f, 1e-9), "trigamma({x0})");
            let h = 1e-4 * x0.abs();
            let d = (scalar::trigamma(x0 + h) - scalar::trigamma(x0 - h)) / (2.0 * h);
            assert!(close(d, df, 1e-3), "trigamma'({x0}) = {d} vs {df}");
        }
    }
    #[test]
    fn erf() {
        check("erf", |x| x.erf(), Some(libm::erf));
    }
    #[test]
    fn erfc() {
        check("erfc", |x| x.erfc(), Some(libm::erfc));
    }
    #[test]
    fn ndtr() {
        check("ndtr", |x| x.ndtr(), Some(scalar::ndtr));
    }
    #[test]
    fn log_ndtr() {
        check("log_ndtr", |x| x.log_ndtr(), Some(scalar::log_ndtr));
    }

    #[test]
    fn ndtri_matches_scipy_in_f64() {
        for (p, x, _) in fixture("ndtri") {
            let got = scalar::ndtri(p);
            assert!(
                (got - x).abs() <= 1e-12 * x.abs().max(1e-3),
                "ndtri({p}) = {got}, scipy {x}"
            );
            // And it inverts ndtr where ndtr is representable.
            if (1e-300..0.5).contains(&p) {
                assert!(
                    (scalar::ndtr(got) - p).abs() <= 1e-12 * p,
                    "ndtr(ndtri({p}))"
                );
            }
        }
        assert!(scalar::ndtri(-0.1).is_nan() && scalar::ndtri(0.0) == f64::NEG_INFINITY);
    }

    #[test]
    fn log_ndtr_is_continuous_at_the_switches() {
        for s in [0.0, -37.0] {
            let a = scalar::log_ndtr(s + 1e-9);
            let b = scalar::log_ndtr(s - 1e-9);
            assert!(
                (a - b).abs() < 1e-7 * a.abs().max(1e-3),
                "{a} vs {b} at {s}"
            );
        }
    }

    #[test]
    fn typed_tensors_get_the_same_functions() {
        use dfdx::prelude::*;
        let x: crate::tensor::Tensor<Rank1<2>> = [0.0f32, 2.0].into();
        let y = x.softplus();
        let want = [2f32.ln(), (1.0 + 2f32.exp()).ln()];
        for (a, b) in y.to_vec().unwrap().iter().zip(want) {
            assert!((a - b).abs() < 1e-6);
        }
    }

    #[test]
    fn logsumexp_matches_direct_formula_and_is_stable() {
        let x = DynTensor::<Cpu>::from_vec(vec![1000.0, 1000.0, -3.0, 0.5, 2.0, -1.0], &[2, 3])
            .unwrap();
        let v = x.logsumexp_last().unwrap().to_vec();
        let want0 = 1000.0 + (2.0 + (-1003.0f64).exp()).ln();
        let want1 = (0.5f64.exp() + 2f64.exp() + (-1f64).exp()).ln();
        assert!((v[0] as f64 - want0).abs() < 1e-3, "{}", v[0]);
        assert!((v[1] as f64 - want1).abs() < 1e-6, "{}", v[1]);
        // gradient = softmax
        let scope = GradScope::<Cpu>::open();
        let s = x.logsumexp_last().unwrap().sum();
        let g = scope.backward(&s).unwrap().get_or_zeros(&x).to_vec();
        let z: f64 = [0.5f64, 2.0, -1.0].iter().map(|a| a.exp()).sum();
        assert!((g[0] - 0.5).abs() < 1e-6 && (g[3] as f64 - 0.5f64.exp() / z).abs() < 1e-6);
    }
}
