//! The per-element table of [`Mcmc::summary`](super::Mcmc::summary), NumPyro's
//! `print_summary`, on the diagnostics of [`super::diagnostics`].

use super::diagnostics;

/// Diagnostics of one element of one site.
#[derive(Debug, Clone, PartialEq)]
pub struct ElementSummary {
    /// `site` or `site[i,j]`.
    pub name: String,
    /// Mean over all chains.
    pub mean: f64,
    /// Standard deviation over all chains.
    pub std: f64,
    /// Median.
    pub median: f64,
    /// Lower bound of the 90% highest posterior density interval.
    pub hpdi_5: f64,
    /// Upper bound of the 90% highest posterior density interval.
    pub hpdi_95: f64,
    /// Bulk effective sample size.
    pub n_eff: f64,
    /// Rank-normalized split R-hat.
    pub r_hat: f64,
}

fn index_name(site: &str, shape: &[usize], flat: usize) -> String {
    if shape.is_empty() {
        return site.to_string();
    }
    let mut idx = vec![0; shape.len()];
    let mut rem = flat;
    for (i, &d) in shape.iter().enumerate().rev() {
        idx[i] = rem % d.max(1);
        rem /= d.max(1);
    }
    let parts: Vec<String> = idx.iter().map(|i| i.to_string()).collect();
    format!("{site}[{}]", parts.join(","))
}

/// The shortest interval holding `prob` of the sorted draws (NumPyro's `hpdi`).
fn hpdi(sorted: &[f64], prob: f64) -> (f64, f64) {
    let n = sorted.len();
    if n == 0 {
        return (f64::NAN, f64::NAN);
    }
    let width = ((prob * n as f64).floor() as usize).min(n - 1);
    let mut best = (sorted[0], sorted[width]);
    for i in 0..n - width {
        if sorted[i + width] - sorted[i] < best.1 - best.0 {
            best = (sorted[i], sorted[i + width]);
        }
    }
    best
}

/// The rows of one site: `per_chain[c]` holds chain `c`'s draws, each `numel(shape)` values.
pub(crate) fn summarize_site(
    site: &str,
    shape: &[usize],
    per_chain: &[Vec<f32>],
) -> Vec<ElementSummary> {
    let k: usize = shape.iter().product::<usize>().max(1);
    (0..k)
        .map(|e| {
            let chains: Vec<Vec<f64>> = per_chain
                .iter()
                .map(|c| c.iter().skip(e).step_by(k).map(|&x| x as f64).collect())
                .collect();
            let mut all: Vec<f64> = chains.iter().flatten().copied().collect();
            let n = all.len() as f64;
            let mean = all.iter().sum::<f64>() / n;
            let var = all.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
            all.sort_by(|a, b| a.total_cmp(b));
            let median = if all.is_empty() {
                f64::NAN
            } else if all.len() % 2 == 1 {
                all[all.len() / 2]
            } else {
                0.5 * (all[all.len() / 2 - 1] + all[all.len() / 2])
            };
            let (lo, hi) = hpdi(&all, 0.9);
            ElementSummary {
                name: index_name(site, shape, e),
                mean,
                std: var.sqrt(),
                median,
                hpdi_5: lo,
                hpdi_95: hi,
                n_eff: diagnostics::ess_bulk(&chains),
                r_hat: diagnostics::split_rhat(&chains),
            }
        })
        .collect()
}

/// The table, NumPyro's layout.
pub(crate) fn format_table(rows: &[ElementSummary], divergences: usize) -> String {
    let w = rows.iter().map(|r| r.name.len()).max().unwrap_or(4).max(4) + 2;
    let mut s = format!(
        "\n{:>w$} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}\n",
        "", "mean", "std", "median", "5.0%", "95.0%", "n_eff", "r_hat"
    );
    for r in rows {
        s += &format!(
            "{:>w$} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>9.2}\n",
            r.name, r.mean, r.std, r.median, r.hpdi_5, r.hpdi_95, r.n_eff, r.r_hat
        );
    }
    s += &format!("\nNumber of divergences: {divergences}\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hpdi_and_names() {
        let v: Vec<f64> = (0..100).map(|i| i as f64).collect();
        assert_eq!(hpdi(&v, 0.9), (0.0, 90.0));
        assert_eq!(index_name("w", &[2, 3], 4), "w[1,1]");
        assert_eq!(index_name("a", &[], 0), "a");
    }
}
