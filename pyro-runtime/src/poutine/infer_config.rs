//! `infer_config`: sets per-site inference configuration.

use std::rc::Rc;

use super::message::{InferConfig, Message, SiteKind};
use super::runtime::Messenger;
use super::Handled;
use crate::error::PyroResult;
use crate::tensor::{Backend, DefaultDevice};

type ConfigFn<D> = Rc<dyn Fn(&Message<D>, &mut InferConfig)>;

/// Lets a function edit the `infer` configuration of every sample site (Pyro's
/// `InferConfigMessenger`).
#[derive(Clone)]
pub struct InferConfigMessenger<D: Backend> {
    f: ConfigFn<D>,
}

impl<D: Backend> InferConfigMessenger<D> {
    /// Calls `f(msg, &mut msg.infer)` for each sample site.
    pub fn new(f: impl Fn(&Message<D>, &mut InferConfig) + 'static) -> Self {
        InferConfigMessenger { f: Rc::new(f) }
    }
}

impl<D: Backend> Messenger<D> for InferConfigMessenger<D> {
    fn process(&self, msg: &mut Message<D>) -> PyroResult<()> {
        if msg.kind == SiteKind::Sample {
            let mut cfg = msg.infer.clone();
            (self.f)(msg, &mut cfg);
            msg.infer = cfg;
        }
        Ok(())
    }
}

/// Runs `program` with `f` editing each sample site's configuration (Pyro's
/// `poutine.infer_config`).
///
/// ```
/// use pyro::prelude::*;
/// use pyro::poutine;
/// let model = || pyro::sample("z", Normal::new(0.0, 1.0));
/// let configured = poutine::infer_config(model, |_, cfg| cfg.enumerate = Some("parallel".into()));
/// let tr = poutine::trace(configured).get_trace(()).unwrap();
/// assert_eq!(tr.get("z").unwrap().infer.enumerate.as_deref(), Some("parallel"));
/// ```
pub fn infer_config<P>(
    program: P,
    f: impl Fn(&Message<DefaultDevice>, &mut InferConfig) + 'static,
) -> Handled<P> {
    Handled::with(program, InferConfigMessenger::new(f))
}
