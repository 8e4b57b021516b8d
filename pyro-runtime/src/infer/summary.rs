//! [`Summary`]: the posterior summary table of Pyro's `pyro.infer.mcmc.util.print_summary`.

use std::borrow::Borrow;
use std::fmt;

use crate::tensor::{Backend, DynTensor};

pub use crate::error::SummaryError;

/// The statistics of one site: one value per element of the site (row-major over
/// [`SiteSummary::shape`]).
///
/// ```
/// use pyro::infer::Summary;
/// use pyro::tensor::DynTensor;
/// let theta = DynTensor::<dfdx::prelude::Cpu>::from_vec(vec![1.0, 10.0, 2.0, 20.0, 3.0, 30.0], &[3, 2])
///     .unwrap();
/// let summary = Summary::new([("theta", theta)]).unwrap();
/// let site = summary.site("theta").unwrap();
/// assert_eq!(site.shape(), &[2]);
/// assert_eq!(site.num_samples(), 3);
/// assert_eq!(site.mean(), &[2.0, 20.0]);
/// assert_eq!(site.median(), &[2.0, 20.0]);
/// assert_eq!(site.std(), &[1.0, 10.0]);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct SiteSummary {
    name: String,
    shape: Vec<usize>,
    num_samples: usize,
    mean: Vec<f64>,
    std: Vec<f64>,
    median: Vec<f64>,
    lo: Vec<f64>,
    hi: Vec<f64>,
    extra: Vec<Vec<f64>>,
}

impl SiteSummary {
    /// The site's name.
    ///
    /// ```
    /// # use pyro::infer::Summary;
    /// # use pyro::tensor::DynTensor;
    /// let x = DynTensor::<dfdx::prelude::Cpu>::from_vec(vec![1.0, 2.0], &[2]).unwrap();
    /// assert_eq!(Summary::new([("x", x)]).unwrap().sites()[0].name(), "x");
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The shape of one sample of the site (the samples' shape without the leading dim);
    /// every statistic has this shape.
    ///
    /// ```
    /// # use pyro::infer::Summary;
    /// # use pyro::tensor::DynTensor;
    /// let x = DynTensor::<dfdx::prelude::Cpu>::zeros(&[5, 2, 3]);
    /// assert_eq!(Summary::new([("x", x)]).unwrap().sites()[0].shape(), &[2, 3]);
    /// ```
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The number of samples the statistics are computed from.
    ///
    /// ```
    /// # use pyro::infer::Summary;
    /// # use pyro::tensor::DynTensor;
    /// let x = DynTensor::<dfdx::prelude::Cpu>::zeros(&[5, 2]);
    /// assert_eq!(Summary::new([("x", x)]).unwrap().sites()[0].num_samples(), 5);
    /// ```
    pub fn num_samples(&self) -> usize {
        self.num_samples
    }

    /// The sample mean of each element.
    ///
    /// ```
    /// # use pyro::infer::Summary;
    /// # use pyro::tensor::DynTensor;
    /// let x = DynTensor::<dfdx::prelude::Cpu>::from_vec(vec![1.0, 2.0, 6.0], &[3]).unwrap();
    /// assert_eq!(Summary::new([("x", x)]).unwrap().sites()[0].mean(), &[3.0]);
    /// ```
    pub fn mean(&self) -> &[f64] {
        &self.mean
    }

    /// The sample standard deviation of each element, with Bessel's correction (divided by
    /// `n - 1`, as `torch.std`; NaN for a single sample).
    ///
    /// ```
    /// # use pyro::infer::Summary;
    /// # use pyro::tensor::DynTensor;
    /// let x = DynTensor::<dfdx::prelude::Cpu>::from_vec(vec![1.0, 3.0], &[2]).unwrap();
    /// let std = Summary::new([("x", x)]).unwrap().sites()[0].std()[0];
    /// assert!((std - 2f64.sqrt()).abs() < 1e-12);
    /// ```
    pub fn std(&self) -> &[f64] {
        &self.std
    }

    /// The median of each element; for an even number of samples the lower of the two
    /// middle values, as `torch.median` (NumPyro's `np.median` averages them).
    ///
    /// ```
    /// # use pyro::infer::Summary;
    /// # use pyro::tensor::DynTensor;
    /// let x = DynTensor::<dfdx::prelude::Cpu>::from_vec(vec![4.0, 1.0, 3.0, 2.0], &[4]).unwrap();
    /// assert_eq!(Summary::new([("x", x)]).unwrap().sites()[0].median(), &[2.0]);
    /// ```
    pub fn median(&self) -> &[f64] {
        &self.median
    }

    /// The lower bound of each element's highest posterior density interval of mass
    /// [`Summary::prob`] (the `5.0%` column for 0.9).
    ///
    /// ```
    /// # use pyro::infer::Summary;
    /// # use pyro::tensor::DynTensor;
    /// let v: Vec<f32> = (0..10).map(|i| i as f32).collect();
    /// let x = DynTensor::<dfdx::prelude::Cpu>::from_vec(v, &[10]).unwrap();
    /// let s = Summary::new([("x", x)]).unwrap();
    /// // 9 of the 10 samples: the narrowest such interval starts at the smallest one.
    /// assert_eq!((s.sites()[0].lo(), s.sites()[0].hi()), (&[0.0][..], &[9.0][..]));
    /// ```
    pub fn lo(&self) -> &[f64] {
        &self.lo
    }

    /// The upper bound of each element's highest posterior density interval of mass
    /// [`Summary::prob`] (the `95.0%` column for 0.9).
    ///
    /// ```
    /// # use pyro::infer::Summary;
    /// # use pyro::tensor::DynTensor;
    /// let x = DynTensor::<dfdx::prelude::Cpu>::from_vec(vec![0.0, 0.1, 0.2, 5.0], &[4]).unwrap();
    /// // int(0.9 * 4) = 3 samples apart: [0.0, 5.0] (the only interval of that length).
    /// assert_eq!(Summary::new([("x", x)]).unwrap().sites()[0].hi(), &[5.0]);
    /// ```
    pub fn hi(&self) -> &[f64] {
        &self.hi
    }

    /// The values of an added column (see [`Summary::add_column`]) for this site.
    ///
    /// ```
    /// # use pyro::infer::Summary;
    /// # use pyro::tensor::DynTensor;
    /// let x = DynTensor::<dfdx::prelude::Cpu>::zeros(&[5]);
    /// let mut s = Summary::new([("x", x)]).unwrap();
    /// s.add_column("n_eff", [("x", vec![4.5])]).unwrap();
    /// assert_eq!(s.site("x").unwrap().column(&s, "n_eff"), Some(&[4.5][..]));
    /// ```
    pub fn column<'a>(&'a self, summary: &Summary, column: &str) -> Option<&'a [f64]> {
        let i = summary.extra.iter().position(|c| c == column)?;
        self.extra.get(i).map(Vec::as_slice)
    }
}

/// A posterior summary table, Pyro's `print_summary`: for each site and each of its
/// elements, the mean, the standard deviation, the median and the bounds of the 90% highest
/// posterior density interval, from samples with a leading sample dim (as returned by
/// [`AutoGuide::sample_posterior`](crate::infer::autoguide::AutoGuide::sample_posterior) and
/// [`Predictive`](crate::infer::Predictive)).
///
/// What is computed follows Pyro (`pyro.infer.mcmc.util.summary`), in `f64`:
/// - `std` is the sample standard deviation with Bessel's correction (`torch.std`, `n - 1`);
/// - `median` is the lower of the two middle values for an even number of samples
///   (`torch.median`; NumPyro's `np.median` averages them);
/// - the `5.0%` and `95.0%` columns are **not** quantiles but the bounds of the highest
///   posterior density interval (`pyro.ops.stats.hpdi`, the same as NumPyro's `hpdi`): of
///   the intervals between sorted samples `k` and `k + ⌊prob·n⌋`, the narrowest (the first
///   of equally narrow ones). Their headers are `50·(1 - prob)%` and `50·(1 + prob)%`.
///
/// An element with a NaN among its samples has NaN for every statistic. The samples are
/// taken as one chain: `n_eff` and `r_hat` (Pyro's last two columns, which need chains)
/// are not computed, but an MCMC run can add them, or any other column, with
/// [`Summary::add_column`].
///
/// [`Display`](fmt::Display) prints the table in `print_summary`'s layout: one row per
/// element (`theta[0]`, `theta[1]`, ... and `w[0,1]` for several dims), names right-aligned,
/// numbers right-aligned in columns of 9 with 2 decimals. The sites are sorted by name, here
/// and in [`sites`](Summary::sites): the samples usually come in a `HashMap`, which has no
/// order, so sorting keeps the table the same from run to run. (Pyro prints its sites in the
/// order of its samples dict, insertion order, and sorts nothing.)
///
/// ```
/// use pyro::infer::Summary;
/// use pyro::tensor::DynTensor;
/// use std::collections::HashMap;
/// type T = DynTensor<dfdx::prelude::Cpu>;
/// let mut samples: HashMap<String, T> = HashMap::new();
/// samples.insert("sigma".into(), T::from_vec(vec![1.0, 1.5, 2.0, 1.25], &[4]).unwrap());
/// samples.insert("theta".into(), T::from_vec(vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0], &[4, 2]).unwrap());
/// let summary = Summary::new(&samples).unwrap();
/// assert_eq!(summary.site("theta").unwrap().mean(), &[3.0, 4.0]);
/// let table = [
///     "                mean       std    median      5.0%     95.0%",
///     "     sigma      1.44      0.43      1.25      1.00      2.00",
///     "  theta[0]      3.00      2.58      2.00      0.00      6.00",
///     "  theta[1]      4.00      2.58      3.00      1.00      7.00",
/// ];
/// assert_eq!(summary.to_string(), table.join("\n"));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    prob: f64,
    sites: Vec<SiteSummary>,
    extra: Vec<String>,
}

/// The probability mass of the interval when none is given (Pyro's default).
const DEFAULT_PROB: f64 = 0.9;

impl Summary {
    /// Summarizes site -> samples pairs (a `HashMap<String, DynTensor<D>>`, a `BTreeMap`, a
    /// reference to either, or any iterator of pairs), each with a leading sample dim, with
    /// the 90% interval.
    ///
    /// ```
    /// use pyro::infer::Summary;
    /// use pyro::tensor::DynTensor;
    /// let z = DynTensor::<dfdx::prelude::Cpu>::from_vec(vec![1.0, 2.0, 3.0], &[3]).unwrap();
    /// let s = Summary::new([("z", z)]).unwrap();
    /// assert_eq!(s.prob(), 0.9);
    /// assert_eq!(s.site("z").unwrap().median(), &[2.0]);
    /// ```
    pub fn new<D, I, K, V>(samples: I) -> Result<Self, SummaryError>
    where
        D: Backend,
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: Borrow<DynTensor<D>>,
    {
        Self::with_prob(samples, DEFAULT_PROB)
    }

    /// [`Summary::new`] with an interval of probability mass `prob` (strictly between 0 and
    /// 1) instead of 0.9.
    ///
    /// ```
    /// use pyro::infer::Summary;
    /// use pyro::tensor::DynTensor;
    /// let z = DynTensor::<dfdx::prelude::Cpu>::from_vec(vec![1.0, 2.0, 3.0], &[3]).unwrap();
    /// let s = Summary::with_prob([("z", z)], 0.5).unwrap();
    /// assert_eq!(s.columns(), ["mean", "std", "median", "25.0%", "75.0%"]);
    /// assert!(Summary::with_prob([("z", DynTensor::<dfdx::prelude::Cpu>::zeros(&[2]))], 1.0).is_err());
    /// ```
    pub fn with_prob<D, I, K, V>(samples: I, prob: f64) -> Result<Self, SummaryError>
    where
        D: Backend,
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: Borrow<DynTensor<D>>,
    {
        if !(prob > 0.0 && prob < 1.0) {
            return Err(SummaryError::InvalidProb { prob });
        }
        let mut sites = Vec::new();
        for (name, value) in samples {
            sites.push(summarize(name.as_ref(), value.borrow(), prob)?);
        }
        sites.sort_by(|a, b| a.name.cmp(&b.name));
        if let Some(w) = sites.windows(2).find(|w| w[0].name == w[1].name) {
            return Err(SummaryError::DuplicateSite {
                site: w[0].name.clone(),
            });
        }
        Ok(Summary {
            prob,
            sites,
            extra: Vec::new(),
        })
    }

    /// The probability mass of the interval.
    ///
    /// ```
    /// # use pyro::infer::Summary;
    /// # use pyro::tensor::DynTensor;
    /// let z = DynTensor::<dfdx::prelude::Cpu>::zeros(&[2]);
    /// assert_eq!(Summary::with_prob([("z", z)], 0.8).unwrap().prob(), 0.8);
    /// ```
    pub fn prob(&self) -> f64 {
        self.prob
    }

    /// The sites, sorted by name.
    ///
    /// ```
    /// # use pyro::infer::Summary;
    /// # use pyro::tensor::DynTensor;
    /// let z = || DynTensor::<dfdx::prelude::Cpu>::zeros(&[2]);
    /// let s = Summary::new([("b", z()), ("a", z())]).unwrap();
    /// let names: Vec<&str> = s.sites().iter().map(|s| s.name()).collect();
    /// assert_eq!(names, ["a", "b"]);
    /// ```
    pub fn sites(&self) -> &[SiteSummary] {
        &self.sites
    }

    /// The statistics of one site, if it is in the summary.
    ///
    /// ```
    /// # use pyro::infer::Summary;
    /// # use pyro::tensor::DynTensor;
    /// let s = Summary::new([("a", DynTensor::<dfdx::prelude::Cpu>::zeros(&[2]))]).unwrap();
    /// assert!(s.site("a").is_some() && s.site("b").is_none());
    /// ```
    pub fn site(&self, name: &str) -> Option<&SiteSummary> {
        self.sites
            .binary_search_by(|s| s.name.as_str().cmp(name))
            .ok()
            .map(|i| &self.sites[i])
    }

    /// The column headers, in order: `mean`, `std`, `median`, the interval's bounds
    /// (`5.0%`, `95.0%` for 0.9), then the added columns.
    ///
    /// ```
    /// # use pyro::infer::Summary;
    /// # use pyro::tensor::DynTensor;
    /// let s = Summary::new([("a", DynTensor::<dfdx::prelude::Cpu>::zeros(&[2]))]).unwrap();
    /// assert_eq!(s.columns(), ["mean", "std", "median", "5.0%", "95.0%"]);
    /// ```
    pub fn columns(&self) -> Vec<String> {
        let mut out: Vec<String> = ["mean", "std", "median"].map(String::from).to_vec();
        out.push(format!("{:.1}%", 50.0 * (1.0 - self.prob)));
        out.push(format!("{:.1}%", 50.0 * (1.0 + self.prob)));
        out.extend(self.extra.iter().cloned());
        out
    }

    /// Adds a column (MCMC's `n_eff` and `r_hat`, say) with values for every site, one per
    /// element (row-major over the site's shape); it is printed after the others.
    ///
    /// ```
    /// use pyro::infer::{Summary, SummaryError};
    /// use pyro::tensor::DynTensor;
    /// let z = DynTensor::<dfdx::prelude::Cpu>::zeros(&[4, 2]);
    /// let mut s = Summary::new([("z", z)]).unwrap();
    /// s.add_column("r_hat", [("z", vec![1.0, 1.01])]).unwrap();
    /// assert_eq!(s.columns().last().unwrap(), "r_hat");
    /// let err = s.add_column("n_eff", [("z", vec![3.0])]).unwrap_err();
    /// assert!(matches!(err, SummaryError::ColumnLength { expected: 2, found: 1, .. }));
    /// ```
    pub fn add_column<K: AsRef<str>>(
        &mut self,
        name: &str,
        values: impl IntoIterator<Item = (K, Vec<f64>)>,
    ) -> Result<(), SummaryError> {
        let column = || name.to_string();
        if self.columns().iter().any(|c| c == name) {
            return Err(SummaryError::DuplicateColumn { column: column() });
        }
        let mut given: Vec<Option<Vec<f64>>> = vec![None; self.sites.len()];
        for (site, v) in values {
            let site = site.as_ref();
            let i = self
                .sites
                .binary_search_by(|s| s.name.as_str().cmp(site))
                .map_err(|_| SummaryError::UnknownSite {
                    column: column(),
                    site: site.to_string(),
                })?;
            let expected = self.sites[i].mean.len();
            if v.len() != expected {
                return Err(SummaryError::ColumnLength {
                    column: column(),
                    site: site.to_string(),
                    expected,
                    found: v.len(),
                });
            }
            given[i] = Some(v);
        }
        let mut columns = Vec::with_capacity(given.len());
        for (site, v) in self.sites.iter().zip(given) {
            columns.push(v.ok_or_else(|| SummaryError::MissingValues {
                column: column(),
                site: site.name.clone(),
            })?);
        }
        for (site, v) in self.sites.iter_mut().zip(columns) {
            site.extra.push(v);
        }
        self.extra.push(column());
        Ok(())
    }
}

/// The statistics of one site's samples.
fn summarize<D: Backend>(
    name: &str,
    value: &DynTensor<D>,
    prob: f64,
) -> Result<SiteSummary, SummaryError> {
    let shape = value.shape();
    let Some((&n, rest)) = shape.split_first() else {
        return Err(SummaryError::NoSampleDim {
            site: name.to_string(),
        });
    };
    if n == 0 {
        return Err(SummaryError::NoSamples {
            site: name.to_string(),
        });
    }
    let values = value.to_vec();
    let m = rest.iter().product::<usize>();
    let mut out = SiteSummary {
        name: name.to_string(),
        shape: rest.to_vec(),
        num_samples: n,
        mean: Vec::with_capacity(m),
        std: Vec::with_capacity(m),
        median: Vec::with_capacity(m),
        lo: Vec::with_capacity(m),
        hi: Vec::with_capacity(m),
        extra: Vec::new(),
    };
    let mut column = Vec::with_capacity(n);
    for j in 0..m {
        column.clear();
        column.extend((0..n).map(|s| f64::from(values[s * m + j])));
        let [mean, std, median, lo, hi] = element_stats(&mut column, prob);
        out.mean.push(mean);
        out.std.push(std);
        out.median.push(median);
        out.lo.push(lo);
        out.hi.push(hi);
    }
    Ok(out)
}

/// Mean, standard deviation (`n - 1`), lower median and the HPDI bounds of one element's
/// samples `x` (at least one; sorted in place).
fn element_stats(x: &mut [f64], prob: f64) -> [f64; 5] {
    let n = x.len();
    if x.iter().any(|v| v.is_nan()) {
        return [f64::NAN; 5];
    }
    let mean = x.iter().sum::<f64>() / n as f64;
    let ss = x.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>();
    // 0 / 0 = NaN for one sample, as torch.
    let std = (ss / (n as f64 - 1.0)).sqrt();
    x.sort_by(f64::total_cmp);
    let median = x[(n - 1) / 2];
    let (lo, hi) = hpdi_sorted(x, prob);
    [mean, std, median, lo, hi]
}

/// The `prob` highest posterior density interval of sorted, non-empty draws, as
/// `pyro.ops.stats.hpdi` (and NumPyro's): `int(prob * n)` draws apart, the first narrowest.
pub(crate) fn hpdi_sorted(sorted: &[f64], prob: f64) -> (f64, f64) {
    let n = sorted.len();
    let len = ((prob * n as f64) as usize).min(n.saturating_sub(1));
    let mut start = 0;
    let mut width = f64::INFINITY;
    for k in 0..n - len {
        let w = sorted[k + len] - sorted[k];
        if w < width {
            width = w;
            start = k;
        }
    }
    (sorted[start], sorted[start + len])
}

/// A number as Python's `"{:.2f}"` prints it (`nan`, `inf` and `-inf` included).
pub(crate) fn number(v: f64) -> String {
    if v.is_nan() {
        "nan".into()
    } else if v.is_infinite() {
        if v > 0.0 { "inf" } else { "-inf" }.into()
    } else {
        format!("{v:.2}")
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Pyro's width: the longest `name[d0-1,d1-1,...]` (`name[]` for a scalar site), at
        // least 10.
        let width = self
            .sites
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
        write!(f, "{:>width$}", "")?;
        for c in self.columns() {
            write!(f, " {c:>9}")?;
        }
        for s in &self.sites {
            for j in 0..s.mean.len() {
                let label = if s.shape.is_empty() {
                    s.name.clone()
                } else {
                    let idx = crate::distributions::unravel(j, &s.shape);
                    let idx: Vec<String> = idx.iter().map(usize::to_string).collect();
                    format!("{}[{}]", s.name, idx.join(","))
                };
                write!(f, "\n{label:>width$}")?;
                let fixed = [&s.mean, &s.std, &s.median, &s.lo, &s.hi];
                for col in fixed.into_iter().chain(&s.extra) {
                    write!(f, " {:>9}", number(col[j]))?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashMap};

    use dfdx::prelude::Cpu;

    use super::*;

    type T = DynTensor<Cpu>;

    fn t(v: Vec<f32>, shape: &[usize]) -> T {
        T::from_vec(v, shape).unwrap()
    }

    /// One case of `fixtures/summary.txt` (written by `scripts/fixtures/summary.py`).
    struct Case {
        name: String,
        prob: f64,
        shape: Vec<usize>,
        samples: Vec<f32>,
        /// mean, std, median, lo, hi.
        want: [Vec<f64>; 5],
    }

    fn fixture_path(file: &str) -> String {
        format!("{}/fixtures/{file}", env!("CARGO_MANIFEST_DIR"))
    }

    fn cases() -> Vec<Case> {
        let path = fixture_path("summary.txt");
        let text = std::fs::read_to_string(&path).unwrap();
        let mut lines = text.lines().filter(|l| !l.starts_with('#'));
        let mut out = Vec::new();
        let nums = |l: &str, key: &str| -> Vec<f64> {
            let rest = l.strip_prefix(key).unwrap_or_else(|| panic!("{path}: {l}"));
            rest.split_whitespace()
                .map(|x| x.parse().unwrap())
                .collect()
        };
        while let Some(head) = lines.next() {
            let f: Vec<&str> = head.split_whitespace().collect();
            assert_eq!(f[0], "case", "{path}: {head}");
            let shape: Vec<usize> = f[3..].iter().map(|d| d.parse().unwrap()).collect();
            let samples = nums(lines.next().unwrap(), "samples ");
            let mut want: [Vec<f64>; 5] = Default::default();
            for (w, key) in want
                .iter_mut()
                .zip(["mean ", "std ", "median ", "lo ", "hi "])
            {
                *w = nums(lines.next().unwrap(), key);
            }
            out.push(Case {
                name: f[1].to_string(),
                prob: f[2].parse().unwrap(),
                shape,
                samples: samples.iter().map(|&x| x as f32).collect(),
                want,
            });
        }
        assert_eq!(out.len(), 9);
        out
    }

    fn close(got: f64, want: f64) -> bool {
        (got.is_nan() && want.is_nan()) || (got - want).abs() <= 1e-12 * want.abs().max(1.0)
    }

    #[test]
    fn statistics_match_numpy() {
        for c in cases() {
            let s =
                Summary::with_prob([(&c.name, t(c.samples.clone(), &c.shape))], c.prob).unwrap();
            let site = s.site(&c.name).unwrap();
            assert_eq!(site.shape(), &c.shape[1..], "{}", c.name);
            assert_eq!(site.num_samples(), c.shape[0]);
            let got = [site.mean(), site.std(), site.median(), site.lo(), site.hi()];
            for (k, (g, w)) in got.iter().zip(&c.want).enumerate() {
                assert_eq!(g.len(), w.len(), "{} column {k}", c.name);
                for (gi, wi) in g.iter().zip(w) {
                    assert!(close(*gi, *wi), "{} column {k}: {gi} vs {wi}", c.name);
                }
            }
            // Median and interval bounds are samples themselves: exactly equal.
            for (g, w) in got[2..].iter().zip(&c.want[2..]) {
                assert!(g
                    .iter()
                    .zip(w)
                    .all(|(a, b)| a == b || a.is_nan() && b.is_nan()));
            }
        }
    }

    #[test]
    fn the_table_is_the_one_print_summary_prints() {
        let samples: HashMap<String, T> = cases()
            .into_iter()
            .filter(|c| c.prob == 0.9)
            .map(|c| (c.name, t(c.samples, &c.shape)))
            .collect();
        let want = std::fs::read_to_string(fixture_path("summary_display.txt")).unwrap();
        let got = Summary::new(&samples).unwrap().to_string();
        assert_eq!(got, want.trim_end_matches('\n'), "\n{got}\n---\n{want}");
        // The same from a BTreeMap, an owned map, and an iterator of pairs.
        let tree: BTreeMap<&str, &T> = samples.iter().map(|(k, v)| (k.as_str(), v)).collect();
        assert_eq!(Summary::new(tree).unwrap().to_string(), got);
        assert_eq!(Summary::new(samples.clone()).unwrap().to_string(), got);
        let some = Summary::new(samples.iter().filter(|(k, _)| k.as_str() == "normal")).unwrap();
        assert_eq!(some.sites().len(), 1);
    }

    #[test]
    fn added_columns_are_printed_after_the_interval() {
        let x = t(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[3, 2]);
        let mut s =
            Summary::with_prob([("x", x), ("y", t(vec![0.5, 0.25, 0.75], &[3]))], 0.5).unwrap();
        s.add_column("n_eff", [("x", vec![2.5, 3.0]), ("y", vec![1.0])])
            .unwrap();
        s.add_column(
            "r_hat",
            [("y", vec![f64::INFINITY]), ("x", vec![1.0, f64::NAN])],
        )
        .unwrap();
        let want = [
            "                mean       std    median     25.0%     75.0%     n_eff     r_hat",
            "      x[0]      3.00      2.00      3.00      1.00      3.00      2.50      1.00",
            "      x[1]      4.00      2.00      4.00      2.00      4.00      3.00       nan",
            "         y      0.50      0.25      0.50      0.25      0.50      1.00       inf",
        ];
        assert_eq!(s.to_string(), want.join("\n"));
        assert_eq!(
            s.site("x").unwrap().column(&s, "n_eff"),
            Some(&[2.5, 3.0][..])
        );
        assert_eq!(s.site("x").unwrap().column(&s, "ess"), None);
    }

    #[test]
    fn an_element_with_a_nan_sample_is_all_nan() {
        let x = t(vec![1.0, 2.0, f32::NAN, 4.0, 5.0, 6.0], &[3, 2]);
        let s = Summary::new([("x", x)]).unwrap();
        let x = s.site("x").unwrap();
        for col in [x.mean(), x.std(), x.median(), x.lo(), x.hi()] {
            assert!(col[0].is_nan() && !col[1].is_nan(), "{col:?}");
        }
    }

    #[test]
    fn errors_name_the_site_or_the_column() {
        let e = Summary::new([("a", t(vec![1.0], &[1])), ("z", T::scalar(1.0))]).unwrap_err();
        assert_eq!(e, SummaryError::NoSampleDim { site: "z".into() });
        let e = Summary::new([("e", T::zeros(&[0, 3]))]).unwrap_err();
        assert_eq!(e, SummaryError::NoSamples { site: "e".into() });
        assert!(e.to_string().contains("`e`"), "{e}");
        let e = Summary::new([("d", T::zeros(&[2])), ("d", T::zeros(&[2]))]).unwrap_err();
        assert_eq!(e, SummaryError::DuplicateSite { site: "d".into() });
        for prob in [0.0, 1.0, -0.5, f64::NAN] {
            let e = Summary::with_prob([("a", T::zeros(&[2]))], prob).unwrap_err();
            assert!(matches!(e, SummaryError::InvalidProb { .. }), "{prob}: {e}");
        }

        let mut s = Summary::new([("a", T::zeros(&[4, 2])), ("b", T::zeros(&[4]))]).unwrap();
        let before = s.clone();
        let e = s.add_column("mean", [("a", vec![0.0; 2]), ("b", vec![0.0])]);
        assert_eq!(
            e,
            Err(SummaryError::DuplicateColumn {
                column: "mean".into()
            })
        );
        let e = s.add_column("n_eff", [("a", vec![0.0; 2])]);
        assert_eq!(
            e,
            Err(SummaryError::MissingValues {
                column: "n_eff".into(),
                site: "b".into()
            })
        );
        let e = s.add_column("n_eff", [("a", vec![0.0; 2]), ("c", vec![0.0])]);
        assert!(matches!(e, Err(SummaryError::UnknownSite { ref site, .. }) if site == "c"));
        let e = s.add_column("n_eff", [("a", vec![0.0; 3]), ("b", vec![0.0])]);
        assert!(matches!(
            e,
            Err(SummaryError::ColumnLength {
                expected: 2,
                found: 3,
                ..
            })
        ));
        assert_eq!(s, before, "a failed add_column changes nothing");

        // Into PyroError with `?`: the typed variant, transparent (the summary error's
        // message, and its source, none, so nothing is repeated in a chain).
        let f = || -> crate::PyroResult<Summary> { Ok(Summary::new([("z", T::scalar(1.0))])?) };
        let e = f().unwrap_err();
        let crate::PyroError::Summary(original) = &e else {
            panic!("{e:?}")
        };
        assert!(matches!(original, SummaryError::NoSampleDim { .. }));
        assert_eq!(e.to_string(), original.to_string());
        assert!(std::error::Error::source(&e).is_none());
    }
}
