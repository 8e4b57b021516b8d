//! Initialization strategies for autoguides (Pyro's `pyro.infer.autoguide.initialization`).

use std::collections::HashMap;

use rand::Rng;

use super::prototype::LatentSite;
use crate::error::{PyroError, PyroResult};
use crate::tensor::{Backend, DynTensor};

/// How an autoguide picks the initial (constrained) value of each latent site.
///
/// ```
/// use pyro::infer::autoguide::InitLoc;
/// let init = InitLoc::<pyro::DefaultDevice>::Median { num_samples: 15 };
/// assert!(matches!(init, InitLoc::Median { .. }));
/// ```
#[derive(Debug, Clone, Default)]
pub enum InitLoc<D: Backend = crate::tensor::DefaultDevice> {
    /// The point that maps to zero in unconstrained space (`init_to_feasible`).
    #[default]
    Feasible,
    /// The elementwise median of prior draws (`init_to_median`).
    Median {
        /// Draws per site.
        num_samples: usize,
    },
    /// The prior mean, or the median where the mean is undefined (`init_to_mean`).
    Mean,
    /// One prior draw (`init_to_sample`).
    Sample,
    /// Uniform in `(-radius, radius)` in unconstrained space (`init_to_uniform`).
    Uniform {
        /// Half-width of the interval.
        radius: f32,
    },
    /// Given values by name, `Feasible` for the other sites (`init_to_value`).
    Value(HashMap<String, DynTensor<D>>),
}

fn site_err(site: &LatentSite<impl Backend>, e: impl std::fmt::Display) -> PyroError {
    PyroError::SiteMismatch {
        site: site.name.to_string(),
        reason: format!("cannot initialize: {e}"),
    }
}

impl<D: Backend> InitLoc<D> {
    /// The initial constrained value for `site`.
    pub(crate) fn init(&self, site: &LatentSite<D>) -> PyroResult<DynTensor<D>> {
        match self {
            InitLoc::Feasible => feasible(site),
            InitLoc::Median { num_samples } => median(site, *num_samples.max(&1)),
            InitLoc::Mean => match site.dist.mean() {
                Ok(m) if m.to_vec().iter().all(|v| v.is_finite()) => {
                    Ok(m.broadcast_to(&site.shape)?)
                }
                _ => median(site, 15),
            },
            InitLoc::Sample => {
                crate::rng::with_rng(|r| site.dist.sample(&[], r)).map_err(|e| site_err(site, e))
            }
            InitLoc::Uniform { radius } => {
                let r = *radius;
                if !(r.is_finite() && r > 0.0) {
                    return Err(site_err(
                        site,
                        format!("init_to_uniform radius {r} is not positive and finite"),
                    ));
                }
                let vals: Vec<f32> = crate::rng::with_rng(|rng| {
                    (0..site.u_numel).map(|_| rng.gen_range(-r..r)).collect()
                });
                let u = DynTensor::from_vec(vals, &site.u_shape)?;
                site.transform.forward(&u).map_err(|e| site_err(site, e))
            }
            InitLoc::Value(values) => match values.get(site.name.as_str()) {
                Some(v) if v.shape() == site.shape.as_slice() => Ok(v.clone()),
                Some(v) => Err(PyroError::SiteMismatch {
                    site: site.name.to_string(),
                    reason: format!(
                        "init value has shape {:?}, the site has shape {:?}",
                        v.shape(),
                        site.shape
                    ),
                }),
                None => feasible(site),
            },
        }
    }
}

fn feasible<D: Backend>(site: &LatentSite<D>) -> PyroResult<DynTensor<D>> {
    let zeros = DynTensor::zeros(&site.u_shape);
    site.transform
        .forward(&zeros)
        .map_err(|e| site_err(site, e))
}

fn median<D: Backend>(site: &LatentSite<D>, n: usize) -> PyroResult<DynTensor<D>> {
    let draws =
        crate::rng::with_rng(|r| site.dist.sample(&[n], r)).map_err(|e| site_err(site, e))?;
    let v = draws.to_vec();
    let m = v.len() / n;
    let mut out = Vec::with_capacity(m);
    let mut col = vec![0.0f32; n];
    for j in 0..m {
        for i in 0..n {
            col[i] = v[i * m + j];
        }
        col.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
        // torch's median: the lower of the two middle values.
        out.push(col[(n - 1) / 2]);
    }
    let value = DynTensor::from_vec(out, &site.shape)?;
    if site.support_check(&value) {
        Ok(value)
    } else {
        feasible(site)
    }
}
