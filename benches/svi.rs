//! One SVI step on the rugged regression model of Pyro's intro tutorial, with AutoNormal and
//! AutoMultivariateNormal (Trace_ELBO, one particle, Adam), on the tutorial's typed model
//! (`rugged::model`).
//!
//! Reference (issue 5): Pyro 1.9 3,300 µs / 3,000 µs; NumPyro 0.22 (jitted) 128 µs / 77 µs.
//! Run with `cargo bench --bench svi`.

use criterion::{criterion_group, criterion_main, Criterion};
use pyro::infer::autoguide::{AutoMultivariateNormal, AutoNormal};
use pyro::infer::{Svi, TraceElbo};
use pyro::optim::{Adam, AdamConfig};

#[path = "../examples/shared/rugged.rs"]
mod rugged;

fn adam() -> Adam {
    Adam::new(AdamConfig {
        lr: 0.02,
        ..Default::default()
    })
    .expect("valid lr")
}

fn bench(c: &mut Criterion) {
    let data = rugged::load(rugged::data_path()).expect("rugged data");
    let args = data.args();
    pyro::set_rng_seed(0);

    pyro::clear_param_store();
    let mut svi = Svi::new(
        rugged::model,
        AutoNormal::new(rugged::model),
        adam(),
        TraceElbo::default(),
    );
    svi.step(args).expect("first step");
    c.bench_function("svi_step_rugged_autonormal", |b| {
        b.iter(|| svi.step(args).expect("step"))
    });

    pyro::clear_param_store();
    let mut svi = Svi::new(
        rugged::model,
        AutoMultivariateNormal::new(rugged::model),
        adam(),
        TraceElbo::default(),
    );
    svi.step(args).expect("first step");
    c.bench_function("svi_step_rugged_automultivariatenormal", |b| {
        b.iter(|| svi.step(args).expect("step"))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
