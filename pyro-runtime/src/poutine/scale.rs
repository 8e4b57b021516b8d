//! `scale`: multiplies log-probabilities.

use super::message::Message;
use super::runtime::Messenger;
use super::Handled;
use crate::error::{PyroError, PyroResult};
use crate::tensor::Backend;
use crate::tensor::DefaultDevice;

/// Multiplies the log-probability of every sample site by a positive factor (Pyro's
/// `ScaleMessenger`).
#[derive(Clone, Debug)]
pub struct ScaleMessenger {
    scale: f32,
}

impl ScaleMessenger {
    /// A positive, finite scale; anything else is an error.
    pub fn new(scale: f32) -> PyroResult<Self> {
        if !(scale.is_finite() && scale > 0.0) {
            return Err(PyroError::Handler {
                handler: "scale",
                reason: format!("scale must be positive and finite, got {scale}"),
            });
        }
        Ok(ScaleMessenger { scale })
    }
}

impl<D: Backend> Messenger<D> for ScaleMessenger {
    fn process(&self, msg: &mut Message<D>) -> PyroResult<()> {
        msg.scale *= self.scale;
        Ok(())
    }
}

/// Runs `program` with log-probabilities multiplied by `scale` (Pyro's `poutine.scale`).
///
/// ```
/// use pyro::prelude::*;
/// use pyro::poutine;
/// let model = || pyro::sample("z", Normal::new(0.0, 1.0));
/// let tr = poutine::trace(poutine::scale(model, 10.0).unwrap()).get_trace(()).unwrap();
/// assert_eq!(tr.get("z").unwrap().scale, 10.0);
/// ```
pub fn scale<P>(program: P, scale: f32) -> PyroResult<Handled<P, DefaultDevice>> {
    Ok(Handled::with(program, ScaleMessenger::new(scale)?))
}
