//! NUTS on the rugged regression of Pyro's intro tutorial ("Bayesian Regression"): 1000
//! warmup iterations and 1000 draws, with one chain and then four, printing the minimum
//! bulk effective sample size, the wall time (warmup included), ESS per second, the
//! leapfrog steps and the summary table.
//!
//! Run with `cargo run --release --example mcmc_rugged [seed] [--grad]` (`--grad`: the
//! diagonal mass matrix estimated from draws and gradients, as nuts-rs does). NumPyro's figures for the
//! same run come from `../shared/anchors/rugged_nuts_numpyro.py`, whose `min_ess` is NumPyro's
//! `effective_sample_size` (not rank-normalized); this example prints both that kind
//! (`min_ess_mean`, the diagnostics' `ess_mean`) and the bulk ESS its summary shows.

use std::time::Instant;

use pyro::infer::mcmc::diagnostics::ess_mean;
use pyro::infer::mcmc::{MassAdaptation, Mcmc, McmcConfig, Nuts};
use pyro::infer::Predictive;
use pyro::PyroResult;

#[path = "shared/rugged.rs"]
mod rugged;

const SITES: [&str; 5] = ["a", "bA", "bR", "bAR", "sigma"];

fn main() -> PyroResult<()> {
    let data = match rugged::load(rugged::data_path()) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    let args = data.args();
    let seed = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    // `--grad`: the diagonal mass matrix from draws and gradients (nuts-rs's estimate).
    let mass_adaptation = if std::env::args().any(|a| a == "--grad") {
        MassAdaptation::DrawsAndGradients
    } else {
        MassAdaptation::Draws
    };
    for chains in [1, 4] {
        let config = McmcConfig {
            num_warmup: 1000,
            num_samples: 1000,
            num_chains: chains,
            seed,
            mass_adaptation,
            progress_bar: false,
            ..Default::default()
        };
        let mut mcmc = Mcmc::new(Nuts::new(rugged::model), config);
        let start = Instant::now();
        mcmc.run(args)?;
        let wall = start.elapsed().as_secs_f64();
        let rows = mcmc.diagnostics()?;
        let min_ess = rows
            .iter()
            .filter(|r| SITES.contains(&r.name.as_str()))
            .flat_map(|r| r.n_eff.iter().copied())
            .fold(f64::INFINITY, f64::min);
        let min_ess_mean = mcmc
            .site_draws()?
            .iter()
            .filter(|s| SITES.contains(&s.name()))
            .map(|s| ess_mean(&s.element(0)))
            .fold(f64::INFINITY, f64::min);
        let steps = mcmc.num_leapfrog_steps()?;
        let warm: usize = steps.iter().map(|s| s.0).sum();
        let samp: usize = steps.iter().map(|s| s.1).sum();
        let step_sizes: Vec<String> = mcmc
            .step_sizes()?
            .iter()
            .map(|s| format!("{s:.3}"))
            .collect();
        println!(
            "pyro-rs nuts: chains={chains} warmup=1000 samples=1000 wall_s={wall:.3} \
             min_ess={min_ess:.0} min_ess_mean={min_ess_mean:.0} ess_per_s={:.0} leapfrog_steps warmup={warm} sampling={samp} \
             ess_per_step={:.4} us_per_step={:.2} step_size=[{}]",
            min_ess / wall,
            min_ess / samp as f64,
            1e6 * wall / (warm + samp) as f64 * chains.min(threads()) as f64,
            step_sizes.join(", ")
        );
        println!("{}", mcmc.summary()?);
        if chains == 4 {
            // Posterior predictive means of the first nations, from the draws.
            let pred = Predictive::with_samples(rugged::model, mcmc.get_samples()?)?.call((
                &data.cont_africa,
                &data.rugged,
                None,
            ))?;
            let obs = pred["obs"].to_vec();
            let n = data.log_gdp.shape().0;
            let k = obs.len() / n;
            let mean0 = (0..k).map(|i| obs[i * n]).sum::<f32>() / k as f32;
            println!("posterior predictive mean of obs[0]: {mean0:.3} over {k} draws");
        }
    }
    Ok(())
}

fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
