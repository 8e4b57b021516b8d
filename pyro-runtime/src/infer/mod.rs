//! Inference: ELBOs, SVI, autoguides, Predictive and posterior summaries (Pyro's `pyro.infer`).

pub mod autoguide;
mod check;
mod elbo;
pub mod mcmc;
mod predictive;
mod summary;
mod svi;

/// The run-time model/guide agreement check (same wording as the `#[guide]` macro's).
pub use check::check_model_guide;
pub use elbo::{importance_traces, Elbo, ElboEstimate, TraceElbo, TraceMeanFieldElbo};
pub use mcmc::{Hmc, Mcmc, McmcConfig, Nuts};
pub use predictive::{NoGuide, Predictive};
pub use summary::{SiteSummary, Summary, SummaryError};
pub use svi::Svi;
