//! [`SummaryError`]: the errors of posterior summaries (`pyro::infer::Summary`), defined here,
//! below the inference layer, so that [`PyroError`](super::PyroError) can wrap them.

use thiserror::Error;

/// What can go wrong building a [`Summary`](crate::infer::Summary) or adding a column to it; every variant names the
/// site (or the column) at fault.
///
/// ```
/// use pyro::infer::{Summary, SummaryError};
/// use pyro::tensor::DynTensor;
/// let samples = [("z", DynTensor::<dfdx::prelude::Cpu>::scalar(1.0))];
/// let err = Summary::new(samples).unwrap_err();
/// assert!(matches!(err, SummaryError::NoSampleDim { ref site } if site == "z"));
/// ```
#[derive(Debug, Clone, PartialEq, Error)]
pub enum SummaryError {
    /// A site's samples have no leading sample dim (a rank-0 tensor).
    #[error("site `{site}`: the samples have no leading sample dim (a rank-0 tensor)")]
    NoSampleDim {
        /// The site.
        site: String,
    },
    /// A site has no samples (a leading dim of size 0).
    #[error("site `{site}`: no samples (the leading sample dim has size 0)")]
    NoSamples {
        /// The site.
        site: String,
    },
    /// The same site name was given twice.
    #[error("site `{site}` is given twice")]
    DuplicateSite {
        /// The site.
        site: String,
    },
    /// The interval's probability mass is not strictly between 0 and 1.
    #[error("Summary: invalid `prob` = {prob}: must lie strictly between 0 and 1")]
    InvalidProb {
        /// The value handed in.
        prob: f64,
    },
    /// An added column's name is already a column of the summary.
    #[error("column `{column}` is already in the summary")]
    DuplicateColumn {
        /// The column.
        column: String,
    },
    /// An added column has no values for a site of the summary.
    #[error("column `{column}`: no values for site `{site}`")]
    MissingValues {
        /// The column.
        column: String,
        /// The site.
        site: String,
    },
    /// An added column has values for a site the summary does not have.
    #[error("column `{column}`: site `{site}` is not in the summary")]
    UnknownSite {
        /// The column.
        column: String,
        /// The site.
        site: String,
    },
    /// An added column has another number of values for a site than the site has elements.
    #[error("column `{column}`: site `{site}` has {expected} elements, got {found} values")]
    ColumnLength {
        /// The column.
        column: String,
        /// The site.
        site: String,
        /// The site's number of elements.
        expected: usize,
        /// The number of values given.
        found: usize,
    },
}
