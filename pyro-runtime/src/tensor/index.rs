//! Differentiable element access on typed tensors (Pyro's `weights_loc[0]`).

use dfdx::prelude::*;
use dfdx::shapes::Shape;

use super::backend::Backend;
use super::dyn_tensor::{DynTensor, Tensor};
use crate::error::{TensorError, TensorResult};

/// Picks one element of a typed tensor, keeping the gradient path.
///
/// ```
/// use pyro::prelude::*;
/// let dev = pyro::tensor::default_device::<pyro::DefaultDevice>();
/// let w: Tensor<Rank1<3>> = dev.tensor([1.0f32, 2.0, 3.0]).retaped();
/// assert_eq!(w.at(2).unwrap().array(), 3.0);
/// assert!(w.at(3).is_err());
/// ```
pub trait At<D: Backend> {
    /// The element at row-major position `i`, as a scalar tensor.
    fn at(&self, i: usize) -> TensorResult<Tensor<Rank0, D>>;
}

impl<S: Shape, D: Backend> At<D> for Tensor<S, D> {
    fn at(&self, i: usize) -> TensorResult<Tensor<Rank0, D>> {
        let n = self.shape().num_elements();
        if i >= n {
            return Err(TensorError::Invalid(format!(
                "index {i} out of range for a tensor of {n} elements"
            )));
        }
        DynTensor::from_tensor(self.clone())
            .gather_flat(vec![i], &[])?
            .to_tensor::<Rank0>()
    }
}
