//! One chain: initialization, warmup with adaptation, then sampling.

use rand::rngs::StdRng;
use rand::Rng;

use super::adaptation::{DualAveraging, Windows};
use super::config::{InitStrategy, MassAdaptation, McmcConfig};
use super::hmc::{self, HmcSteps};
use super::integrator::{leapfrog, PhasePoint};
use super::mass_matrix::{InverseMassMatrix, MassEstimator, MassStructure};
use super::nuts::{self, TransitionStats};
use super::potential::{ChainPotential, Potential};
use super::progress::ChainBar;
use crate::error::McmcError;
use crate::error::PyroResult;
use crate::infer::autoguide::InitLoc;

/// The transition kernel of a run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Algorithm {
    /// The No-U-Turn sampler.
    Nuts,
    /// Static HMC with a fixed trajectory.
    Hmc(HmcSteps),
}

/// What a chain hands back.
#[derive(Debug, Clone)]
pub struct ChainOutput {
    /// Recorded values, `num_samples` rows of the layout's flat length.
    pub draws: Vec<f32>,
    /// Per-draw statistics of the sampling phase.
    pub stats: Vec<TransitionStats>,
    /// Divergent transitions during warmup.
    pub warmup_divergences: usize,
    /// Leapfrog steps during warmup.
    pub warmup_steps: usize,
    /// The adapted step size.
    pub step_size: f64,
    /// The adapted inverse mass matrix.
    pub inverse_mass_matrix: InverseMassMatrix,
}

const INIT_TRIES: usize = 100;

/// A finite starting point: uniform draws in `(-radius, radius)`, retried.
fn initialize<P: ChainPotential + ?Sized>(
    pot: &mut P,
    init: &InitStrategy,
    chain: usize,
    rng: &mut StdRng,
) -> PyroResult<PhasePoint> {
    let n = pot.dim();
    let mut reason = String::new();
    let tries = match init {
        InitStrategy::Values(_) => 1,
        InitStrategy::Uniform { .. } => INIT_TRIES,
        InitStrategy::Sites(loc) => match loc {
            InitLoc::Median { .. } | InitLoc::Sample | InitLoc::Uniform { .. } => INIT_TRIES,
            _ => 1,
        },
    };
    for _ in 0..tries {
        let q: Vec<f64> = match init {
            InitStrategy::Values(v) => {
                if v.len() != n {
                    return Err(McmcError::Dimension {
                        expected: n,
                        what: "the initial values",
                        found: v.len(),
                    }
                    .into());
                }
                v.clone()
            }
            InitStrategy::Uniform { radius } => (0..n)
                .map(|_| {
                    if *radius > 0.0 {
                        rng.gen_range(-radius..*radius)
                    } else {
                        0.0
                    }
                })
                .collect(),
            InitStrategy::Sites(loc) => {
                pot.initial_point(loc)?
                    .ok_or_else(|| McmcError::InvalidConfig {
                        option: "init",
                        reason: "InitStrategy::Sites needs a model; a potential has no sites"
                            .into(),
                    })?
            }
        };
        let z = PhasePoint::at(pot, q)?;
        if !z.potential.is_finite() {
            reason = format!("potential energy {}", z.potential);
        } else if let Some(i) = z.grad.iter().position(|g| !g.is_finite()) {
            reason = format!("gradient {} at coordinate {i}", z.grad[i]);
        } else {
            return Ok(z);
        }
    }
    Err(McmcError::InitFailed {
        chain,
        tries,
        reason,
    }
    .into())
}

/// Stan's step size search: doubles or halves `eps` until the acceptance of one leapfrog
/// step from `z` (with a fresh momentum) crosses 0.8.
fn find_reasonable_step_size<P: Potential + ?Sized>(
    z: &PhasePoint,
    pot: &mut P,
    metric: &InverseMassMatrix,
    mut eps: f64,
    chain: usize,
    rng: &mut StdRng,
) -> PyroResult<f64> {
    let target = 0.8f64.ln();
    let mut trial = z.clone();
    let mut delta = |eps: f64, trial: &mut PhasePoint, rng: &mut StdRng| -> PyroResult<f64> {
        trial.assign(z);
        trial.refresh(metric, rng);
        let h0 = trial.energy();
        leapfrog(trial, eps, metric, pot)?;
        Ok(h0 - trial.energy())
    };
    let direction = if delta(eps, &mut trial, rng)? > target {
        1
    } else {
        -1
    };
    loop {
        let d = delta(eps, &mut trial, rng)?;
        // (NaN counts as crossing, as in Stan.)
        let above = d > target;
        let below = d < target;
        if (direction == 1 && !above) || (direction == -1 && !below) {
            return Ok(eps);
        }
        eps = if direction == 1 { 2.0 * eps } else { 0.5 * eps };
        if eps > 1e7 || eps == 0.0 {
            return Err(McmcError::StepSize {
                chain,
                step_size: eps,
            }
            .into());
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn step<P: Potential + ?Sized>(
    alg: Algorithm,
    z: &mut PhasePoint,
    pot: &mut P,
    metric: &InverseMassMatrix,
    eps: f64,
    depth: usize,
    cfg: &McmcConfig,
    rng: &mut StdRng,
) -> PyroResult<TransitionStats> {
    match alg {
        Algorithm::Nuts => nuts::transition(z, pot, metric, eps, depth, cfg.max_delta_energy, rng),
        Algorithm::Hmc(steps) => {
            hmc::transition(z, pot, metric, eps, steps, cfg.max_delta_energy, rng)
        }
    }
}

/// Runs one chain of `cfg` on `pot` with its own generator, showing its progress on `bar`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn run_chain(
    pot: &mut dyn ChainPotential,
    cfg: &McmcConfig,
    structure: &MassStructure,
    alg: Algorithm,
    chain: usize,
    rng: &mut StdRng,
    record_len: usize,
    progress: &ChainBar,
) -> PyroResult<ChainOutput> {
    let n = pot.dim();
    if structure.dim() != n {
        return Err(McmcError::Dimension {
            expected: n,
            what: "the mass matrix structure",
            found: structure.dim(),
        }
        .into());
    }
    let mut z = initialize(pot, &cfg.init, chain, rng)?;
    let mut metric = structure.identity();
    let mut eps = cfg.step_size;
    if cfg.adapt_step_size {
        eps = find_reasonable_step_size(&z, pot, &metric, eps, chain, rng)?;
    }
    let mut da = DualAveraging::new(eps, cfg.target_accept_prob);
    let mut windows = Windows::new(cfg.num_warmup);
    let with_grads = cfg.mass_adaptation == MassAdaptation::DrawsAndGradients;
    let mut estimator = MassEstimator::new(structure.clone(), with_grads);
    let (mut warmup_divergences, mut warmup_steps) = (0, 0);
    for i in 0..cfg.num_warmup {
        let s = step(
            alg,
            &mut z,
            pot,
            &metric,
            eps,
            cfg.tree_depth(true),
            cfg,
            rng,
        )?;
        warmup_divergences += s.diverging as usize;
        warmup_steps += s.num_steps;
        if cfg.adapt_step_size {
            eps = da.update(s.accept_prob);
        }
        if cfg.adapt_mass_matrix {
            let (add, end) = windows.step();
            if add {
                estimator.add(&z.q, &z.grad);
            }
            if end {
                metric =
                    estimator
                        .estimate_and_restart()
                        .ok_or(McmcError::NotPositiveDefinite {
                            chain,
                            iteration: i,
                        })?;
                if cfg.adapt_step_size {
                    eps = find_reasonable_step_size(&z, pot, &metric, eps, chain, rng)?;
                    da.restart(eps);
                }
            }
        }
        progress.tick(i, true, &s, warmup_divergences);
    }
    if cfg.adapt_step_size && cfg.num_warmup > 0 {
        eps = da.final_step_size();
    }
    let mut draws = Vec::with_capacity(cfg.num_samples * record_len);
    let mut stats = Vec::with_capacity(cfg.num_samples);
    let mut divergences = 0;
    for i in 0..cfg.num_samples {
        let s = step(
            alg,
            &mut z,
            pot,
            &metric,
            eps,
            cfg.tree_depth(false),
            cfg,
            rng,
        )?;
        divergences += s.diverging as usize;
        pot.record(&z.q, &mut draws)?;
        stats.push(s);
        progress.tick(cfg.num_warmup + i, false, &s, divergences);
    }
    if draws.len() != cfg.num_samples * record_len {
        return Err(McmcError::SiteChanged {
            site: "(all sites)".into(),
            reason: format!(
                "recorded {} values for {} draws of {} values",
                draws.len(),
                cfg.num_samples,
                record_len
            ),
        }
        .into());
    }
    progress.finish();
    Ok(ChainOutput {
        draws,
        stats,
        warmup_divergences,
        warmup_steps,
        step_size: eps,
        inverse_mass_matrix: metric,
    })
}
