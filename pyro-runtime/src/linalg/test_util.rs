//! Test helpers: random tensors, analytic gradients through a [`GradScope`], central finite
//! differences of host (`f64`) reference functions.

use dfdx::prelude::Cpu;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::tensor::{DynTensor, GradScope};

pub fn seeded(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

pub fn random_host(rng: &mut StdRng, n: usize) -> Vec<f32> {
    (0..n).map(|_| rng.gen_range(-1.0f32..1.0)).collect()
}

pub fn random_tensor(rng: &mut StdRng, shape: &[usize]) -> DynTensor<Cpu> {
    let n = crate::tensor::numel(shape);
    DynTensor::from_vec(random_host(rng, n), shape).unwrap()
}

/// A random well-conditioned symmetric positive-definite matrix `M Mᵀ + n I` (row-major f32).
pub fn random_spd(rng: &mut StdRng, n: usize) -> Vec<f32> {
    let m: Vec<f64> = random_host(rng, n * n).iter().map(|&x| x as f64).collect();
    let mut a = crate::linalg::matmul_host(&m, &crate::linalg::transpose_host(&m, n, n), n, n, n);
    for i in 0..n {
        a[i * n + i] += n as f64;
    }
    // Symmetric after rounding.
    let mut out = vec![0.0f32; n * n];
    for i in 0..n {
        for j in 0..=i {
            out[i * n + j] = a[i * n + j] as f32;
            out[j * n + i] = a[i * n + j] as f32;
        }
    }
    out
}

/// A random lower-triangular matrix with diagonal in `[0.5, 1.5]`.
pub fn random_tril(rng: &mut StdRng, n: usize) -> Vec<f32> {
    let mut l = vec![0.0f32; n * n];
    for i in 0..n {
        for j in 0..i {
            l[i * n + j] = rng.gen_range(-1.0f32..1.0);
        }
        l[i * n + i] = rng.gen_range(0.5f32..1.5);
    }
    l
}

pub fn f64s(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| x as f64).collect()
}

pub fn assert_close(got: &[f32], want: &[f64], rtol: f64) {
    assert_eq!(got.len(), want.len());
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g as f64 - w).abs() <= rtol * w.abs().max(1.0),
            "element {i}: got {g}, want {w}"
        );
    }
}

/// `sum(w ⊙ x)`.
pub fn weighted_sum(x: &DynTensor<Cpu>, w: &[f32]) -> DynTensor<Cpu> {
    let wt = DynTensor::from_vec(w.to_vec(), x.shape()).unwrap();
    x.mul(&wt).unwrap().sum()
}

/// Gradients of the scalar `f(leaves)` with respect to every leaf.
pub fn analytic_grads(
    leaves: &[DynTensor<Cpu>],
    f: impl Fn(&[DynTensor<Cpu>]) -> DynTensor<Cpu>,
) -> Vec<Vec<f64>> {
    let scope = GradScope::<Cpu>::open();
    let out = f(leaves);
    let grads = scope.backward(&out).unwrap();
    leaves
        .iter()
        .map(|l| f64s(&grads.get_or_zeros(l).to_vec()))
        .collect()
}

/// Central finite difference in `f64` of `host` at `point` along `dir` for argument `arg`.
pub fn fd_host(
    host: &impl Fn(&[Vec<f64>]) -> f64,
    point: &[Vec<f64>],
    arg: usize,
    dir: &[f64],
    h: f64,
) -> f64 {
    let shifted = |s: f64| {
        let mut p = point.to_vec();
        for (x, d) in p[arg].iter_mut().zip(dir) {
            *x += s * d;
        }
        host(&p)
    };
    (shifted(h) - shifted(-h)) / (2.0 * h)
}

/// Unit vector `e_i` of length `n`.
pub fn unit(n: usize, i: usize) -> Vec<f64> {
    let mut e = vec![0.0; n];
    e[i] = 1.0;
    e
}

/// Checks every coordinate of the analytic gradient of `f` against central finite differences
/// of the same `f32` function (for functions that are close to linear at the scale of `h`).
pub fn check_grads(leaves: &[DynTensor<Cpu>], f: impl Fn(&[DynTensor<Cpu>]) -> DynTensor<Cpu>) {
    let g = analytic_grads(leaves, &f);
    for (a, leaf) in leaves.iter().enumerate() {
        let base = leaf.to_vec();
        for i in 0..base.len() {
            let h = 1e-2f32;
            let eval = |s: f32| {
                let mut ls = leaves.to_vec();
                let mut v = base.clone();
                v[i] += s;
                ls[a] = DynTensor::from_vec(v, leaf.shape()).unwrap();
                f(&ls).item().unwrap() as f64
            };
            let fd = (eval(h) - eval(-h)) / (2.0 * h as f64);
            assert!(
                (g[a][i] - fd).abs() <= 1e-2 * fd.abs().max(1.0),
                "d/d arg{a}[{i}]: analytic {}, finite difference {fd}",
                g[a][i]
            );
        }
    }
}

/// Every coordinate `(arg, i)` of the analytic gradients `g` (one vector per argument) against
/// central differences (step 1e-6) of the `f64` reference `host` at `point`, to 1e-4 relative;
/// the coordinates where `skip(arg, i)` holds are left out.
pub fn check_host_grads(
    g: &[Vec<f64>],
    host: &impl Fn(&[Vec<f64>]) -> f64,
    point: &[Vec<f64>],
    skip: impl Fn(usize, usize) -> bool,
) {
    assert_eq!(g.len(), point.len(), "one gradient per argument");
    for (arg, (p, ga)) in point.iter().zip(g).enumerate() {
        assert_eq!(ga.len(), p.len(), "gradient length of argument {arg}");
        for (i, &an) in ga.iter().enumerate() {
            if skip(arg, i) {
                continue;
            }
            let fd = fd_host(host, point, arg, &unit(p.len(), i), 1e-6);
            assert!(
                (an - fd).abs() <= 1e-4 * fd.abs().max(1.0),
                "arg {arg}[{i}]: analytic {an}, fd {fd}"
            );
        }
    }
}
