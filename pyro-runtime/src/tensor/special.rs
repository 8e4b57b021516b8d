//! Special functions with gradients: softplus, log1p, expm1, log_sigmoid, lgamma, digamma,
//! trigamma, erf, erfc, the normal cdf `ndtr` and its log.
//!
//! dfdx lacks these. Each is evaluated in `f64` on the host and put back on the graph by
//! linearisation at the evaluation point: `out = (x - x0) * f'(x0) + f(x0)` where `x0` is a
//! constant copy of `x`. The value is exactly `f(x0)` (because `x - x0 == 0` exactly) and the
//! gradient is exactly `f'(x0)`, on any device, with only dfdx's public ops.

use dfdx::prelude::*;

use super::backend::Backend;
use super::dyn_tensor::DynTensor;
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
        if x > -5.0 {
            libm::log1p(-0.5 * libm::erfc(x / std::f64::consts::SQRT_2))
        } else {
            // Asymptotic expansion of the Mills ratio.
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

    /// Standard normal density.
    pub fn normal_pdf(x: f64) -> f64 {
        (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt()
    }
}

/// Applies a host-evaluated function with known derivative: `f` returns `(f(x), f'(x))`.
pub fn host_unary<D: Backend>(x: &DynTensor<D>, f: impl Fn(f64) -> (f64, f64)) -> DynTensor<D> {
    let xv = x.to_vec();
    let mut vals = Vec::with_capacity(xv.len());
    let mut ders = Vec::with_capacity(xv.len());
    for &v in &xv {
        let (y, dy) = f(v as f64);
        vals.push(y as f32);
        ders.push(if dy.is_finite() { dy as f32 } else { 0.0 });
    }
    let shape = x.shape().to_vec();
    let n = xv.len();
    let dev = x.device();
    if !is_recording() {
        let data = dev.tensor_from_vec(vals, (n,)).retaped();
        return DynTensor::from_flat(data, &shape).expect("same length");
    }
    let x0 = dev.tensor_from_vec(xv, (n,));
    let d = dev.tensor_from_vec(ders, (n,));
    let c = dev.tensor_from_vec(vals, (n,));
    let data = (x.flat().clone() - x0) * d + c;
    DynTensor::from_flat(data, &shape).expect("same length")
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
            let h = 1e-4 * x.abs().max(1e-2);
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
        impl<S: Shape, D: Backend> Special for super::dyn_tensor::Tensor<S, D> {
            $(fn $name(&self) -> Self {
                let shape = *self.shape();
                let out = DynTensor::from_tensor(self.clone()).$name();
                out.into_flat().reshape_like(&shape)
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
