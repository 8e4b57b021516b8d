//! Helpers for distributions over vectors (event shape `[n]`): event-size checks and the
//! host-side bookkeeping of broadcasting values against batched parameters.

use super::{DistError, DistResult};
use crate::tensor::{numel, Backend, DynTensor};

/// Checks that a value's last dim is the event size `n`.
pub(crate) fn check_event<D: Backend>(
    dist: &'static str,
    value: &DynTensor<D>,
    n: usize,
) -> DistResult<()> {
    if value.shape().last() != Some(&n) {
        return Err(DistError::Tensor(crate::error::TensorError::Shape {
            what: format!("{dist}.log_prob value (last dim is the event dim)"),
            expected: vec![n],
            found: value.shape().to_vec(),
        }));
    }
    Ok(())
}

/// For each flat index of `dst`, the flat index of `src` it reads when `src` is broadcast to
/// `dst` (NumPy rules; `src` must broadcast to `dst`).
pub(crate) fn broadcast_index(src: &[usize], dst: &[usize]) -> Vec<usize> {
    let off = dst.len() - src.len();
    let strides = |s: &[usize]| {
        let mut st = vec![1; s.len()];
        for i in (0..s.len().saturating_sub(1)).rev() {
            st[i] = st[i + 1] * s[i + 1];
        }
        st
    };
    let (ss, ds) = (strides(src), strides(dst));
    (0..numel(dst))
        .map(|f| {
            let mut s = 0;
            for k in off..dst.len() {
                if src[k - off] != 1 {
                    s += (f / ds[k]) % dst[k] * ss[k - off];
                }
            }
            s
        })
        .collect()
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
        assert_eq!(broadcast_index(&[2], &[2]), vec![0, 1]);
    }
}
