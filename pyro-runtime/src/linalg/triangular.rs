//! Differentiable solves with lower-triangular matrices.
//!
//! `X₀ = L₀⁻¹ B₀` is computed on the host in `f64`; on the graph the result is
//! `X = X₀ + L₀⁻¹ (ΔB - tril(ΔL) X₀)` with `ΔB = B - B₀`, `ΔL = L - L₀` (exactly zero at the
//! evaluation point), so values are exactly `X₀` and gradients exactly those of `L⁻¹ B`
//! (`dX = L⁻¹ (dB - dL X)`), in both `L` and `B`.

use super::batched::broadcast_index;
use super::batched::{
    constant, displacement, mat_dims, mul_const_left, mul_const_right, square_dims, transpose,
    tri_mask, HostMats,
};
use super::error::{LinalgError, LinalgResult};
use super::inverse_lower_host;
use crate::tensor::{broadcast_shapes, is_recording, numel, Backend, DynTensor};

const OP: &str = "solve_triangular_lower";

/// Host copies of a batch of lower-triangular matrices and (when `with_inverse`) their
/// inverses; errors when one is singular.
fn factors(
    lv: &[f32],
    nb: usize,
    n: usize,
    with_inverse: bool,
) -> LinalgResult<(Vec<f64>, Vec<f64>)> {
    let mut l = Vec::with_capacity(nb * n * n);
    let mut li = Vec::with_capacity(nb * n * n);
    for b in 0..nb {
        let mut m = vec![0.0f64; n * n];
        for i in 0..n {
            for j in 0..=i {
                m[i * n + j] = lv[b * n * n + i * n + j] as f64;
            }
            let d = m[i * n + i];
            if d == 0.0 || !d.is_finite() {
                return Err(LinalgError::Singular { op: OP, index: b });
            }
        }
        if with_inverse {
            let inv = inverse_lower_host(&m, n);
            if inv.iter().any(|x| !(*x as f32).is_finite()) {
                return Err(LinalgError::NotFinite { op: OP, index: b });
            }
            li.extend(inv);
        }
        l.extend(m);
    }
    Ok((l, li))
}

/// Forward substitution `L x = r` in `f64` for one right-hand side.
/// Solves `L x = r` for one lower-triangular `L` (row-major `n x n`, `f64`) into `out`.
pub(crate) fn forward_subst(l: &[f64], r: &[f64], n: usize, out: &mut [f64]) {
    for i in 0..n {
        let mut s = r[i];
        for k in 0..i {
            s -= l[i * n + k] * out[k];
        }
        out[i] = s / l[i * n + i];
    }
}

fn check_finite(x: &[f64], index: usize) -> LinalgResult<()> {
    if x.iter().any(|v| !(*v as f32).is_finite()) {
        return Err(LinalgError::NotFinite { op: OP, index });
    }
    Ok(())
}

/// Solves `L X = B` for lower-triangular `L: [..., n, n]` and `B: [..., n, m]`; batch dims
/// broadcast. Differentiable in both `L` and `B`; only the lower triangle of `L` is read (the
/// gradient above the diagonal is zero). Errors with [`LinalgError::Singular`] when a diagonal
/// entry of `L` is zero or not finite.
///
/// ```
/// use pyro::tensor::DynTensor;
/// let l = DynTensor::<dfdx::prelude::Cpu>::from_vec(vec![2.0, 0.0, 1.0, 4.0], &[2, 2]).unwrap();
/// let b = DynTensor::<dfdx::prelude::Cpu>::from_vec(vec![2.0, 4.0, 5.0, 6.0], &[2, 2]).unwrap();
/// let x = pyro::linalg::solve_triangular_lower(&l, &b).unwrap();
/// assert_eq!(x.to_vec(), vec![1.0, 2.0, 1.0, 1.0]);
/// ```
pub fn solve_triangular_lower<D: Backend>(
    l: &DynTensor<D>,
    b: &DynTensor<D>,
) -> LinalgResult<DynTensor<D>> {
    let (lb, n) = square_dims(OP, "L", l.shape())?;
    let (bb, n2, m) = mat_dims(OP, "B", b.shape())?;
    if n != n2 {
        return Err(LinalgError::Shape {
            op: OP,
            what: "B",
            shape: b.shape().to_vec(),
            expected: format!("[..., {n}, m] to match L {:?}", l.shape()),
        });
    }
    if lb.is_empty() {
        // One L for all: the columns of every B are rows of one matrix.
        let bt = transpose(b)?; // [bb..., m, n]
        let rows = bt.reshape(&[numel(&bb) * m, n])?;
        let x = solve_rows(l, &rows, n)?;
        return transpose(&x.reshape(bt.shape())?);
    }
    let batch = broadcast_shapes(&lb, &bb).ok_or_else(|| LinalgError::Shape {
        op: OP,
        what: "B",
        shape: b.shape().to_vec(),
        expected: format!("batch dims broadcastable with L {:?}", l.shape()),
    })?;
    solve_batched(l, b, &lb, &bb, &batch, n, m)
}

/// Solves `L x = b` for lower-triangular `L: [..., n, n]` and vectors `b: [..., n]`; batch
/// dims broadcast. Differentiable in both, like [`solve_triangular_lower`].
///
/// ```
/// use pyro::tensor::DynTensor;
/// let l = DynTensor::<dfdx::prelude::Cpu>::from_vec(vec![2.0, 0.0, 1.0, 4.0], &[2, 2]).unwrap();
/// let b = DynTensor::<dfdx::prelude::Cpu>::from_vec(vec![2.0, 5.0, 4.0, 6.0], &[2, 2]).unwrap(); // two vectors
/// let x = pyro::linalg::solve_triangular_lower_vec(&l, &b).unwrap();
/// assert_eq!(x.to_vec(), vec![1.0, 1.0, 2.0, 1.0]);
/// ```
pub fn solve_triangular_lower_vec<D: Backend>(
    l: &DynTensor<D>,
    b: &DynTensor<D>,
) -> LinalgResult<DynTensor<D>> {
    let (lb, n) = square_dims(OP, "L", l.shape())?;
    let Some((&n2, vb)) = b.shape().split_last() else {
        return Err(LinalgError::Shape {
            op: OP,
            what: "b",
            shape: vec![],
            expected: format!("[..., {n}]"),
        });
    };
    if n != n2 {
        return Err(LinalgError::Shape {
            op: OP,
            what: "b",
            shape: b.shape().to_vec(),
            expected: format!("[..., {n}] to match L {:?}", l.shape()),
        });
    }
    if lb.is_empty() {
        let rows = b.reshape(&[numel(vb), n])?;
        return Ok(solve_rows(l, &rows, n)?.reshape(b.shape())?);
    }
    let mut col = vb.to_vec();
    col.extend([n, 1]);
    let x = solve_triangular_lower(l, &b.reshape(&col)?)?;
    let mut shape = x.shape().to_vec();
    shape.pop();
    Ok(x.reshape(&shape)?)
}

/// One `L: [n, n]`; each row `r` of `rows: [N, n]` is a right-hand side. In row form
/// `X = X₀ + (ΔR - X₀ tril(ΔL)ᵀ) L₀⁻ᵀ`.
fn solve_rows<D: Backend>(
    l: &DynTensor<D>,
    rows: &DynTensor<D>,
    n: usize,
) -> LinalgResult<DynTensor<D>> {
    let recording = is_recording();
    let (lh, li) = factors(&l.to_vec(), 1, n, recording)?;
    let rv = rows.to_vec();
    let nr = rv.len() / n.max(1);
    let mut x0 = vec![0.0f64; nr * n];
    let mut r = vec![0.0f64; n];
    for (i, chunk) in rv.chunks(n.max(1)).enumerate().take(nr) {
        for (dst, &src) in r.iter_mut().zip(chunk) {
            *dst = src as f64;
        }
        forward_subst(&lh, &r, n, &mut x0[i * n..(i + 1) * n]);
    }
    check_finite(&x0, 0)?;
    let value = constant::<D>(&x0, rows.shape())?;
    if !recording {
        return Ok(value);
    }
    let dl = displacement(l)?.mul(&tri_mask(n, 1.0, 1.0)?)?;
    // X₀ ΔLᵀ = (ΔL X₀ᵀ)ᵀ
    let x0t = HostMats {
        data: x0,
        batch: 1,
        rows: nr,
        cols: n,
    }
    .t();
    let t = mul_const_right(&dl, &x0t)?.t()?; // [nr, n]
    let resid = displacement(rows)?.sub(&t)?;
    let li = HostMats {
        data: li,
        batch: 1,
        rows: n,
        cols: n,
    };
    let dx = mul_const_right(&resid, &li.t())?;
    Ok(value.add(&dx)?)
}

/// Batched `L: [lb..., n, n]` and `B: [bb..., n, m]` over the broadcast batch `batch`: one
/// factorisation per distinct `L`, one solve per batch element.
fn solve_batched<D: Backend>(
    l: &DynTensor<D>,
    b: &DynTensor<D>,
    lb: &[usize],
    bb: &[usize],
    batch: &[usize],
    n: usize,
    m: usize,
) -> LinalgResult<DynTensor<D>> {
    let recording = is_recording();
    let nb = numel(batch);
    let (lh, li) = factors(&l.to_vec(), numel(lb), n, recording)?;
    let (lidx, bidx) = (broadcast_index(lb, batch), broadcast_index(bb, batch));
    let bv = b.to_vec();
    let mut x0 = vec![0.0f64; nb * n * m];
    let mut col = vec![0.0f64; n];
    let mut sol = vec![0.0f64; n];
    for k in 0..nb {
        let (lk, bk) = (lidx[k], bidx[k]);
        for c in 0..m {
            for i in 0..n {
                col[i] = bv[bk * n * m + i * m + c] as f64;
            }
            forward_subst(&lh[lk * n * n..(lk + 1) * n * n], &col, n, &mut sol);
            for i in 0..n {
                x0[k * n * m + i * m + c] = sol[i];
            }
        }
        check_finite(&x0[k * n * m..(k + 1) * n * m], k)?;
    }
    let mut shape = batch.to_vec();
    shape.extend([n, m]);
    let value = constant::<D>(&x0, &shape)?;
    if !recording {
        return Ok(value);
    }
    let mut ls = batch.to_vec();
    ls.extend([n, n]);
    let l = l.broadcast_to(&ls)?.reshape(&[nb, n, n])?;
    let b = b.broadcast_to(&shape)?.reshape(&[nb, n, m])?;
    let dl = displacement(&l)?.mul(&tri_mask(n, 1.0, 1.0)?)?;
    let x0m = HostMats {
        data: x0,
        batch: nb,
        rows: n,
        cols: m,
    };
    let lim = HostMats {
        data: lidx
            .iter()
            .flat_map(|&k| li[k * n * n..(k + 1) * n * n].iter().copied())
            .collect(),
        batch: nb,
        rows: n,
        cols: n,
    };
    let resid = displacement(&b)?.sub(&mul_const_right(&dl, &x0m)?)?;
    let dx = mul_const_left(&lim, &resid)?;
    Ok(value.add(&dx.reshape(&shape)?)?)
}

#[cfg(test)]
#[allow(clippy::needless_range_loop)] // index-heavy numeric checks
mod tests {
    use super::*;
    use crate::linalg::test_util::*;
    use crate::linalg::{matmul_host, solve_lower_host};
    use dfdx::prelude::Cpu;

    fn batch_of_trils(rng: &mut rand::rngs::StdRng, nb: usize, n: usize) -> Vec<f32> {
        (0..nb).flat_map(|_| random_tril(rng, n)).collect()
    }

    /// `sum(W ⊙ L⁻¹B)` on the host for `L: [nl, n, n]` (nl = 1 shared) and `B: [nb, n, m]`.
    fn host_objective(
        l: &[f64],
        b: &[f64],
        w: &[f32],
        nl: usize,
        nb: usize,
        n: usize,
        m: usize,
    ) -> f64 {
        let total = nl.max(nb);
        let mut s = 0.0;
        for k in 0..total {
            let lk = if nl == 1 { 0 } else { k };
            let bk = if nb == 1 { 0 } else { k };
            // Only the lower triangle of L counts.
            let mut lm = l[lk * n * n..(lk + 1) * n * n].to_vec();
            for i in 0..n {
                for j in i + 1..n {
                    lm[i * n + j] = 0.0;
                }
            }
            let x = solve_lower_host(&lm, &b[bk * n * m..(bk + 1) * n * m], n, m);
            s += x
                .iter()
                .zip(&w[k * n * m..])
                .map(|(x, &wi)| x * wi as f64)
                .sum::<f64>();
        }
        s
    }

    #[test]
    fn values_match_host_solve() {
        let mut rng = seeded(20);
        for (lshape, bshape) in [
            (vec![3, 3], vec![3, 2]),
            (vec![3, 3], vec![4, 3, 2]),
            (vec![2, 3, 3], vec![3, 1]),
            (vec![2, 3, 3], vec![2, 3, 4]),
        ] {
            let nl = numel(&lshape[..lshape.len() - 2]);
            let nb = numel(&bshape[..bshape.len() - 2]);
            let m = bshape[bshape.len() - 1];
            let lv = batch_of_trils(&mut rng, nl, 3);
            let bt = random_tensor(&mut rng, &bshape);
            let l = DynTensor::<Cpu>::from_vec(lv.clone(), &lshape).unwrap();
            for record in [false, true] {
                let scope = record.then(crate::tensor::GradScope::<Cpu>::open);
                let x = solve_triangular_lower(&l, &bt).unwrap();
                drop(scope);
                let xv = x.to_vec();
                let total = nl.max(nb);
                assert_eq!(xv.len(), total * 3 * m);
                for k in 0..total {
                    let lk = if nl == 1 { 0 } else { k };
                    let bk = if nb == 1 { 0 } else { k };
                    let want = solve_lower_host(
                        &f64s(&lv[lk * 9..lk * 9 + 9]),
                        &f64s(&bt.to_vec()[bk * 3 * m..(bk + 1) * 3 * m]),
                        3,
                        m,
                    );
                    assert_close(&xv[k * 3 * m..(k + 1) * 3 * m], &want, 1e-5);
                    // And L X = B.
                    let back = matmul_host(&f64s(&lv[lk * 9..lk * 9 + 9]), &want, 3, 3, m);
                    assert_close(&bt.to_vec()[bk * 3 * m..(bk + 1) * 3 * m], &back, 1e-5);
                }
            }
        }
    }

    #[test]
    fn gradients_match_finite_differences() {
        let mut rng = seeded(21);
        for (nl, nb, n, m) in [
            (1, 1, 1, 1),
            (1, 1, 3, 2),
            (1, 4, 3, 2),
            (3, 3, 3, 2),
            (2, 1, 4, 1),
        ] {
            let lshape = if nl == 1 { vec![n, n] } else { vec![nl, n, n] };
            let bshape = if nb == 1 { vec![n, m] } else { vec![nb, n, m] };
            let mut lv = batch_of_trils(&mut rng, nl, n);
            // Junk above the diagonal must not matter.
            for k in 0..nl {
                for i in 0..n {
                    for j in i + 1..n {
                        lv[k * n * n + i * n + j] = 7.0;
                    }
                }
            }
            let bv = random_host(&mut rng, nb * n * m);
            let total = nl.max(nb);
            let w = random_host(&mut rng, total * n * m);
            let leaves = [
                DynTensor::<Cpu>::from_vec(lv.clone(), &lshape).unwrap(),
                DynTensor::<Cpu>::from_vec(bv.clone(), &bshape).unwrap(),
            ];
            let g = analytic_grads(&leaves, |x| {
                weighted_sum(&solve_triangular_lower(&x[0], &x[1]).unwrap(), &w)
            });
            let host = |p: &[Vec<f64>]| host_objective(&p[0], &p[1], &w, nl, nb, n, m);
            let point = vec![f64s(&lv), f64s(&bv)];
            for (arg, len) in [(0, nl * n * n), (1, nb * n * m)] {
                for i in 0..len {
                    let fd = fd_host(&host, &point, arg, &unit(len, i), 1e-6);
                    assert!(
                        (g[arg][i] - fd).abs() <= 1e-4 * fd.abs().max(1.0),
                        "nl={nl} nb={nb} n={n} m={m} arg {arg}[{i}]: analytic {}, fd {fd}",
                        g[arg][i]
                    );
                }
            }
        }
    }

    #[test]
    fn vector_right_hand_sides() {
        let mut rng = seeded(22);
        let n = 3;
        for lshape in [vec![n, n], vec![2, n, n]] {
            let nl = numel(&lshape[..lshape.len() - 2]);
            let lv = batch_of_trils(&mut rng, nl, n);
            let bv = random_host(&mut rng, 5 * 2 * n);
            let w = random_host(&mut rng, 5 * 2 * n);
            let leaves = [
                DynTensor::<Cpu>::from_vec(lv.clone(), &lshape).unwrap(),
                DynTensor::<Cpu>::from_vec(bv.clone(), &[5, 2, n]).unwrap(),
            ];
            let x = solve_triangular_lower_vec(&leaves[0], &leaves[1]).unwrap();
            assert_eq!(x.shape(), &[5, 2, n]);
            let host = |p: &[Vec<f64>]| -> f64 {
                let mut s = 0.0;
                for k in 0..10 {
                    let lk = if nl == 1 { 0 } else { k % 2 };
                    let xk = solve_lower_host(
                        &p[0][lk * n * n..(lk + 1) * n * n],
                        &p[1][k * n..(k + 1) * n],
                        n,
                        1,
                    );
                    s += xk
                        .iter()
                        .zip(&w[k * n..])
                        .map(|(a, &b)| a * b as f64)
                        .sum::<f64>();
                }
                s
            };
            let point = vec![f64s(&lv), f64s(&bv)];
            assert!((weighted_sum(&x, &w).item().unwrap() as f64 - host(&point)).abs() < 1e-4);
            let g = analytic_grads(&leaves, |x| {
                weighted_sum(&solve_triangular_lower_vec(&x[0], &x[1]).unwrap(), &w)
            });
            for (arg, len) in [(0, lv.len()), (1, bv.len())] {
                for i in 0..len {
                    let fd = fd_host(&host, &point, arg, &unit(len, i), 1e-6);
                    assert!(
                        (g[arg][i] - fd).abs() <= 1e-4 * fd.abs().max(1.0),
                        "{lshape:?} arg {arg}[{i}]: analytic {}, fd {fd}",
                        g[arg][i]
                    );
                }
            }
        }
    }

    #[test]
    fn singular_and_shape_errors_are_typed() {
        let l = DynTensor::<Cpu>::from_vec(vec![1.0, 0.0, 1.0, 0.0], &[2, 2]).unwrap();
        let b = DynTensor::<Cpu>::ones(&[2, 1]);
        assert_eq!(
            solve_triangular_lower(&l, &b).unwrap_err(),
            LinalgError::Singular { op: OP, index: 0 }
        );
        assert!(matches!(
            solve_triangular_lower(&DynTensor::<Cpu>::ones(&[2, 2]), &DynTensor::ones(&[3, 1])),
            Err(LinalgError::Shape { what: "B", .. })
        ));
        assert!(matches!(
            solve_triangular_lower_vec(&DynTensor::<Cpu>::ones(&[2, 3]), &DynTensor::ones(&[3])),
            Err(LinalgError::Shape { what: "L", .. })
        ));
    }
}
