//! `mask`: switches log-probabilities off elementwise.

use super::message::{Mask, Message};
use super::runtime::Messenger;
use super::Handled;
use crate::error::PyroResult;
use crate::tensor::{Backend, DefaultDevice};

/// Combines a mask into every sample site's mask (Pyro's `MaskMessenger`); masked-out
/// elements contribute exactly zero to the log-probability.
#[derive(Clone, Debug)]
pub struct MaskMessenger {
    mask: Mask,
}

impl MaskMessenger {
    /// One flag for all sites.
    pub fn all(keep: bool) -> Self {
        MaskMessenger {
            mask: Mask::All(keep),
        }
    }

    /// Elementwise flags with a shape (broadcast against each site's batch shape).
    pub fn elements(flags: Vec<bool>, shape: &[usize]) -> PyroResult<Self> {
        let n: usize = shape.iter().product();
        if n != flags.len() {
            return Err(crate::error::PyroError::Handler {
                handler: "mask",
                reason: format!("{} flags for shape {shape:?}", flags.len()),
            });
        }
        Ok(MaskMessenger {
            mask: Mask::Elements {
                flags: std::rc::Rc::new(flags),
                shape: shape.to_vec(),
            },
        })
    }
}

impl<D: Backend> Messenger<D> for MaskMessenger {
    fn process(&self, msg: &mut Message<D>) -> PyroResult<()> {
        msg.mask = Some(match &msg.mask {
            None => self.mask.clone(),
            Some(m) => m.and(&self.mask)?,
        });
        Ok(())
    }
}

/// Runs `program` with log-probabilities masked (Pyro's `poutine.mask`).
///
/// ```
/// use pyro::prelude::*;
/// use pyro::poutine::{self, MaskMessenger};
/// let model = || pyro::observe("y", Normal::new(0.0, 1.0), DynTensor::scalar(1.0));
/// let mut tr = poutine::trace(poutine::mask(model, MaskMessenger::all(false)))
///     .get_trace(()).unwrap();
/// assert_eq!(tr.log_prob_sum().unwrap().item().unwrap(), 0.0);
/// ```
pub fn mask<P>(program: P, mask: MaskMessenger) -> Handled<P, DefaultDevice> {
    Handled::with(program, mask)
}
