//! Runs many SVI steps of one guide on the rugged model, for profilers: `perf record`, or
//! `valgrind --tool=callgrind` to count instructions per step (run N and 3N steps and take the
//! difference).
//!
//! `cargo run --release --example profile_svi -- normal 20000` (guides: `normal`, `mvn`,
//! `custom`, `mle`). Prints the time per step.

use pyro::infer::autoguide::{AutoMultivariateNormal, AutoNormal};
use pyro::infer::{Svi, TraceElbo};
use pyro::optim::Adam;

#[path = "shared/rugged.rs"]
mod rugged;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let guide = std::env::args().nth(1).unwrap_or_else(|| "normal".into());
    let steps: usize = match std::env::args().nth(2) {
        Some(s) => s.parse()?,
        None => 20_000,
    };
    let data = rugged::load(rugged::data_path())?;
    let args = data.args();
    pyro::set_rng_seed(0);
    pyro::clear_param_store();
    let start = std::time::Instant::now();
    macro_rules! run {
        ($model:expr, $guide:expr) => {{
            let mut svi = Svi::new($model, $guide, Adam::with_lr(0.02)?, TraceElbo::default());
            for _ in 0..steps {
                svi.step(args)?;
            }
        }};
    }
    match guide.as_str() {
        "normal" => run!(rugged::model, AutoNormal::new(rugged::model)),
        "mvn" => run!(rugged::model, AutoMultivariateNormal::new(rugged::model)),
        "custom" => run!(rugged::model, rugged::custom_guide),
        "mle" => run!(rugged::mle_model, rugged::empty_guide),
        other => return Err(format!("unknown guide `{other}` (normal, mvn, custom, mle)").into()),
    }
    let per_step = start.elapsed().as_secs_f64() * 1e6 / steps.max(1) as f64;
    println!("{guide}: {per_step:.2} µs per SVI step ({steps} steps)");
    Ok(())
}
