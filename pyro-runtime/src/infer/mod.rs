//! Inference: ELBOs, SVI, autoguides and Predictive (Pyro's `pyro.infer`).

pub mod autoguide;
mod check;
mod elbo;
mod predictive;
mod svi;

pub use check::check_model_guide;
pub use elbo::{importance_traces, Elbo, ElboEstimate, TraceElbo, TraceMeanFieldElbo};
pub use predictive::{NoGuide, Predictive};
pub use svi::Svi;
