//! Run-time agreement checks between a model trace and a guide trace: the checks the
//! `#[guide]` macro does at compile time, for what only the run time can see (names built
//! at run time, sites made latent or observed by handlers, value shapes). Same wording.

use crate::error::{PyroError, PyroResult};
use crate::poutine::{SiteKind, Trace};
use crate::tensor::Backend;

/// Checks that every latent model site has a guide site, every guide site (not auxiliary)
/// exists in the model as a latent site, no guide site is observed, and matching sites have
/// the same value shape. The first problem is returned, naming the site.
///
/// ```
/// use pyro::prelude::*;
/// use pyro::poutine;
/// use pyro::infer::check_model_guide;
/// let model = || pyro::sample("z", Normal::new(0.0, 1.0));
/// let guide = || pyro::sample("w", Normal::new(0.0, 1.0));
/// let mt = poutine::trace(model).get_trace(()).unwrap();
/// let gt = poutine::trace(guide).get_trace(()).unwrap();
/// let err = check_model_guide(&mt, &gt).unwrap_err();
/// assert!(err.to_string().contains("`w`")); // the guide site unknown to the model
/// ```
pub fn check_model_guide<D: Backend>(model: &Trace<D>, guide: &Trace<D>) -> PyroResult<()> {
    for site in guide.sites() {
        if site.kind != SiteKind::Sample || site.infer.is_auxiliary {
            continue;
        }
        if site.is_observed {
            return Err(PyroError::SiteMismatch {
                site: site.name.clone(),
                reason: "the guide observes this site; a guide must sample its sites, not observe \
                         them (remove `obs = ...` from the guide)"
                    .into(),
            });
        }
        let Some(m) = model.get(&site.name) else {
            return Err(PyroError::SiteMismatch {
                site: site.name.clone(),
                reason: "the guide samples this site but the model has no site of that name \
                         (rename it to match a latent site of the model, or remove it)"
                    .into(),
            });
        };
        if m.kind == SiteKind::Sample && m.is_observed && !m.infer.deterministic {
            return Err(PyroError::SiteMismatch {
                site: site.name.clone(),
                reason: "the model observes this site, so the guide must not sample it".into(),
            });
        }
        if let Some(dist) = &m.dist {
            let want = dist.shape();
            if site.value.shape() != want.as_slice() {
                return Err(PyroError::SiteMismatch {
                    site: site.name.clone(),
                    reason: format!(
                        "the guide's value has shape {:?} but the model's distribution has shape \
                         {:?} (batch {:?} + event {:?})",
                        site.value.shape(),
                        want,
                        dist.batch_shape(),
                        dist.event_shape()
                    ),
                });
            }
        }
    }
    for site in model.stochastic_nodes() {
        if !guide.contains(&site.name) {
            return Err(PyroError::SiteMismatch {
                site: site.name.clone(),
                reason: "the guide has no site for this latent site of the model (add a sample \
                         site of the same name to the guide)"
                    .into(),
            });
        }
    }
    Ok(())
}
