//! [`Grads`]: the gradients one backward pass computed, looked up by tensor.

use std::marker::PhantomData;

use super::backend::Backend;
use super::tape::HostGrads;
use super::DynTensor;

/// The gradients of a backward pass ([`GradScope::backward`](super::GradScope::backward)),
/// found by the tensor they belong to.
///
/// ```
/// use pyro::prelude::*;
/// let x = DynTensor::<Cpu>::from_vec(vec![1.0, 2.0], &[2]).unwrap();
/// let unused = DynTensor::<Cpu>::scalar(3.0);
/// let scope = GradScope::<Cpu>::open();
/// let loss = x.mul(&x).unwrap().sum(); // d/dx = 2x: `x * x` needs no care
/// let grads = scope.backward(&loss).unwrap();
/// assert_eq!(grads.get(&x).unwrap().to_vec(), vec![2.0, 4.0]);
/// assert!(grads.get(&unused).is_none());
/// assert_eq!(grads.get_or_zeros(&unused).to_vec(), vec![0.0]);
/// ```
pub struct Grads<D: Backend> {
    host: HostGrads,
    _d: PhantomData<fn() -> D>,
}

impl<D: Backend> Grads<D> {
    pub(super) fn new(host: HostGrads) -> Self {
        Grads {
            host,
            _d: PhantomData,
        }
    }

    /// The gradient of the loss with respect to `t`, shaped like `t`; `None` when the loss
    /// does not depend on `t` (or `t` is a constant, or an intermediate value of the pass:
    /// as in PyTorch, only leaves keep their gradients).
    pub fn get(&self, t: &DynTensor<D>) -> Option<DynTensor<D>> {
        let g = self.slice(t)?;
        let g = DynTensor::from_vec(g.to_vec(), t.shape()).ok()?;
        Some(g.with_constant(true))
    }

    /// [`Grads::get`], with zeros where the loss does not depend on `t`.
    pub fn get_or_zeros(&self, t: &DynTensor<D>) -> DynTensor<D> {
        self.get(t)
            .unwrap_or_else(|| DynTensor::zeros(t.shape()).with_constant(true))
    }

    /// The gradient of `t`, borrowed (`None` as for [`Grads::get`]).
    pub(crate) fn slice(&self, t: &DynTensor<D>) -> Option<&[f32]> {
        if t.is_constant() {
            return None;
        }
        self.host.leaf(t.host_key()?)
    }
}
