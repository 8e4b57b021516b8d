//! One static HMC transition: a fixed number of leapfrog steps and a Metropolis correction.

use rand::Rng;

use super::integrator::{leapfrog, PhasePoint};
use super::mass_matrix::InverseMassMatrix;
use super::nuts::TransitionStats;
use super::potential::Potential;
use crate::error::PyroResult;

/// How long an HMC trajectory is.
///
/// ```
/// use pyro::infer::mcmc::HmcSteps;
/// assert_eq!(HmcSteps::TrajectoryLength(1.0).steps(0.3), 4);
/// assert_eq!(HmcSteps::NumSteps(7).steps(0.3), 7);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum HmcSteps {
    /// This many leapfrog steps.
    NumSteps(usize),
    /// `ceil(length / step_size)` steps (NumPyro's `trajectory_length`, default 2π), at
    /// least 1 and at most 65,536.
    TrajectoryLength(f64),
}

impl HmcSteps {
    /// The number of steps at step size `eps`.
    pub fn steps(&self, eps: f64) -> usize {
        match *self {
            HmcSteps::NumSteps(n) => n.max(1),
            HmcSteps::TrajectoryLength(l) => {
                let k = (l / eps).ceil();
                if k.is_finite() {
                    (k as usize).clamp(1, 1 << 16)
                } else {
                    1
                }
            }
        }
    }
}

/// One HMC transition from `z`, leaving the new state in `z`.
///
/// ```
/// use pyro::infer::mcmc::{hmc_transition, FnPotential, HmcSteps, InverseMassMatrix, PhasePoint};
/// use rand::SeedableRng;
/// let mut pot = FnPotential::new(1, |q: &[f64], g: &mut [f64]| { g[0] = q[0]; 0.5 * q[0] * q[0] });
/// let metric = InverseMassMatrix::Diagonal(vec![1.0]);
/// let mut z = PhasePoint::at(&mut pot, vec![1.0]).unwrap();
/// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
/// let s = hmc_transition(&mut z, &mut pot, &metric, 0.2, HmcSteps::NumSteps(8), 1000.0, &mut rng).unwrap();
/// assert_eq!(s.num_steps, 8);
/// assert!(s.accept_prob > 0.9);
/// ```
pub fn transition<P: Potential + ?Sized, R: Rng>(
    z: &mut PhasePoint,
    pot: &mut P,
    metric: &InverseMassMatrix,
    eps: f64,
    steps: HmcSteps,
    max_delta_energy: f64,
    rng: &mut R,
) -> PyroResult<TransitionStats> {
    z.refresh(metric, rng);
    let h0 = z.energy();
    let mut prop = z.clone();
    let n = steps.steps(eps);
    let mut diverging = false;
    let mut taken = 0;
    for _ in 0..n {
        leapfrog(&mut prop, eps, metric, pot)?;
        taken += 1;
        let h = prop.energy();
        if h - h0 > max_delta_energy || h.is_nan() {
            diverging = true;
            break;
        }
    }
    let h1 = prop.energy();
    let delta = h1 - h0;
    let accept_prob = if diverging || delta.is_nan() {
        0.0
    } else {
        (-delta).exp().min(1.0)
    };
    if !diverging && rng.gen::<f64>() < accept_prob {
        z.assign(&prop);
    }
    Ok(TransitionStats {
        step_size: eps,
        tree_depth: 0,
        num_steps: taken,
        diverging,
        energy: z.energy(),
        accept_prob,
    })
}
