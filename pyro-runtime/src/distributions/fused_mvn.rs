//! Host kernels for the multivariate normal with one scale matrix (see
//! [`crate::tensor::op`]): the density and the reparameterized draw as one node each,
//! in place of the triangular-solve and matrix-product chains. The density follows
//! `MultivariateNormal::log_prob`'s formula step by step (the same `f64` forward
//! substitution, the same `f32` sums), so its values are unchanged.

use super::HALF_LN_2PI;
use crate::linalg::{forward_subst, LinalgError};
use crate::tensor::op::host_custom;
use crate::tensor::{Backend, DynTensor};

const OP: &str = "solve_triangular_lower";

/// `log N(x | loc, L Lᵀ)` for rows `x: [..., n]`, `loc: [n]` and one `L: [n, n]` (only its
/// lower triangle is read), shape `x.shape()[..-1]`. `None` for other layouts.
pub(crate) fn mvn_log_prob<D: Backend>(
    x: &DynTensor<D>,
    loc: &DynTensor<D>,
    l: &DynTensor<D>,
) -> Option<Result<DynTensor<D>, LinalgError>> {
    let (&n, batch) = x.shape().split_last()?;
    if loc.shape() != [n] || l.shape() != [n, n] || n == 0 {
        return None;
    }
    let c = -(n as f32) * HALF_LN_2PI;
    Some(host_custom(
        [x, loc, l],
        batch,
        |[xv, mu, lv]| {
            let lh = lower_f64(lv, n)?;
            let rows = xv.len() / n;
            let mut z = vec![0.0f64; rows * n];
            let mut r = vec![0.0f64; n];
            let half_log_det: f32 = (0..n).map(|i| lv[i * n + i].ln()).sum();
            let mut out = Vec::with_capacity(rows);
            for (row, zr) in z.chunks_mut(n).enumerate() {
                for (j, rj) in r.iter_mut().enumerate() {
                    *rj = (xv[row * n + j] - mu[j]) as f64;
                }
                forward_subst(&lh, &r, n, zr);
                if zr.iter().any(|v| !(*v as f32).is_finite()) {
                    return Err(LinalgError::NotFinite { op: OP, index: 0 });
                }
                let maha: f32 = zr.iter().map(|&v| (v as f32) * (v as f32)).sum();
                out.push((maha * -0.5 - half_log_det) + c);
            }
            // w = L⁻ᵀ z per row: the gradient of -|z|²/2 is -w for x, w for loc, w zᵀ for L.
            let mut w = vec![0.0f64; rows * n];
            for (zr, wr) in z.chunks(n).zip(w.chunks_mut(n)) {
                back_subst_transposed(&lh, zr, n, wr);
            }
            Ok((out.into(), (z, w, lh)))
        },
        move |(z, w, lh), _, i, g_out, g_in| {
            for (row, &g) in g_out.iter().enumerate() {
                let (zr, wr) = (&z[row * n..(row + 1) * n], &w[row * n..(row + 1) * n]);
                let g = g as f64;
                match i {
                    0 => {
                        for (gi, wj) in g_in[row * n..(row + 1) * n].iter_mut().zip(wr) {
                            *gi += (-g * wj) as f32;
                        }
                    }
                    1 => {
                        for (gi, wj) in g_in.iter_mut().zip(wr) {
                            *gi += (g * wj) as f32;
                        }
                    }
                    _ => {
                        for a in 0..n {
                            for b in 0..=a {
                                g_in[a * n + b] += (g * wr[a] * zr[b]) as f32;
                            }
                            g_in[a * n + a] -= (g / lh[a * n + a]) as f32;
                        }
                    }
                }
            }
        },
    ))
}

/// `L eps + loc` for host noise `eps: [n]`, `loc: [n]`, `L: [n, n]` (the whole matrix, as
/// the matrix-vector product reads it). `None` for other layouts.
pub(crate) fn mvn_draw<D: Backend>(
    eps: Vec<f32>,
    loc: &DynTensor<D>,
    l: &DynTensor<D>,
) -> Option<DynTensor<D>> {
    let n = eps.len();
    if loc.shape() != [n] || l.shape() != [n, n] {
        return None;
    }
    let r = host_custom(
        [l, loc],
        &[n],
        |[lv, mu]| {
            let out = (0..n)
                .map(|i| {
                    let s: f32 = (0..n).map(|j| lv[i * n + j] * eps[j]).sum();
                    s + mu[i]
                })
                .collect();
            Ok::<_, crate::tensor::TensorError>((out, eps))
        },
        move |eps, _, i, g_out, g_in| {
            if i == 0 {
                for (a, g) in g_out.iter().enumerate() {
                    for (b, e) in eps.iter().enumerate() {
                        g_in[a * n + b] += g * e;
                    }
                }
            } else {
                for (gi, g) in g_in.iter_mut().zip(g_out) {
                    *gi += g;
                }
            }
        },
    );
    r.ok()
}

/// The draw `L eps + loc` (as [`mvn_draw`]) together with its log-density
/// `-|eps|²/2 - Σ ln L_ii - n ln √(2π)`: for a lower-triangular `L`, `L⁻¹(x - loc)` is `eps`
/// itself, so no solve is needed. The density node depends on `L` only; its gradient is the
/// total derivative through the draw: `-1/L_ii` on the diagonal, zero below it, and
/// `-w_a eps_b` above it (`w = L⁻ᵀ eps`; the draw reads the whole matrix, the density only
/// its lower triangle). `draw(n)` gives the noise; it is not called (and `None` returned) off
/// the CPU, for other layouts, or when `L` has a nonzero entry above the diagonal.
#[allow(clippy::type_complexity)]
pub(crate) fn mvn_draw_with_log_prob<D: Backend>(
    loc: &DynTensor<D>,
    l: &DynTensor<D>,
    draw: impl FnOnce(usize) -> Vec<f32>,
) -> Option<Result<(DynTensor<D>, DynTensor<D>), LinalgError>> {
    let &[n] = loc.shape() else {
        return None;
    };
    if l.shape() != [n, n] || n == 0 {
        return None;
    }
    let lv = l.to_vec();
    if (0..n).any(|a| (a + 1..n).any(|b| lv[a * n + b] != 0.0)) {
        return None;
    }
    let eps = draw(n);
    let c = -(n as f32) * HALF_LN_2PI;
    let noise = eps.clone();
    let lp = host_custom(
        [l],
        &[],
        |[lv]| {
            if (0..n).any(|i| lv[i * n + i] == 0.0 || !lv[i * n + i].is_finite()) {
                return Err(LinalgError::Singular { op: OP, index: 0 });
            }
            let half_log_det: f32 = (0..n).map(|i| lv[i * n + i].ln()).sum();
            let maha: f32 = noise.iter().map(|e| e * e).sum();
            Ok((vec![(maha * -0.5 - half_log_det) + c].into(), noise))
        },
        move |eps, [lv], _, g_out, g_in| {
            let g = g_out[0] as f64;
            // w = L⁻ᵀ eps, by back substitution with the lower triangle.
            let mut w = vec![0.0f64; n];
            for i in (0..n).rev() {
                let mut s = eps[i] as f64;
                for k in i + 1..n {
                    s -= lv[k * n + i] as f64 * w[k];
                }
                w[i] = s / lv[i * n + i] as f64;
            }
            for a in 0..n {
                g_in[a * n + a] -= (g / lv[a * n + a] as f64) as f32;
                for b in a + 1..n {
                    g_in[a * n + b] -= (g * w[a] * eps[b] as f64) as f32;
                }
            }
        },
    );
    let x = mvn_draw(eps, loc, l)?;
    Some(lp.map(|lp| (x, lp)))
}

/// The lower triangle of `L` in `f64`; a zero or non-finite diagonal is singular.
fn lower_f64(lv: &[f32], n: usize) -> Result<Vec<f64>, LinalgError> {
    let mut m = vec![0.0f64; n * n];
    for i in 0..n {
        for j in 0..=i {
            m[i * n + j] = lv[i * n + j] as f64;
        }
        let d = m[i * n + i];
        if d == 0.0 || !d.is_finite() {
            return Err(LinalgError::Singular { op: OP, index: 0 });
        }
    }
    Ok(m)
}

/// Solves `Lᵀ w = z` (back substitution with the transpose of lower-triangular `L`).
fn back_subst_transposed(l: &[f64], z: &[f64], n: usize, w: &mut [f64]) {
    for i in (0..n).rev() {
        let mut s = z[i];
        for k in i + 1..n {
            s -= l[k * n + i] * w[k];
        }
        w[i] = s / l[i * n + i];
    }
}

#[cfg(test)]
mod tests {
    use dfdx::prelude::Cpu;

    use super::*;
    use crate::linalg;
    use crate::tensor::GradScope;

    fn t(v: &[f32], s: &[usize]) -> DynTensor<Cpu> {
        DynTensor::from_vec(v.to_vec(), s).unwrap()
    }

    const L: [f32; 9] = [1.5, 0.0, 0.0, -0.8, 0.6, 0.0, 0.3, 1.1, 0.4];
    const LOC: [f32; 3] = [1.0, -2.0, 0.5];

    /// The tensor-op formula of `MultivariateNormal::log_prob` (the path of other backends).
    fn chain(x: &DynTensor<Cpu>, loc: &DynTensor<Cpu>, l: &DynTensor<Cpu>) -> DynTensor<Cpu> {
        let z = linalg::solve_triangular_lower_vec(l, &x.sub(loc).unwrap()).unwrap();
        let hld = linalg::diagonal(l).unwrap().ln().sum_rightmost(1).unwrap();
        z.square()
            .sum_rightmost(1)
            .unwrap()
            .mul_scalar(-0.5)
            .sub(&hld)
            .unwrap()
            .add_scalar(-3.0 * HALF_LN_2PI)
    }

    /// `Σ_r (r + 1) f_r` and its gradient w.r.t. the inputs.
    fn grads(
        ins: &[DynTensor<Cpu>],
        f: impl Fn(&[DynTensor<Cpu>]) -> DynTensor<Cpu>,
    ) -> (f64, Vec<Vec<f32>>) {
        let scope = GradScope::<Cpu>::open();
        let out = f(ins);
        let w: Vec<f32> = (1..=out.numel()).map(|k| k as f32).collect();
        let loss = out.mul(&t(&w, out.shape())).unwrap().sum();
        let v = loss.item().unwrap() as f64;
        let g = scope.backward(&loss).unwrap();
        (v, ins.iter().map(|x| g.get_or_zeros(x).to_vec()).collect())
    }

    #[test]
    fn log_prob_equals_the_tensor_formula_and_its_gradients() {
        for x in [
            t(&[0.4, -1.0, 2.0], &[3]),
            t(&[0.4, -1.0, 2.0, 1.5, 0.0, -0.7], &[2, 3]),
        ] {
            let ins = [x.clone(), t(&LOC, &[3]), t(&L, &[3, 3])];
            let fused = |i: &[DynTensor<Cpu>]| mvn_log_prob(&i[0], &i[1], &i[2]).unwrap().unwrap();
            let (_, g) = grads(&ins, fused);
            let (_, g_chain) = grads(&ins, |i| chain(&i[0], &i[1], &i[2]));
            assert_eq!(
                fused(&ins).to_vec(),
                chain(&ins[0], &ins[1], &ins[2]).to_vec()
            );
            assert_eq!(fused(&ins).shape(), &x.shape()[..x.rank() - 1]);
            for (a, b) in g.iter().zip(&g_chain) {
                for (p, q) in a.iter().zip(b) {
                    assert!((p - q).abs() <= 1e-4 * q.abs().max(1.0), "{a:?} vs {b:?}");
                }
            }
            // And against central differences (lower triangle of L only).
            for (k, base) in ins.iter().enumerate() {
                let v = base.to_vec();
                for j in 0..v.len() {
                    if k == 2 && j % 3 > j / 3 {
                        continue;
                    }
                    let h = 1e-2 * v[j].abs().max(0.1);
                    let at = |d: f32| {
                        let mut ins2 = ins.clone();
                        let mut w = v.clone();
                        w[j] += d;
                        ins2[k] = t(&w, base.shape());
                        grads(&ins2, fused).0
                    };
                    let fd = (at(h) - at(-h)) / (2.0 * h as f64);
                    let a = g[k][j] as f64;
                    assert!(
                        (a - fd).abs() <= 2e-3 * fd.abs().max(1.0),
                        "input {k}[{j}]: {a} vs {fd}"
                    );
                }
            }
        }
    }

    #[test]
    fn singular_scale_is_an_error_and_other_layouts_fall_back() {
        let mut l = L;
        l[4] = 0.0;
        let r = mvn_log_prob(&t(&[0.0; 3], &[3]), &t(&LOC, &[3]), &t(&l, &[3, 3]));
        assert!(matches!(r, Some(Err(LinalgError::Singular { .. }))));
        let batched = t(&[L, L].concat(), &[2, 3, 3]);
        assert!(mvn_log_prob(&t(&[0.0; 3], &[3]), &t(&LOC, &[3]), &batched).is_none());
    }

    #[test]
    fn draw_matches_the_matrix_product_and_its_gradients() {
        let eps = vec![0.3f32, -1.2, 0.8];
        let ins = [t(&LOC, &[3]), t(&L, &[3, 3])];
        let fused = |i: &[DynTensor<Cpu>]| mvn_draw(eps.clone(), &i[0], &i[1]).unwrap();
        let product = |i: &[DynTensor<Cpu>]| {
            linalg::matvec(&i[1], &t(&eps, &[3]))
                .unwrap()
                .add(&i[0])
                .unwrap()
        };
        for (a, b) in fused(&ins).to_vec().iter().zip(product(&ins).to_vec()) {
            assert!((a - b).abs() <= 1e-6 * b.abs().max(1.0));
        }
        let (_, g) = grads(&ins, fused);
        // d/dloc_a = w_a, d/dL_ab = w_a eps_b with w = (1, 2, 3).
        assert_eq!(g[0], vec![1.0, 2.0, 3.0]);
        for a in 0..3 {
            for b in 0..3 {
                assert!((g[1][a * 3 + b] - (a + 1) as f32 * eps[b]).abs() < 1e-6);
            }
        }
    }

    /// The fused density of a draw equals the density of the draw, and its gradient w.r.t.
    /// `loc` and every entry of `L` (above the diagonal too: the draw reads them) is the total
    /// derivative of `log N(L eps + loc | loc, L Lᵀ)`, checked against the unfused chain.
    #[test]
    fn draw_with_log_prob_is_the_density_of_the_draw_and_its_total_derivative() {
        let eps = vec![0.3f32, -1.2, 0.8];
        let ins = [t(&LOC, &[3]), t(&L, &[3, 3])];
        let pair = |i: &[DynTensor<Cpu>]| {
            mvn_draw_with_log_prob(&i[0], &i[1], |n| {
                assert_eq!(n, 3);
                eps.clone()
            })
            .unwrap()
            .unwrap()
        };
        let unfused = |i: &[DynTensor<Cpu>]| {
            let x = mvn_draw(eps.clone(), &i[0], &i[1]).unwrap();
            mvn_log_prob(&x, &i[0], &i[1]).unwrap().unwrap()
        };
        let (x, lp) = pair(&ins);
        assert_eq!(
            x.to_vec(),
            mvn_draw(eps.clone(), &ins[0], &ins[1]).unwrap().to_vec()
        );
        let (v, g) = grads(&ins, |i| pair(i).1);
        let (v_chain, g_chain) = grads(&ins, unfused);
        assert!(
            (v - v_chain).abs() <= 1e-5 * v_chain.abs(),
            "{v} vs {v_chain}"
        );
        assert_eq!(lp.shape(), &[] as &[usize]);
        for (a, b) in g.iter().zip(&g_chain) {
            for (p, q) in a.iter().zip(b) {
                assert!((p - q).abs() <= 1e-4 * q.abs().max(1.0), "{a:?} vs {b:?}");
            }
        }
        assert!(
            g_chain[1][1] != 0.0,
            "an entry above the diagonal has a gradient"
        );
        // A matrix that is not lower triangular is left to the unfused path, noise untouched.
        let mut full = L;
        full[1] = 0.5;
        let r = mvn_draw_with_log_prob(&ins[0], &t(&full, &[3, 3]), |_| -> Vec<f32> {
            panic!("no noise may be drawn")
        });
        assert!(r.is_none());
    }
}
