//! `condition` and `uncondition`: make sites observed, or latent again.

use std::collections::HashMap;
use std::rc::Rc;

use super::message::{Message, SiteKind};
use super::runtime::Messenger;
use super::Handled;
use crate::error::PyroResult;
use crate::tensor::{Backend, DefaultDevice, DynTensor};

/// Observes the named sample sites at the given values (Pyro's `ConditionMessenger`).
#[derive(Clone)]
pub struct ConditionMessenger<D: Backend> {
    data: Rc<HashMap<String, DynTensor<D>>>,
}

impl<D: Backend> ConditionMessenger<D> {
    /// Conditions on `data` (site name -> value).
    pub fn new(data: HashMap<String, DynTensor<D>>) -> Self {
        ConditionMessenger {
            data: Rc::new(data),
        }
    }
}

impl<D: Backend> Messenger<D> for ConditionMessenger<D> {
    fn process(&self, msg: &mut Message<D>) -> PyroResult<()> {
        if msg.kind != SiteKind::Sample {
            return Ok(());
        }
        if let Some(v) = self.data.get(msg.name.as_str()) {
            msg.value = Some(v.clone());
            msg.is_observed = true;
        }
        Ok(())
    }
}

/// Runs `program` with the sites in `data` observed (Pyro's `poutine.condition`).
///
/// ```
/// use pyro::prelude::*;
/// use pyro::poutine;
/// let model = || pyro::sample("z", Normal::new(0.0, 1.0));
/// let data = [("z".to_string(), DynTensor::scalar(0.5))].into_iter().collect();
/// let tr = poutine::trace(poutine::condition(model, data)).get_trace(()).unwrap();
/// let z = tr.get("z").unwrap();
/// assert!(z.is_observed);
/// assert_eq!(z.value.item().unwrap(), 0.5);
/// ```
pub fn condition<P>(
    program: P,
    data: HashMap<String, DynTensor<DefaultDevice>>,
) -> Handled<P, DefaultDevice> {
    Handled::with(program, ConditionMessenger::new(data))
}

/// Turns observed sample sites back into latent ones, drawn from their distributions
/// (Pyro's `UnconditionMessenger`); `infer.was_observed` records that they were observed.
#[derive(Clone, Default)]
pub struct UnconditionMessenger;

impl<D: Backend> Messenger<D> for UnconditionMessenger {
    fn process(&self, msg: &mut Message<D>) -> PyroResult<()> {
        if msg.kind == SiteKind::Sample && msg.is_observed {
            msg.is_observed = false;
            msg.infer.was_observed = true;
            msg.value = None;
            msg.done = false;
        }
        Ok(())
    }
}

/// Runs `program` with every observed site made latent (Pyro's `poutine.uncondition`).
///
/// ```
/// use pyro::prelude::*;
/// use pyro::poutine;
/// let model = || pyro::observe("y", Normal::new(0.0, 1.0), DynTensor::scalar(3.0));
/// let tr = poutine::trace(poutine::uncondition(model)).get_trace(()).unwrap();
/// assert!(!tr.get("y").unwrap().is_observed);
/// ```
pub fn uncondition<P>(program: P) -> Handled<P, DefaultDevice> {
    Handled::with(program, UnconditionMessenger)
}
