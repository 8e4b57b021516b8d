//! `substitute`: fixes the values of sample and param sites.

use std::collections::HashMap;
use std::rc::Rc;

use super::message::Message;
use super::runtime::Messenger;
use super::Handled;
use crate::error::PyroResult;
use crate::tensor::{Backend, DefaultDevice, DynTensor};

type SubstituteFn<D> = Rc<dyn Fn(&Message<D>) -> Option<DynTensor<D>>>;

/// Gives sample and param sites fixed values, without observing them (Pyro's
/// `SubstituteMessenger`): by name, or by a function of the message.
#[derive(Clone)]
pub struct SubstituteMessenger<D: Backend> {
    data: Rc<HashMap<String, DynTensor<D>>>,
    f: Option<SubstituteFn<D>>,
}

impl<D: Backend> SubstituteMessenger<D> {
    /// Substitutes by name.
    pub fn new(data: HashMap<String, DynTensor<D>>) -> Self {
        SubstituteMessenger {
            data: Rc::new(data),
            f: None,
        }
    }

    /// Substitutes with a function returning the value for a site, or `None` to leave it.
    pub fn with_fn(f: impl Fn(&Message<D>) -> Option<DynTensor<D>> + 'static) -> Self {
        SubstituteMessenger {
            data: Rc::new(HashMap::new()),
            f: Some(Rc::new(f)),
        }
    }
}

impl<D: Backend> Messenger<D> for SubstituteMessenger<D> {
    fn process(&self, msg: &mut Message<D>) -> PyroResult<()> {
        if msg.is_observed {
            return Ok(());
        }
        let v = match &self.f {
            Some(f) => f(msg),
            None => self.data.get(msg.name.as_str()).cloned(),
        };
        if let Some(v) = v {
            msg.value = Some(v);
        }
        Ok(())
    }
}

/// Runs `program` with the named sites fixed to the given values (Pyro's
/// `poutine.substitute`).
///
/// ```
/// use pyro::prelude::*;
/// use pyro::poutine;
/// let model = || pyro::sample("z", Normal::new(0.0, 1.0));
/// let data = [("z".to_string(), DynTensor::scalar(2.0))].into_iter().collect();
/// let z = poutine::substitute(model, data).call(()).unwrap();
/// assert_eq!(z.item().unwrap(), 2.0);
/// # use pyro::poutine::Program;
/// ```
pub fn substitute<P>(
    program: P,
    data: HashMap<String, DynTensor<DefaultDevice>>,
) -> Handled<P, DefaultDevice> {
    Handled::with(program, SubstituteMessenger::new(data))
}
