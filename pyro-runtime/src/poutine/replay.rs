//! `replay`: reuses the values of a recorded trace at latent sample sites.

use std::rc::Rc;

use super::message::{Message, SiteKind};
use super::runtime::Messenger;
use super::trace::Trace;
use super::Handled;
use crate::error::{PyroError, PyroResult};
use crate::tensor::{Backend, DefaultDevice};

/// For each latent sample site whose name is in the trace, takes the trace's value (Pyro's
/// `ReplayMessenger`). Observed sites keep their data. A site present in the trace but not
/// sampled there (a param, or observed) is an error naming it.
#[derive(Clone)]
pub struct ReplayMessenger<D: Backend> {
    trace: Rc<Trace<D>>,
}

impl<D: Backend> ReplayMessenger<D> {
    /// Replays `trace`.
    pub fn new(trace: Rc<Trace<D>>) -> Self {
        ReplayMessenger { trace }
    }
}

impl<D: Backend> Messenger<D> for ReplayMessenger<D> {
    fn process(&self, msg: &mut Message<D>) -> PyroResult<()> {
        if msg.kind == SiteKind::Subsample {
            // The model gets the guide's minibatch.
            if let Some(site) = self.trace.get_named(&msg.name) {
                if site.kind == SiteKind::Subsample {
                    msg.value = Some(site.value.clone());
                    msg.done = true;
                }
            }
            return Ok(());
        }
        if msg.kind != SiteKind::Sample || msg.is_observed {
            return Ok(());
        }
        let Some(site) = self.trace.get_named(&msg.name) else {
            return Ok(());
        };
        if site.kind != SiteKind::Sample || site.is_observed {
            return Err(PyroError::SiteMismatch {
                site: msg.name.to_string(),
                reason: "site must be a latent sample site in the replayed trace".into(),
            });
        }
        msg.value = Some(site.value.clone());
        msg.infer = site.infer.clone();
        msg.done = true;
        Ok(())
    }
}

/// Runs `program` with latent sites taking their values from `trace` (Pyro's
/// `poutine.replay`).
///
/// ```
/// use pyro::prelude::*;
/// use pyro::poutine;
/// let model = || pyro::sample("z", Normal::new(0.0, 1.0));
/// let tr = poutine::trace(model).get_trace(()).unwrap();
/// let again = poutine::trace(poutine::replay(model, &tr)).get_trace(()).unwrap();
/// assert_eq!(again.get("z").unwrap().value.to_vec(), tr.get("z").unwrap().value.to_vec());
/// ```
pub fn replay<P>(program: P, trace: &Trace<DefaultDevice>) -> Handled<P, DefaultDevice> {
    Handled::with(program, ReplayMessenger::new(Rc::new(trace.clone())))
}
