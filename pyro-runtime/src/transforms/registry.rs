//! The constraint registries: `biject_to` (bijections, for MCMC and autoguides) and
//! `transform_to` (any map onto the set, for constrained parameters), as in Pyro.

use super::*;

/// The name of each registry, for errors.
const BIJECT_TO: &str = "biject_to";
const TRANSFORM_TO: &str = "transform_to";

/// A bijection from unconstrained space onto `constraint` (Pyro's `biject_to`).
///
/// | constraint | transform |
/// |---|---|
/// | `real`, `real_vector` | identity (event dim 0 / 1) |
/// | `positive`, `nonnegative` | `exp` |
/// | `softplus_positive` | `softplus` |
/// | `greater_than(c)`, `greater_than_eq(c)` | `exp`, then `c + y` |
/// | `less_than(c)` | `exp`, then `c - y` |
/// | `unit_interval`, `interval(0, 1)` | `sigmoid` |
/// | `interval(a, b)` | `sigmoid`, then `a + (b - a) y` |
/// | `simplex` | stick-breaking (`[K-1] -> [K]`) |
/// | `lower_cholesky` | [`LowerCholeskyTransform`] |
/// | `corr_cholesky` | [`CorrCholeskyTransform`] (`[n(n-1)/2] -> [n, n]`) |
/// | `positive_definite` | [`PositiveDefiniteTransform`] |
///
/// PyTorch registers `lower_cholesky` and `positive_definite` only with `transform_to`,
/// because their maps read only the lower triangle of an `n x n` input; they are registered
/// here as well (as NumPyro does) and are bijections between lower-triangular matrices.
/// Discrete constraints give [`TransformError::Unsupported`].
///
/// ```
/// use pyro::constraints::Constraint;
/// use pyro::tensor::DynTensor;
/// use pyro::transforms::biject_to;
/// let t = biject_to::<dfdx::prelude::Cpu>(&Constraint::Simplex).unwrap();
/// let y = t.forward(&DynTensor::zeros(&[2])).unwrap();
/// assert_eq!(y.shape(), &[3]);
/// assert!(biject_to::<dfdx::prelude::Cpu>(&Constraint::Boolean).is_err());
/// ```
pub fn biject_to<D: Backend>(constraint: &Constraint) -> TransformResult<BoxTransform<D>> {
    match constraint {
        Constraint::Simplex => Ok(Box::new(StickBreakingTransform)),
        c => common(c, BIJECT_TO),
    }
}

/// A map from unconstrained space onto `constraint`, not necessarily bijective (Pyro's
/// `transform_to`, used for constrained parameters). The same table as [`biject_to`] except
/// `simplex`, which maps through [`SoftmaxTransform`] (no log-det).
///
/// ```
/// use pyro::constraints::Constraint;
/// use pyro::tensor::DynTensor;
/// use pyro::transforms::transform_to;
/// let t = transform_to::<dfdx::prelude::Cpu>(&Constraint::Simplex).unwrap();
/// let y = t.forward(&DynTensor::zeros(&[4])).unwrap();
/// assert_eq!(y.to_vec(), vec![0.25; 4]);
/// ```
pub fn transform_to<D: Backend>(constraint: &Constraint) -> TransformResult<BoxTransform<D>> {
    match constraint {
        Constraint::Simplex => Ok(Box::new(SoftmaxTransform)),
        c => common(c, TRANSFORM_TO),
    }
}

fn invalid(c: &Constraint, registry: &'static str, reason: &str) -> TransformError {
    TransformError::InvalidConstraint {
        constraint: c.to_string(),
        registry,
        reason: reason.into(),
    }
}

/// `exp` then `loc + scale * y`, reporting `codomain`.
fn shifted_exp<D: Backend>(
    c: &Constraint,
    registry: &'static str,
    loc: f32,
    scale: f32,
) -> TransformResult<BoxTransform<D>> {
    if !loc.is_finite() {
        return Err(invalid(c, registry, "the bound must be finite"));
    }
    let affine = AffineTransform::<D>::scalar(loc, scale)?;
    Ok(Box::new(
        ComposeTransform::new(vec![Box::new(ExpTransform), Box::new(affine)])
            .with_codomain(c.clone()),
    ))
}

fn common<D: Backend>(c: &Constraint, registry: &'static str) -> TransformResult<BoxTransform<D>> {
    Ok(match *c {
        Constraint::Real => Box::new(IdentityTransform::new(0)),
        Constraint::RealVector => Box::new(IdentityTransform::new(1)),
        Constraint::Positive | Constraint::NonNegative => Box::new(ExpTransform),
        Constraint::SoftplusPositive => Box::new(SoftplusTransform),
        Constraint::GreaterThan(a) | Constraint::GreaterThanEq(a) => {
            return shifted_exp(c, registry, a, 1.0)
        }
        Constraint::LessThan(b) => return shifted_exp(c, registry, b, -1.0),
        Constraint::UnitInterval => Box::new(SigmoidTransform),
        Constraint::Interval(a, b) => {
            if !(a.is_finite() && b.is_finite() && a < b) {
                return Err(invalid(
                    c,
                    registry,
                    "needs finite bounds with lower < upper",
                ));
            }
            if a == 0.0 && b == 1.0 {
                Box::new(SigmoidTransform)
            } else {
                // Pyro's sigmoid-then-affine chain, as one elementwise map.
                Box::new(IntervalTransform::new(a, b)?)
            }
        }
        Constraint::LowerCholesky => Box::new(LowerCholeskyTransform),
        Constraint::UnitLowerCholesky => Box::new(UnitLowerCholeskyTransform),
        Constraint::CorrCholesky => Box::new(CorrCholeskyTransform),
        Constraint::PositiveDefinite => Box::new(PositiveDefiniteTransform),
        Constraint::Simplex
        | Constraint::Boolean
        | Constraint::NonNegativeInteger
        | Constraint::IntegerInterval(..) => {
            return Err(TransformError::Unsupported {
                constraint: c.to_string(),
                registry,
            })
        }
    })
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use dfdx::prelude::Cpu;

    /// Every continuous constraint, with the unconstrained shape of one batch of 4 events.
    fn cases() -> Vec<(Constraint, Vec<usize>)> {
        vec![
            (Constraint::Real, vec![4]),
            (Constraint::RealVector, vec![4, 3]),
            (Constraint::Positive, vec![4]),
            (Constraint::NonNegative, vec![4]),
            (Constraint::SoftplusPositive, vec![4]),
            (Constraint::GreaterThan(-3.5), vec![4]),
            (Constraint::GreaterThanEq(2.0), vec![4]),
            (Constraint::LessThan(1.5), vec![4]),
            (Constraint::UnitInterval, vec![4]),
            (Constraint::Interval(0.0, 1.0), vec![4]),
            (Constraint::Interval(-2.0, 5.0), vec![4]),
            (Constraint::Simplex, vec![4, 3]),
            (Constraint::LowerCholesky, vec![4, 3, 3]),
            (Constraint::CorrCholesky, vec![4, 6]),
            (Constraint::PositiveDefinite, vec![4, 3, 3]),
            (Constraint::UnitLowerCholesky, vec![4, 3, 3]),
        ]
    }

    #[test]
    fn biject_to_maps_random_vectors_into_the_support() {
        let mut r = rng(120);
        for (c, shape) in cases() {
            let tr = biject_to::<Cpu>(&c).unwrap();
            assert!(tr.bijective(), "{c}");
            let n: usize = shape.iter().product();
            for _ in 0..5 {
                let x = normal_vec(&mut r, n, 2.0);
                let xt = t(x.clone(), &shape);
                let y = tr.forward(&xt).unwrap();
                assert_eq!(y.shape(), tr.forward_shape(&shape).unwrap(), "{c}");
                assert!(c.check_all(&y), "{c}: {:?} -> {:?}", x, y.to_vec());
                // The reported codomain is the constraint (or the same set under another name).
                let same_set = matches!(c, Constraint::NonNegative | Constraint::Interval(..));
                assert!(tr.codomain() == c || same_set, "{c}");
                // One log-det per batch element (4 events).
                let ld = tr.log_abs_det_jacobian(&xt, &y).unwrap();
                assert_eq!(ld.numel(), if c.event_dim() == 0 { n } else { 4 }, "{c}");
                assert!(ld.to_vec().iter().all(|v| v.is_finite()), "{c}");
                // The inverse maps back (to the lower triangle for the matrix maps).
                let back = tr.inverse(&y).unwrap();
                assert_eq!(back.shape(), &shape[..], "{c}");
                let again = tr.forward(&back).unwrap();
                assert_close(&again.to_vec(), &y.to_vec(), 1e-3, &c.to_string());
            }
        }
    }

    #[test]
    fn transform_to_maps_random_vectors_into_the_support() {
        let mut r = rng(121);
        for (c, mut shape) in cases() {
            if c == Constraint::Simplex {
                shape = vec![4, 4]; // softmax keeps the size
            }
            let tr = transform_to::<Cpu>(&c).unwrap();
            let n: usize = shape.iter().product();
            let x = normal_vec(&mut r, n, 2.0);
            let y = tr.forward(&t(x.clone(), &shape)).unwrap();
            assert!(c.check_all(&y), "{c}: {:?} -> {:?}", x, y.to_vec());
        }
        assert_eq!(
            transform_to::<Cpu>(&Constraint::Simplex).unwrap().name(),
            "SoftmaxTransform"
        );
        assert_eq!(
            biject_to::<Cpu>(&Constraint::Simplex).unwrap().name(),
            "StickBreakingTransform"
        );
    }

    #[test]
    fn registered_compositions_have_exact_log_dets() {
        // greater_than(c): y = c + exp(x); less_than(c): y = c - exp(x); both log-det x.
        // interval(a, b): y = a + (b - a) σ(x); log-det log(b - a) + log σ(x) + log σ(-x).
        for c in [
            Constraint::GreaterThan(-3.5),
            Constraint::LessThan(1.5),
            Constraint::Interval(-2.0, 5.0),
        ] {
            let tr = biject_to::<Cpu>(&c).unwrap();
            for x in [-3.0f32, -0.2, 0.0, 1.3, 4.0] {
                check_log_det_fd(tr.as_ref(), &[x], &[], &[0], &[0], 1e-3);
            }
        }
        let tr = biject_to::<Cpu>(&Constraint::LessThan(1.5)).unwrap();
        let y = tr.forward(&t(vec![0.0, 1.0], &[2])).unwrap().to_vec();
        assert_close(&y, &[0.5, 1.5 - 1f32.exp()], 1e-6, "less_than");
    }

    #[test]
    fn discrete_and_malformed_constraints_are_typed_errors() {
        for c in [
            Constraint::Boolean,
            Constraint::NonNegativeInteger,
            Constraint::IntegerInterval(0, 3),
        ] {
            for result in [biject_to::<Cpu>(&c), transform_to::<Cpu>(&c)] {
                let e = result.unwrap_err();
                assert!(matches!(e, TransformError::Unsupported { .. }));
                assert!(e.to_string().contains(&c.to_string()), "{e}");
            }
        }
        for c in [
            Constraint::Interval(1.0, 1.0),
            Constraint::Interval(f32::NEG_INFINITY, 0.0),
            Constraint::GreaterThan(f32::NAN),
        ] {
            assert!(matches!(
                biject_to::<Cpu>(&c),
                Err(TransformError::InvalidConstraint { .. })
            ));
        }
    }
}
