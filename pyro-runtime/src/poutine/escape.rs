//! `escape`: leaves the program at a chosen site.

use std::rc::Rc;

use super::message::Message;
use super::runtime::Messenger;
use super::Handled;
use crate::error::{PyroError, PyroResult};
use crate::tensor::{Backend, DefaultDevice};

type EscapeFn<D> = Rc<dyn Fn(&Message<D>) -> bool>;

/// Aborts the program with [`PyroError::NonlocalExit`] at the first site for which the
/// predicate holds (Pyro's `EscapeMessenger`). Sites before it are still recorded by an
/// outer `trace` (see [`super::TraceHandler::get_partial_trace`]).
#[derive(Clone)]
pub struct EscapeMessenger<D: Backend> {
    f: EscapeFn<D>,
}

impl<D: Backend> EscapeMessenger<D> {
    /// Escapes where `f(msg)` is true.
    pub fn new(f: impl Fn(&Message<D>) -> bool + 'static) -> Self {
        EscapeMessenger { f: Rc::new(f) }
    }
}

impl<D: Backend> Messenger<D> for EscapeMessenger<D> {
    fn process(&self, msg: &mut Message<D>) -> PyroResult<()> {
        if (self.f)(msg) {
            msg.done = true;
            return Err(PyroError::NonlocalExit {
                site: msg.name.to_string(),
            });
        }
        Ok(())
    }
}

/// Runs `program` until the first site where `f` holds (Pyro's `poutine.escape`).
///
/// ```
/// use pyro::prelude::*;
/// use pyro::poutine::{self, Program};
/// let model = || {
///     pyro::sample("a", Normal::new(0.0, 1.0))?;
///     pyro::sample("b", Normal::new(0.0, 1.0))
/// };
/// let err = poutine::escape(model, |m| m.name == "b").call(()).unwrap_err();
/// assert!(matches!(err, pyro::PyroError::NonlocalExit { site } if site == "b"));
/// ```
pub fn escape<P>(program: P, f: impl Fn(&Message<DefaultDevice>) -> bool + 'static) -> Handled<P> {
    Handled::with(program, EscapeMessenger::new(f))
}
