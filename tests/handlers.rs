//! Semantics of each effect handler, and of compositions of handlers.

use std::collections::HashMap;

use pyro::distributions::{Bernoulli, HalfNormal};
use pyro::poutine::{self, BlockSpec, BlockType, MaskMessenger, Program, SiteKind};
use pyro::prelude::*;
use pyro::{PyroError, PyroResult};

type Dev = pyro::DefaultDevice;

fn t(v: &[f32], shape: &[usize]) -> DynTensor<Dev> {
    DynTensor::from_vec(v.to_vec(), shape).unwrap()
}

fn s(v: f32) -> DynTensor<Dev> {
    DynTensor::scalar(v)
}

fn data(pairs: &[(&str, DynTensor<Dev>)]) -> HashMap<String, DynTensor<Dev>> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

/// z ~ N(0, 1); x ~ N(z, 1) observed at 0.5.
fn model() -> PyroResult<DynTensor<Dev>> {
    let z = pyro::sample("z", Normal::new(0.0, 1.0))?;
    pyro::observe("x", Normal::new(&z, 1.0), s(0.5))?;
    Ok(z)
}

fn normal_lp(x: f32, loc: f32, scale: f32) -> f32 {
    let z = (x - loc) / scale;
    -0.5 * z * z - scale.ln() - 0.5 * (2.0 * std::f32::consts::PI).ln()
}

#[test]
fn trace_records_sites_in_order_with_their_fields() {
    pyro::set_rng_seed(0);
    let mut tr = poutine::trace(model).get_trace(()).unwrap();
    assert_eq!(tr.names(), vec!["z", "x"]);
    let z = tr.get("z").unwrap().value.item().unwrap();
    let x = tr.get("x").unwrap();
    assert!(x.is_observed && x.kind == SiteKind::Sample && x.scale == 1.0);
    assert!(!tr.get("z").unwrap().is_observed);
    let total = tr.log_prob_sum().unwrap().item().unwrap();
    let want = normal_lp(z, 0.0, 1.0) + normal_lp(0.5, z, 1.0);
    assert!((total - want).abs() < 1e-5, "{total} vs {want}");
    let per_site = tr
        .get("x")
        .unwrap()
        .log_prob_sum
        .as_ref()
        .unwrap()
        .item()
        .unwrap();
    assert!((per_site - normal_lp(0.5, z, 1.0)).abs() < 1e-5);
    assert_eq!(tr.stochastic_nodes().count(), 1);
    assert_eq!(tr.observation_nodes().count(), 1);
}

#[test]
fn trace_rejects_duplicate_site_names() {
    let dup = || {
        pyro::sample("a", Normal::new(0.0, 1.0))?;
        pyro::sample("a", Normal::new(0.0, 1.0))
    };
    let err = poutine::trace(dup).get_trace(()).unwrap_err();
    assert!(
        matches!(err, PyroError::DuplicateSite(ref n) if n == "a"),
        "{err}"
    );
}

#[test]
fn replay_takes_latent_values_and_keeps_observations() {
    let guide_tr = poutine::trace(|| pyro::sample("z", Normal::new(3.0, 0.1)))
        .get_trace(())
        .unwrap();
    let zg = guide_tr.get("z").unwrap().value.item().unwrap();
    let tr = poutine::trace(poutine::replay(model, &guide_tr))
        .get_trace(())
        .unwrap();
    assert_eq!(tr.get("z").unwrap().value.item().unwrap(), zg);
    assert_eq!(tr.get("x").unwrap().value.item().unwrap(), 0.5);
}

#[test]
fn replay_of_an_observed_site_is_an_error_naming_it() {
    let tr = poutine::trace(|| pyro::observe("z", Normal::new(0.0, 1.0), s(1.0)))
        .get_trace(())
        .unwrap();
    let err = poutine::replay(model, &tr).call(()).unwrap_err();
    assert!(
        matches!(err, PyroError::SiteMismatch { ref site, .. } if site == "z"),
        "{err}"
    );
}

#[test]
fn condition_observes_and_composes_inside_replay_inside_trace() {
    let guide_tr = poutine::trace(|| pyro::sample("z", Normal::new(3.0, 0.1)))
        .get_trace(())
        .unwrap();
    // condition wins over replay for z: the conditioned site is observed, replay skips it.
    let conditioned = poutine::condition(model, data(&[("z", s(-1.0))]));
    let tr = poutine::trace(poutine::replay(conditioned, &guide_tr))
        .get_trace(())
        .unwrap();
    let z = tr.get("z").unwrap();
    assert!(z.is_observed);
    assert_eq!(z.value.item().unwrap(), -1.0);
}

#[test]
fn uncondition_makes_observed_sites_latent() {
    pyro::set_rng_seed(1);
    let tr = poutine::trace(poutine::uncondition(model))
        .get_trace(())
        .unwrap();
    let x = tr.get("x").unwrap();
    assert!(!x.is_observed && x.infer.was_observed);
    assert_ne!(x.value.item().unwrap(), 0.5);
}

#[test]
fn substitute_fixes_samples_and_params_without_observing() {
    pyro::clear_param_store();
    let m = || {
        let w = pyro::param("w", s(1.0), Constraint::Real)?;
        let z = pyro::sample("z", Normal::new(0.0, 1.0))?;
        Ok((w, z))
    };
    let sub = poutine::substitute(m, data(&[("w", s(7.0)), ("z", s(2.0))]));
    let tr = poutine::trace(sub).get_trace(()).unwrap();
    assert_eq!(tr.get("w").unwrap().value.item().unwrap(), 7.0);
    let z = tr.get("z").unwrap();
    assert_eq!(z.value.item().unwrap(), 2.0);
    assert!(!z.is_observed);
}

#[test]
fn do_intervenes_without_observing_the_original_site() {
    let m = || {
        let z = pyro::sample("z", Normal::new(0.0, 1.0))?;
        pyro::sample("x", Normal::new(&z, 0.01))
    };
    pyro::set_rng_seed(2);
    let tr = poutine::trace(poutine::do_(m, data(&[("z", s(10.0))])))
        .get_trace(())
        .unwrap();
    let z = tr.get("z").unwrap();
    assert!(!z.is_observed);
    assert!(
        z.value.item().unwrap().abs() < 5.0,
        "z is still drawn from its prior"
    );
    assert!((tr.get("x").unwrap().value.item().unwrap() - 10.0).abs() < 0.1);
    assert!(!tr.contains("z__CF"));
}

#[test]
fn block_hides_by_name_type_and_all() {
    pyro::clear_param_store();
    let m = || {
        pyro::param("p", s(0.5), Constraint::UnitInterval)?;
        pyro::sample("a", Normal::new(0.0, 1.0))?;
        pyro::observe("b", Normal::new(0.0, 1.0), s(0.0))
    };
    let names = |spec: BlockSpec| {
        poutine::trace(poutine::block(m, spec).unwrap())
            .get_trace(())
            .unwrap()
            .names()
            .into_iter()
            .map(String::from)
            .collect::<Vec<_>>()
    };
    assert!(
        names(BlockSpec::default()).is_empty(),
        "hide_all by default"
    );
    assert_eq!(
        names(BlockSpec {
            expose_all: true,
            ..Default::default()
        }),
        ["p", "a", "b"]
    );
    assert_eq!(
        names(BlockSpec {
            hide: vec!["a".into()],
            ..Default::default()
        }),
        ["p", "b"]
    );
    assert_eq!(
        names(BlockSpec {
            expose: vec!["a".into()],
            ..Default::default()
        }),
        ["a"]
    );
    assert_eq!(
        names(BlockSpec {
            hide_types: vec![BlockType::Observe],
            ..Default::default()
        }),
        ["p", "a"]
    );
    assert_eq!(
        names(BlockSpec {
            expose_types: vec![BlockType::Param],
            ..Default::default()
        }),
        ["p"]
    );
    let bad = BlockSpec {
        hide: vec!["a".into()],
        expose: vec!["a".into()],
        ..Default::default()
    };
    assert!(poutine::block(m, bad).is_err());
}

#[test]
fn block_around_seed_hides_sites_and_keeps_draws_reproducible() {
    let seeded = poutine::seed(model, 11);
    let blocked = poutine::block(seeded, BlockSpec::default()).unwrap();
    let (z1, tr) = poutine::trace(blocked.clone()).run_traced(()).unwrap();
    assert!(tr.is_empty());
    let (z2, _) = poutine::trace(blocked).run_traced(()).unwrap();
    assert_eq!(z1.item().unwrap(), z2.item().unwrap());
}

#[test]
fn seed_restores_the_outer_stream() {
    pyro::set_rng_seed(5);
    let a = Normal::new(0.0, 1.0)
        .unwrap()
        .sample_global(&[])
        .unwrap()
        .item()
        .unwrap();
    pyro::set_rng_seed(5);
    poutine::seed(model, 99).call(()).unwrap();
    let b = Normal::new(0.0, 1.0)
        .unwrap()
        .sample_global(&[])
        .unwrap()
        .item()
        .unwrap();
    assert_eq!(a, b);
}

#[test]
fn scale_multiplies_log_probabilities_and_nests() {
    let tr0 = poutine::trace(poutine::seed(model, 3))
        .get_trace(())
        .unwrap();
    let scaled =
        poutine::scale(poutine::scale(poutine::seed(model, 3), 2.0).unwrap(), 5.0).unwrap();
    let mut tr = poutine::trace(scaled).get_trace(()).unwrap();
    let mut tr0 = tr0;
    let a = tr0.log_prob_sum().unwrap().item().unwrap();
    let b = tr.log_prob_sum().unwrap().item().unwrap();
    assert!((b - 10.0 * a).abs() < 1e-4 * a.abs().max(1.0));
    assert!(poutine::scale(model, 0.0).is_err());
    assert!(poutine::scale(model, f32::NAN).is_err());
}

#[test]
fn mask_zeroes_masked_elements_exactly() {
    let m = || {
        pyro::plate("d", 3)
            .run(|_| pyro::observe("y", Normal::new(0.0, 1.0), t(&[0.0, 1.0, 100.0], &[3])))
    };
    let masked = poutine::mask(
        m,
        MaskMessenger::elements(vec![true, true, false], &[3]).unwrap(),
    );
    let mut tr = poutine::trace(masked).get_trace(()).unwrap();
    let lp = tr.log_prob_sum().unwrap().item().unwrap();
    let want = normal_lp(0.0, 0.0, 1.0) + normal_lp(1.0, 0.0, 1.0);
    assert!((lp - want).abs() < 1e-5, "{lp} vs {want}");
    let site = tr.get("y").unwrap();
    assert_eq!(site.log_prob.as_ref().unwrap().to_vec()[2], 0.0);
}

#[test]
fn lift_turns_params_into_prior_samples() {
    pyro::clear_param_store();
    let m = || pyro::param("w", s(1.0), Constraint::Real);
    let priors: HashMap<String, BoxDist> = [(
        "w".to_string(),
        Box::new(Normal::new(-4.0, 0.01).unwrap()) as BoxDist,
    )]
    .into_iter()
    .collect();
    let mut tr = poutine::trace(poutine::lift(m, priors))
        .get_trace(())
        .unwrap();
    let w = tr.get("w").unwrap();
    assert_eq!(w.kind, SiteKind::Sample);
    assert!((w.value.item().unwrap() + 4.0).abs() < 0.1);
    assert!(tr.log_prob_sum().unwrap().item().unwrap().is_finite());
    assert!(!pyro::params::with_param_store(|st| st.contains("w")).unwrap());
}

#[test]
fn infer_config_edits_sample_sites_only() {
    let cfg = poutine::infer_config(model, |msg, c| {
        if msg.name == "z" {
            c.extra.insert("tag".into(), "latent".into());
        }
    });
    let tr = poutine::trace(cfg).get_trace(()).unwrap();
    assert_eq!(
        tr.get("z")
            .unwrap()
            .infer
            .extra
            .get("tag")
            .map(String::as_str),
        Some("latent")
    );
    assert!(tr.get("x").unwrap().infer.extra.is_empty());
}

#[test]
fn escape_leaves_at_the_site_and_keeps_the_partial_trace() {
    let (res, tr) = poutine::trace(poutine::escape(model, |m| m.name == "x")).get_partial_trace(());
    assert!(matches!(res, Err(PyroError::NonlocalExit { ref site }) if site == "x"));
    assert_eq!(tr.names(), vec!["z"]);
    assert_eq!(
        poutine::runtime::stack_depth(),
        0,
        "guards popped every handler"
    );
}

fn pets() -> PyroResult<()> {
    let dogs = pyro::sample("dogs_std", HalfNormal::new(1.0))?;
    let cats = pyro::sample("cats_std", HalfNormal::new(1.0))?;
    pyro::observe("dog", Normal::new(0.0, &dogs), s(0.3))?;
    pyro::observe("cat", Normal::new(0.0, &cats), s(-0.2))?;
    Ok(())
}

#[test]
fn equalize_shares_the_first_sample_value() {
    let eq = poutine::equalize(pets, &["dogs_std", "cats_std"], SiteKind::Sample, false).unwrap();
    let mut tr = poutine::trace(eq).get_trace(()).unwrap();
    let d = tr.get("dogs_std").unwrap().value.item().unwrap();
    assert_eq!(tr.get("cats_std").unwrap().value.item().unwrap(), d);
    // Only the first site is latent and scored.
    let latent: Vec<_> = tr.stochastic_nodes().map(|s| s.name.clone()).collect();
    assert_eq!(latent, ["dogs_std"]);
    let lp = tr.log_prob_sum().unwrap().item().unwrap();
    let half_normal = |x: f32| normal_lp(x, 0.0, 1.0) + 2f32.ln();
    let want = half_normal(d) + normal_lp(0.3, 0.0, d) + normal_lp(-0.2, 0.0, d);
    assert!((lp - want).abs() < 1e-4, "{lp} vs {want}");
    // keep_dist scores the later site at the shared value.
    let keep = poutine::equalize(pets, &["dogs_std", "cats_std"], SiteKind::Sample, true).unwrap();
    let mut tr = poutine::trace(poutine::seed(keep, 4))
        .get_trace(())
        .unwrap();
    let d = tr.get("dogs_std").unwrap().value.item().unwrap();
    let lp = tr.log_prob_sum().unwrap().item().unwrap();
    let want = 2.0 * half_normal(d) + normal_lp(0.3, 0.0, d) + normal_lp(-0.2, 0.0, d);
    assert!((lp - want).abs() < 1e-4, "{lp} vs {want}");
}

#[test]
fn equalize_params_by_regular_expression() {
    pyro::clear_param_store();
    let m = || {
        let a = pyro::param("a_shift", s(1.0), Constraint::Real)?;
        let b = pyro::param("b_shift", s(2.0), Constraint::Real)?;
        let c = pyro::param("scale", s(3.0), Constraint::Positive)?;
        Ok((a.item().unwrap(), b.item().unwrap(), c.item().unwrap()))
    };
    let eq = poutine::equalize(m, &[".+_shift"], SiteKind::Param, false).unwrap();
    let (a, b, c) = eq.call(()).unwrap();
    assert_eq!((a, b), (1.0, 1.0));
    assert!((c - 3.0).abs() < 1e-6);
    // Whole-name matching: "_shift" alone does not match "a_shift".
    let none = poutine::equalize(m, &["_shift"], SiteKind::Param, false).unwrap();
    pyro::clear_param_store();
    let (a, b, _) = none.call(()).unwrap();
    assert_eq!((a, b), (1.0, 2.0));
    assert!(poutine::equalize(m, &["("], SiteKind::Param, false).is_err());
}

#[test]
fn observed_value_outside_the_support_names_the_site() {
    pyro::enable_validation(true);
    let m = || pyro::observe("flip", Bernoulli::new(0.5), s(2.0));
    let err = poutine::trace(m).get_trace(()).unwrap_err();
    assert!(err.to_string().contains("flip"), "{err}");
}

#[test]
fn non_finite_log_probability_names_the_site() {
    pyro::enable_validation(false);
    let m = || pyro::observe("y", Normal::new(0.0, 1.0), s(f32::INFINITY));
    let mut tr = poutine::trace(m).get_trace(()).unwrap();
    pyro::enable_validation(true);
    let err = tr.log_prob_sum().unwrap_err();
    assert!(
        matches!(err, PyroError::NonFiniteLogProb { ref site, .. } if site == "y"),
        "{err}"
    );
}

#[test]
fn bad_distribution_arguments_name_the_site() {
    pyro::enable_validation(true);
    let m = || pyro::sample("sigma_site", Normal::new(0.0, -2.0));
    let err = poutine::trace(m).get_trace(()).unwrap_err();
    assert!(
        matches!(err, PyroError::Distribution { ref site, .. } if site == "sigma_site"),
        "{err}"
    );
}
