//! [`McmcError`]: the errors of the MCMC samplers (`pyro::infer::mcmc`), defined here, below
//! the inference layer, so that [`PyroError`](super::PyroError) can wrap them.

use thiserror::Error;

/// What can go wrong setting up or running MCMC. Every variant names the site, chain or
/// option at fault; it converts into [`PyroError::Mcmc`](crate::PyroError::Mcmc) with `?`.
///
/// ```
/// use pyro::infer::mcmc::McmcError;
/// use pyro::PyroError;
/// let e: PyroError = McmcError::InvalidConfig { option: "num_samples", reason: "must be at least 1".into() }.into();
/// assert_eq!(e.to_string(), "MCMC option `num_samples`: must be at least 1");
/// ```
#[derive(Debug, Clone, PartialEq, Error)]
pub enum McmcError {
    /// An option of [`McmcConfig`](crate::infer::mcmc::McmcConfig) or of a kernel is out of
    /// range.
    #[error("MCMC option `{option}`: {reason}")]
    InvalidConfig {
        /// The option.
        option: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The model has a discrete latent site, which HMC and NUTS cannot move.
    #[error("site `{site}` is a discrete latent ({dist}); HMC and NUTS sample continuous latent sites only (observe it, or marginalize it out by hand)")]
    DiscreteLatent {
        /// The site.
        site: String,
        /// Its distribution.
        dist: String,
    },
    /// A site of the model is inside a subsampled plate: MCMC needs the full data.
    #[error("site `{site}` is inside the subsampled plate `{plate}`; HMC and NUTS need the full log density: remove `subsample_size` from the plate")]
    SubsampledPlate {
        /// The site.
        site: String,
        /// The subsampled plate.
        plate: String,
    },
    /// The model has no latent site to sample.
    #[error("the model has no latent sites; there is nothing to sample")]
    NoLatentSites,
    /// No initial point with a finite potential and gradient was found.
    #[error("chain {chain}: no initial point with a finite potential energy and gradient in {tries} tries ({reason}); check the model's parameters and data, or give initial values")]
    InitFailed {
        /// The chain.
        chain: usize,
        /// How many points were tried.
        tries: usize,
        /// What the last try found.
        reason: String,
    },
    /// A site changed its shape or disappeared between two runs of the model.
    #[error("site `{site}` changed between runs of the model ({reason}); a model run by MCMC must visit the same sites with the same shapes every time")]
    SiteChanged {
        /// The site.
        site: String,
        /// What changed.
        reason: String,
    },
    /// The step size search failed (the potential is flat or broken along the momentum).
    #[error("chain {chain}: the step size went to {step_size:e} while searching for a reasonable one; the potential is flat or not finite around the initial point")]
    StepSize {
        /// The chain.
        chain: usize,
        /// The last step size tried.
        step_size: f64,
    },
    /// The dense mass matrix estimate lost positive definiteness.
    #[error("chain {chain}: the adapted dense mass matrix is not positive definite after warmup iteration {iteration}; use `dense_mass: false` or more warmup")]
    NotPositiveDefinite {
        /// The chain.
        chain: usize,
        /// The warmup iteration whose window ended.
        iteration: usize,
    },
    /// A chain thread panicked (a bug in the model or the potential); the panic's message.
    #[error("chain {chain} panicked: {message}")]
    ChainPanicked {
        /// The chain.
        chain: usize,
        /// The panic's message.
        message: String,
    },
    /// A user potential returned a gradient or value of the wrong length.
    #[error("the potential has dimension {expected}, but {what} has length {found}")]
    Dimension {
        /// The potential's dimension.
        expected: usize,
        /// What was given.
        what: &'static str,
        /// Its length.
        found: usize,
    },
    /// The draws could not be summarized (what the diagnostics module reported).
    #[error("summary of the draws: {reason}")]
    Diagnostics {
        /// The diagnostics' error message.
        reason: String,
    },
    /// Samples were asked for before [`Mcmc::run`](crate::infer::mcmc::Mcmc::run).
    #[error("no samples yet: call `run` first")]
    NotRun,
}
