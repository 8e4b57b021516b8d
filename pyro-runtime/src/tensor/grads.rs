//! [`Grads`]: the gradients one backward pass computed, looked up by tensor.

use std::cell::RefCell;

use dfdx::prelude::Gradients;

use super::backend::Backend;
use super::host_node::Vals;
use super::tape::HostGrads;
use super::DynTensor;

/// The gradients of a backward pass ([`GradScope::backward`](super::GradScope::backward)),
/// found by the tensor they belong to: the runtime's own record for host values, dfdx's
/// gradients for values on another device.
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
    /// Gradients of dfdx tensors (values on a device, dfdx's own operations); looking one up
    /// may allocate it, hence the cell.
    dev: RefCell<Gradients<f32, D>>,
}

impl<D: Backend> Grads<D> {
    pub(super) fn new(host: HostGrads, dev: Gradients<f32, D>) -> Self {
        Grads {
            host,
            dev: RefCell::new(dev),
        }
    }

    /// The gradient of the loss with respect to `t`, shaped like `t`; `None` when the loss
    /// does not depend on `t` (or `t` is a constant, or an intermediate value of the pass:
    /// as in PyTorch, only leaves keep their gradients).
    pub fn get(&self, t: &DynTensor<D>) -> Option<DynTensor<D>> {
        if let Some(node) = t.host_node() {
            let vals = self.host_values(t)?;
            debug_assert_eq!(vals.len(), node.vals().len());
            return DynTensor::from_vec(vals.as_slice().to_vec(), t.shape())
                .ok()
                .map(|g| g.with_constant(true));
        }
        // A device value: dfdx's record, allocated as zeros when no gradient reached it.
        let mut dev = self.dev.borrow_mut();
        dev.try_alloc_for(t.flat()).ok()?;
        let g = dev.get(t.flat());
        DynTensor::from_flat(g.retaped(), t.shape())
            .ok()
            .map(|g| g.with_constant(true))
    }

    /// [`Grads::get`], with zeros where the loss does not depend on `t`.
    pub fn get_or_zeros(&self, t: &DynTensor<D>) -> DynTensor<D> {
        self.get(t)
            .unwrap_or_else(|| DynTensor::zeros(t.shape()).with_constant(true))
    }

    /// Calls `f` with the host gradient of `t` (in place where no dfdx operation added to
    /// it; `None` when none reached `t`); `None` when `t` is not a host value.
    pub(crate) fn with_host<R>(
        &self,
        t: &DynTensor<D>,
        f: impl FnOnce(Option<&[f32]>) -> R,
    ) -> Option<R> {
        let node = t.host_node()?;
        let key = t.host_key()?;
        let from_dev = node.existing_flat().map(|flat| {
            let mut dev = self.dev.borrow_mut();
            D::cpu_grads(&mut dev)
                .and_then(|g| g.get_or_alloc_mut(flat).ok().map(|g| g.to_vec()))
                .unwrap_or_default()
        });
        let host = self.host.leaf(key);
        Some(match (host, from_dev) {
            (h, None) => f(h),
            (None, Some(d)) => f(Some(&d)),
            (Some(h), Some(mut d)) => {
                for (a, b) in d.iter_mut().zip(h) {
                    *a += b;
                }
                f(Some(&d))
            }
        })
    }

    /// The host gradient of `t`, summed over the runtime's record and dfdx's.
    fn host_values(&self, t: &DynTensor<D>) -> Option<Vals> {
        self.with_host(t, |g| g.map(|g| Vals::from(g.to_vec())))
            .flatten()
    }
}
