//! Constraints: the supports of distributions and the domains of parameters (Pyro's
//! `torch.distributions.constraints`).

use std::fmt;

use crate::tensor::{Backend, DynTensor};

/// A region of real space. `check` tests membership per event (the last
/// [`Constraint::event_dim`] dims are one event).
///
/// ```
/// use pyro::constraints::Constraint;
/// assert_eq!(Constraint::Positive.check_values(&[1.0, -1.0], &[2]), vec![true, false]);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum Constraint {
    /// All reals.
    Real,
    /// Reals, with the last `n` dims forming one event (`constraints.independent(real, n)`).
    RealVector,
    /// `x > 0`.
    Positive,
    /// `x >= 0`.
    NonNegative,
    /// `x > lower`.
    GreaterThan(f32),
    /// `x >= lower`.
    GreaterThanEq(f32),
    /// `x < upper`.
    LessThan(f32),
    /// `lower < x < upper` (Pyro's `interval` is open for checking purposes at float
    /// precision; endpoints are accepted as in torch: `lower <= x <= upper`).
    Interval(f32, f32),
    /// `0 <= x <= 1`.
    UnitInterval,
    /// Positive vectors that sum to one over the last dim.
    Simplex,
    /// Lower-triangular matrices with positive diagonal.
    LowerCholesky,
    /// Lower-triangular matrices with unit diagonal (Pyro's `unit_lower_cholesky`).
    UnitLowerCholesky,
    /// Cholesky factors of correlation matrices (lower triangular, rows of unit norm).
    CorrCholesky,
    /// Symmetric positive-definite matrices.
    PositiveDefinite,
    /// `x > 0`, mapped through softplus instead of exp by `transform_to`.
    SoftplusPositive,
    /// `{0, 1}`.
    Boolean,
    /// `{0, 1, 2, ...}`.
    NonNegativeInteger,
    /// Integers in `[lower, upper]`.
    IntegerInterval(i64, i64),
}

impl fmt::Display for Constraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Constraint::Real => write!(f, "real"),
            Constraint::RealVector => write!(f, "real_vector"),
            Constraint::Positive => write!(f, "positive"),
            Constraint::NonNegative => write!(f, "nonnegative"),
            Constraint::GreaterThan(a) => write!(f, "greater_than({a})"),
            Constraint::GreaterThanEq(a) => write!(f, "greater_than_eq({a})"),
            Constraint::LessThan(a) => write!(f, "less_than({a})"),
            Constraint::Interval(a, b) => write!(f, "interval({a}, {b})"),
            Constraint::UnitInterval => write!(f, "unit_interval"),
            Constraint::Simplex => write!(f, "simplex"),
            Constraint::LowerCholesky => write!(f, "lower_cholesky"),
            Constraint::UnitLowerCholesky => write!(f, "unit_lower_cholesky"),
            Constraint::CorrCholesky => write!(f, "corr_cholesky"),
            Constraint::PositiveDefinite => write!(f, "positive_definite"),
            Constraint::SoftplusPositive => write!(f, "softplus_positive"),
            Constraint::Boolean => write!(f, "boolean"),
            Constraint::NonNegativeInteger => write!(f, "nonnegative_integer"),
            Constraint::IntegerInterval(a, b) => write!(f, "integer_interval({a}, {b})"),
        }
    }
}

/// The error of parsing a [`Constraint`] from text that is not the [`Display`](fmt::Display)
/// form of one.
///
/// ```
/// use pyro::constraints::Constraint;
/// let err = "interval(0)".parse::<Constraint>().unwrap_err();
/// assert_eq!(err.text, "interval(0)");
/// ```
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("cannot parse constraint `{text}`: {reason}")]
pub struct ParseConstraintError {
    /// The text that was parsed.
    pub text: String,
    /// What is wrong with it.
    pub reason: String,
}

/// Parses the [`Display`](fmt::Display) form back (`"positive"`, `"interval(0, 1.5)"`,
/// `"integer_interval(0, 9)"`); `c.to_string().parse() == Ok(c)` for every constraint without
/// a NaN bound (NaN bounds are rejected). Surrounding whitespace is ignored.
///
/// ```
/// use pyro::constraints::Constraint;
/// let c = Constraint::Interval(-1.0, 2.5);
/// assert_eq!(c.to_string().parse::<Constraint>(), Ok(c));
/// assert_eq!(" real ".parse::<Constraint>(), Ok(Constraint::Real));
/// assert!("sphere".parse::<Constraint>().is_err());
/// ```
impl std::str::FromStr for Constraint {
    type Err = ParseConstraintError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |reason: String| ParseConstraintError {
            text: s.to_string(),
            reason,
        };
        let t = s.trim();
        let (name, args): (&str, Vec<&str>) = match t.find('(') {
            None => (t, Vec::new()),
            Some(i) => {
                let inner = t[i + 1..]
                    .strip_suffix(')')
                    .ok_or_else(|| err("missing closing `)`".into()))?;
                (t[..i].trim(), inner.split(',').map(str::trim).collect())
            }
        };
        let float = |i: usize| -> Result<f32, ParseConstraintError> {
            let v: f32 = args[i]
                .parse()
                .map_err(|_| err(format!("bound `{}` is not a number", args[i])))?;
            if v.is_nan() {
                return Err(err("a bound is NaN".into()));
            }
            Ok(v)
        };
        let int = |i: usize| -> Result<i64, ParseConstraintError> {
            args[i]
                .parse()
                .map_err(|_| err(format!("bound `{}` is not an integer", args[i])))
        };
        let arity = |n: usize| -> Result<(), ParseConstraintError> {
            if args.len() == n {
                Ok(())
            } else {
                Err(err(format!(
                    "`{name}` takes {n} argument(s), found {}",
                    args.len()
                )))
            }
        };
        let unit = |c: Constraint| -> Result<Constraint, ParseConstraintError> {
            arity(0)?;
            Ok(c)
        };
        match name {
            "real" => unit(Constraint::Real),
            "real_vector" => unit(Constraint::RealVector),
            "positive" => unit(Constraint::Positive),
            "nonnegative" => unit(Constraint::NonNegative),
            "unit_interval" => unit(Constraint::UnitInterval),
            "simplex" => unit(Constraint::Simplex),
            "lower_cholesky" => unit(Constraint::LowerCholesky),
            "unit_lower_cholesky" => unit(Constraint::UnitLowerCholesky),
            "corr_cholesky" => unit(Constraint::CorrCholesky),
            "positive_definite" => unit(Constraint::PositiveDefinite),
            "softplus_positive" => unit(Constraint::SoftplusPositive),
            "boolean" => unit(Constraint::Boolean),
            "nonnegative_integer" => unit(Constraint::NonNegativeInteger),
            "greater_than" => arity(1).and_then(|_| Ok(Constraint::GreaterThan(float(0)?))),
            "greater_than_eq" => arity(1).and_then(|_| Ok(Constraint::GreaterThanEq(float(0)?))),
            "less_than" => arity(1).and_then(|_| Ok(Constraint::LessThan(float(0)?))),
            "interval" => arity(2).and_then(|_| Ok(Constraint::Interval(float(0)?, float(1)?))),
            "integer_interval" => {
                arity(2).and_then(|_| Ok(Constraint::IntegerInterval(int(0)?, int(1)?)))
            }
            _ => Err(err(format!("unknown constraint `{name}`"))),
        }
    }
}

impl Constraint {
    /// Number of rightmost dims that form one event of the constraint.
    pub fn event_dim(&self) -> usize {
        match self {
            Constraint::RealVector | Constraint::Simplex => 1,
            Constraint::LowerCholesky
            | Constraint::UnitLowerCholesky
            | Constraint::CorrCholesky
            | Constraint::PositiveDefinite => 2,
            _ => 0,
        }
    }

    /// Whether the constrained set is discrete.
    pub fn is_discrete(&self) -> bool {
        matches!(
            self,
            Constraint::Boolean | Constraint::NonNegativeInteger | Constraint::IntegerInterval(..)
        )
    }

    fn check_scalar(&self, x: f32) -> bool {
        let int = x == x.floor();
        match *self {
            Constraint::Real | Constraint::RealVector => !x.is_nan(),
            Constraint::Positive | Constraint::SoftplusPositive => x > 0.0,
            Constraint::NonNegative => x >= 0.0,
            Constraint::GreaterThan(a) => x > a,
            Constraint::GreaterThanEq(a) => x >= a,
            Constraint::LessThan(b) => x < b,
            Constraint::Interval(a, b) => x >= a && x <= b,
            Constraint::UnitInterval => (0.0..=1.0).contains(&x),
            Constraint::Boolean => x == 0.0 || x == 1.0,
            Constraint::NonNegativeInteger => x >= 0.0 && int,
            Constraint::IntegerInterval(a, b) => int && x >= a as f32 && x <= b as f32,
            _ => true,
        }
    }

    /// Membership of host values with the given shape; one flag per event.
    pub fn check_values(&self, v: &[f32], shape: &[usize]) -> Vec<bool> {
        let event = self.event_len(shape);
        v.chunks(event)
            .map(|ev| self.check_event(ev, shape))
            .collect()
    }

    /// The index of the first event of host values `v` (of shape `shape`) outside the
    /// constraint, if any; the check [`check_values`](Self::check_values) makes, without
    /// building the flags.
    ///
    /// ```
    /// use pyro::prelude::*;
    /// assert_eq!(Constraint::Positive.first_violation(&[1.0, -1.0, 2.0], &[3]), Some(1));
    /// assert_eq!(Constraint::Simplex.first_violation(&[0.5, 0.5], &[2]), None);
    /// ```
    pub fn first_violation(&self, v: &[f32], shape: &[usize]) -> Option<usize> {
        let event = self.event_len(shape);
        v.chunks(event).position(|ev| !self.check_event(ev, shape))
    }

    /// Number of values in one event of a value of shape `shape` (at least one).
    fn event_len(&self, shape: &[usize]) -> usize {
        let ed = self.event_dim().min(shape.len());
        let event: usize = shape[shape.len() - ed..].iter().product();
        event.max(1)
    }

    /// Whether one event's values satisfy the constraint.
    fn check_event(&self, ev: &[f32], shape: &[usize]) -> bool {
        match self {
            Constraint::Simplex => {
                let s: f32 = ev.iter().sum();
                ev.iter().all(|&x| x >= 0.0) && (s - 1.0).abs() < 1e-4 * ev.len() as f32
            }
            Constraint::LowerCholesky
            | Constraint::UnitLowerCholesky
            | Constraint::CorrCholesky
            | Constraint::PositiveDefinite => {
                let n = shape.last().copied().unwrap_or(1);
                check_matrix(self, ev, n)
            }
            _ => ev.iter().all(|&x| self.check_scalar(x)),
        }
    }

    /// Whether every event of `x` satisfies the constraint.
    pub fn check_all<D: Backend>(&self, x: &DynTensor<D>) -> bool {
        self.check_values(&x.to_vec(), x.shape())
            .into_iter()
            .all(|b| b)
    }
}

fn check_matrix(c: &Constraint, m: &[f32], n: usize) -> bool {
    if m.len() != n * n {
        return false;
    }
    let at = |i: usize, j: usize| m[i * n + j];
    match c {
        Constraint::LowerCholesky => (0..n).all(|i| {
            at(i, i) > 0.0
                && (i + 1..n).all(|j| at(i, j) == 0.0)
                && (0..n).all(|j| at(i, j).is_finite())
        }),
        Constraint::UnitLowerCholesky => (0..n).all(|i| {
            at(i, i) == 1.0
                && (i + 1..n).all(|j| at(i, j) == 0.0)
                && (0..i).all(|j| at(i, j).is_finite())
        }),
        Constraint::CorrCholesky => (0..n).all(|i| {
            let norm: f32 = (0..n).map(|j| at(i, j) * at(i, j)).sum();
            at(i, i) > 0.0 && (i + 1..n).all(|j| at(i, j) == 0.0) && (norm - 1.0).abs() < 1e-4
        }),
        Constraint::PositiveDefinite => {
            let sym = (0..n).all(|i| {
                (0..n).all(|j| (at(i, j) - at(j, i)).abs() <= 1e-5 * (1.0 + at(i, j).abs()))
            });
            sym && crate::linalg::cholesky_host(&m.iter().map(|&x| x as f64).collect::<Vec<_>>(), n)
                .is_some()
        }
        _ => true,
    }
}
