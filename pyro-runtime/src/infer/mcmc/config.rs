//! The options of an MCMC run (NumPyro's `MCMC` and `NUTS` arguments).

use crate::error::McmcError;

/// How the chains of a run are spread over threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ChainMethod {
    /// One thread per chain, at most `threads` (0: one per core) at a time (NumPyro's
    /// `"parallel"`).
    #[default]
    Parallel,
    /// All chains one after another on the calling thread (NumPyro's `"sequential"`).
    Sequential,
}

/// What the diagonal mass matrix is estimated from in each adaptation window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MassAdaptation {
    /// The variances of the draws, regularized as Stan does (Stan's and NumPyro's way).
    #[default]
    Draws,
    /// `sqrt(Var[draws] / Var[gradients])` per coordinate, as nuts-rs does (exact for a
    /// Gaussian target with diagonal covariance, and less noisy from few draws). Diagonal
    /// mass only.
    DrawsAndGradients,
}

/// How each chain's initial point is chosen, in unconstrained space.
#[derive(Debug, Clone)]
pub enum InitStrategy {
    /// Every coordinate uniform in `(-radius, radius)` (NumPyro's `init_to_uniform`, radius 2),
    /// retried up to 100 times while the potential or its gradient is not finite.
    Uniform {
        /// Half the width of the interval.
        radius: f64,
    },
    /// This unconstrained point for every chain.
    Values(Vec<f64>),
    /// Each latent site of a model initialized as an autoguide would be (SVI's strategies:
    /// `init_to_feasible`, `init_to_median`, `init_to_mean`, `init_to_sample`,
    /// `init_to_value`), then mapped to unconstrained space; strategies that draw are
    /// retried up to 100 times. Models only (a `Potential` has no sites).
    Sites(crate::infer::autoguide::InitLoc<dfdx::prelude::Cpu>),
}

impl Default for InitStrategy {
    fn default() -> Self {
        InitStrategy::Uniform { radius: 2.0 }
    }
}

/// The options of [`Mcmc`](super::Mcmc), with NumPyro's and Stan's defaults.
///
/// ```
/// use pyro::infer::mcmc::McmcConfig;
/// let c = McmcConfig { num_warmup: 500, num_samples: 500, num_chains: 4, ..Default::default() };
/// assert_eq!(c.max_tree_depth, 10);
/// assert_eq!(c.target_accept_prob, 0.8);
/// ```
#[derive(Debug, Clone)]
pub struct McmcConfig {
    /// Warmup (adaptation) iterations per chain, discarded.
    pub num_warmup: usize,
    /// Draws kept per chain (at least 1).
    pub num_samples: usize,
    /// Number of chains.
    pub num_chains: usize,
    /// Seed of the run: chain `c` draws from its own stream derived from `(seed, c)`, so the
    /// draws do not depend on the number of threads or the chain method.
    pub seed: u64,
    /// Adapt a dense mass matrix (the full covariance) instead of a diagonal one.
    pub dense_mass: bool,
    /// Blocks of latent sites that share a dense mass matrix, the other coordinates getting a
    /// diagonal one (NumPyro's `dense_mass=[("a", "b")]`); ignored with `dense_mass: true`.
    pub dense_blocks: Vec<Vec<String>>,
    /// Adapt the mass matrix during warmup (Stan's windows); otherwise it stays the identity.
    pub adapt_mass_matrix: bool,
    /// What the diagonal mass matrix is estimated from.
    pub mass_adaptation: MassAdaptation,
    /// Adapt the step size by dual averaging during warmup.
    pub adapt_step_size: bool,
    /// Initial step size (then searched for a reasonable one, as Stan and NumPyro do).
    pub step_size: f64,
    /// NUTS: maximum tree depth while sampling (at most `2^depth` leapfrog steps).
    pub max_tree_depth: usize,
    /// NUTS: maximum tree depth during warmup (`None`: `max_tree_depth`).
    pub max_tree_depth_warmup: Option<usize>,
    /// Mean acceptance probability the step size adaptation aims at.
    pub target_accept_prob: f64,
    /// Energy error above which a transition is divergent.
    pub max_delta_energy: f64,
    /// How chains are spread over threads.
    pub chain_method: ChainMethod,
    /// Most threads at a time for [`ChainMethod::Parallel`] (0: one per core).
    pub threads: usize,
    /// Initial points.
    pub init: InitStrategy,
    /// Show a progress bar per chain on stderr (only when stderr is a terminal): phase, draws,
    /// step size, tree depth, divergences.
    pub progress_bar: bool,
}

impl Default for McmcConfig {
    fn default() -> Self {
        McmcConfig {
            num_warmup: 1000,
            num_samples: 1000,
            num_chains: 1,
            seed: 0,
            dense_mass: false,
            dense_blocks: Vec::new(),
            adapt_mass_matrix: true,
            mass_adaptation: MassAdaptation::Draws,
            adapt_step_size: true,
            step_size: 1.0,
            max_tree_depth: 10,
            max_tree_depth_warmup: None,
            target_accept_prob: 0.8,
            max_delta_energy: 1000.0,
            chain_method: ChainMethod::Parallel,
            threads: 0,
            init: InitStrategy::default(),
            progress_bar: true,
        }
    }
}

fn invalid(option: &'static str, reason: impl Into<String>) -> McmcError {
    McmcError::InvalidConfig {
        option,
        reason: reason.into(),
    }
}

impl McmcConfig {
    /// Checks every option, naming the first one out of range.
    pub fn validate(&self) -> Result<(), McmcError> {
        if self.num_samples == 0 {
            return Err(invalid("num_samples", "must be at least 1"));
        }
        if self.num_chains == 0 {
            return Err(invalid("num_chains", "must be at least 1"));
        }
        if !(self.step_size.is_finite() && self.step_size > 0.0) {
            return Err(invalid(
                "step_size",
                format!("must be positive and finite, got {}", self.step_size),
            ));
        }
        if !(self.target_accept_prob > 0.0 && self.target_accept_prob < 1.0) {
            return Err(invalid(
                "target_accept_prob",
                format!("must be in (0, 1), got {}", self.target_accept_prob),
            ));
        }
        if self.max_delta_energy.is_nan() || self.max_delta_energy <= 0.0 {
            return Err(invalid(
                "max_delta_energy",
                format!("must be positive, got {}", self.max_delta_energy),
            ));
        }
        for (option, depth) in [
            ("max_tree_depth", Some(self.max_tree_depth)),
            ("max_tree_depth_warmup", self.max_tree_depth_warmup),
        ] {
            if let Some(d) = depth {
                if d == 0 || d > 30 {
                    return Err(invalid(option, format!("must be in 1..=30, got {d}")));
                }
            }
        }
        if self.dense_mass && self.mass_adaptation == MassAdaptation::DrawsAndGradients {
            return Err(invalid(
                "mass_adaptation",
                "DrawsAndGradients estimates a diagonal mass matrix; use it with dense_mass: false",
            ));
        }
        if let InitStrategy::Uniform { radius } = self.init {
            if !(radius.is_finite() && radius >= 0.0) {
                return Err(invalid(
                    "init",
                    format!("the radius must be finite and non-negative, got {radius}"),
                ));
            }
        }
        Ok(())
    }

    /// The tree depth limit in warmup or sampling.
    pub(crate) fn tree_depth(&self, warmup: bool) -> usize {
        if warmup {
            self.max_tree_depth_warmup.unwrap_or(self.max_tree_depth)
        } else {
            self.max_tree_depth
        }
    }
}
