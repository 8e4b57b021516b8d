//! The MCMC driver (Pyro's and NumPyro's `MCMC`): runs the chains, on threads or one after
//! another, and hands out the draws, the per-draw statistics and a summary.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use rand::rngs::StdRng;
use rand::SeedableRng;

use super::chain::{run_chain, Algorithm, ChainOutput};
use super::config::{ChainMethod, McmcConfig};
use super::diagnostics::{summarize, summary_table, SiteDraws, SiteSummary};
use super::hmc::HmcSteps;
use super::kernel::Kernel;
use super::mass_matrix::MassStructure;
use super::nuts::TransitionStats;
use super::potential::{Layout, ParamSnapshot, Target};
use crate::error::McmcError;
use crate::error::{PyroError, PyroResult};
use crate::tensor::DynTensor;
use dfdx::prelude::Cpu;

/// Runs MCMC chains with a kernel ([`Nuts`](super::Nuts) or [`Hmc`](super::Hmc)).
///
/// ```
/// use pyro::prelude::*;
/// use pyro::infer::mcmc::{Mcmc, McmcConfig, Nuts};
/// // Normal-normal: x ~ N(mu, 1) with mu ~ N(0, 1); one observation x = 2: mu | x ~ N(1, 1/2).
/// let model = |x: f32| {
///     let mu = pyro::sample("mu", Normal::new(0.0, 1.0))?;
///     pyro::observe("x", Normal::new(&mu, 1.0), DynTensor::scalar(x))?;
///     Ok(())
/// };
/// let config = McmcConfig { num_warmup: 200, num_samples: 400, num_chains: 2, progress_bar: false, ..Default::default() };
/// let mut mcmc = Mcmc::new(Nuts::new(model), config);
/// mcmc.run((2.0,)).unwrap();
/// let mu = mcmc.get_samples().unwrap()["mu"].to_vec();
/// assert_eq!(mu.len(), 800);
/// let mean = mu.iter().sum::<f32>() / 800.0;
/// assert!((mean - 1.0).abs() < 0.2, "{mean}");
/// println!("{}", mcmc.summary().unwrap());
/// ```
pub struct Mcmc<K> {
    kernel: K,
    config: McmcConfig,
    result: Option<RunResult>,
}

struct RunResult {
    layout: Layout,
    chains: Vec<ChainOutput>,
}

/// The seed of chain `c`'s generator (SplitMix64 of the run's seed and the chain index), so
/// that every chain has its own stream whatever the threads.
fn chain_seed(seed: u64, chain: usize) -> u64 {
    let mut z = seed ^ (chain as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn panic_message(p: Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "(a panic without a message)".into()
    }
}

/// The blocks of the mass matrix: one dense or diagonal block, or `dense_blocks` (each a
/// dense block over its sites' coordinates) and a diagonal block over the rest.
fn mass_structure(cfg: &McmcConfig, layout: &Layout) -> PyroResult<MassStructure> {
    if cfg.dense_mass || cfg.dense_blocks.is_empty() {
        return Ok(MassStructure::uniform(layout.dim, cfg.dense_mass));
    }
    let mut taken = vec![false; layout.dim];
    let mut blocks = Vec::new();
    for block in &cfg.dense_blocks {
        let mut idx = Vec::new();
        for name in block {
            let (_, off, len) = layout
                .coordinates
                .iter()
                .find(|(n, _, _)| n == name)
                .ok_or_else(|| McmcError::InvalidConfig {
                    option: "dense_blocks",
                    reason: format!("`{name}` is not a latent site of the model"),
                })?;
            if taken[*off..off + len].iter().any(|&t| t) {
                return Err(McmcError::InvalidConfig {
                    option: "dense_blocks",
                    reason: format!("site `{name}` is in two blocks"),
                }
                .into());
            }
            taken[*off..off + len].fill(true);
            idx.extend(*off..off + len);
        }
        if !idx.is_empty() {
            blocks.push((idx, true));
        }
    }
    let rest: Vec<usize> = (0..layout.dim).filter(|&i| !taken[i]).collect();
    if !rest.is_empty() {
        blocks.push((rest, false));
    }
    Ok(MassStructure(blocks))
}

/// Restores the thread's generator and validation switch when a chain run on it ends.
struct ThreadState {
    rng: Option<StdRng>,
    validation: bool,
}

impl ThreadState {
    fn enter(seed: u64) -> Self {
        let rng = crate::rng::swap_rng(StdRng::seed_from_u64(seed));
        let validation = crate::is_validation_enabled();
        // Points along a trajectory may be far out; NumPyro does not validate there either.
        crate::enable_validation(false);
        ThreadState {
            rng: Some(rng),
            validation,
        }
    }
}

impl Drop for ThreadState {
    fn drop(&mut self) {
        if let Some(r) = self.rng.take() {
            crate::rng::swap_rng(r);
        }
        crate::enable_validation(self.validation);
    }
}

impl<K: Kernel> Mcmc<K> {
    /// A run of `kernel` with `config` (nothing runs until [`Mcmc::run`]).
    pub fn new(kernel: K, config: McmcConfig) -> Self {
        Mcmc {
            kernel,
            config,
            result: None,
        }
    }

    /// The options.
    pub fn config(&self) -> &McmcConfig {
        &self.config
    }

    /// Runs every chain on the model's arguments (`()` for a potential), replacing the draws
    /// of an earlier run.
    pub fn run<A>(&mut self, args: A) -> PyroResult<()>
    where
        K::Target: Target<A>,
        A: Clone + Send + Sync,
    {
        self.config.validate()?;
        if let Algorithm::Hmc(HmcSteps::TrajectoryLength(l)) = self.kernel.algorithm() {
            if !(l.is_finite() && l > 0.0) {
                return Err(McmcError::InvalidConfig {
                    option: "trajectory_length",
                    reason: format!("must be positive and finite, got {l}"),
                }
                .into());
            }
        }
        self.result = None;
        let target = self.kernel.target();
        let layout = target.layout(&args)?;
        let record_len: usize = layout.sites.iter().map(|s| s.numel()).sum();
        let structure = mass_structure(&self.config, &layout)?;
        let cfg = &self.config;
        let alg = self.kernel.algorithm();
        let bars = super::progress::Bars::new(cfg);
        let one = |c: usize, params: &ParamSnapshot| -> PyroResult<ChainOutput> {
            let bar = bars.chain(c);
            let seed = chain_seed(cfg.seed, c);
            let _state = ThreadState::enter(seed ^ 0x5DEE_CE66_D1CE_4E5B);
            let mut rng = StdRng::seed_from_u64(seed);
            target.with_potential(args.clone(), &layout, params, &mut |pot| {
                run_chain(pot, cfg, &structure, alg, c, &mut rng, record_len, &bar)
            })
        };
        let chains: Vec<PyroResult<ChainOutput>> = match cfg.chain_method {
            ChainMethod::Sequential => (0..cfg.num_chains)
                .map(|c| {
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        one(c, &ParamSnapshot::default())
                    }))
                    .unwrap_or_else(|p| {
                        Err(McmcError::ChainPanicked {
                            chain: c,
                            message: panic_message(p),
                        }
                        .into())
                    })
                })
                .collect(),
            ChainMethod::Parallel => {
                let params = ParamSnapshot::take()?;
                let threads = if cfg.threads == 0 {
                    std::thread::available_parallelism().map_or(1, |n| n.get())
                } else {
                    cfg.threads
                }
                .clamp(1, cfg.num_chains);
                let next = AtomicUsize::new(0);
                let slots: Mutex<Vec<Option<PyroResult<ChainOutput>>>> =
                    Mutex::new((0..cfg.num_chains).map(|_| None).collect());
                std::thread::scope(|s| {
                    for _ in 0..threads {
                        s.spawn(|| loop {
                            let c = next.fetch_add(1, Ordering::Relaxed);
                            if c >= cfg.num_chains {
                                break;
                            }
                            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                                one(c, &params)
                            }))
                            .unwrap_or_else(|p| {
                                Err(McmcError::ChainPanicked {
                                    chain: c,
                                    message: panic_message(p),
                                }
                                .into())
                            });
                            if let Ok(mut slots) = slots.lock() {
                                slots[c] = Some(r);
                            }
                        });
                    }
                });
                let slots = slots.into_inner().unwrap_or_else(|e| e.into_inner());
                slots
                    .into_iter()
                    .enumerate()
                    .map(|(c, r)| {
                        r.unwrap_or_else(|| {
                            Err(McmcError::ChainPanicked {
                                chain: c,
                                message: "the chain's thread ended without a result".into(),
                            }
                            .into())
                        })
                    })
                    .collect()
            }
        };
        let chains = chains.into_iter().collect::<PyroResult<Vec<_>>>()?;
        self.result = Some(RunResult { layout, chains });
        Ok(())
    }

    fn result(&self) -> PyroResult<&RunResult> {
        self.result
            .as_ref()
            .ok_or_else(|| PyroError::from(McmcError::NotRun))
    }

    /// The recorded sites (latent and deterministic) with their shapes.
    pub fn layout(&self) -> PyroResult<&Layout> {
        Ok(&self.result()?.layout)
    }

    /// The draws of every chain, site → `[chains * draws, ...site shape]` (chain after
    /// chain), in constrained space: what `Predictive::with_samples` takes.
    pub fn get_samples(&self) -> PyroResult<HashMap<String, DynTensor<Cpu>>> {
        self.samples(false)
    }

    /// The draws by chain, site → `[chains, draws, ...site shape]`.
    pub fn get_samples_by_chain(&self) -> PyroResult<HashMap<String, DynTensor<Cpu>>> {
        self.samples(true)
    }

    fn samples(&self, by_chain: bool) -> PyroResult<HashMap<String, DynTensor<Cpu>>> {
        let r = self.result()?;
        let mut out = HashMap::new();
        for (name, per_chain) in self.site_values(r) {
            let site = r
                .layout
                .sites
                .iter()
                .find(|s| s.name == name)
                .ok_or(McmcError::NotRun)?;
            let draws = per_chain
                .first()
                .map_or(0, |c| c.len() / site.numel().max(1));
            let mut shape = if by_chain {
                vec![per_chain.len(), draws]
            } else {
                vec![per_chain.len() * draws]
            };
            shape.extend_from_slice(&site.shape);
            let flat: Vec<f32> = per_chain.into_iter().flatten().collect();
            out.insert(name, DynTensor::from_vec(flat, &shape)?);
        }
        Ok(out)
    }

    /// Per site, per chain: the flat values of every draw.
    fn site_values(&self, r: &RunResult) -> Vec<(String, Vec<Vec<f32>>)> {
        let record_len: usize = r.layout.sites.iter().map(|s| s.numel()).sum();
        let mut out = Vec::new();
        let mut off = 0;
        for site in &r.layout.sites {
            let k = site.numel();
            let per_chain = r
                .chains
                .iter()
                .map(|c| {
                    c.draws
                        .chunks(record_len.max(1))
                        .flat_map(|row| row[off..off + k].iter().copied())
                        .collect()
                })
                .collect();
            out.push((site.name.clone(), per_chain));
            off += k;
        }
        out
    }

    /// Per chain, the statistics of each draw (step size, tree depth, leapfrog steps,
    /// divergence, energy, acceptance probability): NumPyro's extra fields.
    pub fn get_extra_fields(&self) -> PyroResult<Vec<&[TransitionStats]>> {
        Ok(self
            .result()?
            .chains
            .iter()
            .map(|c| c.stats.as_slice())
            .collect())
    }

    /// Divergent transitions after warmup, per chain.
    pub fn num_divergences(&self) -> PyroResult<Vec<usize>> {
        Ok(self
            .result()?
            .chains
            .iter()
            .map(|c| c.stats.iter().filter(|s| s.diverging).count())
            .collect())
    }

    /// Divergent transitions during warmup, per chain.
    pub fn num_warmup_divergences(&self) -> PyroResult<Vec<usize>> {
        Ok(self
            .result()?
            .chains
            .iter()
            .map(|c| c.warmup_divergences)
            .collect())
    }

    /// Leapfrog steps per chain: `(warmup, sampling)`.
    pub fn num_leapfrog_steps(&self) -> PyroResult<Vec<(usize, usize)>> {
        Ok(self
            .result()?
            .chains
            .iter()
            .map(|c| (c.warmup_steps, c.stats.iter().map(|s| s.num_steps).sum()))
            .collect())
    }

    /// The adapted step size of each chain.
    pub fn step_sizes(&self) -> PyroResult<Vec<f64>> {
        Ok(self.result()?.chains.iter().map(|c| c.step_size).collect())
    }

    /// The adapted inverse mass matrix of each chain.
    pub fn inverse_mass_matrices(&self) -> PyroResult<Vec<&super::InverseMassMatrix>> {
        Ok(self
            .result()?
            .chains
            .iter()
            .map(|c| &c.inverse_mass_matrix)
            .collect())
    }

    /// The draws of every recorded site for the diagnostics, sorted by site name (the
    /// samples come as a map, which has no order; NumPyro's dict is sorted too).
    pub fn site_draws(&self) -> PyroResult<Vec<SiteDraws>> {
        let r = self.result()?;
        let mut sites = self.site_values(r);
        sites.sort_by(|a, b| a.0.cmp(&b.0));
        let chains = r.chains.len();
        sites
            .into_iter()
            .map(|(name, per_chain)| {
                let shape = r
                    .layout
                    .sites
                    .iter()
                    .find(|s| s.name == name)
                    .map(|s| s.shape.clone())
                    .unwrap_or_default();
                let values = per_chain.into_iter().flatten().map(f64::from).collect();
                SiteDraws::new(name, shape, chains, values).map_err(|e| {
                    PyroError::from(McmcError::Diagnostics {
                        reason: e.to_string(),
                    })
                })
            })
            .collect()
    }

    /// Per-site statistics of the draws (mean, std, median, 90% HPDI, bulk and tail ESS,
    /// rank-normalized split R-hat, MCSE of the mean; see [`SiteSummary`]), sorted by name.
    pub fn diagnostics(&self) -> PyroResult<Vec<SiteSummary>> {
        summarize(&self.site_draws()?, 0.9).map_err(|e| {
            McmcError::Diagnostics {
                reason: e.to_string(),
            }
            .into()
        })
    }

    /// NumPyro's `print_summary` table: mean, std, median, the 90% HPDI (5% and 95%),
    /// bulk ESS and rank-normalized split R-hat per site and element, then the number of
    /// divergences after warmup.
    pub fn summary(&self) -> PyroResult<String> {
        let div: usize = self.num_divergences()?.iter().sum();
        Ok(summary_table(&self.site_draws()?, div))
    }
}
