//! The samplers a run uses: [`Nuts`] and [`Hmc`] (Pyro's and NumPyro's names), on a model
//! or on a user [`Potential`](super::Potential).

use super::chain::Algorithm;
use super::hmc::HmcSteps;
use super::potential::{ModelTarget, PotentialTarget};

/// A transition kernel with its target, handed to [`Mcmc::new`](super::Mcmc::new).
pub trait Kernel {
    /// The model or potential.
    type Target;
    /// The target.
    fn target(&self) -> &Self::Target;
    /// The transition.
    fn algorithm(&self) -> Algorithm;
}

/// The No-U-Turn sampler (Hoffman & Gelman 2014) with multinomial sampling and Stan's
/// adaptation; its options (tree depth, target acceptance, dense mass) are in
/// [`McmcConfig`](super::McmcConfig).
///
/// ```
/// use pyro::prelude::*;
/// use pyro::infer::mcmc::{Mcmc, McmcConfig, Nuts};
/// let model = || pyro::sample("x", Normal::new(1.0, 2.0));
/// let config = McmcConfig { num_warmup: 100, num_samples: 100, progress_bar: false, ..Default::default() };
/// let mut mcmc = Mcmc::new(Nuts::new(model), config);
/// mcmc.run(()).unwrap();
/// assert_eq!(mcmc.get_samples().unwrap()["x"].shape(), &[100]);
/// ```
#[derive(Clone)]
pub struct Nuts<T> {
    target: T,
}

impl<M> Nuts<ModelTarget<M>> {
    /// NUTS on a model (a `#[model]` function or any `Fn(args) -> PyroResult<_>`).
    pub fn new(model: M) -> Self {
        Nuts {
            target: ModelTarget(model),
        }
    }
}

impl<P> Nuts<PotentialTarget<P>> {
    /// NUTS on a potential energy over a flat vector (NumPyro's `NUTS(potential_fn=...)`);
    /// the draws are the site `"z"`.
    pub fn from_potential(potential: P) -> Self {
        Nuts {
            target: PotentialTarget(potential),
        }
    }
}

impl<T> Kernel for Nuts<T> {
    type Target = T;
    fn target(&self) -> &T {
        &self.target
    }
    fn algorithm(&self) -> Algorithm {
        Algorithm::Nuts
    }
}

/// Static Hamiltonian Monte Carlo: `num_steps` leapfrog steps per transition, or as many as
/// `trajectory_length / step_size` (NumPyro's default, a length of 2π), then a Metropolis
/// correction; the step size and mass matrix adapt as for NUTS.
///
/// ```
/// use pyro::prelude::*;
/// use pyro::infer::mcmc::{Hmc, Mcmc, McmcConfig};
/// let model = || pyro::sample("x", Normal::new(0.0, 1.0));
/// let config = McmcConfig { num_warmup: 100, num_samples: 50, progress_bar: false, ..Default::default() };
/// let mut mcmc = Mcmc::new(Hmc::new(model).num_steps(5), config);
/// mcmc.run(()).unwrap();
/// assert_eq!(mcmc.get_samples().unwrap()["x"].shape(), &[50]);
/// ```
#[derive(Clone)]
pub struct Hmc<T> {
    target: T,
    steps: HmcSteps,
}

impl<M> Hmc<ModelTarget<M>> {
    /// HMC on a model, with a trajectory length of 2π.
    pub fn new(model: M) -> Self {
        Hmc {
            target: ModelTarget(model),
            steps: HmcSteps::TrajectoryLength(2.0 * std::f64::consts::PI),
        }
    }
}

impl<P> Hmc<PotentialTarget<P>> {
    /// HMC on a potential energy over a flat vector; the draws are the site `"z"`.
    pub fn from_potential(potential: P) -> Self {
        Hmc {
            target: PotentialTarget(potential),
            steps: HmcSteps::TrajectoryLength(2.0 * std::f64::consts::PI),
        }
    }
}

impl<T> Hmc<T> {
    /// A fixed number of leapfrog steps per transition (at least 1).
    pub fn num_steps(mut self, n: usize) -> Self {
        self.steps = HmcSteps::NumSteps(n.max(1));
        self
    }

    /// A fixed trajectory length: `ceil(length / step_size)` steps.
    pub fn trajectory_length(mut self, length: f64) -> Self {
        self.steps = HmcSteps::TrajectoryLength(length);
        self
    }
}

impl<T> Kernel for Hmc<T> {
    type Target = T;
    fn target(&self) -> &T {
        &self.target
    }
    fn algorithm(&self) -> Algorithm {
        Algorithm::Hmc(self.steps)
    }
}
