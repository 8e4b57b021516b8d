//! Small dense linear algebra on the host (`f64`, row-major), used by the multivariate
//! distributions, constraints and transforms, and its differentiable counterparts on
//! [`DynTensor`](crate::tensor::DynTensor)s ([`cholesky`], [`solve_triangular_lower`],
//! batched [`matmul`], ...), which compute on the host in `f64` and put the result back on the
//! graph by linearisation at the evaluation point (exact values, exact gradients).

mod batched;
mod cholesky;
mod error;
#[cfg(test)]
pub(crate) mod test_util;
mod triangular;

pub(crate) use batched::broadcast_index;
pub use batched::{diag_embed, diagonal, matmul, matvec, transpose};
pub use cholesky::cholesky;
pub use error::{LinalgError, LinalgResult};
pub(crate) use triangular::forward_subst;
pub use triangular::{solve_triangular_lower, solve_triangular_lower_vec};

/// Cholesky factor `L` (row-major, lower) of a symmetric positive-definite `n x n` matrix, or
/// `None` when the matrix is not positive definite.
///
/// ```
/// let l = pyro::linalg::cholesky_host(&[4.0, 2.0, 2.0, 3.0], 2).unwrap();
/// assert_eq!(l, vec![2.0, 0.0, 1.0, 2f64.sqrt()]);
/// assert!(pyro::linalg::cholesky_host(&[1.0, 2.0, 2.0, 1.0], 2).is_none());
/// ```
pub fn cholesky_host(a: &[f64], n: usize) -> Option<Vec<f64>> {
    if a.len() != n * n {
        return None;
    }
    let mut l = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            let mut s = a[i * n + j];
            for k in 0..j {
                s -= l[i * n + k] * l[j * n + k];
            }
            if i == j {
                if s <= 0.0 || !s.is_finite() {
                    return None;
                }
                l[i * n + i] = s.sqrt();
            } else {
                l[i * n + j] = s / l[j * n + j];
            }
        }
    }
    Some(l)
}

/// Solves `L x = b` for lower-triangular `L` (`n x n`) and `b` with `m` right-hand columns
/// (`n x m`, row-major).
pub fn solve_lower_host(l: &[f64], b: &[f64], n: usize, m: usize) -> Vec<f64> {
    let mut x = b.to_vec();
    for c in 0..m {
        for i in 0..n {
            let mut s = x[i * m + c];
            for k in 0..i {
                s -= l[i * n + k] * x[k * m + c];
            }
            x[i * m + c] = s / l[i * n + i];
        }
    }
    x
}

/// Solves `Lᵀ x = b` for lower-triangular `L`.
pub fn solve_lower_t_host(l: &[f64], b: &[f64], n: usize, m: usize) -> Vec<f64> {
    let mut x = b.to_vec();
    for c in 0..m {
        for i in (0..n).rev() {
            let mut s = x[i * m + c];
            for k in i + 1..n {
                s -= l[k * n + i] * x[k * m + c];
            }
            x[i * m + c] = s / l[i * n + i];
        }
    }
    x
}

/// Inverse of a lower-triangular matrix.
pub fn inverse_lower_host(l: &[f64], n: usize) -> Vec<f64> {
    let mut eye = vec![0.0; n * n];
    for i in 0..n {
        eye[i * n + i] = 1.0;
    }
    solve_lower_host(l, &eye, n, n)
}

/// `A B` for `A: n x k`, `B: k x m`.
pub fn matmul_host(a: &[f64], b: &[f64], n: usize, k: usize, m: usize) -> Vec<f64> {
    let mut c = vec![0.0; n * m];
    for i in 0..n {
        for p in 0..k {
            let aip = a[i * k + p];
            for j in 0..m {
                c[i * m + j] += aip * b[p * m + j];
            }
        }
    }
    c
}

/// Transpose of an `n x m` matrix.
pub fn transpose_host(a: &[f64], n: usize, m: usize) -> Vec<f64> {
    let mut t = vec![0.0; n * m];
    for i in 0..n {
        for j in 0..m {
            t[j * n + i] = a[i * m + j];
        }
    }
    t
}
