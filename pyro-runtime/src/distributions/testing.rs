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
    let draw = |params: &[DynTensor<Cpu>]| {
        let mut rng = StdRng::seed_from_u64(99);
        build(params).unwrap().rsample(&[64], &mut rng).unwrap()
    };
    check_scalar_grads(&name_of(theta, &build), theta, draw);
}

/// Checks [`Distribution::rsample_with_log_prob`] where it fuses the density: the density
/// equals `log_prob` of the draw, and its gradient with respect to the scalar parameters
/// `theta` (through the draw, which moves with them) matches central finite differences.
pub fn check_fused_draw_log_prob(
    theta: &[f32],
    build: impl Fn(&[DynTensor<Cpu>]) -> DistResult<BoxDist<Cpu>>,
) {
    // The draw with the noise of seed 7, its fused density, and the distribution.
    let run = |params: &[DynTensor<Cpu>]| -> (DynTensor<Cpu>, DynTensor<Cpu>, BoxDist<Cpu>) {
        let d = build(params).unwrap();
        let mut rng = StdRng::seed_from_u64(7);
        let (x, lp) = d.rsample_with_log_prob(&[], &mut rng).unwrap();
        let lp = lp.unwrap_or_else(|| panic!("{}: the density was not fused", d.name()));
        (x, lp, d)
    };
    let leaves: Vec<DynTensor<Cpu>> = theta.iter().map(|&t| DynTensor::scalar(t)).collect();
    let (x, lp, d) = run(&leaves);
    let direct = d.log_prob(&x).unwrap();
    assert_eq!(lp.shape(), direct.shape());
    for (a, b) in lp.to_vec().iter().zip(&direct.to_vec()) {
        assert!(
            (a - b).abs() <= 1e-5 * b.abs().max(1.0),
            "{}: {a} vs {b}",
            d.name()
        );
    }
    check_scalar_grads(d.name(), theta, |p| run(p).1);
}

/// The name of the distribution `build` makes at `theta`.
fn name_of(
    theta: &[f32],
    build: &impl Fn(&[DynTensor<Cpu>]) -> DistResult<BoxDist<Cpu>>,
) -> String {
    let leaves: Vec<DynTensor<Cpu>> = theta.iter().map(|&t| DynTensor::scalar(t)).collect();
    build(&leaves).unwrap().name().to_string()
}

/// Checks the gradient of `Σ f(θ)` with respect to each scalar parameter `θ_i` (through the
/// tape) against central finite differences of `f` (relative tolerance 2e-2); `name` labels
/// failures.
fn check_scalar_grads(name: &str, theta: &[f32], f: impl Fn(&[DynTensor<Cpu>]) -> DynTensor<Cpu>) {
    let scalars =
        |v: &[f32]| -> Vec<DynTensor<Cpu>> { v.iter().map(|&t| DynTensor::scalar(t)).collect() };
    let leaves = scalars(theta);
    let scope = GradScope::<Cpu>::open();
    let s = f(&leaves).sum();
    let grads = scope.backward(&s).unwrap();
    for (i, &t) in theta.iter().enumerate() {
        let analytic = grads.get_or_zeros(&leaves[i]).to_vec()[0] as f64;
        let at = |v: f32| -> f64 {
            let mut p = theta.to_vec();
            p[i] = v;
            f(&scalars(&p)).to_vec().iter().map(|&x| x as f64).sum()
        };
        let h = 1e-2 * t.abs().max(0.1);
        let fd = (at(t + h) - at(t - h)) / (2.0 * h as f64);
        assert!(
            (analytic - fd).abs() <= 2e-2 * fd.abs().max(1.0),
            "{name} d/dθ{i}: analytic {analytic}, finite difference {fd}"
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
    let grads = scope.backward(&lp).unwrap();
    let f = |vals: &[Vec<f32>]| -> f64 {
        let d = build(&leaves(vals)).unwrap();
        d.log_prob(value).unwrap().sum().item().unwrap() as f64
    };
    for (i, l) in ls.iter().enumerate() {
        let analytic = grads.get_or_zeros(l).to_vec();
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

/// [`check_sampler`] without the moment part, for heavy-tailed distributions whose sample
/// moments do not settle (Cauchy, HalfCauchy, StudentT with small df): 10^5 draws, KS
/// statistic against the 0.1% critical value.
pub fn check_sampler_ks(d: &dyn super::Distribution<Cpu>, cdf: impl Fn(f64) -> f64) {
    let n = 100_000;
    let mut rng = StdRng::seed_from_u64(4321);
    let xs = d.sample(&[n], &mut rng).unwrap().to_vec();
    assert!(xs.iter().all(|x| !x.is_nan()), "{}: NaN draw", d.name());
    let mut xs: Vec<f64> = xs.into_iter().map(|x| x as f64).collect();
    let ks = ks_statistic(&mut xs, cdf);
    let crit = 1.95 / (n as f64).sqrt();
    assert!(ks < crit, "{}: KS statistic {ks} >= {crit}", d.name());
}

/// Compares `mean()` and `variance()` with `fixtures/<name>_moments.txt` (rows
/// `params ; mean variance ; 0`): `nan` means the quantity must be `DistError::Undefined`,
/// `inf` that it must be `+inf`, anything else must agree to 1e-5 relative.
pub fn check_moments_fixture(name: &str, build: impl Fn(&[f32]) -> DistResult<BoxDist<Cpu>>) {
    let file = format!("{name}_moments");
    let rows = load_fixture(&file);
    assert!(!rows.is_empty(), "{file}: no rows");
    for r in rows {
        let d = build(&r.params).unwrap_or_else(|e| panic!("{file} {:?}: {e}", r.params));
        for (what, got, want) in [
            ("mean", d.mean(), r.value[0] as f64),
            ("variance", d.variance(), r.value[1] as f64),
        ] {
            if want.is_nan() {
                assert!(
                    matches!(got, Err(super::DistError::Undefined { .. })),
                    "{file} {:?}: {what} should be undefined, got {got:?}",
                    r.params
                );
                continue;
            }
            let got = got
                .unwrap_or_else(|e| panic!("{file} {:?}: {what}: {e}", r.params))
                .to_vec();
            assert_eq!(got.len(), 1, "{file}: {what} has shape != batch shape []");
            let got = got[0] as f64;
            if want.is_infinite() {
                assert_eq!(got, want, "{file} {:?}: {what}", r.params);
            } else {
                assert!(
                    (got - want).abs() <= 1e-5 * want.abs().max(1e-30),
                    "{file} {:?}: {what} {got}, scipy {want}",
                    r.params
                );
            }
        }
    }
}

/// Checks the analytic partial derivatives of a host kernel `f(p) -> (value, partials)`
/// (as used with `host_map`) against central differences in `f64` at `point`.
pub fn check_partials<const N: usize>(f: impl Fn([f64; N]) -> (f64, [f64; N]), point: [f64; N]) {
    check_partials_step(f, point, 1e-6)
}

/// [`check_partials`] with central differences of relative step `rel` (a wider step for
/// kernels whose host special functions carry small absolute errors).
pub fn check_partials_step<const N: usize>(
    f: impl Fn([f64; N]) -> (f64, [f64; N]),
    point: [f64; N],
    rel: f64,
) {
    let (_, g) = f(point);
    for i in 0..N {
        let h = rel * point[i].abs().max(1e-3);
        let mut hi = point;
        let mut lo = point;
        hi[i] += h;
        lo[i] -= h;
        let fd = (f(hi).0 - f(lo).0) / (2.0 * h);
        assert!(
            (g[i] - fd).abs() <= 1e-6 * fd.abs().max(1.0),
            "partial {i} at {point:?}: analytic {}, finite difference {fd}",
            g[i]
        );
    }
}

/// Statistical check of a reparameterized gradient that cannot be compared with finite
/// differences at fixed noise (implicit reparameterization): every parameter is a leaf of
/// shape `[n]` (one copy per draw), one batch of `n` draws is taken, and the per-draw
/// gradients `d f(x_i) / dθ_i` (θ = parameter `which`) must average to `want`, the derivative
/// of `E[f(x)]`, within 4 standard errors.
pub fn check_mean_grad(
    theta: &[f32],
    which: usize,
    f: impl Fn(&DynTensor<Cpu>) -> DynTensor<Cpu>,
    want: f64,
    build: impl Fn(&[DynTensor<Cpu>]) -> DistResult<BoxDist<Cpu>>,
) {
    let n = 20_000;
    let leaves: Vec<DynTensor<Cpu>> = theta.iter().map(|&t| DynTensor::full(&[n], t)).collect();
    let scope = GradScope::<Cpu>::open();
    let d = build(&leaves).unwrap();
    let mut rng = StdRng::seed_from_u64(2024);
    let x = d.rsample(&[], &mut rng).unwrap();
    assert_eq!(x.shape(), &[n]);
    let loss = f(&x).sum();
    let grads = scope.backward(&loss).unwrap();
    let g: Vec<f64> = grads
        .get_or_zeros(&leaves[which])
        .to_vec()
        .iter()
        .map(|&v| v as f64)
        .collect();
    assert!(g.iter().all(|v| v.is_finite()), "non-finite gradient");
    let m = g.iter().sum::<f64>() / n as f64;
    let var = g.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (n as f64 - 1.0);
    let se = (var / n as f64).sqrt();
    assert!(
        (m - want).abs() <= 4.0 * se + 1e-6 * want.abs(),
        "{}: mean gradient {m} ± {se}, want {want}",
        d.name()
    );
}

/// The regularized incomplete beta function `I_x(a, b)` in `f64` (continued fraction,
/// evaluated on the side of `(a+1)/(a+b+2)` where it converges fast), for test cdfs.
pub fn betainc(a: f64, b: f64, x: f64) -> f64 {
    use crate::tensor::special::scalar::lgamma;
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    if x > (a + 1.0) / (a + b + 2.0) {
        return 1.0 - betainc(b, a, 1.0 - x);
    }
    // x^a (1-x)^b / (a B(a, b)) times the continued fraction 1/(1+ d1/(1+ d2/(1+ ...))).
    let front = (a * x.ln() + b * (1.0 - x).ln() + lgamma(a + b) - lgamma(a) - lgamma(b)).exp() / a;
    const TINY: f64 = 1e-300;
    let guard = |v: f64| if v.abs() < TINY { TINY } else { v };
    let mut c = 1.0;
    let mut d = 1.0 / guard(1.0 - (a + b) * x / (a + 1.0));
    let mut h = d;
    for m in 1..10_000 {
        let m = m as f64;
        // Even step.
        let num = m * (b - m) * x / ((a + 2.0 * m - 1.0) * (a + 2.0 * m));
        d = 1.0 / guard(1.0 + num * d);
        c = guard(1.0 + num / c);
        h *= d * c;
        // Odd step.
        let num = -(a + m) * (a + b + m) * x / ((a + 2.0 * m) * (a + 2.0 * m + 1.0));
        d = 1.0 / guard(1.0 + num * d);
        c = guard(1.0 + num / c);
        let del = d * c;
        h *= del;
        if (del - 1.0).abs() < 1e-15 {
            break;
        }
    }
    front * h
}

/// The cdf of Student's t with `df` degrees of freedom (standard location and scale).
pub fn student_t_cdf(df: f64, t: f64) -> f64 {
    let tail = 0.5 * betainc(0.5 * df, 0.5, df / (df + t * t));
    if t > 0.0 {
        1.0 - tail
    } else {
        tail
    }
}

/// A typed rank-1 parameter `Tensor<(usize,)>` on the graph with the given values.
pub fn typed_vec(v: &[f32]) -> crate::tensor::Tensor<(usize,)> {
    crate::tensor::Tensor::from_vec(v.to_vec(), (v.len(),)).unwrap()
}

/// Shapes of a distribution `d` with batch shape `[3]` and value type `(usize,)`, and of its
/// typed expansion `e` to `[2, 3]`: typed draws, sample and `log_prob` shapes, `expand_box`.
pub fn check_expand_and_typed_shapes<T, E>(d: &T, e: &E)
where
    T: super::TypedDistribution<Cpu, Shape = (usize,)>,
    E: super::TypedDistribution<Cpu, Shape = (usize, usize)>,
{
    assert_eq!(d.batch_shape(), &[3]);
    let x: crate::tensor::Tensor<(usize,)> = d.draw().unwrap();
    assert_eq!(x.shape().0, 3);
    assert_eq!(e.batch_shape(), &[2, 3]);
    let mut rng = StdRng::seed_from_u64(0);
    let s = e.sample(&[4], &mut rng).unwrap();
    assert_eq!(s.shape(), &[4, 2, 3]);
    assert_eq!(e.log_prob(&s).unwrap().shape(), &[4, 2, 3]);
    assert_eq!(d.expand_box(&[5, 3]).unwrap().batch_shape(), &[5, 3]);
}

/// With validation on: building from each `(params, name)` of `bad` fails with
/// `InvalidParameter` naming `name`, and `log_prob(outside)` under `build(good)` fails with
/// `OutOfSupport`.
pub fn check_rejects(
    build: impl Fn(&[f32]) -> DistResult<BoxDist<Cpu>>,
    bad: &[(&[f32], &str)],
    good: &[f32],
    outside: f32,
) {
    crate::enable_validation(true);
    for (params, name) in bad {
        match build(params) {
            Err(super::DistError::InvalidParameter { param, .. }) if param == *name => {}
            other => panic!("{params:?}: expected an invalid `{name}`, got {other:?}"),
        }
    }
    let d = build(good).unwrap();
    let e = d.log_prob(&DynTensor::scalar(outside)).unwrap_err();
    assert!(matches!(e, super::DistError::OutOfSupport { .. }), "{e}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn betainc_matches_scipy() {
        let rows = load_fixture("betainc");
        assert!(rows.len() >= 20);
        for r in rows {
            let (a, b, x) = (r.params[0] as f64, r.params[1] as f64, r.value[0] as f64);
            let got = betainc(a, b, x);
            assert!(
                (got - r.log_prob).abs() <= 1e-12 + 1e-9 * r.log_prob,
                "I_{x}({a}, {b}) = {got}, scipy {}",
                r.log_prob
            );
        }
    }
}
