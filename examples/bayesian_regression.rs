//! Pyro's introductory tutorial, "Bayesian Regression", on the rugged data set: how terrain
//! ruggedness relates to GDP per capita inside and outside Africa.
//!
//! 1. Maximum-likelihood linear regression with `param` sites (compared with OLS).
//! 2. The Bayesian model with a hand-written mean-field guide.
//! 3. The same model with `AutoNormal` and `AutoMultivariateNormal`.
//! 4. Posterior predictive 90% intervals.
//!
//! Run with `cargo run --release --example bayesian_regression`.
//!
//! Reference (Pyro's tutorial; NUTS gives the exact posterior): a 9.18±0.14, bA -1.83±0.21,
//! bR -0.18±0.08, bAR 0.34±0.12, sigma 0.95±0.05; OLS 9.223, -1.948, -0.203, 0.393.

use std::collections::HashMap;
use std::time::Instant;

use pyro::infer::autoguide::{AutoGuide, AutoMultivariateNormal, AutoNormal};
use pyro::infer::{Predictive, Summary, SummaryError, Svi, TraceElbo};
use pyro::optim::{Adam, AdamConfig};
use pyro::poutine::Program;
use pyro::PyroResult;

#[path = "shared/rugged.rs"]
mod rugged;

use pyro::prelude::DynTensor;
use rugged::{custom_guide, empty_guide, load, mle_model, model, ols, Dev};

type T = DynTensor<Dev>;

const SITES: [&str; 5] = ["a", "bA", "bR", "bAR", "sigma"];

/// Prints Pyro's posterior summary of the regression's sites (mean, std, median and the 90%
/// highest posterior density interval), leaving out the other sites of `draws`.
fn summary(title: &str, draws: &HashMap<String, T>) -> Result<(), SummaryError> {
    let sites = draws.iter().filter(|(k, _)| SITES.contains(&k.as_str()));
    println!("\n{title}\n{}", Summary::new(sites)?);
    Ok(())
}

/// Runs `steps` SVI steps, printing the loss every 100 and the time per step: the median
/// over blocks of 100 steps (robust to a busy machine), and the mean over all steps, the
/// first one (which traces the model to set the guide up) included.
fn train<A: Clone, M, G>(
    svi: &mut Svi<M, G, Adam, TraceElbo>,
    args: A,
    steps: usize,
) -> PyroResult<()>
where
    M: Program<A>,
    G: Program<A>,
{
    const BLOCK: usize = 100;
    let mut blocks = Vec::new();
    let mut total = 0.0;
    for first in (0..steps).step_by(BLOCK) {
        let n = BLOCK.min(steps - first);
        let start = Instant::now();
        let mut losses = Vec::with_capacity(n);
        for _ in 0..n {
            losses.push(svi.step(args.clone())?);
        }
        let secs = start.elapsed().as_secs_f64();
        total += secs;
        blocks.push(secs / n as f64);
        println!("[iteration {first:04}] loss: {:.4}", losses[0]);
    }
    blocks.sort_by(f64::total_cmp);
    let median = blocks.get(blocks.len() / 2).copied().unwrap_or(0.0);
    println!(
        "time per SVI step: {:.1} µs (median of {} blocks of {BLOCK}; mean of all {steps}: {:.1} µs)",
        median * 1e6,
        blocks.len(),
        total / steps.max(1) as f64 * 1e6
    );
    Ok(())
}

fn adam(lr: f32) -> Adam {
    Adam::new(AdamConfig {
        lr,
        ..Default::default()
    })
    .expect("a valid learning rate")
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    pyro::set_rng_seed(1);
    let data = load(rugged::data_path())?;
    println!(
        "rugged data: {} nations with a GDP figure",
        data.log_gdp.shape().0
    );

    // 1. Maximum likelihood.
    println!("\n== maximum likelihood (param sites, empty guide), Adam lr 0.05 ==");
    pyro::clear_param_store();
    let mut svi = Svi::new(mle_model, empty_guide, adam(0.05), TraceElbo::default());
    train(&mut svi, data.args(), 1500)?;
    let p = |n: &str| -> Result<f32, Box<dyn std::error::Error>> {
        Ok(pyro::params::get_param::<Dev>(n)?
            .ok_or(format!("no param {n}"))?
            .item()?)
    };
    let o = ols(&data);
    println!("{:>6} {:>9} {:>9}", "param", "MLE", "OLS");
    for (i, n) in ["a", "bA", "bR", "bAR"].iter().enumerate() {
        println!("{n:>6} {:>9.3} {:>9.3}", p(n)?, o[i]);
    }
    println!("{:>6} {:>9.3}", "sigma", p("sigma")?);

    // 2. Bayesian regression with the hand-written guide.
    println!("\n== Bayesian regression, hand-written mean-field guide, Adam lr 0.03 ==");
    pyro::clear_param_store();
    let mut svi = Svi::new(model, custom_guide, adam(0.03), TraceElbo::default());
    train(&mut svi, data.args(), 3000)?;
    let draws = Predictive::with_guide(model, custom_guide, 800).call(data.args())?;
    summary("posterior (custom guide)", &draws)?;

    // 3. AutoNormal and AutoMultivariateNormal.
    for (title, auto) in [("AutoNormal", 0), ("AutoMultivariateNormal", 1)] {
        println!("\n== {title}, Adam lr 0.02, 1000 steps ==");
        pyro::clear_param_store();
        let draws = if auto == 0 {
            let mut svi = Svi::new(
                model,
                AutoNormal::new(model),
                adam(0.02),
                TraceElbo::default(),
            );
            train(&mut svi, data.args(), 1000)?;
            svi.guide().sample_posterior(800)?
        } else {
            let mut svi = Svi::new(
                model,
                AutoMultivariateNormal::new(model),
                adam(0.02),
                TraceElbo::default(),
            );
            train(&mut svi, data.args(), 1000)?;
            svi.guide().sample_posterior(800)?
        };
        summary(&format!("posterior ({title})"), &draws)?;
    }

    // 4. Posterior predictive 90% intervals (AutoMultivariateNormal's posterior).
    let guide = AutoMultivariateNormal::new(model);
    let post = {
        // The trained parameters are in the store; set the guide up on the data.
        guide.call(data.args())?;
        guide.sample_posterior(800)?
    };
    let pred = Predictive::with_samples(model, post)?
        .return_sites(&["obs"])
        .call((&data.cont_africa, &data.rugged, None))?;
    let obs = pred["obs"].to_vec();
    let n = data.log_gdp.shape().0;
    let africa = data.cont_africa.to_vec()?;
    let rugged = data.rugged.to_vec()?;
    let truth = data.log_gdp.to_vec()?;
    println!(
        "\nposterior predictive log GDP (90% interval), first 5 nations in and outside Africa:"
    );
    println!(
        "{:>8} {:>8} {:>8} {:>8} {:>8} {:>7}",
        "africa", "rugged", "5%", "mean", "95%", "true"
    );
    let mut shown = [0, 0];
    let mut covered = 0;
    for i in 0..n {
        let mut col: Vec<f32> = (0..800).map(|s| obs[s * n + i]).collect();
        col.sort_by(|a, b| a.total_cmp(b));
        let (lo, hi) = (col[40], col[759]);
        let mean = col.iter().sum::<f32>() / 800.0;
        if truth[i] >= lo && truth[i] <= hi {
            covered += 1;
        }
        let k = africa[i] as usize;
        if shown[k] < 5 {
            shown[k] += 1;
            println!(
                "{:>8} {:>8.3} {lo:>8.3} {mean:>8.3} {hi:>8.3} {:>7.3}",
                africa[i], rugged[i], truth[i]
            );
        }
    }
    println!("{covered} of {n} observed values lie inside their 90% interval");
    Ok(())
}
