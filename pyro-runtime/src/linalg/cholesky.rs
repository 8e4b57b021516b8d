//! Differentiable Cholesky factorisation.
//!
//! The factor is computed on the host in `f64`. On the graph the result is
//! `L = L₀ + L₀ Φ(L₀⁻¹ sym(A - A₀) L₀⁻ᵀ)`, `A₀` a constant copy of `A`, `sym(X) = (X + Xᵀ)/2`,
//! and `Φ` the lower triangle with the diagonal halved: the value is exactly `L₀` (the
//! displacement `A - A₀` is exactly zero) and the derivative is exactly the derivative of the
//! Cholesky factor, `dL = L Φ(L⁻¹ dA L⁻ᵀ)`, built from matrix products with the constants
//! `L₀`, `L₀⁻¹`.

use super::batched::{
    constant, displacement, mul_const_left, mul_const_right, square_dims, transpose, HostMats,
};
use super::error::{LinalgError, LinalgResult};
use super::{cholesky_host, inverse_lower_host};
use crate::tensor::{is_recording, numel, Backend, DynTensor};

/// Lower Cholesky factor `L` (`L Lᵀ = A`) of symmetric positive-definite matrices
/// `A: [..., n, n]`, differentiable in `A`.
///
/// Only the lower triangle of `A` is read. `A` is taken to be symmetric, so the gradient is
/// symmetric (the derivative along symmetric perturbations, as in PyTorch). Errors with
/// [`LinalgError::NotPositiveDefinite`] (naming the batch element) when a matrix is not
/// positive definite.
///
/// ```
/// use pyro::tensor::DynTensor;
/// let a = DynTensor::<dfdx::prelude::Cpu>::from_vec(vec![4.0, 2.0, 2.0, 5.0], &[2, 2]).unwrap();
/// let l = pyro::linalg::cholesky(&a).unwrap();
/// assert_eq!(l.to_vec(), vec![2.0, 0.0, 1.0, 2.0]);
/// ```
pub fn cholesky<D: Backend>(a: &DynTensor<D>) -> LinalgResult<DynTensor<D>> {
    const OP: &str = "cholesky";
    let (batch, n) = square_dims(OP, "input", a.shape())?;
    let nb = numel(&batch);
    let av = a.to_vec();
    let mut l = Vec::with_capacity(nb * n * n);
    let mut linv = Vec::with_capacity(nb * n * n);
    for b in 0..nb {
        let m: Vec<f64> = av[b * n * n..(b + 1) * n * n]
            .iter()
            .map(|&x| x as f64)
            .collect();
        let lb =
            cholesky_host(&m, n).ok_or(LinalgError::NotPositiveDefinite { op: OP, index: b })?;
        let ib = inverse_lower_host(&lb, n);
        let overflow = |x: &f64| !(*x as f32).is_finite();
        if lb.iter().any(overflow) || ib.iter().any(overflow) {
            return Err(LinalgError::NotFinite { op: OP, index: b });
        }
        l.extend(lb);
        linv.extend(ib);
    }
    let value = constant::<D>(&l, a.shape())?;
    if !is_recording() {
        return Ok(value);
    }
    let l0 = HostMats {
        data: l,
        batch: nb,
        rows: n,
        cols: n,
    };
    let li = HostMats {
        data: linv,
        batch: nb,
        rows: n,
        cols: n,
    };
    let da = displacement(a)?.reshape(&[nb, n, n])?;
    // X = L⁻¹ ΔA L⁻ᵀ
    let x = mul_const_left(&li, &mul_const_right(&da, &li.t())?)?;
    // Φ(sym X) = (X + Xᵀ) ⊙ M with M = 1/2 below the diagonal, 1/4 on it.
    let s = x.add(&transpose(&x)?)?;
    let phi = s.mul(&super::batched::tri_mask(n, 0.5, 0.25)?)?;
    let dl = mul_const_left(&l0, &phi)?;
    Ok(value.add(&dl.reshape(a.shape())?)?)
}

#[cfg(test)]
#[allow(clippy::needless_range_loop)] // index-heavy numeric checks
mod tests {
    use super::*;
    use crate::linalg::test_util::*;
    use dfdx::prelude::Cpu;

    fn host_chol(a: &[f64], n: usize) -> Vec<f64> {
        cholesky_host(a, n).expect("positive definite")
    }

    #[test]
    fn values_match_host_factor() {
        let mut rng = seeded(10);
        for n in [1, 2, 3, 5] {
            let a = random_spd(&mut rng, n);
            let l = cholesky(&DynTensor::<Cpu>::from_vec(a.clone(), &[n, n]).unwrap()).unwrap();
            assert_close(&l.to_vec(), &host_chol(&f64s(&a), n), 1e-6);
        }
        // Batched, while recording (the linearised path gives the same values).
        let mut data = random_spd(&mut rng, 3);
        data.extend(random_spd(&mut rng, 3));
        let a = DynTensor::<Cpu>::from_vec(data.clone(), &[2, 1, 3, 3]).unwrap();
        let scope = crate::tensor::GradScope::<Cpu>::open();
        let l = cholesky(&a).unwrap();
        drop(scope);
        assert_eq!(l.shape(), &[2, 1, 3, 3]);
        let lv = l.to_vec();
        for b in 0..2 {
            let want = host_chol(&f64s(&data[b * 9..b * 9 + 9]), 3);
            assert_close(&lv[b * 9..b * 9 + 9], &want, 1e-6);
        }
    }

    /// Directional derivatives along symmetric perturbations `E_ij + E_ji`, against central
    /// differences of the `f64` host factorisation.
    #[test]
    fn gradients_match_finite_differences() {
        let mut rng = seeded(11);
        for (nb, n) in [(1, 1), (1, 2), (1, 4), (3, 3)] {
            let mut data = Vec::new();
            for _ in 0..nb {
                data.extend(random_spd(&mut rng, n));
            }
            let shape = if nb == 1 { vec![n, n] } else { vec![nb, n, n] };
            let w = random_host(&mut rng, nb * n * n);
            let a = DynTensor::<Cpu>::from_vec(data.clone(), &shape).unwrap();
            let g = analytic_grads(&[a], |x| weighted_sum(&cholesky(&x[0]).unwrap(), &w));
            let host = |p: &[Vec<f64>]| -> f64 {
                let mut s = 0.0;
                for b in 0..nb {
                    let l = host_chol(&p[0][b * n * n..(b + 1) * n * n], n);
                    s += l
                        .iter()
                        .zip(&w[b * n * n..])
                        .map(|(x, &wi)| x * wi as f64)
                        .sum::<f64>();
                }
                s
            };
            let point = vec![f64s(&data)];
            for b in 0..nb {
                for i in 0..n {
                    for j in 0..=i {
                        let mut dir = vec![0.0; nb * n * n];
                        dir[b * n * n + i * n + j] = 1.0;
                        dir[b * n * n + j * n + i] = 1.0;
                        let fd = fd_host(&host, &point, 0, &dir, 1e-6);
                        let an: f64 = g[0].iter().zip(&dir).map(|(x, d)| x * d).sum();
                        assert!(
                            (an - fd).abs() <= 1e-4 * fd.abs().max(1.0),
                            "n={n} batch {b} ({i},{j}): analytic {an}, fd {fd}"
                        );
                    }
                }
            }
            // The gradient is symmetric.
            for b in 0..nb {
                for i in 0..n {
                    for j in 0..i {
                        let (x, y) = (g[0][b * n * n + i * n + j], g[0][b * n * n + j * n + i]);
                        assert!((x - y).abs() <= 1e-6 * x.abs().max(1.0), "{x} vs {y}");
                    }
                }
            }
        }
    }

    #[test]
    fn not_positive_definite_is_a_typed_error() {
        let mut data = random_spd(&mut seeded(12), 2);
        data.extend([1.0, 2.0, 2.0, 1.0]);
        let a = DynTensor::<Cpu>::from_vec(data, &[2, 2, 2]).unwrap();
        assert_eq!(
            cholesky(&a).unwrap_err(),
            LinalgError::NotPositiveDefinite {
                op: "cholesky",
                index: 1
            }
        );
        let nan = DynTensor::<Cpu>::from_vec(vec![f32::NAN], &[1, 1]).unwrap();
        assert!(cholesky(&nan).is_err());
        assert!(matches!(
            cholesky(&DynTensor::<Cpu>::zeros(&[2, 3])),
            Err(LinalgError::Shape { .. })
        ));
    }
}
