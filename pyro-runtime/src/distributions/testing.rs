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

// ----- discrete distributions -------------------------------------------------------------------

/// Result of a chi-square goodness-of-fit test.
#[derive(Debug, Clone, Copy)]
pub struct ChiSquare {
    /// Pearson's statistic `Σ (O - E)² / E` over the pooled bins.
    pub stat: f64,
    /// Degrees of freedom (pooled bins minus one).
    pub df: usize,
    /// The 0.1% critical value for `df` ([`chi_square_critical`]).
    pub crit: f64,
}

/// Upper 0.1% quantile of χ²(df) by the Wilson–Hilferty approximation
/// `df (1 - 2/(9 df) + z √(2/(9 df)))³` with `z = Φ⁻¹(0.999)`.
pub fn chi_square_critical(df: usize) -> f64 {
    const Z_999: f64 = 3.090_232_306_167_813;
    let k = df as f64;
    let a = 2.0 / (9.0 * k);
    k * (1.0 - a + Z_999 * a.sqrt()).powi(3)
}

/// Pearson's chi-square statistic of integer samples on `{0, 1, 2, ...}` against `pmf`.
///
/// Bins are the integers `0, 1, ...` up to the point where the pmf's cumulative mass exceeds
/// `1 - 1e-9` and every sample is covered, plus one bin for the remaining mass; consecutive
/// bins are pooled until each has an expected count of at least 5 (a short last pool joins
/// the one before). Panics if a sample is not a non-negative integer or has zero pmf.
pub fn chi_square(samples: &[f64], pmf: impl Fn(u64) -> f64) -> ChiSquare {
    let n = samples.len() as f64;
    let mut max = 0u64;
    let mut counts = std::collections::HashMap::<u64, f64>::new();
    for &x in samples {
        assert!(
            x >= 0.0 && x == x.floor() && x.is_finite(),
            "sample {x} is not a non-negative integer"
        );
        let k = x as u64;
        max = max.max(k);
        *counts.entry(k).or_default() += 1.0;
    }
    // (observed, expected) per bin.
    let mut bins: Vec<(f64, f64)> = Vec::new();
    let mut cum = 0.0;
    let mut k = 0u64;
    while k <= max || cum < 1.0 - 1e-9 {
        assert!(k < 100_000_000, "pmf mass does not reach 1 (only {cum})");
        let p = pmf(k);
        let o = counts.get(&k).copied().unwrap_or(0.0);
        assert!(p > 0.0 || o == 0.0, "sample {k} has zero probability");
        cum += p;
        bins.push((o, n * p));
        k += 1;
    }
    bins.push((0.0, n * (1.0 - cum).max(0.0)));
    let mut pools: Vec<(f64, f64)> = Vec::new();
    let mut acc = (0.0, 0.0);
    for (o, e) in bins {
        acc.0 += o;
        acc.1 += e;
        if acc.1 >= 5.0 {
            pools.push(acc);
            acc = (0.0, 0.0);
        }
    }
    match pools.last_mut() {
        Some(last) => {
            last.0 += acc.0;
            last.1 += acc.1;
        }
        None => pools.push(acc),
    }
    let stat = pools.iter().map(|(o, e)| (o - e).powi(2) / e).sum();
    let df = pools.len().saturating_sub(1);
    ChiSquare {
        stat,
        df,
        crit: chi_square_critical(df.max(1)),
    }
}

/// Asserts that integer samples fit `pmf` at the 0.1% level ([`chi_square`]).
pub fn check_chi_square(samples: &[f64], pmf: impl Fn(u64) -> f64) {
    let c = chi_square(samples, pmf);
    assert!(
        c.stat < c.crit,
        "chi-square statistic {} >= critical value {} (df {})",
        c.stat,
        c.crit,
        c.df
    );
}

/// Draws 10^5 values with a fixed seed; checks mean and variance to 4 standard errors and
/// the chi-square goodness of fit against `pmf` (support within `{0, 1, 2, ...}`).
pub fn check_discrete_sampler(
    d: &dyn super::Distribution<Cpu>,
    mean: f64,
    var: f64,
    pmf: impl Fn(u64) -> f64,
) {
    let n = 100_000;
    let mut rng = StdRng::seed_from_u64(4321);
    let xs = d.sample(&[n], &mut rng).unwrap();
    assert_eq!(xs.shape()[0], n);
    let xs: Vec<f64> = xs.to_vec().into_iter().map(|x| x as f64).collect();
    check_moments(&xs, mean, var);
    check_chi_square(&xs, pmf);
}

/// Checks the gradient of `sum(log_prob(value))` with respect to every element of every
/// parameter against central finite differences. `params` are `(values, shape)` pairs;
/// `build` gets them as leaf tensors.
pub fn check_log_prob_grad(
    params: &[(&[f32], &[usize])],
    value: &DynTensor<Cpu>,
    build: impl Fn(&[DynTensor<Cpu>]) -> DistResult<BoxDist<Cpu>>,
) {
    let leaves = |vals: &[Vec<f32>]| -> Vec<DynTensor<Cpu>> {
        vals.iter()
            .zip(params)
            .map(|(v, (_, s))| DynTensor::from_vec(v.clone(), s).unwrap())
            .collect()
    };
    let base: Vec<Vec<f32>> = params.iter().map(|(v, _)| v.to_vec()).collect();
    let ls = leaves(&base);
    let scope = GradScope::<Cpu>::open();
    let d = build(&ls).unwrap();
    let lp = d.log_prob(value).unwrap().sum();
    let flats: Vec<_> = ls.iter().map(|l| l.flat().clone()).collect();
    let grads = scope
        .backward_any(lp.to_scalar_tensor().unwrap(), |g| {
            for f in &flats {
                g.try_alloc_for(f)?;
            }
            Ok(())
        })
        .unwrap();
    let f = |vals: &[Vec<f32>]| -> f64 {
        let d = build(&leaves(vals)).unwrap();
        d.log_prob(value).unwrap().sum().item().unwrap() as f64
    };
    for (i, l) in ls.iter().enumerate() {
        let analytic = grads.get(l.flat()).as_vec();
        for (j, &t) in base[i].iter().enumerate() {
            let h = 1e-2 * t.abs().max(0.1);
            let (mut up, mut down) = (base.clone(), base.clone());
            up[i][j] = t + h;
            down[i][j] = t - h;
            let h = ((up[i][j] - down[i][j]) as f64) / 2.0;
            let fd = (f(&up) - f(&down)) / (2.0 * h);
            let a = analytic[j] as f64;
            assert!(
                (a - fd).abs() <= 1e-2 * fd.abs().max(1.0),
                "{} d/dθ{i}[{j}] at {t}: analytic {a}, finite difference {fd}",
                d.name()
            );
        }
    }
}

#[test]
fn chi_square_critical_values_match_scipy() {
    // scipy.stats.chi2.ppf(0.999, df)
    for (df, want) in [
        (2, 13.815510557964274),
        (5, 20.515005652432873),
        (10, 29.58829844507442),
        (30, 59.70306380665734),
        (100, 149.44925277903983),
    ] {
        let got = chi_square_critical(df);
        assert!((got - want).abs() < 0.03 * want, "df {df}: {got} vs {want}");
    }
}

#[test]
fn chi_square_accepts_the_right_pmf_and_rejects_a_wrong_one() {
    // Exact binomial(4, 1/2) frequencies scaled to 16000 draws, then a sample from a
    // different distribution.
    let counts = [1000.0, 4000.0, 6000.0, 4000.0, 1000.0];
    let xs: Vec<f64> = counts
        .iter()
        .enumerate()
        .flat_map(|(k, &c)| vec![k as f64; c as usize])
        .collect();
    let pmf = |k: u64| {
        [1.0, 4.0, 6.0, 4.0, 1.0]
            .get(k as usize)
            .map_or(0.0, |c| c / 16.0)
    };
    let c = chi_square(&xs, pmf);
    assert!(c.stat < 1e-9 && c.df == 4, "{c:?}");
    let wrong = |k: u64| {
        [0.07, 0.25, 0.36, 0.25, 0.07]
            .get(k as usize)
            .copied()
            .unwrap_or(0.0)
    };
    let c = chi_square(&xs, wrong);
    assert!(c.stat > c.crit, "{c:?}");
}
