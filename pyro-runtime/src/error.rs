//! Typed errors of the runtime. Every error names the tensor, site, parameter or file at fault.

use thiserror::Error;

/// An error from a tensor operation: a shape that does not fit, or a failed backward pass.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum TensorError {
    /// Two shapes that must agree (or broadcast) do not.
    #[error("{op}: shapes {lhs:?} and {rhs:?} do not broadcast")]
    Broadcast {
        /// The operation that needed them to agree.
        op: &'static str,
        /// Left operand's shape.
        lhs: Vec<usize>,
        /// Right operand's shape.
        rhs: Vec<usize>,
    },
    /// A tensor did not have the shape an operation or typed view needed.
    #[error("{what}: expected shape {expected:?}, found {found:?}")]
    Shape {
        /// What was being done.
        what: String,
        /// The shape that was needed.
        expected: Vec<usize>,
        /// The shape that was found.
        found: Vec<usize>,
    },
    /// A value handed in was out of range (an index, a dimension).
    #[error("{0}")]
    Invalid(String),
    /// The backward pass failed.
    #[error("backward pass failed: {0}")]
    Backward(String),
    /// The device reported an error (allocation, kernel launch).
    #[error("device error: {0}")]
    Device(String),
}

/// Shorthand result of tensor operations.
pub type TensorResult<T> = Result<T, TensorError>;

/// The error type of models, handlers and inference. Every variant names the site at fault
/// where there is one.
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
    /// The parameter store reported an error.
    #[error("param `{site}`: {reason}")]
    Param {
        /// The parameter.
        site: String,
        /// What is wrong.
        reason: String,
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
}

/// Shorthand result of models, handlers and inference.
pub type PyroResult<T> = Result<T, PyroError>;
