//! Plates and the primitives, with the seed documents' examples at runtime level: a coin
//! flip, a learnable coin, 100 flips in a plate, a subsampled plate and the x/y plates.

use pyro::poutine::{self, SiteKind};
use pyro::prelude::*;
use pyro::{PyroError, PyroResult};

type Dev = pyro::DefaultDevice;

fn coin() -> PyroResult<DynTensor<Dev>> {
    pyro::sample("flip", Bernoulli::new(0.5))
}

#[test]
fn coin_flip_is_fair() {
    pyro::set_rng_seed(10);
    let n = 4000;
    let heads: f32 = (0..n).map(|_| coin().unwrap().item().unwrap()).sum();
    let freq = heads as f64 / n as f64;
    // 4 standard errors of a fair coin's frequency.
    assert!(
        (freq - 0.5).abs() < 4.0 * (0.25 / n as f64).sqrt(),
        "{freq}"
    );
    let tr = poutine::trace(coin).get_trace(()).unwrap();
    let v = tr.get("flip").unwrap().value.item().unwrap();
    assert!(v == 0.0 || v == 1.0);
}

fn learnable_coin(flip: f32) -> PyroResult<DynTensor<Dev>> {
    let p = pyro::param("p", DynTensor::scalar(0.8), Constraint::UnitInterval)?;
    pyro::observe("flip", Bernoulli::new(&p), DynTensor::scalar(flip))
}

#[test]
fn learnable_coin_has_a_param_site_and_gradients_reach_its_leaf() {
    pyro::clear_param_store();
    let tr = poutine::trace(learnable_coin).get_trace((1.0,)).unwrap();
    assert_eq!(tr.get("p").unwrap().kind, SiteKind::Param);
    assert!(tr.get("flip").unwrap().is_observed);
    // d/du log Bernoulli(1 | sigmoid(u)) = 1 - p, with u the unconstrained leaf.
    let leaf =
        pyro::params::with_param_store(|s| s.get_unconstrained("p").unwrap().clone()).unwrap();
    let scope = GradScope::<Dev>::open();
    let mut tr = poutine::trace(learnable_coin).get_trace((1.0,)).unwrap();
    let lp = tr.log_prob_sum().unwrap();
    let grads = scope.backward(&lp).unwrap();
    let g = grads.get_or_zeros(&leaf).to_vec()[0];
    assert!((g - 0.2).abs() < 1e-5, "{g}");
}

#[test]
fn one_hundred_flips_in_a_plate() {
    let model = || pyro::plate("flips", 100).run(|_| pyro::sample("flip", Bernoulli::new(0.5)));
    let tr = poutine::trace(model).get_trace(()).unwrap();
    let site = tr.get("flip").unwrap();
    assert_eq!(site.value.shape(), &[100]);
    assert_eq!(site.cond_indep_stack.len(), 1);
    assert_eq!(site.cond_indep_stack[0].name, "flips");
    assert_eq!(site.cond_indep_stack[0].dim, Some(-1));
}

#[test]
fn subsampled_plate_scales_the_log_probability_by_size_over_batch() {
    let data =
        DynTensor::<Dev>::from_vec((0..1000).map(|i| (i % 7) as f32 * 0.1).collect(), &[1000])
            .unwrap();
    let model = || {
        pyro::plate("data", 1000).subsample_size(100).run(|p| {
            assert_eq!(p.indices().len(), 100);
            let batch = p.subsample(&data, 0)?;
            pyro::observe("obs", Normal::new(0.0, 1.0), batch)
        })
    };
    let mut tr = poutine::trace(model).get_trace(()).unwrap();
    let site = tr.get("obs").unwrap().clone();
    assert_eq!(site.scale, 10.0);
    assert_eq!(site.value.shape(), &[100]);
    let unscaled: f32 = site
        .value
        .to_vec()
        .iter()
        .map(|x| -0.5 * x * x - 0.5 * (2.0 * std::f32::consts::PI).ln())
        .sum();
    let total = tr.log_prob_sum().unwrap().item().unwrap();
    assert!(
        (total - 10.0 * unscaled).abs() < 1e-3,
        "{total} vs {}",
        10.0 * unscaled
    );
    // The batch is distinct indices into the data.
    let idx = site.cond_indep_stack[0].indices.clone();
    let mut sorted = idx.to_vec();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), 100);
}

#[test]
fn x_and_y_plates_at_dims_minus_one_and_minus_two() {
    let model = || -> PyroResult<_> {
        let x_axis = pyro::plate("x_axis", 320).dim(-1).enter()?;
        let y_axis = pyro::plate("y_axis", 200).dim(-2).enter()?;
        drop(y_axis);
        let a = pyro::sample("a", Normal::new(0.0, 1.0))?;
        drop(x_axis);
        let b = pyro::plate("y_axis", 200)
            .dim(-2)
            .run(|_| pyro::sample("b", Normal::new(0.0, 1.0)))?;
        let c = pyro::plate("x_axis", 320).dim(-1).run(|_| {
            pyro::plate("y_axis", 200)
                .dim(-2)
                .run(|_| pyro::sample("c", Normal::new(0.0, 1.0)))
        })?;
        Ok((a, b, c))
    };
    let (a, b, c) = model().unwrap();
    assert_eq!(a.shape(), &[320]);
    assert_eq!(b.shape(), &[200, 1]);
    assert_eq!(c.shape(), &[200, 320]);
}

#[test]
fn nested_plates_get_automatic_dims_and_collisions_are_errors() {
    let shape = pyro::plate("outer", 3)
        .run(|o| {
            assert_eq!(o.dim(), -1);
            pyro::plate("inner", 4).run(|i| {
                assert_eq!(i.dim(), -2);
                pyro::sample("z", Normal::new(0.0, 1.0))
            })
        })
        .unwrap();
    assert_eq!(shape.shape(), &[4, 3]);
    let err = pyro::plate("a", 2)
        .dim(-1)
        .run(|_| pyro::plate("b", 3).dim(-1).run(|_| Ok(())))
        .unwrap_err();
    assert!(
        matches!(err, PyroError::Plate { ref plate, .. } if plate == "b"),
        "{err}"
    );
    // Dims are freed when plates are left.
    pyro::plate("c", 2).dim(-1).run(|_| Ok(())).unwrap();
}

#[test]
fn a_batch_shape_that_does_not_fit_the_plate_names_site_plate_dim_and_sizes() {
    let loc = DynTensor::<Dev>::zeros(&[5]);
    let err = pyro::plate("data", 3)
        .run(|_| pyro::sample("obs", Normal::from_dyn(loc.clone(), DynTensor::scalar(1.0))))
        .unwrap_err();
    match err {
        PyroError::PlateShape {
            site,
            plate,
            dim,
            size,
            batch_shape,
        } => {
            assert_eq!(
                (site.as_str(), plate.as_str(), dim, size),
                ("obs", "data", -1, 3)
            );
            assert_eq!(batch_shape, vec![5]);
        }
        e => panic!("wrong error {e}"),
    }
    let msg = pyro::plate("data", 3)
        .run(|_| pyro::sample("obs", Normal::from_dyn(loc.clone(), DynTensor::scalar(1.0))))
        .unwrap_err()
        .to_string();
    assert!(msg.contains("obs") && msg.contains("data") && msg.contains('3') && msg.contains('5'));
}

#[test]
fn sequential_plate_gives_each_iteration_its_own_frame() {
    let model = || {
        for i in pyro::plate("seq", 3).iter()? {
            pyro::sample(&format!("x_{i}"), Normal::new(0.0, 1.0))?;
        }
        Ok(())
    };
    let tr = poutine::trace(model).get_trace(()).unwrap();
    assert_eq!(tr.names(), vec!["x_0", "x_1", "x_2"]);
    for (k, s) in tr.sites().iter().enumerate() {
        let f = &s.cond_indep_stack[0];
        assert_eq!((f.name.as_str(), f.dim, f.counter), ("seq", None, k));
        assert_eq!(s.value.shape(), &[] as &[usize]);
    }
    assert_eq!(pyro::poutine::stack_depth(), 0);
}

#[test]
fn sequential_plate_with_subsampling_scales() {
    let model = || {
        let mut seen = vec![];
        for i in pyro::plate("seq", 10).subsample_size(2).iter()? {
            pyro::sample(&format!("x_{i}"), Normal::new(0.0, 1.0))?;
            seen.push(i);
        }
        Ok(seen)
    };
    let (seen, tr) = poutine::trace(model).run_traced(()).unwrap();
    assert_eq!(seen.len(), 2);
    // The batch itself is recorded as the plate's subsample site.
    assert_eq!(tr.get("seq").unwrap().kind, SiteKind::Subsample);
    for s in tr.sites().iter().filter(|s| s.kind == SiteKind::Sample) {
        assert_eq!(s.scale, 5.0);
    }
}

#[test]
fn explicit_subsample_indices_and_subsample_of_data() {
    let data = DynTensor::<Dev>::from_vec((0..12).map(|i| i as f32).collect(), &[6, 2]).unwrap();
    pyro::plate("rows", 6)
        .subsample(vec![5, 0])
        .dim(-1)
        .run(|_| {
            // event_dim 1: the last dim is an event, the batch dim is the first.
            let x = pyro::subsample(&data, 1)?;
            assert_eq!(x.to_vec(), vec![10.0, 11.0, 0.0, 1.0]);
            Ok(())
        })
        .unwrap();
    assert!(pyro::plate("rows", 6).subsample(vec![6]).enter().is_err());
    assert!(pyro::plate("rows", 6).subsample_size(7).enter().is_err());
    assert!(pyro::plate("rows", 0).enter().is_err());
}

#[test]
fn plate_stack_nests_plates_rightmost_last() {
    let x = {
        let _p = pyro::plate_stack("p", &[2, 3, 4]).unwrap();
        pyro::sample("x", Normal::new(0.0, 1.0)).unwrap()
    };
    assert_eq!(x.shape(), &[2, 3, 4]);
    assert_eq!(pyro::poutine::stack_depth(), 0);
}

#[test]
fn factor_and_deterministic_sites() {
    let model = || {
        let z = pyro::sample("z", Normal::new(0.0, 1.0))?;
        pyro::deterministic("z2", z.square(), 0)?;
        pyro::factor("f", DynTensor::scalar(-3.0))?;
        Ok(z)
    };
    let (z, mut tr) = poutine::trace(model).run_traced(()).unwrap();
    let z = z.item().unwrap();
    assert_eq!(tr.get("z2").unwrap().value.item().unwrap(), z * z);
    let lp = tr.log_prob_sum().unwrap().item().unwrap();
    let want = -0.5 * z * z - 0.5 * (2.0 * std::f32::consts::PI).ln() - 3.0;
    assert!((lp - want).abs() < 1e-5);
    let latent: Vec<_> = tr.stochastic_nodes().map(|s| s.name.clone()).collect();
    assert_eq!(latent, ["z"]);
}

#[test]
fn obs_mask_splits_observed_and_latent_parts() {
    use pyro::primitives::SampleOptions;
    let obs = DynTensor::<Dev>::from_vec(vec![1.0, 2.0, 3.0], &[3]).unwrap();
    let model = || {
        pyro::plate("d", 3).run(|_| {
            pyro::sample_with(
                "y",
                Normal::new(0.0, 1.0),
                SampleOptions {
                    obs: Some(obs.clone()),
                    obs_mask: Some((vec![true, false, true], vec![3])),
                    ..Default::default()
                },
            )
        })
    };
    let (y, tr) = poutine::trace(model).run_traced(()).unwrap();
    let y = y.to_vec();
    assert_eq!((y[0], y[2]), (1.0, 3.0));
    assert_ne!(y[1], 2.0);
    assert!(tr.get("y_observed").unwrap().is_observed);
    assert!(!tr.get("y_unobserved").unwrap().is_observed);
}

#[test]
fn replay_gives_the_model_the_guides_minibatch() {
    let data = DynTensor::<Dev>::from_vec((0..100).map(|i| i as f32).collect(), &[100]).unwrap();
    let guide = || {
        pyro::plate("data", 100).subsample_size(10).run(|p| {
            let idx: Vec<f32> = p.indices().iter().map(|&i| i as f32).collect();
            let loc = DynTensor::<Dev>::from_vec(idx, &[10])?;
            pyro::sample("z", Normal::from_dyn(loc, DynTensor::scalar(1e-3)))
        })
    };
    let model = || {
        pyro::plate("data", 100).subsample_size(10).run(|p| {
            let z = pyro::sample("z", Normal::new(0.0, 100.0))?;
            let batch = p.subsample(&data, 0)?;
            pyro::observe("x", Normal::from_dyn(z, DynTensor::scalar(1.0)), batch)
        })
    };
    for seed in 0..5 {
        pyro::set_rng_seed(seed);
        let guide_tr = poutine::trace(guide).get_trace(()).unwrap();
        let model_tr = poutine::trace(poutine::replay(model, &guide_tr))
            .get_trace(())
            .unwrap();
        let g = guide_tr.get("data").unwrap().value.to_vec();
        let m = model_tr.get("data").unwrap().value.to_vec();
        assert_eq!(g, m, "the model saw another minibatch");
        // The observed data are the guide's rows, which the guide's z encodes.
        let z = model_tr.get("z").unwrap().value.to_vec();
        let x = model_tr.get("x").unwrap().value.to_vec();
        for (zi, xi) in z.iter().zip(&x) {
            assert!((zi - xi).abs() < 0.01, "{zi} vs {xi}");
        }
        assert_eq!(model_tr.get("data").unwrap().kind, SiteKind::Subsample);
        assert!(model_tr.stochastic_nodes().all(|s| s.name == "z"));
    }
}
