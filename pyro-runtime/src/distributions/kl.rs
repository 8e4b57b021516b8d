//! Analytic KL divergences `KL(p || q) = E_p[log p(x) - log q(x)]` (Pyro's
//! `kl_divergence`), dispatched on the concrete types of the pair.
//!
//! Dispatch downcasts each distribution's shape-erased form ([`Distribution::erased`], one
//! concrete type `X<DynShape, D>` per family) and walks the table in [`kl_divergence`]; the
//! first rule whose two types match computes the divergence. Adding a pair takes one function
//! `fn kl_x_y<D: Backend>(p: &X<DynShape, D>, q: &Y<DynShape, D>) -> DistResult<DynTensor<D>>`
//! and one line `X<DynShape, D>, Y<DynShape, D> => kl_x_y;` in the table (every family's
//! `Distribution` impl written with `impl_distribution!` provides `erased`). Elementwise pairs
//! are an `f64` kernel plus a line in `elementwise.rs`'s `host_kl!` table; families with a
//! trailing event dim use the row-wise helper in `rowwise.rs`.

use std::any::Any;

use super::*;
use crate::linalg;
use crate::tensor::broadcast_shapes;

mod discrete;
mod elementwise;
mod rowwise;

use discrete::*;
use elementwise::*;
use rowwise::kl_dirichlet_dirichlet;

/// Tries each `P, Q => f` rule in order; returns from the enclosing function on a match.
macro_rules! kl_rules {
    ($p:ident, $q:ident; $($P:ty, $Q:ty => $f:ident;)*) => {
        $(
            if let (Some(p), Some(q)) = ($p.downcast_ref::<$P>(), $q.downcast_ref::<$Q>()) {
                return $f(p, q);
            }
        )*
    };
}

/// `KL(p || q)`, with shape the broadcast of the two batch shapes. Differentiable in both
/// distributions' parameters. Errors with [`DistError::NoKl`] when no analytic form is
/// implemented for the pair, and names `q` when the event shapes differ.
///
/// Implemented: Normal–Normal, MultivariateNormal–MultivariateNormal (and
/// LowRankMultivariateNormal with either), Dirichlet–Dirichlet, Bernoulli–Bernoulli,
/// Binomial–Binomial, Categorical–Categorical, Poisson–Poisson, Exponential–Exponential,
/// Gamma–Gamma, Exponential–Gamma, Gamma–Exponential, Beta–Beta, Laplace–Laplace,
/// LogNormal–LogNormal, HalfNormal–HalfNormal, Uniform–Uniform, InverseGamma–InverseGamma,
/// Cauchy–Cauchy, and Independent–Independent
/// with the same reinterpreted dims (the base divergence summed over them).
///
/// As in torch, the divergence is `+inf` where `q` gives zero mass to a set `p` charges
/// (a Uniform `q` narrower than `p`, a Bernoulli `q` with probability 0 or 1, a Binomial `q`
/// with fewer trials); KL between Binomials where `p` has fewer trials than `q` has no closed
/// form and is an error, as are Categoricals with different numbers of categories.
///
/// ```
/// use pyro::distributions::{kl_divergence, Normal};
/// let p = Normal::new(0.0, 1.0).unwrap();
/// let q = Normal::new(1.0, 2.0).unwrap();
/// let kl = kl_divergence(&p, &q).unwrap().item().unwrap();
/// // log(2) + (1 + 1) / 8 - 1/2
/// assert!((kl - (2f32.ln() + 0.25 - 0.5)).abs() < 1e-6);
/// ```
pub fn kl_divergence<D: Backend>(
    p: &dyn Distribution<D>,
    q: &dyn Distribution<D>,
) -> DistResult<DynTensor<D>> {
    if p.event_shape() != q.event_shape() {
        return Err(DistError::InvalidParameter {
            dist: "kl_divergence",
            param: "q",
            reason: format!(
                "event shape {:?} of {} differs from {:?} of {}",
                q.event_shape(),
                q.name(),
                p.event_shape(),
                p.name()
            ),
        });
    }
    let (pe, qe) = (p.erased(), q.erased());
    let pa: &dyn Any = match &pe {
        Some(b) => b.as_any(),
        None => p.as_any(),
    };
    let qa: &dyn Any = match &qe {
        Some(b) => b.as_any(),
        None => q.as_any(),
    };
    kl_rules!(pa, qa;
        Normal<DynShape, D>, Normal<DynShape, D> => kl_normal_normal;
        MultivariateNormal<DynShape, D>, MultivariateNormal<DynShape, D> => kl_mvn_mvn;
        LowRankMultivariateNormal<DynShape, D>, LowRankMultivariateNormal<DynShape, D> => kl_lowrank_lowrank;
        LowRankMultivariateNormal<DynShape, D>, MultivariateNormal<DynShape, D> => kl_lowrank_mvn;
        MultivariateNormal<DynShape, D>, LowRankMultivariateNormal<DynShape, D> => kl_mvn_lowrank;
        Dirichlet<DynShape, D>, Dirichlet<DynShape, D> => kl_dirichlet_dirichlet;
        Bernoulli<DynShape, D>, Bernoulli<DynShape, D> => kl_bernoulli_bernoulli;
        Binomial<DynShape, D>, Binomial<DynShape, D> => kl_binomial_binomial;
        Categorical<DynShape, D>, Categorical<DynShape, D> => kl_categorical_categorical;
        Poisson<DynShape, D>, Poisson<DynShape, D> => kl_poisson_poisson;
        Exponential<DynShape, D>, Exponential<DynShape, D> => kl_exponential_exponential;
        Gamma<DynShape, D>, Gamma<DynShape, D> => kl_gamma_gamma;
        Exponential<DynShape, D>, Gamma<DynShape, D> => kl_exponential_gamma;
        Gamma<DynShape, D>, Exponential<DynShape, D> => kl_gamma_exponential;
        Beta<DynShape, D>, Beta<DynShape, D> => kl_beta_beta;
        Laplace<DynShape, D>, Laplace<DynShape, D> => kl_laplace_laplace;
        LogNormal<DynShape, D>, LogNormal<DynShape, D> => kl_lognormal_lognormal;
        HalfNormal<DynShape, D>, HalfNormal<DynShape, D> => kl_halfnormal_halfnormal;
        Uniform<DynShape, D>, Uniform<DynShape, D> => kl_uniform_uniform;
        InverseGamma<DynShape, D>, InverseGamma<DynShape, D> => kl_inversegamma_inversegamma;
        Cauchy<DynShape, D>, Cauchy<DynShape, D> => kl_cauchy_cauchy;
        Independent<BoxDist<D>, D>, Independent<BoxDist<D>, D> => kl_independent_independent;
    );
    Err(DistError::NoKl {
        p: p.name(),
        q: q.name(),
    })
}

/// `log(σq/σp) + (σp² + (μp - μq)²) / (2σq²) - ½`.
fn kl_normal_normal<D: Backend>(
    p: &Normal<DynShape, D>,
    q: &Normal<DynShape, D>,
) -> DistResult<DynTensor<D>> {
    let var_ratio = p.scale().div(q.scale())?.square();
    let t = p.loc().sub(q.loc())?.div(q.scale())?.square();
    let kl = var_ratio.add(&t)?.add_scalar(-1.0).sub(&var_ratio.ln())?;
    Ok(kl.mul_scalar(0.5))
}

/// `½ (‖Lq⁻¹ Lp‖²_F + ‖Lq⁻¹ (μq - μp)‖² - n) + Σ log diag Lq - Σ log diag Lp`.
fn kl_mvn_mvn<D: Backend>(
    p: &MultivariateNormal<DynShape, D>,
    q: &MultivariateNormal<DynShape, D>,
) -> DistResult<DynTensor<D>> {
    let n = p.dim();
    let m = linalg::solve_triangular_lower(q.scale_tril(), p.scale_tril())?;
    let trace = m.square().sum_rightmost(2)?;
    let z = linalg::solve_triangular_lower_vec(q.scale_tril(), &q.loc().sub(p.loc())?)?;
    let maha = z.square().sum_rightmost(1)?;
    let kl = trace
        .add(&maha)?
        .add_scalar(-(n as f32))
        .mul_scalar(0.5)
        .add(&q.half_log_det()?)?
        .sub(&p.half_log_det()?)?;
    let batch = broadcast_shapes(p.batch_shape(), q.batch_shape()).ok_or_else(|| {
        crate::tensor::TensorError::Broadcast {
            op: "kl_divergence",
            lhs: p.batch_shape().to_vec(),
            rhs: q.batch_shape().to_vec(),
        }
    })?;
    Ok(kl.broadcast_to(&batch)?)
}

fn kl_lowrank_lowrank<D: Backend>(
    p: &LowRankMultivariateNormal<DynShape, D>,
    q: &LowRankMultivariateNormal<DynShape, D>,
) -> DistResult<DynTensor<D>> {
    kl_mvn_mvn(&p.to_multivariate_normal()?, &q.to_multivariate_normal()?)
}

fn kl_lowrank_mvn<D: Backend>(
    p: &LowRankMultivariateNormal<DynShape, D>,
    q: &MultivariateNormal<DynShape, D>,
) -> DistResult<DynTensor<D>> {
    kl_mvn_mvn(&p.to_multivariate_normal()?, q)
}

fn kl_mvn_lowrank<D: Backend>(
    p: &MultivariateNormal<DynShape, D>,
    q: &LowRankMultivariateNormal<DynShape, D>,
) -> DistResult<DynTensor<D>> {
    kl_mvn_mvn(p, &q.to_multivariate_normal()?)
}

/// The base divergence summed over the reinterpreted dims (which must agree).
fn kl_independent_independent<D: Backend>(
    p: &Independent<BoxDist<D>, D>,
    q: &Independent<BoxDist<D>, D>,
) -> DistResult<DynTensor<D>> {
    let n = p.reinterpreted_batch_ndims();
    if n != q.reinterpreted_batch_ndims() {
        return Err(DistError::NoKl {
            p: "Independent",
            q: "Independent (with different reinterpreted_batch_ndims)",
        });
    }
    Ok(kl_divergence(&**p.base(), &**q.base())?.sum_rightmost(n)?)
}

#[cfg(test)]
#[allow(clippy::needless_range_loop)] // index-heavy numeric checks
mod tests {
    use super::*;
    use crate::distributions::testing_mv::check_kl_mc;
    use crate::linalg::test_util::*;
    use crate::linalg::{matmul_host, solve_lower_host, transpose_host};
    use crate::tensor::special::scalar::{digamma, lgamma};
    use dfdx::prelude::Cpu;

    fn t(v: &[f32], shape: &[usize]) -> DynTensor<Cpu> {
        DynTensor::from_vec(v.to_vec(), shape).unwrap()
    }

    #[test]
    fn normal_normal_matches_monte_carlo() {
        let p = Normal::from_dyn(t(&[0.0, 1.0, -2.0], &[3]), t(&[1.0, 0.5, 2.0], &[3])).unwrap();
        let q = Normal::from_dyn(t(&[0.5], &[1]), t(&[1.5], &[1])).unwrap();
        let kl = kl_divergence(&p, &q).unwrap();
        assert_eq!(kl.shape(), &[3]);
        check_kl_mc(&p, &q, &kl);
        // Typed (non-DynShape) normals dispatch too.
        let a = Normal::new(0.0, 1.0).unwrap();
        let b = Normal::new(1.0, 2.0).unwrap();
        let v = kl_divergence(&a, &b).unwrap().item().unwrap() as f64;
        assert!((v - (2f64.ln() + 2.0 / 8.0 - 0.5)).abs() < 1e-6);
        assert_eq!(kl_divergence(&a, &a).unwrap().item().unwrap(), 0.0);
    }

    #[test]
    fn normal_normal_gradients_match_finite_differences() {
        let theta = [0.3f32, 0.8, -0.4, 1.7];
        let leaves: Vec<DynTensor<Cpu>> = theta.iter().map(|&v| DynTensor::scalar(v)).collect();
        let g = analytic_grads(&leaves, |x| {
            let p = Normal::from_dyn(x[0].clone(), x[1].clone()).unwrap();
            let q = Normal::from_dyn(x[2].clone(), x[3].clone()).unwrap();
            kl_divergence(&p, &q).unwrap()
        });
        let host = |p: &[Vec<f64>]| {
            let (mp, sp, mq, sq) = (p[0][0], p[1][0], p[2][0], p[3][0]);
            (sq / sp).ln() + (sp * sp + (mp - mq).powi(2)) / (2.0 * sq * sq) - 0.5
        };
        let point: Vec<Vec<f64>> = theta.iter().map(|&v| vec![v as f64]).collect();
        check_host_grads(&g, &host, &point, |_, _| false);
    }

    fn mvn(loc: &[f32], l: &[f32], n: usize) -> MultivariateNormal<DynShape, Cpu> {
        let lb = loc.len() / n;
        let loc_shape: Vec<usize> = if lb == 1 { vec![n] } else { vec![lb, n] };
        let nl = l.len() / (n * n);
        let l_shape: Vec<usize> = if nl == 1 { vec![n, n] } else { vec![nl, n, n] };
        MultivariateNormal::from_dyn(t(loc, &loc_shape), t(l, &l_shape)).unwrap()
    }

    #[test]
    fn mvn_mvn_matches_monte_carlo() {
        let mut rng = seeded(60);
        let n = 3;
        // p batched over two scale_trils, q unbatched.
        let lp: Vec<f32> = (0..2).flat_map(|_| random_tril(&mut rng, n)).collect();
        let p = mvn(&random_host(&mut rng, n), &lp, n);
        let q = mvn(&random_host(&mut rng, n), &random_tril(&mut rng, n), n);
        let kl = kl_divergence(&p, &q).unwrap();
        assert_eq!(kl.shape(), &[2]);
        check_kl_mc(&p, &q, &kl);
        assert!(kl_divergence(&q, &q).unwrap().item().unwrap().abs() < 1e-6);
    }

    /// The f64 host formula for KL between N(m1, L1 L1ᵀ) and N(m2, L2 L2ᵀ).
    fn host_kl(m1: &[f64], l1: &[f64], m2: &[f64], l2: &[f64]) -> f64 {
        let n = m1.len();
        let low = |l: &[f64]| {
            let mut l = l.to_vec();
            for i in 0..n {
                for j in i + 1..n {
                    l[i * n + j] = 0.0;
                }
            }
            l
        };
        let (l1, l2) = (low(l1), low(l2));
        let s1 = matmul_host(&l1, &transpose_host(&l1, n, n), n, n, n);
        // tr(Σ2⁻¹ Σ1) = ‖L2⁻¹ L1‖²
        let m = solve_lower_host(&l2, &l1, n, n);
        let tr: f64 = m.iter().map(|v| v * v).sum();
        let d: Vec<f64> = m2.iter().zip(m1).map(|(a, b)| a - b).collect();
        let z = solve_lower_host(&l2, &d, n, 1);
        let maha: f64 = z.iter().map(|v| v * v).sum();
        let ld = |l: &[f64]| (0..n).map(|i| l[i * n + i].ln()).sum::<f64>();
        let _ = s1;
        0.5 * (tr + maha - n as f64) + ld(&l2) - ld(&l1)
    }

    #[test]
    fn mvn_mvn_gradients_match_finite_differences() {
        let mut rng = seeded(61);
        let n = 3;
        let params = [
            random_host(&mut rng, n),
            random_tril(&mut rng, n),
            random_host(&mut rng, n),
            random_tril(&mut rng, n),
        ];
        let leaves = [
            t(&params[0], &[n]),
            t(&params[1], &[n, n]),
            t(&params[2], &[n]),
            t(&params[3], &[n, n]),
        ];
        let g = analytic_grads(&leaves, |x| {
            let p = MultivariateNormal::from_dyn(x[0].clone(), x[1].clone()).unwrap();
            let q = MultivariateNormal::from_dyn(x[2].clone(), x[3].clone()).unwrap();
            kl_divergence(&p, &q).unwrap()
        });
        let host = |p: &[Vec<f64>]| host_kl(&p[0], &p[1], &p[2], &p[3]);
        let point: Vec<Vec<f64>> = params.iter().map(|v| f64s(v)).collect();
        let value = kl_divergence(
            &MultivariateNormal::from_dyn(leaves[0].clone(), leaves[1].clone()).unwrap(),
            &MultivariateNormal::from_dyn(leaves[2].clone(), leaves[3].clone()).unwrap(),
        )
        .unwrap()
        .item()
        .unwrap() as f64;
        assert!((value - host(&point)).abs() < 1e-5 * host(&point).abs().max(1.0));
        // The upper triangle of a scale_tril gets no gradient.
        let upper = |arg: usize, i: usize| arg % 2 == 1 && i % n > i / n;
        for arg in [1, 3] {
            for i in (0..n * n).filter(|&i| upper(arg, i)) {
                assert_eq!(g[arg][i], 0.0, "upper triangle of a scale_tril");
            }
        }
        check_host_grads(&g, &host, &point, upper);
    }

    #[test]
    fn low_rank_pairs_match_monte_carlo() {
        let lr = LowRankMultivariateNormal::from_dyn(
            t(&[0.5, -1.0, 2.0], &[3]),
            t(&[1.0, 0.2, -0.7, 0.5, 0.3, -1.2], &[3, 2]),
            t(&[0.4, 0.9, 0.1], &[3]),
        )
        .unwrap();
        let lr2 = LowRankMultivariateNormal::from_dyn(
            t(&[0.0, 0.0, 1.0], &[3]),
            t(&[0.5, 0.5, 0.5], &[3, 1]),
            t(&[1.0, 2.0, 0.5], &[3]),
        )
        .unwrap();
        let m = mvn(
            &[0.2, -0.5, 1.5],
            &[1.2, 0.0, 0.0, 0.3, 0.9, 0.0, -0.4, 0.2, 1.1],
            3,
        );
        for (p, q) in [
            (&lr as &dyn Distribution<Cpu>, &m as &dyn Distribution<Cpu>),
            (&m, &lr),
            (&lr, &lr2),
        ] {
            let kl = kl_divergence(p, q).unwrap();
            check_kl_mc(p, q, &kl);
        }
    }

    #[test]
    fn dirichlet_dirichlet_matches_monte_carlo_and_gradients() {
        let p = Dirichlet::from_dyn(t(&[1.5, 0.7, 3.0, 0.3, 0.3, 0.3], &[2, 3])).unwrap();
        let q = Dirichlet::from_dyn(t(&[2.0, 2.0, 1.0], &[3])).unwrap();
        let kl = kl_divergence(&p, &q).unwrap();
        assert_eq!(kl.shape(), &[2]);
        check_kl_mc(&p, &q, &kl);
        // Large concentrations keep their precision (f64 host evaluation).
        let big = Dirichlet::from_dyn(t(&[500.0, 700.0], &[2])).unwrap();
        let big2 = Dirichlet::from_dyn(t(&[510.0, 690.0], &[2])).unwrap();
        check_kl_mc(&big, &big2, &kl_divergence(&big, &big2).unwrap());
        // Gradients against central differences of the f64 closed form.
        let (a, b) = ([1.5f32, 0.7, 3.0], [2.0f32, 2.5, 1.0]);
        let leaves = [t(&a, &[3]), t(&b, &[3])];
        let g = analytic_grads(&leaves, |x| {
            let p = Dirichlet::from_dyn(x[0].clone()).unwrap();
            let q = Dirichlet::from_dyn(x[1].clone()).unwrap();
            kl_divergence(&p, &q).unwrap()
        });
        let host = |p: &[Vec<f64>]| {
            let (a, b) = (&p[0], &p[1]);
            let (a0, b0): (f64, f64) = (a.iter().sum(), b.iter().sum());
            let mut s = lgamma(a0) - lgamma(b0);
            for j in 0..3 {
                s += lgamma(b[j]) - lgamma(a[j]) + (a[j] - b[j]) * (digamma(a[j]) - digamma(a0));
            }
            s
        };
        check_host_grads(&g, &host, &[f64s(&a), f64s(&b)], |_, _| false);
    }

    #[test]
    fn independent_normals_sum_over_event_dims() {
        let p = Normal::from_dyn(
            t(&[0.0, 1.0, -2.0, 0.5, 0.0, 0.3], &[2, 3]),
            t(&[1.0, 0.5, 2.0, 1.0, 1.0, 0.7], &[2, 3]),
        )
        .unwrap()
        .to_event(1)
        .unwrap();
        let q = Normal::from_dyn(t(&[0.5, 0.0, -1.0], &[3]), t(&[1.5, 1.0, 1.0], &[3]))
            .unwrap()
            .to_event(1)
            .unwrap();
        let kl = kl_divergence(&p, &q).unwrap();
        assert_eq!(kl.shape(), &[2]);
        check_kl_mc(&p, &q, &kl);
        // Equal to the sum of the elementwise divergences.
        let elem = kl_divergence(p.base(), q.base()).unwrap().to_vec();
        let kv = kl.to_vec();
        for b in 0..2 {
            let s: f32 = elem[b * 3..b * 3 + 3].iter().sum();
            assert!((kv[b] - s).abs() < 1e-6);
        }
        // Boxed bases work the same.
        let pb = Independent::new(p.base().clone_box(), 1).unwrap();
        assert_eq!(kl_divergence(&pb, &q).unwrap().to_vec(), kv);
    }

    /// Every family's typed form erases to its `X<DynShape, Cpu>` with the same batch shape
    /// and the same log-density (so [`kl_divergence`] can downcast it).
    #[test]
    fn every_family_erases_to_its_dyn_shape_type() {
        use dfdx::prelude::*;
        fn check<X: 'static>(d: &dyn Distribution<Cpu>, x: f32) {
            let e = d
                .erased()
                .unwrap_or_else(|| panic!("{} has no erased form", d.name()));
            assert!(
                e.as_any().downcast_ref::<X>().is_some(),
                "{} erased to the wrong type",
                d.name()
            );
            assert_eq!(e.batch_shape(), d.batch_shape());
            assert_eq!(e.event_shape(), d.event_shape());
            let v = DynTensor::full(&d.shape(), x);
            assert_eq!(
                e.log_prob(&v).unwrap().to_vec(),
                d.log_prob(&v).unwrap().to_vec(),
                "{}",
                d.name()
            );
        }
        let v2: crate::tensor::Tensor<(usize,)> =
            crate::tensor::Tensor::from_vec(vec![0.3, 0.6], (2,)).unwrap();
        let p3: crate::tensor::Tensor<Rank1<3>> = [0.2, 0.3, 0.5].into();
        check::<Bernoulli<DynShape, Cpu>>(&Bernoulli::new(v2.clone()).unwrap(), 1.0);
        check::<Binomial<DynShape, Cpu>>(&Binomial::new(5.0, v2.clone()).unwrap(), 2.0);
        check::<Categorical<DynShape, Cpu>>(&Categorical::new(p3).unwrap(), 1.0);
        check::<Delta<DynShape, Cpu>>(&Delta::new(v2.clone()).unwrap(), 0.3);
        check::<Poisson<DynShape, Cpu>>(&Poisson::new(v2.clone()).unwrap(), 3.0);
        check::<Beta<DynShape, Cpu>>(&Beta::new(v2.clone(), 2.0).unwrap(), 0.4);
        check::<Cauchy<DynShape, Cpu>>(&Cauchy::new(v2.clone(), 2.0).unwrap(), 0.4);
        check::<Exponential<DynShape, Cpu>>(&Exponential::new(v2.clone()).unwrap(), 0.4);
        check::<Gamma<DynShape, Cpu>>(&Gamma::new(v2.clone(), 2.0).unwrap(), 0.4);
        check::<HalfCauchy<DynShape, Cpu>>(&HalfCauchy::new(v2.clone()).unwrap(), 0.4);
        check::<HalfNormal<DynShape, Cpu>>(&HalfNormal::new(v2.clone()).unwrap(), 0.4);
        check::<InverseGamma<DynShape, Cpu>>(&InverseGamma::new(v2.clone(), 2.0).unwrap(), 0.4);
        check::<Laplace<DynShape, Cpu>>(&Laplace::new(v2.clone(), 2.0).unwrap(), 0.4);
        check::<LogNormal<DynShape, Cpu>>(&LogNormal::new(v2.clone(), 2.0).unwrap(), 0.4);
        check::<StudentT<DynShape, Cpu>>(&StudentT::new(3.0, v2.clone(), 2.0).unwrap(), 0.4);
        check::<Uniform<DynShape, Cpu>>(&Uniform::new(0.0, v2.clone()).unwrap(), 0.2);
        check::<Normal<DynShape, Cpu>>(&Normal::new(v2, 1.0).unwrap(), 0.2);
        // `Unit` has no shape marker: it already is its own erased type.
        let u = crate::distributions::Unit::new(t(&[1.0, 2.0], &[2]));
        assert!(u.erased().is_none());
        assert!(u
            .as_any()
            .downcast_ref::<crate::distributions::Unit<Cpu>>()
            .is_some());
    }

    #[test]
    fn missing_pairs_and_mismatches_are_typed_errors() {
        let n = Normal::new(0.0, 1.0).unwrap();
        let d = Dirichlet::from_dyn(t(&[1.0, 1.0], &[2])).unwrap();
        let n2 = Normal::from_dyn(t(&[0.0, 0.0], &[2]), t(&[1.0], &[1]))
            .unwrap()
            .to_event(1)
            .unwrap();
        assert_eq!(
            kl_divergence(&n2, &d).unwrap_err(),
            DistError::NoKl {
                p: "Normal",
                q: "Dirichlet"
            }
        );
        assert!(matches!(
            kl_divergence(&n, &d),
            Err(DistError::InvalidParameter { param: "q", .. })
        ));
        let m2 = mvn(&[0.0, 0.0], &[1.0, 0.0, 0.0, 1.0], 2);
        let m3 = mvn(&[0.0; 3], &[1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0], 3);
        assert!(matches!(
            kl_divergence(&m2, &m3),
            Err(DistError::InvalidParameter { param: "q", .. })
        ));
        // Different reinterpreted dims over the same event shape.
        let a = Normal::from_dyn(t(&[0.0; 4], &[2, 2]), t(&[1.0], &[1]))
            .unwrap()
            .to_event(2)
            .unwrap();
        let inner = Normal::from_dyn(t(&[0.0; 4], &[2, 2]), t(&[1.0], &[1]))
            .unwrap()
            .to_event(1)
            .unwrap();
        let b = Independent::new(inner.clone_box(), 1).unwrap();
        assert!(matches!(kl_divergence(&a, &b), Err(DistError::NoKl { .. })));
    }
}
