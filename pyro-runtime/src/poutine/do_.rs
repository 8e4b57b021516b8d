//! `do`: causal intervention.

use std::collections::HashMap;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::message::{Message, SiteKind};
use super::runtime::{apply_stack, Messenger};
use super::Handled;
use crate::error::PyroResult;
use crate::tensor::{Backend, DefaultDevice, DynTensor};

static NEXT_ID: AtomicUsize = AtomicUsize::new(1);

/// Intervenes on sample sites (Pyro's `DoMessenger`): the original site is still sampled
/// under its own name (and seen by every handler), but the program receives the
/// intervention value, carried by a site renamed `<name>__CF` that stops at this handler, so
/// outer handlers (a `trace`) never see it.
#[derive(Clone)]
pub struct DoMessenger<D: Backend> {
    data: Rc<HashMap<String, DynTensor<D>>>,
    id: usize,
}

impl<D: Backend> DoMessenger<D> {
    /// Intervenes with `data` (site name -> value).
    pub fn new(data: HashMap<String, DynTensor<D>>) -> Self {
        DoMessenger {
            data: Rc::new(data),
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
        }
    }
}

impl<D: Backend> Messenger<D> for DoMessenger<D> {
    fn process(&self, msg: &mut Message<D>) -> PyroResult<()> {
        if msg.kind != SiteKind::Sample || msg.intervener == Some(self.id) {
            return Ok(());
        }
        let Some(intervention) = self.data.get(msg.name.as_str()) else {
            return Ok(());
        };
        msg.intervener = Some(self.id);
        // Split the node: sample the original site under its own name...
        let dist = msg
            .dist
            .clone()
            .ok_or_else(|| crate::error::PyroError::SiteMismatch {
                site: msg.name.to_string(),
                reason: "sample site without a distribution".into(),
            })?;
        let mut original = Message::sample(msg.name.clone(), dist);
        original.value = msg.value.clone();
        original.is_observed = msg.is_observed;
        original.infer = msg.infer.clone();
        original.intervener = Some(self.id);
        apply_stack(&mut original)?;
        // ...and hand the program the intervention, as an observed counterfactual site.
        msg.name = format!("{}__CF", msg.name).into();
        msg.value = Some(intervention.clone());
        msg.is_observed = true;
        msg.infer.deterministic = true;
        msg.stop = true;
        Ok(())
    }
}

/// Runs `program` under the intervention `data` (Pyro's `poutine.do`).
///
/// ```
/// use pyro::prelude::*;
/// use pyro::poutine::{self, Program};
/// let model = || {
///     let z = pyro::sample("z", Normal::new(0.0, 1.0))?;
///     pyro::sample("x", Normal::new(&z, 0.1))
/// };
/// let data = [("z".to_string(), DynTensor::scalar(5.0))].into_iter().collect();
/// let tr = poutine::trace(poutine::do_(model, data)).get_trace(()).unwrap();
/// assert!(tr.contains("z") && !tr.contains("z__CF"));
/// assert!((tr.get("x").unwrap().value.item().unwrap() - 5.0).abs() < 1.0);
/// ```
pub fn do_<P>(program: P, data: HashMap<String, DynTensor<DefaultDevice>>) -> Handled<P> {
    Handled::with(program, DoMessenger::new(data))
}
