//! The message a primitive sends through the handler stack.

use std::collections::BTreeMap;
use std::rc::Rc;

use crate::constraints::Constraint;
use crate::distributions::Distribution;
use crate::params::ParamInit;
use crate::tensor::{Backend, DynTensor};

pub use crate::name::Name;

/// A site's distribution, shared by the message and every trace that records the site
/// (recording it is a reference-count increment, not a copy).
pub type SharedDist<D> = Rc<dyn Distribution<D>>;

/// What kind of site a message is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SiteKind {
    /// `sample` (also `factor`, `deterministic` and observed sites).
    Sample,
    /// `param`.
    Param,
    /// The batch indices a subsampling plate drew (Pyro's `_Subsample` site), so that
    /// `replay` gives the model the guide's minibatch. Carries no density.
    Subsample,
}

/// One enclosing plate of a site (Pyro's `CondIndepStackFrame`).
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    /// The plate's name.
    pub name: Name,
    /// The batch dim (negative) of a vectorized plate; `None` for a sequential plate.
    pub dim: Option<i32>,
    /// The full size.
    pub size: usize,
    /// The size of this batch (the subsample size, or `size`).
    pub subsample_size: usize,
    /// The iteration of a sequential plate.
    pub counter: usize,
    /// The batch's indices into `0..size`.
    pub indices: Rc<Vec<usize>>,
}

impl Frame {
    /// Whether the plate is vectorized (has a dim).
    pub fn vectorized(&self) -> bool {
        self.dim.is_some()
    }
}

/// Per-site inference configuration (Pyro's `infer` dict).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InferConfig {
    /// Enumeration strategy (`"parallel"`, `"sequential"`), unused by SVI.
    pub enumerate: Option<String>,
    /// The site is auxiliary (autoguide internals).
    pub is_auxiliary: bool,
    /// The site is a deterministic record and contributes no density.
    pub deterministic: bool,
    /// Set by `uncondition` on sites that were observed.
    pub was_observed: bool,
    /// Any other user keys.
    pub extra: BTreeMap<String, String>,
}

/// A mask on a site's log-probability: `false` entries contribute nothing.
#[derive(Debug, Clone, PartialEq)]
pub enum Mask {
    /// One flag for the whole site.
    All(bool),
    /// One flag per element of the batch shape (broadcast with NumPy rules).
    Elements {
        /// Row-major flags.
        flags: Rc<Vec<bool>>,
        /// Their shape.
        shape: Vec<usize>,
    },
}

impl Mask {
    /// Elementwise conjunction of two masks.
    pub fn and(&self, other: &Mask) -> Result<Mask, crate::error::TensorError> {
        match (self, other) {
            (Mask::All(a), Mask::All(b)) => Ok(Mask::All(*a && *b)),
            (Mask::All(true), m) | (m, Mask::All(true)) => Ok(m.clone()),
            (Mask::All(false), _) | (_, Mask::All(false)) => Ok(Mask::All(false)),
            (
                Mask::Elements {
                    flags: a,
                    shape: sa,
                },
                Mask::Elements {
                    flags: b,
                    shape: sb,
                },
            ) => {
                let shape = crate::tensor::broadcast_shapes(sa, sb).ok_or_else(|| {
                    crate::error::TensorError::Broadcast {
                        op: "mask",
                        lhs: sa.clone(),
                        rhs: sb.clone(),
                    }
                })?;
                let ea = expand_flags(a, sa, &shape);
                let eb = expand_flags(b, sb, &shape);
                let flags = ea.iter().zip(&eb).map(|(x, y)| *x && *y).collect();
                Ok(Mask::Elements {
                    flags: Rc::new(flags),
                    shape,
                })
            }
        }
    }
}

/// Broadcasts row-major flags of shape `from` to shape `to` (which must be a broadcast of it).
pub(crate) fn expand_flags(flags: &[bool], from: &[usize], to: &[usize]) -> Vec<bool> {
    let n: usize = to.iter().product();
    let off = to.len() - from.len();
    let mut out = Vec::with_capacity(n);
    for flat in 0..n {
        let mut rem = flat;
        let mut src = 0;
        let mut stride_src = 1;
        for k in (0..to.len()).rev() {
            let coord = rem % to[k];
            rem /= to[k];
            if k >= off {
                let d = from[k - off];
                if d != 1 {
                    src += coord * stride_src;
                }
                stride_src *= d;
            }
        }
        out.push(flags.get(src).copied().unwrap_or(false));
    }
    out
}

/// The extra fields of a `param` message.
#[derive(Debug)]
pub struct ParamSpec<D: Backend> {
    /// Initial value, taken by the default behaviour when the store lacks the name; `None`
    /// when the parameter must exist already (Pyro's `pyro.param(name)` without an init).
    pub init: Option<ParamInit<'static, D>>,
    /// The parameter's constraint.
    pub constraint: Constraint,
    /// Rightmost dims that form one event of the constraint.
    pub event_dim: Option<usize>,
}

/// A message: everything a handler may read or change about one primitive call.
#[derive(Debug)]
pub struct Message<D: Backend> {
    /// Sample or param.
    pub kind: SiteKind,
    /// The site's name.
    pub name: Name,
    /// The distribution of a sample site.
    pub dist: Option<SharedDist<D>>,
    /// The value: set by the program (observed), by a handler, or by the default behaviour.
    pub value: Option<DynTensor<D>>,
    /// Whether the value is observed data.
    pub is_observed: bool,
    /// Multiplier of the log-probability (subsampling, `scale`).
    pub scale: f32,
    /// Mask of the log-probability.
    pub mask: Option<Mask>,
    /// Enclosing plates, outermost first.
    pub cond_indep_stack: Vec<Frame>,
    /// Inference configuration.
    pub infer: InferConfig,
    /// Set by a handler to stop handlers further out from seeing the message.
    pub stop: bool,
    /// Set once the value is final (the default behaviour is skipped).
    pub done: bool,
    /// Param fields (param sites only).
    pub param: Option<ParamSpec<D>>,
    /// Identifies the `do` handler that intervened here, so it does not intervene twice.
    pub intervener: Option<usize>,
    /// The draw the default behaviour made, with its log-density when the distribution gave
    /// it along with the draw ([`Distribution::rsample_with_log_prob`]).
    pub(crate) draw: Option<Draw<D>>,
}

/// A value the default behaviour drew from the site's distribution, and its log-density.
/// A trace uses the density only while the site's value is still this draw.
#[derive(Debug, Clone)]
pub(crate) struct Draw<D: Backend> {
    pub(crate) value: DynTensor<D>,
    pub(crate) log_prob: DynTensor<D>,
}

impl<D: Backend> Message<D> {
    /// A fresh sample message.
    pub fn sample(name: impl Into<Name>, dist: SharedDist<D>) -> Self {
        Message {
            dist: Some(dist),
            ..Message::fresh(SiteKind::Sample, name.into())
        }
    }

    /// A fresh subsample message for the plate `name` (its value is the batch indices).
    pub fn subsample(name: impl Into<Name>) -> Self {
        Message::fresh(SiteKind::Subsample, name.into())
    }

    /// A fresh param message.
    pub fn param(name: impl Into<Name>, spec: ParamSpec<D>) -> Self {
        Message {
            param: Some(spec),
            ..Message::fresh(SiteKind::Param, name.into())
        }
    }

    /// A message of `kind` with no distribution, value, handler effects or param spec.
    fn fresh(kind: SiteKind, name: Name) -> Self {
        Message {
            kind,
            name,
            dist: None,
            value: None,
            is_observed: false,
            scale: 1.0,
            mask: None,
            cond_indep_stack: Vec::new(),
            infer: InferConfig::default(),
            stop: false,
            done: false,
            param: None,
            intervener: None,
            draw: None,
        }
    }
}
