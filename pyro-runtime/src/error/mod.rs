//! Typed errors of the runtime. Every error names the tensor, site, parameter or file at fault.

use thiserror::Error;

mod mcmc;
mod summary;

pub use crate::tensor::{TensorError, TensorResult};
pub use mcmc::McmcError;
pub use summary::SummaryError;

/// The error type of models, handlers and inference. Every variant names the site at fault
/// where there is one.
///
/// Every public error type of the runtime converts into it (`From`), so `?` works on any of
/// them in a function returning [`PyroResult`]: the original error is the payload of a typed
/// variant ([`PyroError::Tensor`], [`PyroError::Optim`], ...; match on it to get it back).
/// Those variants are transparent: their message and their
/// [`source`](std::error::Error::source) are the original's, so an error-chain printer
/// (anyhow's `{:#}`, eyre's report) shows each message once.
///
/// ```
/// use pyro::optim::{Adam, OptimError};
/// use pyro::{PyroError, PyroResult};
/// use std::error::Error;
///
/// fn make(lr: f32) -> PyroResult<Adam> {
///     Ok(Adam::with_lr(lr)?)
/// }
/// let err = make(-1.0).unwrap_err();
/// let PyroError::Optim(original) = &err else { panic!("{err:?}") };
/// assert!(matches!(original, OptimError::InvalidConfig { argument: "lr", .. }));
/// assert_eq!(err.to_string(), original.to_string());
/// // The original has no source, and neither has the converted error: nothing is repeated.
/// assert!(original.source().is_none() && err.source().is_none());
/// ```
#[derive(Debug, Clone, Error)]
pub enum PyroError {
    /// A distribution could not be built or used at a site.
    #[error("site `{site}`: {source}")]
    Distribution {
        /// The site's name.
        site: String,
        /// What the distribution reported.
        source: crate::distributions::DistError,
    },
    /// A tensor operation failed at a site.
    #[error("site `{site}`: {source}")]
    SiteTensor {
        /// The site's name.
        site: String,
        /// What the tensor operation reported.
        source: TensorError,
    },
    /// A tensor operation failed outside any site.
    #[error(transparent)]
    Tensor(#[from] TensorError),
    /// Two sample sites with the same name in one trace.
    #[error("multiple sample sites named `{0}` in one trace; give each site a unique name (inside a loop, use a sequential plate or a run-time name such as format!(\"x_{{i}}\"))")]
    DuplicateSite(String),
    /// A log-probability was NaN or infinite.
    #[error("site `{site}`: log-probability is {value} (check the observed value and the distribution's parameters)")]
    NonFiniteLogProb {
        /// The site's name.
        site: String,
        /// The offending value (NaN, inf or -inf).
        value: f32,
    },
    /// An observed value holds a NaN (checked with validation on, and whenever the site's
    /// log-probability comes out NaN or infinite).
    #[error(
        "site `{site}`: the observed value is NaN{} (value of shape {shape:?}); NaN is not an \
         observation: leave missing values out, or give them any value in the support and \
         mask them out with `obs_mask` (they are then sampled)",
        crate::distributions::at_position("index", .index)
    )]
    ObservedNan {
        /// The site's name.
        site: String,
        /// The position of the first NaN (empty for a rank-0 value).
        index: Vec<usize>,
        /// The observed value's shape.
        shape: Vec<usize>,
    },
    /// A distribution's batch shape does not fit the enclosing plate.
    #[error("site `{site}`: batch shape {batch_shape:?} does not broadcast with plate `{plate}` of size {size} at dim {dim}")]
    PlateShape {
        /// The site.
        site: String,
        /// The plate.
        plate: String,
        /// The plate's dim (negative, counted from the right of the batch shape).
        dim: i32,
        /// The plate's (subsample) size.
        size: usize,
        /// The distribution's batch shape.
        batch_shape: Vec<usize>,
    },
    /// Plates were set up inconsistently (a dim in use, a bad size, ...).
    #[error("plate `{plate}`: {reason}")]
    Plate {
        /// The plate.
        plate: String,
        /// What is wrong.
        reason: String,
    },
    /// An autoguide that packs every latent into one vector met a latent site inside a
    /// subsampled plate (whose values change with each minibatch).
    #[error("{guide}: latent site `{site}` is inside the subsampled plate `{plate}`; {guide} packs all latent sites into one vector and cannot follow a minibatch; use AutoNormal (or AutoDelta), which keep full-size parameters and index them by each step's minibatch")]
    SubsampledLatent {
        /// The autoguide.
        guide: &'static str,
        /// The latent site.
        site: String,
        /// The subsampled plate.
        plate: String,
    },
    /// A parameter in the store has another shape than the one a guide or `param!` site now
    /// asks for (typically left over from fitting another model).
    #[error("param `{param}`: the parameter store holds a value of shape {stored:?}, but it is now initialized with shape {expected:?} (left over from an earlier model?); call `pyro::clear_param_store()` before fitting another model, or give the guide another prefix")]
    ParamShape {
        /// The parameter.
        param: String,
        /// The shape of the stored value.
        stored: Vec<usize>,
        /// The shape asked for now.
        expected: Vec<usize>,
    },
    /// A parameter in the store has another constraint than the one a guide now asks for
    /// (typically left over from another version of the guide, or another model).
    #[error("param `{param}`: the parameter store holds it with constraint `{stored}`, but it is now asked for with `{expected}` (left over from another model or guide version?); call `pyro::clear_param_store()` first, or give the guide another prefix")]
    ParamConstraint {
        /// The parameter.
        param: String,
        /// The stored parameter's constraint.
        stored: crate::constraints::Constraint,
        /// The constraint asked for now.
        expected: crate::constraints::Constraint,
    },
    /// A guide/model or replay mismatch found at run time.
    #[error("site `{site}`: {reason}")]
    SiteMismatch {
        /// The site.
        site: String,
        /// What does not match.
        reason: String,
    },
    /// A handler was given invalid arguments.
    #[error("{handler}: {reason}")]
    Handler {
        /// The handler.
        handler: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A param site could not get a value (no initial value and none stored, ...).
    #[error("param `{site}`: {reason}")]
    Param {
        /// The parameter.
        site: String,
        /// What is wrong.
        reason: String,
    },
    /// The parameter store reported an error for a parameter (a lookup or a check of it).
    #[error("param `{site}`: {source}")]
    ParamStoreAt {
        /// The parameter.
        site: String,
        /// The store's error.
        source: Box<crate::params::ParamStoreError>,
    },
    /// A transform failed at a site (autoguides, constrained parameters).
    #[error("site `{site}`: {source}")]
    Transform {
        /// The site.
        site: String,
        /// What the transform reported.
        source: crate::transforms::TransformError,
    },
    /// An inference algorithm was configured wrongly.
    #[error("{algorithm}: {reason}")]
    Config {
        /// The algorithm.
        algorithm: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A distribution error outside any site (a constructor's error passed on with `?`
    /// before the distribution reached a site; at a site it is [`PyroError::Distribution`]).
    #[error(transparent)]
    Dist(#[from] crate::distributions::DistError),
    /// A transform error outside any site (`?` on a transform; at a site it is
    /// [`PyroError::Transform`]).
    #[error(transparent)]
    Transformation(#[from] crate::transforms::TransformError),
    /// A linear-algebra error (`?` on a [`crate::linalg`] result).
    #[error(transparent)]
    Linalg(#[from] crate::linalg::LinalgError),
    /// An optimizer error (`?` on an optimizer's constructor or update).
    #[error(transparent)]
    Optim(#[from] crate::optim::OptimError),
    /// A parameter-store error (`?` on a [`crate::params`] result: a lookup, `save`, `load`).
    #[error(transparent)]
    ParamStore(#[from] crate::params::ParamStoreError),
    /// A posterior summary could not be built (`?` on [`crate::infer::Summary::new`]).
    #[error(transparent)]
    Summary(#[from] SummaryError),
    /// Text that does not parse as a constraint (`?` on `str::parse::<Constraint>()`).
    #[error(transparent)]
    ParseConstraint(#[from] crate::constraints::ParseConstraintError),
    /// An MCMC error (`?` on a [`crate::infer::mcmc`] result).
    #[error(transparent)]
    Mcmc(#[from] McmcError),
    /// Raised by the `escape` handler to leave the program at a site; caught by the
    /// handler's caller.
    #[error("escaped at site `{site}`")]
    NonlocalExit {
        /// The site where the program was left.
        site: String,
    },
}

impl PyroError {
    /// Attaches a site name to a distribution error.
    pub fn at_site(site: &str, e: crate::distributions::DistError) -> Self {
        PyroError::Distribution {
            site: site.to_string(),
            source: e,
        }
    }

    /// [`PyroError::ObservedNan`] for the NaN at flat (row-major) index `flat` of an observed
    /// value of shape `shape` at `site`.
    pub(crate) fn observed_nan(site: &str, flat: usize, shape: &[usize]) -> Self {
        PyroError::ObservedNan {
            site: site.to_string(),
            index: crate::distributions::unravel(flat, shape),
            shape: shape.to_vec(),
        }
    }
}

/// Shorthand result of models, handlers and inference.
pub type PyroResult<T> = Result<T, PyroError>;

#[cfg(test)]
mod tests {
    use std::error::Error;

    use super::*;
    use crate::optim::OptimError;
    use crate::params::ParamStoreError;

    /// The messages of `e` and of its sources, outermost first.
    fn chain(e: &dyn Error) -> Vec<String> {
        let mut out = vec![e.to_string()];
        let mut cur = e.source();
        while let Some(s) = cur {
            out.push(s.to_string());
            cur = s.source();
        }
        out
    }

    /// Whether the messages of a chain are all different (an error-chain printer such as
    /// anyhow's `{:#}` or eyre's report shows each of them).
    fn no_repeats(chain: &[String]) -> bool {
        chain
            .iter()
            .enumerate()
            .all(|(i, m)| !chain[i + 1..].contains(m))
    }

    #[test]
    fn conversions_keep_the_whole_source_chain() {
        // Three levels: an optimizer error caused by a store error caused by an I/O error.
        let io = std::io::Error::new(std::io::ErrorKind::PermissionDenied, "no permission");
        let store = ParamStoreError::Io {
            path: "/tmp/p.safetensors".into(),
            op: "write",
            source: io.into(),
        };
        let optim = OptimError::Store {
            name: "w".into(),
            source: Box::new(store.clone()),
        };
        let want = chain(&optim);
        assert_eq!(want.len(), 3, "{want:?}");
        assert_eq!(want[2], "no permission");
        assert!(no_repeats(&want), "{want:?}");

        let err = PyroError::from(optim.clone());
        assert!(matches!(err, PyroError::Optim(OptimError::Store { ref name, .. }) if name == "w"));
        // The converted error is transparent: the original's message, then the original's
        // own sources, each once.
        assert_eq!(chain(&err), want);

        let store_chain = chain(&store);
        let err = PyroError::from(store);
        assert_eq!(chain(&err), store_chain);
        assert_eq!(chain(&err).len(), 2);
        assert_eq!(chain(&err)[1], "no permission");
    }

    #[test]
    fn question_mark_converts_into_the_typed_variant_and_the_chain_does_not_repeat() {
        use crate::constraints::Constraint;
        use crate::distributions::DistError;
        use crate::linalg::LinalgError;
        use crate::transforms::TransformError;

        /// `?` on an error value, as in a model or a `main` returning `PyroResult`.
        fn question_mark<E>(e: E) -> PyroResult<()>
        where
            PyroError: From<E>,
        {
            Err(e)?;
            Ok(())
        }
        /// The converted error and the original's chain of messages.
        fn convert<E: Error>(e: E) -> (PyroError, Vec<String>)
        where
            PyroError: From<E>,
        {
            let want = chain(&e);
            (question_mark(e).unwrap_err(), want)
        }

        /// Whether an error is the typed variant of its original.
        type IsVariant = fn(&PyroError) -> bool;
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let cases: Vec<((PyroError, Vec<String>), IsVariant)> = vec![
            (convert(TensorError::Invalid("i".into())), |e| {
                matches!(e, PyroError::Tensor(TensorError::Invalid(_)))
            }),
            (
                convert(DistError::NotReparameterized { dist: "Poisson" }),
                |e| matches!(e, PyroError::Dist(DistError::NotReparameterized { .. })),
            ),
            (
                convert(TransformError::NoLogDet {
                    transform: "Softmax",
                    reason: "r",
                }),
                |e| {
                    matches!(
                        e,
                        PyroError::Transformation(TransformError::NoLogDet { .. })
                    )
                },
            ),
            (
                convert(LinalgError::Singular {
                    op: "solve",
                    index: 1,
                }),
                |e| matches!(e, PyroError::Linalg(LinalgError::Singular { .. })),
            ),
            (
                convert(OptimError::LrNotSettable { optimizer: "Adam" }),
                |e| matches!(e, PyroError::Optim(OptimError::LrNotSettable { .. })),
            ),
            (convert(ParamStoreError::Busy), |e| {
                matches!(e, PyroError::ParamStore(ParamStoreError::Busy))
            }),
            (
                convert(ParamStoreError::Io {
                    path: "/tmp/p.safetensors".into(),
                    op: "read",
                    source: io.into(),
                }),
                |e| matches!(e, PyroError::ParamStore(ParamStoreError::Io { .. })),
            ),
            (convert(SummaryError::NoSamples { site: "z".into() }), |e| {
                matches!(e, PyroError::Summary(SummaryError::NoSamples { .. }))
            }),
            (convert("sphere".parse::<Constraint>().unwrap_err()), |e| {
                matches!(e, PyroError::ParseConstraint(_))
            }),
        ];
        for ((err, want), is_variant) in cases {
            assert!(is_variant(&err), "{err:?}");
            let got = chain(&err);
            assert_eq!(got, want, "{err:?}: the chain is the original's");
            assert!(no_repeats(&got), "{err:?}: a message repeats in {got:?}");
        }
    }
}
