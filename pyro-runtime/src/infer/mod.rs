//! Inference: ELBOs, SVI, autoguides and Predictive (Pyro's `pyro.infer`).

pub mod autoguide;
mod elbo;
mod predictive;
mod svi;

/// The run-time model/guide agreement check (same wording as the `#[guide]` macro's).
pub use crate::dsl::check_model_guide;
pub use elbo::{importance_traces, Elbo, ElboEstimate, TraceElbo, TraceMeanFieldElbo};
pub use predictive::{NoGuide, Predictive};
pub use svi::Svi;
