//! One handler that substitutes the latent values and sums the log joint as the model runs:
//! what `substitute` under `trace` then `Trace::log_prob_sum` compute, without building a
//! trace (the potential is evaluated at every leapfrog step).

use std::cell::RefCell;

use crate::error::{PyroError, PyroResult};
use crate::poutine::{Mask, Message, Messenger, Name, Site, SiteKind};
use crate::tensor::DynTensor;
use dfdx::prelude::Cpu;

/// Substitutes `values` (by name) at latent sample sites and accumulates the scaled, masked
/// log-probability of every sample site with a density.
pub(crate) struct LogJointMessenger {
    values: Vec<(Name, DynTensor<Cpu>)>,
    total: RefCell<Option<DynTensor<Cpu>>>,
}

impl LogJointMessenger {
    pub(crate) fn new(values: Vec<(Name, DynTensor<Cpu>)>) -> Self {
        LogJointMessenger {
            values,
            total: RefCell::new(None),
        }
    }

    /// The log joint (`None` when the model has no density).
    pub(crate) fn take(&self) -> Option<DynTensor<Cpu>> {
        self.total.borrow_mut().take()
    }
}

impl Messenger<Cpu> for LogJointMessenger {
    fn process(&self, msg: &mut Message<Cpu>) -> PyroResult<()> {
        if msg.kind != SiteKind::Sample || msg.is_observed {
            return Ok(());
        }
        if let Some((_, v)) = self.values.iter().find(|(n, _)| *n == msg.name) {
            msg.value = Some(v.clone());
        }
        Ok(())
    }

    fn postprocess(&self, msg: &mut Message<Cpu>) -> PyroResult<()> {
        if msg.kind != SiteKind::Sample || msg.infer.deterministic {
            return Ok(());
        }
        let (Some(dist), Some(value)) = (&msg.dist, &msg.value) else {
            return Ok(());
        };
        let lp = match &msg.mask {
            // No mask: the distribution's log-density directly.
            None | Some(Mask::All(true)) => dist
                .log_prob(value)
                .map_err(|e| PyroError::at_site(&msg.name, e))?
                .sum(),
            Some(mask) => {
                let mut site = Site::sample(msg.name.clone(), dist.clone(), value.clone());
                site.mask = Some(mask.clone());
                site.masked_log_prob()?.sum()
            }
        };
        let lp = if msg.scale == 1.0 {
            lp
        } else {
            lp.mul_scalar(msg.scale)
        };
        let mut total = self.total.borrow_mut();
        *total = Some(match total.take() {
            None => lp,
            Some(t) => t.add(&lp)?,
        });
        Ok(())
    }
}
