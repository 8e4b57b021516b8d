//! Test helpers for transforms: finite-difference Jacobians on the host, log-determinants,
//! gradient checks through the shared tape, round trips.

use dfdx::prelude::Cpu;
use rand::rngs::StdRng;
use rand::SeedableRng;
use rand_distr::{Distribution as _, StandardNormal};

use super::{Transform, TransformResult};
use crate::tensor::{DynTensor, GradScope};

/// A seeded generator.
pub fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

/// `n` normal draws times `scale`.
pub fn normal_vec(rng: &mut StdRng, n: usize, scale: f32) -> Vec<f32> {
    (0..n)
        .map(|_| {
            let z: f32 = StandardNormal.sample(rng);
            z * scale
        })
        .collect()
}

/// A CPU tensor.
pub fn t(v: Vec<f32>, shape: &[usize]) -> DynTensor<Cpu> {
    DynTensor::from_vec(v, shape).unwrap()
}

/// Asserts `|a - b| <= tol * max(1, |b|)` elementwise.
pub fn assert_close(a: &[f32], b: &[f32], tol: f32, what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: lengths differ");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x - y).abs() <= tol * y.abs().max(1.0),
            "{what}: element {i}: {x} vs {y}"
        );
    }
}

/// Partial derivatives `∂f_r/∂x_c` for the chosen input coordinates, by central differences
/// with one Richardson step (error O(h⁴) plus f32 rounding). `J[r][k]` is the derivative of
/// output `r` with respect to `x[cols[k]]`.
pub fn fd_jacobian(f: &dyn Fn(&[f32]) -> Vec<f32>, x: &[f32], cols: &[usize]) -> Vec<Vec<f64>> {
    let n_out = f(x).len();
    let mut jac = vec![vec![0.0; cols.len()]; n_out];
    for (k, &c) in cols.iter().enumerate() {
        let h0 = 2e-2 * x[c].abs().max(1.0);
        let diff = |h: f32| -> Vec<f64> {
            let mut xp = x.to_vec();
            let mut xm = x.to_vec();
            xp[c] += h;
            xm[c] -= h;
            let step = (xp[c] as f64) - (xm[c] as f64);
            let (fp, fm) = (f(&xp), f(&xm));
            fp.iter()
                .zip(&fm)
                .map(|(a, b)| (*a as f64 - *b as f64) / step)
                .collect()
        };
        let d1 = diff(h0);
        let d2 = diff(h0 / 2.0);
        for r in 0..n_out {
            jac[r][k] = (4.0 * d2[r] - d1[r]) / 3.0;
        }
    }
    jac
}

/// `log |det M|` of a square matrix by LU decomposition with partial pivoting.
pub fn log_abs_det(mut m: Vec<Vec<f64>>) -> f64 {
    let n = m.len();
    let mut acc = 0.0;
    for c in 0..n {
        let p = (c..n)
            .max_by(|&a, &b| m[a][c].abs().partial_cmp(&m[b][c].abs()).unwrap())
            .unwrap();
        m.swap(c, p);
        let piv = m[c][c];
        assert!(piv != 0.0, "singular Jacobian");
        acc += piv.abs().ln();
        let pivot_row = m[c].clone();
        for row in m.iter_mut().skip(c + 1) {
            let f = row[c] / piv;
            for (v, p) in row.iter_mut().zip(&pivot_row).skip(c) {
                *v -= f * p;
            }
        }
    }
    acc
}

/// Checks `log_abs_det_jacobian` of one event `x` (shape `shape`, no batch dims) against the
/// log-determinant of the finite-difference Jacobian of the outputs `rows` of `forward` with
/// respect to the inputs `cols`.
pub fn check_log_det_fd(
    tr: &dyn Transform<Cpu>,
    x: &[f32],
    shape: &[usize],
    cols: &[usize],
    rows: &[usize],
    tol: f64,
) {
    let f = |v: &[f32]| -> Vec<f32> {
        let y = tr.forward(&t(v.to_vec(), shape)).unwrap().to_vec();
        rows.iter().map(|&r| y[r]).collect()
    };
    let jac = fd_jacobian(&f, x, cols);
    let want = log_abs_det(jac);
    let xt = t(x.to_vec(), shape);
    let y = tr.forward(&xt).unwrap();
    let got = tr.log_abs_det_jacobian(&xt, &y).unwrap();
    assert_eq!(
        got.shape(),
        &[] as &[usize],
        "{}: log-det of one event",
        tr.name()
    );
    let got = got.item().unwrap() as f64;
    assert!(
        (got - want).abs() <= tol * want.abs().max(1.0),
        "{} at {x:?}: log_abs_det_jacobian {got}, finite differences {want}",
        tr.name()
    );
}

/// Checks `∂/∂x Σ_i w_i f(x)_i` (random fixed weights `w`) from the shared tape against
/// finite differences, for every input coordinate.
pub fn check_grad(
    what: &str,
    f: &dyn Fn(&DynTensor<Cpu>) -> TransformResult<DynTensor<Cpu>>,
    x: &[f32],
    shape: &[usize],
    tol: f64,
) {
    let n_out = f(&t(x.to_vec(), shape)).unwrap().numel();
    let w = normal_vec(&mut rng(17), n_out, 1.0);
    let loss = |v: &DynTensor<Cpu>| -> DynTensor<Cpu> {
        let out = f(v).unwrap();
        let wt = t(w.clone(), out.shape());
        out.mul(&wt).unwrap().sum()
    };
    let leaf = t(x.to_vec(), shape);
    let scope = GradScope::<Cpu>::open();
    let l = loss(&leaf);
    let grads = scope.backward(&l).unwrap();
    let analytic = grads.get_or_zeros(&leaf).to_vec();
    let scalar = |v: &[f32]| vec![loss(&t(v.to_vec(), shape)).item().unwrap()];
    let cols: Vec<usize> = (0..x.len()).collect();
    let fd = fd_jacobian(&scalar, x, &cols);
    for c in 0..x.len() {
        let (a, b) = (analytic[c] as f64, fd[0][c]);
        assert!(
            (a - b).abs() <= tol * b.abs().max(1.0),
            "{what}: d/dx{c} at {x:?}: tape {a}, finite differences {b}"
        );
    }
}

/// `inverse(forward(x)) ≈ x`, with `forward(x)` in the codomain.
pub fn check_round_trip_x(tr: &dyn Transform<Cpu>, x: &[f32], shape: &[usize], tol: f32) {
    let xt = t(x.to_vec(), shape);
    let y = tr.forward(&xt).unwrap();
    assert!(
        tr.codomain().check_all(&y),
        "{}: forward({x:?}) = {:?} is outside {}",
        tr.name(),
        y.to_vec(),
        tr.codomain()
    );
    let back = tr.inverse(&y).unwrap();
    assert_eq!(back.shape(), shape);
    assert_close(
        &back.to_vec(),
        x,
        tol,
        &format!("{} inverse(forward(x))", tr.name()),
    );
}

/// `forward(inverse(y)) ≈ y`.
pub fn check_round_trip_y(tr: &dyn Transform<Cpu>, y: &[f32], shape: &[usize], tol: f32) {
    let yt = t(y.to_vec(), shape);
    let x = tr.inverse(&yt).unwrap();
    assert!(
        x.to_vec().iter().all(|v| v.is_finite()),
        "{}: inverse({y:?}) = {:?} is not finite",
        tr.name(),
        x.to_vec()
    );
    let again = tr.forward(&x).unwrap();
    assert_eq!(again.shape(), shape);
    assert_close(
        &again.to_vec(),
        y,
        tol,
        &format!("{} forward(inverse(y))", tr.name()),
    );
}
