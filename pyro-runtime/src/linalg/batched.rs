//! Batched matrix helpers on differentiable tensors (transpose, diagonal, products), and the
//! products with host constants that the linearised operations are built from.
//!
//! A matrix operand has shape `[..., rows, cols]`; leading (batch) dims broadcast.

use super::error::{LinalgError, LinalgResult};
use crate::tensor::{broadcast_shapes, numel, Backend, DynTensor};

/// Splits `[..., r, c]` into `(batch dims, r, c)`.
pub(crate) fn mat_dims(
    op: &'static str,
    what: &'static str,
    shape: &[usize],
) -> LinalgResult<(Vec<usize>, usize, usize)> {
    match shape {
        [batch @ .., r, c] => Ok((batch.to_vec(), *r, *c)),
        _ => Err(LinalgError::Shape {
            op,
            what,
            shape: shape.to_vec(),
            expected: "[..., rows, cols]".into(),
        }),
    }
}

/// Splits `[..., n, n]` into `(batch dims, n)`, requiring a square matrix.
pub(crate) fn square_dims(
    op: &'static str,
    what: &'static str,
    shape: &[usize],
) -> LinalgResult<(Vec<usize>, usize)> {
    let (batch, r, c) = mat_dims(op, what, shape)?;
    if r != c {
        return Err(LinalgError::Shape {
            op,
            what,
            shape: shape.to_vec(),
            expected: "[..., n, n] (square)".into(),
        });
    }
    Ok((batch, r))
}

fn with_last2(batch: &[usize], r: usize, c: usize) -> Vec<usize> {
    let mut s = batch.to_vec();
    s.push(r);
    s.push(c);
    s
}

/// Transpose of the last two dims, `[..., r, c] -> [..., c, r]` (differentiable).
///
/// ```
/// use pyro::tensor::DynTensor;
/// let a = DynTensor::<dfdx::prelude::Cpu>::from_vec((0..6).map(|x| x as f32).collect(), &[1, 2, 3]).unwrap();
/// let t = pyro::linalg::transpose(&a).unwrap();
/// assert_eq!(t.shape(), &[1, 3, 2]);
/// assert_eq!(t.to_vec(), vec![0.0, 3.0, 1.0, 4.0, 2.0, 5.0]);
/// ```
pub fn transpose<D: Backend>(x: &DynTensor<D>) -> LinalgResult<DynTensor<D>> {
    let (batch, r, c) = mat_dims("transpose", "input", x.shape())?;
    let b = numel(&batch);
    let idx = (0..b)
        .flat_map(|m| (0..c).flat_map(move |j| (0..r).map(move |i| (m * r + i) * c + j)))
        .collect();
    Ok(x.gather_flat(idx, &with_last2(&batch, c, r))?)
}

/// The diagonal of square matrices, `[..., n, n] -> [..., n]` (differentiable).
///
/// ```
/// use pyro::tensor::DynTensor;
/// let a = DynTensor::<dfdx::prelude::Cpu>::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]).unwrap();
/// assert_eq!(pyro::linalg::diagonal(&a).unwrap().to_vec(), vec![1.0, 4.0]);
/// ```
pub fn diagonal<D: Backend>(x: &DynTensor<D>) -> LinalgResult<DynTensor<D>> {
    let (batch, n) = square_dims("diagonal", "input", x.shape())?;
    let b = numel(&batch);
    let idx: Vec<usize> = (0..b)
        .flat_map(|k| (0..n).map(move |i| k * n * n + i * n + i))
        .collect();
    let mut shape = batch;
    shape.push(n);
    Ok(x.gather_flat(idx, &shape)?)
}

/// Square matrices with `v` on the diagonal, `[..., n] -> [..., n, n]` (differentiable).
///
/// ```
/// use pyro::tensor::DynTensor;
/// let v = DynTensor::<dfdx::prelude::Cpu>::from_vec(vec![2.0, 3.0], &[2]).unwrap();
/// let m = pyro::linalg::diag_embed(&v).unwrap();
/// assert_eq!(m.to_vec(), vec![2.0, 0.0, 0.0, 3.0]);
/// ```
pub fn diag_embed<D: Backend>(v: &DynTensor<D>) -> LinalgResult<DynTensor<D>> {
    let Some((&n, batch)) = v.shape().split_last() else {
        return Err(LinalgError::Shape {
            op: "diag_embed",
            what: "input",
            shape: vec![],
            expected: "[..., n]".into(),
        });
    };
    let mut eye = vec![0.0f32; n * n];
    for i in 0..n {
        eye[i * n + i] = 1.0;
    }
    let eye = DynTensor::<D>::from_vec(eye, &[n, n])?;
    let col = v.reshape(&with_last2(batch, n, 1))?;
    Ok(col.mul(&eye)?)
}

/// Batched matrix product `[..., m, k] x [..., k, n] -> [..., m, n]`; batch dims broadcast and
/// both operands are differentiable.
///
/// ```
/// use pyro::tensor::DynTensor;
/// let a = DynTensor::<dfdx::prelude::Cpu>::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[1, 2, 2]).unwrap();
/// let b = DynTensor::<dfdx::prelude::Cpu>::from_vec(vec![1.0, 0.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0], &[2, 2, 2]).unwrap();
/// let c = pyro::linalg::matmul(&a, &b).unwrap();
/// assert_eq!(c.shape(), &[2, 2, 2]);
/// assert_eq!(c.to_vec(), vec![1.0, 2.0, 3.0, 4.0, 2.0, 1.0, 4.0, 3.0]);
/// ```
pub fn matmul<D: Backend>(a: &DynTensor<D>, b: &DynTensor<D>) -> LinalgResult<DynTensor<D>> {
    let (ba, m, k) = mat_dims("matmul", "lhs", a.shape())?;
    let (bb, k2, n) = mat_dims("matmul", "rhs", b.shape())?;
    if k != k2 {
        return Err(LinalgError::Shape {
            op: "matmul",
            what: "rhs",
            shape: b.shape().to_vec(),
            expected: format!("[..., {k}, n] to match lhs {:?}", a.shape()),
        });
    }
    if bb.is_empty() {
        return Ok(a.matmul(b)?);
    }
    if ba.is_empty() {
        // (Bᵀ Aᵀ)ᵀ with a shared left factor.
        let bt = transpose(b)?;
        let at = a.t()?;
        return transpose(&bt.matmul(&at)?);
    }
    let batch = broadcast_shapes(&ba, &bb).ok_or_else(|| LinalgError::Shape {
        op: "matmul",
        what: "rhs",
        shape: b.shape().to_vec(),
        expected: format!("batch dims broadcastable with lhs {:?}", a.shape()),
    })?;
    let nb = numel(&batch);
    let a3 = a
        .broadcast_to(&with_last2(&batch, m, k))?
        .reshape(&[nb, m, k])?;
    let b3 = b
        .broadcast_to(&with_last2(&batch, k, n))?
        .reshape(&[nb, k, n])?;
    Ok(a3.bmm(&b3)?.reshape(&with_last2(&batch, m, n))?)
}

/// Batched matrix-vector product `[..., m, k] x [..., k] -> [..., m]` (batch dims broadcast).
///
/// ```
/// use pyro::tensor::DynTensor;
/// let a = DynTensor::<dfdx::prelude::Cpu>::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]).unwrap();
/// let v = DynTensor::<dfdx::prelude::Cpu>::from_vec(vec![1.0, 1.0, 0.0, 1.0], &[2, 2]).unwrap();
/// assert_eq!(pyro::linalg::matvec(&a, &v).unwrap().to_vec(), vec![3.0, 7.0, 2.0, 4.0]);
/// ```
pub fn matvec<D: Backend>(a: &DynTensor<D>, v: &DynTensor<D>) -> LinalgResult<DynTensor<D>> {
    let (ba, m, k) = mat_dims("matvec", "matrix", a.shape())?;
    let Some((&k2, vb)) = v.shape().split_last() else {
        return Err(LinalgError::Shape {
            op: "matvec",
            what: "vector",
            shape: vec![],
            expected: format!("[..., {k}]"),
        });
    };
    if k != k2 {
        return Err(LinalgError::Shape {
            op: "matvec",
            what: "vector",
            shape: v.shape().to_vec(),
            expected: format!("[..., {k}] to match the matrix {:?}", a.shape()),
        });
    }
    if ba.is_empty() {
        // Rows times Aᵀ.
        let rows = v.reshape(&[numel(vb), k])?;
        let mut out_shape = vb.to_vec();
        out_shape.push(m);
        return Ok(rows.matmul(&a.t()?)?.reshape(&out_shape)?);
    }
    let batch = broadcast_shapes(&ba, vb).ok_or_else(|| LinalgError::Shape {
        op: "matvec",
        what: "vector",
        shape: v.shape().to_vec(),
        expected: format!("batch dims broadcastable with the matrix {:?}", a.shape()),
    })?;
    let (na, nf) = (numel(&ba), numel(&batch));
    if na * 8 <= nf {
        // Few matrices, many vectors: one product per distinct matrix.
        return matvec_grouped(a, v, &ba, &batch, m, k);
    }
    let col = v.reshape(&with_last2(vb, k, 1))?;
    let out = matmul(a, &col)?;
    let mut shape = out.shape().to_vec();
    shape.pop();
    Ok(out.reshape(&shape)?)
}

/// [`matvec`] for `na` matrices shared by many vectors: the vectors that use matrix `i` are
/// gathered into the rows of one matrix, multiplied by `Aᵢᵀ`, and scattered back in order.
fn matvec_grouped<D: Backend>(
    a: &DynTensor<D>,
    v: &DynTensor<D>,
    ba: &[usize],
    batch: &[usize],
    m: usize,
    k: usize,
) -> LinalgResult<DynTensor<D>> {
    let nf = numel(batch);
    let mut vs = batch.to_vec();
    vs.push(k);
    let v = v.broadcast_to(&vs)?;
    let which = broadcast_index(ba, batch);
    let mut groups: Vec<Vec<usize>> = vec![Vec::new(); numel(ba)];
    for (f, &i) in which.iter().enumerate() {
        groups[i].push(f);
    }
    let mut parts = Vec::with_capacity(groups.len());
    let mut position = vec![0usize; nf]; // where row f lands in the concatenation
    let mut next = 0;
    for (i, rows) in groups.iter().enumerate() {
        if rows.is_empty() {
            continue;
        }
        let idx: Vec<usize> = rows
            .iter()
            .flat_map(|&f| (f * k..(f + 1) * k).collect::<Vec<_>>())
            .collect();
        let vi = v.gather_flat(idx, &[rows.len(), k])?;
        let ai = a.gather_flat((i * m * k..(i + 1) * m * k).collect(), &[m, k])?;
        parts.push(vi.matmul(&ai.t()?)?);
        for &f in rows {
            position[f] = next;
            next += 1;
        }
    }
    let cat = DynTensor::cat_flat(&parts)?;
    let order: Vec<usize> = position
        .iter()
        .flat_map(|&p| (p * m..(p + 1) * m).collect::<Vec<_>>())
        .collect();
    let mut shape = batch.to_vec();
    shape.push(m);
    Ok(cat.gather_flat(order, &shape)?)
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

// ----- products with host constants -------------------------------------------------------

/// A batch of constant matrices held on the host in `f64`: `batch` matrices of
/// `rows x cols`, row-major; `batch == 1` means one matrix shared by every batch element.
#[derive(Debug, Clone)]
pub(crate) struct HostMats {
    pub data: Vec<f64>,
    pub batch: usize,
    pub rows: usize,
    pub cols: usize,
}

impl HostMats {
    /// The transposes.
    pub fn t(&self) -> HostMats {
        let (r, c) = (self.rows, self.cols);
        let mut data = Vec::with_capacity(self.data.len());
        for m in self.data.chunks(r * c) {
            data.extend(super::transpose_host(m, r, c));
        }
        HostMats {
            data,
            batch: self.batch,
            rows: c,
            cols: r,
        }
    }

    fn f32(&self) -> Vec<f32> {
        self.data.iter().map(|&x| x as f32).collect()
    }
}

/// `x C` for a differentiable `x` of shape `[..., k]`-rows and constants `C` (`k x n`):
/// shared `C` multiplies every row of `x` (any leading shape); a batch of `B` constants
/// multiplies `x` of shape `[B, m, k]` element by element.
pub(crate) fn mul_const_right<D: Backend>(
    x: &DynTensor<D>,
    c: &HostMats,
) -> LinalgResult<DynTensor<D>> {
    let (k, n) = (c.rows, c.cols);
    let xs = x.shape().to_vec();
    let bad = || LinalgError::Shape {
        op: "mul_const_right",
        what: "input",
        shape: xs.clone(),
        expected: format!("[{}, m, {k}]", c.batch),
    };
    if xs.last() != Some(&k) {
        return Err(bad());
    }
    let mut shape = xs.clone();
    *shape.last_mut().expect("checked non-empty") = n;
    if c.batch == 1 {
        let rows = x.numel() / k.max(1);
        let cm = DynTensor::from_vec(c.f32(), &[k, n])?.with_constant(true);
        return Ok(x.reshape(&[rows, k])?.matmul(&cm)?.reshape(&shape)?);
    }
    if xs.len() != 3 || xs[0] != c.batch {
        return Err(bad());
    }
    let cm = DynTensor::from_vec(c.f32(), &[c.batch, k, n])?.with_constant(true);
    Ok(x.bmm(&cm)?)
}

/// `C x` for constants `C` (`m x k`, shared or one per batch element) and a differentiable
/// `x` of shape `[..., k, n]` (`[B, k, n]` for a batch of constants): `(xᵀ Cᵀ)ᵀ`.
pub(crate) fn mul_const_left<D: Backend>(
    c: &HostMats,
    x: &DynTensor<D>,
) -> LinalgResult<DynTensor<D>> {
    let xt = transpose(x)?;
    transpose(&mul_const_right(&xt, &c.t())?)
}

/// A constant (a leaf without a gradient path of interest) from `f64` host values.
pub(crate) fn constant<D: Backend>(values: &[f64], shape: &[usize]) -> LinalgResult<DynTensor<D>> {
    Ok(DynTensor::from_vec(values.iter().map(|&x| x as f32).collect(), shape)?.with_constant(true))
}

/// `x - detach(x)`: zero-valued, with the identity as its derivative (the displacement from
/// the evaluation point in the linearisation trick).
pub(crate) fn displacement<D: Backend>(x: &DynTensor<D>) -> LinalgResult<DynTensor<D>> {
    Ok(x.sub(&x.detach())?)
}

/// The constant `n x n` mask with `below` under the diagonal, `diag` on it, 0 above.
pub(crate) fn tri_mask<D: Backend>(n: usize, below: f32, diag: f32) -> LinalgResult<DynTensor<D>> {
    let mut m = vec![0.0f32; n * n];
    for i in 0..n {
        for j in 0..i {
            m[i * n + j] = below;
        }
        m[i * n + i] = diag;
    }
    Ok(DynTensor::from_vec(m, &[n, n])?)
}

#[cfg(test)]
#[allow(clippy::needless_range_loop)] // index-heavy numeric checks
mod tests {
    use super::*;
    use crate::linalg::test_util::*;
    use dfdx::prelude::Cpu;

    #[test]
    fn matmul_matches_host_and_broadcasts() {
        let mut rng = seeded(1);
        for (sa, sb) in [
            (vec![3, 2], vec![2, 4]),
            (vec![2, 3, 2], vec![2, 4]),
            (vec![3, 2], vec![5, 2, 4]),
            (vec![5, 3, 2], vec![5, 2, 4]),
            (vec![1, 3, 2], vec![5, 2, 4]),
        ] {
            let a = random_tensor(&mut rng, &sa);
            let b = random_tensor(&mut rng, &sb);
            let c = matmul(&a, &b).unwrap();
            let (ba, m, k) = mat_dims("t", "a", &sa).unwrap();
            let (bb, _, n) = mat_dims("t", "b", &sb).unwrap();
            let batch = broadcast_shapes(&ba, &bb).unwrap();
            assert_eq!(c.shape(), &with_last2(&batch, m, n)[..]);
            let av = a.broadcast_to(&with_last2(&batch, m, k)).unwrap().to_vec();
            let bv = b.broadcast_to(&with_last2(&batch, k, n)).unwrap().to_vec();
            let cv = c.to_vec();
            for i in 0..numel(&batch) {
                let want = crate::linalg::matmul_host(
                    &f64s(&av[i * m * k..(i + 1) * m * k]),
                    &f64s(&bv[i * k * n..(i + 1) * k * n]),
                    m,
                    k,
                    n,
                );
                assert_close(&cv[i * m * n..(i + 1) * m * n], &want, 1e-5);
            }
        }
    }

    #[test]
    fn matmul_gradients_match_finite_differences() {
        let mut rng = seeded(2);
        let a = random_tensor(&mut rng, &[2, 3, 2]);
        let b = random_tensor(&mut rng, &[2, 4]);
        let w = random_host(&mut rng, 2 * 3 * 4);
        check_grads(&[a, b], |x| {
            let c = matmul(&x[0], &x[1]).unwrap();
            weighted_sum(&c, &w)
        });
    }

    #[test]
    fn transpose_diagonal_embed_and_matvec() {
        let mut rng = seeded(3);
        let a = random_tensor(&mut rng, &[2, 3, 3]);
        let v = random_tensor(&mut rng, &[4, 1, 3]);
        let av = a.to_vec();
        let t = transpose(&a).unwrap().to_vec();
        let d = diagonal(&a).unwrap().to_vec();
        for b in 0..2 {
            for i in 0..3 {
                for j in 0..3 {
                    assert_eq!(t[b * 9 + i * 3 + j], av[b * 9 + j * 3 + i]);
                }
                assert_eq!(d[b * 3 + i], av[b * 9 + i * 4]);
            }
        }
        let e = diag_embed(&diagonal(&a).unwrap()).unwrap().to_vec();
        for b in 0..2 {
            for i in 0..3 {
                for j in 0..3 {
                    let want = if i == j { av[b * 9 + i * 4] } else { 0.0 };
                    assert_eq!(e[b * 9 + i * 3 + j], want);
                }
            }
        }
        let mv = matvec(&a, &v).unwrap();
        assert_eq!(mv.shape(), &[4, 2, 3]);
        let vv = v.to_vec();
        let got = mv.to_vec();
        for s in 0..4 {
            for b in 0..2 {
                let want = crate::linalg::matmul_host(
                    &f64s(&av[b * 9..b * 9 + 9]),
                    &f64s(&vv[s * 3..s * 3 + 3]),
                    3,
                    3,
                    1,
                );
                assert_close(&got[(s * 2 + b) * 3..(s * 2 + b) * 3 + 3], &want, 1e-5);
            }
        }
        // Unbatched matrix, batched vectors.
        let a2 = random_tensor(&mut rng, &[3, 3]);
        let mv2 = matvec(&a2, &v).unwrap();
        assert_eq!(mv2.shape(), &[4, 1, 3]);
        let a2v = a2.to_vec();
        let got2 = mv2.to_vec();
        for s in 0..4 {
            let want =
                crate::linalg::matmul_host(&f64s(&a2v), &f64s(&vv[s * 3..s * 3 + 3]), 3, 3, 1);
            assert_close(&got2[s * 3..s * 3 + 3], &want, 1e-5);
        }
    }

    /// Few matrices shared by many vectors (the grouped path), values and gradients.
    #[test]
    fn matvec_with_shared_matrices() {
        let mut rng = seeded(4);
        let a = random_tensor(&mut rng, &[2, 1, 3, 2]);
        let v = random_tensor(&mut rng, &[5, 2, 4, 2]);
        let mv = matvec(&a, &v).unwrap();
        assert_eq!(mv.shape(), &[5, 2, 4, 3]);
        let (av, vv, got) = (a.to_vec(), v.to_vec(), mv.to_vec());
        for s in 0..5 {
            for b in 0..2 {
                for j in 0..4 {
                    let f = (s * 2 + b) * 4 + j;
                    let want = crate::linalg::matmul_host(
                        &f64s(&av[b * 6..b * 6 + 6]),
                        &f64s(&vv[f * 2..f * 2 + 2]),
                        3,
                        2,
                        1,
                    );
                    assert_close(&got[f * 3..f * 3 + 3], &want, 1e-5);
                }
            }
        }
        let w = random_host(&mut rng, 5 * 2 * 4 * 3);
        check_grads(&[a, v], |x| {
            weighted_sum(&matvec(&x[0], &x[1]).unwrap(), &w)
        });
    }

    #[test]
    fn shape_errors_are_typed() {
        let a = DynTensor::<Cpu>::zeros(&[2, 3]);
        let b = DynTensor::<Cpu>::zeros(&[2, 3]);
        assert!(matches!(
            matmul(&a, &b),
            Err(LinalgError::Shape { what: "rhs", .. })
        ));
        assert!(matches!(
            diagonal(&a),
            Err(LinalgError::Shape { what: "input", .. })
        ));
        assert!(matvec(&a, &DynTensor::zeros(&[2])).is_err());
        assert!(transpose(&DynTensor::<Cpu>::zeros(&[3])).is_err());
    }
}
