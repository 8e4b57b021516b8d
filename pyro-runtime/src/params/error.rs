//! [`ParamStoreError`]: everything that can go wrong in the parameter store, naming the
//! parameter and, for `save`/`load`, the file.

use std::path::PathBuf;
use std::sync::Arc;

use thiserror::Error;

use crate::constraints::Constraint;
use crate::tensor::TensorError;
use crate::transforms::TransformError;

/// An error of the parameter store. Every variant names the parameter at fault, and those of
/// [`ParamStore::save`](super::ParamStore::save) / [`ParamStore::load`](super::ParamStore::load)
/// also name the file.
///
/// ```
/// use pyro::params::{ParamStore, ParamStoreError};
/// let mut store = ParamStore::<dfdx::prelude::Cpu>::new();
/// let err = store.load("/no/such/dir/params.safetensors").unwrap_err();
/// assert!(matches!(err, ParamStoreError::Io { .. }));
/// assert!(err.to_string().contains("/no/such/dir/params.safetensors"));
/// ```
#[derive(Debug, Clone, Error)]
pub enum ParamStoreError {
    /// No parameter of that name is in the store.
    #[error("no parameter named `{name}` in the param store")]
    NotFound {
        /// The parameter's name.
        name: String,
    },
    /// `transform_to` has no map onto the constraint (a discrete constraint), or the
    /// constraint has unusable bounds (an empty interval, an infinite bound).
    #[error("parameter `{name}`: constraint `{constraint}` is not supported by the param store: {reason}")]
    UnsupportedConstraint {
        /// The parameter's name.
        name: String,
        /// The constraint asked for.
        constraint: Constraint,
        /// Why it is not supported.
        reason: String,
    },
    /// A value handed in lies outside the parameter's constraint.
    #[error("parameter `{name}`: value {value} at flat index {index} is outside the constraint `{constraint}`")]
    OutOfSupport {
        /// The parameter's name.
        name: String,
        /// Its constraint.
        constraint: Constraint,
        /// The first offending value.
        value: f32,
        /// Its position in row-major order.
        index: usize,
    },
    /// An event of a value handed in lies outside an event-shaped constraint (`simplex`,
    /// `lower_cholesky`, `corr_cholesky`, `positive_definite`), whose membership is decided
    /// for a whole vector or matrix rather than value by value.
    #[error("parameter `{name}`: the event at flat batch index {event} ({}) is outside the constraint `{constraint}`", preview(.values))]
    EventOutOfSupport {
        /// The parameter's name.
        name: String,
        /// Its constraint.
        constraint: Constraint,
        /// The position of the first offending event among the value's events (row-major
        /// over the batch dims).
        event: usize,
        /// That event's values, row-major.
        values: Vec<f32>,
    },
    /// The constraint's transform cannot take a value of this shape (a `simplex` value with
    /// no dims, a non-square `lower_cholesky` value) or failed on it.
    #[error("parameter `{name}`: transform_to(`{constraint}`) failed: {source}")]
    Transform {
        /// The parameter's name.
        name: String,
        /// Its constraint.
        constraint: Constraint,
        /// The transform's error (boxed: it is large).
        #[source]
        source: Box<TransformError>,
    },
    /// A value maps to a non-finite unconstrained value (an infinite input, or a value on
    /// an open boundary such as `0` for `nonnegative` or a zero in a `simplex` value).
    #[error("parameter `{name}`: value {value} at flat index {index} has no finite unconstrained value under `{constraint}`")]
    NonFinite {
        /// The parameter's name.
        name: String,
        /// Its constraint.
        constraint: Constraint,
        /// The offending constrained value; for a transform that changes the shape
        /// (`corr_cholesky`) the non-finite unconstrained value.
        value: f32,
        /// Its position in the unconstrained leaf, row-major (the same position in the value
        /// unless the transform changes the shape).
        index: usize,
    },
    /// A new value does not have the shape of the stored parameter.
    #[error("parameter `{name}`: expected shape {expected:?}, found {found:?}")]
    ShapeMismatch {
        /// The parameter's name.
        name: String,
        /// The stored shape.
        expected: Vec<usize>,
        /// The shape handed in.
        found: Vec<usize>,
    },
    /// `event_dim` is larger than the rank of the value.
    #[error("parameter `{name}`: event_dim {event_dim} exceeds the rank of its shape {shape:?}")]
    EventDim {
        /// The parameter's name.
        name: String,
        /// The event_dim asked for.
        event_dim: usize,
        /// The value's shape.
        shape: Vec<usize>,
    },
    /// The lazy initialiser of a parameter failed.
    #[error("parameter `{name}`: initialiser failed: {source}")]
    Init {
        /// The parameter's name.
        name: String,
        /// The tensor error it returned.
        #[source]
        source: TensorError,
    },
    /// A tensor operation on a parameter failed.
    #[error("parameter `{name}`: {source}")]
    Tensor {
        /// The parameter's name.
        name: String,
        /// The tensor error.
        #[source]
        source: TensorError,
    },
    /// A pattern handed to [`ParamStore::match_regex`](super::ParamStore::match_regex) is not a
    /// valid regular expression.
    #[error("invalid parameter-name pattern `{pattern}`: {source}")]
    Regex {
        /// The pattern.
        pattern: String,
        /// The regex crate's error.
        #[source]
        source: regex::Error,
    },
    /// The thread's global store was accessed from inside `with_param_store` on the same thread.
    #[error("the thread's param store is already borrowed (nested with_param_store call)")]
    Busy,
    /// A parameter's name cannot be written to a safetensors file.
    #[error("{}: parameter name `{name}` is reserved by the safetensors format", .path.display())]
    ReservedName {
        /// The file being written.
        path: PathBuf,
        /// The parameter's name.
        name: String,
    },
    /// Reading, writing, syncing or renaming a file failed (a missing file or directory, no
    /// permission, a full disk).
    #[error("{}: cannot {op}: {source}", .path.display())]
    Io {
        /// The file at fault.
        path: PathBuf,
        /// What was being done.
        op: &'static str,
        /// The operating system's error (shared, so that the error can be cloned).
        #[source]
        source: Arc<std::io::Error>,
    },
    /// The file ends early (or runs on past the end its header declares).
    #[error("{}: truncated safetensors file: {reason}", .path.display())]
    Truncated {
        /// The file.
        path: PathBuf,
        /// What is missing.
        reason: String,
    },
    /// The file is not a safetensors file at all.
    #[error("{}: not a safetensors file: {reason}", .path.display())]
    NotSafetensors {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The file has a safetensors header but its tensor table is inconsistent.
    #[error("{}: corrupt safetensors file: {reason}", .path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The file's format marker is missing or names another format or version.
    #[error("{}: not a pyro-rs param store file: {reason}", .path.display())]
    UnknownFormat {
        /// The file.
        path: PathBuf,
        /// What was found.
        reason: String,
    },
    /// A tensor in the file is not `f32`.
    #[error("{}: parameter `{param}` has dtype {dtype}, expected F32", .path.display())]
    WrongDtype {
        /// The file.
        path: PathBuf,
        /// The parameter.
        param: String,
        /// The dtype found.
        dtype: String,
    },
    /// A parameter's metadata entry is missing from the file.
    #[error("{}: parameter `{param}` has no `{key}` metadata entry", .path.display())]
    MissingMetadata {
        /// The file.
        path: PathBuf,
        /// The parameter.
        param: String,
        /// The missing key.
        key: String,
    },
    /// The file's metadata has a key the param store does not write (or one about a parameter
    /// the file does not hold).
    #[error("{}: unknown metadata entry `{key}`", .path.display())]
    UnknownMetadata {
        /// The file.
        path: PathBuf,
        /// The key.
        key: String,
    },
    /// A parameter's constraint in the file cannot be parsed or is not supported.
    #[error("{}: parameter `{param}` has an unusable constraint `{text}`: {reason}", .path.display())]
    BadConstraint {
        /// The file.
        path: PathBuf,
        /// The parameter.
        param: String,
        /// The constraint text in the file.
        text: String,
        /// Why it is unusable.
        reason: String,
    },
    /// A parameter's other metadata (event_dim, position) in the file is malformed.
    #[error("{}: parameter `{param}` has a malformed `{key}` entry `{value}`: {reason}", .path.display())]
    BadMetadata {
        /// The file.
        path: PathBuf,
        /// The parameter.
        param: String,
        /// The metadata key.
        key: String,
        /// Its value.
        value: String,
        /// Why it is malformed.
        reason: String,
    },
    /// A parameter in the file holds a NaN or infinite unconstrained value.
    #[error("{}: parameter `{param}` holds a non-finite value at flat index {index}", .path.display())]
    NonFiniteInFile {
        /// The file.
        path: PathBuf,
        /// The parameter.
        param: String,
        /// The position of the first non-finite value.
        index: usize,
    },
    /// A parameter in the file has another shape than the stored parameter of the same name.
    #[error("{}: parameter `{param}` has shape {in_file:?} in the file but {stored:?} in the store", .path.display())]
    LoadShapeMismatch {
        /// The file.
        path: PathBuf,
        /// The parameter.
        param: String,
        /// Its shape in the store.
        stored: Vec<usize>,
        /// Its shape in the file.
        in_file: Vec<usize>,
    },
}

/// At most eight values of an event, for messages.
fn preview(values: &[f32]) -> String {
    const MAX: usize = 8;
    let shown: Vec<String> = values.iter().take(MAX).map(|v| v.to_string()).collect();
    if values.len() > MAX {
        format!(
            "values [{}, ...] ({} in all)",
            shown.join(", "),
            values.len()
        )
    } else {
        format!("values [{}]", shown.join(", "))
    }
}

/// Shorthand result of the parameter store.
pub type ParamResult<T> = Result<T, ParamStoreError>;
