//! Every autoguide on latents inside plates (full-size, nested, with explicit dims, under
//! vectorized particles), the refusal of packed guides inside subsampled plates, and the
//! stale-parameter trap: a stored parameter of another shape is an error naming it.

use pyro::infer::autoguide::{
    AutoDelta, AutoDiagonalNormal, AutoGuide, AutoLaplaceApproximation,
    AutoLowRankMultivariateNormal, AutoMultivariateNormal, AutoNormal,
};
use pyro::infer::{Svi, TraceElbo};
use pyro::optim::Adam;
use pyro::poutine::{Program, Trace};
use pyro::prelude::*;
use pyro::{PyroError, PyroResult};

type Dev = pyro::DefaultDevice;

/// Binds `$g` to a fresh guide of each of the six autoguide families for `$model` (and
/// `$who` to its name) and runs `$body` for each.
macro_rules! for_each_guide {
    ($model:expr, |$who:ident, $g:ident| $body:block) => {{
        {
            let ($who, $g) = ("AutoNormal", AutoNormal::new($model));
            $body
        }
        {
            let ($who, $g) = ("AutoDelta", AutoDelta::new($model));
            $body
        }
        {
            let ($who, $g) = ("AutoDiagonalNormal", AutoDiagonalNormal::new($model));
            $body
        }
        {
            let ($who, $g) = (
                "AutoMultivariateNormal",
                AutoMultivariateNormal::new($model),
            );
            $body
        }
        {
            let ($who, $g) = (
                "AutoLowRankMultivariateNormal",
                AutoLowRankMultivariateNormal::new($model),
            );
            $body
        }
        {
            let ($who, $g) = (
                "AutoLaplaceApproximation",
                AutoLaplaceApproximation::new($model),
            );
            $body
        }
    }};
}

/// The model: one latent per element of a plate of 3.
fn in_plate() -> PyroResult<()> {
    pyro::plate("p", 3).run(|_| pyro::sample("z", Normal::new(0.0, 1.0)))?;
    Ok(())
}

/// A global latent, a positive latent per group (plate `g` at dim -2) and a positive latent
/// per group and item (plate `i` nested inside at dim -1).
fn nested() -> PyroResult<()> {
    let mu = pyro::sample("mu", Normal::new(0.0, 1.0))?;
    pyro::plate("g", 3).dim(-2).run(|_| {
        let s = pyro::sample("s", Gamma::new(4.0, 4.0))?;
        pyro::plate("i", 4).dim(-1).run(|_| {
            pyro::sample("z", LogNormal::new(&mu, &s))?;
            Ok(())
        })
    })
}

/// A latent in a plate given an explicit dim, away from the rightmost.
fn explicit_dim() -> PyroResult<()> {
    pyro::plate("rows", 2).dim(-2).run(|_| {
        let w = pyro::sample("w", HalfNormal::new(1.0))?;
        assert_eq!(w.shape()[w.rank() - 2..], [2, 1]);
        Ok(())
    })
}

/// The guide's trace of one run (after the model has been traced once).
fn guide_trace<G: Program<()> + Clone>(guide: &G) -> Trace<Dev> {
    pyro::poutine::trace(guide.clone()).get_trace(()).unwrap()
}

/// Names and plates of the sample sites of a trace that are not auxiliary.
fn site_plates(t: &Trace<Dev>, name: &str) -> Vec<(String, i32, usize)> {
    let site = t.get(name).unwrap_or_else(|| panic!("no site `{name}`"));
    site.cond_indep_stack
        .iter()
        .map(|f| (f.name.to_string(), f.dim.unwrap(), f.size))
        .collect()
}

#[test]
fn every_autoguide_steps_on_latents_inside_plates() {
    for (model_name, model) in [
        ("in_plate", in_plate as fn() -> PyroResult<()>),
        ("nested", nested),
        ("explicit_dim", explicit_dim),
    ] {
        for vectorized in [false, true] {
            let elbo = TraceElbo {
                num_particles: if vectorized { 5 } else { 1 },
                vectorize_particles: vectorized,
                max_plate_nesting: 2,
            };
            for_each_guide!(model, |who, guide| {
                pyro::clear_param_store();
                pyro::set_rng_seed(3);
                let mut svi = Svi::new(model, guide, Adam::with_lr(0.01).unwrap(), elbo.clone());
                for _ in 0..3 {
                    let loss = svi
                        .step(())
                        .unwrap_or_else(|e| panic!("{who} on {model_name}: {e}"));
                    assert!(loss.is_finite(), "{who} on {model_name}: loss {loss}");
                }
            });
        }
    }
}

#[test]
fn packed_guides_put_each_site_in_the_models_plates() {
    pyro::clear_param_store();
    let model_trace = pyro::poutine::trace(nested).get_trace(()).unwrap();
    for_each_guide!(nested, |who, guide| {
        pyro::clear_param_store();
        guide.call(()).unwrap();
        let t = guide_trace(&guide);
        for site in ["mu", "s", "z"] {
            assert_eq!(
                site_plates(&t, site),
                site_plates(&model_trace, site),
                "{who}: plates of `{site}`"
            );
            assert_eq!(
                t.get(site).unwrap().value.shape(),
                model_trace.get(site).unwrap().value.shape(),
                "{who}: shape of `{site}`"
            );
        }
    });
}

#[test]
fn vectorized_particles_give_each_site_a_leading_particle_dim() {
    // Plates at dims -1 and -2, particles at -3: `mu` is [P, 1, 1], `s` [P, 3, 1], `z` [P, 3, 4].
    for_each_guide!(nested, |who, guide| {
        pyro::clear_param_store();
        guide.call(()).unwrap();
        let draws = pyro::plate("particles", 7)
            .dim(-3)
            .run(|_| guide.call(()))
            .unwrap();
        assert_eq!(draws["mu"].shape(), &[7, 1, 1], "{who}: mu");
        assert_eq!(draws["s"].shape(), &[7, 3, 1], "{who}: s");
        assert_eq!(draws["z"].shape(), &[7, 3, 4], "{who}: z");
    });
}

/// `z` in a plate of 30 subsampled 5 at a time.
fn subsampled() -> PyroResult<()> {
    pyro::plate("p", 30)
        .subsample_size(5)
        .run(|_| pyro::sample("z", Normal::new(0.0, 1.0)))?;
    Ok(())
}

#[test]
fn packed_guides_refuse_latents_in_subsampled_plates_naming_site_and_plate() {
    for_each_guide!(subsampled, |who, guide| {
        pyro::clear_param_store();
        let mut svi = Svi::new(
            subsampled,
            guide,
            Adam::with_lr(0.01).unwrap(),
            TraceElbo::default(),
        );
        let got = svi.step(());
        match who {
            // These keep full-size parameters indexed by the minibatch.
            "AutoNormal" | "AutoDelta" => assert!(got.is_ok(), "{who}: {got:?}"),
            _ => {
                let e = got.unwrap_err();
                assert!(
                    matches!(&e, PyroError::SubsampledLatent { guide, site, plate }
                        if *guide == who && site == "z" && plate == "p"),
                    "{who}: {e:?}"
                );
                let text = e.to_string();
                assert!(text.contains("use AutoNormal"), "{text}");
            }
        }
    });
}

/// The stale-parameter trap: `mu` a scalar, then (same store) `mu` in a plate of 3.
fn scalar_mu() -> PyroResult<()> {
    pyro::sample("mu", Normal::new(0.0, 1.0))?;
    Ok(())
}

fn plated_mu() -> PyroResult<()> {
    pyro::plate("p", 3).run(|_| pyro::sample("mu", Normal::new(0.0, 1.0)))?;
    Ok(())
}

/// Fits `first` on `scalar_mu`, then (same store) steps `second`, a guide of the same
/// family for `plated_mu`: the step must fail naming the stale parameter.
fn check_stale<G1, G2>(who: &str, first: G1, second: G2)
where
    G1: Program<()>,
    G2: Program<()>,
{
    pyro::clear_param_store();
    let adam = || Adam::with_lr(0.01).unwrap();
    Svi::new(scalar_mu, first, adam(), TraceElbo::default())
        .step(())
        .unwrap();
    let e = Svi::new(plated_mu, second, adam(), TraceElbo::default())
        .step(())
        .unwrap_err();
    let PyroError::ParamShape {
        param,
        stored,
        expected,
    } = &e
    else {
        panic!("{who}: {e:?}")
    };
    assert!(param.starts_with(who), "{who}: {param}");
    // AutoNormal/AutoDelta: `[]` vs `[3]`; the packed guides: latent_dim 1 vs 3.
    assert!(
        stored.iter().product::<usize>() == 1 && expected.contains(&3),
        "{who}: {e}"
    );
    assert!(e.to_string().contains("pyro::clear_param_store()"), "{e}");
}

#[test]
fn a_stored_parameter_of_another_shape_is_an_error_naming_it() {
    check_stale(
        "AutoNormal",
        AutoNormal::new(scalar_mu),
        AutoNormal::new(plated_mu),
    );
    check_stale(
        "AutoDelta",
        AutoDelta::new(scalar_mu),
        AutoDelta::new(plated_mu),
    );
    check_stale(
        "AutoDiagonalNormal",
        AutoDiagonalNormal::new(scalar_mu),
        AutoDiagonalNormal::new(plated_mu),
    );
    check_stale(
        "AutoMultivariateNormal",
        AutoMultivariateNormal::new(scalar_mu),
        AutoMultivariateNormal::new(plated_mu),
    );
    check_stale(
        "AutoLowRankMultivariateNormal",
        AutoLowRankMultivariateNormal::new(scalar_mu),
        AutoLowRankMultivariateNormal::new(plated_mu),
    );
    check_stale(
        "AutoLaplaceApproximation",
        AutoLaplaceApproximation::new(scalar_mu),
        AutoLaplaceApproximation::new(plated_mu),
    );
    // With the store cleared, the plated model trains.
    pyro::clear_param_store();
    let mut svi = Svi::new(
        plated_mu,
        AutoNormal::new(plated_mu),
        Adam::with_lr(0.01).unwrap(),
        TraceElbo::default(),
    );
    assert!(svi.step(()).is_ok());
}

#[test]
fn a_param_site_with_a_value_init_refuses_a_stored_value_of_another_shape() {
    pyro::clear_param_store();
    let w = pyro::param("w", DynTensor::zeros(&[2]), Constraint::Real).unwrap();
    assert_eq!(w.shape(), &[2]);
    let e = pyro::param("w", DynTensor::zeros(&[3]), Constraint::Real).unwrap_err();
    assert!(
        matches!(&e, PyroError::ParamShape { param, stored, expected }
            if param == "w" && stored == &[2] && expected == &[3]),
        "{e:?}"
    );
    assert_eq!(
        e.to_string(),
        "param `w`: the parameter store holds a value of shape [2], but it is now initialized \
         with shape [3] (left over from an earlier model?); call `pyro::clear_param_store()` \
         before fitting another model, or give the guide another prefix"
    );
    // The same shape reuses the stored value, as in Pyro; a lazy init is never built.
    assert!(pyro::param("w", DynTensor::ones(&[2]), Constraint::Real).is_ok());
    let lazy = pyro::params::ParamInit::lazy(|| panic!("not built: `w` exists"));
    assert_eq!(
        pyro::param_with("w", lazy, Constraint::Real, None)
            .unwrap()
            .to_vec(),
        vec![0.0, 0.0]
    );
}

/// `w` in a plate of 3 at dim -2: its values are `[3, 1]`.
fn rows() -> PyroResult<()> {
    pyro::plate("g", 3)
        .dim(-2)
        .run(|_| pyro::sample("w", Normal::new(0.0, 1.0)))?;
    Ok(())
}

#[test]
fn an_outer_plate_right_of_the_models_plates_is_an_error_not_a_scrambled_latent() {
    // A `samples` plate at dim -1 sits among the model's dims: the packed latent's values
    // cannot be laid out as `[3, 2]`; the guide says so instead of reordering them.
    pyro::clear_param_store();
    let guide = AutoMultivariateNormal::new(rows);
    guide.call(()).unwrap();
    let e = pyro::plate("samples", 2)
        .dim(-1)
        .run(|_| guide.call(()))
        .unwrap_err();
    assert!(
        matches!(&e, PyroError::SiteMismatch { site, reason } if site == "w" && reason.contains("max_plate_nesting")),
        "{e}"
    );
    // Left of the model's dims it is the usual leading sample dim.
    let ok = pyro::plate("samples", 2)
        .dim(-3)
        .run(|_| guide.call(()))
        .unwrap();
    assert_eq!(ok["w"].shape(), &[2, 3, 1]);
}

#[test]
fn a_param_macro_with_a_value_init_refuses_a_stored_value_of_another_shape() {
    pyro::clear_param_store();
    let _: Tensor<Rank1<2>> = pyro::dsl::param("v", [0.0f32; 2], Constraint::Real, None).unwrap();
    let e = pyro::dsl::param::<[f32; 3]>("v", [0.0; 3], Constraint::Real, None).unwrap_err();
    assert!(
        matches!(&e, PyroError::ParamShape { param, stored, expected }
            if param == "v" && stored == &[2] && expected == &[3]),
        "{e:?}"
    );
    // The same shape reuses the stored value.
    let v: Tensor<Rank1<2>> = pyro::dsl::param("v", [5.0f32; 2], Constraint::Real, None).unwrap();
    assert_eq!(v.to_vec().unwrap(), vec![0.0, 0.0]);
}

#[test]
fn a_stored_parameter_with_another_constraint_is_an_error_naming_it() {
    // An AutoMultivariateNormal checkpoint from before Pyro 1.9's layout: `scale_tril` as a
    // lower Cholesky factor (same shape). Reusing it would silently shrink the posterior.
    pyro::clear_param_store();
    pyro::params::param(
        "AutoMultivariateNormal.scale_tril",
        DynTensor::<Dev>::from_vec(vec![2.0], &[1, 1]).unwrap(),
        Constraint::LowerCholesky,
        Some(2),
    )
    .unwrap();
    let e = Svi::new(
        scalar_mu,
        AutoMultivariateNormal::new(scalar_mu),
        Adam::with_lr(0.01).unwrap(),
        TraceElbo::default(),
    )
    .step(())
    .unwrap_err();
    assert!(
        matches!(&e, PyroError::ParamConstraint { param, stored, expected }
            if param == "AutoMultivariateNormal.scale_tril"
                && *stored == Constraint::LowerCholesky
                && *expected == Constraint::UnitLowerCholesky),
        "{e:?}"
    );
    assert!(e.to_string().contains("pyro::clear_param_store()"), "{e}");
}

/// A model that picks its own minibatch: rows 0, 1, 2 of 1000.
fn own_batch() -> PyroResult<()> {
    pyro::plate("data", 1000)
        .subsample(vec![0, 1, 2])
        .run(|_| pyro::sample("z", Normal::new(0.0, 1.0)))?;
    Ok(())
}

#[test]
fn a_model_that_picks_its_own_batch_against_a_guide_that_draws_one_is_an_error() {
    pyro::clear_param_store();
    pyro::set_rng_seed(0);
    let e = Svi::new(
        own_batch,
        AutoNormal::new(own_batch),
        Adam::with_lr(0.01).unwrap(),
        TraceElbo::default(),
    )
    .step(())
    .unwrap_err();
    assert!(
        matches!(&e, PyroError::SiteMismatch { site, reason } if site == "z" && reason.contains("plate `data`") && reason.contains("[0, 1, 2]")),
        "{e}"
    );
}

#[test]
fn packed_guides_refuse_to_sample_a_posterior_whose_parameters_are_gone() {
    pyro::clear_param_store();
    let guide = AutoDiagonalNormal::new(in_plate);
    guide.call(()).unwrap();
    assert!(guide.sample_posterior(3).is_ok());
    pyro::clear_param_store();
    // It would otherwise re-create them at their initial values and sample those.
    let e = guide.sample_posterior(3).unwrap_err();
    assert!(e.to_string().contains("has not been run"), "{e}");
    assert!(guide.median().is_err());
}

/// A latent inside a sequential plate.
fn sequential() -> PyroResult<()> {
    for i in pyro::plate("seq", 2).iter()? {
        pyro::sample(&format!("x_{i}"), Normal::new(0.0, 1.0))?;
    }
    Ok(())
}

#[test]
fn every_autoguide_refuses_a_latent_in_a_sequential_plate() {
    for_each_guide!(sequential, |who, guide| {
        pyro::clear_param_store();
        let e = guide.call(()).unwrap_err();
        assert!(
            matches!(&e, PyroError::Plate { plate, reason } if plate == "seq" && reason.contains("sequential")),
            "{who}: {e}"
        );
    });
}

#[test]
fn the_laplace_approximation_leaves_a_fitted_multivariate_normal_alone() {
    pyro::clear_param_store();
    let mvn = AutoMultivariateNormal::new(in_plate);
    mvn.call(()).unwrap();
    let before = pyro::params::get_param::<Dev>("AutoMultivariateNormal.loc")
        .unwrap()
        .unwrap()
        .to_vec();
    let laplace = AutoLaplaceApproximation::new(in_plate);
    laplace.call(()).unwrap();
    let gaussian = laplace.laplace_approximation(()).unwrap();
    assert!(gaussian.sample_posterior(2).is_ok());
    let after = pyro::params::get_param::<Dev>("AutoMultivariateNormal.loc")
        .unwrap()
        .unwrap()
        .to_vec();
    assert_eq!(before, after);
    assert!(
        pyro::params::get_param::<Dev>("AutoLaplaceApproximation.laplace.scale_tril")
            .unwrap()
            .is_some()
    );
}
