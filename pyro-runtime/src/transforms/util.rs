//! Shape helpers shared by the vector and matrix transforms: constant linear maps along the
//! last dim, and assembling outputs by gathering from several tensors (no multiplication by
//! zero, so an infinite entry never turns its neighbours into NaN).

use super::{TransformError, TransformResult};

/// Smallest value a unit-interval output is clipped to (PyTorch clips to `finfo.tiny`).
pub(super) const TINY: f64 = f32::MIN_POSITIVE as f64;
/// `1 - ε` of `f32`: the largest value below one that unit-interval outputs (and partial
/// correlations, in magnitude) are clipped to, as in PyTorch.
pub(super) const ONE_MINUS_EPS: f64 = 1.0 - f32::EPSILON as f64;
use crate::tensor::{is_recording, numel, Backend, DynTensor};

/// Applies a host function of several same-shaped tensors elementwise: `f(&[a, b, ...])`
/// returns the value and the partial derivatives in `f64`. As with
/// [`crate::tensor::special::host_unary`], the result goes back on the graph linearised at the
/// evaluation point (`out = f(v0) + Σ_k (v_k - v_k0) ∂_k f(v0)`): exact value, exact first
/// derivatives.
pub(crate) fn host_map<D: Backend>(
    inputs: &[&DynTensor<D>],
    f: impl Fn(&[f64]) -> (f64, Vec<f64>),
) -> TransformResult<DynTensor<D>> {
    let shape = inputs[0].shape().to_vec();
    let vals: Vec<Vec<f32>> = inputs.iter().map(|t| t.to_vec()).collect();
    let n = numel(&shape);
    let mut out = Vec::with_capacity(n);
    let mut ders = vec![Vec::with_capacity(n); inputs.len()];
    let mut args = vec![0.0; inputs.len()];
    for e in 0..n {
        for (a, v) in args.iter_mut().zip(&vals) {
            *a = v[e] as f64;
        }
        let (y, d) = f(&args);
        out.push(y as f32);
        for (k, dk) in d.into_iter().enumerate() {
            ders[k].push(if dk.is_finite() { dk as f32 } else { 0.0 });
        }
    }
    let mut acc = DynTensor::from_vec(out, &shape)?;
    if !is_recording() {
        return Ok(acc);
    }
    for ((t, v), d) in inputs.iter().zip(vals).zip(ders) {
        let t0 = DynTensor::from_vec(v, &shape)?;
        let d = DynTensor::from_vec(d, &shape)?;
        acc = acc.add(&t.sub(&t0)?.mul(&d)?)?;
    }
    Ok(acc)
}

/// Applies a constant `k x n` matrix (row-major) along the last dim:
/// `[..., k] -> [..., n]`, `out[..., j] = Σ_i x[..., i] m[i][j]`.
pub(crate) fn last_dim_linear<D: Backend>(
    x: &DynTensor<D>,
    m: Vec<f32>,
    k: usize,
    n: usize,
) -> TransformResult<DynTensor<D>> {
    let shape = x.shape();
    let Some((&last, batch)) = shape.split_last() else {
        return Err(TransformError::Tensor(crate::tensor::TensorError::Invalid(
            "last_dim_linear of a scalar".into(),
        )));
    };
    debug_assert_eq!(last, k, "callers check the last dim");
    debug_assert_eq!(m.len(), k * n);
    let mut out_shape = batch.to_vec();
    out_shape.push(n);
    let rows = numel(batch);
    if k == 0 || rows == 0 || n == 0 {
        return Ok(DynTensor::zeros(&out_shape));
    }
    let mat = DynTensor::from_vec(m, &[k, n])?;
    let y = x.reshape(&[rows, k])?.matmul(&mat)?;
    Ok(y.reshape(&out_shape)?)
}

/// Concatenates the flat data of `parts` and gathers `index` (into that concatenation; see
/// [`offsets`]) with the given output shape.
pub(crate) fn assemble<D: Backend>(
    parts: &[DynTensor<D>],
    index: Vec<usize>,
    shape: &[usize],
) -> TransformResult<DynTensor<D>> {
    let all = DynTensor::cat_flat(parts)?;
    Ok(all.gather_flat(index, shape)?)
}

/// Start offsets of each part in a flat concatenation.
pub(crate) fn offsets<D: Backend>(parts: &[DynTensor<D>]) -> Vec<usize> {
    let mut acc = 0;
    parts
        .iter()
        .map(|p| {
            let o = acc;
            acc += p.numel();
            o
        })
        .collect()
}

/// Splits a shape `[..., n, n]` into (batch size, n); errors unless the last two dims are
/// square.
pub(crate) fn square_batch(
    transform: &'static str,
    direction: &'static str,
    shape: &[usize],
) -> TransformResult<(usize, usize)> {
    let r = shape.len();
    if r < 2 || shape[r - 1] != shape[r - 2] {
        return Err(TransformError::Shape {
            transform,
            direction,
            shape: shape.to_vec(),
            reason: "expected square matrices in the last two dims".into(),
        });
    }
    Ok((numel(&shape[..r - 2]), shape[r - 1]))
}

/// The diagonal of each matrix: `[..., n, n] -> [..., n]`.
pub(crate) fn diag_part<D: Backend>(
    x: &DynTensor<D>,
    b: usize,
    n: usize,
) -> TransformResult<DynTensor<D>> {
    let idx = (0..b)
        .flat_map(|bi| (0..n).map(move |i| bi * n * n + i * n + i))
        .collect();
    let mut shape = x.shape()[..x.rank() - 2].to_vec();
    shape.push(n);
    Ok(x.gather_flat(idx, &shape)?)
}

/// Row-major positions `(i, j)` with `j < i` (strictly lower triangle) of an `n x n` matrix.
pub(crate) fn strict_lower(n: usize) -> Vec<(usize, usize)> {
    (0..n).flat_map(|i| (0..i).map(move |j| (i, j))).collect()
}

/// The strictly lower triangle of each matrix as a vector, row by row:
/// `[..., n, n] -> [..., n(n-1)/2]`.
pub(crate) fn strict_lower_vec<D: Backend>(
    x: &DynTensor<D>,
    b: usize,
    n: usize,
) -> TransformResult<DynTensor<D>> {
    let pos = strict_lower(n);
    let m = pos.len();
    let idx = (0..b)
        .flat_map(|bi| pos.iter().map(move |&(i, j)| bi * n * n + i * n + j))
        .collect();
    let mut shape = x.shape()[..x.rank() - 2].to_vec();
    shape.push(m);
    Ok(x.gather_flat(idx, &shape)?)
}

/// Builds lower-triangular matrices from a full matrix (its strictly lower part is kept) and
/// a new diagonal `[..., n]`; the upper part is zero.
pub(crate) fn tril_with_diag<D: Backend>(
    x: &DynTensor<D>,
    diag: &DynTensor<D>,
    b: usize,
    n: usize,
) -> TransformResult<DynTensor<D>> {
    let parts = [x.clone(), diag.clone(), DynTensor::zeros(&[1])];
    let off = offsets(&parts);
    let mut idx = Vec::with_capacity(b * n * n);
    for bi in 0..b {
        for i in 0..n {
            for j in 0..n {
                idx.push(match j.cmp(&i) {
                    std::cmp::Ordering::Less => off[0] + bi * n * n + i * n + j,
                    std::cmp::Ordering::Equal => off[1] + bi * n + i,
                    std::cmp::Ordering::Greater => off[2],
                });
            }
        }
    }
    assemble(&parts, idx, x.shape())
}

/// `A Bᵀ` for batches of matrices `A: [..., n, m]`, `B: [..., p, m]` with the same batch
/// shape: `[..., n, p]`.
pub(crate) fn matmul_abt<D: Backend>(
    a: &DynTensor<D>,
    b_mat: &DynTensor<D>,
    batch: &[usize],
    n: usize,
    p: usize,
    m: usize,
) -> TransformResult<DynTensor<D>> {
    let b = numel(batch);
    let mut shape = batch.to_vec();
    shape.extend([n, p, m]);
    let mut ia = Vec::with_capacity(b * n * p * m);
    let mut ib = Vec::with_capacity(b * n * p * m);
    for bi in 0..b {
        for i in 0..n {
            for j in 0..p {
                for k in 0..m {
                    ia.push(bi * n * m + i * m + k);
                    ib.push(bi * p * m + j * m + k);
                }
            }
        }
    }
    let ea = a.gather_flat(ia, &shape)?;
    let eb = b_mat.gather_flat(ib, &shape)?;
    Ok(ea.mul(&eb)?.sum_rightmost(1)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use dfdx::prelude::Cpu;

    #[test]
    fn host_map_gives_values_and_partial_derivatives() {
        use super::super::testing::check_grad;
        // f(a, b) = a² b + sin(b): ∂a = 2ab, ∂b = a² + cos(b).
        let f = |v: &DynTensor<Cpu>| {
            let a = v.slice_flat(0, 3)?;
            let b = v.slice_flat(3, 6)?;
            host_map(&[&a, &b], |p| {
                let (a, b) = (p[0], p[1]);
                (a * a * b + b.sin(), vec![2.0 * a * b, a * a + b.cos()])
            })
        };
        let x = [0.5, -1.0, 2.0, 1.5, 0.3, -0.7];
        let y = f(&DynTensor::from_vec(x.to_vec(), &[6]).unwrap())
            .unwrap()
            .to_vec();
        for k in 0..3 {
            let (a, b) = (x[k] as f64, x[k + 3] as f64);
            assert!((y[k] as f64 - (a * a * b + b.sin())).abs() < 1e-6);
        }
        check_grad("host_map", &f, &x, &[6], 1e-3);
    }

    #[test]
    fn last_dim_linear_matches_host_product() {
        let x = DynTensor::<Cpu>::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]).unwrap();
        let m = vec![1.0, 0.5, -1.0, 2.0, 0.0, 3.0]; // 3 x 2
        let y = last_dim_linear(&x, m.clone(), 3, 2).unwrap();
        let xv = x.to_vec();
        let want: Vec<f32> = (0..2)
            .flat_map(|r| {
                let xv = &xv;
                let m = &m;
                (0..2).map(move |c| (0..3).map(|k| xv[r * 3 + k] * m[k * 2 + c]).sum::<f32>())
            })
            .collect();
        assert_eq!(y.shape(), &[2, 2]);
        assert_eq!(y.to_vec(), want);
    }

    #[test]
    fn triangle_helpers_pick_the_right_entries() {
        let v: Vec<f32> = (0..18).map(|i| i as f32).collect();
        let x = DynTensor::<Cpu>::from_vec(v, &[2, 3, 3]).unwrap();
        assert_eq!(
            diag_part(&x, 2, 3).unwrap().to_vec(),
            vec![0.0, 4.0, 8.0, 9.0, 13.0, 17.0]
        );
        assert_eq!(
            strict_lower_vec(&x, 2, 3).unwrap().to_vec(),
            vec![3.0, 6.0, 7.0, 12.0, 15.0, 16.0]
        );
        let d = DynTensor::<Cpu>::from_vec(vec![-1.0; 6], &[2, 3]).unwrap();
        let t = tril_with_diag(&x, &d, 2, 3).unwrap().to_vec();
        assert_eq!(&t[..9], &[-1.0, 0.0, 0.0, 3.0, -1.0, 0.0, 6.0, 7.0, -1.0]);
    }

    #[test]
    fn matmul_abt_matches_host() {
        let a: Vec<f32> = (0..12).map(|i| (i as f32) * 0.5 - 2.0).collect();
        let bm: Vec<f32> = (0..12).map(|i| 1.0 - (i as f32) * 0.25).collect();
        let at = DynTensor::<Cpu>::from_vec(a.clone(), &[2, 2, 3]).unwrap();
        let bt = DynTensor::<Cpu>::from_vec(bm.clone(), &[2, 2, 3]).unwrap();
        let c = matmul_abt(&at, &bt, &[2], 2, 2, 3).unwrap();
        assert_eq!(c.shape(), &[2, 2, 2]);
        let cv = c.to_vec();
        for b in 0..2 {
            let a64: Vec<f64> = a[b * 6..b * 6 + 6].iter().map(|&x| x as f64).collect();
            let b64: Vec<f64> = bm[b * 6..b * 6 + 6].iter().map(|&x| x as f64).collect();
            let bt64 = crate::linalg::transpose_host(&b64, 2, 3);
            let want = crate::linalg::matmul_host(&a64, &bt64, 2, 3, 2);
            for k in 0..4 {
                assert!((cv[b * 4 + k] as f64 - want[k]).abs() < 1e-5);
            }
        }
    }
}
