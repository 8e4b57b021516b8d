//! The map between a parameter's constrained value and its unconstrained leaf: Pyro's
//! `transform_to(constraint)` ([`crate::transforms::transform_to`]), wrapped with the checks
//! and errors of the param store.
//!
//! As in Pyro's `ParamStoreDict`, a new value `x` is stored as `transform_to(c).inv(x)` and
//! read back as `transform_to(c)(leaf)`. The transform may change the shape (`corr_cholesky`:
//! an `[n, n]` value has an `[n(n-1)/2]` leaf) and need not be a bijection (`simplex` maps
//! through softmax, whose inverse is the representative `log x`). Before anything is stored,
//! the value is checked against the constraint, its unconstrained image against finiteness,
//! and the leaf's shape by running the forward map once, so reading a stored parameter cannot
//! fail later.

use crate::constraints::Constraint;
use crate::tensor::{Backend, DynTensor};
use crate::transforms::{transform_to, BoxTransform, TransformError};

use super::error::{ParamResult, ParamStoreError};

/// `transform_to(constraint)` of one parameter.
#[derive(Debug, Clone)]
pub(crate) struct Link<D: Backend> {
    transform: BoxTransform<D>,
}

/// Checked unconstrained values for a new leaf (or for one whose values are overwritten).
#[derive(Debug)]
pub(crate) struct Unconstrained {
    pub(crate) values: Vec<f32>,
    pub(crate) shape: Vec<usize>,
}

/// While alive: nothing is recorded (the store's own work never lands on the caller's
/// tape), and transform validation is off (the store checks values itself, so its errors do
/// not depend on the validation switch).
struct Quiet<D: Backend> {
    _off: crate::tensor::NoGrad,
    validation: bool,
    _d: std::marker::PhantomData<fn() -> D>,
}

impl<D: Backend> Quiet<D> {
    fn new() -> Self {
        let validation = crate::is_validation_enabled();
        crate::enable_validation(false);
        Quiet {
            _off: crate::tensor::no_grad(),
            validation,
            _d: std::marker::PhantomData,
        }
    }
}

impl<D: Backend> Drop for Quiet<D> {
    fn drop(&mut self) {
        crate::enable_validation(self.validation);
    }
}

/// Whether membership of `c` is decided value by value (so an error can name one value).
pub(crate) fn elementwise(c: &Constraint) -> bool {
    !matches!(
        c,
        Constraint::Simplex
            | Constraint::LowerCholesky
            | Constraint::UnitLowerCholesky
            | Constraint::CorrCholesky
            | Constraint::PositiveDefinite
    )
}

impl<D: Backend> Link<D> {
    /// `transform_to(constraint)`, or [`ParamStoreError::UnsupportedConstraint`] naming the
    /// parameter (discrete constraints, unusable bounds).
    pub(crate) fn new(name: &str, constraint: &Constraint) -> ParamResult<Self> {
        let transform =
            transform_to::<D>(constraint).map_err(|e| ParamStoreError::UnsupportedConstraint {
                name: name.to_string(),
                constraint: constraint.clone(),
                reason: e.to_string(),
            })?;
        Ok(Link { transform })
    }

    /// The constrained value of `leaf`, on the graph (gradients flow back to the leaf).
    pub(crate) fn forward(&self, leaf: &DynTensor<D>) -> DynTensor<D> {
        // Every leaf's shape was accepted by `check_leaf` (or produced by `to_unconstrained`,
        // which runs the same check), and no transform's forward map fails on finite values
        // of an accepted shape.
        self.transform
            .forward(leaf)
            .expect("the leaf's shape was checked against the transform when it was stored")
    }

    /// The shape of the constrained value of a leaf of shape `shape`.
    pub(crate) fn constrained_shape(&self, shape: &[usize]) -> Result<Vec<usize>, TransformError> {
        self.transform.forward_shape(shape)
    }

    /// Checks that a leaf of shape `shape` holding `values` can be mapped forward (by doing
    /// it, off the caller's tape); returns the constrained shape.
    pub(crate) fn check_leaf(
        &self,
        values: &[f32],
        shape: &[usize],
    ) -> Result<Vec<usize>, TransformError> {
        let _quiet = Quiet::<D>::new();
        let u = DynTensor::<D>::from_vec(values.to_vec(), shape)?;
        Ok(self.transform.forward(&u)?.shape().to_vec())
    }

    /// The unconstrained values of the constrained `x` (Pyro's `transform_to(c).inv(x)`),
    /// checked: `x` must lie in `constraint`, its image must be finite, and the image's shape
    /// must map forward again. Errors name the parameter.
    pub(crate) fn to_unconstrained(
        &self,
        name: &str,
        constraint: &Constraint,
        x: &DynTensor<D>,
    ) -> ParamResult<Unconstrained> {
        let transform_err = |source: TransformError| ParamStoreError::Transform {
            name: name.to_string(),
            constraint: constraint.clone(),
            source: Box::new(source),
        };
        // A shape the transform cannot take (a non-square lower_cholesky value) is reported
        // as such rather than as a value outside the set.
        self.transform
            .inverse_shape(x.shape())
            .map_err(transform_err)?;
        let values = x.to_vec();
        check_support(name, constraint, &values, x.shape())?;
        let u = {
            let _quiet = Quiet::<D>::new();
            self.transform.inverse(x).map_err(transform_err)?
        };
        let shape = u.shape().to_vec();
        let u = u.to_vec();
        if let Some(index) = u.iter().position(|v| !v.is_finite()) {
            // Same shape: the positions correspond, so name the constrained value.
            let value = if shape == x.shape() {
                values[index]
            } else {
                u[index]
            };
            return Err(ParamStoreError::NonFinite {
                name: name.to_string(),
                constraint: constraint.clone(),
                value,
                index,
            });
        }
        self.check_leaf(&u, &shape).map_err(transform_err)?;
        Ok(Unconstrained { values: u, shape })
    }
}

/// `values` (of shape `shape`) must lie in `constraint`: the first value outside an
/// elementwise constraint, or the first event outside an event-shaped one, is reported.
fn check_support(
    name: &str,
    constraint: &Constraint,
    values: &[f32],
    shape: &[usize],
) -> ParamResult<()> {
    if elementwise(constraint) {
        // Real accepts every non-NaN value; the others are elementwise set membership.
        let bad = values.iter().position(|&v| {
            !constraint
                .check_values(&[v], &[])
                .first()
                .copied()
                .unwrap_or(false)
        });
        return match bad {
            Some(index) => Err(ParamStoreError::OutOfSupport {
                name: name.to_string(),
                constraint: constraint.clone(),
                value: values[index],
                index,
            }),
            None => Ok(()),
        };
    }
    let ok = constraint.check_values(values, shape);
    match ok.iter().position(|b| !b) {
        Some(event) => {
            let len = values.len() / ok.len().max(1);
            Err(ParamStoreError::EventOutOfSupport {
                name: name.to_string(),
                constraint: constraint.clone(),
                event,
                values: values[event * len..(event + 1) * len].to_vec(),
            })
        }
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::GradScope;
    use dfdx::prelude::Cpu;

    fn t(v: &[f32], shape: &[usize]) -> DynTensor<Cpu> {
        DynTensor::from_vec(v.to_vec(), shape).unwrap()
    }

    fn inv(c: &Constraint, v: &[f32], shape: &[usize]) -> ParamResult<Unconstrained> {
        Link::<Cpu>::new("p", c)?.to_unconstrained("p", c, &t(v, shape))
    }

    /// The inverse is the analytic one, and forward(inverse(x)) == x, for each elementwise
    /// constraint.
    #[test]
    fn elementwise_inverse_is_analytic_and_forward_undoes_it() {
        type Case = (Constraint, Vec<f32>, fn(f64) -> f64);
        let cases: Vec<Case> = vec![
            (Constraint::Real, vec![-3.0, 0.0, 2.5], |x| x),
            (Constraint::RealVector, vec![-3.0, 0.0, 2.5], |x| x),
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
            let u = inv(&c, &xs, &[xs.len()]).unwrap();
            assert_eq!(u.shape, vec![xs.len()], "{c}");
            for (ui, &xi) in u.values.iter().zip(&xs) {
                let want = reference(xi as f64);
                assert!(
                    (*ui as f64 - want).abs() <= 1e-6 * (1.0 + want.abs()),
                    "{c}: inverse({xi}) = {ui}, want {want}"
                );
            }
            let link = Link::<Cpu>::new("p", &c).unwrap();
            let back = link.forward(&t(&u.values, &u.shape)).to_vec();
            for (b, &xi) in back.iter().zip(&xs) {
                assert!(
                    (b - xi).abs() <= 1e-5 * (1.0 + xi.abs()),
                    "{c}: {b} vs {xi}"
                );
            }
        }
    }

    /// Event-shaped constraints: the leaf's shape and values are those of the transform's
    /// inverse, computed independently here.
    #[test]
    fn event_constraints_store_the_transform_inverse() {
        // simplex -> softmax: the representative log x.
        let x = [0.2f32, 0.5, 0.3];
        let u = inv(&Constraint::Simplex, &x, &[3]).unwrap();
        assert_eq!(u.shape, vec![3]);
        for (ui, xi) in u.values.iter().zip(x) {
            assert!((*ui as f64 - (xi as f64).ln()).abs() < 1e-6);
        }
        // lower_cholesky: strictly lower part kept, log of the diagonal, zeros above.
        let l = [2.0f32, 0.0, -0.5, 0.25];
        let u = inv(&Constraint::LowerCholesky, &l, &[2, 2]).unwrap();
        assert_eq!(u.shape, vec![2, 2]);
        let want = [2f64.ln(), 0.0, -0.5, 0.25f64.ln()];
        for (ui, w) in u.values.iter().zip(want) {
            assert!((*ui as f64 - w).abs() < 1e-6, "{:?}", u.values);
        }
        // corr_cholesky [2, 2] <- [1]: the one partial correlation is atanh(l_10).
        let l = [1.0f32, 0.0, 0.6, 0.8];
        let u = inv(&Constraint::CorrCholesky, &l, &[2, 2]).unwrap();
        assert_eq!(u.shape, vec![1]);
        assert!((u.values[0] as f64 - 0.6f64.atanh()).abs() < 1e-5);
        // positive_definite: the log-diagonal Cholesky factor of [[4, 2], [2, 5]] = L Lᵀ with
        // L = [[2, 0], [1, 2]].
        let u = inv(
            &Constraint::PositiveDefinite,
            &[4.0, 2.0, 2.0, 5.0],
            &[2, 2],
        )
        .unwrap();
        let want = [2f64.ln(), 0.0, 1.0, 2f64.ln()];
        for (ui, w) in u.values.iter().zip(want) {
            assert!((*ui as f64 - w).abs() < 1e-6, "{:?}", u.values);
        }
    }

    #[test]
    fn bad_values_and_constraints_are_typed_errors() {
        let e = inv(&Constraint::Positive, &[1.0, -1.0], &[2]).unwrap_err();
        assert!(
            matches!(e, ParamStoreError::OutOfSupport { ref name, index: 1, .. } if name == "p")
        );
        // The error does not depend on the validation switch (exp's codomain is `positive`).
        for on in [true, false] {
            crate::enable_validation(on);
            let e = inv(&Constraint::NonNegative, &[0.0], &[1]).unwrap_err();
            assert!(
                matches!(e, ParamStoreError::NonFinite { index: 0, .. }),
                "{e}"
            );
            assert_eq!(crate::is_validation_enabled(), on);
        }
        let e = inv(&Constraint::Real, &[f32::INFINITY], &[1]).unwrap_err();
        assert!(matches!(e, ParamStoreError::NonFinite { .. }));
        let e = inv(&Constraint::Real, &[f32::NAN], &[1]).unwrap_err();
        assert!(matches!(e, ParamStoreError::OutOfSupport { .. }));
        // A simplex value with a zero has no finite logarithm: its position is named.
        let e = inv(&Constraint::Simplex, &[0.5, 0.0, 0.5], &[3]).unwrap_err();
        assert!(
            matches!(e, ParamStoreError::NonFinite { index: 1, .. }),
            "{e}"
        );
        // The second event (row) of a batch of simplex values does not sum to one.
        let e = inv(&Constraint::Simplex, &[0.5, 0.5, 0.5, 0.6], &[2, 2]).unwrap_err();
        assert!(
            matches!(e, ParamStoreError::EventOutOfSupport { event: 1, ref values, .. } if values == &[0.5, 0.6]),
            "{e}"
        );
        // Not lower triangular; not a correlation factor; not positive definite.
        for (c, v) in [
            (Constraint::LowerCholesky, [1.0f32, 0.5, 0.0, 1.0]),
            (Constraint::CorrCholesky, [1.0, 0.0, 0.5, 0.5]),
            (Constraint::PositiveDefinite, [1.0, 2.0, 2.0, 1.0]),
        ] {
            let e = inv(&c, &v, &[2, 2]).unwrap_err();
            assert!(
                matches!(e, ParamStoreError::EventOutOfSupport { event: 0, .. }),
                "{c}: {e}"
            );
            assert!(e.to_string().contains("`p`"), "{e}");
        }
        // Shapes the transform cannot take: a non-square matrix, a scalar simplex.
        let e = inv(&Constraint::LowerCholesky, &[1.0; 6], &[2, 3]).unwrap_err();
        assert!(matches!(e, ParamStoreError::Transform { .. }), "{e}");
        let e = inv(&Constraint::Simplex, &[1.0], &[]).unwrap_err();
        assert!(matches!(e, ParamStoreError::Transform { .. }), "{e}");
        for c in [
            Constraint::Boolean,
            Constraint::NonNegativeInteger,
            Constraint::IntegerInterval(0, 2),
            Constraint::Interval(1.0, 1.0),
            Constraint::GreaterThan(f32::NEG_INFINITY),
        ] {
            let e = inv(&c, &[1.0], &[1]).unwrap_err();
            assert!(
                matches!(e, ParamStoreError::UnsupportedConstraint { ref name, .. } if name == "p"),
                "{c}"
            );
        }
        // The end points of an interval are clamped like torch's SigmoidTransform: finite.
        let u = inv(&Constraint::UnitInterval, &[0.0, 1.0], &[2])
            .unwrap()
            .values;
        let tiny = f32::MIN_POSITIVE as f64;
        assert!((u[0] as f64 - (tiny.ln() - (-tiny).ln_1p())).abs() < 1e-4);
        let top = 1.0 - f32::EPSILON as f64;
        assert!((u[1] as f64 - (top / (1.0 - top)).ln()).abs() < 1e-4);
    }

    /// The store's own work (inverse, checks) leaves nothing on an open tape.
    #[test]
    fn checks_record_nothing_on_the_callers_tape() {
        let scope = GradScope::<Cpu>::open();
        let before = scope.len();
        inv(&Constraint::Interval(0.0, 2.0), &[0.5, 1.5], &[2]).unwrap();
        inv(
            &Constraint::PositiveDefinite,
            &[4.0, 2.0, 2.0, 5.0],
            &[2, 2],
        )
        .unwrap();
        assert_eq!(scope.len(), before);
        assert!(crate::tensor::is_recording());
    }
}
