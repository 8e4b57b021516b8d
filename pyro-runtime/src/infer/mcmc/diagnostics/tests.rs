//! Tests of the diagnostics: ArviZ's values on the fixture's fixed draws
//! (`scripts/mcmc_diagnostics_arviz.py`), NumPyro's summary table, and properties on seeded
//! draws.

use rand::rngs::StdRng;
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};

use super::*;

// ---------------------------------------------------------------------------------------------
// A minimal JSON reader for the fixture (the crate has no JSON dependency).
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Json {
    Null,
    Bool,
    Num(f64),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

impl Json {
    fn parse(text: &str) -> Json {
        let mut p = Parser {
            s: text.as_bytes(),
            i: 0,
        };
        let v = p.value();
        p.ws();
        assert_eq!(p.i, p.s.len(), "trailing characters in the fixture");
        v
    }

    fn get(&self, key: &str) -> &Json {
        match self {
            Json::Obj(kv) => kv
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v)
                .unwrap_or_else(|| panic!("no key `{key}`")),
            other => panic!("not an object: {other:?}"),
        }
    }

    fn has(&self, key: &str) -> bool {
        matches!(self, Json::Obj(kv) if kv.iter().any(|(k, _)| k == key))
    }

    fn arr(&self) -> &[Json] {
        match self {
            Json::Arr(a) => a,
            other => panic!("not an array: {other:?}"),
        }
    }

    fn str(&self) -> &str {
        match self {
            Json::Str(s) => s,
            other => panic!("not a string: {other:?}"),
        }
    }

    /// A number; the script writes non-finite ones as "NaN", "Infinity", "-Infinity".
    fn num(&self) -> f64 {
        match self {
            Json::Num(x) => *x,
            Json::Str(s) if s == "NaN" => f64::NAN,
            Json::Str(s) if s == "Infinity" => f64::INFINITY,
            Json::Str(s) if s == "-Infinity" => f64::NEG_INFINITY,
            other => panic!("not a number: {other:?}"),
        }
    }

    fn nums(&self) -> Vec<f64> {
        self.arr().iter().map(Json::num).collect()
    }

    fn usize(&self) -> usize {
        let x = self.num();
        assert!(x >= 0.0 && x.fract() == 0.0, "not a count: {x}");
        x as usize
    }
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) {
        self.ws();
        assert_eq!(self.s[self.i], c, "expected `{}` at {}", c as char, self.i);
        self.i += 1;
    }

    fn peek(&mut self) -> u8 {
        self.ws();
        self.s[self.i]
    }

    fn value(&mut self) -> Json {
        match self.peek() {
            b'{' => {
                self.eat(b'{');
                let mut kv = Vec::new();
                if self.peek() == b'}' {
                    self.i += 1;
                    return Json::Obj(kv);
                }
                loop {
                    let Json::Str(k) = self.value() else {
                        panic!("object key at {}", self.i)
                    };
                    self.eat(b':');
                    kv.push((k, self.value()));
                    match self.peek() {
                        b',' => self.i += 1,
                        _ => break,
                    }
                }
                self.eat(b'}');
                Json::Obj(kv)
            }
            b'[' => {
                self.eat(b'[');
                let mut a = Vec::new();
                if self.peek() == b']' {
                    self.i += 1;
                    return Json::Arr(a);
                }
                loop {
                    a.push(self.value());
                    match self.peek() {
                        b',' => self.i += 1,
                        _ => break,
                    }
                }
                self.eat(b']');
                Json::Arr(a)
            }
            b'"' => {
                self.i += 1;
                let mut out = String::new();
                loop {
                    let c = self.s[self.i];
                    self.i += 1;
                    match c {
                        b'"' => break,
                        b'\\' => {
                            let e = self.s[self.i];
                            self.i += 1;
                            match e {
                                b'n' => out.push('\n'),
                                b't' => out.push('\t'),
                                b'"' => out.push('"'),
                                b'\\' => out.push('\\'),
                                b'/' => out.push('/'),
                                b'u' => {
                                    let hex =
                                        std::str::from_utf8(&self.s[self.i..self.i + 4]).unwrap();
                                    self.i += 4;
                                    let code = u32::from_str_radix(hex, 16).unwrap();
                                    out.push(char::from_u32(code).expect("a BMP character"));
                                }
                                _ => panic!("escape \\{}", e as char),
                            }
                        }
                        _ => {
                            // Copy a whole UTF-8 sequence.
                            let start = self.i - 1;
                            let mut end = self.i;
                            while end < self.s.len() && (self.s[end] & 0xC0) == 0x80 {
                                end += 1;
                            }
                            out.push_str(std::str::from_utf8(&self.s[start..end]).unwrap());
                            self.i = end;
                        }
                    }
                }
                Json::Str(out)
            }
            b't' => {
                self.i += 4;
                Json::Bool
            }
            b'f' => {
                self.i += 5;
                Json::Bool
            }
            b'n' => {
                self.i += 4;
                Json::Null
            }
            _ => {
                let start = self.i;
                while self.i < self.s.len()
                    && matches!(
                        self.s[self.i],
                        b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'
                    )
                {
                    self.i += 1;
                }
                let t = std::str::from_utf8(&self.s[start..self.i]).unwrap();
                Json::Num(t.parse().unwrap_or_else(|_| panic!("number `{t}`")))
            }
        }
    }
}

fn fixture() -> Json {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/src/infer/mcmc/fixtures/mcmc_diagnostics.json"
    );
    Json::parse(&std::fs::read_to_string(path).unwrap())
}

// ---------------------------------------------------------------------------------------------
// Against ArviZ
// ---------------------------------------------------------------------------------------------

/// Relative tolerance against ArviZ's values (the brief's 1e-6; the observed agreement is at
/// the level of rounding, see `fixture_agreement_is_at_rounding_level`).
const REL: f64 = 1e-6;

fn close(got: f64, want: f64, rel: f64) -> bool {
    if want.is_nan() || got.is_nan() {
        return want.is_nan() && got.is_nan();
    }
    if want.is_infinite() || got.is_infinite() {
        return got == want;
    }
    (got - want).abs() <= rel * want.abs().max(1e-300) || (got - want).abs() <= 1e-14
}

struct Case {
    name: String,
    chains: Vec<Vec<f64>>,
    case: Json,
}

fn cases(fix: &Json) -> Vec<Case> {
    fix.get("cases")
        .arr()
        .iter()
        .map(|c| Case {
            name: c.get("name").str().to_string(),
            chains: c.get("draws").arr().iter().map(Json::nums).collect(),
            case: c.clone(),
        })
        .collect()
}

/// Every case's diagnostics and the worst relative error against ArviZ, per diagnostic.
fn check_all(rel: f64) -> Vec<(String, f64)> {
    let fix = fixture();
    let probs = fix.get("quantiles").nums();
    let mut worst: Vec<(String, f64)> = Vec::new();
    let mut record = |what: &str, case: &str, got: f64, want: f64| {
        assert!(
            close(got, want, rel),
            "{case}: {what} = {got:e}, ArviZ {want:e} (rel {:e})",
            ((got - want) / want).abs()
        );
        let err = if got == want || (got.is_nan() && want.is_nan()) {
            0.0
        } else {
            ((got - want) / want).abs()
        };
        match worst.iter_mut().find(|(w, _)| w == what) {
            Some((_, e)) => *e = e.max(err),
            None => worst.push((what.to_string(), err)),
        }
    };
    let all = cases(&fix);
    assert_eq!(all.len(), 20);
    for Case { name, chains, case } in &all {
        let want_rhat = if case.has("rhat_split") {
            // One chain: ArviZ returns NaN; ours is its split computation on the halves.
            assert!(case.get("rhat").num().is_nan(), "{name}");
            case.get("rhat_split").num()
        } else {
            case.get("rhat").num()
        };
        record("rhat", name, split_rhat(chains), want_rhat);
        record(
            "ess_bulk",
            name,
            ess_bulk(chains),
            case.get("ess_bulk").num(),
        );
        record(
            "ess_tail",
            name,
            ess_tail(chains),
            case.get("ess_tail").num(),
        );
        record(
            "mcse_mean",
            name,
            mcse_mean(chains),
            case.get("mcse_mean").num(),
        );
        for (p, want) in probs.iter().zip(case.get("mcse_quantile").nums()) {
            record("mcse_quantile", name, mcse_quantile(chains, *p), want);
        }
    }
    worst
}

#[test]
fn diagnostics_match_arviz() {
    check_all(REL);
}

#[test]
fn fixture_agreement_is_at_rounding_level() {
    // Tighter than required: the agreement is at the level of rounding (about 1e-15).
    for (what, err) in check_all(1e-12) {
        eprintln!("{what}: worst relative error against ArviZ {err:e}");
        assert!(err < 1e-12, "{what}: {err:e}");
    }
}

#[test]
fn fixture_covers_the_edge_cases() {
    let fix = fixture();
    let all = cases(&fix);
    let get = |n: &str| all.iter().find(|c| c.name == n).unwrap();
    // Constant draws: R-hat NaN, ESS = every draw, MCSE 0 (ArviZ's values).
    let c = &get("constant").chains;
    assert!(split_rhat(c).is_nan());
    assert_eq!(
        (ess_bulk(c), ess_tail(c), mcse_mean(c)),
        (400.0, 400.0, 0.0)
    );
    // Chains constant at different values: R-hat +inf.
    assert_eq!(split_rhat(&get("constant_per_chain").chains), f64::INFINITY);
    // Fewer than 4 draws: NaN everywhere.
    let c = &get("three_draws").chains;
    assert!([split_rhat(c), ess_bulk(c), ess_tail(c), mcse_mean(c)]
        .iter()
        .all(|v| v.is_nan()));
    // Bad chains are flagged, good ones are not.
    assert!(split_rhat(&get("shifted_chain").chains) > 1.1);
    assert!(split_rhat(&get("scaled_chain").chains) > 1.1); // only the folded R-hat sees it
    assert!(split_rhat(&get("iid_normal").chains) < 1.01);
}

// ---------------------------------------------------------------------------------------------
// The summary table against NumPyro's print_summary
// ---------------------------------------------------------------------------------------------

fn summary_sites(fix: &Json) -> Vec<(SiteDraws, Json)> {
    fix.get("summary")
        .get("sites")
        .arr()
        .iter()
        .map(|s| {
            let shape = s.get("shape").arr().iter().map(Json::usize).collect();
            let site = SiteDraws::new(
                s.get("name").str(),
                shape,
                s.get("num_chains").usize(),
                s.get("values").nums(),
            )
            .unwrap();
            assert_eq!(site.num_draws(), s.get("num_draws").usize());
            (site, s.clone())
        })
        .collect()
}

#[test]
fn summary_statistics_match_numpyro_and_arviz() {
    let fix = fixture();
    let sites = summary_sites(&fix);
    let draws: Vec<SiteDraws> = sites.iter().map(|(s, _)| s.clone()).collect();
    let got = summarize(&draws, 0.9).unwrap();
    for (s, (_, want)) in got.iter().zip(&sites) {
        let cols = [
            ("mean", &s.mean),
            ("std", &s.std),
            ("median", &s.median),
            ("hpdi_lo", &s.hpdi_lo),
            ("hpdi_hi", &s.hpdi_hi),
            ("n_eff", &s.n_eff),
            ("r_hat", &s.r_hat),
        ];
        for (key, g) in cols {
            let w = want.get(key).nums();
            assert_eq!(g.len(), w.len());
            for (j, (g, w)) in g.iter().zip(&w).enumerate() {
                // Means near zero: numpy's pairwise sums differ by rounding, in absolute terms.
                assert!(
                    close(*g, *w, 1e-9) || (g - w).abs() < 1e-13,
                    "{}[{j}] {key}: {g} vs {w}",
                    s.name
                );
            }
        }
    }
}

#[test]
fn summary_table_matches_numpyro_print_summary() {
    let fix = fixture();
    let draws: Vec<SiteDraws> = summary_sites(&fix).into_iter().map(|(s, _)| s).collect();
    let n_div = fix.get("summary").get("num_divergences").usize();
    let table = summary_table(&draws, n_div);
    assert_eq!(table, fix.get("summary").get("table").str(), "\n{table}");
}

#[test]
fn summary_table_prints_nan_and_inf_as_python() {
    let constant = SiteDraws::new("c", vec![], 2, vec![1.0; 20]).unwrap();
    let stuck = SiteDraws::new(
        "stuck_at_two_values",
        vec![],
        2,
        [vec![0.0; 10], vec![1.0; 10]].concat(),
    )
    .unwrap();
    let table = summary_table(&[constant, stuck], 0);
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[1].ends_with("    20.00       nan"), "{table}");
    assert!(lines[2].ends_with("       inf"), "{table}");
    // Width: the longest `name[]`, 21 characters.
    assert!(lines[2].starts_with("  stuck_at_two_values "), "{table}");
}

#[test]
fn summary_inputs_are_validated() {
    assert!(matches!(
        SiteDraws::new("a", vec![2], 3, vec![0.0; 7]),
        Err(DiagnosticsError::Length { .. })
    ));
    assert!(matches!(
        SiteDraws::new("a", vec![0], 3, vec![]),
        Err(DiagnosticsError::NoDraws { .. })
    ));
    assert!(matches!(
        SiteDraws::from_elements("a", vec![2], vec![vec![vec![0.0; 4]]]),
        Err(DiagnosticsError::Length { .. })
    ));
    assert!(matches!(
        SiteDraws::from_elements("a", vec![], vec![]),
        Err(DiagnosticsError::NoChains { .. })
    ));
    let site = SiteDraws::new("a", vec![], 1, vec![0.0; 4]).unwrap();
    assert!(matches!(
        summarize(&[site], 0.0),
        Err(DiagnosticsError::InvalidProb { .. })
    ));
}

#[test]
fn from_elements_and_new_agree() {
    let fix = fixture();
    for (site, _) in summary_sites(&fix) {
        let elements: Vec<Vec<Vec<f64>>> = (0..site.numel()).map(|j| site.element(j)).collect();
        let again = SiteDraws::from_elements(site.name(), site.shape().to_vec(), elements).unwrap();
        assert_eq!(again, site);
    }
}

// ---------------------------------------------------------------------------------------------
// Edge cases and building blocks
// ---------------------------------------------------------------------------------------------

#[test]
fn invalid_inputs_give_nan() {
    let nan_all = |c: &[Vec<f64>]| {
        [
            split_rhat(c),
            ess_bulk(c),
            ess_tail(c),
            ess_mean(c),
            mcse_mean(c),
            mcse_quantile(c, 0.5),
        ]
        .iter()
        .all(|v| v.is_nan())
    };
    assert!(nan_all(&[]));
    assert!(nan_all(&[vec![]]));
    assert!(nan_all(&[vec![1.0, 2.0, 3.0]]));
    assert!(nan_all(&[vec![1.0, 2.0, 3.0, 4.0], vec![1.0, 2.0, 3.0]])); // ragged
    assert!(nan_all(&[vec![1.0, 2.0, f64::NAN, 4.0]]));
    let ok = vec![vec![1.0, 2.0, 3.0, 5.0]];
    assert!(ess_quantile(&ok, 1.5).is_nan() && mcse_quantile(&ok, -0.1).is_nan());
}

#[test]
fn infinite_draws_are_ranked() {
    let mut a: Vec<f64> = (0..50).map(|i| ((i * 17) % 53) as f64).collect();
    a[10] = f64::INFINITY;
    let chains = [a.clone(), a.iter().map(|v| -v).collect()];
    assert!(ess_bulk(&chains).is_finite() && split_rhat(&chains).is_finite());
    assert!(mcse_mean(&chains).is_nan());
    // Mostly infinite: the folded draws are NaN (inf - inf), so is the tail R-hat, and
    // Python's max(bulk, nan) keeps the bulk one. ArviZ: 0.9128709291752768.
    let inf = vec![vec![f64::INFINITY, f64::INFINITY, f64::INFINITY, 1.0]; 2];
    assert!((split_rhat(&inf) - 0.9128709291752768).abs() < 1e-12);
}

#[test]
fn autocovariance_matches_the_direct_sum() {
    let mut rng = StdRng::seed_from_u64(3);
    for n in [1, 2, 3, 7, 64, 100, 513] {
        let x: Vec<f64> = (0..n).map(|_| StandardNormal.sample(&mut rng)).collect();
        let m = x.iter().sum::<f64>() / n as f64;
        let acov = autocovariance(&x);
        assert_eq!(acov.len(), n);
        for k in 0..n {
            let direct = (0..n - k).map(|t| (x[t] - m) * (x[t + k] - m)).sum::<f64>() / n as f64;
            assert!(
                (acov[k] - direct).abs() < 1e-13 * acov[0].max(1.0),
                "n {n} lag {k}"
            );
        }
    }
    assert!(autocovariance(&[]).is_empty());
    assert_eq!(autocovariance(&[3.0]), vec![0.0]);
}

#[test]
fn ranks_average_ties_like_scipy() {
    // scipy.stats.rankdata([3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5], method="average")
    let r = average_ranks(&[3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0, 5.0, 3.0, 5.0]);
    assert_eq!(
        r,
        vec![4.5, 1.5, 6.0, 1.5, 8.0, 11.0, 3.0, 10.0, 8.0, 4.5, 8.0]
    );
    assert_eq!(average_ranks(&[0.0, -0.0]), vec![1.5, 1.5]);
}

#[test]
fn beta_ppf_inverts_betainc() {
    // scipy.stats.beta.ppf(0.1586553, 3.5, 2.0) = 0.4862796...; check the inverse property
    // and symmetry instead of a printed value.
    for (a, b) in [(1.0, 1.0), (3.5, 2.0), (101.0, 1901.0), (1000.5, 1000.5)] {
        for p in [0.1586553, 0.5, 0.8413447] {
            let x = beta_ppf(p, a, b);
            assert!((betainc(a, b, x) - p).abs() < 1e-12, "{a} {b} {p}");
            assert!((beta_ppf(1.0 - p, b, a) - (1.0 - x)).abs() < 1e-12);
        }
    }
    assert!((beta_ppf(0.25, 1.0, 1.0) - 0.25).abs() < 1e-15);
    assert!(beta_ppf(0.5, f64::NAN, 1.0).is_nan());
}

// ---------------------------------------------------------------------------------------------
// Properties on seeded draws
// ---------------------------------------------------------------------------------------------

fn ar1_chains(rng: &mut StdRng, chains: usize, n: usize, rho: f64) -> Vec<Vec<f64>> {
    (0..chains)
        .map(|_| {
            let mut x: f64 = StandardNormal.sample(rng);
            x /= (1.0 - rho * rho).sqrt();
            (0..n)
                .map(|_| {
                    let e: f64 = StandardNormal.sample(rng);
                    x = rho * x + e;
                    x
                })
                .collect()
        })
        .collect()
}

#[test]
fn iid_normal_draws_have_rhat_near_one_and_ess_near_n() {
    let mut rng = StdRng::seed_from_u64(20261204);
    for _ in 0..5 {
        let chains = ar1_chains(&mut rng, 4, 1000, 0.0);
        let n = 4000.0;
        let r = split_rhat(&chains);
        assert!((r - 1.0).abs() < 0.01, "R-hat {r}");
        for (what, ess) in [
            ("bulk", ess_bulk(&chains)),
            ("tail", ess_tail(&chains)),
            ("mean", ess_mean(&chains)),
        ] {
            // The ESS estimate of iid draws has a sd of a few percent of n (tail: more).
            assert!(ess > 0.75 * n && ess < 1.25 * n, "{what} ESS {ess}");
        }
        let se = mcse_mean(&chains);
        assert!((se - 1.0 / n.sqrt()).abs() < 0.15 / n.sqrt(), "MCSE {se}");
    }
}

#[test]
fn ar1_draws_have_ess_near_the_theoretical_value() {
    // For AR(1) the integrated autocorrelation time is (1 + rho) / (1 - rho).
    let mut rng = StdRng::seed_from_u64(7);
    for rho in [0.5, 0.9] {
        let chains = ar1_chains(&mut rng, 4, 2000, rho);
        let n = 8000.0;
        let want = n * (1.0 - rho) / (1.0 + rho);
        for (what, ess) in [("bulk", ess_bulk(&chains)), ("mean", ess_mean(&chains))] {
            assert!(
                ess > 0.7 * want && ess < 1.3 * want,
                "rho {rho}: {what} ESS {ess} vs {want}"
            );
        }
        assert!(split_rhat(&chains) < 1.05);
    }
    // Negative autocorrelation: more effective draws than draws.
    let chains = ar1_chains(&mut rng, 4, 2000, -0.5);
    assert!(ess_mean(&chains) > 8000.0 * 2.0);
}

#[test]
fn a_shifted_or_wider_chain_raises_rhat() {
    let mut rng = StdRng::seed_from_u64(11);
    let mut chains = ar1_chains(&mut rng, 4, 500, 0.3);
    assert!(split_rhat(&chains) < 1.02);
    let good = chains.clone();
    chains[0].iter_mut().for_each(|v| *v += 2.0);
    assert!(split_rhat(&chains) > 1.2);
    let mut wide = good;
    wide[0].iter_mut().for_each(|v| *v *= 5.0);
    assert!(split_rhat(&wide) > 1.1);
    // A drifting single chain: its two halves disagree.
    let drift: Vec<f64> = (0..400)
        .map(|i| i as f64 / 40.0 + ((i * 7) % 11) as f64 / 11.0)
        .collect();
    assert!(split_rhat(&[drift]) > 1.5);
}

#[test]
fn rank_diagnostics_are_invariant_under_monotone_maps() {
    let mut rng = StdRng::seed_from_u64(5);
    let chains = ar1_chains(&mut rng, 3, 300, 0.6);
    let mapped: Vec<Vec<f64>> = chains
        .iter()
        .map(|c| c.iter().map(|v| v.exp()).collect())
        .collect();
    assert!((ess_bulk(&chains) - ess_bulk(&mapped)).abs() < 1e-9);
    assert!((ess_tail(&chains) - ess_tail(&mapped)).abs() < 1e-9);
    // The folded R-hat folds around the median, which exp does not preserve distances to:
    // only the bulk part is invariant, so R-hat changes little, not nothing.
    assert!((split_rhat(&chains) - split_rhat(&mapped)).abs() < 0.05);
}
