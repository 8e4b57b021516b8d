//! The seed examples written with the DSL (`#[model]`, `#[guide]`, the site macros): a coin
//! flip, a learnable coin, 100 flips in a plate, a subsampled plate, and the rugged
//! regression of Pyro's intro tutorial with its hand-written mean-field guide, run under
//! `trace` and `replay`. Then the run-time model/guide check (`pyro::dsl::check_model_guide`)
//! on what the macros cannot see, with the wording of the compile-time errors.

use std::collections::HashMap;

use pyro::poutine::{self, SiteKind};
use pyro::prelude::*;

type Dev = pyro::DefaultDevice;
type T1 = Tensor<(usize,)>;

fn tensor1(values: Vec<f32>) -> T1 {
    let n = values.len();
    Tensor::from_vec(values, (n,)).unwrap()
}

fn normal_lp(x: f32, loc: f32, scale: f32) -> f32 {
    let z = (x - loc) / scale;
    -0.5 * z * z - scale.ln() - 0.5 * (2.0 * std::f32::consts::PI).ln()
}

// ----- coin flip ------------------------------------------------------------------------------

#[model]
fn coin() -> PyroResult<Tensor<Rank0>> {
    Ok(sample!("flip", Bernoulli::new(0.5)))
}

#[test]
fn coin_flip_draws_from_the_prior_when_called_directly() {
    pyro::set_rng_seed(3);
    let n = 4000;
    let heads: f32 = (0..n).map(|_| coin().unwrap().item().unwrap()).sum();
    let freq = heads as f64 / n as f64;
    assert!(
        (freq - 0.5).abs() < 4.0 * (0.25 / n as f64).sqrt(),
        "{freq}"
    );
    let tr = poutine::trace(coin).get_trace(()).unwrap();
    let v = tr.get("flip").unwrap().value.item().unwrap();
    assert!(v == 0.0 || v == 1.0);
}

// ----- learnable coin -------------------------------------------------------------------------

#[model]
fn learnable_coin(flip: &Tensor<Rank0>) -> PyroResult<()> {
    let p = param!("p", 0.8, constraint = Constraint::UnitInterval);
    sample!("flip", Bernoulli::new(&p), obs = flip);
    Ok(())
}

#[test]
fn learnable_coin_gradient_reaches_the_unconstrained_param() {
    pyro::clear_param_store();
    let heads: Tensor<Rank0> = Tensor::scalar(1.0);
    let tr = poutine::trace(|| learnable_coin(&heads))
        .get_trace(())
        .unwrap();
    assert_eq!(tr.get("p").unwrap().kind, SiteKind::Param);
    assert!(tr.get("flip").unwrap().is_observed);
    // d/du log Bernoulli(1 | sigmoid(u)) = 1 - p with u the unconstrained leaf, p = 0.8.
    let leaf =
        pyro::params::with_param_store(|s| s.get_unconstrained("p").unwrap().clone()).unwrap();
    let scope = GradScope::<Dev>::open();
    let mut tr = poutine::trace(|| learnable_coin(&heads))
        .get_trace(())
        .unwrap();
    let lp = tr.log_prob_sum().unwrap();
    assert!((lp.item().unwrap() - 0.8f32.ln()).abs() < 1e-5);
    let grads = scope.backward(&lp).unwrap();
    let g = grads.get_or_zeros(&leaf).to_vec()[0];
    assert!((g - 0.2).abs() < 1e-5, "{g}");
}

// ----- 100 flips in a plate -------------------------------------------------------------------

#[model]
fn hundred_flips() -> PyroResult<T1> {
    let flips = plate!("flips", 100, { sample!("flip", Bernoulli::new(0.5)) });
    Ok(flips)
}

#[test]
fn one_hundred_flips_in_a_plate_are_typed_and_vectorized() {
    let (flips, tr) = poutine::trace(hundred_flips).run_traced(()).unwrap();
    assert_eq!(flips.shape().0, 100);
    let site = tr.get("flip").unwrap();
    assert_eq!(site.value.shape(), &[100]);
    assert_eq!(site.cond_indep_stack[0].name, "flips");
    assert_eq!(site.cond_indep_stack[0].dim, Some(-1));
    assert!(flips
        .to_vec()
        .unwrap()
        .iter()
        .all(|&v| v == 0.0 || v == 1.0));
}

// ----- subsampled plate -----------------------------------------------------------------------

#[model]
fn subsampled(data: &T1) -> PyroResult<usize> {
    let n = data.shape().0;
    let batch_len = plate!("data", n, subsample_size = 100, |p| {
        let batch: T1 = subsample!(data);
        sample!("obs", Normal::new(0.0, 1.0), obs = &batch);
        p.indices().len()
    });
    Ok(batch_len)
}

#[test]
fn subsampled_plate_scales_the_log_probability() {
    let data = tensor1((0..1000).map(|i| (i % 7) as f32 * 0.1).collect());
    let (len, mut tr) = poutine::trace(|| subsampled(&data)).run_traced(()).unwrap();
    assert_eq!(len, 100);
    let site = tr.get("obs").unwrap().clone();
    assert_eq!(site.scale, 10.0);
    // The batch is the data at the plate's indices.
    let all = data.to_vec().unwrap();
    let picked: Vec<f32> = site.cond_indep_stack[0]
        .indices
        .iter()
        .map(|&i| all[i])
        .collect();
    assert_eq!(site.value.to_vec(), picked);
    let unscaled: f32 = picked.iter().map(|&x| normal_lp(x, 0.0, 1.0)).sum();
    let total = tr.log_prob_sum().unwrap().item().unwrap();
    assert!((total - 10.0 * unscaled).abs() < 1e-2, "{total}");
}

// ----- the rugged regression and its mean-field guide ----------------------------------------

// The README's model and guide, verbatim: `log_gdp ~ Normal(a + bA·africa + bR·rugged +
// bAR·africa·rugged, sigma)` (Pyro's intro tutorial) and its mean-field guide.
type Data = T1;

#[model]
fn rugged(africa: &Data, rugged: &Data, log_gdp: Option<&Data>) -> PyroResult<Data> {
    let a = sample!("a", Normal::new(0.0, 10.0)); // Tensor<Rank0>
    let b_a = sample!("bA", Normal::new(0.0, 1.0));
    let b_r = sample!("bR", Normal::new(0.0, 1.0));
    let b_ar = sample!("bAR", Normal::new(0.0, 1.0));
    let sigma = sample!("sigma", Uniform::new(0.0, 10.0));
    let mean = a + b_a * africa + b_r * rugged + b_ar * africa * rugged;
    plate!("data", rugged.shape().0, {
        // Observed when `log_gdp` is `Some`, latent (to predict) when it is `None`.
        sample!("obs", Normal::new(&mean, &sigma), obs = log_gdp);
    });
    Ok(mean)
}

#[guide(model = rugged)]
fn rugged_guide(_africa: &Data, _rugged: &Data, _log_gdp: Option<&Data>) -> PyroResult<()> {
    let a_loc = param!("a_loc", 0.0);
    let a_scale = param!("a_scale", 1.0, constraint = Constraint::Positive);
    let sigma_loc = param!("sigma_loc", 1.0, constraint = Constraint::Positive);
    let weights_loc = param!("weights_loc", || [0.1f32, -0.1, 0.2]); // computed once
    let weights_scale = param!(
        "weights_scale",
        [1.0f32; 3],
        constraint = Constraint::Positive
    );
    sample!("a", Normal::new(&a_loc, &a_scale));
    // `at::<i>()` is a differentiable index, its bound checked when compiling (Pyro's `weights_loc[i]`).
    sample!(
        "bA",
        Normal::new(weights_loc.at::<0>(), weights_scale.at::<0>())
    );
    sample!(
        "bR",
        Normal::new(weights_loc.at::<1>(), weights_scale.at::<1>())
    );
    sample!(
        "bAR",
        Normal::new(weights_loc.at::<2>(), weights_scale.at::<2>())
    );
    sample!("sigma", Normal::new(&sigma_loc, 0.05));
    Ok(())
}

fn rugged_data() -> (T1, T1, T1) {
    // A small synthetic stand-in for the tutorial's data: 12 nations.
    let africa: Vec<f32> = (0..12).map(|i| (i % 2) as f32).collect();
    let rug: Vec<f32> = (0..12).map(|i| 0.3 * i as f32).collect();
    let gdp: Vec<f32> = africa
        .iter()
        .zip(&rug)
        .map(|(a, r)| 9.2 - 1.9 * a - 0.2 * r + 0.35 * a * r)
        .collect();
    (tensor1(africa), tensor1(rug), tensor1(gdp))
}

#[test]
fn rugged_model_and_guide_agree_under_trace_and_replay() {
    pyro::set_rng_seed(7);
    pyro::clear_param_store();
    let (africa, rug, gdp) = rugged_data();
    let guide_tr = poutine::trace(|| rugged_guide(&africa, &rug, Some(&gdp)))
        .get_trace(())
        .unwrap();
    let (mean, mut model_tr) = poutine::trace(poutine::replay(
        || rugged(&africa, &rug, Some(&gdp)),
        &guide_tr,
    ))
    .run_traced(())
    .unwrap();
    pyro::dsl::check_model_guide(&model_tr, &guide_tr).unwrap();
    // Every latent site takes the guide's value; the regression mean follows from them.
    let v = |name: &str| guide_tr.get(name).unwrap().value.item().unwrap();
    for name in ["a", "bA", "bR", "bAR", "sigma"] {
        assert_eq!(model_tr.get(name).unwrap().value.item().unwrap(), v(name));
    }
    let (af, ru) = (africa.to_vec().unwrap(), rug.to_vec().unwrap());
    for (i, m) in mean.to_vec().unwrap().iter().enumerate() {
        let want = v("a") + v("bA") * af[i] + v("bR") * ru[i] + v("bAR") * af[i] * ru[i];
        assert!((m - want).abs() < 1e-4, "{m} vs {want}");
    }
    // The joint log-density is the sum of the five priors and the likelihood.
    let lp = model_tr.log_prob_sum().unwrap().item().unwrap();
    let mut want = normal_lp(v("a"), 0.0, 10.0)
        + normal_lp(v("bA"), 0.0, 1.0)
        + normal_lp(v("bR"), 0.0, 1.0)
        + normal_lp(v("bAR"), 0.0, 1.0)
        - 10f32.ln();
    let means = mean.to_vec().unwrap();
    for (y, m) in gdp.to_vec().unwrap().iter().zip(&means) {
        want += normal_lp(*y, *m, v("sigma"));
    }
    assert!(
        (lp - want).abs() < 1e-2 * want.abs().max(1.0),
        "{lp} vs {want}"
    );
    // The guide's params are in the store with their constraints.
    let names = pyro::params::with_param_store(|s| {
        let mut k: Vec<String> = s.keys().map(String::from).collect();
        k.sort();
        k
    })
    .unwrap();
    assert_eq!(
        names,
        [
            "a_loc",
            "a_scale",
            "sigma_loc",
            "weights_loc",
            "weights_scale"
        ]
    );
}

#[test]
fn rugged_model_without_observations_samples_obs_and_the_guide_may_cover_it() {
    pyro::set_rng_seed(8);
    let (africa, rug, _) = rugged_data();
    let tr = poutine::trace(|| rugged(&africa, &rug, None))
        .get_trace(())
        .unwrap();
    let obs = tr.get("obs").unwrap();
    assert!(!obs.is_observed);
    assert_eq!(obs.value.shape(), &[12]);
}

// ----- the run-time check -------------------------------------------------------------------

fn check<M, G>(model: M, guide: G) -> Result<(), String>
where
    M: Fn() -> PyroResult<()>,
    G: Fn() -> PyroResult<()>,
{
    let guide_tr = poutine::trace(guide)
        .get_trace(())
        .map_err(|e| e.to_string())?;
    let model_tr = poutine::trace(poutine::replay(model, &guide_tr))
        .get_trace(())
        .map_err(|e| e.to_string())?;
    pyro::dsl::check_model_guide(&model_tr, &guide_tr).map_err(|e| e.to_string())
}

/// The compile-time message of a `.stderr` case with the function names taken out, as the
/// run-time check words it.
fn compile_time_message(case: &str) -> String {
    let path = format!("{}/tests/ui/{case}.stderr", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(path).unwrap();
    let line = text.lines().next().unwrap();
    line.trim_start_matches("error: ")
        .replace("the guide `guide` ", "the guide ")
        .replace("the model `model` ", "the model ")
        .replace("in the model `model`", "in the model")
}

#[model]
fn seq_model() -> PyroResult<()> {
    for i in plate!("seq", 3) {
        sample!(format!("x_{i}"), Normal::new(0.0, 1.0));
    }
    Ok(())
}

#[guide(model = seq_model)]
fn seq_guide_missing_one() -> PyroResult<()> {
    for i in plate!("seq", 2) {
        sample!(format!("x_{i}"), Normal::new(0.0, 1.0));
    }
    Ok(())
}

#[test]
fn run_time_names_are_checked_when_running() {
    let err = check(seq_model, seq_guide_missing_one).unwrap_err();
    assert!(err.contains("the guide has no site `x_2`"), "{err}");
}

#[test]
fn run_time_wording_is_the_compile_time_wording() {
    // Kind 1: a latent site the guide lacks (`scale` in the .stderr case).
    let model = || -> PyroResult<()> {
        pyro::sample("loc", Normal::new(0.0, 10.0))?;
        pyro::sample("scale", HalfNormal::new(1.0))?;
        Ok(())
    };
    let guide = || -> PyroResult<()> {
        pyro::sample("loc", Normal::new(0.0, 1.0))?;
        Ok(())
    };
    let err = check(model, guide).unwrap_err();
    let want = compile_time_message("guide_missing_latent_site");
    assert!(err.ends_with(&want), "{err}\nvs\n{want}");
    // Kind 4: a site the model observes, sampled by the guide (`y`).
    let y = DynTensor::<Dev>::scalar(0.5);
    let model = || -> PyroResult<()> {
        pyro::sample("mu", Normal::new(0.0, 1.0))?;
        pyro::observe("y", Normal::new(0.0, 1.0), y.clone())?;
        Ok(())
    };
    let guide = || -> PyroResult<()> {
        pyro::sample("mu", Normal::new(0.0, 1.0))?;
        pyro::sample("y", Normal::new(0.0, 1.0))?;
        Ok(())
    };
    let err = check(model, guide).unwrap_err();
    let want = compile_time_message("guide_samples_observed_site");
    assert!(err.ends_with(&want), "{err}\nvs\n{want}");
}

#[model]
fn two_latents() -> PyroResult<()> {
    sample!("z", Normal::new(0.0, 1.0));
    sample!("w", Normal::new(0.0, 1.0));
    Ok(())
}

#[guide(model = two_latents)]
fn two_latents_guide() -> PyroResult<()> {
    sample!("z", Normal::new(0.0, 1.0));
    sample!("w", Normal::new(0.0, 1.0));
    Ok(())
}

#[test]
fn condition_and_uncondition_change_what_the_guide_may_sample() {
    // Matching as written.
    check(two_latents, two_latents_guide).unwrap();
    // `condition` observes `w`: the guide must no longer sample it.
    let data: HashMap<String, DynTensor<Dev>> = [("w".to_string(), DynTensor::scalar(0.3))].into();
    let conditioned = poutine::condition(two_latents, data);
    let guide_tr = poutine::trace(two_latents_guide).get_trace(()).unwrap();
    let model_tr = poutine::trace(poutine::replay(conditioned, &guide_tr))
        .get_trace(())
        .unwrap();
    let err = pyro::dsl::check_model_guide(&model_tr, &guide_tr)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("site `w` is observed in the model, so the guide must not sample it"),
        "{err}"
    );
    // `uncondition` makes an observed site latent: now the guide must cover it.
    let y = DynTensor::<Dev>::scalar(0.5);
    let model = || -> PyroResult<()> {
        pyro::observe("y", Normal::new(0.0, 1.0), y.clone())?;
        Ok(())
    };
    let guide_tr = poutine::trace(|| Ok(())).get_trace(()).unwrap();
    let model_tr = poutine::trace(poutine::replay(poutine::uncondition(model), &guide_tr))
        .get_trace(())
        .unwrap();
    let err = pyro::dsl::check_model_guide(&model_tr, &guide_tr)
        .unwrap_err()
        .to_string();
    assert!(err.contains("the guide has no site `y`"), "{err}");
}

#[test]
fn value_shapes_event_shapes_and_plates_are_checked() {
    // The guide samples a vector where the model has a scalar: names the site, both shapes.
    let model = || -> PyroResult<()> {
        pyro::sample("z", Normal::new(0.0, 1.0))?;
        Ok(())
    };
    let guide = || -> PyroResult<()> {
        let loc = DynTensor::<Dev>::zeros(&[3]);
        pyro::sample("z", Normal::from_dyn(loc, DynTensor::scalar(1.0)))?;
        Ok(())
    };
    let err = check(model, guide).unwrap_err();
    assert!(
        err.contains("site `z`")
            && err.contains("guide's value has shape [3]")
            && err.contains("model's has shape []"),
        "{err}"
    );
    // Same values, different events: the model's `.to_event(1)` against a batch of 3.
    let model = || -> PyroResult<()> {
        let loc = DynTensor::<Dev>::zeros(&[3]);
        let d = Normal::from_dyn(loc, DynTensor::scalar(1.0)).and_then(|d| d.to_event(1));
        pyro::sample("v", d)?;
        Ok(())
    };
    let guide = || -> PyroResult<()> {
        let loc = DynTensor::<Dev>::zeros(&[3]);
        pyro::sample("v", Normal::from_dyn(loc, DynTensor::scalar(1.0)))?;
        Ok(())
    };
    let err = check(model, guide).unwrap_err();
    assert!(
        err.contains("event shape [] but the model's has event shape [3]"),
        "{err}"
    );
    // A site in a plate in the model but not in the guide.
    let model = || -> PyroResult<()> {
        pyro::plate("data", 4).run(|_| pyro::sample("z", Normal::new(0.0, 1.0)))?;
        Ok(())
    };
    let guide = || -> PyroResult<()> {
        let loc = DynTensor::<Dev>::zeros(&[4]);
        pyro::sample("z", Normal::from_dyn(loc, DynTensor::scalar(1.0)))?;
        Ok(())
    };
    let err = check(model, guide).unwrap_err();
    let want = "site `z` is inside plate `data` in the model but inside no plate in the guide";
    assert!(err.contains(want), "{err}");
    let stderr = std::fs::read_to_string(format!(
        "{}/tests/ui/models_method_mismatch.stderr",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    assert!(stderr.contains(want), "the compile-time wording changed");
}

#[test]
fn typed_values_have_the_shape_the_types_say_or_a_named_error() {
    // A model called inside an outer plate that its types do not know about: the typed
    // conversion fails at run time naming the site and both shapes.
    let err = pyro::plate("outer", 2)
        .run(|_| coin())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("site `flip`") && err.contains("[2]") && err.contains("rank 0"),
        "{err}"
    );
}
