//! Divergences between the discrete families parameterized by probabilities or logits
//! (Bernoulli, Binomial, Categorical). Each side is read from the parameter it was built from,
//! so logits keep their precision where the probabilities round to 0 or 1, and the gradients
//! go to that parameter. Conventions as in torch: a term with `p = 0` is 0; a category with
//! `p > 0 = q` makes the divergence `+inf`.

use super::super::bernoulli::ParamKind;
use super::super::host_map::host_map;
use super::super::*;
use super::rowwise::rowwise;
use crate::tensor::special::scalar::{sigmoid, softplus};

/// A success probability `p` held in `f64` with `1 - p`, `ln p`, `ln(1 - p)` and the logit,
/// each computed from the parameter without cancellation.
#[derive(Debug, Clone, Copy)]
struct Coin {
    p: f64,
    q: f64,
    lp: f64,
    lq: f64,
    logit: f64,
}

impl Coin {
    fn new(t: f64, kind: ParamKind) -> Coin {
        match kind {
            ParamKind::Probs => {
                let (lp, lq) = (t.ln(), libm::log1p(-t));
                Coin {
                    p: t,
                    q: 1.0 - t,
                    lp,
                    lq,
                    logit: lp - lq,
                }
            }
            ParamKind::Logits => Coin {
                p: sigmoid(t),
                q: sigmoid(-t),
                lp: -softplus(-t),
                lq: -softplus(t),
                logit: t,
            },
        }
    }
}

/// `w (x - y)` with `0 (x - y) = 0`.
fn weighted_log_ratio(w: f64, x: f64, y: f64) -> f64 {
    if w == 0.0 {
        0.0
    } else {
        w * (x - y)
    }
}

/// `KL(Bern(a) || Bern(b)) = a ln(a/b) + (1-a) ln((1-a)/(1-b))` and its partials with respect
/// to the two parameters: through the logits, `∂/∂logit_a = a(1-a)(logit_a - logit_b)` and
/// `∂/∂logit_b = b - a`; through the probabilities, `∂/∂a = logit_a - logit_b` and
/// `∂/∂b = (b - a) / (b(1-b))`.
fn bernoulli_kernel(a: Coin, ka: ParamKind, b: Coin, kb: ParamKind) -> (f64, [f64; 2]) {
    let v = weighted_log_ratio(a.p, a.lp, b.lp) + weighted_log_ratio(a.q, a.lq, b.lq);
    let dlogit = a.logit - b.logit;
    let ga = match ka {
        ParamKind::Logits => a.p * a.q * dlogit,
        ParamKind::Probs => dlogit,
    };
    let gb = match kb {
        ParamKind::Logits => b.p - a.p,
        ParamKind::Probs => (b.p - a.p) / (b.p * b.q),
    };
    (v, [ga, gb])
}

pub(super) fn kl_bernoulli_bernoulli<D: Backend>(
    p: &Bernoulli<DynShape, D>,
    q: &Bernoulli<DynShape, D>,
) -> DistResult<DynTensor<D>> {
    let ((a, ka), (b, kb)) = (p.raw_param(), q.raw_param());
    host_map("kl_divergence", [a, b], |[x, y]| {
        bernoulli_kernel(Coin::new(x, ka), ka, Coin::new(y, kb), kb)
    })
}

/// `n KL(Bern(a) || Bern(b))` for equal counts, `+inf` where `p`'s count exceeds `q`'s (`p`
/// charges values `q` cannot take). A smaller count in `p` than in `q` has no closed form
/// (torch leaves it unimplemented too) and is an error naming `q`. The counts are constants.
pub(super) fn kl_binomial_binomial<D: Backend>(
    p: &Binomial<DynShape, D>,
    q: &Binomial<DynShape, D>,
) -> DistResult<DynTensor<D>> {
    let (counts, _) = broadcast_params("kl_divergence", &[p.total_count(), q.total_count()])?;
    let (np, nq) = (counts[0].to_vec(), counts[1].to_vec());
    if let Some(i) = np.iter().zip(&nq).position(|(a, b)| a < b) {
        return Err(DistError::InvalidParameter {
            dist: "kl_divergence",
            param: "q",
            reason: format!(
                "KL(Binomial || Binomial) needs q.total_count <= p.total_count; \
                 found {} > {} at element {i}",
                nq[i], np[i]
            ),
        });
    }
    let ((a, ka), (b, kb)) = (p.raw_param(), q.raw_param());
    host_map(
        "kl_divergence",
        [p.total_count(), a, q.total_count(), b],
        |[n, x, m, y]| {
            if n > m {
                return (f64::INFINITY, [0.0; 4]);
            }
            if n == 0.0 {
                return (0.0, [0.0; 4]);
            }
            let (v, [ga, gb]) = bernoulli_kernel(Coin::new(x, ka), ka, Coin::new(y, kb), kb);
            (n * v, [0.0, n * ga, 0.0, n * gb])
        },
    )
}

/// One categorical row in `f64`: normalized probabilities, their logarithms, and the total of
/// the raw weights (1 for logits).
struct Row {
    p: Vec<f64>,
    l: Vec<f64>,
    total: f64,
}

impl Row {
    fn new(t: &[f64], kind: ParamKind) -> Row {
        match kind {
            ParamKind::Probs => {
                let total: f64 = t.iter().sum();
                let p: Vec<f64> = t.iter().map(|w| w / total).collect();
                let l = p.iter().map(|p| p.ln()).collect();
                Row { p, l, total }
            }
            ParamKind::Logits => {
                let m = t.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let lse = m + t.iter().map(|x| (x - m).exp()).sum::<f64>().ln();
                let l: Vec<f64> = t.iter().map(|x| x - lse).collect();
                let p = l.iter().map(|l| l.exp()).collect();
                Row { p, l, total: 1.0 }
            }
        }
    }
}

/// `KL = Σ_k p_k (ln p_k - ln q_k)` for one pair of rows, and its gradients: with respect to
/// logits `p_j (ln p_j - ln q_j - KL)` and `q_j - p_j`; with respect to unnormalized
/// probabilities `(ln p_j - ln q_j - KL) / Σ w` and `(1 - p_j / q_j) / Σ v`.
fn categorical_row(
    a: &[f64],
    ka: ParamKind,
    b: &[f64],
    kb: ParamKind,
    with_grad: bool,
) -> (f64, Vec<f64>, Vec<f64>) {
    let (p, q) = (Row::new(a, ka), Row::new(b, kb));
    let kl: f64 = (0..a.len())
        .map(|j| weighted_log_ratio(p.p[j], p.l[j], q.l[j]))
        .sum();
    if !with_grad {
        return (kl, vec![], vec![]);
    }
    let ga = (0..a.len())
        .map(|j| match ka {
            ParamKind::Logits if p.p[j] == 0.0 => 0.0,
            ParamKind::Logits => p.p[j] * (p.l[j] - q.l[j] - kl),
            ParamKind::Probs => (p.l[j] - q.l[j] - kl) / p.total,
        })
        .collect();
    let gb = (0..b.len())
        .map(|j| match kb {
            ParamKind::Logits => q.p[j] - p.p[j],
            ParamKind::Probs => (1.0 - p.p[j] / q.p[j]) / q.total,
        })
        .collect();
    (kl, ga, gb)
}

/// Row by row over the broadcast batch shapes; the category counts must agree.
pub(super) fn kl_categorical_categorical<D: Backend>(
    p: &Categorical<DynShape, D>,
    q: &Categorical<DynShape, D>,
) -> DistResult<DynTensor<D>> {
    let k = p.num_categories();
    if q.num_categories() != k {
        return Err(DistError::InvalidParameter {
            dist: "kl_divergence",
            param: "q",
            reason: format!("{} categories, p has {k}", q.num_categories()),
        });
    }
    let ((a, ka), (b, kb)) = (p.raw_param(), q.raw_param());
    rowwise((a, p.batch_shape()), (b, q.batch_shape()), k, &|x, y, g| {
        categorical_row(x, ka, y, kb, g)
    })
}

#[cfg(test)]
#[allow(clippy::needless_range_loop)] // index-heavy numeric checks
mod tests {
    use super::*;
    use crate::distributions::testing_mv::{check_kl_grad, check_kl_mc};
    use crate::linalg::test_util::{analytic_grads, check_host_grads, f64s};
    use dfdx::prelude::Cpu;

    fn t(v: &[f32], shape: &[usize]) -> DynTensor<Cpu> {
        DynTensor::from_vec(v.to_vec(), shape).unwrap()
    }

    /// The `f64` reference `a ln(a/b) + (1-a) ln((1-a)/(1-b))`.
    fn bern(a: f64, b: f64) -> f64 {
        a * (a / b).ln() + (1.0 - a) * ((1.0 - a) / (1.0 - b)).ln()
    }

    fn sig(x: f64) -> f64 {
        1.0 / (1.0 + (-x).exp())
    }

    #[test]
    fn bernoulli_bernoulli_matches_monte_carlo() {
        let p = Bernoulli::from_dyn(t(&[0.2, 0.9, 0.5], &[3])).unwrap();
        let q = Bernoulli::from_dyn_logits(t(&[0.5], &[1])).unwrap();
        let kl = kl_divergence(&p, &q).unwrap();
        assert_eq!(kl.shape(), &[3]);
        check_kl_mc(&p, &q, &kl);
        let pl = Bernoulli::from_dyn_logits(t(&[-2.0, 3.0], &[2])).unwrap();
        let qp = Bernoulli::from_dyn(t(&[0.3], &[1])).unwrap();
        check_kl_mc(&pl, &qp, &kl_divergence(&pl, &qp).unwrap());
        assert_eq!(kl_divergence(&p, &p).unwrap().to_vec(), vec![0.0; 3]);
    }

    #[test]
    fn bernoulli_edge_cases() {
        let kl = |a: &Bernoulli<DynShape, Cpu>, b: &Bernoulli<DynShape, Cpu>| {
            kl_divergence(a, b).unwrap().to_vec()
        };
        let probs = |v: f32| Bernoulli::from_dyn(t(&[v], &[1])).unwrap();
        let logits = |v: f32| Bernoulli::from_dyn_logits(t(&[v], &[1])).unwrap();
        // p = 0 or 1: only one term; q = 0 or 1 under p charging the other value: +inf.
        let want = -(0.7f64.ln());
        assert!((kl(&probs(0.0), &probs(0.3))[0] as f64 - want).abs() < 1e-6);
        assert!((kl(&probs(1.0), &probs(0.7))[0] as f64 - want).abs() < 1e-6);
        assert_eq!(kl(&probs(0.5), &probs(0.0))[0], f32::INFINITY);
        assert_eq!(kl(&probs(0.5), &probs(1.0))[0], f32::INFINITY);
        assert_eq!(kl(&probs(0.0), &probs(0.0))[0], 0.0);
        // Far tails in logits keep their precision (the probabilities round to 0 in f32).
        let (a, b) = (-30.0f64, -28.0f64);
        let want = sig(a) * (a - b) + libm::log1p(b.exp()) - libm::log1p(a.exp());
        let got = kl(&logits(a as f32), &logits(b as f32))[0] as f64;
        assert!((got - want).abs() <= 1e-5 * want, "{got} vs {want}");
        let (a, b) = (30.0f64, 28.0f64);
        let want = sig(-a) * (b - a) + libm::log1p((-b).exp()) - libm::log1p((-a).exp());
        let got = kl(&logits(a as f32), &logits(b as f32))[0] as f64;
        assert!((got - want).abs() <= 1e-5 * want, "{got} vs {want}");
    }

    #[test]
    fn bernoulli_gradients_match_finite_differences() {
        // p by logits, q by probabilities: gradients reach each through its own parameter.
        check_kl_grad(
            &[0.8, 0.3],
            |x| {
                let p = Bernoulli::from_dyn_logits(x[0].clone()).unwrap();
                let q = Bernoulli::from_dyn(x[1].clone()).unwrap();
                kl_divergence(&p, &q).unwrap()
            },
            |x| bern(sig(x[0]), x[1]),
        );
        check_kl_grad(
            &[0.35, -1.2],
            |x| {
                let p = Bernoulli::from_dyn(x[0].clone()).unwrap();
                let q = Bernoulli::from_dyn_logits(x[1].clone()).unwrap();
                kl_divergence(&p, &q).unwrap()
            },
            |x| bern(x[0], sig(x[1])),
        );
    }

    #[test]
    fn binomial_binomial_matches_monte_carlo() {
        let p = Binomial::from_dyn(t(&[10.0], &[1]), t(&[0.3, 0.8], &[2])).unwrap();
        let q = Binomial::from_dyn_logits(t(&[10.0], &[1]), t(&[0.2], &[1])).unwrap();
        let kl = kl_divergence(&p, &q).unwrap();
        assert_eq!(kl.shape(), &[2]);
        check_kl_mc(&p, &q, &kl);
        // n times the Bernoulli divergence.
        let want = 10.0 * bern(0.3f32 as f64, sig(0.2f32 as f64));
        assert!((kl.to_vec()[0] as f64 - want).abs() < 1e-5 * want);
        check_kl_grad(
            &[0.3, 0.6],
            |x| {
                let p = Binomial::from_dyn(DynTensor::scalar(7.0), x[0].clone()).unwrap();
                let q = Binomial::from_dyn(DynTensor::scalar(7.0), x[1].clone()).unwrap();
                kl_divergence(&p, &q).unwrap()
            },
            |x| 7.0 * bern(x[0], x[1]),
        );
    }

    #[test]
    fn binomial_count_mismatches() {
        let p = Binomial::from_dyn(t(&[10.0, 5.0], &[2]), t(&[0.3], &[1])).unwrap();
        let q = Binomial::from_dyn(t(&[5.0], &[1]), t(&[0.4], &[1])).unwrap();
        // More trials in p than in q: p charges counts q cannot produce.
        let kl = kl_divergence(&p, &q).unwrap().to_vec();
        assert_eq!(kl[0], f32::INFINITY);
        assert!(kl[1].is_finite());
        // Fewer trials in p than in q: no closed form, an error naming q.
        assert!(matches!(
            kl_divergence(&q, &p),
            Err(DistError::InvalidParameter { param: "q", .. })
        ));
        let zero = Binomial::new(0.0, 0.3).unwrap();
        assert_eq!(
            kl_divergence(&zero, &Binomial::new(0.0, 0.9).unwrap())
                .unwrap()
                .item()
                .unwrap(),
            0.0
        );
    }

    #[test]
    fn categorical_categorical_matches_monte_carlo() {
        // Unnormalized probabilities in p (two rows), logits in q (one row).
        let p = Categorical::from_dyn(t(&[0.4, 0.6, 1.0, 0.6, 0.2, 0.2], &[2, 3])).unwrap();
        let q = Categorical::from_dyn_logits(t(&[0.1, -0.5, 1.0], &[3])).unwrap();
        let kl = kl_divergence(&p, &q).unwrap();
        assert_eq!(kl.shape(), &[2]);
        check_kl_mc(&p, &q, &kl);
        let p1 = Categorical::from_dyn(t(&[0.4, 0.6, 1.0], &[3])).unwrap();
        check_kl_mc(&q, &p1, &kl_divergence(&q, &p1).unwrap());
        for v in kl_divergence(&p, &p).unwrap().to_vec() {
            assert!(v.abs() < 1e-7);
        }
    }

    #[test]
    fn categorical_zero_probabilities_and_mismatches() {
        let cat = |v: &[f32]| Categorical::from_dyn(t(v, &[v.len()])).unwrap();
        // A category with p = 0 contributes nothing; one with q = 0 < p makes it infinite.
        let kl = kl_divergence(&cat(&[0.0, 0.5, 0.5]), &cat(&[0.2, 0.4, 0.4]))
            .unwrap()
            .item()
            .unwrap() as f64;
        assert!((kl - (1.25f64).ln()).abs() < 1e-6, "{kl}");
        let inf = kl_divergence(&cat(&[0.2, 0.4, 0.4]), &cat(&[0.0, 0.5, 0.5])).unwrap();
        assert_eq!(inf.item().unwrap(), f32::INFINITY);
        let logits = Categorical::from_dyn_logits(t(&[f32::NEG_INFINITY, 0.0, 0.0], &[3])).unwrap();
        let kl = kl_divergence(&logits, &cat(&[0.2, 0.4, 0.4])).unwrap();
        assert!((kl.item().unwrap() as f64 - (1.25f64).ln()).abs() < 1e-6);
        assert!(matches!(
            kl_divergence(&cat(&[0.5, 0.5]), &cat(&[0.2, 0.4, 0.4])),
            Err(DistError::InvalidParameter { param: "q", .. })
        ));
    }

    #[test]
    fn categorical_gradients_match_finite_differences() {
        let host = |p: &[Vec<f64>]| {
            // p from logits, q from unnormalized probabilities.
            let m = p[0].iter().map(|x| x.exp()).sum::<f64>();
            let v: f64 = p[1].iter().sum();
            (0..3)
                .map(|j| {
                    let (a, b) = (p[0][j].exp() / m, p[1][j] / v);
                    a * (a / b).ln()
                })
                .sum::<f64>()
        };
        let (a, b) = ([0.3f32, -0.8, 1.1], [0.5f32, 0.7, 0.2]);
        let leaves = [t(&a, &[3]), t(&b, &[3])];
        let g = analytic_grads(&leaves, |x| {
            let p = Categorical::from_dyn_logits(x[0].clone()).unwrap();
            let q = Categorical::from_dyn(x[1].clone()).unwrap();
            kl_divergence(&p, &q).unwrap()
        });
        check_host_grads(&g, &host, &[f64s(&a), f64s(&b)], |_, _| false);
    }
}
