//! What a param message does when no handler gives it a value: the parameter store's.

use crate::error::{PyroError, PyroResult};
use crate::params::ParamInit;
use crate::poutine::message::{Message, ParamSpec};
use crate::tensor::{Backend, DynTensor};

/// The default behaviour of a param message: read the thread's parameter store, creating
/// the entry from the initializer the first time.
pub(crate) fn param_default<D: Backend>(msg: &mut Message<D>) -> PyroResult<DynTensor<D>> {
    let stored =
        crate::params::get_param_named::<D>(&msg.name).map_err(|e| PyroError::ParamStoreAt {
            site: msg.name.to_string(),
            source: Box::new(e),
        })?;
    if let Some(v) = stored {
        // A value init of another shape than the stored value: a parameter left over from
        // another model (Pyro would silently reuse it). A lazy init is never built here.
        if let Some(ParamSpec {
            init: Some(ParamInit::Value(init)),
            ..
        }) = msg.param.as_ref()
        {
            if init.shape() != v.shape() {
                return Err(PyroError::ParamShape {
                    param: msg.name.to_string(),
                    stored: v.shape().to_vec(),
                    expected: init.shape().to_vec(),
                });
            }
        }
        return Ok(v);
    }
    let name = msg.name.clone();
    let err = |e: crate::params::ParamStoreError| PyroError::ParamStoreAt {
        site: name.to_string(),
        source: Box::new(e),
    };
    let spec = msg.param.as_mut().ok_or_else(|| PyroError::Param {
        site: name.to_string(),
        reason: "param message without a spec".into(),
    })?;
    let Some(init) = spec.init.take() else {
        return Err(PyroError::Param {
            site: name.to_string(),
            reason: "no initial value and not in the parameter store".into(),
        });
    };
    let value = init.resolve(&name).map_err(err)?;
    let (constraint, event_dim) = (spec.constraint.clone(), spec.event_dim);
    crate::params::param::<D>(&name, value, constraint, event_dim).map_err(err)
}
