//! Unconstrained square matrices onto symmetric positive-definite matrices.

use super::lower_cholesky::LowerCholeskyTransform;
use super::util::{matmul_abt, square_batch};
use super::{validate_inverse_input, BoxTransform, Transform, TransformError, TransformResult};
use crate::constraints::Constraint;
use crate::linalg::{cholesky_host, inverse_lower_host, matmul_host, transpose_host};
use crate::tensor::{is_recording, Backend, DynTensor};

/// `y = L Lᵀ` with `L = LowerCholeskyTransform(x)` (Pyro's `PositiveDefiniteTransform`):
/// `[..., n, n] -> [..., n, n]`, the strictly upper part of `x` ignored.
///
/// The inverse takes the Cholesky factor of `y` (reading its lower triangle, like
/// `torch.linalg.cholesky`) on the host in `f64`; gradients through it are exact (the
/// factor's differential `dL = L Φ(L⁻¹ dΣ L⁻ᵀ)` is applied on the graph). PyTorch defines no
/// log-det here; it is taken from the `n(n+1)/2` lower entries of `x` to the lower triangle of
/// `y`: `n log 2 + Σ_i (n - i + 1) x_ii` (`i` from 0).
///
/// ```
/// use pyro::tensor::DynTensor;
/// use pyro::transforms::{PositiveDefiniteTransform, Transform};
/// let x = DynTensor::<dfdx::prelude::Cpu>::from_vec(vec![0.0, 0.0, 2.0, 0.0], &[2, 2]).unwrap();
/// let y = PositiveDefiniteTransform.forward(&x).unwrap();
/// assert_eq!(y.to_vec(), vec![1.0, 2.0, 2.0, 5.0]);
/// let back = PositiveDefiniteTransform.inverse(&y).unwrap().to_vec();
/// assert!((back[2] - 2.0).abs() < 1e-6 && back[3].abs() < 1e-6);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PositiveDefiniteTransform;

const NAME: &str = "PositiveDefiniteTransform";

/// The Jacobian (row-major `n² x n²`, rows: entries of `L`, columns: entries of `Σ`) of the
/// Cholesky factor with respect to the lower triangle of `Σ` (upper columns are zero).
fn cholesky_jacobian(l: &[f64], n: usize) -> Vec<f64> {
    let linv = inverse_lower_host(l, n);
    let linv_t = transpose_host(&linv, n, n);
    let nn = n * n;
    let mut jac = vec![0.0; nn * nn];
    for a in 0..n {
        for c in 0..=a {
            let mut e = vec![0.0; nn];
            e[a * n + c] = 1.0;
            e[c * n + a] = 1.0;
            let m = matmul_host(&matmul_host(&linv, &e, n, n, n), &linv_t, n, n, n);
            // Φ: the lower triangle with the diagonal halved.
            let mut phi = vec![0.0; nn];
            for i in 0..n {
                for j in 0..i {
                    phi[i * n + j] = m[i * n + j];
                }
                phi[i * n + i] = 0.5 * m[i * n + i];
            }
            let dl = matmul_host(l, &phi, n, n, n);
            for (p, v) in dl.iter().enumerate() {
                jac[p * nn + a * n + c] = *v;
            }
        }
    }
    jac
}

/// The Cholesky factors of each matrix of `y`, on the graph when recording.
fn cholesky<D: Backend>(y: &DynTensor<D>, b: usize, n: usize) -> TransformResult<DynTensor<D>> {
    let yv = y.to_vec();
    let nn = n * n;
    let mut l_all = Vec::with_capacity(b * nn);
    let mut jac_all = Vec::with_capacity(if is_recording() { b * nn * nn } else { 0 });
    for bi in 0..b {
        let m: Vec<f64> = yv[bi * nn..(bi + 1) * nn]
            .iter()
            .map(|&v| v as f64)
            .collect();
        let l = cholesky_host(&m, n).ok_or_else(|| TransformError::OutOfDomain {
            transform: NAME,
            direction: "inverse",
            constraint: Constraint::PositiveDefinite.to_string(),
            detail: format!("matrix {bi} has no Cholesky factor"),
        })?;
        if is_recording() {
            jac_all.extend(cholesky_jacobian(&l, n).into_iter().map(|v| v as f32));
        }
        l_all.extend(l.into_iter().map(|v| v as f32));
    }
    let l0 = DynTensor::from_vec(l_all, y.shape())?;
    if !is_recording() {
        return Ok(l0);
    }
    // L = L0 + J (y - y0): exactly L0 in value, exact first derivatives.
    let y0 = DynTensor::from_vec(yv, y.shape())?;
    let delta = y.sub(&y0)?.reshape(&[b, 1, nn])?;
    let jac = DynTensor::from_vec(jac_all, &[b, nn, nn])?;
    let dl = delta.mul(&jac)?.sum_rightmost(1)?.reshape(y.shape())?;
    Ok(l0.add(&dl)?)
}

impl<D: Backend> Transform<D> for PositiveDefiniteTransform {
    fn name(&self) -> &'static str {
        NAME
    }
    fn domain(&self) -> Constraint {
        Constraint::Real
    }
    fn codomain(&self) -> Constraint {
        Constraint::PositiveDefinite
    }
    fn domain_event_dim(&self) -> usize {
        2
    }
    fn forward(&self, x: &DynTensor<D>) -> TransformResult<DynTensor<D>> {
        let (_, n) = square_batch(NAME, "forward", x.shape())?;
        let l = LowerCholeskyTransform.forward(x)?;
        let batch = &x.shape()[..x.rank() - 2];
        matmul_abt(&l, &l, batch, n, n, n)
    }
    fn inverse(&self, y: &DynTensor<D>) -> TransformResult<DynTensor<D>> {
        let (b, n) = square_batch(NAME, "inverse", y.shape())?;
        validate_inverse_input(self, y)?;
        let l = cholesky(y, b, n)?;
        LowerCholeskyTransform.inverse(&l)
    }
    fn log_abs_det_jacobian(
        &self,
        x: &DynTensor<D>,
        _y: &DynTensor<D>,
    ) -> TransformResult<DynTensor<D>> {
        let (b, n) = square_batch(NAME, "log_abs_det_jacobian", x.shape())?;
        let diag = super::util::diag_part(x, b, n)?;
        let w = DynTensor::from_vec((0..n).map(|i| (n - i + 1) as f32).collect(), &[n])?;
        let ln2n = n as f32 * std::f32::consts::LN_2;
        Ok(diag.mul(&w)?.sum_rightmost(1)?.add_scalar(ln2n))
    }
    fn forward_shape(&self, shape: &[usize]) -> TransformResult<Vec<usize>> {
        square_batch(NAME, "forward_shape", shape)?;
        Ok(shape.to_vec())
    }
    fn inverse_shape(&self, shape: &[usize]) -> TransformResult<Vec<usize>> {
        square_batch(NAME, "inverse_shape", shape)?;
        Ok(shape.to_vec())
    }
    fn clone_box(&self) -> BoxTransform<D> {
        Box::new(*self)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use dfdx::prelude::Cpu;

    fn lower(n: usize) -> Vec<usize> {
        (0..n)
            .flat_map(|i| (0..=i).map(move |j| i * n + j))
            .collect()
    }

    /// A random symmetric positive-definite matrix `A Aᵀ + 0.5 I`.
    fn random_pd(seed: u64, n: usize) -> Vec<f32> {
        let a: Vec<f64> = normal_vec(&mut rng(seed), n * n, 1.0)
            .into_iter()
            .map(|v| v as f64)
            .collect();
        let mut m = matmul_host(&a, &transpose_host(&a, n, n), n, n, n);
        for i in 0..n {
            m[i * n + i] += 0.5;
        }
        m.into_iter().map(|v| v as f32).collect()
    }

    #[test]
    fn round_trips_and_lands_in_positive_definite() {
        let tr = PositiveDefiniteTransform;
        for n in [1usize, 2, 3] {
            let mut x = normal_vec(&mut rng(80 + n as u64), n * n, 1.0);
            for i in 0..n {
                for j in i + 1..n {
                    x[i * n + j] = 0.0;
                }
            }
            check_round_trip_x(&tr, &x, &[n, n], 1e-3);
            check_round_trip_y(&tr, &random_pd(90 + n as u64, n), &[n, n], 1e-4);
        }
        let x = t(normal_vec(&mut rng(85), 18, 1.0), &[2, 3, 3]);
        assert!(Constraint::PositiveDefinite.check_all(&tr.forward(&x).unwrap()));
    }

    #[test]
    fn log_det_matches_finite_differences_between_lower_triangles() {
        for n in [1usize, 2, 3] {
            let x = normal_vec(&mut rng(95 + n as u64), n * n, 0.7);
            let idx = lower(n);
            check_log_det_fd(&PositiveDefiniteTransform, &x, &[n, n], &idx, &idx, 2e-3);
        }
    }

    #[test]
    fn gradients_through_forward_and_the_host_cholesky() {
        let x = normal_vec(&mut rng(99), 4, 0.7);
        let f = |v: &DynTensor<Cpu>| PositiveDefiniteTransform.forward(v);
        check_grad("positive-definite forward", &f, &x, &[2, 2], 1e-2);
        // The inverse as a function of the lower triangle of a symmetric matrix.
        let n = 3;
        let pd = random_pd(100, n);
        let params: Vec<f32> = lower(n).into_iter().map(|k| pd[k]).collect();
        let sym: Vec<usize> = (0..n * n)
            .map(|k| {
                let (i, j) = (k / n, k % n);
                let (a, c) = if j <= i { (i, j) } else { (j, i) };
                a * (a + 1) / 2 + c
            })
            .collect();
        let g = |v: &DynTensor<Cpu>| {
            let y = v.gather_flat(sym.clone(), &[n, n])?;
            PositiveDefiniteTransform.inverse(&y)
        };
        check_grad(
            "positive-definite inverse",
            &g,
            &params,
            &[params.len()],
            1e-2,
        );
    }

    #[test]
    fn not_positive_definite_is_a_typed_error() {
        let y = t(vec![1.0, 2.0, 2.0, 1.0], &[2, 2]);
        assert!(matches!(
            PositiveDefiniteTransform.inverse(&y),
            Err(TransformError::OutOfDomain { .. })
        ));
    }
}
