//! The handler stack: a thread-local list of messengers that every primitive call passes
//! through (DESIGN.md §5, after Pyro's minipyro and NumPyro's handlers).

use std::any::Any;
use std::cell::RefCell;
use std::marker::PhantomData;
use std::rc::Rc;

use super::message::{Draw, Message, SiteKind};
use crate::error::{PyroError, PyroResult};
use crate::tensor::Backend;

/// An effect handler. `process` runs innermost handler first, before the default behaviour;
/// `postprocess` runs after it over the same handlers, outermost first. Methods take `&self`
/// (handlers keep their state in `Cell`/`RefCell`) so a handler may itself send messages.
pub trait Messenger<D: Backend>: 'static {
    /// Called on the way in.
    fn process(&self, msg: &mut Message<D>) -> PyroResult<()> {
        let _ = msg;
        Ok(())
    }
    /// Called on the way out, once the value is set.
    fn postprocess(&self, msg: &mut Message<D>) -> PyroResult<()> {
        let _ = msg;
        Ok(())
    }
}

thread_local! {
    /// Outermost first. Each entry is an `Rc<dyn Messenger<D>>` for some `D`.
    static STACK: RefCell<Vec<Box<dyn Any>>> = const { RefCell::new(Vec::new()) };
}

/// Pops its handler from the stack when dropped (also on `?` and panics).
///
/// ```
/// use pyro::poutine::{push_handler, stack_depth, ScaleMessenger};
/// {
///     let _guard = push_handler::<dfdx::prelude::Cpu, _>(ScaleMessenger::new(2.0).unwrap());
///     assert_eq!(stack_depth(), 1);
/// }
/// assert_eq!(stack_depth(), 0);
/// ```
#[must_use = "the handler is popped when the guard is dropped"]
pub struct HandlerGuard<D: Backend> {
    depth: usize,
    _d: PhantomData<fn() -> D>,
}

impl<D: Backend> Drop for HandlerGuard<D> {
    fn drop(&mut self) {
        STACK.with(|s| {
            let mut s = s.borrow_mut();
            s.truncate(self.depth.saturating_sub(1));
        });
    }
}

/// Pushes a handler; it stays active until the guard is dropped.
pub fn push_handler<D: Backend, M: Messenger<D>>(m: M) -> HandlerGuard<D> {
    push_rc(Rc::new(m))
}

/// Pushes a shared handler (so the caller can read its state afterwards).
pub fn push_rc<D: Backend>(m: Rc<dyn Messenger<D>>) -> HandlerGuard<D> {
    let depth = STACK.with(|s| {
        let mut s = s.borrow_mut();
        s.push(Box::new(m));
        s.len()
    });
    HandlerGuard {
        depth,
        _d: PhantomData,
    }
}

/// Number of active handlers (of any device).
pub fn stack_depth() -> usize {
    STACK.with(|s| s.borrow().len())
}

/// Whether any handler is active (Pyro's `am_i_wrapped`).
pub fn am_i_wrapped() -> bool {
    stack_depth() > 0
}

/// Handlers a snapshot keeps inline (deeper stacks go to the heap).
const INLINE: usize = 8;

/// The handlers of backend `D` active when a message is sent, outermost first (kept inline
/// for the usual shallow stacks, so sending a message does not allocate).
enum Snapshot<D: Backend> {
    Inline([Option<Rc<dyn Messenger<D>>>; INLINE], usize),
    Heap(Vec<Rc<dyn Messenger<D>>>),
}

impl<D: Backend> Snapshot<D> {
    fn take() -> Self {
        STACK.with(|s| {
            let s = s.borrow();
            let handlers = s
                .iter()
                .filter_map(|b| b.downcast_ref::<Rc<dyn Messenger<D>>>());
            if s.len() <= INLINE {
                let mut a: [Option<Rc<dyn Messenger<D>>>; INLINE] = Default::default();
                let mut n = 0;
                for h in handlers {
                    a[n] = Some(h.clone());
                    n += 1;
                }
                Snapshot::Inline(a, n)
            } else {
                Snapshot::Heap(handlers.cloned().collect())
            }
        })
    }

    fn len(&self) -> usize {
        match self {
            Snapshot::Inline(_, n) => *n,
            Snapshot::Heap(v) => v.len(),
        }
    }

    fn get(&self, i: usize) -> Option<&Rc<dyn Messenger<D>>> {
        match self {
            Snapshot::Inline(a, _) => a.get(i)?.as_ref(),
            Snapshot::Heap(v) => v.get(i),
        }
    }
}

/// Sends `msg` through the stack: `process` innermost first (stopping at `stop`), the
/// default behaviour, then `postprocess` over the handlers that processed it.
pub fn apply_stack<D: Backend>(msg: &mut Message<D>) -> PyroResult<()> {
    run_stack(msg, default_process)
}

/// [`apply_stack`] for messages whose default value is computed by the caller (subsample
/// sites): `default` runs only when no handler set the value.
pub fn apply_stack_with_default<D: Backend>(
    msg: &mut Message<D>,
    default: impl FnOnce() -> PyroResult<crate::tensor::DynTensor<D>>,
) -> PyroResult<()> {
    run_stack(msg, |msg| {
        if msg.value.is_none() {
            msg.value = Some(default()?);
        }
        msg.done = true;
        Ok(())
    })
}

fn run_stack<D: Backend>(
    msg: &mut Message<D>,
    default: impl FnOnce(&mut Message<D>) -> PyroResult<()>,
) -> PyroResult<()> {
    let stack = Snapshot::<D>::take();
    let n = stack.len();
    let mut processed = 0;
    for i in (0..n).rev() {
        processed += 1;
        if let Some(h) = stack.get(i) {
            h.process(msg)?;
        }
        if msg.stop {
            break;
        }
    }
    default(msg)?;
    for i in n - processed..n {
        if let Some(h) = stack.get(i) {
            h.postprocess(msg)?;
        }
    }
    Ok(())
}

/// What happens when no handler set the value.
fn default_process<D: Backend>(msg: &mut Message<D>) -> PyroResult<()> {
    if msg.done || msg.value.is_some() {
        if msg.kind == SiteKind::Sample && msg.is_observed {
            validate_observed(msg)?;
        }
        msg.done = true;
        return Ok(());
    }
    match msg.kind {
        SiteKind::Sample => {
            let dist = msg.dist.as_ref().ok_or_else(|| PyroError::SiteMismatch {
                site: msg.name.to_string(),
                reason: "sample site without a distribution".into(),
            })?;
            // The density along with the draw only while gradients are recorded (an
            // ELBO will ask for it); prediction runs just draw.
            let recording = crate::tensor::is_recording();
            let (v, log_prob) = crate::rng::with_rng(|r| {
                if dist.has_rsample() && recording {
                    dist.rsample_with_log_prob(&[], r)
                } else if dist.has_rsample() {
                    Ok((dist.rsample(&[], r)?, None))
                } else {
                    Ok((dist.sample(&[], r)?, None))
                }
            })
            .map_err(|e| PyroError::at_site(&msg.name, e))?;
            msg.draw = log_prob.map(|log_prob| Draw {
                value: v.clone(),
                log_prob,
            });
            msg.value = Some(v);
        }
        SiteKind::Param => {
            let v = crate::primitives::param_default(msg)?;
            msg.value = Some(v);
        }
        SiteKind::Subsample => {
            return Err(PyroError::Plate {
                plate: msg.name.to_string(),
                reason: "no batch indices were drawn for this plate".into(),
            })
        }
    }
    msg.done = true;
    Ok(())
}

fn validate_observed<D: Backend>(msg: &Message<D>) -> PyroResult<()> {
    if !crate::is_validation_enabled() {
        return Ok(());
    }
    if let (Some(dist), Some(v)) = (&msg.dist, &msg.value) {
        if msg.infer.deterministic {
            return Ok(());
        }
        let support = dist.support();
        let flags = support.check_values(&v.to_vec(), v.shape());
        if let Some(i) = flags.iter().position(|ok| !ok) {
            return Err(PyroError::at_site(
                &msg.name,
                crate::distributions::DistError::OutOfSupport {
                    dist: dist.name(),
                    support: support.to_string(),
                    detail: format!("observed value at event {i} of shape {:?}", v.shape()),
                },
            ));
        }
    }
    Ok(())
}
