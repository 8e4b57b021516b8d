//! SVI against analytic posteriors of conjugate models, a discrete latent with a
//! score-function guide, and Predictive against prior predictive moments.

mod common;

use common::decaying_adam;
use pyro::infer::autoguide::{AutoDiagonalNormal, AutoGuide, AutoNormal};
use pyro::infer::{Predictive, Svi, TraceElbo};
use pyro::optim::{Adam, AdamConfig};
use pyro::prelude::*;
use pyro::PyroResult;
use std::collections::HashMap;

type Dev = pyro::DefaultDevice;

fn data(v: &[f32]) -> DynTensor<Dev> {
    DynTensor::from_vec(v.to_vec(), &[v.len()]).unwrap()
}

fn get(name: &str) -> f32 {
    pyro::params::get_param::<Dev>(name)
        .unwrap()
        .unwrap()
        .item()
        .unwrap()
}

/// mu ~ N(0, 10), x_i ~ N(mu, 1): posterior N(m, s) with s^2 = 1/(1/100 + n), m = s^2 sum x.
fn normal_mean_model(x: &DynTensor<Dev>) -> PyroResult<()> {
    let mu = pyro::sample("mu", Normal::new(0.0, 10.0))?;
    pyro::plate("data", x.shape()[0])
        .run(|_| pyro::observe("x", Normal::new(&mu, 1.0), x.clone()))?;
    Ok(())
}

fn normal_posterior(x: &[f32]) -> (f32, f32) {
    let n = x.len() as f32;
    let s2 = 1.0 / (1.0 / 100.0 + n);
    (s2 * x.iter().sum::<f32>(), s2.sqrt())
}

const XS: [f32; 20] = [
    1.2, 0.7, 2.1, 1.9, 0.4, 1.1, 1.6, 2.3, 0.9, 1.4, 1.0, 1.8, 0.2, 1.5, 1.3, 2.6, 0.8, 1.7, 1.2,
    0.6,
];

/// The guide `mu ~ N(loc, scale)` with params `<prefix>_loc`, `<prefix>_scale`.
fn normal_guide(prefix: &'static str) -> impl Fn(&DynTensor<Dev>) -> PyroResult<()> + Clone {
    move |_: &DynTensor<Dev>| -> PyroResult<()> {
        let loc = pyro::param(
            &format!("{prefix}_loc"),
            DynTensor::scalar(0.0),
            Constraint::Real,
        )?;
        let scale = pyro::param(
            &format!("{prefix}_scale"),
            DynTensor::scalar(1.0),
            Constraint::Positive,
        )?;
        pyro::sample("mu", Normal::new(&loc, &scale))?;
        Ok(())
    }
}

/// Trains `normal_guide(prefix)` with `elbo` and checks it against the analytic posterior.
fn fit_and_check<L: pyro::infer::Elbo<Dev>>(
    prefix: &'static str,
    elbo: L,
    steps: usize,
    seed: u64,
) {
    pyro::set_rng_seed(seed);
    pyro::clear_param_store();
    let x = data(&XS);
    let mut svi = Svi::new(
        normal_mean_model,
        normal_guide(prefix),
        decaying_adam(0.05, steps),
        elbo,
    );
    for _ in 0..steps {
        svi.step((&x,)).unwrap();
    }
    let (m, s) = normal_posterior(&XS);
    let (loc, scale) = (
        get(&format!("{prefix}_loc")),
        get(&format!("{prefix}_scale")),
    );
    assert!(
        (loc - m).abs() < 0.05 * s + 0.02 * m.abs(),
        "{prefix}: loc {loc} vs {m}"
    );
    assert!(
        (scale - s).abs() < 0.05 * s,
        "{prefix}: scale {scale} vs {s}"
    );
}

#[test]
fn autonormal_recovers_the_normal_mean_posterior() {
    pyro::set_rng_seed(0);
    pyro::clear_param_store();
    let x = data(&XS);
    let guide = AutoNormal::new(normal_mean_model);
    let steps = 3000;
    let mut svi = Svi::new(
        normal_mean_model,
        guide,
        decaying_adam(0.05, steps),
        TraceElbo::with_particles(4),
    );
    for _ in 0..steps {
        svi.step((&x,)).unwrap();
    }
    let (m, s) = normal_posterior(&XS);
    let loc = get("AutoNormal.locs.mu");
    let scale = get("AutoNormal.scales.mu");
    assert!(
        (loc - m).abs() < 0.05 * s + 0.02 * m.abs(),
        "loc {loc} vs {m}"
    );
    assert!((scale - s).abs() < 0.05 * s, "scale {scale} vs {s}");
    let med = svi.guide().median().unwrap()["mu"].item().unwrap();
    assert_eq!(med, loc);
}

/// A latent with real support is the guide's normal itself (NumPyro's layout); a constrained
/// one is an auxiliary normal site plus a `Delta` carrying the log-Jacobian (Pyro's layout).
/// Either way the guide's log-density of the sampled values is that of the normal pushed
/// through the support's bijection.
#[test]
fn autonormal_samples_real_sites_directly_and_maps_constrained_ones() {
    pyro::set_rng_seed(3);
    pyro::clear_param_store();
    let model = || -> PyroResult<()> {
        pyro::sample("x", Normal::new(0.0, 1.0))?;
        pyro::sample("s", LogNormal::new(0.0, 1.0))?;
        Ok(())
    };
    let guide = AutoNormal::new(model);
    let _scope = GradScope::<Dev>::open();
    let mut tr = pyro::poutine::trace(guide).get_trace(()).unwrap();
    let names: Vec<&str> = tr
        .sites()
        .iter()
        .filter(|s| s.kind == pyro::poutine::SiteKind::Sample)
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(names, ["x", "s_unconstrained", "s"]);
    assert_eq!(tr.get("x").unwrap().dist.as_ref().unwrap().name(), "Normal");
    assert!(tr.get("s_unconstrained").unwrap().infer.is_auxiliary);
    assert_eq!(tr.get("s").unwrap().dist.as_ref().unwrap().name(), "Delta");
    // At init (locs 0, scales 0.1): log q = log N(x; 0, 0.1) + log N(u; 0, 0.1) - u, s = exp(u).
    let x = tr.get("x").unwrap().value.item().unwrap();
    let s = tr.get("s").unwrap().value.item().unwrap();
    let (u, sigma) = (s.ln(), 0.1f32);
    let log_n = |v: f32, m: f32| {
        -((v - m) / sigma).powi(2) / 2.0 - sigma.ln() - 0.5 * (2.0 * std::f32::consts::PI).ln()
    };
    let want = log_n(x, 0.0) + log_n(u, 0.0) - u;
    let got = tr.log_prob_sum().unwrap().item().unwrap();
    assert!((got - want).abs() < 1e-4, "{got} vs {want}");
}

#[test]
fn hand_written_guide_recovers_the_normal_mean_posterior() {
    fit_and_check("q", TraceElbo::with_particles(4), 3000, 1);
}

/// p ~ Beta(2, 2), flips ~ Bernoulli(p): posterior Beta(2 + heads, 2 + tails).
#[test]
fn beta_bernoulli_with_a_beta_guide() {
    pyro::set_rng_seed(2);
    pyro::clear_param_store();
    let flips = data(&[1., 1., 0., 1., 1., 1., 0., 1., 1., 0., 1., 1.]);
    let (heads, tails) = (9.0f32, 3.0f32);
    let model = |f: &DynTensor<Dev>| -> PyroResult<()> {
        let p = pyro::sample("p", Beta::new(2.0, 2.0))?;
        pyro::plate("flips", f.shape()[0])
            .run(|_| pyro::observe("f", Bernoulli::new(&p), f.clone()))?;
        Ok(())
    };
    let guide = |_: &DynTensor<Dev>| -> PyroResult<()> {
        let a = pyro::param("alpha_q", DynTensor::scalar(5.0), Constraint::Positive)?;
        let b = pyro::param("beta_q", DynTensor::scalar(5.0), Constraint::Positive)?;
        pyro::sample("p", Beta::new(&a, &b))?;
        Ok(())
    };
    let steps = 4000;
    let mut svi = Svi::new(
        model,
        guide,
        decaying_adam(0.05, steps),
        TraceElbo::with_particles(4),
    );
    for _ in 0..steps {
        svi.step((&flips,)).unwrap();
    }
    let (a, b) = (get("alpha_q"), get("beta_q"));
    let (a0, b0) = (2.0 + heads, 2.0 + tails);
    let mean = a / (a + b);
    let sd = (a * b / ((a + b).powi(2) * (a + b + 1.0))).sqrt();
    let mean0 = a0 / (a0 + b0);
    let sd0 = (a0 * b0 / ((a0 + b0).powi(2) * (a0 + b0 + 1.0))).sqrt();
    assert!(
        (mean - mean0).abs() < 0.03 * mean0,
        "mean {mean} vs {mean0}"
    );
    assert!((sd - sd0).abs() < 0.1 * sd0, "sd {sd} vs {sd0}");
}

/// z ~ Bernoulli(0.3); x ~ N(3z, 1) observed at 2: p(z = 1 | x) is analytic. The guide
/// Bernoulli has no rsample, so this exercises the score-function estimator.
#[test]
fn discrete_latent_with_a_score_function_guide() {
    pyro::set_rng_seed(3);
    pyro::clear_param_store();
    let model = || -> PyroResult<()> {
        let z = pyro::sample("z", Bernoulli::new(0.3))?;
        pyro::observe(
            "x",
            Normal::new(&z.mul_scalar(3.0), 1.0),
            DynTensor::scalar(2.0),
        )?;
        Ok(())
    };
    let guide = || -> PyroResult<()> {
        let p = pyro::param("p_q", DynTensor::scalar(0.5), Constraint::UnitInterval)?;
        pyro::sample("z", Bernoulli::new(&p))?;
        Ok(())
    };
    let steps = 3000;
    let mut svi = Svi::new(
        model,
        guide,
        decaying_adam(0.05, steps),
        TraceElbo::with_particles(8),
    );
    for _ in 0..steps {
        svi.step(()).unwrap();
    }
    let lik = |z: f32| (-0.5 * (2.0 - 3.0 * z).powi(2)).exp();
    let post = 0.3 * lik(1.0) / (0.3 * lik(1.0) + 0.7 * lik(0.0));
    let p = get("p_q");
    assert!((p - post).abs() < 0.05, "q(z=1) = {p}, posterior {post}");
}

#[test]
fn predictive_reproduces_prior_predictive_moments() {
    pyro::set_rng_seed(4);
    let model = || -> PyroResult<()> {
        let z = pyro::sample("z", Normal::new(1.0, 2.0))?;
        pyro::sample("x", Normal::new(&z, 1.0))?;
        Ok(())
    };
    let n = 20_000;
    let out = Predictive::new(model, n).call(()).unwrap();
    let x: Vec<f64> = out["x"].to_vec().into_iter().map(|v| v as f64).collect();
    let mean = x.iter().sum::<f64>() / n as f64;
    let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    // x ~ N(1, sqrt(5)): mean within 4 s.e.; variance within 4 s.e. (normal: 2 sigma^4 / n).
    assert!(
        (mean - 1.0).abs() < 4.0 * (5.0 / n as f64).sqrt(),
        "mean {mean}"
    );
    assert!(
        (var - 5.0).abs() < 4.0 * (2.0 * 25.0 / n as f64).sqrt(),
        "var {var}"
    );
}

#[test]
fn predictive_with_a_trained_guide_samples_the_posterior() {
    pyro::set_rng_seed(5);
    pyro::clear_param_store();
    let x = data(&XS);
    let guide = AutoDiagonalNormal::new(normal_mean_model);
    let steps = 2000;
    let mut svi = Svi::new(
        normal_mean_model,
        guide,
        Adam::new(AdamConfig {
            lr: 0.05,
            ..Default::default()
        })
        .unwrap(),
        TraceElbo::default(),
    );
    for _ in 0..steps {
        svi.step((&x,)).unwrap();
    }
    let post = svi.guide().sample_posterior(4000).unwrap();
    let mu: Vec<f32> = post["mu"].to_vec();
    let mean = mu.iter().sum::<f32>() / mu.len() as f32;
    let (m, s) = normal_posterior(&XS);
    assert!((mean - m).abs() < 0.2 * s, "{mean} vs {m}");
    let pred = Predictive::with_guide(normal_mean_model, svi.guide().clone(), 100)
        .return_sites(&["mu"])
        .call((&x,))
        .unwrap();
    assert_eq!(pred["mu"].shape(), &[100]);
}

#[test]
fn evaluate_loss_and_a_mismatched_guide_names_the_site() {
    pyro::clear_param_store();
    let x = data(&XS);
    let bad_guide = |_: &DynTensor<Dev>| -> PyroResult<()> {
        pyro::sample("nu", Normal::new(0.0, 1.0))?;
        Ok(())
    };
    let mut svi = Svi::new(
        normal_mean_model,
        bad_guide,
        Adam::with_lr(0.01).unwrap(),
        TraceElbo::default(),
    );
    let err = svi.step((&x,)).unwrap_err();
    assert!(err.to_string().contains("`nu`"), "{err}");
    let guide = AutoNormal::new(normal_mean_model);
    let svi = Svi::new(
        normal_mean_model,
        guide,
        Adam::with_lr(0.01).unwrap(),
        TraceElbo::default(),
    );
    let loss = svi.evaluate_loss((&x,)).unwrap();
    assert!(loss.is_finite() && loss > 0.0);
}

/// A parameter read by the guide that the loss does not depend on gets a zero gradient (no
/// error, and Adam leaves it where it is), while the parameters in use train.
#[test]
fn a_parameter_the_loss_ignores_is_left_unchanged() {
    pyro::set_rng_seed(0);
    pyro::clear_param_store();
    let x = data(&XS);
    let guide = |_: &DynTensor<Dev>| -> PyroResult<()> {
        let loc = pyro::param("loc", DynTensor::scalar(0.0), Constraint::Real)?;
        let _unused = pyro::param("unused", DynTensor::scalar(3.0), Constraint::Real)?;
        pyro::sample("mu", Normal::new(&loc, 1.0))?;
        Ok(())
    };
    let mut svi = Svi::new(
        normal_mean_model,
        guide,
        Adam::with_lr(0.05).unwrap(),
        TraceElbo::default(),
    );
    for _ in 0..20 {
        svi.step((&x,)).unwrap();
    }
    assert_eq!(get("unused"), 3.0);
    // From 0 towards the posterior mean (about 1.27): 20 noisy steps of at most 0.05 each
    // reach 0.48 to 0.86 over seeds 0 to 11.
    assert!(get("loc") > 0.3, "loc {}", get("loc"));
}

/// log p(x) of the normal-mean model, by the chain rule of sequential predictive densities.
fn log_evidence(x: &[f32]) -> f64 {
    let (mut m, mut v) = (0.0f64, 100.0f64);
    let mut total = 0.0;
    for &xi in x {
        let xi = xi as f64;
        let pv = v + 1.0;
        total += -0.5 * (xi - m).powi(2) / pv - 0.5 * (2.0 * std::f64::consts::PI * pv).ln();
        let nv = 1.0 / (1.0 / v + 1.0);
        m = nv * (m / v + xi);
        v = nv;
    }
    total
}

/// With the guide set to the exact posterior, `log p(x, z) - log q(z) = log p(x)` for every
/// z: both ELBOs must return minus the analytic log evidence.
#[test]
fn elbo_at_the_exact_posterior_is_the_log_evidence() {
    use pyro::infer::TraceMeanFieldElbo;
    pyro::clear_param_store();
    let x = data(&XS);
    let (m, s) = normal_posterior(&XS);
    let guide = move |_: &DynTensor<Dev>| -> PyroResult<()> {
        let loc = pyro::param("post_loc", DynTensor::scalar(m), Constraint::Real)?;
        let scale = pyro::param("post_scale", DynTensor::scalar(s), Constraint::Positive)?;
        pyro::sample("mu", Normal::new(&loc, &scale))?;
        Ok(())
    };
    let want = -log_evidence(&XS);
    let svi = Svi::new(
        normal_mean_model,
        guide,
        Adam::with_lr(0.01).unwrap(),
        TraceElbo::default(),
    );
    for _ in 0..5 {
        let loss = svi.evaluate_loss((&x,)).unwrap() as f64;
        assert!((loss - want).abs() < 2e-3 * want.abs(), "{loss} vs {want}");
    }
    // Vectorized particles: the same value from one run with 64 particles in a plate.
    let vectorized = TraceElbo {
        num_particles: 64,
        vectorize_particles: true,
        max_plate_nesting: 1,
    };
    let svi = Svi::new(
        normal_mean_model,
        guide,
        Adam::with_lr(0.01).unwrap(),
        vectorized,
    );
    let loss = svi.evaluate_loss((&x,)).unwrap() as f64;
    assert!(
        (loss - want).abs() < 2e-3 * want.abs(),
        "vectorized: {loss} vs {want}"
    );
    pyro::set_rng_seed(7);
    let elbo = TraceMeanFieldElbo { num_particles: 400 };
    let svi = Svi::new(normal_mean_model, guide, Adam::with_lr(0.01).unwrap(), elbo);
    let loss = svi.evaluate_loss((&x,)).unwrap() as f64;
    // The analytic KL replaces the prior term; the likelihood term is still sampled (its
    // standard deviation over 400 particles is about 0.03).
    assert!((loss - want).abs() < 0.15, "{loss} vs {want}");
}

#[test]
fn trace_mean_field_elbo_trains_a_mean_field_guide() {
    use pyro::infer::TraceMeanFieldElbo;
    fit_and_check("mf", TraceMeanFieldElbo { num_particles: 4 }, 3000, 6);
}

#[test]
fn vectorized_particles_train_a_guide() {
    let elbo = TraceElbo {
        num_particles: 16,
        vectorize_particles: true,
        max_plate_nesting: 1,
    };
    fit_and_check("v", elbo, 1500, 8);
}

/// z_i ~ N(0, 1), y_i ~ N(z_i, 1) for 24 groups, seen 6 at a time: the posterior of each z_i is
/// N(y_i / 2, 1/√2), whatever the minibatch.
fn local_latent_model(y: &DynTensor<Dev>) -> PyroResult<()> {
    pyro::plate("groups", 24).subsample_size(6).run(|p| {
        let z = pyro::sample("z", Normal::new(0.0, 1.0))?;
        pyro::observe("y", Normal::new(&z, 1.0), p.subsample(y, 0)?)
    })?;
    Ok(())
}

#[test]
fn autonormal_learns_local_latents_of_a_subsampled_plate() {
    pyro::set_rng_seed(3);
    pyro::clear_param_store();
    let ys: Vec<f32> = (0..24).map(|i| (i as f32 - 11.5) * 0.25).collect();
    let y = data(&ys);
    let steps = 4000;
    let mut svi = Svi::new(
        local_latent_model,
        AutoNormal::new(local_latent_model),
        decaying_adam(0.05, steps),
        TraceElbo::with_particles(4),
    );
    for _ in 0..steps {
        svi.step((&y,)).unwrap();
    }
    // The guide keeps one loc and scale per group (full size), indexed by each step's batch.
    let loc = pyro::params::get_param::<Dev>("AutoNormal.locs.z")
        .unwrap()
        .unwrap()
        .to_vec();
    let scale = pyro::params::get_param::<Dev>("AutoNormal.scales.z")
        .unwrap()
        .unwrap()
        .to_vec();
    assert_eq!((loc.len(), scale.len()), (24, 24));
    let s = std::f32::consts::FRAC_1_SQRT_2;
    for i in 0..24 {
        assert!(
            (loc[i] - ys[i] / 2.0).abs() < 0.12 * s,
            "loc[{i}] {} vs {}",
            loc[i],
            ys[i] / 2.0
        );
        assert!(
            (scale[i] - s).abs() < 0.15 * s,
            "scale[{i}] {} vs {s}",
            scale[i]
        );
    }
    // The guide's batch is the model's: its subsample site is replayed.
    let tr = pyro::poutine::trace(svi.guide().clone())
        .get_trace((&y,))
        .unwrap();
    let guide_z = tr.get("z").unwrap();
    assert_eq!(guide_z.value.shape(), &[6]);
    assert_eq!(guide_z.scale, 4.0);
    assert_eq!(svi.guide().median().unwrap()["z"].shape(), &[24]);
}

#[test]
fn autocontinuous_guides_name_a_latent_site_in_a_subsampled_plate() {
    pyro::clear_param_store();
    let y = data(&[0.0; 24]);
    let guide = AutoDiagonalNormal::new(local_latent_model);
    let mut svi = Svi::new(
        local_latent_model,
        guide,
        Adam::with_lr(0.01).unwrap(),
        TraceElbo::default(),
    );
    let err = svi.step((&y,)).unwrap_err().to_string();
    assert!(err.contains("`z`") && err.contains("subsampled"), "{err}");
}

#[test]
fn autodelta_finds_the_modes_of_local_latents_of_a_subsampled_plate() {
    pyro::set_rng_seed(4);
    pyro::clear_param_store();
    let ys: Vec<f32> = (0..24).map(|i| (i as f32 - 11.5) * 0.25).collect();
    let y = data(&ys);
    let mut svi = Svi::new(
        local_latent_model,
        pyro::infer::autoguide::AutoDelta::new(local_latent_model),
        decaying_adam(0.05, 2000),
        TraceElbo::default(),
    );
    for _ in 0..2000 {
        svi.step((&y,)).unwrap();
    }
    // MAP of z_i given y_i: y_i / 2, for every group (full size), each learnt from its batches.
    let z = svi.guide().median().unwrap()["z"].to_vec();
    assert_eq!(z.len(), 24);
    for i in 0..24 {
        assert!(
            (z[i] - ys[i] / 2.0).abs() < 0.02,
            "z[{i}] {} vs {}",
            z[i],
            ys[i] / 2.0
        );
    }
}

/// `mu ~ N(0, 1)`, `twice = 2 mu` (deterministic), `x_i ~ N(mu, 0.001)` for three values.
fn shift_model() -> PyroResult<()> {
    let mu = pyro::sample("mu", Normal::new(0.0, 1.0))?;
    pyro::deterministic("twice", mu.mul_scalar(2.0), 0)?;
    pyro::plate("data", 3).run(|_| pyro::sample("x", Normal::new(&mu, 0.001)))?;
    Ok(())
}

#[test]
fn predictive_with_posterior_samples_runs_the_model_on_each_draw() {
    pyro::set_rng_seed(0);
    let samples = HashMap::from([("mu".to_string(), data(&[1.0, 2.0, 3.0, 4.0]))]);
    let out = Predictive::with_samples(shift_model, samples.clone())
        .unwrap()
        .call(())
        .unwrap();
    // The given site is not returned by default; the others have a leading dim of 4.
    assert!(!out.contains_key("mu"));
    assert_eq!(out["twice"].to_vec(), vec![2.0, 4.0, 6.0, 8.0]);
    assert_eq!(out["x"].shape(), &[4, 3]);
    for (i, row) in out["x"].to_vec().chunks(3).enumerate() {
        for x in row {
            assert!((x - (i + 1) as f32).abs() < 0.01, "draw {i}: {row:?}");
        }
    }
    let only = Predictive::with_samples(shift_model, samples)
        .unwrap()
        .return_sites(&["mu"])
        .call(())
        .unwrap();
    assert_eq!(only.len(), 1);
    assert_eq!(only["mu"].to_vec(), vec![1.0, 2.0, 3.0, 4.0]);
}

#[test]
fn predictive_samples_without_a_common_leading_dim_are_refused() {
    let uneven = HashMap::from([
        ("mu".to_string(), data(&[1.0, 2.0])),
        ("x".to_string(), DynTensor::zeros(&[3, 3])),
    ]);
    let err = Predictive::with_samples(shift_model, uneven)
        .err()
        .expect("uneven sample counts")
        .to_string();
    assert!(err.contains("samples, other sites have"), "{err}");
    let scalar = HashMap::from([("mu".to_string(), DynTensor::scalar(1.0))]);
    let err = Predictive::with_samples(shift_model, scalar)
        .err()
        .expect("no sample dim")
        .to_string();
    assert_eq!(
        err,
        "site `mu`: posterior samples need a leading sample dimension"
    );
}

/// A guide that puts `p` outside the model's support: the step fails and names the site, both
/// with validation (a support error) and without it (a non-finite log-probability).
#[test]
fn a_step_with_a_non_finite_loss_names_the_site() {
    let model = || -> PyroResult<()> {
        pyro::sample("p", Beta::new(2.0, 2.0))?;
        Ok(())
    };
    let guide = || -> PyroResult<()> {
        let loc = pyro::param("q_loc", DynTensor::scalar(1.5), Constraint::Real)?;
        pyro::sample("p", Normal::new(&loc, 1e-3))?;
        Ok(())
    };
    for validate in [true, false] {
        pyro::clear_param_store();
        pyro::enable_validation(validate);
        let mut svi = Svi::new(
            model,
            guide,
            Adam::with_lr(0.01).unwrap(),
            TraceElbo::default(),
        );
        let err = svi.step(());
        pyro::enable_validation(true);
        let err = err.unwrap_err().to_string();
        let want = if validate {
            "site `p`: Beta: value outside the support `unit_interval`"
        } else {
            "site `p`: log-probability is -inf"
        };
        assert!(err.starts_with(want), "validation {validate}: {err}");
        // Nothing was updated.
        assert_eq!(get("q_loc"), 1.5);
    }
}
