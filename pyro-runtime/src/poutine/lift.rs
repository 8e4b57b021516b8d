//! `lift`: turns param sites into sample sites drawn from a prior.

use std::collections::HashMap;
use std::rc::Rc;

use super::message::{Message, SharedDist, SiteKind};
use super::runtime::Messenger;
use super::Handled;
use crate::distributions::BoxDist;
use crate::error::PyroResult;
use crate::tensor::{Backend, DefaultDevice};

/// Replaces param sites by sample sites from a prior (Pyro's `LiftMessenger`): one prior for
/// every param, or one per name (params without a prior stay params).
#[derive(Clone)]
pub struct LiftMessenger<D: Backend> {
    all: Option<SharedDist<D>>,
    by_name: Rc<HashMap<String, SharedDist<D>>>,
}

impl<D: Backend> LiftMessenger<D> {
    /// The same prior for every param.
    pub fn all(prior: BoxDist<D>) -> Self {
        LiftMessenger {
            all: Some(Rc::from(prior)),
            by_name: Rc::new(HashMap::new()),
        }
    }

    /// A prior per param name.
    pub fn by_name(priors: HashMap<String, BoxDist<D>>) -> Self {
        LiftMessenger {
            all: None,
            by_name: Rc::new(priors.into_iter().map(|(k, v)| (k, Rc::from(v))).collect()),
        }
    }
}

impl<D: Backend> Messenger<D> for LiftMessenger<D> {
    fn process(&self, msg: &mut Message<D>) -> PyroResult<()> {
        if msg.kind != SiteKind::Param {
            return Ok(());
        }
        let prior = self
            .by_name
            .get(msg.name.as_str())
            .or(self.all.as_ref())
            .cloned();
        if let Some(prior) = prior {
            msg.kind = SiteKind::Sample;
            msg.dist = Some(prior);
            msg.param = None;
            msg.value = None;
            msg.is_observed = false;
        }
        Ok(())
    }
}

/// Runs `program` with its params drawn from `priors` (Pyro's `poutine.lift`).
///
/// ```
/// use pyro::prelude::*;
/// use pyro::poutine;
/// let model = || pyro::param("w", DynTensor::scalar(1.0), Constraint::Real);
/// let priors = [("w".to_string(), Box::new(Normal::new(10.0, 0.1).unwrap()) as BoxDist)]
///     .into_iter().collect();
/// let tr = poutine::trace(poutine::lift(model, priors)).get_trace(()).unwrap();
/// let w = tr.get("w").unwrap();
/// assert_eq!(w.kind, pyro::poutine::SiteKind::Sample);
/// assert!((w.value.item().unwrap() - 10.0).abs() < 1.0);
/// ```
pub fn lift<P>(program: P, priors: HashMap<String, BoxDist<DefaultDevice>>) -> Handled<P> {
    Handled::with(program, LiftMessenger::by_name(priors))
}
