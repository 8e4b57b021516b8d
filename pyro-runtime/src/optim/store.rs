//! [`step_store`]: one optimizer step over parameters of a [`ParamStore`].

use super::error::{OptimError, OptimResult};
use super::Optimizer;
use crate::name::Name;
use crate::params::ParamStore;
use crate::tensor::{Backend, Grads};

/// Updates the named parameters of `store` with `opt`: for each name, reads the
/// unconstrained leaf (`store.get_unconstrained(name)`) and its gradient of the loss
/// (`grads.get(leaf)`), calls [`Optimizer::update`] on the host values and writes the result
/// back with [`ParamStore::replace_unconstrained`], which keeps the leaf's identity (so the
/// next step's gradients are found under it). Updates happen in unconstrained space, as in
/// Pyro. A name listed twice is updated once. This does not call
/// [`Optimizer::end_step`]; the caller does, once per SVI step.
///
/// Every name, leaf and gradient is read and checked before anything is written: an unknown
/// name ([`OptimError::UnknownParam`]) or a missing gradient leaves the store and the
/// optimizer untouched. An error of the optimizer itself (e.g. a NaN gradient, naming the
/// parameter) stops the loop there: earlier names of the list are already updated.
///
/// A parameter the loss does not depend on gets a zero gradient (its optimizer state still
/// advances, as in Pyro's SVI, which steps every parameter the trace touched).
///
/// ```
/// use pyro::prelude::*;
/// use pyro::optim::{step_store, Optimizer, Sgd};
/// let mut store = ParamStore::<Cpu>::new();
/// store.param("scale", DynTensor::scalar(1.0), Constraint::Positive, None).unwrap();
/// let leaf = store.get_unconstrained("scale").unwrap().clone();
/// // loss = scale: d loss / d log(scale) = scale = 1
/// let scope = GradScope::<Cpu>::open();
/// let loss = store.get("scale").unwrap().sum();
/// let grads = scope.backward(&loss).unwrap();
/// let mut sgd = Sgd::with_lr(0.5).unwrap();
/// step_store(&mut sgd, &mut store, &grads, &["scale"]).unwrap();
/// sgd.end_step();
/// // log(scale) went from 0 to -0.5
/// assert!((store.get("scale").unwrap().to_vec()[0] - (-0.5f32).exp()).abs() < 1e-6);
/// ```
pub fn step_store<D: Backend>(
    opt: &mut dyn Optimizer,
    store: &mut ParamStore<D>,
    grads: &Grads<D>,
    names: &[&str],
) -> OptimResult<()> {
    let mut work = Vec::with_capacity(names.len());
    for name in unique_names(names) {
        let leaf = store
            .get_unconstrained(name)
            .ok_or_else(|| OptimError::UnknownParam {
                name: name.to_string(),
            })?;
        let grad = grads.get_or_zeros(leaf).to_vec();
        work.push((name, leaf.shape().to_vec(), leaf.to_vec(), grad));
    }
    for (name, shape, mut value, grad) in work {
        opt.update(name, &mut value, &grad)?;
        store
            .replace_unconstrained_values(name, &shape, &value)
            .map_err(|e| OptimError::Store {
                name: name.to_string(),
                source: Box::new(e),
            })?;
    }
    Ok(())
}

/// `names` without repeats, in first-seen order: a linear scan for the usual handful of
/// names, a set beyond.
fn unique_names<'a>(names: &[&'a str]) -> Vec<&'a str> {
    let mut seen = (names.len() > 16).then(std::collections::HashSet::new);
    let mut out = Vec::with_capacity(names.len());
    for &name in names {
        let repeated = match &mut seen {
            Some(set) => !set.insert(name),
            None => out.contains(&name),
        };
        if !repeated {
            out.push(name);
        }
    }
    out
}

/// [`step_store`] as SVI calls it: each gradient is read in place. Every name is
/// checked before anything is written; a leaf the loss does not depend on gets a zero
/// gradient.
pub(crate) fn step_store_owned<D: Backend>(
    opt: &mut dyn Optimizer,
    store: &mut ParamStore<D>,
    grads: &Grads<D>,
    names: &[Name],
) -> OptimResult<()> {
    // Each name is looked up once; repeats are dropped by position.
    let mut seen = vec![false; store.len()];
    let mut work: Vec<(usize, &str)> = Vec::with_capacity(names.len());
    for name in names {
        let Some(i) = store.position_named(name) else {
            return Err(OptimError::UnknownParam {
                name: name.to_string(),
            });
        };
        if !std::mem::replace(&mut seen[i], true) {
            work.push((i, name));
        }
    }
    for (i, name) in work {
        let zeros;
        let g = match grads.slice(&store.entries[i].unconstrained) {
            Some(g) => g,
            None => {
                zeros = vec![0.0; store.entries[i].unconstrained.numel()];
                &zeros
            }
        };
        // In place when no one else holds the leaf's values (the usual case after a step:
        // the trace is gone); a failed update changes nothing (the optimizer's contract).
        if let Some(values) = store.entries[i].unconstrained.values_mut() {
            opt.update(name, values, g)?;
            continue;
        }
        let mut value = store.entries[i].unconstrained.to_vec();
        opt.update(name, &mut value, g)?;
        store
            .overwrite_unconstrained_at(i, &value)
            .map_err(|e| OptimError::Store {
                name: name.to_string(),
                source: Box::new(e),
            })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use dfdx::prelude::Cpu;

    use super::*;
    use crate::constraints::Constraint;
    use crate::optim::{Adam, OptimError, Optimizer, Sgd};
    use crate::tensor::{DynTensor, GradScope};

    fn store() -> ParamStore<Cpu> {
        let mut s = ParamStore::<Cpu>::new();
        s.param("scale", DynTensor::scalar(2.0), Constraint::Positive, None)
            .unwrap();
        s.param(
            "loc",
            DynTensor::from_vec(vec![0.0, 0.5], &[2]).unwrap(),
            Constraint::Real,
            None,
        )
        .unwrap();
        s
    }

    fn leaves(s: &ParamStore<Cpu>) -> Vec<DynTensor<Cpu>> {
        s.named_parameters().map(|(_, t)| t.clone()).collect()
    }

    /// The gradients of loss = (scale - 0.3)^2 + sum((loc - [1, -1])^2).
    fn grads_of(s: &ParamStore<Cpu>) -> Grads<Cpu> {
        let scope = GradScope::<Cpu>::open();
        let scale = s.get("scale").unwrap();
        let loc = s.get("loc").unwrap();
        let target = DynTensor::from_vec(vec![1.0, -1.0], &[2]).unwrap();
        let loss = scale
            .add_scalar(-0.3)
            .square()
            .sum()
            .add(&loc.sub(&target).unwrap().square().sum())
            .unwrap();
        scope.backward(&loss).unwrap()
    }

    #[test]
    fn sgd_step_happens_in_unconstrained_space() {
        // u = log(scale); d loss / du = 2 (scale - 0.3) * scale = 6.8 at scale = 2, and
        // d loss / d loc = 2 (loc - target) = [-2, 3].
        let mut s = store();
        let grads = grads_of(&s);
        let mut sgd = Sgd::with_lr(0.01).unwrap();
        step_store(&mut sgd, &mut s, &grads, &["scale", "loc"]).unwrap();
        let u = s.get_unconstrained("scale").unwrap().to_vec()[0];
        assert!((u - (2f32.ln() - 0.068)).abs() < 1e-6, "{u}");
        let scale = s.get("scale").unwrap().to_vec()[0];
        assert!((scale - 2.0 * (-0.068f32).exp()).abs() < 1e-6, "{scale}");
        let loc = s.get("loc").unwrap().to_vec();
        assert!(
            (loc[0] - 0.02).abs() < 1e-7 && (loc[1] - 0.47).abs() < 1e-7,
            "{loc:?}"
        );
        assert_eq!(s.constraint("scale"), Some(&Constraint::Positive));
    }

    #[test]
    fn adam_converges_through_the_store_keeping_leaf_ids() {
        // The gradient slots are allocated for the leaves as they were before the first step:
        // step_store keeps each leaf's id, so they are still the store's leaves.
        let mut s = store();
        let first_leaves = leaves(&s);
        let mut adam = Adam::with_lr(0.05).unwrap();
        for t in 0..1000 {
            let grads = grads_of(&s);
            if t % 100 == 0 {
                // The slot of the leaf as it was at the start receives today's gradient.
                let scale = s.get("scale").unwrap().to_vec()[0];
                let g = grads.get_or_zeros(&first_leaves[0]).to_vec()[0];
                let want = 2.0 * (scale - 0.3) * scale;
                assert!(
                    (g - want).abs() <= 1e-5 * want.abs().max(1e-3),
                    "{g} vs {want}"
                );
            }
            step_store(&mut adam, &mut s, &grads, &["scale", "loc"]).unwrap();
            adam.end_step();
        }
        let scale = s.get("scale").unwrap().to_vec()[0];
        let loc = s.get("loc").unwrap().to_vec();
        assert!((scale - 0.3).abs() < 1e-3, "{scale}");
        assert!(
            (loc[0] - 1.0).abs() < 1e-3 && (loc[1] + 1.0).abs() < 1e-3,
            "{loc:?}"
        );
        assert_eq!(adam.step_count("scale"), Some(1000));
    }

    #[test]
    fn a_name_listed_twice_is_updated_once() {
        let (mut s, mut t) = (store(), store());
        let mut sgd = Sgd::with_lr(0.01).unwrap();
        let mut sgd2 = Sgd::with_lr(0.01).unwrap();
        let g = grads_of(&s);
        step_store(&mut sgd, &mut s, &g, &["loc", "loc"]).unwrap();
        let g = grads_of(&t);
        step_store(&mut sgd2, &mut t, &g, &["loc"]).unwrap();
        assert_eq!(
            s.get("loc").unwrap().to_vec(),
            t.get("loc").unwrap().to_vec()
        );
    }

    #[test]
    fn input_errors_leave_the_store_untouched() {
        let mut s = store();
        let before: Vec<Vec<f32>> = leaves(&s).iter().map(DynTensor::to_vec).collect();
        let mut sgd = Sgd::with_lr(0.1).unwrap();

        let grads = grads_of(&s);
        let err = step_store(&mut sgd, &mut s, &grads, &["scale", "nope"]).unwrap_err();
        assert!(
            matches!(err, OptimError::UnknownParam { ref name } if name == "nope"),
            "{err}"
        );

        let after: Vec<Vec<f32>> = leaves(&s).iter().map(DynTensor::to_vec).collect();
        assert_eq!(before, after);
        assert_eq!(sgd.num_states(), 0);
    }

    #[test]
    fn svi_updates_write_in_place_and_copy_on_write() {
        // Nobody else holds `loc`'s values: updated in place, same node. A clone of `scale`
        // held outside keeps its old values; the store's leaf still is the same node.
        let mut s = store();
        let held = s.get_unconstrained("scale").unwrap().clone();
        let before = held.to_vec();
        let loc_ptr = s.get_unconstrained("loc").unwrap().values().as_ptr();
        let grads = grads_of(&s);
        let names: Vec<Name> = vec!["scale".into(), "loc".into()];
        let mut sgd = Sgd::with_lr(0.01).unwrap();
        step_store_owned(&mut sgd, &mut s, &grads, &names).unwrap();
        let loc = s.get_unconstrained("loc").unwrap();
        assert_eq!(
            loc.values().as_ptr(),
            loc_ptr,
            "loc was not updated in place"
        );
        assert!((loc.to_vec()[0] - 0.02).abs() < 1e-7);
        assert_eq!(held.to_vec(), before);
        let scale = s.get_unconstrained("scale").unwrap();
        assert!(scale.same_node(&held));
        assert!((scale.to_vec()[0] - (2f32.ln() - 0.068)).abs() < 1e-6);
    }

    #[test]
    fn a_parameter_the_loss_does_not_reach_gets_a_zero_gradient() {
        let mut s = store();
        let scope = GradScope::<Cpu>::open();
        let loss = s.get("scale").unwrap().square().sum(); // loc is not on the path
        let grads = scope.backward(&loss).unwrap();
        assert!(grads.get(s.get_unconstrained("loc").unwrap()).is_none());
        let mut sgd = Sgd::with_lr(0.1).unwrap();
        step_store(&mut sgd, &mut s, &grads, &["scale", "loc"]).unwrap();
        assert_eq!(s.get("loc").unwrap().to_vec(), vec![0.0, 0.5]);
        // d scale^2 / d log(scale) = 2 scale^2 = 8: log(2) - 0.8.
        let u = s.get_unconstrained("scale").unwrap().to_vec()[0];
        assert!((u - (2f32.ln() - 0.8)).abs() < 1e-6, "{u}");
    }

    #[test]
    fn a_nan_gradient_names_the_parameter() {
        // loss = sum(sqrt(loc)) with loc[0] = -1: the gradient 0.5 / sqrt(loc) is NaN there.
        let mut s = ParamStore::<Cpu>::new();
        s.param(
            "loc",
            DynTensor::from_vec(vec![-1.0, 4.0], &[2]).unwrap(),
            Constraint::Real,
            None,
        )
        .unwrap();
        let scope = GradScope::<Cpu>::open();
        let loss = s.get("loc").unwrap().sqrt().sum();
        let grads = scope.backward(&loss).unwrap();
        let mut adam = Adam::with_lr(0.1).unwrap();
        let err = step_store(&mut adam, &mut s, &grads, &["loc"]).unwrap_err();
        assert!(
            matches!(err, OptimError::NonFiniteGradient { ref name, index: 0, .. } if name == "loc"),
            "{err}"
        );
        assert_eq!(s.get("loc").unwrap().to_vec(), vec![-1.0, 4.0]);
    }
}
