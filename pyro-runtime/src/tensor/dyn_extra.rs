//! Differentiable primitives on [`DynTensor`] that the typed operations (tensor/typed_ops/) need
//! and dyn_tensor.rs does not have.

use super::backend::Backend;
use super::dyn_tensor::DynTensor;
use crate::tensor::{TensorError, TensorResult};

impl<D: Backend> DynTensor<D> {
    /// Batched matrix product `[b, m, k] x [b, k, n] -> [b, m, n]` (one node on the tape
    /// whatever `b`).
    pub(crate) fn bmm(&self, rhs: &Self) -> TensorResult<Self> {
        let (l, r) = (self.shape(), rhs.shape());
        if l.len() != 3 || r.len() != 3 || l[0] != r[0] || l[2] != r[1] {
            return Err(TensorError::Broadcast {
                op: "bmm",
                lhs: l.to_vec(),
                rhs: r.to_vec(),
            });
        }
        let (b, m, k, n) = (l[0], l[1], l[2], r[2]);
        if b * m * n == 0 || k == 0 {
            return Ok(Self::zeros(&[b, m, n]));
        }
        let sizes = super::host_matmul::MatMul {
            b,
            m,
            k,
            n,
            shared_rhs: false,
        };
        super::host_matmul::matmul(self, rhs, sizes, &[b, m, n])
    }
}
