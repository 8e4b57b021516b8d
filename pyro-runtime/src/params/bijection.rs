//! The map between a parameter's constrained value and its unconstrained leaf (Pyro's
//! `transform_to(constraint)`), for the constraints the param store supports so far.
//!
// TODO(merge): replace with crate::transforms::transform_to — this private stand-in exists only
// so the param store does not wait for the transforms module. Same conventions as torch's
// `transform_to`: exp for positive/nonnegative, `lower + exp` / `upper - exp` for half-lines,
// `lower + (upper - lower) * sigmoid` for intervals (logit clamped to the float range as torch's
// SigmoidTransform does), softplus for softplus_positive.

use crate::constraints::Constraint;
use crate::tensor::{Backend, DynTensor, Special};

use super::error::{ParamResult, ParamStoreError};

/// A bijection from all of real space onto a constraint's set.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Bijection {
    /// `x = u` (real, real_vector).
    Identity,
    /// `x = exp(u)` (positive, nonnegative).
    Exp,
    /// `x = lower + exp(u)` (greater_than, greater_than_eq).
    LowerExp(f32),
    /// `x = upper - exp(u)` (less_than).
    UpperExp(f32),
    /// `x = sigmoid(u)` (unit_interval).
    Sigmoid,
    /// `x = lower + (upper - lower) * sigmoid(u)` (interval).
    ScaledSigmoid(f32, f32),
    /// `x = softplus(u)` (softplus_positive).
    Softplus,
}

impl Bijection {
    /// The bijection for `constraint`, or an error naming the parameter when the constraint is
    /// not supported (yet) or has unusable bounds.
    pub(crate) fn for_constraint(name: &str, constraint: &Constraint) -> ParamResult<Self> {
        let unsupported = |reason: &str| ParamStoreError::UnsupportedConstraint {
            name: name.to_string(),
            constraint: constraint.clone(),
            reason: reason.to_string(),
        };
        let finite = |b: f32| {
            if b.is_finite() {
                Ok(b)
            } else {
                Err(unsupported("its bound must be finite"))
            }
        };
        Ok(match *constraint {
            Constraint::Real | Constraint::RealVector => Bijection::Identity,
            Constraint::Positive | Constraint::NonNegative => Bijection::Exp,
            Constraint::GreaterThan(a) | Constraint::GreaterThanEq(a) => {
                Bijection::LowerExp(finite(a)?)
            }
            Constraint::LessThan(b) => Bijection::UpperExp(finite(b)?),
            Constraint::UnitInterval => Bijection::Sigmoid,
            Constraint::Interval(a, b) => {
                let (a, b) = (finite(a)?, finite(b)?);
                if a >= b {
                    return Err(unsupported("an interval needs lower < upper"));
                }
                Bijection::ScaledSigmoid(a, b)
            }
            Constraint::SoftplusPositive => Bijection::Softplus,
            Constraint::Simplex
            | Constraint::LowerCholesky
            | Constraint::CorrCholesky
            | Constraint::PositiveDefinite => return Err(unsupported(
                "its transform is not in the param store yet (waiting for the transforms module)",
            )),
            Constraint::Boolean
            | Constraint::NonNegativeInteger
            | Constraint::IntegerInterval(..) => {
                return Err(unsupported("a discrete set has no bijection to real space"))
            }
        })
    }

    /// The constrained value of `u`, on the graph (gradients flow back to `u`).
    pub(crate) fn forward<D: Backend>(&self, u: &DynTensor<D>) -> DynTensor<D> {
        match *self {
            Bijection::Identity => u.clone(),
            Bijection::Exp => u.exp(),
            Bijection::LowerExp(a) => u.exp().add_scalar(a),
            Bijection::UpperExp(b) => u.exp().rsub_scalar(b),
            Bijection::Sigmoid => u.sigmoid(),
            Bijection::ScaledSigmoid(a, b) => u.sigmoid().mul_scalar(b - a).add_scalar(a),
            Bijection::Softplus => u.softplus(),
        }
    }

    /// The unconstrained value of one constrained value, in `f64` (NaN/infinite when `x` is
    /// outside the set or on an open boundary; the caller checks).
    pub(crate) fn inverse_scalar(&self, x: f32) -> f64 {
        let x = x as f64;
        match *self {
            Bijection::Identity => x,
            Bijection::Exp => x.ln(),
            Bijection::LowerExp(a) => (x - a as f64).ln(),
            Bijection::UpperExp(b) => (b as f64 - x).ln(),
            Bijection::Sigmoid => logit_clamped(x),
            Bijection::ScaledSigmoid(a, b) => {
                let (a, b) = (a as f64, b as f64);
                logit_clamped((x - a) / (b - a))
            }
            // softplus^{-1}(x) = log(expm1(x)) = x + log(-expm1(-x)), stable for large x.
            Bijection::Softplus => x + (-libm::expm1(-x)).ln(),
        }
    }
}

/// `logit(y)` with `y` clamped into `[tiny, 1 - eps]` of `f32`, as torch's `SigmoidTransform`
/// does, so the interval's end points have finite unconstrained values.
fn logit_clamped(y: f64) -> f64 {
    if y.is_nan() {
        return y;
    }
    let y = y.clamp(f32::MIN_POSITIVE as f64, 1.0 - f32::EPSILON as f64);
    y.ln() - libm::log1p(-y)
}

/// The unconstrained leaf values of constrained `x` under `constraint` (checked: every value
/// must lie in the constraint and map to a finite `f32`).
pub(crate) fn to_unconstrained<D: Backend>(
    name: &str,
    constraint: &Constraint,
    x: &DynTensor<D>,
) -> ParamResult<Vec<f32>> {
    let bij = Bijection::for_constraint(name, constraint)?;
    let values = x.to_vec();
    inverse_values(name, constraint, &bij, &values)
}

/// [`to_unconstrained`] on host values with a known bijection.
pub(crate) fn inverse_values(
    name: &str,
    constraint: &Constraint,
    bij: &Bijection,
    values: &[f32],
) -> ParamResult<Vec<f32>> {
    let mut out = Vec::with_capacity(values.len());
    for (index, &value) in values.iter().enumerate() {
        // Real accepts every non-NaN value; the others are elementwise set membership.
        if !constraint
            .check_values(&[value], &[])
            .first()
            .copied()
            .unwrap_or(false)
        {
            return Err(ParamStoreError::OutOfSupport {
                name: name.to_string(),
                constraint: constraint.clone(),
                value,
                index,
            });
        }
        let u = bij.inverse_scalar(value) as f32;
        if !u.is_finite() {
            return Err(ParamStoreError::NonFinite {
                name: name.to_string(),
                constraint: constraint.clone(),
                value,
                index,
            });
        }
        out.push(u);
    }
    Ok(out)
}

/// The constrained value of the unconstrained `u` under `constraint`, on the graph.
#[cfg(test)]
pub(crate) fn from_unconstrained<D: Backend>(
    name: &str,
    constraint: &Constraint,
    u: &DynTensor<D>,
) -> ParamResult<DynTensor<D>> {
    Ok(Bijection::for_constraint(name, constraint)?.forward(u))
}

#[cfg(test)]
mod tests {
    use super::*;
    use dfdx::prelude::Cpu;

    fn t(v: &[f32]) -> DynTensor<Cpu> {
        DynTensor::from_vec(v.to_vec(), &[v.len()]).unwrap()
    }

    /// forward(inverse(x)) == x, and the inverse is the analytic one, for each constraint.
    #[test]
    fn inverse_then_forward_is_identity() {
        type Case = (Constraint, Vec<f32>, fn(f64) -> f64);
        let cases: Vec<Case> = vec![
            (Constraint::Real, vec![-3.0, 0.0, 2.5], |x| x),
            (Constraint::Positive, vec![1e-3, 1.0, 40.0], f64::ln),
            (Constraint::NonNegative, vec![0.5, 2.0], f64::ln),
            (Constraint::GreaterThan(-2.0), vec![-1.5, 3.0], |x| {
                (x + 2.0).ln()
            }),
            (Constraint::GreaterThanEq(1.0), vec![1.5, 3.0], |x| {
                (x - 1.0).ln()
            }),
            (Constraint::LessThan(4.0), vec![-10.0, 3.9], |x| {
                (4.0 - x).ln()
            }),
            (Constraint::UnitInterval, vec![0.01, 0.5, 0.9], |x| {
                (x / (1.0 - x)).ln()
            }),
            (Constraint::Interval(-1.0, 3.0), vec![-0.5, 0.0, 2.9], |x| {
                let y = (x + 1.0) / 4.0;
                (y / (1.0 - y)).ln()
            }),
            (Constraint::SoftplusPositive, vec![0.01, 1.0, 30.0], |x| {
                x.exp_m1().ln()
            }),
        ];
        for (c, xs, reference) in cases {
            let u = to_unconstrained("p", &c, &t(&xs)).unwrap();
            for (ui, &xi) in u.iter().zip(&xs) {
                let want = reference(xi as f64);
                assert!(
                    (*ui as f64 - want).abs() <= 1e-6 * (1.0 + want.abs()),
                    "{c}: inverse({xi}) = {ui}, want {want}"
                );
            }
            let back = from_unconstrained("p", &c, &t(&u)).unwrap().to_vec();
            for (b, &xi) in back.iter().zip(&xs) {
                assert!(
                    (b - xi).abs() <= 1e-5 * (1.0 + xi.abs()),
                    "{c}: {b} vs {xi}"
                );
            }
        }
    }

    #[test]
    fn bad_values_and_constraints_are_typed_errors() {
        let e = to_unconstrained("scale", &Constraint::Positive, &t(&[1.0, -1.0])).unwrap_err();
        assert!(
            matches!(e, ParamStoreError::OutOfSupport { ref name, index: 1, .. } if name == "scale")
        );
        let e = to_unconstrained("scale", &Constraint::NonNegative, &t(&[0.0])).unwrap_err();
        assert!(matches!(e, ParamStoreError::NonFinite { index: 0, .. }));
        let e = to_unconstrained("w", &Constraint::Real, &t(&[f32::INFINITY])).unwrap_err();
        assert!(matches!(e, ParamStoreError::NonFinite { .. }));
        let e = to_unconstrained("w", &Constraint::Real, &t(&[f32::NAN])).unwrap_err();
        assert!(matches!(e, ParamStoreError::OutOfSupport { .. }));
        for c in [
            Constraint::Simplex,
            Constraint::Boolean,
            Constraint::Interval(1.0, 1.0),
            Constraint::GreaterThan(f32::NEG_INFINITY),
        ] {
            let e = to_unconstrained("w", &c, &t(&[0.5])).unwrap_err();
            assert!(
                matches!(e, ParamStoreError::UnsupportedConstraint { .. }),
                "{c}"
            );
        }
        // The end points of an interval are clamped like torch's SigmoidTransform: finite.
        let u = to_unconstrained("p", &Constraint::UnitInterval, &t(&[0.0, 1.0])).unwrap();
        let tiny = f32::MIN_POSITIVE as f64;
        assert!((u[0] as f64 - (tiny.ln() - (-tiny).ln_1p())).abs() < 1e-4);
        let top = 1.0 - f32::EPSILON as f64;
        assert!((u[1] as f64 - (top / (1.0 - top)).ln()).abs() < 1e-4);
    }
}
