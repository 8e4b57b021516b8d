//! Divergences between families with scalar events, each a host kernel in `f64`
//! (`[params of p, params of q] -> (KL, partials)`) put on the graph by
//! [`host_map`](crate::distributions::host_map::host_map): exact value (no `f32` cancellation
//! between the log-gamma or logarithm terms), exact gradients in every parameter of both
//! distributions. Where `q` gives zero density to a set that `p` charges, the divergence is
//! `+inf` (with zero partials), as in torch.

use super::super::host_map::{host_map, xlogy};
use super::super::*;
use crate::tensor::special::scalar::{digamma, lgamma, trigamma};

/// The Euler–Mascheroni constant `γ = -ψ(1)`.
const EULER_GAMMA: f64 = 0.577_215_664_901_532_9;

/// `KL(N(mp, sp) || N(mq, sq)) = ln(sq/sp) + (sp² + (mp - mq)²) / (2 sq²) - 1/2`.
pub(crate) fn normal_kernel([mp, sp, mq, sq]: [f64; 4]) -> (f64, [f64; 4]) {
    let d = mp - mq;
    let (vp, vq) = (sp * sp, sq * sq);
    let v = (sq / sp).ln() + (vp + d * d) / (2.0 * vq) - 0.5;
    let dm = d / vq;
    (
        v,
        [
            dm,
            -1.0 / sp + sp / vq,
            -dm,
            1.0 / sq - (vp + d * d) / (vq * sq),
        ],
    )
}

/// `KL(HalfNormal(sp) || HalfNormal(sq))`: that of the two zero-mean normals (the folding
/// is the same bijection on both sides).
pub(crate) fn half_normal_kernel([sp, sq]: [f64; 2]) -> (f64, [f64; 2]) {
    let (v, g) = normal_kernel([0.0, sp, 0.0, sq]);
    (v, [g[1], g[3]])
}

/// `KL(Exp(a) || Exp(b)) = ln(a/b) + b/a - 1`, written as `r - ln(1 + r)` with
/// `r = (b - a)/a` so nearby rates keep their precision.
pub(crate) fn exponential_kernel([a, b]: [f64; 2]) -> (f64, [f64; 2]) {
    let r = (b - a) / a;
    (
        r - libm::log1p(r),
        [1.0 / a - b / (a * a), 1.0 / a - 1.0 / b],
    )
}

/// `KL(Gamma(α, β) || Gamma(α', β'))` (rates β) `= α' ln(β/β') + ln Γ(α') - ln Γ(α)
/// + (α - α') ψ(α) + (β' - β) α/β`.
pub(crate) fn gamma_kernel([a, b, a2, b2]: [f64; 4]) -> (f64, [f64; 4]) {
    let v = a2 * (b / b2).ln() + lgamma(a2) - lgamma(a) + (a - a2) * digamma(a) + (b2 - b) * a / b;
    (
        v,
        [
            (a - a2) * trigamma(a) + b2 / b - 1.0,
            a2 / b - a * b2 / (b * b),
            (b / b2).ln() + digamma(a2) - digamma(a),
            a / b - a2 / b2,
        ],
    )
}

/// `KL(Exp(λ) || Gamma(α, β)) = -α ln(β/λ) + β/λ + ln Γ(α) + α γ - (1 + γ)` (γ Euler's).
pub(crate) fn exponential_gamma_kernel([l, a, b]: [f64; 3]) -> (f64, [f64; 3]) {
    let r = b / l;
    let v = -a * r.ln() + r + lgamma(a) + a * EULER_GAMMA - (1.0 + EULER_GAMMA);
    (
        v,
        [
            a / l - b / (l * l),
            -r.ln() + digamma(a) + EULER_GAMMA,
            -a / b + 1.0 / l,
        ],
    )
}

/// `KL(Gamma(α, β) || Exp(λ)) = -H(p) - ln λ + λ α/β` with the gamma entropy
/// `H = α - ln β + ln Γ(α) + (1 - α) ψ(α)`.
pub(crate) fn gamma_exponential_kernel([a, b, l]: [f64; 3]) -> (f64, [f64; 3]) {
    let v = -a + b.ln() - lgamma(a) - (1.0 - a) * digamma(a) - l.ln() + l * a / b;
    (
        v,
        [
            -1.0 + (a - 1.0) * trigamma(a) + l / b,
            1.0 / b - l * a / (b * b),
            -1.0 / l + a / b,
        ],
    )
}

/// `KL(Beta(a1, a0) || Beta(b1, b0))`: the two-category Dirichlet divergence.
pub(crate) fn beta_kernel([a1, a0, b1, b0]: [f64; 4]) -> (f64, [f64; 4]) {
    let (v, ga, gb) = super::rowwise::dirichlet_row(&[a1, a0], &[b1, b0], true);
    (v, [ga[0], ga[1], gb[0], gb[1]])
}

/// `KL(Laplace(μ, s) || Laplace(μ', s')) = ln(s'/s) + |μ - μ'|/s' + (s/s') e^{-|μ - μ'|/s} - 1`.
pub(crate) fn laplace_kernel([mp, sp, mq, sq]: [f64; 4]) -> (f64, [f64; 4]) {
    let delta = mp - mq;
    let d = delta.abs();
    let e = (-d / sp).exp();
    let v = (sq / sp).ln() + d / sq + sp / sq * e - 1.0;
    let dm = delta.signum() * (1.0 - e) / sq;
    let dm = if delta == 0.0 { 0.0 } else { dm };
    (
        v,
        [
            dm,
            -1.0 / sp + e * (1.0 + d / sp) / sq,
            -dm,
            1.0 / sq - (d + sp * e) / (sq * sq),
        ],
    )
}

/// `KL(Cauchy(μ, s) || Cauchy(μ', s')) = ln(((s + s')² + (μ - μ')²) / (4 s s'))`.
pub(crate) fn cauchy_kernel([mp, sp, mq, sq]: [f64; 4]) -> (f64, [f64; 4]) {
    let (s, d) = (sp + sq, mp - mq);
    let n = s * s + d * d;
    let v = (n / (4.0 * sp * sq)).ln();
    let (dm, ds) = (2.0 * d / n, 2.0 * s / n);
    (v, [dm, ds - 1.0 / sp, -dm, ds - 1.0 / sq])
}

/// `KL(Poisson(a) || Poisson(b)) = a ln(a/b) - a + b` (`0 ln 0 = 0`; `+inf` when `b = 0 < a`).
pub(crate) fn poisson_kernel([a, b]: [f64; 2]) -> (f64, [f64; 2]) {
    if b == 0.0 && a > 0.0 {
        return (f64::INFINITY, [0.0; 2]);
    }
    let v = xlogy(a, a) - xlogy(a, b) - a + b;
    (v, [(a / b).ln(), 1.0 - a / b])
}

/// `KL(U(l, h) || U(l', h')) = ln((h' - l') / (h - l))`, `+inf` unless `[l, h] ⊆ [l', h']`.
pub(crate) fn uniform_kernel([lp, hp, lq, hq]: [f64; 4]) -> (f64, [f64; 4]) {
    if lq > lp || hq < hp {
        return (f64::INFINITY, [0.0; 4]);
    }
    let (wp, wq) = (hp - lp, hq - lq);
    ((wq / wp).ln(), [1.0 / wp, -1.0 / wp, -1.0 / wq, 1.0 / wq])
}

/// `fn name<D>(p: &P<DynShape, D>, q: &Q<DynShape, D>)`: the host kernel over the listed
/// parameters of `p`, then those of `q`.
macro_rules! host_kl {
    ($($(#[$m:meta])* $name:ident($P:ident[$($pp:ident),*], $Q:ident[$($qp:ident),*]) => $kernel:ident;)*) => {$(
        $(#[$m])*
        pub(super) fn $name<D: Backend>(
            p: &$P<DynShape, D>,
            q: &$Q<DynShape, D>,
        ) -> DistResult<DynTensor<D>> {
            host_map("kl_divergence", [$(p.$pp(),)* $(q.$qp(),)*], $kernel)
        }
    )*};
}

host_kl! {
    kl_lognormal_lognormal(LogNormal[loc, scale], LogNormal[loc, scale]) => normal_kernel;
    kl_halfnormal_halfnormal(HalfNormal[scale], HalfNormal[scale]) => half_normal_kernel;
    kl_exponential_exponential(Exponential[rate], Exponential[rate]) => exponential_kernel;
    kl_gamma_gamma(Gamma[concentration, rate], Gamma[concentration, rate]) => gamma_kernel;
    /// The inverse gammas are the gammas of `1/x`, and KL is invariant under a shared bijection
    /// (torch's rule for transformed distributions with equal transforms).
    kl_inversegamma_inversegamma(
        InverseGamma[concentration, rate], InverseGamma[concentration, rate]
    ) => gamma_kernel;
    kl_exponential_gamma(Exponential[rate], Gamma[concentration, rate]) => exponential_gamma_kernel;
    kl_gamma_exponential(Gamma[concentration, rate], Exponential[rate]) => gamma_exponential_kernel;
    kl_beta_beta(Beta[concentration1, concentration0], Beta[concentration1, concentration0]) => beta_kernel;
    kl_laplace_laplace(Laplace[loc, scale], Laplace[loc, scale]) => laplace_kernel;
    kl_cauchy_cauchy(Cauchy[loc, scale], Cauchy[loc, scale]) => cauchy_kernel;
    kl_poisson_poisson(Poisson[rate], Poisson[rate]) => poisson_kernel;
    kl_uniform_uniform(Uniform[low, high], Uniform[low, high]) => uniform_kernel;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distributions::testing::{check_partials, check_partials_step};
    use crate::distributions::testing_mv::{check_kl_grad, check_kl_mc};
    use dfdx::prelude::Cpu;

    fn t(v: &[f32]) -> DynTensor<Cpu> {
        DynTensor::from_vec(v.to_vec(), &[v.len()]).unwrap()
    }

    /// `KL(p || q)` has the broadcast batch shape and matches Monte Carlo per element.
    fn mc(p: &dyn Distribution<Cpu>, q: &dyn Distribution<Cpu>, shape: &[usize]) {
        let kl = kl_divergence(p, q).unwrap();
        assert_eq!(kl.shape(), shape, "KL({} || {})", p.name(), q.name());
        check_kl_mc(p, q, &kl);
        let self_kl = kl_divergence(p, p).unwrap().to_vec();
        assert!(self_kl.iter().all(|v| v.abs() < 1e-6), "{self_kl:?}");
    }

    #[test]
    fn exponential_exponential_matches_monte_carlo() {
        let p = Exponential::from_dyn(t(&[0.5, 2.0, 1.0])).unwrap();
        let q = Exponential::from_dyn(t(&[1.3])).unwrap();
        mc(&p, &q, &[3]);
        // Nearby rates: ln(a/b) + b/a - 1 ≈ r²/2 keeps its precision.
        let a = Exponential::new(1.0).unwrap();
        let b = Exponential::new(1.001).unwrap();
        let r = (1.001f32 as f64) - 1.0;
        let want = r - libm::log1p(r);
        let got = kl_divergence(&a, &b).unwrap().item().unwrap() as f64;
        assert!((got - want).abs() <= 1e-6 * want, "{got} vs {want}");
    }

    #[test]
    fn gamma_gamma_matches_monte_carlo() {
        let p = Gamma::from_dyn(t(&[2.5, 0.7]), t(&[1.5])).unwrap();
        let q = Gamma::from_dyn(t(&[1.2]), t(&[0.8, 3.0])).unwrap();
        mc(&p, &q, &[2]);
    }

    #[test]
    fn exponential_gamma_pairs_match_monte_carlo() {
        let e = Exponential::from_dyn(t(&[0.7, 2.0])).unwrap();
        let g = Gamma::from_dyn(t(&[1.5, 0.6]), t(&[1.0, 0.4])).unwrap();
        mc(&e, &g, &[2]);
        mc(&g, &e, &[2]);
        // Gamma(1, λ) is Exp(λ).
        let one = Gamma::from_dyn(t(&[1.0, 1.0]), t(&[0.7, 2.0])).unwrap();
        for v in kl_divergence(&e, &one).unwrap().to_vec() {
            assert!(v.abs() < 1e-6, "{v}");
        }
        for v in kl_divergence(&one, &e).unwrap().to_vec() {
            assert!(v.abs() < 1e-6, "{v}");
        }
    }

    #[test]
    fn beta_beta_matches_monte_carlo() {
        let p = Beta::from_dyn(t(&[2.0, 0.6]), t(&[3.0, 0.8])).unwrap();
        let q = Beta::from_dyn(t(&[1.2]), t(&[1.5])).unwrap();
        mc(&p, &q, &[2]);
        // Equal to the two-category Dirichlet divergence.
        let dp = Dirichlet::from_dyn(t(&[2.0, 3.0])).unwrap();
        let dq = Dirichlet::from_dyn(t(&[1.2, 1.5])).unwrap();
        let b = kl_divergence(&p, &q).unwrap().to_vec()[0];
        assert_eq!(b, kl_divergence(&dp, &dq).unwrap().item().unwrap());
    }

    #[test]
    fn laplace_laplace_matches_monte_carlo() {
        let p = Laplace::from_dyn(t(&[0.0, 1.0, 0.5]), t(&[1.0, 0.5, 0.7])).unwrap();
        let q = Laplace::from_dyn(t(&[0.5]), t(&[2.0])).unwrap();
        mc(&p, &q, &[3]);
    }

    #[test]
    fn lognormal_and_halfnormal_match_monte_carlo() {
        let p = LogNormal::from_dyn(t(&[0.0, 1.0]), t(&[0.5, 1.2])).unwrap();
        let q = LogNormal::from_dyn(t(&[0.3]), t(&[0.8])).unwrap();
        mc(&p, &q, &[2]);
        // The log is a bijection: the same divergence as the normals of the logs.
        let (np, nq) = (
            Normal::from_dyn(t(&[0.0, 1.0]), t(&[0.5, 1.2])).unwrap(),
            Normal::from_dyn(t(&[0.3]), t(&[0.8])).unwrap(),
        );
        let (a, b) = (
            kl_divergence(&p, &q).unwrap(),
            kl_divergence(&np, &nq).unwrap(),
        );
        for (x, y) in a.to_vec().iter().zip(b.to_vec()) {
            assert!((x - y).abs() <= 1e-6 * y.abs().max(1.0), "{x} vs {y}");
        }
        let p = HalfNormal::from_dyn(t(&[0.5, 2.0])).unwrap();
        let q = HalfNormal::from_dyn(t(&[1.3])).unwrap();
        mc(&p, &q, &[2]);
    }

    #[test]
    fn uniform_uniform_matches_monte_carlo_and_is_infinite_outside() {
        let p = Uniform::from_dyn(t(&[0.0, -1.0]), t(&[1.0, 0.5])).unwrap();
        let q = Uniform::from_dyn(t(&[-2.0]), t(&[3.0])).unwrap();
        mc(&p, &q, &[2]);
        // q narrower than p on either side: +inf (p charges where q has no density).
        let narrow = Uniform::from_dyn(t(&[0.5, -2.0]), t(&[3.0, 0.2])).unwrap();
        let kl = kl_divergence(&p, &narrow).unwrap().to_vec();
        assert_eq!(kl[0], f32::INFINITY);
        assert_eq!(kl[1], f32::INFINITY);
        // The other way round it is finite: ln(width q / width p).
        let v = kl_divergence(&q, &Uniform::new(-3.0, 3.0).unwrap())
            .unwrap()
            .to_vec()[0];
        assert!((v as f64 - (6.0f64 / 5.0).ln()).abs() < 1e-6);
    }

    #[test]
    fn inverse_gamma_and_cauchy_match_monte_carlo() {
        let p = InverseGamma::from_dyn(t(&[3.5, 1.2]), t(&[2.0])).unwrap();
        let q = InverseGamma::from_dyn(t(&[2.0]), t(&[1.0, 0.6])).unwrap();
        mc(&p, &q, &[2]);
        let p = Cauchy::from_dyn(t(&[0.0, 2.0]), t(&[1.0, 0.4])).unwrap();
        let q = Cauchy::from_dyn(t(&[0.5]), t(&[1.5])).unwrap();
        mc(&p, &q, &[2]);
        // Symmetric in its arguments.
        let (a, b) = (
            Cauchy::new(0.3, 0.7).unwrap(),
            Cauchy::new(-1.0, 2.0).unwrap(),
        );
        let (x, y) = (
            kl_divergence(&a, &b).unwrap().item().unwrap(),
            kl_divergence(&b, &a).unwrap().item().unwrap(),
        );
        assert!((x - y).abs() < 1e-6);
    }

    #[test]
    fn poisson_poisson_matches_monte_carlo() {
        let p = Poisson::from_dyn(t(&[0.5, 4.0, 30.0])).unwrap();
        let q = Poisson::from_dyn(t(&[2.0])).unwrap();
        mc(&p, &q, &[3]);
        // A point mass at 0 (rate 0) against rate b: b. Rate 0 in q under p > 0: +inf.
        let zero = Poisson::new(0.0).unwrap();
        let two = Poisson::new(2.0).unwrap();
        assert!((kl_divergence(&zero, &two).unwrap().item().unwrap() - 2.0).abs() < 1e-6);
        assert_eq!(
            kl_divergence(&two, &zero).unwrap().item().unwrap(),
            f32::INFINITY
        );
    }

    #[test]
    fn kernel_partials_match_finite_differences() {
        for p in [[0.3, 1.2, -0.4, 0.7], [2.0, 0.5, 2.5, 3.0]] {
            check_partials(normal_kernel, p);
            check_partials(laplace_kernel, p);
            check_partials(cauchy_kernel, p);
            check_partials(uniform_kernel, [-1.0, 0.5, -1.5, 2.0]);
        }
        check_partials(laplace_kernel, [0.5, 0.7, 0.5, 2.0]); // equal locations
        for p in [[0.5, 1.3], [3.0, 0.2]] {
            check_partials(half_normal_kernel, p);
            check_partials(exponential_kernel, p);
            check_partials(poisson_kernel, p);
        }
        // Kernels with ψ: a wider step, as the host ψ carries ~1e-11 absolute error.
        for p in [[2.5, 1.5, 1.2, 0.8], [0.3, 4.0, 7.0, 0.5]] {
            check_partials_step(gamma_kernel, p, 1e-4);
            check_partials_step(beta_kernel, p, 1e-4);
        }
        for p in [[0.7, 1.5, 1.0], [2.0, 0.6, 0.4]] {
            check_partials_step(exponential_gamma_kernel, p, 1e-4);
            check_partials_step(gamma_exponential_kernel, p, 1e-4);
        }
    }

    /// Through the whole graph (broadcasting, linearisation), against differences of the
    /// `f64` closed form.
    #[test]
    fn gamma_gamma_gradients_match_finite_differences() {
        check_kl_grad(
            &[2.5, 1.5, 1.2, 0.8],
            |x| {
                let p = Gamma::from_dyn(x[0].clone(), x[1].clone()).unwrap();
                let q = Gamma::from_dyn(x[2].clone(), x[3].clone()).unwrap();
                kl_divergence(&p, &q).unwrap()
            },
            |x| {
                let (a, b, a2, b2) = (x[0], x[1], x[2], x[3]);
                a2 * (b / b2).ln() + libm::lgamma(a2) - libm::lgamma(a)
                    + (a - a2) * digamma(a)
                    + (b2 - b) * a / b
            },
        );
    }

    #[test]
    fn laplace_laplace_gradients_match_finite_differences() {
        check_kl_grad(
            &[0.3, 0.9, -0.4, 1.6],
            |x| {
                let p = Laplace::from_dyn(x[0].clone(), x[1].clone()).unwrap();
                let q = Laplace::from_dyn(x[2].clone(), x[3].clone()).unwrap();
                kl_divergence(&p, &q).unwrap()
            },
            |x| {
                let d = (x[0] - x[2]).abs();
                (x[3] / x[1]).ln() + d / x[3] + x[1] / x[3] * (-d / x[1]).exp() - 1.0
            },
        );
    }

    #[test]
    fn exponential_gamma_gradients_match_finite_differences() {
        let euler = 0.577_215_664_901_532_9;
        check_kl_grad(
            &[0.7, 1.5, 0.9],
            |x| {
                let p = Exponential::from_dyn(x[0].clone()).unwrap();
                let q = Gamma::from_dyn(x[1].clone(), x[2].clone()).unwrap();
                kl_divergence(&p, &q).unwrap()
            },
            |x| {
                let (l, a, b) = (x[0], x[1], x[2]);
                -a * (b / l).ln() + b / l + libm::lgamma(a) + a * euler - (1.0 + euler)
            },
        );
    }
}
