//! Elementwise bijections of the real line onto an interval or half-line: exp, sigmoid,
//! tanh, softplus. Event dim 0: the log-det has the input's shape.
//!
//! Values that need care at the ends (logit, atanh, the inverse of softplus, the log-dets)
//! are evaluated in `f64` on the host and put on the graph with their exact derivative
//! ([`host_unary`]).

use super::{validate_inverse_input, BoxTransform, Transform, TransformResult};
use crate::constraints::Constraint;
use crate::tensor::special::{host_unary, scalar};
use crate::tensor::{Backend, DynTensor, Special};

use super::util::{ONE_MINUS_EPS, TINY};

/// `y = exp(x)`: real line onto `(0, ∞)`; `log |dy/dx| = x`.
///
/// ```
/// use pyro::tensor::DynTensor;
/// use pyro::transforms::{ExpTransform, Transform};
/// let x = DynTensor::<dfdx::prelude::Cpu>::from_vec(vec![0.0, 2.0], &[2]).unwrap();
/// let y = Transform::forward(&ExpTransform, &x).unwrap();
/// assert!((y.to_vec()[1] - 2f32.exp()).abs() < 1e-5);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ExpTransform;

impl<D: Backend> Transform<D> for ExpTransform {
    fn name(&self) -> &'static str {
        "ExpTransform"
    }
    fn domain(&self) -> Constraint {
        Constraint::Real
    }
    fn codomain(&self) -> Constraint {
        Constraint::Positive
    }
    fn forward(&self, x: &DynTensor<D>) -> TransformResult<DynTensor<D>> {
        Ok(x.exp())
    }
    fn inverse(&self, y: &DynTensor<D>) -> TransformResult<DynTensor<D>> {
        validate_inverse_input(self, y)?;
        Ok(y.ln())
    }
    fn log_abs_det_jacobian(
        &self,
        x: &DynTensor<D>,
        _y: &DynTensor<D>,
    ) -> TransformResult<DynTensor<D>> {
        Ok(x.fresh())
    }
    fn clone_box(&self) -> BoxTransform<D> {
        Box::new(*self)
    }
}

/// `y = 1 / (1 + exp(-x))`: real line onto `(0, 1)`; `log |dy/dx| = -softplus(-x) -
/// softplus(x)`. As in PyTorch the output is clipped to `[f32::MIN_POSITIVE, 1 - f32::EPSILON]`
/// (so `x` beyond about ±16 cannot be recovered exactly in `f32`); the gradient is that of
/// the unclipped sigmoid.
///
/// ```
/// use pyro::tensor::DynTensor;
/// use pyro::transforms::{SigmoidTransform, Transform};
/// let x = DynTensor::<dfdx::prelude::Cpu>::from_vec(vec![0.0, -20.0], &[2]).unwrap();
/// let y = Transform::forward(&SigmoidTransform, &x).unwrap().to_vec();
/// assert_eq!(y[0], 0.5);
/// assert!((y[1] / 2.0611537e-9 - 1.0).abs() < 1e-5);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SigmoidTransform;

impl<D: Backend> Transform<D> for SigmoidTransform {
    fn name(&self) -> &'static str {
        "SigmoidTransform"
    }
    fn domain(&self) -> Constraint {
        Constraint::Real
    }
    fn codomain(&self) -> Constraint {
        Constraint::UnitInterval
    }
    fn forward(&self, x: &DynTensor<D>) -> TransformResult<DynTensor<D>> {
        Ok(host_unary(x, |v| {
            let s = scalar::sigmoid(v);
            (s.clamp(TINY, ONE_MINUS_EPS), s * scalar::sigmoid(-v))
        }))
    }
    fn inverse(&self, y: &DynTensor<D>) -> TransformResult<DynTensor<D>> {
        validate_inverse_input(self, y)?;
        Ok(host_unary(y, |v| {
            let p = v.clamp(TINY, ONE_MINUS_EPS);
            (p.ln() - libm::log1p(-p), 1.0 / (p * (1.0 - p)))
        }))
    }
    fn log_abs_det_jacobian(
        &self,
        x: &DynTensor<D>,
        _y: &DynTensor<D>,
    ) -> TransformResult<DynTensor<D>> {
        Ok(host_unary(x, |v| {
            (
                -scalar::softplus(-v) - scalar::softplus(v),
                1.0 - 2.0 * scalar::sigmoid(v),
            )
        }))
    }
    fn clone_box(&self) -> BoxTransform<D> {
        Box::new(*self)
    }
}

/// `y = tanh(x)`: real line onto `(-1, 1)`; `log |dy/dx| = 2 (log 2 - x - softplus(-2x))`.
/// The inverse clips its input to `±(1 - f32::EPSILON)` so that `atanh` stays finite.
///
/// ```
/// use pyro::tensor::DynTensor;
/// use pyro::transforms::{TanhTransform, Transform};
/// let x = DynTensor::<dfdx::prelude::Cpu>::from_vec(vec![0.5], &[1]).unwrap();
/// let y = Transform::forward(&TanhTransform, &x).unwrap();
/// assert!((y.to_vec()[0] - 0.5f32.tanh()).abs() < 1e-6);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TanhTransform;

impl<D: Backend> Transform<D> for TanhTransform {
    fn name(&self) -> &'static str {
        "TanhTransform"
    }
    fn domain(&self) -> Constraint {
        Constraint::Real
    }
    fn codomain(&self) -> Constraint {
        Constraint::Interval(-1.0, 1.0)
    }
    fn forward(&self, x: &DynTensor<D>) -> TransformResult<DynTensor<D>> {
        Ok(host_unary(x, |v| {
            let t = v.tanh();
            (t, 1.0 - t * t)
        }))
    }
    fn inverse(&self, y: &DynTensor<D>) -> TransformResult<DynTensor<D>> {
        validate_inverse_input(self, y)?;
        Ok(host_unary(y, |v| {
            let p = v.clamp(-ONE_MINUS_EPS, ONE_MINUS_EPS);
            (p.atanh(), 1.0 / (1.0 - p * p))
        }))
    }
    fn log_abs_det_jacobian(
        &self,
        x: &DynTensor<D>,
        _y: &DynTensor<D>,
    ) -> TransformResult<DynTensor<D>> {
        Ok(host_unary(x, |v| {
            (
                2.0 * (std::f64::consts::LN_2 - v - scalar::softplus(-2.0 * v)),
                -2.0 * v.tanh(),
            )
        }))
    }
    fn clone_box(&self) -> BoxTransform<D> {
        Box::new(*self)
    }
}

/// `y = softplus(x) = log(1 + exp(x))`: real line onto `(0, ∞)`; `log |dy/dx| =
/// -softplus(-x)`. Inverse `x = y + log(-expm1(-y))`.
///
/// ```
/// use pyro::tensor::DynTensor;
/// use pyro::transforms::{SoftplusTransform, Transform};
/// let x = DynTensor::<dfdx::prelude::Cpu>::from_vec(vec![0.0], &[1]).unwrap();
/// let y = Transform::forward(&SoftplusTransform, &x).unwrap();
/// assert!((y.to_vec()[0] - 2f32.ln()).abs() < 1e-6);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SoftplusTransform;

impl<D: Backend> Transform<D> for SoftplusTransform {
    fn name(&self) -> &'static str {
        "SoftplusTransform"
    }
    fn domain(&self) -> Constraint {
        Constraint::Real
    }
    fn codomain(&self) -> Constraint {
        Constraint::SoftplusPositive
    }
    fn forward(&self, x: &DynTensor<D>) -> TransformResult<DynTensor<D>> {
        Ok(x.softplus())
    }
    fn inverse(&self, y: &DynTensor<D>) -> TransformResult<DynTensor<D>> {
        validate_inverse_input(self, y)?;
        Ok(host_unary(y, softplus_inv))
    }
    fn log_abs_det_jacobian(
        &self,
        x: &DynTensor<D>,
        _y: &DynTensor<D>,
    ) -> TransformResult<DynTensor<D>> {
        Ok(x.log_sigmoid())
    }
    fn clone_box(&self) -> BoxTransform<D> {
        Box::new(*self)
    }
}

/// The inverse of softplus and its derivative, `(y + log(-expm1(-y)), 1 / (-expm1(-y)))`.
pub(crate) fn softplus_inv(y: f64) -> (f64, f64) {
    let m = -libm::expm1(-y);
    (y + m.ln(), 1.0 / m)
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use dfdx::prelude::Cpu;

    /// Inputs spanning the range, with the extremes the brief asks for.
    fn xs() -> Vec<f32> {
        let mut v = vec![-20.0, -9.0, -3.0, -0.5, 0.0, 1e-3, 0.7, 4.0, 9.0];
        v.extend(normal_vec(&mut rng(1), 16, 3.0));
        v
    }

    /// `log |dy/dx|` elementwise against central differences of `forward`.
    fn check_ladj_fd(tr: &dyn Transform<Cpu>, xs: &[f32], tol: f64) {
        for &x in xs {
            check_log_det_fd(tr, &[x], &[], &[0], &[0], tol);
        }
    }

    #[test]
    fn exp_round_trips_and_log_det() {
        let tr = ExpTransform;
        let x: Vec<f32> = xs().into_iter().filter(|v| v.abs() <= 20.0).collect();
        check_round_trip_x(&tr, &x, &[x.len()], 1e-5);
        // exp(log y) has condition number |log y| (up to 69 here), hence the tolerance.
        let y = vec![1e-30, 1e-8, 0.3, 1.0, 7.0, 1e20];
        check_round_trip_y(&tr, &y, &[6], 1e-5);
        check_ladj_fd(&tr, &x, 1e-4);
    }

    #[test]
    fn exp_inverse_rejects_nonpositive_values() {
        crate::enable_validation(true);
        let y = t(vec![1.0, -2.0], &[2]);
        let err = Transform::<Cpu>::inverse(&ExpTransform, &y).unwrap_err();
        assert!(err.to_string().contains("positive"), "{err}");
    }

    #[test]
    fn sigmoid_round_trips_including_extremes() {
        let tr = SigmoidTransform;
        // Exactly recoverable in f32 up to x ≈ 15 (then 1 - σ(x) < ε).
        let x: Vec<f32> = xs().into_iter().filter(|v| *v <= 15.0).collect();
        check_round_trip_x(&tr, &x, &[x.len()], 2e-4);
        // Near both boundaries.
        let y = vec![1e-30, 1e-9, 1e-4, 0.5, 0.999, 1.0 - 1e-6, 1.0 - 1.2e-7];
        check_round_trip_y(&tr, &y, &[7], 1e-6);
    }

    #[test]
    fn sigmoid_at_plus_minus_twenty() {
        let tr = SigmoidTransform;
        let x = t(vec![-20.0, 20.0], &[2]);
        let y = Transform::<Cpu>::forward(&tr, &x).unwrap();
        let yv = y.to_vec();
        // σ(-20) = 2.0611536e-9 (host f64), σ(20) clipped just below one.
        assert!((yv[0] as f64 / scalar::sigmoid(-20.0) - 1.0).abs() < 1e-6);
        assert_eq!(yv[1], 1.0 - f32::EPSILON);
        assert!(Constraint::UnitInterval.check_all(&y));
        let back = Transform::<Cpu>::inverse(&tr, &y).unwrap().to_vec();
        assert!((back[0] + 20.0).abs() < 1e-4, "{back:?}");
        // 1 - ε is as close to one as f32 gets below one: logit(1 - ε) = log((1-ε)/ε).
        let want = ((1.0 - f32::EPSILON as f64) / f32::EPSILON as f64).ln();
        assert!((back[1] as f64 - want).abs() < 1e-4, "{back:?}");
        // The log-det stays finite and exact at both ends: log σ(x) + log σ(-x).
        let ld = Transform::<Cpu>::log_abs_det_jacobian(&tr, &x, &y)
            .unwrap()
            .to_vec();
        let exact = -20.0 - 2.0 * libm::log1p((-20f64).exp());
        assert!((ld[0] as f64 - exact).abs() < 1e-5 && (ld[1] as f64 - exact).abs() < 1e-5);
    }

    #[test]
    fn sigmoid_log_det_matches_finite_differences() {
        let x: Vec<f32> = xs().into_iter().filter(|v| *v <= 9.0).collect();
        check_ladj_fd(&SigmoidTransform, &x, 1e-3);
    }

    #[test]
    fn tanh_round_trips_and_log_det() {
        let tr = TanhTransform;
        let x: Vec<f32> = xs().into_iter().filter(|v| v.abs() <= 7.0).collect();
        check_round_trip_x(&tr, &x, &[x.len()], 2e-3);
        let y = vec![-1.0 + 1.2e-7, -0.999, -0.3, 0.0, 0.5, 1.0 - 1e-6];
        check_round_trip_y(&tr, &y, &[6], 1e-6);
        let x: Vec<f32> = xs().into_iter().filter(|v| v.abs() <= 5.0).collect();
        check_ladj_fd(&tr, &x, 1e-3);
        // Far out: the output stays in [-1, 1] and the log-det finite (≈ log 4 - 2|x|).
        let x = t(vec![-20.0, 20.0], &[2]);
        let y = Transform::<Cpu>::forward(&tr, &x).unwrap();
        assert!(Constraint::Interval(-1.0, 1.0).check_all(&y));
        let ld = Transform::<Cpu>::log_abs_det_jacobian(&tr, &x, &y)
            .unwrap()
            .to_vec();
        let want = (4f64).ln() - 40.0;
        assert!(ld.iter().all(|&v| (v as f64 - want).abs() < 1e-4), "{ld:?}");
    }

    #[test]
    fn softplus_round_trips_and_log_det() {
        let tr = SoftplusTransform;
        let x: Vec<f32> = xs();
        check_round_trip_x(&tr, &x, &[x.len()], 1e-4);
        let y = vec![1e-30, 1e-6, 0.1, 1.0, 30.0, 1e6];
        check_round_trip_y(&tr, &y, &[6], 1e-6);
        check_ladj_fd(&tr, &x, 1e-3);
    }

    #[test]
    fn gradients_match_finite_differences() {
        let x = [-2.0, -0.3, 0.4, 1.5];
        let f_s = |v: &DynTensor<Cpu>| Transform::<Cpu>::forward(&SigmoidTransform, v);
        check_grad("sigmoid forward", &f_s, &x, &[4], 1e-2);
        let f_si = |v: &DynTensor<Cpu>| {
            let y = Transform::<Cpu>::forward(&SigmoidTransform, v)?;
            Transform::<Cpu>::inverse(&SigmoidTransform, &y)
        };
        check_grad("logit(sigmoid)", &f_si, &x, &[4], 1e-2);
        let f_l =
            |v: &DynTensor<Cpu>| Transform::<Cpu>::log_abs_det_jacobian(&SigmoidTransform, v, v);
        check_grad("sigmoid log-det", &f_l, &x, &[4], 1e-2);
        let f_t = |v: &DynTensor<Cpu>| Transform::<Cpu>::log_abs_det_jacobian(&TanhTransform, v, v);
        check_grad("tanh log-det", &f_t, &x, &[4], 1e-2);
        let f_ti = |v: &DynTensor<Cpu>| {
            let y = Transform::<Cpu>::forward(&TanhTransform, v)?;
            Transform::<Cpu>::inverse(&TanhTransform, &y.mul_scalar(0.5))
        };
        check_grad("atanh(tanh / 2)", &f_ti, &x, &[4], 1e-2);
        let f_sp = |v: &DynTensor<Cpu>| {
            let y = Transform::<Cpu>::forward(&SoftplusTransform, v)?;
            Transform::<Cpu>::inverse(&SoftplusTransform, &y.mul_scalar(1.5))
        };
        check_grad("softplus_inv(1.5 softplus)", &f_sp, &x, &[4], 1e-2);
    }
}
