//! MCMC convergence diagnostics: rank-normalized split R-hat, bulk and tail effective sample
//! sizes, Monte Carlo standard errors, and the per-site summary table an MCMC run prints.
//!
//! The estimators are those of Vehtari, Gelman, Simpson, Carpenter and Bürkner (2021),
//! *Rank-normalization, folding, and localization: an improved R-hat for assessing convergence
//! of MCMC* (Bayesian Analysis 16(2)), with ArviZ's conventions (`arviz.rhat(method="rank")`,
//! `arviz.ess(method="bulk" | "tail")`, `arviz.mcse(method="mean" | "quantile")`), against
//! whose values on fixed draws they are tested (the fixture is written by
//! `scripts/mcmc_diagnostics_arviz.py`):
//!
//! - the draws of one scalar are given as chains, `&[Vec<f64>]`, one `Vec` per chain, all of
//!   the same length;
//! - *split*: each chain is cut into its first and its last `⌊n/2⌋` draws (the middle draw of
//!   an odd-length chain is dropped), giving `2m` chains;
//! - *rank normalization*: the draws of all (split) chains together are replaced by their
//!   ranks (ties get the average of their ranks, as `scipy.stats.rankdata`), mapped to normal
//!   scores `Φ⁻¹((r - 3/8) / (S + 1/4))` (Blom's offset, `S` the number of draws);
//! - *folding*: `|x - median(x)|`, the median of all split draws;
//! - the effective sample size uses the multi-chain autocorrelation estimate of the paper's
//!   eq. (10) and Geyer's initial positive then initial monotone sequence, with ArviZ's
//!   truncation details (the last positive even lag counted once; `τ ≥ 1/log10(S)`).
//!
//! ## Edge cases (defined values, never a panic)
//!
//! Every function returns NaN when the input is not a valid set of chains: no chain, chains of
//! different lengths, fewer than 4 draws per chain, or a NaN among the draws (ArviZ returns
//! NaN for the last two as well). Beyond that:
//!
//! - **one chain**: split R-hat compares the chain's two halves (the paper's definition). This
//!   differs from `arviz.rhat`, which refuses a single chain and returns NaN; the fixture
//!   checks the value against ArviZ's own split/rank computation on the two halves.
//! - **all draws equal** (a constant site): ESS is the number of draws used (the split draws,
//!   `2m⌊n/2⌋`), MCSE of the mean 0, and R-hat **NaN** (0/0: no within- and no between-chain
//!   variance), all as ArviZ.
//! - **each chain constant at a different value**: R-hat is `+∞` (no within-chain variance),
//!   ESS small and finite, as ArviZ.
//! - infinite draws are ranked like any other (ESS and R-hat stay finite); the MCSE of the
//!   mean is then NaN. Should the median itself be infinite, the folded draws are NaN and so
//!   is the tail R-hat; [`split_rhat`] then returns the bulk one, as ArviZ (Python's
//!   `max(bulk, nan)` is `bulk`).
//!
//! ```
//! use pyro::infer::mcmc::diagnostics::{ess_bulk, split_rhat};
//! // Two chains exploring disjoint regions: R-hat flags them, the bulk ESS is tiny.
//! let a: Vec<f64> = (0..100).map(|i| ((i * 37) % 101) as f64 / 100.0).collect();
//! let b: Vec<f64> = a.iter().map(|v| v + 3.0).collect();
//! let chains = vec![a, b];
//! assert!(split_rhat(&chains) > 1.5);
//! assert!(ess_bulk(&chains) < 5.0);
//! ```

use std::fmt::Write as _;

use thiserror::Error;

use crate::tensor::special::scalar::{lgamma, ndtri};

/// ArviZ's tail probabilities for [`ess_tail`].
const TAIL_PROBS: (f64, f64) = (0.05, 0.95);

/// The number of chains and draws per chain when `chains` is a valid input (at least one
/// chain, all of the same length, at least `min_draws` draws, no NaN).
fn validate(chains: &[Vec<f64>], min_draws: usize) -> Option<(usize, usize)> {
    let n = chains.first()?.len();
    if n < min_draws
        || chains
            .iter()
            .any(|c| c.len() != n || c.iter().any(|v| v.is_nan()))
    {
        return None;
    }
    Some((chains.len(), n))
}

// ---------------------------------------------------------------------------------------------
// Autocovariance (radix-2 FFT)
// ---------------------------------------------------------------------------------------------

/// In-place iterative radix-2 FFT of `re + i im` (length a power of two), `exp(-2πi jk/n)`.
fn fft(re: &mut [f64], im: &mut [f64]) {
    let n = re.len();
    debug_assert!(n.is_power_of_two() && im.len() == n);
    // Bit-reversal permutation.
    let mut j = 0usize;
    for i in 1..n {
        let mut bit = n >> 1;
        while j & bit != 0 {
            j ^= bit;
            bit >>= 1;
        }
        j |= bit;
        if i < j {
            re.swap(i, j);
            im.swap(i, j);
        }
    }
    // Twiddles exp(-2πi k/n), k < n/2, each from its own sin/cos (no recurrence error).
    let twiddles: Vec<(f64, f64)> = (0..n / 2)
        .map(|k| {
            let (s, c) = (-2.0 * std::f64::consts::PI * k as f64 / n as f64).sin_cos();
            (c, s)
        })
        .collect();
    let mut len = 2;
    while len <= n {
        let step = n / len;
        for start in (0..n).step_by(len) {
            for k in 0..len / 2 {
                let (wr, wi) = twiddles[k * step];
                let (a, b) = (start + k, start + k + len / 2);
                let tr = re[b] * wr - im[b] * wi;
                let ti = re[b] * wi + im[b] * wr;
                re[b] = re[a] - tr;
                im[b] = im[a] - ti;
                re[a] += tr;
                im[a] += ti;
            }
        }
        len <<= 1;
    }
}

/// The autocovariance of one chain at every lag `0..n`, `γ_k = (1/n) Σ_{t<n-k} (x_t - x̄)(x_{t+k} - x̄)`
/// (the biased estimate, divided by `n` at every lag, as in the paper and ArviZ), computed in
/// `O(n log n)` by FFT of the zero-padded centred chain. Empty for an empty chain.
///
/// ```
/// use pyro::infer::mcmc::diagnostics::autocovariance;
/// let acov = autocovariance(&[1.0, 2.0, 3.0, 4.0]);
/// // Centred: -1.5, -0.5, 0.5, 1.5.
/// let c = [-1.5, -0.5, 0.5, 1.5];
/// for k in 0..4 {
///     let direct = (0..4 - k).map(|t| c[t] * c[t + k]).sum::<f64>() / 4.0;
///     assert!((acov[k] - direct).abs() < 1e-12);
/// }
/// assert!((acov[0] - 1.25).abs() < 1e-12 && (acov[3] + 0.5625).abs() < 1e-12);
/// ```
pub fn autocovariance(x: &[f64]) -> Vec<f64> {
    let n = x.len();
    if n == 0 {
        return Vec::new();
    }
    let mean = x.iter().sum::<f64>() / n as f64;
    let m = (2 * n).next_power_of_two();
    let mut re = vec![0.0; m];
    let mut im = vec![0.0; m];
    for (r, v) in re.iter_mut().zip(x) {
        *r = v - mean;
    }
    fft(&mut re, &mut im);
    // |X|² is real and even, so the inverse transform is the forward one divided by m.
    for (r, i) in re.iter_mut().zip(im.iter_mut()) {
        *r = *r * *r + *i * *i;
        *i = 0.0;
    }
    fft(&mut re, &mut im);
    re.truncate(n);
    let scale = 1.0 / (m as f64 * n as f64);
    re.iter_mut().for_each(|v| *v *= scale);
    re
}

// ---------------------------------------------------------------------------------------------
// Building blocks: split, ranks, z-scale, fold, R-hat and ESS of given chains
// ---------------------------------------------------------------------------------------------

/// The `2m` half chains: the first and the last `⌊n/2⌋` draws of each chain, first halves
/// first (ArviZ's order; no statistic depends on it).
fn split_chains(chains: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let n = chains[0].len();
    let half = n / 2;
    let firsts = chains.iter().map(|c| c[..half].to_vec());
    let lasts = chains.iter().map(|c| c[n - half..].to_vec());
    firsts.chain(lasts).collect()
}

/// Average ranks, 1-based (`scipy.stats.rankdata(method="average")`); no NaN in `x`.
fn average_ranks(x: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..x.len()).collect();
    order.sort_by(|&a, &b| x[a].total_cmp(&x[b]));
    let mut ranks = vec![0.0; x.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i + 1;
        // `==`, not total_cmp: -0.0 and 0.0 tie, as in scipy.
        while j < order.len() && x[order[j]] == x[order[i]] {
            j += 1;
        }
        // Ranks i+1 ..= j share their mean.
        let r = (i + 1 + j) as f64 / 2.0;
        for &k in &order[i..j] {
            ranks[k] = r;
        }
        i = j;
    }
    ranks
}

/// Rank normalization of all draws together: `Φ⁻¹((r - 3/8) / (S + 1/4))`.
fn z_scale(chains: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let flat: Vec<f64> = chains.iter().flatten().copied().collect();
    if flat.iter().any(|v| v.is_nan()) {
        // Only from folding infinite draws around an infinite median: no ranks, as ArviZ.
        return chains.iter().map(|c| vec![f64::NAN; c.len()]).collect();
    }
    let s = flat.len() as f64;
    let ranks = average_ranks(&flat);
    let mut z = ranks.into_iter().map(|r| ndtri((r - 0.375) / (s + 0.25)));
    chains
        .iter()
        .map(|c| z.by_ref().take(c.len()).collect())
        .collect()
}

/// The median of a non-empty slice (the mean of the two middle values for an even length).
fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    (values[(n - 1) / 2] + values[n / 2]) / 2.0
}

/// `|x - median|` over all chains together.
fn fold(chains: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let mut flat: Vec<f64> = chains.iter().flatten().copied().collect();
    let med = median(&mut flat);
    chains
        .iter()
        .map(|c| c.iter().map(|v| (v - med).abs()).collect())
        .collect()
}

fn mean(x: &[f64]) -> f64 {
    x.iter().sum::<f64>() / x.len() as f64
}

/// Sample variance with `n - 1`.
fn var1(x: &[f64]) -> f64 {
    let m = mean(x);
    x.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / (x.len() as f64 - 1.0)
}

/// Python's `max(a, b)`: `b` only when `b > a` (so a NaN first argument wins).
fn py_max(a: f64, b: f64) -> f64 {
    if b > a {
        b
    } else {
        a
    }
}

/// Python's `min(a, b)`: `b` only when `b < a`.
fn py_min(a: f64, b: f64) -> f64 {
    if b < a {
        b
    } else {
        a
    }
}

/// The potential scale reduction `sqrt(((n-1)/n W + B/n) / W)` of `m ≥ 2` chains of `n ≥ 2`
/// draws (the paper's eq. (3)-(4)), without splitting or normalizing.
fn rhat_of(chains: &[Vec<f64>]) -> f64 {
    let n = chains[0].len() as f64;
    let means: Vec<f64> = chains.iter().map(|c| mean(c)).collect();
    let between = n * var1(&means);
    let within = mean(&chains.iter().map(|c| var1(c)).collect::<Vec<_>>());
    ((between / within + n - 1.0) / n).sqrt()
}

/// The effective sample size of `m` chains of `n ≥ 2` draws (no NaN), without splitting or
/// normalizing: the paper's eq. (10) for the autocorrelations and Geyer's initial positive
/// then monotone sequences (section 3.2), with ArviZ's handling of the truncation.
fn ess_of(chains: &[Vec<f64>]) -> f64 {
    let (m, n) = (chains.len(), chains[0].len());
    let size = (m * n) as f64;
    let (lo, hi) = chains
        .iter()
        .flatten()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    // All draws equal (numpy's float resolution): every draw counts.
    if hi - lo < 1e-15 {
        return size;
    }
    let nf = n as f64;
    let acov: Vec<Vec<f64>> = chains.iter().map(|c| autocovariance(c)).collect();
    let mean_acov = |t: usize| acov.iter().map(|a| a[t]).sum::<f64>() / m as f64;
    let means: Vec<f64> = chains.iter().map(|c| mean(c)).collect();
    // W (mean within-chain variance with n - 1) and var⁺ = (n-1)/n W + B/n.
    let mean_var = mean_acov(0) * nf / (nf - 1.0);
    let mut var_plus = mean_var * (nf - 1.0) / nf;
    if m > 1 {
        var_plus += var1(&means);
    }
    let rho_at = |t: usize| 1.0 - (mean_var - mean_acov(t)) / var_plus;

    let mut rho = vec![0.0; n];
    let mut rho_even = 1.0;
    rho[0] = rho_even;
    let mut rho_odd = rho_at(1);
    rho[1] = rho_odd;
    // Initial positive sequence: sums of pairs (even + odd lags) while positive.
    let mut t = 1usize;
    while t + 3 < n && rho_even + rho_odd > 0.0 {
        rho_even = rho_at(t + 1);
        rho_odd = rho_at(t + 2);
        if rho_even + rho_odd >= 0.0 {
            rho[t + 1] = rho_even;
            rho[t + 2] = rho_odd;
        }
        t += 2;
    }
    // The last pair's lags are max_t + 1 and max_t + 2 (max_t may be -1).
    let max_t = t as isize - 2;
    let last = (max_t + 1) as usize;
    if rho_even > 0.0 {
        rho[last] = rho_even;
    }
    // Initial monotone sequence: no pair sum above the previous one.
    let mut t = 1isize;
    while t <= max_t - 2 {
        let k = t as usize;
        if rho[k + 1] + rho[k + 2] > rho[k - 1] + rho[k] {
            rho[k + 1] = (rho[k - 1] + rho[k]) / 2.0;
            rho[k + 2] = rho[k + 1];
        }
        t += 2;
    }
    let tau = -1.0 + 2.0 * rho[..last].iter().sum::<f64>() + rho[last];
    let tau = tau.max(1.0 / size.log10());
    if rho.iter().any(|r| r.is_nan()) {
        return f64::NAN;
    }
    size / tau
}

/// Type-7 quantile (R's default, `numpy.quantile`'s linear), computed as
/// `scipy.stats.mstats.mquantiles(alphap=1, betap=1)` on sorted draws.
fn quantile_sorted(sorted: &[f64], prob: f64) -> f64 {
    let n = sorted.len();
    if n == 1 {
        return sorted[0];
    }
    let nf = n as f64;
    // mquantiles' m = alphap + p (1 - alphap - betap) = 1 - p, exactly.
    let aleph = nf * prob + (1.0 - prob);
    let k = aleph.clamp(1.0, nf - 1.0).floor();
    let gamma = (aleph - k).clamp(0.0, 1.0);
    let k = k as usize;
    (1.0 - gamma) * sorted[k - 1] + gamma * sorted[k]
}

fn sorted_draws(chains: &[Vec<f64>]) -> Vec<f64> {
    let mut flat: Vec<f64> = chains.iter().flatten().copied().collect();
    flat.sort_by(f64::total_cmp);
    flat
}

// ---------------------------------------------------------------------------------------------
// Public diagnostics
// ---------------------------------------------------------------------------------------------

/// Rank-normalized split R-hat (the paper's `R̂`, `arviz.rhat(method="rank")`): the larger of
/// the split R-hat of the rank-normalized draws (bulk) and of the rank-normalized folded draws
/// (tails). Values above 1.01 suggest the chains have not mixed.
///
/// NaN for invalid input (see the [module docs](self)) and for draws that are all equal;
/// `+∞` when every chain is constant but they differ. A single chain is split into its two
/// halves (ArviZ returns NaN there).
///
/// ```
/// use pyro::infer::mcmc::diagnostics::split_rhat;
/// let a: Vec<f64> = (0..100).map(|i| ((i * 37) % 101) as f64).collect();
/// let b: Vec<f64> = a.iter().rev().copied().collect();
/// assert!((split_rhat(&[a.clone(), b]) - 1.0).abs() < 0.02);
/// let shifted: Vec<f64> = a.iter().map(|v| v + 200.0).collect();
/// assert!(split_rhat(&[a, shifted]) > 1.5); // ranks bound it: 1.82 for fully separated chains
/// assert!(split_rhat(&[vec![1.0; 10], vec![1.0; 10]]).is_nan());
/// ```
pub fn split_rhat(chains: &[Vec<f64>]) -> f64 {
    if validate(chains, 4).is_none() {
        return f64::NAN;
    }
    let split = split_chains(chains);
    let bulk = rhat_of(&z_scale(&split));
    let tail = rhat_of(&z_scale(&fold(&split)));
    py_max(bulk, tail)
}

/// Bulk effective sample size (`arviz.ess(method="bulk")`): the ESS of the rank-normalized
/// split chains, a measure of how well the centre of the distribution is explored (the
/// paper's recommendation: above 100 per chain).
///
/// NaN for invalid input; the number of split draws when all draws are equal.
///
/// ```
/// use pyro::infer::mcmc::diagnostics::ess_bulk;
/// // A chain that alternates around its mean mixes better than independent draws.
/// let x: Vec<f64> = (0..200).map(|i| if i % 2 == 0 { i as f64 } else { 200.0 - i as f64 }).collect();
/// assert!(ess_bulk(&[x]) > 200.0);
/// assert!(ess_bulk(&[vec![0.0, 1.0, 2.0]]).is_nan()); // fewer than 4 draws
/// ```
pub fn ess_bulk(chains: &[Vec<f64>]) -> f64 {
    if validate(chains, 4).is_none() {
        return f64::NAN;
    }
    ess_of(&z_scale(&split_chains(chains)))
}

/// The ESS of the indicator `x ≤ q_prob` of split chains (`arviz.ess(method="quantile")`),
/// `q_prob` the type-7 quantile of all draws; what the MCSE of that quantile rests on.
///
/// NaN for invalid input or a `prob` outside `[0, 1]`.
///
/// ```
/// use pyro::infer::mcmc::diagnostics::ess_quantile;
/// let x: Vec<f64> = (0..400).map(|i| ((i * 151) % 397) as f64).collect();
/// assert!(ess_quantile(&[x], 0.5) > 100.0);
/// ```
pub fn ess_quantile(chains: &[Vec<f64>], prob: f64) -> f64 {
    if validate(chains, 4).is_none() || !(0.0..=1.0).contains(&prob) {
        return f64::NAN;
    }
    let q = quantile_sorted(&sorted_draws(chains), prob);
    let indicator: Vec<Vec<f64>> = chains
        .iter()
        .map(|c| c.iter().map(|&v| f64::from(u8::from(v <= q))).collect())
        .collect();
    ess_of(&split_chains(&indicator))
}

/// Tail effective sample size (`arviz.ess(method="tail")`): the smaller of the ESS of the 5%
/// and the 95% quantiles ([`ess_quantile`]), a measure of how well the tails are explored.
///
/// NaN for invalid input; the number of split draws when all draws are equal.
///
/// ```
/// use pyro::infer::mcmc::diagnostics::{ess_quantile, ess_tail};
/// let x: Vec<f64> = (0..400).map(|i| ((i * 151) % 397) as f64).collect();
/// let chains = [x];
/// let tail = ess_tail(&chains);
/// assert_eq!(tail, ess_quantile(&chains, 0.05).min(ess_quantile(&chains, 0.95)));
/// ```
pub fn ess_tail(chains: &[Vec<f64>]) -> f64 {
    if validate(chains, 4).is_none() {
        return f64::NAN;
    }
    py_min(
        ess_quantile(chains, TAIL_PROBS.0),
        ess_quantile(chains, TAIL_PROBS.1),
    )
}

/// The ESS of the mean (`arviz.ess(method="mean")`): the ESS of the split chains, not
/// rank-normalized (what [`mcse_mean`] divides by).
///
/// ```
/// use pyro::infer::mcmc::diagnostics::ess_mean;
/// assert_eq!(ess_mean(&[vec![2.0; 8]]), 8.0);
/// ```
pub fn ess_mean(chains: &[Vec<f64>]) -> f64 {
    if validate(chains, 4).is_none() {
        return f64::NAN;
    }
    ess_of(&split_chains(chains))
}

/// Monte Carlo standard error of the mean (`arviz.mcse(method="mean")`): the standard
/// deviation of all draws (with `S - 1`) over the square root of [`ess_mean`].
///
/// NaN for invalid input; 0 when all draws are equal.
///
/// ```
/// use pyro::infer::mcmc::diagnostics::{ess_mean, mcse_mean};
/// let x: Vec<f64> = (0..100).map(|i| ((i * 37) % 101) as f64 / 10.0).collect();
/// let sd = {
///     let m = x.iter().sum::<f64>() / 100.0;
///     (x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / 99.0).sqrt()
/// };
/// let chains = [x];
/// assert!((mcse_mean(&chains) - sd / ess_mean(&chains).sqrt()).abs() < 1e-12);
/// ```
pub fn mcse_mean(chains: &[Vec<f64>]) -> f64 {
    if validate(chains, 4).is_none() {
        return f64::NAN;
    }
    let flat: Vec<f64> = chains.iter().flatten().copied().collect();
    var1(&flat).sqrt() / ess_mean(chains).sqrt()
}

/// Monte Carlo standard error of the `prob` quantile (`arviz.mcse(method="quantile")`, the
/// paper's section 4.3): with `S_q` = [`ess_quantile`], half the distance between the draws
/// at the ranks given by the ±1 sd quantiles (0.1586553, 0.8413447) of
/// `Beta(S_q·prob + 1, S_q·(1 - prob) + 1)`.
///
/// NaN for invalid input or a `prob` outside `[0, 1]`.
///
/// ```
/// use pyro::infer::mcmc::diagnostics::mcse_quantile;
/// let x: Vec<f64> = (0..400).map(|i| ((i * 151) % 397) as f64).collect();
/// let se = mcse_quantile(&[x], 0.5);
/// assert!(se > 0.0 && se < 40.0);
/// ```
pub fn mcse_quantile(chains: &[Vec<f64>], prob: f64) -> f64 {
    if validate(chains, 4).is_none() || !(0.0..=1.0).contains(&prob) {
        return f64::NAN;
    }
    let ess = ess_quantile(chains, prob);
    let (a, b) = (ess * prob + 1.0, ess * (1.0 - prob) + 1.0);
    let sorted = sorted_draws(chains);
    let size = sorted.len() as f64;
    let lo = beta_ppf(0.1586553, a, b) * size - 1.0;
    let hi = beta_ppf(0.8413447, a, b) * size - 1.0;
    // numpy's nanmax / nanmin: a NaN bound gives way to the clamp.
    let lo = if lo.is_nan() { 0.0 } else { lo.max(0.0) };
    let hi = if hi.is_nan() {
        size - 1.0
    } else {
        hi.min(size - 1.0)
    };
    (sorted[hi.ceil() as usize] - sorted[lo.floor() as usize]) / 2.0
}

/// The regularized incomplete beta function `I_x(a, b)` (continued fraction by the modified
/// Lentz method, on the side of `(a + 1)/(a + b + 2)` where it converges fast).
fn betainc(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    if x > (a + 1.0) / (a + b + 2.0) {
        return 1.0 - betainc(b, a, 1.0 - x);
    }
    let log_front = a * x.ln() + b * (-x).ln_1p() - (lgamma(a) + lgamma(b) - lgamma(a + b));
    const TINY: f64 = 1e-300;
    let mut c = 1.0;
    let mut d = 1.0 - (a + b) * x / (a + 1.0);
    if d.abs() < TINY {
        d = TINY;
    }
    d = 1.0 / d;
    let mut h = d;
    for k in 1..10_000 {
        let k = k as f64;
        // Even step d_{2k} = k (b - k) x / ((a + 2k - 1)(a + 2k)), then odd d_{2k+1}.
        for num in [
            k * (b - k) * x / ((a + 2.0 * k - 1.0) * (a + 2.0 * k)),
            -(a + k) * (a + b + k) * x / ((a + 2.0 * k) * (a + 2.0 * k + 1.0)),
        ] {
            d = 1.0 + num * d;
            if d.abs() < TINY {
                d = TINY;
            }
            c = 1.0 + num / c;
            if c.abs() < TINY {
                c = TINY;
            }
            d = 1.0 / d;
            h *= d * c;
        }
        if (d * c - 1.0).abs() < 1e-16 {
            break;
        }
    }
    (log_front.exp() * h / a).clamp(0.0, 1.0)
}

/// The `p` quantile of `Beta(a, b)` by bisection on [`betainc`] (to the last bit); NaN for a
/// NaN parameter.
fn beta_ppf(p: f64, a: f64, b: f64) -> f64 {
    if !(a > 0.0 && b > 0.0 && (0.0..=1.0).contains(&p)) {
        return f64::NAN;
    }
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi {
            break;
        }
        if betainc(a, b, mid) < p {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

// ---------------------------------------------------------------------------------------------
// Summary table
// ---------------------------------------------------------------------------------------------

/// What is wrong with the draws handed to [`SiteDraws`]; every variant names the site.
///
/// ```
/// use pyro::infer::mcmc::diagnostics::{DiagnosticsError, SiteDraws};
/// let err = SiteDraws::new("z", vec![2], 2, vec![0.0; 6]).unwrap_err();
/// assert!(matches!(err, DiagnosticsError::Length { ref site, .. } if site == "z"));
/// ```
#[derive(Debug, Clone, PartialEq, Error)]
pub enum DiagnosticsError {
    /// No chain (`num_chains == 0`).
    #[error("site `{site}`: no chains")]
    NoChains {
        /// The site.
        site: String,
    },
    /// No draws.
    #[error("site `{site}`: no draws")]
    NoDraws {
        /// The site.
        site: String,
    },
    /// The number of values is not `num_chains × num_draws × numel(shape)`.
    #[error(
        "site `{site}`: {len} values are not num_chains ({num_chains}) x num_draws x {numel} \
         elements"
    )]
    Length {
        /// The site.
        site: String,
        /// The number of values given.
        len: usize,
        /// The number of chains.
        num_chains: usize,
        /// The number of elements of one draw.
        numel: usize,
    },
    /// Chains (or elements) with different numbers of draws.
    #[error("site `{site}`: the chains have different numbers of draws")]
    Ragged {
        /// The site.
        site: String,
    },
    /// The interval's probability mass is not strictly between 0 and 1.
    #[error("invalid `prob` = {prob}: must lie strictly between 0 and 1")]
    InvalidProb {
        /// The value handed in.
        prob: f64,
    },
}

/// The draws of one site from every chain: a name, the shape of one draw, and the values in
/// `[chain][draw][element]` row-major order (the layout of a `[chains, draws, ...shape]`
/// tensor, as `get_samples_by_chain` returns).
///
/// ```
/// use pyro::infer::mcmc::diagnostics::SiteDraws;
/// // 2 chains x 3 draws of a 2-vector.
/// let values = vec![0.0, 10.0, 1.0, 11.0, 2.0, 12.0, 3.0, 13.0, 4.0, 14.0, 5.0, 15.0];
/// let site = SiteDraws::new("theta", vec![2], 2, values).unwrap();
/// assert_eq!((site.num_chains(), site.num_draws(), site.numel()), (2, 3, 2));
/// assert_eq!(site.element(1), vec![vec![10.0, 11.0, 12.0], vec![13.0, 14.0, 15.0]]);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct SiteDraws {
    name: String,
    shape: Vec<usize>,
    num_chains: usize,
    num_draws: usize,
    values: Vec<f64>,
}

impl SiteDraws {
    /// The site's draws from `[chain][draw][element]` values; the number of draws is
    /// `values.len() / (num_chains × numel(shape))`, which must divide exactly and be at least
    /// one.
    ///
    /// ```
    /// use pyro::infer::mcmc::diagnostics::SiteDraws;
    /// let site = SiteDraws::new("mu", vec![], 4, vec![0.5; 40]).unwrap();
    /// assert_eq!(site.num_draws(), 10);
    /// assert!(SiteDraws::new("mu", vec![], 0, vec![]).is_err());
    /// ```
    pub fn new(
        name: impl Into<String>,
        shape: Vec<usize>,
        num_chains: usize,
        values: Vec<f64>,
    ) -> Result<Self, DiagnosticsError> {
        let name = name.into();
        if num_chains == 0 {
            return Err(DiagnosticsError::NoChains { site: name });
        }
        let numel: usize = shape.iter().product();
        let per_draw = num_chains * numel;
        if per_draw == 0 || values.is_empty() {
            return Err(DiagnosticsError::NoDraws { site: name });
        }
        if !values.len().is_multiple_of(per_draw) {
            return Err(DiagnosticsError::Length {
                site: name,
                len: values.len(),
                num_chains,
                numel,
            });
        }
        Ok(SiteDraws {
            name,
            shape,
            num_draws: values.len() / per_draw,
            num_chains,
            values,
        })
    }

    /// The site's draws given per element (row-major over `shape`), each as chains × draws:
    /// `elements[j][c][d]`.
    ///
    /// ```
    /// use pyro::infer::mcmc::diagnostics::SiteDraws;
    /// let e0 = vec![vec![0.0, 1.0], vec![2.0, 3.0]];
    /// let e1 = vec![vec![5.0, 6.0], vec![7.0, 8.0]];
    /// let site = SiteDraws::from_elements("w", vec![2], vec![e0.clone(), e1]).unwrap();
    /// assert_eq!(site.element(0), e0);
    /// assert!(SiteDraws::from_elements("w", vec![1], vec![vec![vec![0.0], vec![]]]).is_err());
    /// ```
    pub fn from_elements(
        name: impl Into<String>,
        shape: Vec<usize>,
        elements: Vec<Vec<Vec<f64>>>,
    ) -> Result<Self, DiagnosticsError> {
        let name = name.into();
        let numel: usize = shape.iter().product();
        let num_chains = elements.first().map_or(0, Vec::len);
        if num_chains == 0 {
            return Err(DiagnosticsError::NoChains { site: name });
        }
        let num_draws = elements[0][0].len();
        if elements.len() != numel {
            return Err(DiagnosticsError::Length {
                site: name,
                len: elements.len() * num_chains * num_draws,
                num_chains,
                numel,
            });
        }
        if elements
            .iter()
            .any(|e| e.len() != num_chains || e.iter().any(|c| c.len() != num_draws))
        {
            return Err(DiagnosticsError::Ragged { site: name });
        }
        let mut values = Vec::with_capacity(numel * num_chains * num_draws);
        for c in 0..num_chains {
            for d in 0..num_draws {
                values.extend(elements.iter().map(|e| e[c][d]));
            }
        }
        Self::new(name, shape, num_chains, values)
    }

    /// The site's name.
    ///
    /// ```
    /// # use pyro::infer::mcmc::diagnostics::SiteDraws;
    /// assert_eq!(SiteDraws::new("mu", vec![], 1, vec![0.0]).unwrap().name(), "mu");
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The shape of one draw.
    ///
    /// ```
    /// # use pyro::infer::mcmc::diagnostics::SiteDraws;
    /// assert_eq!(SiteDraws::new("w", vec![2, 3], 1, vec![0.0; 6]).unwrap().shape(), &[2, 3]);
    /// ```
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The number of chains.
    ///
    /// ```
    /// # use pyro::infer::mcmc::diagnostics::SiteDraws;
    /// assert_eq!(SiteDraws::new("mu", vec![], 2, vec![0.0; 6]).unwrap().num_chains(), 2);
    /// ```
    pub fn num_chains(&self) -> usize {
        self.num_chains
    }

    /// The number of draws per chain.
    ///
    /// ```
    /// # use pyro::infer::mcmc::diagnostics::SiteDraws;
    /// assert_eq!(SiteDraws::new("mu", vec![], 2, vec![0.0; 6]).unwrap().num_draws(), 3);
    /// ```
    pub fn num_draws(&self) -> usize {
        self.num_draws
    }

    /// The number of elements of one draw (1 for a scalar site).
    ///
    /// ```
    /// # use pyro::infer::mcmc::diagnostics::SiteDraws;
    /// assert_eq!(SiteDraws::new("w", vec![2, 3], 1, vec![0.0; 6]).unwrap().numel(), 6);
    /// ```
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }

    /// The draws of element `j` (row-major index), as chains × draws, the input of the
    /// diagnostics. Panics if `j >= numel()`.
    ///
    /// ```
    /// # use pyro::infer::mcmc::diagnostics::SiteDraws;
    /// let site = SiteDraws::new("mu", vec![], 2, vec![1.0, 2.0, 3.0, 4.0]).unwrap();
    /// assert_eq!(site.element(0), vec![vec![1.0, 2.0], vec![3.0, 4.0]]);
    /// ```
    pub fn element(&self, j: usize) -> Vec<Vec<f64>> {
        let numel = self.numel();
        assert!(j < numel, "element {j} of a site with {numel} elements");
        (0..self.num_chains)
            .map(|c| {
                (0..self.num_draws)
                    .map(|d| self.values[(c * self.num_draws + d) * numel + j])
                    .collect()
            })
            .collect()
    }
}

/// The statistics of one site, one value per element (row-major over [`shape`](Self::shape)),
/// from the draws of all chains pooled, as NumPyro 0.22's `numpyro.diagnostics.summary`:
/// `std` with `S - 1`; `median` the mean of the two middle draws for an even count; `hpdi_lo`
/// and `hpdi_hi` the narrowest interval between sorted draws `k` and `k + ⌊prob·S⌋` (the
/// first of equally narrow ones, NumPyro's `hpdi`: the `5.0%` and `95.0%` columns are *not*
/// quantiles). Unlike NumPyro, `n_eff` is the rank-normalized [`ess_bulk`] and `r_hat` the
/// rank-normalized [`split_rhat`] (NumPyro prints its non-rank `effective_sample_size` and
/// `split_gelman_rubin`); `ess_tail` and `mcse_mean` are there too. An element with a NaN
/// draw has NaN for every statistic.
///
/// ```
/// use pyro::infer::mcmc::diagnostics::{summarize, SiteDraws};
/// let values: Vec<f64> = (0..40).map(|i| (i % 10) as f64).collect();
/// let site = SiteDraws::new("mu", vec![], 4, values).unwrap();
/// let s = &summarize(&[site], 0.9).unwrap()[0];
/// assert_eq!((s.mean[0], s.median[0]), (4.5, 4.5));
/// assert_eq!((s.hpdi_lo[0], s.hpdi_hi[0]), (0.0, 9.0));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct SiteSummary {
    /// The site's name.
    pub name: String,
    /// The shape of one draw.
    pub shape: Vec<usize>,
    /// Mean of the pooled draws.
    pub mean: Vec<f64>,
    /// Standard deviation of the pooled draws (with `S - 1`).
    pub std: Vec<f64>,
    /// Median of the pooled draws.
    pub median: Vec<f64>,
    /// Lower bound of the highest posterior density interval.
    pub hpdi_lo: Vec<f64>,
    /// Upper bound of the highest posterior density interval.
    pub hpdi_hi: Vec<f64>,
    /// Bulk effective sample size ([`ess_bulk`]).
    pub n_eff: Vec<f64>,
    /// Rank-normalized split R-hat ([`split_rhat`]).
    pub r_hat: Vec<f64>,
    /// Tail effective sample size ([`ess_tail`]).
    pub ess_tail: Vec<f64>,
    /// Monte Carlo standard error of the mean ([`mcse_mean`]).
    pub mcse_mean: Vec<f64>,
}

/// Mean, std, median, HPDI bounds of pooled draws, as NumPyro.
fn pooled_stats(x: &mut [f64], prob: f64) -> [f64; 5] {
    if x.iter().any(|v| v.is_nan()) {
        return [f64::NAN; 5];
    }
    let m = mean(x);
    let std = var1(x).sqrt();
    let med = median(x); // sorts x
    let (lo, hi) = crate::infer::summary::hpdi_sorted(x, prob);
    [m, std, med, lo, hi]
}

/// The per-element statistics of each site (in the order given), with a `prob` highest
/// posterior density interval (strictly between 0 and 1; NumPyro's default is 0.9).
///
/// ```
/// use pyro::infer::mcmc::diagnostics::{summarize, SiteDraws};
/// let site = SiteDraws::new("mu", vec![], 1, (0..8).map(f64::from).collect()).unwrap();
/// let s = summarize(&[site.clone()], 0.5).unwrap();
/// assert_eq!((s[0].hpdi_lo[0], s[0].hpdi_hi[0]), (0.0, 4.0));
/// assert!(summarize(&[site], 1.0).is_err());
/// ```
pub fn summarize(sites: &[SiteDraws], prob: f64) -> Result<Vec<SiteSummary>, DiagnosticsError> {
    if !(prob > 0.0 && prob < 1.0) {
        return Err(DiagnosticsError::InvalidProb { prob });
    }
    Ok(sites
        .iter()
        .map(|site| {
            let numel = site.numel();
            let mut out = SiteSummary {
                name: site.name.clone(),
                shape: site.shape.clone(),
                mean: Vec::with_capacity(numel),
                std: Vec::with_capacity(numel),
                median: Vec::with_capacity(numel),
                hpdi_lo: Vec::with_capacity(numel),
                hpdi_hi: Vec::with_capacity(numel),
                n_eff: Vec::with_capacity(numel),
                r_hat: Vec::with_capacity(numel),
                ess_tail: Vec::with_capacity(numel),
                mcse_mean: Vec::with_capacity(numel),
            };
            for j in 0..numel {
                let chains = site.element(j);
                let mut pooled: Vec<f64> = chains.iter().flatten().copied().collect();
                let [m, s, med, lo, hi] = pooled_stats(&mut pooled, prob);
                out.mean.push(m);
                out.std.push(s);
                out.median.push(med);
                out.hpdi_lo.push(lo);
                out.hpdi_hi.push(hi);
                out.n_eff.push(ess_bulk(&chains));
                out.r_hat.push(split_rhat(&chains));
                out.ess_tail.push(ess_tail(&chains));
                out.mcse_mean.push(mcse_mean(&chains));
            }
            out
        })
        .collect())
}

/// A number as Python's `"{:>9.2f}"` prints it (`nan`, `inf`, `-inf`).
fn cell(v: f64) -> String {
    format!(" {:>9}", crate::infer::summary::number(v))
}

/// [`summary_table`] with a `prob` interval (`Err` unless `0 < prob < 1`).
///
/// ```
/// use pyro::infer::mcmc::diagnostics::{summary_table_with_prob, SiteDraws};
/// let site = SiteDraws::new("mu", vec![], 2, (0..20).map(f64::from).collect()).unwrap();
/// let table = summary_table_with_prob(&[site], 0.5, 0).unwrap();
/// assert!(table.starts_with("                mean       std    median     25.0%     75.0%"));
/// ```
pub fn summary_table_with_prob(
    sites: &[SiteDraws],
    prob: f64,
    num_divergences: usize,
) -> Result<String, DiagnosticsError> {
    let summaries = summarize(sites, prob)?;
    // NumPyro's width: the longest `name[d0-1,d1-1,...]` (`name[]` for a scalar), at least 10.
    let width = summaries
        .iter()
        .map(|s| {
            let dims: Vec<String> = s
                .shape
                .iter()
                .map(|&d| (d as i64 - 1).to_string())
                .collect();
            s.name.chars().count() + 2 + dims.join(",").len()
        })
        .fold(10, usize::max);
    let mut out = format!("{:>width$}", "");
    let lo = format!("{:.1}%", 50.0 * (1.0 - prob));
    let hi = format!("{:.1}%", 50.0 * (1.0 + prob));
    for c in ["mean", "std", "median", &lo, &hi, "n_eff", "r_hat"] {
        let _ = write!(out, " {c:>9}");
    }
    for s in &summaries {
        for j in 0..s.mean.len() {
            let label = if s.shape.is_empty() {
                s.name.clone()
            } else {
                let mut idx = vec![0; s.shape.len()];
                let mut rest = j;
                for (k, &d) in s.shape.iter().enumerate().rev() {
                    idx[k] = rest % d;
                    rest /= d;
                }
                let idx: Vec<String> = idx.iter().map(usize::to_string).collect();
                format!("{}[{}]", s.name, idx.join(","))
            };
            let _ = write!(out, "\n{label:>width$}");
            for col in [
                &s.mean, &s.std, &s.median, &s.hpdi_lo, &s.hpdi_hi, &s.n_eff, &s.r_hat,
            ] {
                out.push_str(&cell(col[j]));
            }
        }
    }
    let _ = write!(out, "\n\nNumber of divergences: {num_divergences}");
    Ok(out)
}

/// The summary table of an MCMC run, NumPyro's `MCMC.print_summary` (without its leading
/// blank line): a header, one row per site element (`theta[0]`, `w[0,1]`, ..., sites in the
/// order given) with mean, std, median, the 90% HPDI bounds (`5.0%`, `95.0%`), `n_eff` (bulk
/// ESS) and `r_hat` (rank-normalized split R-hat), names right-aligned, numbers in columns of
/// 9 with 2 decimals, then a blank line and `Number of divergences: N`. See [`SiteSummary`]
/// for what each column is.
///
/// ```
/// use pyro::infer::mcmc::diagnostics::{summary_table, SiteDraws};
/// let values: Vec<f64> = (0..40).map(|i| ((i * 7) % 40) as f64 / 10.0).collect();
/// let site = SiteDraws::new("mu", vec![], 2, values).unwrap();
/// let table = summary_table(&[site], 2);
/// let mut lines = table.lines();
/// assert_eq!(
///     lines.next().unwrap(),
///     "                mean       std    median      5.0%     95.0%     n_eff     r_hat"
/// );
/// assert!(lines.next().unwrap().starts_with("        mu      1.95      1.17      1.95"));
/// assert!(table.ends_with("\n\nNumber of divergences: 2"));
/// ```
pub fn summary_table(sites: &[SiteDraws], num_divergences: usize) -> String {
    summary_table_with_prob(sites, 0.9, num_divergences).expect("0.9 is a valid prob")
}

#[cfg(test)]
mod tests;
