//! Automatic guides built from a model's prototype trace (Pyro's `pyro.infer.autoguide`).
//!
//! Every autoguide is a [`Program`](crate::poutine::Program) taking the model's arguments:
//! the first call runs the model once (hidden from outer handlers) to find its latent sites,
//! and creates the guide's parameters in the parameter store.

mod continuous;
mod delta;
mod init;
mod normal;
mod prototype;

use std::collections::HashMap;

pub use continuous::{
    AutoDiagonalNormal, AutoLaplaceApproximation, AutoLowRankMultivariateNormal,
    AutoMultivariateNormal,
};
pub use delta::AutoDelta;
pub use init::InitLoc;
pub use normal::AutoNormal;
pub use prototype::{LatentSite, PlateAxis, Prototype};

use crate::constraints::Constraint;
use crate::error::{PyroError, PyroResult};
use crate::name::Name;
use crate::tensor::{Backend, DynTensor};

/// What every autoguide offers once it has been called (or set up).
pub trait AutoGuide<D: Backend> {
    /// The posterior median of each latent site (constrained space).
    fn median(&self) -> PyroResult<HashMap<String, DynTensor<D>>>;
    /// Marginal posterior quantiles of each latent site: a leading dim of `qs.len()`.
    fn quantiles(&self, qs: &[f32]) -> PyroResult<HashMap<String, DynTensor<D>>>;
    /// `n` independent posterior draws of every latent site at once: a leading dim of `n`.
    fn sample_posterior(&self, n: usize) -> PyroResult<HashMap<String, DynTensor<D>>>;
}

pub(crate) fn not_set_up(who: &'static str) -> PyroError {
    PyroError::Config {
        algorithm: who,
        reason: "the guide has not been run yet: call it (or run an SVI step) with the model's \
                 arguments first, so it can trace the model"
            .into(),
    }
}

/// Whether the parameter store holds `name`; a stored value of another shape than `shape`,
/// or with another constraint than `constraint` (left over from fitting another model, or
/// from another version of the guide), is a typed error naming the parameter.
pub(crate) fn stored_as<D: Backend>(
    name: &Name,
    shape: &[usize],
    constraint: &Constraint,
) -> PyroResult<bool> {
    use crate::params::store::StoredMatch;
    let stored =
        crate::params::with_param_store_on::<D, _>(|s| s.check_named(name, shape, constraint))
            .map_err(|e| PyroError::ParamStoreAt {
                site: name.to_string(),
                source: Box::new(e),
            })?;
    match stored {
        None => Ok(false),
        Some(StoredMatch::Same) => Ok(true),
        Some(StoredMatch::Shape(stored)) => Err(PyroError::ParamShape {
            param: name.to_string(),
            stored,
            expected: shape.to_vec(),
        }),
        Some(StoredMatch::Constraint(stored)) => Err(PyroError::ParamConstraint {
            param: name.to_string(),
            stored,
            expected: constraint.clone(),
        }),
    }
}

/// `init_scale` must be positive and finite.
pub(crate) fn check_init_scale(who: &'static str, init_scale: f32) -> PyroResult<()> {
    if init_scale > 0.0 && init_scale.is_finite() {
        Ok(())
    } else {
        Err(PyroError::Config {
            algorithm: who,
            reason: format!("init_scale must be positive, got {init_scale}"),
        })
    }
}

/// The map an autoguide's `call` returns: site name -> sampled value, from a sampler that
/// hands each latent site's name and value to the closure it is given.
pub(crate) fn collect_sites<D: Backend>(
    sample: impl FnOnce(&mut dyn FnMut(&Name, DynTensor<D>)) -> PyroResult<()>,
) -> PyroResult<HashMap<String, DynTensor<D>>> {
    let mut out = HashMap::new();
    sample(&mut |name, v| {
        out.insert(String::from(name.as_str()), v);
    })?;
    Ok(out)
}

/// Elementwise standard normal quantiles of `qs`, as a `[qs.len()]` host vector.
pub(crate) fn normal_quantiles(qs: &[f32]) -> PyroResult<Vec<f32>> {
    qs.iter()
        .map(|&q| {
            if q > 0.0 && q < 1.0 {
                Ok(crate::tensor::special::scalar::ndtri(q as f64) as f32)
            } else {
                Err(PyroError::Config {
                    algorithm: "quantiles",
                    reason: format!("quantile {q} is not in (0, 1)"),
                })
            }
        })
        .collect()
}
