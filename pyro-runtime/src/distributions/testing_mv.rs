//! Test helpers for multivariate distributions and KL divergences: fixture rows with custom
//! parameter decoding, sample mean/covariance checks, KS tests on projections, Monte Carlo KL.

use dfdx::prelude::Cpu;
use rand::rngs::StdRng;
use rand::SeedableRng;

use super::testing::{ks_statistic, load_fixture, FixtureRow};
use super::{BoxDist, DistResult, Distribution};
use crate::tensor::DynTensor;

/// Checks `log_prob` against every row of `fixtures/<name>.txt` to 1e-4 relative; `build`
/// decodes a whole row (it may look at the value's length to work out dimensions).
pub fn check_fixture_rows(
    name: &str,
    build: impl Fn(&FixtureRow) -> DistResult<BoxDist<Cpu>>,
    value_shape: impl Fn(&FixtureRow) -> Vec<usize>,
) {
    let rows = load_fixture(name);
    assert!(rows.len() >= 20, "{name}: only {} fixture rows", rows.len());
    for r in rows {
        let d = build(&r).unwrap_or_else(|e| panic!("{name} {:?}: {e}", r.params));
        let x = DynTensor::<Cpu>::from_vec(r.value.clone(), &value_shape(&r)).unwrap();
        let lp = d.log_prob(&x).unwrap().item().unwrap() as f64;
        let tol = 1e-4 * r.log_prob.abs().max(1.0);
        assert!(
            (lp - r.log_prob).abs() <= tol,
            "{name} params {:?} value {:?}: got {lp}, scipy {}",
            r.params,
            r.value,
            r.log_prob
        );
    }
}

/// `n = 10^5` draws (seed 1234) of a distribution with event shape `[k]`, as rows of `f64`.
pub fn draw_rows(d: &dyn Distribution<Cpu>, n: usize) -> Vec<Vec<f64>> {
    let mut rng = StdRng::seed_from_u64(1234);
    let x = d.sample(&[n], &mut rng).unwrap();
    let k = *x.shape().last().unwrap();
    x.to_vec()
        .chunks(k)
        .map(|c| c.iter().map(|&v| v as f64).collect())
        .collect()
}

/// Sample mean and covariance within 4 standard errors of `mean` and `cov` (row-major);
/// the standard error of each covariance entry uses the sample's own fourth moments.
pub fn check_mean_cov(xs: &[Vec<f64>], mean: &[f64], cov: &[f64]) {
    let n = xs.len() as f64;
    let k = mean.len();
    let m: Vec<f64> = (0..k)
        .map(|i| xs.iter().map(|x| x[i]).sum::<f64>() / n)
        .collect();
    for i in 0..k {
        let se = (cov[i * k + i] / n).sqrt();
        assert!(
            (m[i] - mean[i]).abs() <= 4.0 * se + 1e-12,
            "mean[{i}] {} vs {} (se {se})",
            m[i],
            mean[i]
        );
    }
    for i in 0..k {
        for j in 0..=i {
            let prods: Vec<f64> = xs.iter().map(|x| (x[i] - m[i]) * (x[j] - m[j])).collect();
            let c = prods.iter().sum::<f64>() / (n - 1.0);
            let v = prods.iter().map(|p| (p - c).powi(2)).sum::<f64>() / n;
            let se = (v / n).sqrt();
            assert!(
                (c - cov[i * k + j]).abs() <= 4.0 * se + 1e-12,
                "cov[{i},{j}] {c} vs {} (se {se})",
                cov[i * k + j]
            );
        }
    }
}

/// KS statistic of the projections `a·x` against `cdf`, below the 0.1% critical value.
pub fn check_projection_ks(xs: &[Vec<f64>], a: &[f64], cdf: impl Fn(f64) -> f64) {
    let mut p: Vec<f64> = xs
        .iter()
        .map(|x| x.iter().zip(a).map(|(u, v)| u * v).sum())
        .collect();
    let n = p.len() as f64;
    let ks = ks_statistic(&mut p, cdf);
    let crit = 1.95 / n.sqrt();
    assert!(
        ks < crit,
        "KS statistic {ks} >= {crit} for projection {a:?}"
    );
}

/// `KL(p || q)` against the Monte Carlo estimate `E_p[log p - log q]` with 10^5 draws
/// (seed 4321), per batch element, within 4 standard errors.
pub fn check_kl_mc(p: &dyn Distribution<Cpu>, q: &dyn Distribution<Cpu>, kl: &DynTensor<Cpu>) {
    let n = 100_000;
    let mut rng = StdRng::seed_from_u64(4321);
    let x = p.sample(&[n], &mut rng).unwrap();
    let diff = p
        .log_prob(&x)
        .unwrap()
        .sub(&q.log_prob(&x).unwrap())
        .unwrap();
    let nb = diff.numel() / n;
    let kv = kl.broadcast_to(&diff.shape()[1..]).unwrap().to_vec();
    let dv = diff.to_vec();
    for b in 0..nb {
        let xs: Vec<f64> = (0..n).map(|i| dv[i * nb + b] as f64).collect();
        let m = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n as f64 - 1.0);
        let se = (var / n as f64).sqrt();
        let want = kv[b] as f64;
        assert!(
            (m - want).abs() <= 4.0 * se + 1e-5 * want.abs().max(1.0),
            "KL({} || {}) batch {b}: analytic {want}, Monte Carlo {m} (se {se})",
            p.name(),
            q.name()
        );
    }
}

/// Gradients of `kl(leaves)` (a scalar) with respect to scalar leaves `theta`, against
/// central differences of the `f64` reference `host(theta)`.
pub fn check_kl_grad(
    theta: &[f32],
    kl: impl Fn(&[DynTensor<Cpu>]) -> DynTensor<Cpu>,
    host: impl Fn(&[f64]) -> f64,
) {
    use crate::linalg::test_util::{analytic_grads, fd_host};
    let leaves: Vec<DynTensor<Cpu>> = theta.iter().map(|&v| DynTensor::scalar(v)).collect();
    let g = analytic_grads(&leaves, kl);
    let point: Vec<Vec<f64>> = theta.iter().map(|&v| vec![v as f64]).collect();
    let flat = |p: &[Vec<f64>]| host(&p.iter().map(|v| v[0]).collect::<Vec<_>>());
    for i in 0..theta.len() {
        let h = 1e-6 * (theta[i] as f64).abs().max(1e-2);
        let fd = fd_host(&flat, &point, i, &[1.0], h);
        assert!(
            (g[i][0] - fd).abs() <= 1e-4 * fd.abs().max(1.0),
            "d KL / dθ{i} at {theta:?}: analytic {}, finite difference {fd}",
            g[i][0]
        );
    }
}
