//! Unconstrained square matrices onto lower-triangular matrices with positive diagonal:
//! the diagonal through `exp` ([`LowerCholeskyTransform`]) or `softplus`
//! ([`SoftplusLowerCholeskyTransform`]); or with unit diagonal
//! ([`UnitLowerCholeskyTransform`], whose log-determinant is 0).
//!
//! As in Pyro, all three map `[..., n, n]` to `[..., n, n]`: the strictly lower part is copied,
//! the diagonal is mapped, the strictly upper part of the input is ignored (so the map is a
//! bijection only between lower-triangular matrices; `inverse` returns zeros above the
//! diagonal). PyTorch defines no log-determinant for these maps; here it is taken with respect
//! to the `n(n+1)/2` lower-triangular entries, whose Jacobian is diagonal: `Σ_i x_ii` for exp,
//! `Σ_i log sigmoid(x_ii)` for softplus.

use super::elementwise::softplus_inv;
use super::util::{diag_part, square_batch, tril_with_diag};
use super::{validate_inverse_input, BoxTransform, Transform, TransformResult};
use crate::constraints::Constraint;
use crate::tensor::special::{host_unary, scalar};
use crate::tensor::{Backend, DynTensor, Special};

/// Maps `[..., n, n]` unconstrained matrices to Cholesky factors: `y = tril(x, -1) +
/// diag(exp(diag x))` (Pyro's `LowerCholeskyTransform`). See the module notes for the
/// log-det convention.
///
/// ```
/// use pyro::tensor::DynTensor;
/// use pyro::transforms::{LowerCholeskyTransform, Transform};
/// let x = DynTensor::<dfdx::prelude::Cpu>::from_vec(vec![0.0, 5.0, -2.0, 1.0], &[2, 2]).unwrap();
/// let y = LowerCholeskyTransform.forward(&x).unwrap().to_vec();
/// assert_eq!(y, vec![1.0, 0.0, -2.0, 1f32.exp()]);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LowerCholeskyTransform;

/// Like [`LowerCholeskyTransform`] with the diagonal through softplus: `y = tril(x, -1) +
/// diag(softplus(diag x))` (Pyro's `SoftplusLowerCholeskyTransform`).
///
/// ```
/// use pyro::tensor::DynTensor;
/// use pyro::transforms::{SoftplusLowerCholeskyTransform, Transform};
/// let x = DynTensor::<dfdx::prelude::Cpu>::from_vec(vec![0.0, 5.0, -2.0, 0.0], &[2, 2]).unwrap();
/// let y = SoftplusLowerCholeskyTransform.forward(&x).unwrap().to_vec();
/// assert!((y[0] - 2f32.ln()).abs() < 1e-6 && y[1] == 0.0 && y[2] == -2.0);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SoftplusLowerCholeskyTransform;

/// Maps `[..., n, n]` unconstrained matrices to lower-triangular matrices with unit diagonal:
/// `y = tril(x, -1) + I` (Pyro's `UnitLowerCholeskyTransform`, the parameterization of
/// `AutoMultivariateNormal.scale_tril`). The diagonal of `x` is ignored; `inverse` gives
/// `tril(y, -1)`; the log-determinant is 0.
///
/// ```
/// use pyro::tensor::DynTensor;
/// use pyro::transforms::{Transform, UnitLowerCholeskyTransform};
/// let x = DynTensor::<dfdx::prelude::Cpu>::from_vec(vec![3.0, 5.0, -2.0, 7.0], &[2, 2]).unwrap();
/// let y = UnitLowerCholeskyTransform.forward(&x).unwrap().to_vec();
/// assert_eq!(y, vec![1.0, 0.0, -2.0, 1.0]);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct UnitLowerCholeskyTransform;

/// What the diagonal goes through.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Diag {
    Exp,
    Softplus,
    /// Replaced by ones.
    One,
}

/// The shared body of the three transforms; `diag` picks the diagonal map.
fn forward_impl<D: Backend>(
    name: &'static str,
    x: &DynTensor<D>,
    diag: Diag,
) -> TransformResult<DynTensor<D>> {
    let (_, n) = square_batch(name, "forward", x.shape())?;
    Ok(forward_kernel(x, n, diag)?)
}

/// The forward map as one kernel: the strictly lower part copied, the diagonal mapped with
/// its derivative kept for the backward pass, zeros above.
fn forward_kernel<D: Backend>(
    x: &DynTensor<D>,
    n: usize,
    map: Diag,
) -> crate::tensor::TensorResult<DynTensor<D>> {
    let diag = move |v: f32| -> (f32, f32) {
        match map {
            Diag::Softplus => {
                let v = v as f64;
                (scalar::softplus(v) as f32, scalar::sigmoid(v) as f32)
            }
            Diag::Exp => {
                let e = v.exp();
                (e, e)
            }
            Diag::One => (1.0, 0.0),
        }
    };
    crate::tensor::op::host_custom(
        [x],
        x.shape(),
        |[xs]| {
            let mut out = vec![0.0f32; xs.len()];
            let mut ders = Vec::with_capacity(xs.len() / n.max(1));
            for (xm, ym) in xs.chunks(n * n).zip(out.chunks_mut(n * n)) {
                for i in 0..n {
                    ym[i * n..i * n + i].copy_from_slice(&xm[i * n..i * n + i]);
                    let (y, dy) = diag(xm[i * n + i]);
                    ym[i * n + i] = y;
                    ders.push(dy);
                }
            }
            Ok::<_, crate::tensor::TensorError>((out.into(), ders))
        },
        move |ders, _, _, g_out, g_in| {
            let mut k = 0;
            for (gm, gx) in g_out.chunks(n * n).zip(g_in.chunks_mut(n * n)) {
                for i in 0..n {
                    for j in 0..i {
                        gx[i * n + j] += gm[i * n + j];
                    }
                    gx[i * n + i] += gm[i * n + i] * ders[k];
                    k += 1;
                }
            }
        },
    )
}

fn inverse_impl<D: Backend>(
    name: &'static str,
    y: &DynTensor<D>,
    diag: Diag,
) -> TransformResult<DynTensor<D>> {
    let (b, n) = square_batch(name, "inverse", y.shape())?;
    let d = diag_part(y, b, n)?;
    let d = match diag {
        Diag::Softplus => host_unary(&d, softplus_inv),
        Diag::Exp => d.ln(),
        Diag::One => DynTensor::zeros(d.shape()),
    };
    tril_with_diag(y, &d, b, n)
}

fn log_det_impl<D: Backend>(
    name: &'static str,
    x: &DynTensor<D>,
    diag: Diag,
) -> TransformResult<DynTensor<D>> {
    let (b, n) = square_batch(name, "log_abs_det_jacobian", x.shape())?;
    let d = diag_part(x, b, n)?;
    let d = match diag {
        Diag::Softplus => d.log_sigmoid(),
        Diag::Exp => d,
        Diag::One => return Ok(DynTensor::zeros(&x.shape()[..x.rank() - 2])),
    };
    Ok(d.sum_rightmost(1)?)
}

macro_rules! lower_cholesky_impl {
    ($ty:ty, $name:literal, $diag:expr, $codomain:expr) => {
        impl<D: Backend> Transform<D> for $ty {
            fn name(&self) -> &'static str {
                $name
            }
            fn domain(&self) -> Constraint {
                Constraint::Real
            }
            fn codomain(&self) -> Constraint {
                $codomain
            }
            fn domain_event_dim(&self) -> usize {
                2
            }
            fn forward(&self, x: &DynTensor<D>) -> TransformResult<DynTensor<D>> {
                forward_impl($name, x, $diag)
            }
            fn inverse(&self, y: &DynTensor<D>) -> TransformResult<DynTensor<D>> {
                square_batch($name, "inverse", y.shape())?;
                validate_inverse_input(self, y)?;
                inverse_impl($name, y, $diag)
            }
            fn log_abs_det_jacobian(
                &self,
                x: &DynTensor<D>,
                _y: &DynTensor<D>,
            ) -> TransformResult<DynTensor<D>> {
                log_det_impl($name, x, $diag)
            }
            fn forward_shape(&self, shape: &[usize]) -> TransformResult<Vec<usize>> {
                square_batch($name, "forward_shape", shape)?;
                Ok(shape.to_vec())
            }
            fn inverse_shape(&self, shape: &[usize]) -> TransformResult<Vec<usize>> {
                square_batch($name, "inverse_shape", shape)?;
                Ok(shape.to_vec())
            }
            fn clone_box(&self) -> BoxTransform<D> {
                Box::new(*self)
            }
        }
    };
}

lower_cholesky_impl!(
    LowerCholeskyTransform,
    "LowerCholeskyTransform",
    Diag::Exp,
    Constraint::LowerCholesky
);
lower_cholesky_impl!(
    SoftplusLowerCholeskyTransform,
    "SoftplusLowerCholeskyTransform",
    Diag::Softplus,
    Constraint::LowerCholesky
);
lower_cholesky_impl!(
    UnitLowerCholeskyTransform,
    "UnitLowerCholeskyTransform",
    Diag::One,
    Constraint::UnitLowerCholesky
);

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::TransformError;
    use super::*;
    use dfdx::prelude::Cpu;

    /// Row-major indices of the lower triangle (with the diagonal) of an `n x n` matrix.
    fn lower(n: usize) -> Vec<usize> {
        (0..n)
            .flat_map(|i| (0..=i).map(move |j| i * n + j))
            .collect()
    }

    /// Zeroes the strictly upper part.
    fn tril(v: &[f32], n: usize) -> Vec<f32> {
        let mut v = v.to_vec();
        for i in 0..n {
            for j in i + 1..n {
                v[i * n + j] = 0.0;
            }
        }
        v
    }

    fn both() -> [Box<dyn Transform<Cpu>>; 2] {
        [
            Box::new(LowerCholeskyTransform),
            Box::new(SoftplusLowerCholeskyTransform),
        ]
    }

    #[test]
    fn forward_maps_into_lower_cholesky_and_ignores_the_upper_part() {
        for tr in both() {
            let x = normal_vec(&mut rng(31), 2 * 9, 2.0);
            let y = tr.forward(&t(x.clone(), &[2, 3, 3])).unwrap();
            assert!(Constraint::LowerCholesky.check_all(&y), "{}", tr.name());
            let mut x2 = x.clone();
            x2[1] += 5.0; // an upper entry
            let y2 = tr.forward(&t(x2, &[2, 3, 3])).unwrap();
            assert_eq!(y.to_vec(), y2.to_vec());
            // inverse(forward(x)) = tril(x).
            let back = tr.inverse(&y).unwrap().to_vec();
            let want: Vec<f32> = [tril(&x[..9], 3), tril(&x[9..], 3)].concat();
            assert_close(&back, &want, 1e-5, tr.name());
        }
    }

    #[test]
    fn round_trips_including_extreme_diagonals() {
        for tr in both() {
            for n in [1usize, 2, 4] {
                let x = tril(&normal_vec(&mut rng(32 + n as u64), n * n, 3.0), n);
                check_round_trip_x(tr.as_ref(), &x, &[n, n], 1e-4);
            }
            // Diagonal entries at ±20 (the softplus inverse at softplus(-20) ≈ 2e-9 is exact).
            let x = vec![20.0, 0.0, 0.0, 3.0, -20.0, 0.0, -1.0, 0.5, 0.0];
            check_round_trip_x(tr.as_ref(), &x, &[3, 3], 1e-4);
            // Cholesky factors with tiny and large diagonals.
            let y = vec![1e-6, 0.0, 0.0, -4.0, 1e4, 0.0, 0.1, 2.0, 0.3];
            check_round_trip_y(tr.as_ref(), &y, &[3, 3], 1e-5);
        }
    }

    #[test]
    fn log_det_matches_finite_differences_over_the_lower_triangle() {
        for tr in both() {
            for n in [1usize, 2, 3] {
                let x = normal_vec(&mut rng(40 + n as u64), n * n, 1.0);
                let idx = lower(n);
                check_log_det_fd(tr.as_ref(), &x, &[n, n], &idx, &idx, 1e-3);
            }
            let x = t(normal_vec(&mut rng(44), 8, 1.0), &[2, 2, 2]);
            let y = tr.forward(&x).unwrap();
            assert_eq!(tr.log_abs_det_jacobian(&x, &y).unwrap().shape(), &[2]);
        }
    }

    #[test]
    fn gradients_match_finite_differences() {
        let x = normal_vec(&mut rng(45), 4, 1.0);
        for tr in both() {
            let f = |v: &DynTensor<Cpu>| tr.forward(v);
            check_grad(tr.name(), &f, &x, &[2, 2], 1e-2);
            let g = |v: &DynTensor<Cpu>| tr.log_abs_det_jacobian(v, v);
            check_grad(tr.name(), &g, &x, &[2, 2], 1e-2);
            // inverse(2 forward(x)): the diagonal goes through log / softplus⁻¹ of 2 exp(x) /
            // 2 softplus(x), the lower part is doubled, the upper part dropped.
            let h = |v: &DynTensor<Cpu>| tr.inverse(&tr.forward(v)?.mul_scalar(2.0));
            check_grad(tr.name(), &h, &x, &[2, 2], 1e-2);
        }
    }

    #[test]
    fn batched_forward_gradients_match_finite_differences() {
        // Two 3x3 matrices: the host kernel walks the batch matrix by matrix.
        let x = normal_vec(&mut rng(46), 18, 1.0);
        for tr in both() {
            let f = |v: &DynTensor<Cpu>| tr.forward(v);
            check_grad(tr.name(), &f, &x, &[2, 3, 3], 1e-2);
        }
    }

    #[test]
    fn non_square_and_invalid_inputs_are_typed_errors() {
        crate::enable_validation(true);
        for tr in both() {
            let x = t(vec![0.0; 6], &[2, 3]);
            assert!(matches!(tr.forward(&x), Err(TransformError::Shape { .. })));
            assert!(tr.forward_shape(&[3]).is_err());
            let y = t(vec![-1.0, 0.0, 0.0, 1.0], &[2, 2]);
            assert!(matches!(
                tr.inverse(&y),
                Err(TransformError::OutOfDomain { .. })
            ));
        }
    }

    /// `tril(x, -1)`: the unit transform's inverse of its forward image.
    fn strict(v: &[f32], n: usize) -> Vec<f32> {
        let mut v = tril(v, n);
        for i in 0..n {
            v[i * n + i] = 0.0;
        }
        v
    }

    #[test]
    fn unit_lower_cholesky_keeps_the_strict_lower_part_with_a_unit_diagonal() {
        let tr = UnitLowerCholeskyTransform;
        let x = normal_vec(&mut rng(47), 2 * 9, 2.0);
        let y = Transform::<Cpu>::forward(&tr, &t(x.clone(), &[2, 3, 3])).unwrap();
        assert!(Constraint::UnitLowerCholesky.check_all(&y));
        assert!(!Constraint::UnitLowerCholesky.check_all(&t(vec![2.0, 0.0, 0.5, 1.0], &[2, 2])));
        let want: Vec<f32> = (0..2)
            .flat_map(|b| {
                let mut m = strict(&x[b * 9..b * 9 + 9], 3);
                for i in 0..3 {
                    m[i * 3 + i] = 1.0;
                }
                m
            })
            .collect();
        assert_eq!(y.to_vec(), want);
        let back = tr.inverse(&y).unwrap().to_vec();
        let strict_x: Vec<f32> = [strict(&x[..9], 3), strict(&x[9..], 3)].concat();
        assert_eq!(back, strict_x);
        assert_eq!(
            tr.log_abs_det_jacobian(&t(x.clone(), &[2, 3, 3]), &y)
                .unwrap()
                .to_vec(),
            vec![0.0, 0.0]
        );
        // The forward map's gradient reaches the strictly lower entries only.
        let f = |v: &DynTensor<Cpu>| tr.forward(v);
        check_grad("UnitLowerCholeskyTransform", &f, &x[..9], &[3, 3], 1e-2);
        let sq = |v: &DynTensor<Cpu>| Ok(tr.forward(v)?.square());
        check_grad("UnitLowerCholeskyTransform", &sq, &x[..9], &[3, 3], 1e-2);
        crate::enable_validation(true);
        let bad = t(vec![1.0, 0.0, 0.5, 2.0], &[2, 2]);
        assert!(matches!(
            tr.inverse(&bad),
            Err(TransformError::OutOfDomain { .. })
        ));
    }
}
