//! Shared test helpers: scipy fixtures, sampler checks, finite-difference gradient checks.

use dfdx::prelude::Cpu;
use rand::rngs::StdRng;
use rand::SeedableRng;

use super::{BoxDist, DistResult};
use crate::tensor::{DynTensor, GradScope};

/// One fixture row: parameters, value, expected log-density.
pub struct FixtureRow {
    pub params: Vec<f32>,
    pub value: Vec<f32>,
    pub log_prob: f64,
}

/// Reads `fixtures/<name>.txt` (written by `scripts/gen_fixtures.py`): lines
/// `p1 p2 ... ; x1 x2 ... ; logp`, `#` starts a comment.
pub fn load_fixture(name: &str) -> Vec<FixtureRow> {
    let path = format!("{}/fixtures/{name}.txt", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let nums = |s: &str| -> Vec<f32> {
        s.split_whitespace()
            .map(|t| {
                t.parse::<f64>()
                    .unwrap_or_else(|e| panic!("{path}: {t}: {e}")) as f32
            })
            .collect()
    };
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let parts: Vec<&str> = l.split(';').collect();
            assert_eq!(parts.len(), 3, "{path}: bad line {l}");
            FixtureRow {
                params: nums(parts[0]),
                value: nums(parts[1]),
                log_prob: parts[2].trim().parse().unwrap(),
            }
        })
        .collect()
}

/// Checks `log_prob` against every fixture row to 1e-4 relative (f32). The value's shape is
/// `[]` for one number, `[n]` otherwise, unless `value_shape` says otherwise.
pub fn check_fixture(name: &str, build: impl Fn(&[f32]) -> DistResult<BoxDist<Cpu>>) {
    check_fixture_shaped(name, build, |v| {
        if v.len() == 1 {
            vec![]
        } else {
            vec![v.len()]
        }
    })
}

/// [`check_fixture`] with an explicit value shape.
pub fn check_fixture_shaped(
    name: &str,
    build: impl Fn(&[f32]) -> DistResult<BoxDist<Cpu>>,
    value_shape: impl Fn(&[f32]) -> Vec<usize>,
) {
    let rows = load_fixture(name);
    assert!(rows.len() >= 20, "{name}: only {} fixture rows", rows.len());
    for r in rows {
        let d = build(&r.params).unwrap_or_else(|e| panic!("{name} {:?}: {e}", r.params));
        let x = DynTensor::<Cpu>::from_vec(r.value.clone(), &value_shape(&r.value)).unwrap();
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

/// Kolmogorov–Smirnov statistic of `xs` against `cdf`.
pub fn ks_statistic(xs: &mut [f64], cdf: impl Fn(f64) -> f64) -> f64 {
    xs.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = xs.len() as f64;
    let mut d: f64 = 0.0;
    for (i, &x) in xs.iter().enumerate() {
        let f = cdf(x);
        d = d
            .max((f - i as f64 / n).abs())
            .max(((i + 1) as f64 / n - f).abs());
    }
    d
}

/// Draws 10^5 values with a fixed seed; checks mean and variance to 4 standard errors and
/// the KS statistic against the 0.1% critical value (1.95 / √n).
pub fn check_sampler(
    d: &dyn super::Distribution<Cpu>,
    mean: f64,
    var: f64,
    cdf: impl Fn(f64) -> f64,
) {
    let n = 100_000;
    let mut rng = StdRng::seed_from_u64(1234);
    let xs = d.sample(&[n], &mut rng).unwrap().to_vec();
    let mut xs: Vec<f64> = xs.into_iter().map(|x| x as f64).collect();
    check_moments(&xs, mean, var);
    let ks = ks_statistic(&mut xs, cdf);
    let crit = 1.95 / (n as f64).sqrt();
    assert!(ks < crit, "{}: KS statistic {ks} >= {crit}", d.name());
}

/// Mean within 4 standard errors, variance within 4 standard errors (normal approximation
/// of the sample variance, using the sample's fourth moment).
pub fn check_moments(xs: &[f64], mean: f64, var: f64) {
    let n = xs.len() as f64;
    let m = xs.iter().sum::<f64>() / n;
    let v = xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0);
    let m4 = xs.iter().map(|x| (x - m).powi(4)).sum::<f64>() / n;
    assert!(
        (m - mean).abs() <= 4.0 * (var / n).sqrt() + 1e-9,
        "mean {m} vs {mean}"
    );
    let se_v = ((m4 - v * v) / n).sqrt();
    assert!(
        (v - var).abs() <= 4.0 * se_v + 1e-9,
        "variance {v} vs {var}"
    );
}

/// Checks d/dθ sum(rsample) against central finite differences with the same noise.
pub fn check_rsample_grad(
    theta: &[f32],
    build: impl Fn(&[DynTensor<Cpu>]) -> DistResult<BoxDist<Cpu>>,
) {
    let n = 64;
    // Analytic gradient.
    let leaves: Vec<DynTensor<Cpu>> = theta.iter().map(|&t| DynTensor::scalar(t)).collect();
    let scope = GradScope::<Cpu>::open();
    let d = build(&leaves).unwrap();
    let mut rng = StdRng::seed_from_u64(99);
    let s = d.rsample(&[n], &mut rng).unwrap().sum();
    let flats: Vec<_> = leaves.iter().map(|l| l.flat().clone()).collect();
    let grads = scope
        .backward_any(s.to_scalar_tensor().unwrap(), |g| {
            for f in &flats {
                g.try_alloc_for(f)?;
            }
            Ok(())
        })
        .unwrap();
    for (i, &t) in theta.iter().enumerate() {
        let analytic = grads.get(leaves[i].flat()).as_vec()[0] as f64;
        let f = |v: f32| -> f64 {
            let mut p: Vec<DynTensor<Cpu>> = theta.iter().map(|&t| DynTensor::scalar(t)).collect();
            p[i] = DynTensor::scalar(v);
            let d = build(&p).unwrap();
            let mut rng = StdRng::seed_from_u64(99);
            d.rsample(&[n], &mut rng)
                .unwrap()
                .to_vec()
                .iter()
                .map(|&x| x as f64)
                .sum()
        };
        let h = 1e-2 * t.abs().max(0.1);
        let fd = (f(t + h) - f(t - h)) / (2.0 * h as f64);
        assert!(
            (analytic - fd).abs() <= 2e-2 * fd.abs().max(1.0),
            "{} d/dθ{i}: analytic {analytic}, finite difference {fd}",
            d.name()
        );
    }
}
