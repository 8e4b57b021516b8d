//! The handler stack: a thread-local list of messengers that every primitive call passes
//! through (after Pyro's minipyro and NumPyro's handlers).

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
            let v = super::param_default::param_default(msg)?;
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

/// With validation on, an observed value with a NaN is an error naming the site and the
/// NaN's index; so is one outside the distribution's support.
fn validate_observed<D: Backend>(msg: &Message<D>) -> PyroResult<()> {
    if !crate::is_validation_enabled() {
        return Ok(());
    }
    if let (Some(dist), Some(v)) = (&msg.dist, &msg.value) {
        if msg.infer.deterministic {
            return Ok(());
        }
        if let Some(i) = crate::distributions::first_nan(v) {
            return Err(PyroError::observed_nan(&msg.name, i, v.shape()));
        }
        let support = dist.support();
        if let Some(bad) = crate::distributions::first_violation(&support, v) {
            return Err(PyroError::at_site(
                &msg.name,
                crate::distributions::DistError::OutOfSupport {
                    dist: dist.name(),
                    support: support.to_string(),
                    detail: format!("observed value of shape {:?}: {bad}", v.shape()),
                },
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    //! Observed values with a NaN, or outside the support: the error names the site and the
    //! position of the bad value.

    use dfdx::prelude::Cpu;

    use crate::distributions::{
        Bernoulli, Binomial, BoxDist, Categorical, Dirichlet, Gamma, MultivariateNormal, Normal,
        Poisson,
    };
    use crate::error::PyroError;
    use crate::tensor::DynTensor;

    fn t(v: &[f32], shape: &[usize]) -> DynTensor<Cpu> {
        DynTensor::from_vec(v.to_vec(), shape).unwrap()
    }

    /// Five observations with a NaN at index 2.
    fn nan_at_2() -> DynTensor<Cpu> {
        t(&[1.0, 0.0, f32::NAN, 1.0, 0.0], &[5])
    }

    /// The scalar distributions, discrete and continuous, each with five observations.
    fn scalar_dists() -> Vec<BoxDist<Cpu>> {
        vec![
            Box::new(Poisson::new(3.0).unwrap()),
            Box::new(Bernoulli::new(0.3).unwrap()),
            Box::new(Binomial::new(4.0, 0.3).unwrap()),
            Box::new(Categorical::new(t(&[0.2, 0.3, 0.5], &[3])).unwrap()),
            Box::new(Normal::new(0.0, 1.0).unwrap()),
            Box::new(Gamma::new(2.0, 1.0).unwrap()),
        ]
    }

    fn assert_nan_at(err: &PyroError, site: &str, index: &[usize], shape: &[usize]) {
        assert!(
            matches!(
                err,
                PyroError::ObservedNan { site: s, index: i, shape: sh }
                    if s == site && i == index && sh == shape
            ),
            "{err:?}"
        );
    }

    #[test]
    fn a_nan_observation_names_the_site_and_its_index() {
        for validate in [true, false] {
            crate::enable_validation(validate);
            for dist in scalar_dists() {
                let name = dist.name();
                // With validation on the observation is checked at the site; with it off the
                // NaN (or -inf) log-probability is traced back to it.
                let err =
                    crate::poutine::trace(|| crate::observe("y", dist.clone_box(), nan_at_2()))
                        .get_trace(())
                        .and_then(|mut tr| tr.log_prob_sum().map(|_| ()))
                        .unwrap_err();
                assert_nan_at(&err, "y", &[2], &[5]);
                let msg = err.to_string();
                assert!(
                    msg.starts_with(
                        "site `y`: the observed value is NaN at index 2 (value of shape [5])"
                    ),
                    "{name}, validation {validate}: {msg}"
                );
                assert!(!msg.contains("log-probability"), "{name}: {msg}");
            }
        }
        crate::enable_validation(true);
    }

    #[test]
    fn the_nan_message_in_full() {
        crate::enable_validation(true);
        let err = crate::observe("y", Poisson::new(3.0), nan_at_2()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "site `y`: the observed value is NaN at index 2 (value of shape [5]); NaN is not an \
             observation: leave missing values out, or give them any value in the support and \
             mask them out with `obs_mask` (they are then sampled)"
        );
    }

    #[test]
    fn a_nan_in_a_matrix_or_a_scalar_observation() {
        crate::enable_validation(true);
        let mvn = MultivariateNormal::new(t(&[0.0, 0.0], &[2]), t(&[1.0, 0.0, 0.0, 1.0], &[2, 2]))
            .unwrap();
        let obs = t(&[0.1, 0.2, 0.3, 0.4, f32::NAN, 0.6], &[3, 2]);
        let err = crate::observe("x", mvn, obs).unwrap_err();
        assert_nan_at(&err, "x", &[2, 0], &[3, 2]);
        assert!(
            err.to_string()
                .contains("NaN at index [2, 0] (value of shape [3, 2])"),
            "{err}"
        );

        let err =
            crate::observe("s", Normal::new(0.0, 1.0), DynTensor::scalar(f32::NAN)).unwrap_err();
        assert_nan_at(&err, "s", &[], &[]);
        assert!(
            err.to_string()
                .starts_with("site `s`: the observed value is NaN (value of shape [])"),
            "{err}"
        );
    }

    #[test]
    fn an_observation_outside_the_support_names_its_index_not_an_event() {
        crate::enable_validation(true);
        let obs = t(&[1.0, 0.0, 2.0, -1.0, 0.0], &[5]);
        let err = crate::observe("y", Poisson::new(3.0), obs).unwrap_err();
        assert_eq!(
            err.to_string(),
            "site `y`: Poisson: value outside the support `nonnegative_integer`: observed value \
             of shape [5]: -1 at index 3"
        );
        // Several dims: the position in each.
        let obs = t(&[0.0, 1.0, 1.0, 0.5, 0.0, 1.0], &[2, 3]);
        let err = crate::observe("b", Bernoulli::new(0.5), obs).unwrap_err();
        assert!(
            err.to_string()
                .ends_with("observed value of shape [2, 3]: 0.5 at index [1, 0]"),
            "{err}"
        );
        // A constraint on whole vectors: the event's values and its batch index.
        let obs = t(&[0.2, 0.8, 0.5, 0.6, 1.0, 0.0], &[3, 2]);
        let err = crate::observe("p", Dirichlet::new(t(&[1.0, 1.0], &[2])), obs).unwrap_err();
        assert!(
            err.to_string()
                .ends_with("observed value of shape [3, 2]: event [0.5, 0.6] at batch index 1"),
            "{err}"
        );
    }

    #[test]
    fn parameter_and_log_prob_errors_name_the_index() {
        use crate::distributions::{DistError, Distribution};
        crate::enable_validation(true);
        let err = Normal::new(0.0, t(&[1.0, -1.0, 2.0], &[3])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Normal: invalid parameter `scale`: -1 at index 1 is not in positive"
        );
        let d = Poisson::new(3.0).unwrap();
        let err = Distribution::<Cpu>::log_prob(&d, &nan_at_2()).unwrap_err();
        assert!(matches!(err, DistError::OutOfSupport { .. }));
        assert!(
            err.to_string()
                .ends_with("value of shape [5]: NaN at index 2"),
            "{err}"
        );
    }
}
