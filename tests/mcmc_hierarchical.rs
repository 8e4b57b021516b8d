//! NUTS on the hierarchical models of `tests/fixtures/hierarchical_posteriors.json`, against
//! long NumPyro NUTS runs (4 x 25,000 draws in float64, `scripts/hierarchical_posteriors.py`):
//! the mean and sd of every unconstrained coordinate (log of positive sites) within 4 Monte
//! Carlo standard errors, ours and the reference's combined.

use pyro::infer::mcmc::diagnostics::mcse_mean;
use pyro::infer::mcmc::{Mcmc, McmcConfig, Nuts};
use pyro::prelude::*;
use pyro::PyroResult;
use serde_json::Value;

type T = DynTensor<Cpu>;

fn fixture() -> Value {
    serde_json::from_str(include_str!("fixtures/hierarchical_posteriors.json")).unwrap()
}

fn floats(v: &Value) -> Vec<f64> {
    match v {
        Value::Array(a) => a.iter().flat_map(floats).collect(),
        Value::Number(n) => vec![n.as_f64().unwrap()],
        other => panic!("not a number or array: {other}"),
    }
}

fn tensor(v: &Value) -> T {
    fn shape(v: &Value) -> Vec<usize> {
        match v {
            Value::Array(a) => {
                let mut s = vec![a.len()];
                s.extend(a.first().map(shape).unwrap_or_default());
                s
            }
            _ => vec![],
        }
    }
    let x: Vec<f32> = floats(v).into_iter().map(|x| x as f32).collect();
    T::from_vec(x, &shape(v)).unwrap()
}

/// Draws and reference sizes: smaller in debug builds (CI), larger where it is cheap.
fn config(target_accept_prob: f64) -> McmcConfig {
    let (warmup, samples) = if cfg!(debug_assertions) {
        (500, 1000)
    } else {
        (1000, 5000)
    };
    McmcConfig {
        num_warmup: warmup,
        num_samples: samples,
        num_chains: 2,
        seed: 3,
        target_accept_prob,
        progress_bar: false,
        ..Default::default()
    }
}

/// Checks every unconstrained coordinate of `reference` (`mu`, `tau`, `theta_raw[3]`,
/// `s[2,0]`; `positive` sites on the log scale) against the run's draws.
fn check_against(
    mcmc: &Mcmc<impl pyro::infer::mcmc::Kernel>,
    reference: &Value,
    positive: &[&str],
) {
    let u = &reference["unconstrained"];
    let coords: Vec<&str> = u["coordinates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    let mean = floats(&u["mean"]);
    let cov: Vec<Vec<f64>> = u["cov"].as_array().unwrap().iter().map(floats).collect();
    let ref_ess = reference["min_ess"].as_f64().unwrap();
    let samples = mcmc.get_samples_by_chain().unwrap();
    for (j, coord) in coords.iter().enumerate() {
        let (site, idx) = match coord.split_once('[') {
            None => (*coord, vec![]),
            Some((s, rest)) => (
                s,
                rest.trim_end_matches(']')
                    .split(',')
                    .map(|i| i.parse::<usize>().unwrap())
                    .collect(),
            ),
        };
        let t = &samples[site];
        let shape = t.shape().to_vec();
        let (c, n) = (shape[0], shape[1]);
        let site_shape = &shape[2..];
        let k: usize = site_shape.iter().product();
        let mut flat = 0;
        for (i, d) in idx.iter().zip(site_shape) {
            flat = flat * d + i;
        }
        let v = t.to_vec();
        let chains: Vec<Vec<f64>> = (0..c)
            .map(|ci| {
                (0..n)
                    .map(|i| {
                        let x = v[(ci * n + i) * k + flat] as f64;
                        if positive.contains(&site) {
                            x.ln()
                        } else {
                            x
                        }
                    })
                    .collect()
            })
            .collect();
        let all: Vec<f64> = chains.iter().flatten().copied().collect();
        let m = all.iter().sum::<f64>() / all.len() as f64;
        let sd_ref = cov[j][j].sqrt();
        let se = (mcse_mean(&chains).powi(2) + sd_ref * sd_ref / ref_ess).sqrt();
        assert!(
            (m - mean[j]).abs() < 4.0 * se,
            "{coord}: mean {m:.4} vs NumPyro {:.4} (se {se:.4})",
            mean[j]
        );
        // The variance: the mean of squared deviations from the reference mean.
        let sq: Vec<Vec<f64>> = chains
            .iter()
            .map(|ch| ch.iter().map(|x| (x - mean[j]).powi(2)).collect())
            .collect();
        let var = sq.iter().flatten().sum::<f64>() / all.len() as f64;
        let se_var = (mcse_mean(&sq).powi(2) + 2.0 * cov[j][j].powi(2) / ref_ess).sqrt();
        assert!(
            (var - cov[j][j]).abs() < 4.0 * se_var,
            "{coord}: variance {var:.4} vs NumPyro {:.4} (se {se_var:.4})",
            cov[j][j]
        );
    }
}

/// `mu ~ N(0, 10)`, `tau ~ HalfNormal(10)`, `theta_raw_j ~ N(0, 1)`, `theta = mu + tau
/// theta_raw` (deterministic), `y_j ~ N(theta_j, sigma_j)`.
fn schools_non_centred(y: &T, sigma: &T) -> PyroResult<()> {
    let mu = pyro::sample("mu", Normal::new(0.0, 10.0))?;
    let tau = pyro::sample("tau", HalfNormal::new(10.0))?;
    pyro::plate("schools", y.shape()[0]).run(|_| {
        let raw = pyro::sample("theta_raw", Normal::new(0.0, 1.0))?;
        let theta = pyro::deterministic("theta", mu.add(&tau.mul(&raw)?)?, 0)?;
        pyro::observe("y", Normal::new(&theta, sigma), y.clone())
    })?;
    Ok(())
}

/// The same, centred: `theta_j ~ N(mu, tau)`.
fn schools_centred(y: &T, sigma: &T) -> PyroResult<()> {
    let mu = pyro::sample("mu", Normal::new(0.0, 10.0))?;
    let tau = pyro::sample("tau", HalfNormal::new(10.0))?;
    pyro::plate("schools", y.shape()[0]).run(|_| {
        let theta = pyro::sample("theta", Normal::new(&mu, &tau))?;
        pyro::observe("y", Normal::new(&theta, sigma), y.clone())
    })?;
    Ok(())
}

#[test]
fn informative_eight_schools_against_numpyro() {
    let case = &fixture()["cases"]["schools_informative"];
    let (y, sigma) = (tensor(&case["data"]["y"]), tensor(&case["data"]["sigma"]));

    // At NumPyro's target acceptance for the reference (0.95); at 0.8 a seed in ten has a
    // divergence.
    let mut mcmc = Mcmc::new(Nuts::new(schools_non_centred), config(0.95));
    mcmc.run((&y, &sigma)).unwrap();
    assert_eq!(mcmc.num_divergences().unwrap(), vec![0, 0]);
    check_against(&mcmc, &case["non_centred"], &["tau"]);
    assert_eq!(mcmc.get_samples().unwrap()["theta"].shape()[1..], [8]);

    // Centred, as NumPyro ran it (target acceptance 0.95).
    let mut mcmc = Mcmc::new(Nuts::new(schools_centred), config(0.95));
    mcmc.run((&y, &sigma)).unwrap();
    check_against(&mcmc, &case["centred"], &["tau"]);
}

/// `mu ~ N(0, 1)`; per group `s ~ Gamma(4, 4)` (plate at dim -2); per group and item
/// `z_raw ~ N(0, 1)`, `z = exp(mu + s z_raw)` (deterministic), `y ~ Poisson(5 z)`.
fn nested_non_centred(y: &T) -> PyroResult<()> {
    let (groups, items) = (y.shape()[0], y.shape()[1]);
    let mu = pyro::sample("mu", Normal::new(0.0, 1.0))?;
    pyro::plate("groups", groups).dim(-2).run(|_| {
        let s = pyro::sample("s", Gamma::new(4.0, 4.0))?;
        pyro::plate("items", items).dim(-1).run(|_| {
            let raw = pyro::sample("z_raw", Normal::new(0.0, 1.0))?;
            let z = pyro::deterministic("z", mu.add(&s.mul(&raw)?)?.exp(), 0)?;
            pyro::observe("y", Poisson::new(z.mul_scalar(5.0)), y.clone())
        })
    })?;
    Ok(())
}

#[test]
fn nested_plates_with_positive_latents_against_numpyro() {
    let case = &fixture()["cases"]["nested_positive"];
    let y = tensor(&case["data"]["y"]);
    let mut mcmc = Mcmc::new(Nuts::new(nested_non_centred), config(0.8));
    mcmc.run((&y,)).unwrap();
    check_against(&mcmc, &case["non_centred"], &["s"]);
    let s = mcmc.get_samples().unwrap();
    assert_eq!(s["s"].shape()[1..], [3, 1]);
    assert_eq!(s["z"].shape()[1..], [3, 4]);
}
