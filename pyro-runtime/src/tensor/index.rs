//! Differentiable element access on typed tensors (Pyro's `weights_loc[0]`).

use dfdx::prelude::*;
use dfdx::shapes::Shape;

use super::backend::Backend;
use super::typed::Tensor;
use crate::error::{TensorError, TensorResult};

/// Picks one element of a typed tensor, keeping the gradient path.
///
/// ```
/// use pyro::prelude::*;
/// let w: Tensor<Rank1<3>> = [1.0, 2.0, 3.0].into();
/// assert_eq!(w.at(2).unwrap().item().unwrap(), 3.0);
/// assert!(w.at(3).is_err());
/// ```
pub trait At<D: Backend> {
    /// The element at row-major position `i`, as a scalar tensor.
    fn at(&self, i: usize) -> TensorResult<Tensor<Rank0, D>>;
}

impl<S: Shape, D: Backend> At<D> for Tensor<S, D> {
    fn at(&self, i: usize) -> TensorResult<Tensor<Rank0, D>> {
        let v = self.as_dyn()?;
        let n = v.numel();
        if i >= n {
            return Err(TensorError::Invalid(format!(
                "index {i} out of range for a tensor of {n} elements"
            )));
        }
        v.gather_flat(vec![i], &[])?.to_tensor::<Rank0>()
    }
}
