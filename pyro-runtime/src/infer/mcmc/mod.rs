//! Markov chain Monte Carlo: HMC and NUTS with Stan's adaptation (Pyro's and NumPyro's
//! `pyro.infer.mcmc`).
//!
//! A model's latent sites are sampled together in unconstrained space (each through
//! `biject_to` of its support, with the log-Jacobian); the sampler state (position,
//! momentum, energy, adaptation) is `f64`. The samplers also run on a user's log density
//! over a flat vector ([`Potential`], NumPyro's `potential_fn`).
//!
//! ```
//! use pyro::prelude::*;
//! use pyro::infer::mcmc::{Mcmc, McmcConfig, Nuts};
//! // A Beta(2, 2) prior on a coin's bias and 7 heads in 10 flips: Beta(9, 5) posterior.
//! let model = || {
//!     let p = pyro::sample("p", Beta::new(2.0, 2.0))?;
//!     for (i, y) in [1.0f32, 1., 1., 0., 1., 1., 0., 1., 0., 1.].into_iter().enumerate() {
//!         pyro::observe(&format!("y{i}"), Bernoulli::new(&p), DynTensor::scalar(y))?;
//!     }
//!     Ok(())
//! };
//! let config = McmcConfig { num_warmup: 300, num_samples: 500, progress_bar: false, ..Default::default() };
//! let mut mcmc = Mcmc::new(Nuts::new(model), config);
//! mcmc.run(()).unwrap();
//! let p = mcmc.get_samples().unwrap()["p"].to_vec();
//! let mean = p.iter().sum::<f32>() / p.len() as f32;
//! assert!((mean - 9.0 / 14.0).abs() < 0.05, "{mean}");
//! assert!(p.iter().all(|&x| x > 0.0 && x < 1.0));
//! ```

mod adaptation;
mod chain;
mod config;
pub mod diagnostics;
mod hmc;
mod integrator;
mod kernel;
mod log_joint;
mod mass_matrix;
#[allow(clippy::module_inception)]
mod mcmc;
mod nuts;
mod potential;
mod progress;

pub use crate::error::McmcError;
pub use adaptation::{DualAveraging, Welford, Windows};
pub use chain::Algorithm;
pub use config::{ChainMethod, InitStrategy, MassAdaptation, McmcConfig};
pub use hmc::{transition as hmc_transition, HmcSteps};
pub use integrator::{leapfrog, PhasePoint};
pub use kernel::{Hmc, Kernel, Nuts};
pub use mass_matrix::{InverseMassMatrix, MassEstimator, MassStructure};
pub use mcmc::Mcmc;
pub use nuts::{transition as nuts_transition, TransitionStats};
pub use potential::{
    ChainPotential, FnPotential, Layout, ModelTarget, ParamSnapshot, Potential, PotentialTarget,
    RecordedSite, SiteRole, Target,
};
