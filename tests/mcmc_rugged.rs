//! NUTS on the rugged regression of Pyro's intro tutorial against a long NumPyro run
//! (`tests/fixtures/rugged_nuts.json`, 4 x 25,000 draws in float64, written by
//! `scripts/rugged_nuts_reference.py`): the mean and sd of every latent within 4 Monte Carlo
//! standard errors, ours and the reference's combined.

use pyro::infer::mcmc::diagnostics::mcse_mean;
use pyro::infer::mcmc::{Mcmc, McmcConfig, Nuts};
use serde_json::Value;

#[path = "../examples/shared/rugged.rs"]
mod rugged;

#[test]
fn rugged_regression_against_a_long_numpyro_run() {
    let reference: Value = serde_json::from_str(include_str!("fixtures/rugged_nuts.json")).unwrap();
    let data = rugged::load(rugged::data_path()).unwrap();
    let (warmup, samples) = if cfg!(debug_assertions) {
        (500, 1000)
    } else {
        (1000, 5000)
    };
    let config = McmcConfig {
        num_warmup: warmup,
        num_samples: samples,
        num_chains: 2,
        seed: 7,
        progress_bar: false,
        ..Default::default()
    };
    let mut mcmc = Mcmc::new(Nuts::new(rugged::model), config);
    mcmc.run(data.args()).unwrap();
    assert_eq!(mcmc.num_divergences().unwrap(), vec![0, 0]);
    let by_chain = mcmc.get_samples_by_chain().unwrap();
    for (site, r) in reference["sites"].as_object().unwrap() {
        let (mean, sd) = (r["mean"].as_f64().unwrap(), r["sd"].as_f64().unwrap());
        let ref_ess = r["ess"].as_f64().unwrap();
        let t = &by_chain[site.as_str()];
        let v = t.to_vec();
        let n = t.shape()[1];
        let chains: Vec<Vec<f64>> = v
            .chunks(n)
            .map(|c| c.iter().map(|&x| x as f64).collect())
            .collect();
        let all: Vec<f64> = chains.iter().flatten().copied().collect();
        let m = all.iter().sum::<f64>() / all.len() as f64;
        let se = (mcse_mean(&chains).powi(2) + sd * sd / ref_ess).sqrt();
        assert!(
            (m - mean).abs() < 4.0 * se,
            "{site}: mean {m:.4} vs NumPyro {mean:.4} (se {se:.4})"
        );
        let sq: Vec<Vec<f64>> = chains
            .iter()
            .map(|c| c.iter().map(|x| (x - mean).powi(2)).collect())
            .collect();
        let var = sq.iter().flatten().sum::<f64>() / all.len() as f64;
        let se_var = (mcse_mean(&sq).powi(2) + 2.0 * sd.powi(4) / ref_ess).sqrt();
        assert!(
            (var - sd * sd).abs() < 4.0 * se_var,
            "{site}: variance {var:.5} vs NumPyro {:.5} (se {se_var:.5})",
            sd * sd
        );
    }
}
