//! HMC and NUTS against targets whose moments are known from outside the project: Gaussian
//! potentials (diagonal with scales 0.01 to 100, dense with correlation 0.99), conjugate
//! models with closed-form posteriors, and Neal's funnel; plus the typed errors of bad input.
//!
//! Moments are checked within 4 Monte Carlo standard errors (`diagnostics::mcse_mean`, of the
//! draws for the mean and of the squared deviations for the variance).

use pyro::infer::mcmc::diagnostics::mcse_mean;
use pyro::infer::mcmc::{
    ChainMethod, FnPotential, Hmc, InverseMassMatrix, Mcmc, McmcConfig, McmcError, Nuts,
};
use pyro::prelude::*;

fn config(warmup: usize, samples: usize, chains: usize) -> McmcConfig {
    McmcConfig {
        num_warmup: warmup,
        num_samples: samples,
        num_chains: chains,
        seed: 1,
        progress_bar: false,
        ..Default::default()
    }
}

/// Chains of one coordinate `j` of a `[chains, draws, dim]` (or `[chains, draws]`) tensor.
fn coordinate(by_chain: &DynTensor<Cpu>, j: usize) -> Vec<Vec<f64>> {
    let s = by_chain.shape().to_vec();
    let (c, n) = (s[0], s[1]);
    let d: usize = s[2..].iter().product();
    let v = by_chain.to_vec();
    (0..c)
        .map(|ci| (0..n).map(|i| v[(ci * n + i) * d + j] as f64).collect())
        .collect()
}

/// Asserts the mean and variance of `chains` are those of the target within 4 MCSE.
fn check_moments(what: &str, chains: &[Vec<f64>], mean: f64, var: f64) {
    let all: Vec<f64> = chains.iter().flatten().copied().collect();
    let m = all.iter().sum::<f64>() / all.len() as f64;
    let se = mcse_mean(chains);
    assert!(
        (m - mean).abs() < 4.0 * se,
        "{what}: mean {m} vs {mean} (mcse {se})"
    );
    let sq: Vec<Vec<f64>> = chains
        .iter()
        .map(|c| c.iter().map(|x| (x - mean).powi(2)).collect())
        .collect();
    let v = sq.iter().flatten().sum::<f64>() / all.len() as f64;
    let se = mcse_mean(&sq);
    assert!(
        (v - var).abs() < 4.0 * se,
        "{what}: variance {v} vs {var} (mcse {se})"
    );
}

#[test]
fn nuts_on_a_50_dim_diagonal_gaussian_with_scales_from_001_to_100() {
    let d = 50;
    let scales: Vec<f64> = (0..d)
        .map(|i| 10f64.powf(-2.0 + 4.0 * i as f64 / (d - 1) as f64))
        .collect();
    let s2 = scales.clone();
    let pot = FnPotential::new(d, move |q: &[f64], g: &mut [f64]| {
        let mut u = 0.0;
        for i in 0..q.len() {
            let w = 1.0 / (s2[i] * s2[i]);
            g[i] = w * q[i];
            u += 0.5 * w * q[i] * q[i];
        }
        u
    });
    let mut mcmc = Mcmc::new(Nuts::from_potential(pot), config(1000, 1000, 2));
    mcmc.run(()).unwrap();
    let z = &mcmc.get_samples_by_chain().unwrap()["z"];
    assert_eq!(z.shape(), &[2, 1000, d]);
    for (j, s) in scales.iter().enumerate() {
        check_moments(&format!("z[{j}]"), &coordinate(z, j), 0.0, s * s);
    }
    assert_eq!(mcmc.num_divergences().unwrap(), vec![0, 0]);
    // The adapted diagonal follows the variances over 8 orders of magnitude.
    for m in mcmc.inverse_mass_matrices().unwrap() {
        let InverseMassMatrix::Diagonal(v) = m else {
            panic!("diagonal expected")
        };
        for (vi, s) in v.iter().zip(&scales) {
            let r = vi / (s * s);
            assert!(r > 0.5 && r < 2.0, "adapted variance {vi} vs {}", s * s);
        }
    }
}

#[test]
fn nuts_with_dense_mass_on_a_10_dim_gaussian_with_correlation_099() {
    let (d, rho) = (10usize, 0.99);
    // Σ = (1 - ρ) I + ρ 11ᵀ; Σ⁻¹ = (I - ρ/(1 + (d-1)ρ) 11ᵀ) / (1 - ρ).
    let c = rho / (1.0 + (d as f64 - 1.0) * rho);
    let pot = FnPotential::new(d, move |q: &[f64], g: &mut [f64]| {
        let s: f64 = q.iter().sum();
        let mut u = 0.0;
        for i in 0..q.len() {
            g[i] = (q[i] - c * s) / (1.0 - rho);
            u += 0.5 * q[i] * g[i];
        }
        u
    });
    let cfg = McmcConfig {
        dense_mass: true,
        ..config(1000, 1000, 2)
    };
    let mut mcmc = Mcmc::new(Nuts::from_potential(pot), cfg);
    mcmc.run(()).unwrap();
    let z = &mcmc.get_samples_by_chain().unwrap()["z"];
    for j in 0..d {
        check_moments(&format!("z[{j}]"), &coordinate(z, j), 0.0, 1.0);
    }
    // The dense estimate recovers the covariance, and makes the target easy: short trees.
    for m in mcmc.inverse_mass_matrices().unwrap() {
        let InverseMassMatrix::Dense { inverse, .. } = m else {
            panic!("dense expected")
        };
        for i in 0..d {
            for j in 0..d {
                let want = if i == j { 1.0 } else { rho };
                assert!(
                    (inverse[i * d + j] - want).abs() < 0.25,
                    "M⁻¹[{i},{j}] = {} vs {want}",
                    inverse[i * d + j]
                );
            }
        }
    }
    let extra = mcmc.get_extra_fields().unwrap();
    let mean_depth = extra[0].iter().map(|s| s.tree_depth as f64).sum::<f64>() / 1000.0;
    assert!(mean_depth < 4.0, "mean tree depth {mean_depth}");
}

/// mu ~ N(0, 10), x_i ~ N(mu, 1): mu | x ~ N(Σx / (n + 1/100), 1 / (n + 1/100)).
#[model]
fn normal_mean(x: &Tensor<(usize,)>) -> PyroResult<()> {
    let mu = sample!("mu", Normal::new(0.0, 10.0));
    plate!("data", x.shape().0, {
        sample!("x", Normal::new(&mu, 1.0), obs = Some(x));
    });
    Ok(())
}

#[test]
fn nuts_on_a_conjugate_normal_normal_model() {
    let xs = [1.2f32, 0.4, 2.1, 1.7, 0.9, 1.4, 2.6, 0.2];
    let x = Tensor::<(usize,)>::from_vec(xs.to_vec(), (xs.len(),)).unwrap();
    let n = xs.len() as f64;
    let prec = n + 1.0 / 100.0;
    let post_mean = xs.iter().map(|&v| v as f64).sum::<f64>() / prec;
    let mut mcmc = Mcmc::new(Nuts::new(normal_mean), config(500, 1000, 2));
    mcmc.run((&x,)).unwrap();
    let mu = &mcmc.get_samples_by_chain().unwrap()["mu"];
    assert_eq!(mu.shape(), &[2, 1000]);
    check_moments("mu", &coordinate(mu, 0), post_mean, 1.0 / prec);
    assert_eq!(mcmc.get_samples().unwrap()["mu"].shape(), &[2000]);
    let summary = mcmc.summary().unwrap();
    assert!(summary.contains("mu") && summary.contains("Number of divergences: 0"));
}

#[test]
fn nuts_on_beta_bernoulli_and_gamma_poisson() {
    // p ~ Beta(2, 2), 9 heads in 12 flips: Beta(11, 5).
    let flips =
        DynTensor::<Cpu>::from_vec(vec![1., 1., 0., 1., 1., 1., 0., 1., 1., 0., 1., 1.], &[12])
            .unwrap();
    let model = |f: &DynTensor<Cpu>| -> PyroResult<()> {
        let p = pyro::sample("p", Beta::new(2.0, 2.0))?;
        pyro::plate("flips", f.shape()[0])
            .run(|_| pyro::observe("f", Bernoulli::new(&p), f.clone()))?;
        Ok(())
    };
    let mut mcmc = Mcmc::new(Nuts::new(model), config(500, 1000, 2));
    mcmc.run((&flips,)).unwrap();
    let p = &mcmc.get_samples_by_chain().unwrap()["p"];
    let (a, b) = (11.0, 5.0);
    let var = a * b / ((a + b) * (a + b) * (a + b + 1.0));
    check_moments("p", &coordinate(p, 0), a / (a + b), var);
    assert!(p.to_vec().iter().all(|&v| v > 0.0 && v < 1.0));

    // rate ~ Gamma(3, 1), counts ~ Poisson(rate): Gamma(3 + Σk, 1 + n).
    let counts = DynTensor::<Cpu>::from_vec(vec![4., 2., 5., 3., 6., 1., 4.], &[7]).unwrap();
    let model = |k: &DynTensor<Cpu>| -> PyroResult<()> {
        let rate = pyro::sample("rate", Gamma::new(3.0, 1.0))?;
        pyro::plate("counts", k.shape()[0])
            .run(|_| pyro::observe("k", Poisson::new(&rate), k.clone()))?;
        Ok(())
    };
    let mut mcmc = Mcmc::new(Nuts::new(model), config(500, 1000, 2));
    mcmc.run((&counts,)).unwrap();
    let rate = &mcmc.get_samples_by_chain().unwrap()["rate"];
    let (a, b) = (3.0 + 25.0, 1.0 + 7.0);
    check_moments("rate", &coordinate(rate, 0), a / b, a / (b * b));
}

/// Neal's funnel: y ~ N(0, 3), x_i ~ N(0, exp(y / 2)), 9 of them.
fn funnel_centred() -> PyroResult<()> {
    let y = pyro::sample("y", Normal::new(0.0, 3.0))?;
    let scale = y.mul_scalar(0.5).exp();
    pyro::plate("i", 9).run(|_| pyro::sample("x", Normal::new(0.0, &scale)))?;
    Ok(())
}

/// The same, non-centred: x = exp(y / 2) x_raw with x_raw ~ N(0, 1), recorded as a
/// deterministic site.
fn funnel_non_centred() -> PyroResult<()> {
    let y = pyro::sample("y", Normal::new(0.0, 3.0))?;
    let raw = pyro::plate("i", 9).run(|_| pyro::sample("x_raw", Normal::new(0.0, 1.0)))?;
    let x = raw.mul(&y.mul_scalar(0.5).exp())?;
    pyro::deterministic("x", x, 0)?;
    Ok(())
}

#[test]
fn neals_funnel_centred_diverges_and_non_centred_does_not() {
    let mut mcmc = Mcmc::new(Nuts::new(funnel_centred), config(500, 1000, 2));
    mcmc.run(()).unwrap();
    let div: usize = mcmc.num_divergences().unwrap().iter().sum();
    let warm: usize = mcmc.num_warmup_divergences().unwrap().iter().sum();
    // Over seeds, 0 to 20 of the 2000 draws diverge and 25 to 45 warmup transitions do.
    assert!(
        warm + div > 0,
        "the centred funnel should report divergences"
    );
    let flagged: usize = mcmc
        .get_extra_fields()
        .unwrap()
        .iter()
        .map(|c| c.iter().filter(|s| s.diverging).count())
        .sum();
    assert_eq!(flagged, div);
    assert!(mcmc
        .summary()
        .unwrap()
        .contains(&format!("Number of divergences: {div}")));

    let mut mcmc = Mcmc::new(Nuts::new(funnel_non_centred), config(500, 1000, 2));
    mcmc.run(()).unwrap();
    assert_eq!(mcmc.num_divergences().unwrap(), vec![0, 0]);
    let s = mcmc.get_samples_by_chain().unwrap();
    check_moments("y", &coordinate(&s["y"], 0), 0.0, 9.0);
    check_moments("x_raw[0]", &coordinate(&s["x_raw"], 0), 0.0, 1.0);
    assert_eq!(s["x"].shape(), &[2, 1000, 9]);
    // The deterministic site is exp(y/2) x_raw draw by draw.
    let (y, raw, x) = (s["y"].to_vec(), s["x_raw"].to_vec(), s["x"].to_vec());
    for k in [0, 17, 1999] {
        let want = (y[k] / 2.0).exp() * raw[k * 9 + 3];
        assert!((x[k * 9 + 3] - want).abs() <= 1e-4 * want.abs().max(1.0));
    }
}

#[test]
fn hmc_with_fixed_steps_and_trajectory_length() {
    let pot = FnPotential::new(3, |q: &[f64], g: &mut [f64]| {
        let s = [1.0, 2.0, 0.5];
        let mut u = 0.0;
        for i in 0..3 {
            g[i] = q[i] / (s[i] * s[i]);
            u += 0.5 * q[i] * g[i];
        }
        u
    });
    for kernel in [
        Hmc::from_potential(pot.clone()).num_steps(10),
        Hmc::from_potential(pot.clone()).trajectory_length(3.0),
    ] {
        let mut mcmc = Mcmc::new(kernel, config(500, 1000, 2));
        mcmc.run(()).unwrap();
        let z = &mcmc.get_samples_by_chain().unwrap()["z"];
        for (j, s) in [1.0, 2.0, 0.5].iter().enumerate() {
            check_moments(&format!("z[{j}]"), &coordinate(z, j), 0.0, s * s);
        }
        let extra = mcmc.get_extra_fields().unwrap();
        assert!(extra[0]
            .iter()
            .all(|s| s.tree_depth == 0 && s.num_steps >= 1));
    }
}

#[test]
fn same_seed_same_draws_whatever_the_threads() {
    let run = |method: ChainMethod, threads: usize| {
        let cfg = McmcConfig {
            chain_method: method,
            threads,
            ..config(100, 50, 3)
        };
        let mut mcmc = Mcmc::new(Nuts::new(funnel_non_centred), cfg);
        mcmc.run(()).unwrap();
        mcmc.get_samples().unwrap()["y"].to_vec()
    };
    let a = run(ChainMethod::Parallel, 0);
    assert_eq!(a, run(ChainMethod::Parallel, 1));
    assert_eq!(a, run(ChainMethod::Parallel, 2));
    assert_eq!(a, run(ChainMethod::Sequential, 0));
    // Different chains draw different values.
    assert_ne!(a[..50], a[50..100]);
}

#[test]
fn bad_input_is_a_typed_error() {
    // Zero density everywhere: no initial point.
    let flat = FnPotential::new(2, |_: &[f64], g: &mut [f64]| {
        g.fill(0.0);
        f64::INFINITY
    });
    let mut mcmc = Mcmc::new(Nuts::from_potential(flat), config(10, 10, 1));
    let err = mcmc.run(()).unwrap_err();
    assert!(
        matches!(
            err,
            PyroError::Mcmc(McmcError::InitFailed { tries: 100, .. })
        ),
        "{err}"
    );
    // A NaN gradient at every point is refused too.
    let nan = FnPotential::new(1, |_: &[f64], g: &mut [f64]| {
        g[0] = f64::NAN;
        0.0
    });
    let err = Mcmc::new(Nuts::from_potential(nan), config(10, 10, 1))
        .run(())
        .unwrap_err();
    assert!(err.to_string().contains("gradient NaN"), "{err}");

    // No draws asked for.
    let pot = FnPotential::new(1, |q: &[f64], g: &mut [f64]| {
        g[0] = q[0];
        0.5 * q[0] * q[0]
    });
    let mut mcmc = Mcmc::new(Nuts::from_potential(pot.clone()), config(10, 0, 1));
    let err = mcmc.run(()).unwrap_err();
    assert!(matches!(
        err,
        PyroError::Mcmc(McmcError::InvalidConfig {
            option: "num_samples",
            ..
        })
    ));
    assert!(matches!(
        mcmc.get_samples().unwrap_err(),
        PyroError::Mcmc(McmcError::NotRun)
    ));
    let bad = McmcConfig {
        target_accept_prob: 1.5,
        ..config(10, 10, 1)
    };
    let err = Mcmc::new(Nuts::from_potential(pot.clone()), bad)
        .run(())
        .unwrap_err();
    assert!(err.to_string().contains("target_accept_prob"), "{err}");
    let err = Mcmc::new(
        Hmc::from_potential(pot).trajectory_length(-1.0),
        config(10, 10, 1),
    )
    .run(())
    .unwrap_err();
    assert!(err.to_string().contains("trajectory_length"), "{err}");

    // A discrete latent, a subsampled plate.
    let discrete = || -> PyroResult<()> {
        pyro::sample("coin", Bernoulli::new(0.3))?;
        Ok(())
    };
    let err = Mcmc::new(Nuts::new(discrete), config(10, 10, 1))
        .run(())
        .unwrap_err();
    assert!(
        matches!(&err, PyroError::Mcmc(McmcError::DiscreteLatent { site, .. }) if site == "coin"),
        "{err}"
    );
    let data = DynTensor::<Cpu>::from_vec(vec![0.5; 20], &[20]).unwrap();
    let subsampled = |x: &DynTensor<Cpu>| -> PyroResult<()> {
        let mu = pyro::sample("mu", Normal::new(0.0, 1.0))?;
        pyro::plate("data", 20).subsample_size(5).run(|p| {
            let batch = x.index_select(0, p.indices())?;
            pyro::observe("obs", Normal::new(&mu, 1.0), batch)
        })?;
        Ok(())
    };
    let err = Mcmc::new(Nuts::new(subsampled), config(10, 10, 1))
        .run((&data,))
        .unwrap_err();
    assert!(
        matches!(&err, PyroError::Mcmc(McmcError::SubsampledPlate { site, plate }) if site == "obs" && plate == "data"),
        "{err}"
    );
}

#[test]
fn a_panic_in_a_chain_is_an_error() {
    let pot = FnPotential::new(1, |q: &[f64], g: &mut [f64]| {
        if q[0] > 100.0 || q[0] < -100.0 {
            g[0] = 0.0;
            return 0.0;
        }
        panic!("boom at {}", q[0]);
    });
    for method in [ChainMethod::Parallel, ChainMethod::Sequential] {
        let cfg = McmcConfig {
            chain_method: method,
            ..config(10, 10, 2)
        };
        let err = Mcmc::new(Nuts::from_potential(pot.clone()), cfg)
            .run(())
            .unwrap_err();
        assert!(
            matches!(&err, PyroError::Mcmc(McmcError::ChainPanicked { chain: 0, message }) if message.starts_with("boom")),
            "{err}"
        );
    }
}

#[test]
fn a_model_whose_sites_change_between_runs_is_an_error() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    // The first runs (the caller's trace) see a latent of shape [2]; the chain's see [3].
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    let model = || -> PyroResult<()> {
        let n = if CALLS.fetch_add(1, Ordering::SeqCst) < 2 {
            2
        } else {
            3
        };
        pyro::plate("p", n).run(|_| pyro::sample("w", Normal::new(0.0, 1.0)))?;
        Ok(())
    };
    let err = Mcmc::new(Nuts::new(model), config(10, 10, 1))
        .run(())
        .unwrap_err();
    assert!(
        matches!(&err, PyroError::Mcmc(McmcError::SiteChanged { site, .. }) if site == "w"),
        "{err}"
    );
}

#[test]
fn draws_and_gradients_adapt_the_diagonal_from_a_short_warmup() {
    // nuts-rs's estimate sqrt(Var[q] / Var[grad]) is exact on a diagonal Gaussian: after 200
    // warmup iterations the 50 variances (0.01² to 100²) are found within a factor 2.
    use pyro::infer::mcmc::MassAdaptation;
    let d = 50;
    let scales: Vec<f64> = (0..d)
        .map(|i| 10f64.powf(-2.0 + 4.0 * i as f64 / (d - 1) as f64))
        .collect();
    let s2 = scales.clone();
    let pot = FnPotential::new(d, move |q: &[f64], g: &mut [f64]| {
        let mut u = 0.0;
        for i in 0..q.len() {
            let w = 1.0 / (s2[i] * s2[i]);
            g[i] = w * q[i];
            u += 0.5 * w * q[i] * q[i];
        }
        u
    });
    let cfg = McmcConfig {
        mass_adaptation: MassAdaptation::DrawsAndGradients,
        ..config(200, 1000, 2)
    };
    let mut mcmc = Mcmc::new(Nuts::from_potential(pot.clone()), cfg);
    mcmc.run(()).unwrap();
    for m in mcmc.inverse_mass_matrices().unwrap() {
        let InverseMassMatrix::Diagonal(v) = m else {
            panic!("diagonal expected")
        };
        for (vi, s) in v.iter().zip(&scales) {
            let r = vi / (s * s);
            assert!(r > 0.5 && r < 2.0, "adapted variance {vi} vs {}", s * s);
        }
    }
    let z = &mcmc.get_samples_by_chain().unwrap()["z"];
    for (j, s) in scales.iter().enumerate() {
        check_moments(&format!("z[{j}]"), &coordinate(z, j), 0.0, s * s);
    }
    // Diagonal only.
    let cfg = McmcConfig {
        mass_adaptation: MassAdaptation::DrawsAndGradients,
        dense_mass: true,
        ..config(200, 10, 1)
    };
    let err = Mcmc::new(Nuts::from_potential(pot), cfg)
        .run(())
        .unwrap_err();
    assert!(err.to_string().contains("mass_adaptation"), "{err}");
}

#[test]
fn params_are_constants_copied_into_chain_threads_and_factors_count() {
    // x ~ N(0, scale) with `scale` a parameter the caller set to 10 (the model's own init is
    // 0.1), plus factor(-1.5 x²): the posterior is N(0, 1 / (1/100 + 3)) (with the init's
    // value it would be N(0, 1/103)).
    pyro::clear_param_store();
    pyro::param("scale", DynTensor::scalar(10.0), Constraint::Positive).unwrap();
    let model = || -> PyroResult<()> {
        let scale = pyro::param("scale", DynTensor::scalar(0.1), Constraint::Positive)?;
        let x = pyro::sample("x", Normal::new(0.0, &scale))?;
        pyro::factor("penalty", x.square().mul_scalar(-1.5).sum())?;
        Ok(())
    };
    for method in [ChainMethod::Parallel, ChainMethod::Sequential] {
        let cfg = McmcConfig {
            chain_method: method,
            ..config(300, 1000, 2)
        };
        let mut mcmc = Mcmc::new(Nuts::new(model), cfg);
        mcmc.run(()).unwrap();
        let x = &mcmc.get_samples_by_chain().unwrap()["x"];
        check_moments("x", &coordinate(x, 0), 0.0, 1.0 / (0.01 + 3.0));
    }
    // The caller's store is left as it was.
    let scale = pyro::params::get_param::<Cpu>("scale").unwrap().unwrap();
    assert!((scale.item().unwrap() - 10.0).abs() < 1e-5);
}

#[test]
fn dense_blocks_of_chosen_sites() {
    // a ~ N(0, 1), b ~ N(a, 0.1): Var a = 1, Var b = 1.01, Cov = 1; c ~ N(0, 5) apart.
    let model = || -> PyroResult<()> {
        let a = pyro::sample("a", Normal::new(0.0, 1.0))?;
        pyro::sample("b", Normal::new(&a, 0.1))?;
        pyro::sample("c", Normal::new(0.0, 5.0))?;
        Ok(())
    };
    let cfg = McmcConfig {
        dense_blocks: vec![vec!["a".into(), "b".into()]],
        ..config(500, 1000, 2)
    };
    let mut mcmc = Mcmc::new(Nuts::new(model), cfg);
    mcmc.run(()).unwrap();
    for m in mcmc.inverse_mass_matrices().unwrap() {
        let InverseMassMatrix::Blocks(blocks) = m else {
            panic!("blocks expected: {m:?}")
        };
        assert_eq!(blocks[0].0, vec![0, 1]);
        assert_eq!(blocks[1].0, vec![2]);
        let InverseMassMatrix::Dense { inverse, .. } = &blocks[0].1 else {
            panic!("a dense block expected")
        };
        // The estimate's correlation is the posterior's (0.995).
        let corr = inverse[1] / (inverse[0] * inverse[3]).sqrt();
        assert!(corr > 0.98, "correlation {corr}");
        let InverseMassMatrix::Diagonal(v) = &blocks[1].1 else {
            panic!("a diagonal block expected")
        };
        assert!(v[0] > 12.0 && v[0] < 50.0, "Var c estimated {}", v[0]);
    }
    let s = mcmc.get_samples_by_chain().unwrap();
    check_moments("a", &coordinate(&s["a"], 0), 0.0, 1.0);
    check_moments("b", &coordinate(&s["b"], 0), 0.0, 1.01);
    check_moments("c", &coordinate(&s["c"], 0), 0.0, 25.0);

    let cfg = McmcConfig {
        dense_blocks: vec![vec!["a".into(), "nope".into()]],
        ..config(10, 10, 1)
    };
    let err = Mcmc::new(Nuts::new(model), cfg).run(()).unwrap_err();
    assert!(
        matches!(
            &err,
            PyroError::Mcmc(McmcError::InvalidConfig {
                option: "dense_blocks",
                ..
            })
        ) && err.to_string().contains("nope"),
        "{err}"
    );
}

#[test]
fn svi_init_strategies_per_site() {
    use pyro::infer::autoguide::InitLoc;
    use pyro::infer::mcmc::InitStrategy;
    // p ~ Beta(2, 2) and 9 heads in 12 flips: Beta(11, 5); rate ~ Exponential(1).
    let model = || -> PyroResult<()> {
        let p = pyro::sample("p", Beta::new(2.0, 2.0))?;
        let flips = DynTensor::<Cpu>::from_vec(
            vec![1., 1., 0., 1., 1., 1., 0., 1., 1., 0., 1., 1.],
            &[12],
        )?;
        pyro::plate("flips", 12).run(|_| pyro::observe("f", Bernoulli::new(&p), flips))?;
        pyro::sample("rate", Exponential::new(1.0))?;
        Ok(())
    };
    let mut values = std::collections::HashMap::new();
    values.insert("p".to_string(), DynTensor::<Cpu>::scalar(0.9));
    for init in [
        InitLoc::Feasible,
        InitLoc::Median { num_samples: 15 },
        InitLoc::Mean,
        InitLoc::Sample,
        InitLoc::Value(values),
    ] {
        let cfg = McmcConfig {
            init: InitStrategy::Sites(init),
            ..config(300, 1000, 2)
        };
        let mut mcmc = Mcmc::new(Nuts::new(model), cfg);
        mcmc.run(()).unwrap();
        let p = &mcmc.get_samples_by_chain().unwrap()["p"];
        let (a, b) = (11.0, 5.0);
        check_moments("p", &coordinate(p, 0), a / (a + b), a * b / (256.0 * 17.0));
    }
    let pot = FnPotential::new(1, |q: &[f64], g: &mut [f64]| {
        g[0] = q[0];
        0.5 * q[0] * q[0]
    });
    let cfg = McmcConfig {
        init: InitStrategy::Sites(InitLoc::Feasible),
        ..config(10, 10, 1)
    };
    let err = Mcmc::new(Nuts::from_potential(pot), cfg)
        .run(())
        .unwrap_err();
    assert!(
        matches!(
            err,
            PyroError::Mcmc(McmcError::InvalidConfig { option: "init", .. })
        ),
        "{err}"
    );
}

#[test]
fn latent_sites_in_a_sequential_plate() {
    // x_i ~ N(i, 1) for i in a sequential plate, each its own site.
    let model = || -> PyroResult<()> {
        for i in pyro::plate("seq", 3).iter()? {
            pyro::sample(&format!("x_{i}"), Normal::new(i as f32, 1.0))?;
        }
        Ok(())
    };
    let mut mcmc = Mcmc::new(Nuts::new(model), config(300, 1000, 2));
    mcmc.run(()).unwrap();
    let s = mcmc.get_samples_by_chain().unwrap();
    for i in 0..3 {
        let x = &s[&format!("x_{i}")];
        check_moments(&format!("x_{i}"), &coordinate(x, 0), i as f64, 1.0);
    }
}

#[test]
fn masked_observations_do_not_count() {
    use pyro::poutine::{self, MaskMessenger, Program};
    // mu ~ N(0, 10); y_i ~ N(mu, 1) with only y_0, y_1 kept: mu | y ~ N(Σ/(2 + 0.01), 1/2.01).
    let y = DynTensor::<Cpu>::from_vec(vec![1.0, 2.0, 50.0, -50.0], &[4]).unwrap();
    let model = |y: &DynTensor<Cpu>| -> PyroResult<()> {
        let mu = pyro::sample("mu", Normal::new(0.0, 10.0))?;
        let observe = || -> PyroResult<()> {
            pyro::plate("data", 4).run(|_| pyro::observe("y", Normal::new(&mu, 1.0), y.clone()))?;
            Ok(())
        };
        let keep = MaskMessenger::elements(vec![true, true, false, false], &[4])?;
        poutine::mask(observe, keep).call(())
    };
    let mut mcmc = Mcmc::new(Nuts::new(model), config(300, 1000, 2));
    mcmc.run((&y,)).unwrap();
    let mu = &mcmc.get_samples_by_chain().unwrap()["mu"];
    check_moments("mu", &coordinate(mu, 0), 3.0 / 2.01, 1.0 / 2.01);
}
