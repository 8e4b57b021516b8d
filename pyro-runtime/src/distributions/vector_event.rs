//! Helpers for distributions over vectors (event shape `[n]`): event-size checks and the
//! host-side bookkeeping of broadcasting values against batched parameters.

use super::{DistError, DistResult};
pub(crate) use crate::linalg::broadcast_index;
use crate::tensor::{Backend, DynTensor};

/// Checks that a value's last dim is the event size `n`.
pub(crate) fn check_event<D: Backend>(
    dist: &'static str,
    value: &DynTensor<D>,
    n: usize,
) -> DistResult<()> {
    if value.shape().last() != Some(&n) {
        return Err(DistError::Tensor(crate::tensor::TensorError::Shape {
            what: format!("{dist}.log_prob value (last dim is the event dim)"),
            expected: vec![n],
            found: value.shape().to_vec(),
        }));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcast_index_follows_numpy() {
        // [3, 1] -> [2, 3, 4]: element (i, j, k) reads (j, 0).
        let idx = broadcast_index(&[3, 1], &[2, 3, 4]);
        for i in 0..2 {
            for j in 0..3 {
                for k in 0..4 {
                    assert_eq!(idx[(i * 3 + j) * 4 + k], j);
                }
            }
        }
        assert_eq!(broadcast_index(&[], &[2, 2]), vec![0; 4]);
        assert_eq!(broadcast_index(&[], &[3]), vec![0, 0, 0]);
        assert_eq!(broadcast_index(&[2], &[2]), vec![0, 1]);
    }
}
