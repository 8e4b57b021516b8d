//! The run-time model/guide check: what the `#[model]`/`#[guide]` macros check at compile
//! time, checked again on the traces of a run (run-time names, sites made observed or latent
//! by handlers, plates entered by callers), with the same wording.

use std::collections::BTreeSet;

use crate::error::{PyroError, PyroResult};
use crate::poutine::{SiteKind, Trace};
use crate::tensor::Backend;

/// The compile-time checks' wording, shared with the macro crate.
#[path = "../../../pyro-macros/src/messages.rs"]
#[allow(dead_code)]
mod messages;

fn mismatch(site: &str, reason: String) -> PyroError {
    // The shared messages start with the site where it reads best; keep them whole.
    PyroError::SiteMismatch {
        site: site.to_string(),
        reason,
    }
}

fn vectorized_plates<D: Backend>(s: &crate::poutine::Site<D>) -> BTreeSet<String> {
    s.cond_indep_stack
        .iter()
        .filter(|f| f.dim.is_some())
        .map(|f| f.name.to_string())
        .collect()
}

/// Checks a guide's trace against the trace of its model (run on the guide's values, i.e.
/// `trace(replay(model, guide_trace))`), with the wording of the compile-time checks: every
/// latent model site has a guide site, the guide samples only latent model sites and observes
/// nothing, and matching sites agree on vectorized plates, value shapes and event shapes.
/// Covers what the macros cannot see: run-time names, sites made observed or latent by
/// `condition`/`uncondition`, and shapes. Sites the model marks for enumeration
/// (`infer.enumerate`) need no guide site. Inference calls this on its first step.
///
/// ```
/// use pyro::prelude::*;
/// use pyro::poutine;
/// let model = || pyro::sample("z", Normal::new(0.0, 1.0));
/// let guide = || pyro::sample("w", Normal::new(0.0, 1.0));
/// let g = poutine::trace(guide).get_trace(()).unwrap();
/// let m = poutine::trace(model).get_trace(()).unwrap();
/// let err = pyro::dsl::check_model_guide(&m, &g).unwrap_err().to_string();
/// assert!(err.contains("has no sample site `w`, but the guide samples it"), "{err}");
/// ```
pub fn check_model_guide<D: Backend>(model: &Trace<D>, guide: &Trace<D>) -> PyroResult<()> {
    for g in guide.sites() {
        if g.kind != SiteKind::Sample || g.infer.deterministic || g.infer.is_auxiliary {
            continue;
        }
        if g.is_observed {
            return Err(mismatch(&g.name, messages::guide_site_observed(&g.name)));
        }
        let Some(m) = model.get(&g.name).filter(|m| m.kind == SiteKind::Sample) else {
            return Err(mismatch(
                &g.name,
                messages::guide_site_not_in_model(&g.name, None, ""),
            ));
        };
        if m.is_observed {
            return Err(mismatch(
                &g.name,
                messages::observed_site_in_guide(&g.name, None),
            ));
        }
        let (mp, gp) = (vectorized_plates(m), vectorized_plates(g));
        if mp != gp {
            let v = |s: BTreeSet<String>| s.into_iter().collect::<Vec<_>>();
            return Err(mismatch(
                &g.name,
                messages::plate_mismatch(&g.name, &v(mp), &v(gp)),
            ));
        }
        // A subsampled plate must use one batch in both: a model that picks its own indices
        // (`subsample(idx)`) against a guide that draws its own would pair each local
        // latent with the wrong rows.
        for gf in g.cond_indep_stack.iter().filter(|f| f.vectorized()) {
            let Some(mf) = m.cond_indep_stack.iter().find(|f| f.name == gf.name) else {
                continue;
            };
            if mf.indices != gf.indices {
                let show = |v: &[usize]| {
                    let head: Vec<usize> = v.iter().take(8).copied().collect();
                    if v.len() > 8 {
                        format!("{head:?}..")
                    } else {
                        format!("{head:?}")
                    }
                };
                return Err(mismatch(
                    &g.name,
                    format!(
                        "site `{}` is in plate `{}` with the batch {} in the guide but {} in \
                         the model; the model must use the batch the guide drew (let the \
                         model's plate draw with `subsample_size`, which replay hands the \
                         guide's batch), or give the guide's plate the same indices",
                        g.name,
                        gf.name,
                        show(&gf.indices),
                        show(&mf.indices)
                    ),
                ));
            }
        }
        // Under `replay` the model's value is the guide's, so compare the guide's value with
        // the shape the model's distribution gives a value.
        let model_shape = match &m.dist {
            Some(d) => [d.batch_shape(), d.event_shape()].concat(),
            None => m.value.shape().to_vec(),
        };
        if model_shape != g.value.shape() {
            return Err(mismatch(
                &g.name,
                messages::shape_mismatch(&g.name, &model_shape, g.value.shape()),
            ));
        }
        if let (Some(md), Some(gd)) = (&m.dist, &g.dist) {
            if md.event_shape() != gd.event_shape() {
                return Err(mismatch(
                    &g.name,
                    messages::event_shape_mismatch(&g.name, md.event_shape(), gd.event_shape()),
                ));
            }
        }
    }
    for m in model.stochastic_nodes() {
        if m.infer.enumerate.is_some() || m.infer.is_auxiliary {
            continue;
        }
        if !guide
            .get(&m.name)
            .is_some_and(|g| g.kind == SiteKind::Sample)
        {
            return Err(mismatch(
                &m.name,
                messages::missing_guide_site(&m.name, None, None),
            ));
        }
    }
    Ok(())
}
