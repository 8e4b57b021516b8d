//! Matrix products as host kernels: `[b, m, k] x [b | 1, k, n] -> [b, m, n]`, the forward
//! and both gradients computed with the `gemm` kernels dfdx itself uses on the CPU.

use super::backend::Backend;
use super::dyn_tensor::DynTensor;
use super::host_op::host_custom;
use crate::tensor::{TensorError, TensorResult};

/// The sizes of one batched product: `b` matrices `m x k` times `k x n`, the right operand
/// shared by every batch when `shared_rhs`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MatMul {
    pub b: usize,
    pub m: usize,
    pub k: usize,
    pub n: usize,
    pub shared_rhs: bool,
}

/// A row-major `rows x cols` matrix view, possibly transposed: element `(r, c)` is at
/// `r * rs + c * cs`.
#[derive(Clone, Copy)]
struct View {
    ptr: *const f32,
    rs: isize,
    cs: isize,
}

fn plain(ptr: *const f32, cols: usize) -> View {
    View {
        ptr,
        rs: cols as isize,
        cs: 1,
    }
}

/// The transpose of a row-major matrix with `cols` columns.
fn transposed(ptr: *const f32, cols: usize) -> View {
    View {
        ptr,
        rs: 1,
        cs: cols as isize,
    }
}

/// `dst (m x n, row-major) += lhs (m x k) · rhs (k x n)`.
///
/// # Safety
/// `dst` holds `m * n` values and the views address `m x k` and `k x n` matrices inside
/// their slices.
unsafe fn gemm_acc(dst: &mut [f32], m: usize, n: usize, k: usize, lhs: View, rhs: View) {
    debug_assert_eq!(dst.len(), m * n);
    if m == 0 || n == 0 || k == 0 {
        return;
    }
    // dst := 1·dst + 1·lhs·rhs
    gemm::gemm(
        m,
        n,
        k,
        dst.as_mut_ptr(),
        1,
        n as isize,
        true,
        lhs.ptr,
        lhs.cs,
        lhs.rs,
        rhs.ptr,
        rhs.cs,
        rhs.rs,
        1.0f32,
        1.0f32,
        false,
        false,
        false,
        gemm::Parallelism::None,
    );
}

/// `a · b` for the sizes `s`, with output shape `shape`, as a host kernel.
pub(crate) fn matmul<D: Backend>(
    a: &DynTensor<D>,
    b: &DynTensor<D>,
    s: MatMul,
    shape: &[usize],
) -> TensorResult<DynTensor<D>> {
    let MatMul {
        b: nb,
        m,
        k,
        n,
        shared_rhs,
    } = s;
    let rhs_at = move |i: usize| if shared_rhs { 0 } else { i * k * n };
    host_custom(
        [a, b],
        shape,
        move |[x, y]| {
            let mut out = vec![0.0f32; nb * m * n];
            for i in 0..nb {
                let (xa, yb) = (&x[i * m * k..], &y[rhs_at(i)..]);
                // SAFETY: the slices hold `m * k` and `k * n` values from these offsets
                // (checked by the caller's shape test) and `out` has `m * n` per batch.
                unsafe {
                    gemm_acc(
                        &mut out[i * m * n..(i + 1) * m * n],
                        m,
                        n,
                        k,
                        plain(xa.as_ptr(), k),
                        plain(yb.as_ptr(), n),
                    )
                };
            }
            Ok::<_, TensorError>((out.into(), ()))
        },
        move |_, [x, y], input, g_out, g_in| {
            for i in 0..nb {
                let g = &g_out[i * m * n..(i + 1) * m * n];
                // SAFETY: as in the forward pass; `g_in` has the input's own layout.
                unsafe {
                    if input == 0 {
                        // dA_i += G_i · B_iᵀ  (m x n · n x k)
                        gemm_acc(
                            &mut g_in[i * m * k..(i + 1) * m * k],
                            m,
                            k,
                            n,
                            plain(g.as_ptr(), n),
                            transposed(y[rhs_at(i)..].as_ptr(), n),
                        );
                    } else {
                        // dB_i += A_iᵀ · G_i  (k x m · m x n)
                        let at = rhs_at(i);
                        gemm_acc(
                            &mut g_in[at..at + k * n],
                            k,
                            n,
                            m,
                            transposed(x[i * m * k..].as_ptr(), k),
                            plain(g.as_ptr(), n),
                        );
                    }
                }
            }
        },
    )
}
