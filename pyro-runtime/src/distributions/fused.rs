//! Host kernels for the hottest distribution computations (see
//! [`crate::tensor::op`]): each replaces a chain of tensor operations by one node with
//! the same `f32` arithmetic, so values are unchanged. Off the CPU, callers use their
//! tensor-op formulas.

use super::HALF_LN_2PI;
use crate::tensor::op::{accumulate, host_custom, host_kernel, Arg, Vals};
use crate::tensor::TensorResult;
use crate::tensor::{Backend, DynTensor};

/// `log N(x | loc, scale)` elementwise: `-((x - loc) / scale)² / 2 - ln scale - ln √(2π)`,
/// evaluated in the order of `Normal::log_prob`'s tensor formula. `None` for other layouts.
pub(crate) fn normal_log_prob<D: Backend>(
    x: &DynTensor<D>,
    loc: &DynTensor<D>,
    scale: &DynTensor<D>,
) -> Option<TensorResult<DynTensor<D>>> {
    host_kernel(
        "Normal::log_prob",
        [x, loc, scale],
        |[x, l, s], n| {
            // A broadcast scale repeats one value: its logarithm is taken once. When a scope
            // records, `z / scale` and `1 / scale` are kept for the backward pass.
            let keep = crate::tensor::is_recording();
            if let (Arg::Full(xv), Arg::Full(lv)) = (x, l) {
                return normal_log_prob_rows(xv, lv, s, keep);
            }
            let mut out = Vals::zeros(n);
            let mut zs = if keep { Vals::zeros(n) } else { Vals::empty() };
            // `1 / scale` per element only for a full scale (a single one is inverted again
            // in the backward pass).
            let keep_inv = keep && s.is_full();
            let mut inv = if keep_inv {
                Vals::zeros(n)
            } else {
                Vals::empty()
            };
            let mut last = (f32::NAN, f32::NAN, f32::NAN);
            for k in 0..n {
                let sk = s.at(k);
                if sk.to_bits() != last.0.to_bits() {
                    last = (sk, sk.ln(), 1.0 / sk);
                }
                let z = (x.at(k) - l.at(k)) / sk;
                out.as_mut_slice()[k] = (z * z * -0.5 - last.1) + -HALF_LN_2PI;
                if keep {
                    zs.as_mut_slice()[k] = z * last.2;
                    if keep_inv {
                        inv.as_mut_slice()[k] = last.2;
                    }
                }
            }
            (out, (zs, inv))
        },
        |(zs, inv), [x, l, s], i, g_out, g_in| {
            let (zs, inv) = (zs.as_slice(), inv.as_slice());
            match i {
                // d/dx = -z/s, d/dloc = z/s, d/dscale = (z² - 1)/s = (z/s)² s - 1/s.
                0 => accumulate(x, g_in, g_out, |k| -zs[k]),
                1 => accumulate(l, g_in, g_out, |k| zs[k]),
                _ => {
                    let inv_at = |k: usize| {
                        if inv.is_empty() {
                            1.0 / s.at(k)
                        } else {
                            inv[k]
                        }
                    };
                    accumulate(s, g_in, g_out, |k| zs[k] * zs[k] * s.at(k) - inv_at(k))
                }
            }
        },
    )
}

/// The forward pass of [`normal_log_prob`] for full `x` and `loc` (an observed data set):
/// straight loops over the slices, the scale's logarithm taken once per distinct value.
fn normal_log_prob_rows(x: &[f32], l: &[f32], s: &Arg<'_>, keep: bool) -> (Vals, (Vals, Vals)) {
    match s {
        Arg::Scalar(sc) => {
            let (ln_s, inv_s) = (sc.ln(), 1.0 / sc);
            let n = x.len();
            let mut out = Vals::zeros(n);
            let mut zs = if keep { Vals::zeros(n) } else { Vals::empty() };
            for (k, o) in out.as_mut_slice().iter_mut().enumerate() {
                let z = (x[k] - l[k]) / sc;
                *o = (z * z * -0.5 - ln_s) + -HALF_LN_2PI;
                if keep {
                    zs.as_mut_slice()[k] = z * inv_s;
                }
            }
            (out, (zs, Vals::empty()))
        }
        Arg::Full(sv) => {
            // One pass; `last` caches the logarithm and reciprocal of a repeated scale.
            let n = x.len();
            let mut out = Vals::zeros(n);
            let (mut zs, mut inv) = if keep {
                (Vals::zeros(n), Vals::zeros(n))
            } else {
                (Vals::empty(), Vals::empty())
            };
            let mut last = (f32::NAN, f32::NAN, f32::NAN);
            for (k, o) in out.as_mut_slice().iter_mut().enumerate() {
                let sk = sv[k];
                if sk.to_bits() != last.0.to_bits() {
                    last = (sk, sk.ln(), 1.0 / sk);
                }
                let z = (x[k] - l[k]) / sk;
                *o = (z * z * -0.5 - last.1) + -HALF_LN_2PI;
                if keep {
                    zs.as_mut_slice()[k] = z * last.2;
                    inv.as_mut_slice()[k] = last.2;
                }
            }
            (out, (zs, inv))
        }
    }
}

/// `-ln(high - low)` elementwise (the uniform log-density inside the support), evaluated as
/// `Uniform::log_prob`'s tensor formula `neg(ln(high - low))`. `None` for other layouts.
pub(crate) fn uniform_log_density<D: Backend>(
    low: &DynTensor<D>,
    high: &DynTensor<D>,
) -> Option<TensorResult<DynTensor<D>>> {
    host_kernel(
        "Uniform::log_prob",
        [low, high],
        |[l, h], n| ((0..n).map(|k| -(h.at(k) - l.at(k)).ln()).collect(), ()),
        |_, [l, h], i, g_out, g_in| {
            // d/dhigh = -1 / (high - low), d/dlow = 1 / (high - low).
            let sign = if i == 0 { 1.0 } else { -1.0 };
            let a = if i == 0 { l } else { h };
            accumulate(a, g_in, g_out, |k| sign / (h.at(k) - l.at(k)))
        },
    )
}

/// `eps * scale + loc` for host noise `eps` of the parameters' (common) shape: the
/// reparameterized draw of location-scale families. `None` for other layouts.
pub(crate) fn loc_scale_draw<D: Backend>(
    eps: Vals,
    loc: &DynTensor<D>,
    scale: &DynTensor<D>,
) -> Option<TensorResult<DynTensor<D>>> {
    host_kernel(
        "loc_scale_draw",
        [scale, loc],
        |[s, l], n| {
            let e = eps.as_slice();
            let out = (0..n).map(|k| e[k] * s.at(k) + l.at(k)).collect();
            (out, eps)
        },
        |eps, [s, l], i, g_out, g_in| match i {
            0 => accumulate(s, g_in, g_out, |k| eps.as_slice()[k]),
            _ => accumulate(l, g_in, g_out, |_| 1.0),
        },
    )
}

/// The reparameterized draw `eps * scale + loc` together with its log-density
/// `-eps²/2 - ln scale - ln √(2π)` (the normal log-density of the draw, without subtracting
/// `loc` and dividing by `scale` again). The density node depends on `scale` only: as a
/// function of the parameters through the draw, `d/dloc = 0` and `d/dscale = -1/scale`.
/// `draw(n)` gives the `n` standard normal draws; it is not called (and `None` returned)
/// when a parameter is neither a single value nor of the draw's shape `shape`.
pub(crate) fn normal_draw_with_log_prob<D: Backend>(
    loc: &DynTensor<D>,
    scale: &DynTensor<D>,
    shape: &[usize],
    draw: impl FnOnce(usize) -> Vals,
) -> Option<TensorResult<(DynTensor<D>, DynTensor<D>)>> {
    let n = crate::tensor::numel(shape);
    if [loc, scale]
        .iter()
        .any(|p| p.numel() != n && p.numel() != 1)
    {
        return None;
    }
    let eps = draw(n);
    let lp = host_custom(
        [scale],
        shape,
        |[s]| {
            let e = eps.as_slice();
            let mut out = Vals::zeros(n);
            let mut last = (f32::NAN, f32::NAN);
            for (k, o) in out.as_mut_slice().iter_mut().enumerate() {
                let sk = if s.len() == 1 { s[0] } else { s[k] };
                if sk.to_bits() != last.0.to_bits() {
                    last = (sk, sk.ln());
                }
                *o = (e[k] * e[k] * -0.5 - last.1) + -HALF_LN_2PI;
            }
            Ok::<_, crate::tensor::TensorError>((out, ()))
        },
        |_, [s], _, g_out, g_in| {
            if s.len() == g_out.len() {
                for ((gi, go), sk) in g_in.iter_mut().zip(g_out).zip(*s) {
                    *gi -= go / sk;
                }
            } else if let (Some(g0), Some(s0)) = (g_in.first_mut(), s.first()) {
                *g0 -= g_out.iter().sum::<f32>() / s0;
            }
        },
    );
    let x = loc_scale_draw(eps, loc, scale)?;
    Some(lp.and_then(|lp| Ok((x?, lp))))
}

#[cfg(test)]
mod tests {
    use dfdx::prelude::Cpu;

    use super::*;
    use crate::tensor::GradScope;

    fn t(v: &[f32], s: &[usize]) -> DynTensor<Cpu> {
        DynTensor::from_vec(v.to_vec(), s).unwrap()
    }

    /// `f(inputs)` summed with weights, and its gradient w.r.t. every input.
    fn grads(
        inputs: &[DynTensor<Cpu>],
        f: &dyn Fn(&[DynTensor<Cpu>]) -> DynTensor<Cpu>,
    ) -> (Vec<f32>, Vec<Vec<f32>>) {
        let scope = GradScope::<Cpu>::open();
        let out = f(inputs);
        let w = DynTensor::from_vec(
            (1..=out.numel()).map(|k| k as f32 * 0.5).collect(),
            out.shape(),
        );
        let loss = out.mul(&w.unwrap()).unwrap().sum();
        let g = scope.backward(&loss).unwrap();
        let gs = inputs.iter().map(|x| g.get_or_zeros(x).to_vec()).collect();
        (out.to_vec(), gs)
    }

    /// Central differences of `Σ_k w_k f_k` in `f64` (the kernels' formulas are smooth).
    fn finite_differences(
        inputs: &[DynTensor<Cpu>],
        f: &dyn Fn(&[f64]) -> Vec<f64>,
    ) -> Vec<Vec<f64>> {
        let flat: Vec<Vec<f64>> = inputs
            .iter()
            .map(|x| x.to_vec().iter().map(|&v| v as f64).collect())
            .collect();
        let eval = |xs: &[Vec<f64>]| -> f64 {
            let n = xs.iter().map(Vec::len).max().unwrap_or(1);
            (0..n)
                .map(|k| {
                    let args: Vec<f64> = xs
                        .iter()
                        .map(|v| v[if v.len() == 1 { 0 } else { k }])
                        .collect();
                    f(&args)[0] * (k + 1) as f64 * 0.5
                })
                .sum()
        };
        let mut out = Vec::new();
        for i in 0..flat.len() {
            let mut gi = Vec::new();
            for j in 0..flat[i].len() {
                let h = 1e-6 * flat[i][j].abs().max(1.0);
                let (mut up, mut down) = (flat.clone(), flat.clone());
                up[i][j] += h;
                down[i][j] -= h;
                gi.push((eval(&up) - eval(&down)) / (2.0 * h));
            }
            out.push(gi);
        }
        out
    }

    fn normal_lp(a: &[f64]) -> Vec<f64> {
        let (x, l, s) = (a[0], a[1], a[2]);
        let z = (x - l) / s;
        vec![-0.5 * z * z - s.ln() - 0.5 * (2.0 * std::f64::consts::PI).ln()]
    }

    fn assert_grads(a: &[Vec<f32>], fd: &[Vec<f64>]) {
        for (ga, gf) in a.iter().zip(fd) {
            for (x, y) in ga.iter().zip(gf) {
                assert!(
                    (*x as f64 - y).abs() <= 1e-3 * y.abs().max(1.0),
                    "analytic {a:?} vs finite differences {fd:?}"
                );
            }
        }
    }

    #[test]
    fn normal_log_prob_values_and_gradients_in_every_layout() {
        let x = t(&[0.3, -1.2, 2.5], &[3]);
        let cases = [
            (t(&[0.1, 0.5, -0.4], &[3]), t(&[0.7, 1.3, 2.0], &[3])),
            (t(&[0.2], &[]), t(&[1.5], &[])),
            (t(&[0.1, 0.5, -0.4], &[3]), t(&[0.9], &[])),
        ];
        for (loc, scale) in cases {
            let ins = [x.clone(), loc.clone(), scale.clone()];
            let (v, g) = grads(&ins, &|i| {
                normal_log_prob(&i[0], &i[1], &i[2]).unwrap().unwrap()
            });
            // The same values as the tensor formula of `Normal::log_prob`, bit for bit.
            let z = x.sub(&loc).unwrap().div(&scale).unwrap();
            let want = z
                .square()
                .mul_scalar(-0.5)
                .sub(&scale.ln())
                .unwrap()
                .add_scalar(-super::HALF_LN_2PI);
            assert_eq!(v, want.to_vec());
            assert_grads(&g, &finite_differences(&ins, &normal_lp));
        }
    }

    #[test]
    fn loc_scale_draw_values_and_gradients() {
        let eps = vec![0.5f32, -1.5, 2.0];
        let ins = [t(&[0.1, 0.2, 0.3], &[3]), t(&[2.0], &[])];
        let e = eps.clone();
        let (v, g) = grads(&ins, &move |i| {
            loc_scale_draw(Vals::from(e.clone()), &i[0], &i[1])
                .unwrap()
                .unwrap()
        });
        assert_eq!(v, vec![0.5 * 2.0 + 0.1, -1.5 * 2.0 + 0.2, 2.0 * 2.0 + 0.3]);
        // d/dloc_k = w_k, d/dscale = Σ w_k eps_k with w_k = (k + 1) / 2.
        assert_eq!(g[0], vec![0.5, 1.0, 1.5]);
        assert!((g[1][0] - (0.25 - 1.5 + 3.0)).abs() < 1e-6);
    }

    #[test]
    fn shapes_that_do_not_broadcast_are_errors() {
        let r = normal_log_prob(&t(&[0.0; 3], &[3]), &t(&[0.0; 2], &[2]), &t(&[1.0], &[]));
        assert!(matches!(
            r,
            Some(Err(crate::tensor::TensorError::Broadcast { .. }))
        ));
    }
}
