//! Every autoguide on hierarchical models (a latent per group), checked against posteriors
//! that no part of this project computed: `tests/fixtures/hierarchical_posteriors.json`,
//! written by `scripts/hierarchical_posteriors.py` (exact Gaussian posteriors by numpy linear
//! algebra; long NumPyro NUTS runs elsewhere, with their Monte Carlo errors).
//!
//! - `schools_known_tau`: the eight-schools shape with a known group scale, centred and
//!   non-centred. The posterior is Gaussian, so every family's own optimum is known in closed
//!   form: the exact mean for every Gaussian family; the exact covariance for
//!   AutoMultivariateNormal and the Laplace approximation; variances `1 / precision_ii` for
//!   the mean-field guides (AutoNormal, AutoDiagonalNormal); the mode (= mean) for the MAP
//!   guides (AutoDelta, AutoLaplaceApproximation).
//! - `schools_informative`: the same with an unknown scale `tau ~ HalfNormal(10)`, centred and
//!   non-centred; the posterior is close to Gaussian in `(mu, ln tau, theta)`, and
//!   AutoMultivariateNormal recovers its means within 0.1 posterior sd.
//! - `schools_classic`: Rubin's eight schools (non-centred), the textbook hard case: a funnel
//!   in `ln tau`; checked loosely.
//! - `nested_positive`: a global mean, a Gamma scale per group (plate at dim -2) and a
//!   LogNormal rate per group and item (a plate nested inside, dim -1), Poisson counts.
//!
//! Each case also runs with vectorized particles.

mod common;

use std::collections::HashMap;

use common::{decaying_adam, moments};
use pyro::infer::autoguide::{
    AutoDelta, AutoDiagonalNormal, AutoGuide, AutoLaplaceApproximation,
    AutoLowRankMultivariateNormal, AutoMultivariateNormal, AutoNormal,
};
use pyro::infer::{Svi, TraceElbo};
use pyro::poutine::Program;
use pyro::prelude::*;
use pyro::PyroResult;
use serde_json::Value;

type Dev = pyro::DefaultDevice;
type T = DynTensor<Dev>;
type Draws = HashMap<String, T>;

// ---------------------------------------------------------------------------------------
// The fixture

fn fixture() -> Value {
    let text = include_str!("fixtures/hierarchical_posteriors.json");
    serde_json::from_str(text).expect("the fixture is valid JSON")
}

fn floats(v: &Value) -> Vec<f64> {
    match v {
        Value::Array(a) => a.iter().flat_map(floats).collect(),
        Value::Number(n) => vec![n.as_f64().unwrap()],
        other => panic!("not a number or array: {other}"),
    }
}

fn tensor(v: &Value) -> T {
    let x: Vec<f32> = floats(v).into_iter().map(|x| x as f32).collect();
    let shape = shape_of(v);
    T::from_vec(x, &shape).unwrap()
}

fn shape_of(v: &Value) -> Vec<usize> {
    match v {
        Value::Array(a) => {
            let mut s = vec![a.len()];
            if let Some(first) = a.first() {
                s.extend(shape_of(first));
            }
            s
        }
        _ => vec![],
    }
}

/// A posterior over named coordinates (`mu`, `tau`, `theta[3]`, `z[1,2]`), in the
/// unconstrained space of Pyro's `biject_to` (`ln` of positive sites).
struct Reference {
    coords: Vec<String>,
    mean: Vec<f64>,
    cov: Vec<Vec<f64>>,
}

impl Reference {
    fn from(v: &Value) -> Self {
        let coords = v["coordinates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap().to_string())
            .collect::<Vec<_>>();
        let cov = v["cov"]
            .as_array()
            .unwrap()
            .iter()
            .map(floats)
            .collect::<Vec<_>>();
        assert_eq!(cov.len(), coords.len());
        Reference {
            mean: floats(&v["mean"]),
            coords,
            cov,
        }
    }

    fn sd(&self, j: usize) -> f64 {
        self.cov[j][j].sqrt()
    }
}

/// The site of a coordinate name: `theta[3]` -> `theta`.
fn site_of(coord: &str) -> &str {
    coord.split('[').next().unwrap()
}

/// Posterior draws mapped to the reference's coordinates, one row per draw; `positive`
/// sites are taken on the log scale.
fn rows(draws: &Draws, r: &Reference, positive: &[&str]) -> Vec<Vec<f64>> {
    let mut columns: Vec<Vec<f64>> = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    for c in &r.coords {
        let site = site_of(c);
        if seen.contains(&site) {
            continue;
        }
        seen.push(site);
        let v = &draws[site];
        let n = v.shape()[0];
        let per = v.numel() / n;
        let vals = v.to_vec();
        for k in 0..per {
            columns.push(
                (0..n)
                    .map(|i| {
                        let x = vals[i * per + k] as f64;
                        if positive.contains(&site) {
                            x.ln()
                        } else {
                            x
                        }
                    })
                    .collect(),
            );
        }
    }
    assert_eq!(columns.len(), r.coords.len(), "coordinates of {seen:?}");
    let n = columns[0].len();
    (0..n)
        .map(|i| columns.iter().map(|c| c[i]).collect())
        .collect()
}

/// The largest `|mean - reference mean| / reference sd` over the coordinates.
fn worst_mean_error(mean: &[f64], r: &Reference) -> (f64, String) {
    (0..r.coords.len())
        .map(|j| ((mean[j] - r.mean[j]).abs() / r.sd(j), r.coords[j].clone()))
        .fold((0.0, String::new()), |a, b| if b.0 > a.0 { b } else { a })
}

/// The largest covariance error in correlation units: `|c_jk - ref_jk| / (sd_j sd_k)`.
fn worst_cov_error(cov: &[Vec<f64>], r: &Reference) -> (f64, String) {
    let mut worst = (0.0, String::new());
    for (j, (row, ref_row)) in cov.iter().zip(&r.cov).enumerate() {
        for (k, (c, want)) in row.iter().zip(ref_row).enumerate() {
            let e = (c - want).abs() / (r.sd(j) * r.sd(k));
            if e > worst.0 {
                worst = (e, format!("{}/{}", r.coords[j], r.coords[k]));
            }
        }
    }
    worst
}

/// The largest `|sd - want| / want` over the coordinates.
fn worst_sd_error(cov: &[Vec<f64>], want: &[f64], r: &Reference) -> (f64, String) {
    (0..r.coords.len())
        .map(|j| {
            (
                (cov[j][j].sqrt() - want[j]).abs() / want[j],
                r.coords[j].clone(),
            )
        })
        .fold((0.0, String::new()), |a, b| if b.0 > a.0 { b } else { a })
}

// ---------------------------------------------------------------------------------------
// The models

/// The eight-schools data: observed effects and their known standard errors.
#[derive(Clone)]
struct Schools {
    y: T,
    sigma: T,
}

impl Schools {
    fn from(data: &Value) -> Self {
        Schools {
            y: tensor(&data["y"]),
            sigma: tensor(&data["sigma"]),
        }
    }

    fn n(&self) -> usize {
        self.y.shape()[0]
    }
}

/// How the group scale enters: known, `HalfNormal(10)` or `HalfCauchy(5)`.
#[derive(Clone, Copy)]
enum Tau {
    Known(f32),
    HalfNormal(f32),
    HalfCauchy(f32),
}

fn group_scale(tau: Tau) -> PyroResult<T> {
    match tau {
        Tau::Known(t) => Ok(T::scalar(t)),
        Tau::HalfNormal(s) => pyro::sample("tau", HalfNormal::new(s)),
        Tau::HalfCauchy(s) => pyro::sample("tau", HalfCauchy::new(s)),
    }
}

/// `mu ~ N(0, mu_scale)`, `theta_j ~ N(mu, tau)`, `y_j ~ N(theta_j, sigma_j)`.
fn centred(d: &Schools, mu_scale: f32, tau: Tau) -> PyroResult<()> {
    let mu = pyro::sample("mu", Normal::new(0.0, mu_scale))?;
    let tau = group_scale(tau)?;
    pyro::plate("schools", d.n()).run(|_| {
        let theta = pyro::sample("theta", Normal::new(&mu, &tau))?;
        pyro::observe("y", Normal::new(&theta, &d.sigma), d.y.clone())
    })?;
    Ok(())
}

/// `theta_raw_j ~ N(0, 1)`, `theta = mu + tau theta_raw` (recorded as a deterministic site).
fn non_centred(d: &Schools, mu_scale: f32, tau: Tau) -> PyroResult<()> {
    let mu = pyro::sample("mu", Normal::new(0.0, mu_scale))?;
    let tau = group_scale(tau)?;
    pyro::plate("schools", d.n()).run(|_| {
        let raw = pyro::sample("theta_raw", Normal::new(0.0, 1.0))?;
        let theta = pyro::deterministic("theta", mu.add(&tau.mul(&raw)?)?, 0)?;
        pyro::observe("y", Normal::new(&theta, &d.sigma), d.y.clone())
    })?;
    Ok(())
}

/// `mu ~ N(0, 1)`; per group `s ~ Gamma(4, 4)`; per group and item `z ~ LogNormal(mu, s)`,
/// `y ~ Poisson(5 z)`.
fn nested_positive(y: &T) -> PyroResult<()> {
    let (groups, items) = (y.shape()[0], y.shape()[1]);
    let mu = pyro::sample("mu", Normal::new(0.0, 1.0))?;
    pyro::plate("groups", groups).dim(-2).run(|_| {
        let s = pyro::sample("s", Gamma::new(4.0, 4.0))?;
        pyro::plate("items", items).dim(-1).run(|_| {
            let z = pyro::sample("z", LogNormal::new(&mu, &s))?;
            pyro::observe("y", Poisson::new(z.mul_scalar(5.0)), y.clone())
        })
    })?;
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Fitting

/// How a guide is fitted: steps of decaying ClippedAdam from `lr`, `particles` per step.
#[derive(Clone, Copy)]
struct Fit {
    steps: usize,
    lr: f32,
    particles: usize,
    vectorized: bool,
    max_plate_nesting: usize,
    seed: u64,
}

const FIT: Fit = Fit {
    steps: 3000,
    lr: 0.1,
    particles: 4,
    vectorized: false,
    max_plate_nesting: 1,
    seed: 0,
};

fn fit<M, G>(model: M, guide: G, f: Fit) -> G
where
    M: Program<()>,
    G: Program<()> + Clone,
{
    pyro::set_rng_seed(f.seed);
    pyro::clear_param_store();
    let elbo = TraceElbo {
        num_particles: f.particles,
        vectorize_particles: f.vectorized,
        max_plate_nesting: f.max_plate_nesting,
    };
    let mut svi = Svi::new(model, guide, decaying_adam(f.lr, f.steps), elbo);
    for step in 0..f.steps {
        let loss = svi.step(()).unwrap();
        assert!(loss.is_finite(), "step {step}: loss {loss}");
    }
    svi.guide().clone()
}

const DRAWS: usize = 20_000;

/// The moments of a fitted guide's posterior draws in the reference's coordinates.
fn guide_moments(
    guide: &impl AutoGuide<Dev>,
    r: &Reference,
    positive: &[&str],
) -> (Vec<f64>, Vec<Vec<f64>>) {
    moments(&rows(&guide.sample_posterior(DRAWS).unwrap(), r, positive))
}

/// The guide's median in the reference's coordinates.
fn median_coords(guide: &impl AutoGuide<Dev>, r: &Reference, positive: &[&str]) -> Vec<f64> {
    let med: Draws = guide
        .median()
        .unwrap()
        .into_iter()
        .map(|(k, v)| {
            let mut shape = vec![1];
            shape.extend_from_slice(v.shape());
            (k, v.reshape(&shape).unwrap())
        })
        .collect();
    rows(&med, r, positive).remove(0)
}

// ---------------------------------------------------------------------------------------
// schools_known_tau: every family's own optimum, in closed form

struct Gaussian {
    reference: Reference,
    mean_field_sd: Vec<f64>,
}

fn known_tau(variant: &str) -> (Schools, f32, Gaussian) {
    let f = fixture();
    let case = &f["cases"]["schools_known_tau"];
    let d = Schools::from(&case["data"]);
    let tau = case["data"]["tau"].as_f64().unwrap() as f32;
    let v = &case[variant];
    let g = Gaussian {
        reference: Reference::from(v),
        mean_field_sd: floats(&v["mean_field"]["sd"]),
    };
    (d, tau, g)
}

/// Tolerance in posterior sds (and correlation units) for the stochastic fits; over seeds
/// 0-5 the fits land well inside it (see the README's "How inference is checked").
const TOL: f64 = 0.1;

fn check_full_covariance(who: &str, guide: &impl AutoGuide<Dev>, g: &Gaussian) {
    let (m, c) = guide_moments(guide, &g.reference, &[]);
    let (e, at) = worst_mean_error(&m, &g.reference);
    assert!(e < TOL, "{who}: mean off by {e:.3} sd at {at}");
    let (e, at) = worst_cov_error(&c, &g.reference);
    assert!(e < TOL, "{who}: covariance off by {e:.3} at {at}");
}

fn check_mean_field(who: &str, guide: &impl AutoGuide<Dev>, g: &Gaussian) {
    let (m, c) = guide_moments(guide, &g.reference, &[]);
    let (e, at) = worst_mean_error(&m, &g.reference);
    assert!(e < TOL, "{who}: mean off by {e:.3} sd at {at}");
    let (e, at) = worst_sd_error(&c, &g.mean_field_sd, &g.reference);
    assert!(
        e < TOL,
        "{who}: sd off the mean-field optimum by {:.1}% at {at}",
        e * 100.0
    );
}

fn check_mode(who: &str, guide: &impl AutoGuide<Dev>, g: &Gaussian) {
    let m = median_coords(guide, &g.reference, &[]);
    let (e, at) = worst_mean_error(&m, &g.reference);
    // A point estimate converges without sampling noise.
    assert!(e < 0.02, "{who}: mode off by {e:.3} sd at {at}");
}

macro_rules! known_tau_tests {
    ($variant:literal, $model:ident, $mvn:ident, $lowrank:ident, $diag:ident, $normal:ident,
     $delta:ident, $laplace:ident) => {
        #[test]
        fn $mvn() {
            let (d, tau, g) = known_tau($variant);
            let model = move || $model(&d, 10.0, Tau::Known(tau));
            let guide = fit(model.clone(), AutoMultivariateNormal::new(model), FIT);
            check_full_covariance("AutoMultivariateNormal", &guide, &g);
        }

        #[test]
        fn $lowrank() {
            // Any Gaussian family with a free mean has the exact mean as its optimum.
            let (d, tau, g) = known_tau($variant);
            let model = move || $model(&d, 10.0, Tau::Known(tau));
            let guide = fit(
                model.clone(),
                AutoLowRankMultivariateNormal::new(model),
                FIT,
            );
            let (m, _) = guide_moments(&guide, &g.reference, &[]);
            let (e, at) = worst_mean_error(&m, &g.reference);
            assert!(
                e < TOL,
                "AutoLowRankMultivariateNormal: mean off by {e:.3} sd at {at}"
            );
        }

        #[test]
        fn $diag() {
            let (d, tau, g) = known_tau($variant);
            let model = move || $model(&d, 10.0, Tau::Known(tau));
            let guide = fit(model.clone(), AutoDiagonalNormal::new(model), FIT);
            check_mean_field("AutoDiagonalNormal", &guide, &g);
        }

        #[test]
        fn $normal() {
            let (d, tau, g) = known_tau($variant);
            let model = move || $model(&d, 10.0, Tau::Known(tau));
            let guide = fit(model.clone(), AutoNormal::new(model), FIT);
            check_mean_field("AutoNormal", &guide, &g);
        }

        #[test]
        fn $delta() {
            let (d, tau, g) = known_tau($variant);
            let model = move || $model(&d, 10.0, Tau::Known(tau));
            let guide = fit(model.clone(), AutoDelta::new(model), FIT);
            check_mode("AutoDelta", &guide, &g);
        }

        #[test]
        fn $laplace() {
            let (d, tau, g) = known_tau($variant);
            let model = move || $model(&d, 10.0, Tau::Known(tau));
            let guide = fit(
                model.clone(),
                AutoLaplaceApproximation::new(model.clone()),
                FIT,
            );
            check_mode("AutoLaplaceApproximation", &guide, &g);
            // The Hessian of a Gaussian log-density is its precision: exact covariance.
            let gaussian = guide.laplace_approximation(()).unwrap();
            check_full_covariance("laplace_approximation", &gaussian, &g);
        }
    };
}

known_tau_tests!(
    "centred",
    centred,
    known_tau_centred_automultivariatenormal_recovers_mean_and_covariance,
    known_tau_centred_autolowrank_recovers_the_mean,
    known_tau_centred_autodiagonalnormal_lands_on_the_mean_field_optimum,
    known_tau_centred_autonormal_lands_on_the_mean_field_optimum,
    known_tau_centred_autodelta_finds_the_mode,
    known_tau_centred_laplace_finds_the_mode_and_the_covariance
);

known_tau_tests!(
    "non_centred",
    non_centred,
    known_tau_non_centred_automultivariatenormal_recovers_mean_and_covariance,
    known_tau_non_centred_autolowrank_recovers_the_mean,
    known_tau_non_centred_autodiagonalnormal_lands_on_the_mean_field_optimum,
    known_tau_non_centred_autonormal_lands_on_the_mean_field_optimum,
    known_tau_non_centred_autodelta_finds_the_mode,
    known_tau_non_centred_laplace_finds_the_mode_and_the_covariance
);

#[test]
fn known_tau_vectorized_particles_land_on_the_same_optima() {
    let (d, tau, g) = known_tau("centred");
    let model = move || centred(&d, 10.0, Tau::Known(tau));
    let f = Fit {
        particles: 8,
        vectorized: true,
        ..FIT
    };
    let guide = fit(model.clone(), AutoMultivariateNormal::new(model.clone()), f);
    check_full_covariance("AutoMultivariateNormal (vectorized)", &guide, &g);
    let guide = fit(model.clone(), AutoDiagonalNormal::new(model.clone()), f);
    check_mean_field("AutoDiagonalNormal (vectorized)", &guide, &g);
    let guide = fit(model.clone(), AutoNormal::new(model.clone()), f);
    check_mean_field("AutoNormal (vectorized)", &guide, &g);
    let guide = fit(model.clone(), AutoLowRankMultivariateNormal::new(model), f);
    let (m, _) = guide_moments(&guide, &g.reference, &[]);
    let (e, at) = worst_mean_error(&m, &g.reference);
    assert!(
        e < TOL,
        "AutoLowRank (vectorized): mean off by {e:.3} sd at {at}"
    );
}

// ---------------------------------------------------------------------------------------
// NUTS references: unknown scales, positive latents, nested plates

/// A NUTS reference case and its unconstrained coordinates.
fn nuts(case: &str, variant: &str) -> (Value, Reference) {
    let f = fixture();
    let c = f["cases"][case].clone();
    let r = Reference::from(&c[variant]["unconstrained"]);
    (c, r)
}

/// The worst mean error (in NUTS posterior sds, unconstrained space) each guide family may
/// have on a case, and the coordinates left out for the MAP guides.
struct Tolerances {
    mvn: f64,
    low_rank: f64,
    mean_field: f64,
    /// `None`: the joint posterior has no mode (a funnel: the density grows without bound as
    /// a group scale goes to 0), so the MAP guides are only checked to stay finite.
    map: Option<(f64, &'static [&'static str])>,
}

/// The worst mean error over the coordinates whose site is not in `skip`.
fn worst_mean_error_without(mean: &[f64], r: &Reference, skip: &[&str]) -> (f64, String) {
    (0..r.coords.len())
        .filter(|&j| !skip.contains(&site_of(&r.coords[j])))
        .map(|j| ((mean[j] - r.mean[j]).abs() / r.sd(j), r.coords[j].clone()))
        .fold((0.0, String::new()), |a, b| if b.0 > a.0 { b } else { a })
}

/// Fits all six guide families and checks each one's posterior means against the NUTS
/// reference with its family's tolerance; MAP guides are checked for finite, in-support
/// values and, where the joint mode exists, for its distance to the posterior mean.
fn check_all_guides<M>(model: M, r: &Reference, positive: &[&str], f: Fit, tol: Tolerances)
where
    M: Program<()> + Clone,
{
    let check = |who: &str, m: Vec<f64>, tol: f64| {
        let (e, at) = worst_mean_error(&m, r);
        assert!(
            e < tol,
            "{who}: mean off by {e:.3} sd at {at} (tolerance {tol})"
        );
    };
    let g = fit(model.clone(), AutoMultivariateNormal::new(model.clone()), f);
    check(
        "AutoMultivariateNormal",
        guide_moments(&g, r, positive).0,
        tol.mvn,
    );
    let g = fit(
        model.clone(),
        AutoLowRankMultivariateNormal::new(model.clone()),
        f,
    );
    check(
        "AutoLowRank",
        guide_moments(&g, r, positive).0,
        tol.low_rank,
    );
    let g = fit(model.clone(), AutoDiagonalNormal::new(model.clone()), f);
    check(
        "AutoDiagonalNormal",
        guide_moments(&g, r, positive).0,
        tol.mean_field,
    );
    let g = fit(model.clone(), AutoNormal::new(model.clone()), f);
    check(
        "AutoNormal",
        guide_moments(&g, r, positive).0,
        tol.mean_field,
    );
    let map_check = |who: &str, m: Vec<f64>| {
        assert!(m.iter().all(|x| x.is_finite()), "{who}: {m:?}");
        if let Some((t, skip)) = tol.map {
            let (e, at) = worst_mean_error_without(&m, r, skip);
            assert!(
                e < t,
                "{who}: mode off the mean by {e:.3} sd at {at} (tolerance {t})"
            );
        }
    };
    let g = fit(model.clone(), AutoDelta::new(model.clone()), f);
    map_check("AutoDelta", median_coords(&g, r, positive));
    let g = fit(
        model.clone(),
        AutoLaplaceApproximation::new(model.clone()),
        f,
    );
    map_check("AutoLaplaceApproximation", median_coords(&g, r, positive));
}

#[test]
fn informative_schools_centred_every_guide_against_nuts() {
    let (c, r) = nuts("schools_informative", "centred");
    let d = Schools::from(&c["data"]);
    let model = move || centred(&d, 10.0, Tau::HalfNormal(10.0));
    // Measured (seed 0): MVN 0.072, low-rank 0.074, mean-field 0.21 (tau: mean-field
    // guides are biased on a group scale).
    let tol = Tolerances {
        mvn: TOL,
        low_rank: 0.15,
        mean_field: 0.35,
        map: None,
    };
    check_all_guides(model, &r, &["tau"], FIT, tol);
}

#[test]
fn informative_schools_non_centred_every_guide_against_nuts() {
    let (c, r) = nuts("schools_informative", "non_centred");
    let d = Schools::from(&c["data"]);
    let model = move || non_centred(&d, 10.0, Tau::HalfNormal(10.0));
    // Less Gaussian than the centred form (skewness up to 0.3 in theta_raw): the MVN
    // family's optimum itself sits about 0.1 sd off in tau. Measured: MVN 0.084 / 0.109
    // (seeds 0 / 1), low-rank 0.10, mean-field 0.39. The non-centred joint density is
    // bounded, so its mode exists; it sits off the mean in `tau`.
    let tol = Tolerances {
        mvn: 0.15,
        low_rank: 0.15,
        mean_field: 0.5,
        map: Some((MAP_TOL, &["tau"])),
    };
    check_all_guides(model, &r, &["tau"], FIT, tol);
}

/// How far the joint mode of `(mu, theta_raw)` may sit from their posterior means: a sanity
/// bound, not an optimum (the mode is not the mean; measured up to 1.02 sd).
const MAP_TOL: f64 = 1.5;

#[test]
fn classic_eight_schools_non_centred_every_guide_against_nuts() {
    let (c, r) = nuts("schools_classic", "non_centred");
    let d = Schools::from(&c["data"]);
    let model = move || non_centred(&d, 5.0, Tau::HalfCauchy(5.0));
    // Measured (seed 0): every Gaussian family within 0.04 sd.
    let tol = Tolerances {
        mvn: 0.15,
        low_rank: 0.15,
        mean_field: 0.15,
        map: Some((MAP_TOL, &["tau"])),
    };
    check_all_guides(model, &r, &["tau"], FIT, tol);
}

#[test]
fn nested_positive_latents_every_guide_against_nuts() {
    let (c, r) = nuts("nested_positive", "centred");
    let y = tensor(&c["data"]["y"]);
    let model = move || nested_positive(&y);
    let f = Fit {
        max_plate_nesting: 2,
        ..FIT
    };
    // The posterior is skewed in log space (skewness down to -0.86), so no Gaussian guide is
    // exact. Measured (seed 0): MVN 0.126, low-rank 0.16, mean-field 0.26; the joint density
    // is unbounded as a group's `s` goes to 0 (a funnel), so the MAP guides have no optimum.
    let tol = Tolerances {
        mvn: 0.2,
        low_rank: 0.25,
        mean_field: 0.4,
        map: None,
    };
    check_all_guides(model, &r, &["s", "z"], f, tol);
}

#[test]
fn vectorized_particles_on_the_nuts_cases() {
    let f = Fit {
        particles: 8,
        vectorized: true,
        ..FIT
    };
    let (c, r) = nuts("schools_informative", "centred");
    let d = Schools::from(&c["data"]);
    let model = move || centred(&d, 10.0, Tau::HalfNormal(10.0));
    let g = fit(model.clone(), AutoMultivariateNormal::new(model.clone()), f);
    let (e, at) = worst_mean_error(&guide_moments(&g, &r, &["tau"]).0, &r);
    assert!(
        e < TOL,
        "schools, vectorized AutoMultivariateNormal: {e:.3} sd at {at}"
    );

    let (c, r) = nuts("nested_positive", "centred");
    let y = tensor(&c["data"]["y"]);
    let model = move || nested_positive(&y);
    let f = Fit {
        max_plate_nesting: 2,
        ..f
    };
    let g = fit(model.clone(), AutoMultivariateNormal::new(model.clone()), f);
    let (e, at) = worst_mean_error(&guide_moments(&g, &r, &["s", "z"]).0, &r);
    assert!(
        e < 0.2,
        "nested, vectorized AutoMultivariateNormal: {e:.3} sd at {at}"
    );
    let g = fit(model.clone(), AutoNormal::new(model.clone()), f);
    let (e, at) = worst_mean_error(&guide_moments(&g, &r, &["s", "z"]).0, &r);
    assert!(e < 0.4, "nested, vectorized AutoNormal: {e:.3} sd at {at}");
}
