//! `block`: hides sites from the handlers outside it.

use std::collections::HashSet;
use std::rc::Rc;

use super::message::{Message, SiteKind};
use super::runtime::Messenger;
use super::Handled;
use crate::error::{PyroError, PyroResult};
use crate::tensor::{Backend, DefaultDevice};

/// Site types `block` can select.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BlockType {
    /// Latent sample sites.
    Sample,
    /// Observed sample sites.
    Observe,
    /// Param sites.
    Param,
}

fn block_type<D: Backend>(msg: &Message<D>) -> BlockType {
    match msg.kind {
        SiteKind::Param => BlockType::Param,
        SiteKind::Sample if msg.is_observed => BlockType::Observe,
        SiteKind::Sample | SiteKind::Subsample => BlockType::Sample,
    }
}

type HideFn<D> = Rc<dyn Fn(&Message<D>) -> bool>;

/// Stops selected messages from reaching outer handlers (Pyro's `BlockMessenger`). Build
/// with [`BlockMessenger::hide_all`] (the default), [`BlockMessenger::expose_all`], the
/// name and type lists, or a predicate.
#[derive(Clone)]
pub struct BlockMessenger<D: Backend> {
    hide_fn: HideFn<D>,
}

/// The selection of a `block`: what to hide and what to expose.
#[derive(Debug, Clone, Default)]
pub struct BlockSpec {
    /// Hide everything not exposed (Pyro's default).
    pub hide_all: bool,
    /// Expose everything not hidden.
    pub expose_all: bool,
    /// Names to hide.
    pub hide: Vec<String>,
    /// Names to expose.
    pub expose: Vec<String>,
    /// Types to hide.
    pub hide_types: Vec<BlockType>,
    /// Types to expose.
    pub expose_types: Vec<BlockType>,
}

impl<D: Backend> BlockMessenger<D> {
    /// Hides every site.
    pub fn hide_all() -> Self {
        BlockMessenger {
            hide_fn: Rc::new(|_| true),
        }
    }

    /// Hides nothing.
    pub fn expose_all() -> Self {
        BlockMessenger {
            hide_fn: Rc::new(|_| false),
        }
    }

    /// Hides sites for which `f` is true.
    pub fn hide_fn(f: impl Fn(&Message<D>) -> bool + 'static) -> Self {
        BlockMessenger {
            hide_fn: Rc::new(f),
        }
    }

    /// Pyro's keyword form. When names or types to hide are given, only those are hidden;
    /// when only things to expose are given, everything else is hidden. Contradictory specs
    /// (a name both hidden and exposed, or hide_all with expose_all) are an error.
    pub fn from_spec(spec: BlockSpec) -> PyroResult<Self> {
        let err = |reason: String| PyroError::Handler {
            handler: "block",
            reason,
        };
        if spec.hide_all && spec.expose_all {
            return Err(err("hide_all and expose_all are both set".into()));
        }
        if let Some(n) = spec.hide.iter().find(|n| spec.expose.contains(n)) {
            return Err(err(format!("`{n}` is both hidden and exposed")));
        }
        if let Some(t) = spec
            .hide_types
            .iter()
            .find(|t| spec.expose_types.contains(t))
        {
            return Err(err(format!("{t:?} is both hidden and exposed")));
        }
        let selective = !spec.hide.is_empty() || !spec.hide_types.is_empty();
        let hide_rest = spec.hide_all || (!spec.expose_all && !selective);
        let hide: HashSet<String> = spec.hide.into_iter().collect();
        let expose: HashSet<String> = spec.expose.into_iter().collect();
        let (ht, et) = (spec.hide_types, spec.expose_types);
        Ok(BlockMessenger {
            hide_fn: Rc::new(move |msg: &Message<D>| {
                let t = block_type(msg);
                if expose.contains(msg.name.as_str()) || et.contains(&t) {
                    return false;
                }
                if hide.contains(msg.name.as_str()) || ht.contains(&t) {
                    return true;
                }
                hide_rest
            }),
        })
    }
}

impl<D: Backend> Messenger<D> for BlockMessenger<D> {
    fn process(&self, msg: &mut Message<D>) -> PyroResult<()> {
        if (self.hide_fn)(msg) {
            msg.stop = true;
        }
        Ok(())
    }
}

/// Runs `program` with the sites selected by `spec` hidden from outer handlers (Pyro's
/// `poutine.block`).
///
/// ```
/// use pyro::prelude::*;
/// use pyro::poutine::{self, BlockSpec};
/// let model = || {
///     pyro::sample("a", Normal::new(0.0, 1.0))?;
///     pyro::sample("b", Normal::new(0.0, 1.0))
/// };
/// let spec = BlockSpec { hide: vec!["a".into()], ..Default::default() };
/// let tr = poutine::trace(poutine::block(model, spec).unwrap()).get_trace(()).unwrap();
/// assert_eq!(tr.names(), vec!["b"]);
/// ```
pub fn block<P>(program: P, spec: BlockSpec) -> PyroResult<Handled<P, DefaultDevice>> {
    Ok(Handled::with(program, BlockMessenger::from_spec(spec)?))
}
