//! `equalize`: makes several sites share one value.

use std::cell::RefCell;
use std::rc::Rc;

use regex::Regex;

use super::message::{Message, SiteKind};
use super::runtime::Messenger;
use super::Handled;
use crate::error::{PyroError, PyroResult};
use crate::tensor::{Backend, DefaultDevice, DynTensor};

/// Gives every site whose whole name matches one of the patterns the value of the first
/// such site (Pyro's `EqualizeMessenger`). Later sample sites contribute no density, unless
/// `keep_dist` is set, in which case they are scored at the shared value.
pub struct EqualizeMessenger<D: Backend> {
    patterns: Rc<Vec<Regex>>,
    kind: SiteKind,
    keep_dist: bool,
    value: RefCell<Option<DynTensor<D>>>,
}

impl<D: Backend> Clone for EqualizeMessenger<D> {
    fn clone(&self) -> Self {
        // A clone starts a fresh run: no shared value yet.
        EqualizeMessenger {
            patterns: self.patterns.clone(),
            kind: self.kind,
            keep_dist: self.keep_dist,
            value: RefCell::new(None),
        }
    }
}

impl<D: Backend> EqualizeMessenger<D> {
    /// Sites named by `patterns` (plain names or regular expressions, each matched against
    /// the whole site name) of the given kind. A pattern that is not a valid regular
    /// expression is an error naming it.
    pub fn new(patterns: &[&str], kind: SiteKind, keep_dist: bool) -> PyroResult<Self> {
        let patterns = patterns
            .iter()
            .map(|p| {
                Regex::new(&format!("^(?:{p})$")).map_err(|e| PyroError::Handler {
                    handler: "equalize",
                    reason: format!("invalid pattern `{p}`: {e}"),
                })
            })
            .collect::<PyroResult<Vec<_>>>()?;
        Ok(EqualizeMessenger {
            patterns: Rc::new(patterns),
            kind,
            keep_dist,
            value: RefCell::new(None),
        })
    }

    fn matches(&self, msg: &Message<D>) -> bool {
        msg.kind == self.kind && self.patterns.iter().any(|r| r.is_match(&msg.name))
    }
}

impl<D: Backend> Messenger<D> for EqualizeMessenger<D> {
    fn process(&self, msg: &mut Message<D>) -> PyroResult<()> {
        if !self.matches(msg) {
            return Ok(());
        }
        if let Some(v) = self.value.borrow().as_ref() {
            msg.value = Some(v.clone());
            msg.done = true;
            if msg.kind == SiteKind::Sample && !self.keep_dist {
                msg.infer.deterministic = true;
                msg.is_observed = true;
            }
        }
        Ok(())
    }

    fn postprocess(&self, msg: &mut Message<D>) -> PyroResult<()> {
        if self.matches(msg) && self.value.borrow().is_none() {
            *self.value.borrow_mut() = msg.value.clone();
        }
        Ok(())
    }
}

/// Runs `program` with the sites matching `patterns` sharing the first one's value
/// (Pyro's `poutine.equalize`).
///
/// ```
/// use pyro::prelude::*;
/// use pyro::poutine::{self, SiteKind};
/// let model = || {
///     let a = pyro::sample("dogs_std", Normal::new(0.0, 1.0))?;
///     let b = pyro::sample("cats_std", Normal::new(0.0, 1.0))?;
///     Ok((a, b))
/// };
/// let eq = poutine::equalize(model, &["dogs_std", "cats_std"], SiteKind::Sample, false).unwrap();
/// let tr = poutine::trace(eq).get_trace(()).unwrap();
/// assert_eq!(tr.get("dogs_std").unwrap().value.to_vec(), tr.get("cats_std").unwrap().value.to_vec());
/// ```
pub fn equalize<P>(
    program: P,
    patterns: &[&str],
    kind: SiteKind,
    keep_dist: bool,
) -> PyroResult<Handled<P, DefaultDevice>> {
    let m = EqualizeMessenger::new(patterns, kind, keep_dist)?;
    Ok(Handled::new(program, move || {
        Ok(Rc::new(m.clone()) as Rc<dyn Messenger<DefaultDevice>>)
    }))
}
