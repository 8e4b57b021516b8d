//! NUTS on the rugged regression of Pyro's intro tutorial: one gradient of the model's
//! potential (the unconstrained log joint and its backward pass) and one NUTS transition at
//! the adapted step size and mass matrix of a 1000-iteration warmup.
//!
//! Run with `cargo bench --bench mcmc`.

use criterion::{criterion_group, criterion_main, Criterion};
use pyro::infer::mcmc::{
    nuts_transition, Mcmc, McmcConfig, ModelTarget, Nuts, ParamSnapshot, PhasePoint, Target,
};
use rand::SeedableRng;

#[path = "../examples/shared/rugged.rs"]
mod rugged;

fn bench(c: &mut Criterion) {
    let data = rugged::load(rugged::data_path()).expect("rugged data");
    let args = data.args();
    // The adapted step size and mass matrix of one warmup.
    let config = McmcConfig {
        num_warmup: 1000,
        num_samples: 1,
        progress_bar: false,
        ..Default::default()
    };
    let mut mcmc = Mcmc::new(Nuts::new(rugged::model), config.clone());
    mcmc.run(args).expect("warmup");
    let eps = mcmc.step_sizes().expect("run")[0];
    let metric = mcmc.inverse_mass_matrices().expect("run")[0].clone();

    let target = ModelTarget(rugged::model);
    let layout = target.layout(&args).expect("layout");
    let params = ParamSnapshot::default();
    target
        .with_potential(args, &layout, &params, &mut |pot| {
            let q = vec![9.0, -1.8, -0.2, 0.3, -2.3];
            let mut grad = vec![0.0; q.len()];
            c.bench_function("mcmc_potential_gradient_rugged", |b| {
                b.iter(|| pot.value_and_grad(&q, &mut grad).expect("gradient"))
            });
            let mut z = PhasePoint::at(pot, q.clone())?;
            let mut rng = rand::rngs::StdRng::seed_from_u64(0);
            c.bench_function("mcmc_nuts_transition_rugged", |b| {
                b.iter(|| {
                    nuts_transition(&mut z, pot, &metric, eps, 10, 1000.0, &mut rng)
                        .expect("transition")
                })
            });
            Ok(())
        })
        .expect("bench");
}

criterion_group!(benches, bench);
criterion_main!(benches);
