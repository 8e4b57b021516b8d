//! The intro tutorial's numbers: maximum likelihood equals OLS, and SVI with the
//! hand-written guide, AutoNormal and AutoMultivariateNormal lands on the exact posterior
//! (NUTS, from the issue: a 9.18±0.14, bA −1.83±0.21, bR −0.18±0.08, bAR 0.34±0.12,
//! sigma 0.95±0.05).

#[path = "../examples/shared/rugged.rs"]
mod rugged;

use std::collections::HashMap;

use pyro::infer::autoguide::{AutoGuide, AutoMultivariateNormal, AutoNormal};
use pyro::infer::{Predictive, Svi, TraceElbo};
use pyro::optim::{Adam, AdamConfig};
use pyro::prelude::DynTensor;

const NUTS: [(&str, f32, f32); 5] = [
    ("a", 9.18, 0.14),
    ("bA", -1.83, 0.21),
    ("bR", -0.18, 0.08),
    ("bAR", 0.34, 0.12),
    ("sigma", 0.95, 0.05),
];

fn adam(lr: f32) -> Adam {
    Adam::new(AdamConfig {
        lr,
        ..Default::default()
    })
    .unwrap()
}

/// Posterior means within 0.75 posterior sd of NUTS (Pyro's own AutoNormal lands 0.04 = 0.8
/// sd off on sigma, at 0.99); a mean-field guide cannot match the correlated posterior's
/// sds, so those are only checked for the right order of magnitude.
fn check_means(who: &str, draws: &HashMap<String, DynTensor<rugged::Dev>>) {
    for (name, mean, sd) in NUTS {
        let v = draws[name].to_vec();
        let m = v.iter().sum::<f32>() / v.len() as f32;
        let s = (v.iter().map(|x| (x - m).powi(2)).sum::<f32>() / v.len() as f32).sqrt();
        assert!(
            (m - mean).abs() < 0.75 * sd,
            "{who} {name}: mean {m} vs {mean}"
        );
        assert!(
            s > 0.25 * sd && s < 2.0 * sd,
            "{who} {name}: sd {s} vs {sd}"
        );
    }
}

#[test]
fn maximum_likelihood_equals_ols() {
    pyro::set_rng_seed(0);
    pyro::clear_param_store();
    let data = rugged::load(rugged::data_path()).unwrap();
    let mut svi = Svi::new(
        rugged::mle_model,
        rugged::empty_guide,
        adam(0.05),
        TraceElbo::default(),
    );
    for _ in 0..1500 {
        svi.step(data.args()).unwrap();
    }
    let ols = rugged::ols(&data);
    for (i, name) in ["a", "bA", "bR", "bAR"].iter().enumerate() {
        let v = pyro::params::get_param::<rugged::Dev>(name)
            .unwrap()
            .unwrap()
            .item()
            .unwrap();
        assert!(
            (v as f64 - ols[i]).abs() < 2e-3,
            "{name}: {v} vs OLS {}",
            ols[i]
        );
    }
}

#[test]
fn custom_guide_autonormal_and_automultivariatenormal_match_nuts() {
    pyro::set_rng_seed(1);
    let data = rugged::load(rugged::data_path()).unwrap();

    pyro::clear_param_store();
    let mut svi = Svi::new(
        rugged::model,
        rugged::custom_guide,
        adam(0.03),
        TraceElbo::default(),
    );
    for _ in 0..3000 {
        svi.step(data.args()).unwrap();
    }
    let draws = Predictive::with_guide(rugged::model, rugged::custom_guide, 400)
        .call(data.args())
        .unwrap();
    check_means("custom guide", &draws);

    pyro::clear_param_store();
    let mut svi = Svi::new(
        rugged::model,
        AutoNormal::new(rugged::model),
        adam(0.02),
        TraceElbo::default(),
    );
    for _ in 0..1000 {
        svi.step(data.args()).unwrap();
    }
    check_means("AutoNormal", &svi.guide().sample_posterior(400).unwrap());

    pyro::clear_param_store();
    let guide = AutoMultivariateNormal::new(rugged::model);
    let mut svi = Svi::new(rugged::model, guide, adam(0.02), TraceElbo::default());
    for _ in 0..1000 {
        svi.step(data.args()).unwrap();
    }
    check_means(
        "AutoMultivariateNormal",
        &svi.guide().sample_posterior(400).unwrap(),
    );
}
