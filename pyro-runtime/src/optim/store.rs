//! [`step_store`]: one optimizer step over parameters of a [`ParamStore`].

use std::collections::HashSet;
use std::panic::{catch_unwind, AssertUnwindSafe};

use dfdx::prelude::Gradients;

use super::error::{OptimError, OptimResult};
use super::Optimizer;
use crate::params::ParamStore;
use crate::tensor::{Backend, DynTensor};

/// Updates the named parameters of `store` with `opt`: for each name, reads the
/// unconstrained leaf (`store.get_unconstrained(name)`) and its gradient of the loss
/// (`grads.get(leaf)`), calls [`Optimizer::update`] on the host values and writes the result
/// back with [`ParamStore::replace_unconstrained`], which keeps the leaf's dfdx id (so the
/// next step's gradients are found under it). Updates happen in unconstrained space, as in
/// Pyro. A name listed twice is updated once. This does not call
/// [`Optimizer::end_step`]; the caller does, once per SVI step.
///
/// Every name, leaf and gradient is read and checked before anything is written: an unknown
/// name ([`OptimError::UnknownParam`]) or a missing gradient leaves the store and the
/// optimizer untouched. An error of the optimizer itself (e.g. a NaN gradient, naming the
/// parameter) stops the loop there: earlier names of the list are already updated.
///
/// Precondition: `grads` holds a gradient slot for every listed leaf — allocate one in
/// [`GradScope::backward_any`](crate::tensor::GradScope::backward_any)'s closure with
/// `grads.try_alloc_for(leaf.flat())`, so that a parameter the loss does not depend on
/// gets a zero gradient. dfdx's `Gradients` has no public presence check and its `get`
/// panics on a missing slot; that panic is caught and reported as
/// [`OptimError::MissingGradient`], but the default panic hook still prints it to stderr.
///
/// ```
/// use pyro::prelude::*;
/// use pyro::optim::{step_store, Optimizer, Sgd};
/// let mut store = ParamStore::<Cpu>::new();
/// store.param("scale", DynTensor::scalar(1.0), Constraint::Positive, None).unwrap();
/// let leaf = store.get_unconstrained("scale").unwrap().clone();
/// // loss = scale: d loss / d log(scale) = scale = 1
/// let scope = GradScope::<Cpu>::open();
/// let loss = store.get("scale").unwrap().sum().to_scalar_tensor().unwrap();
/// let grads = scope.backward_any(loss, |g| g.try_alloc_for(leaf.flat())).unwrap();
/// let mut sgd = Sgd::with_lr(0.5).unwrap();
/// step_store(&mut sgd, &mut store, &grads, &["scale"]).unwrap();
/// sgd.end_step();
/// // log(scale) went from 0 to -0.5
/// assert!((store.get("scale").unwrap().to_vec()[0] - (-0.5f32).exp()).abs() < 1e-6);
/// ```
pub fn step_store<D: Backend>(
    opt: &mut dyn Optimizer,
    store: &mut ParamStore<D>,
    grads: &Gradients<f32, D>,
    names: &[&str],
) -> OptimResult<()> {
    let mut seen = HashSet::new();
    let mut work = Vec::with_capacity(names.len());
    for &name in names {
        if !seen.insert(name) {
            continue;
        }
        let leaf = store
            .get_unconstrained(name)
            .ok_or_else(|| OptimError::UnknownParam {
                name: name.to_string(),
            })?;
        let grad = read_grad(grads, leaf, name)?;
        work.push((name, leaf.shape().to_vec(), leaf.to_vec(), grad));
    }
    for (name, shape, mut value, grad) in work {
        opt.update(name, &mut value, &grad)?;
        let t = DynTensor::<D>::from_vec(value, &shape).map_err(|e| OptimError::Store {
            name: name.to_string(),
            message: e.to_string(),
            source: None,
        })?;
        store
            .replace_unconstrained(name, &t)
            .map_err(|e| OptimError::Store {
                name: name.to_string(),
                message: e.to_string(),
                source: Some(e),
            })?;
    }
    Ok(())
}

/// The gradient of `leaf` on the host, or [`OptimError::MissingGradient`].
fn read_grad<D: Backend>(
    grads: &Gradients<f32, D>,
    leaf: &DynTensor<D>,
    name: &str,
) -> OptimResult<Vec<f32>> {
    let got = catch_unwind(AssertUnwindSafe(|| {
        let g = grads.get(leaf.flat());
        if leaf.numel() == 0 {
            Vec::new() // dfdx's iterators do not handle empty tensors
        } else {
            g.as_vec()
        }
    }));
    got.map_err(|_| OptimError::MissingGradient {
        name: name.to_string(),
    })
}
