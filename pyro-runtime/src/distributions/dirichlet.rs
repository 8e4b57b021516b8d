//! The Dirichlet distribution.

use std::marker::PhantomData;

use rand::RngCore;

use super::boilerplate::impl_distribution;
use super::host_map::tangent;
use super::implicit::{dlnx_dalpha, log_standard_gamma_checked};
use super::param::{Dev1, Param, ParamMeta, ResolveDev, Shape1};
use super::vector_event::{broadcast_index, check_event};
use super::*;
use crate::tensor::special::scalar::{digamma, lgamma};
use crate::tensor::{broadcast_shapes, is_recording, numel};

const NAME: &str = "Dirichlet";

/// `Dirichlet(concentration)`: density `Γ(α₀) / Π Γ(α_k) · Π x_k^{α_k - 1}` on the simplex,
/// `α = concentration: [..., K] > 0`, `α₀ = Σ α_k`.
///
/// The event shape is `[K]`, the batch shape `concentration`'s leading dims, and the value
/// shape type `S` is `concentration`'s. Samples normalise independent Gamma(α_k, 1) draws
/// (taken in log space, so tiny concentrations do not underflow); `rsample` differentiates
/// them by implicit reparameterization. `log_prob` is evaluated in `f64` (exact value and
/// gradient); a zero coordinate counts as `f32::MIN_POSITIVE`, so a face of the simplex has a
/// finite density even where `α_k < 1` makes the true density infinite.
///
/// ```
/// use pyro::distributions::{Dirichlet, Distribution};
/// use pyro::tensor::DynTensor;
/// let a = DynTensor::<dfdx::prelude::Cpu>::from_vec(vec![1.0, 2.0, 3.0], &[3]).unwrap();
/// let d = Dirichlet::new(a).unwrap();
/// let m = d.mean().unwrap().to_vec();
/// assert!((m[2] - 0.5).abs() < 1e-7);
/// let x = DynTensor::<dfdx::prelude::Cpu>::from_vec(vec![0.2, 0.3, 0.5], &[3]).unwrap();
/// // Γ(6)/(Γ(1)Γ(2)Γ(3)) · 0.3 · 0.5² = 60 · 0.075
/// let lp = d.log_prob(&x).unwrap().item().unwrap();
/// assert!((lp - 4.5f32.ln()).abs() < 1e-5);
/// ```
#[derive(Debug, Clone)]
pub struct Dirichlet<S = (usize,), D: Backend = crate::tensor::DefaultDevice> {
    concentration: DynTensor<D>,
    batch_shape: Vec<usize>,
    event_shape: Vec<usize>,
    _s: PhantomData<fn() -> S>,
}

impl Dirichlet {
    /// Builds from a concentration of any accepted kind (a typed tensor or a `DynTensor`
    /// with at least one dim). Errors naming `concentration` when an entry is not positive
    /// (with validation on) or it is a scalar.
    ///
    /// ```
    /// use pyro::distributions::Dirichlet;
    /// use pyro::tensor::DynTensor;
    /// let bad = DynTensor::<dfdx::prelude::Cpu>::from_vec(vec![1.0, 0.0], &[2]).unwrap();
    /// assert!(Dirichlet::new(bad).is_err());
    /// ```
    pub fn new<C>(concentration: C) -> DistResult<Dirichlet<Shape1<C>, Dev1<C>>>
    where
        C: ParamMeta + Param<Dev1<C>>,
        C::Dev: ResolveDev,
    {
        Dirichlet::build(concentration.into_dyn()?)
    }
}

impl<D: Backend> Dirichlet<DynShape, D> {
    /// Builds from a run-time shaped concentration.
    ///
    /// ```
    /// use pyro::distributions::{Dirichlet, Distribution};
    /// use pyro::tensor::DynTensor;
    /// let d = Dirichlet::from_dyn(DynTensor::<dfdx::prelude::Cpu>::ones(&[4, 3])).unwrap();
    /// assert_eq!((d.batch_shape(), d.event_shape()), (&[4][..], &[3][..]));
    /// ```
    pub fn from_dyn(concentration: DynTensor<D>) -> DistResult<Self> {
        Self::build(concentration)
    }
}

impl<S, D: Backend> Dirichlet<S, D> {
    fn build(concentration: DynTensor<D>) -> DistResult<Self> {
        let Some((&k, batch)) = concentration.shape().split_last() else {
            return Err(DistError::InvalidParameter {
                dist: NAME,
                param: "concentration",
                reason: "must have at least one dim (the event dim), found a scalar".into(),
            });
        };
        validate_param(NAME, "concentration", &concentration, &Constraint::Positive)?;
        Ok(Dirichlet {
            batch_shape: batch.to_vec(),
            event_shape: vec![k],
            concentration,
            _s: PhantomData,
        })
    }

    /// The concentration `α`, `batch_shape + [K]`.
    pub fn concentration(&self) -> &DynTensor<D> {
        &self.concentration
    }

    /// `α₀ = Σ_k α_k` with a trailing unit dim, `batch_shape + [1]`.
    fn total(&self) -> DistResult<DynTensor<D>> {
        let t = self.concentration.sum_rightmost(1)?;
        Ok(t.reshape(&extended_shape(&[], &self.batch_shape, &[1]))?)
    }

    /// The same distribution with its concentration broadcast to `batch_shape`.
    pub fn expand<S2>(&self, batch_shape: &[usize]) -> DistResult<Dirichlet<S2, D>> {
        Ok(Dirichlet {
            concentration: self.concentration.broadcast_to(&extended_shape(
                &[],
                batch_shape,
                &self.event_shape,
            ))?,
            batch_shape: batch_shape.to_vec(),
            event_shape: self.event_shape.clone(),
            _s: PhantomData,
        })
    }

    /// Log-gamma draws `log g` for `sample_shape + batch_shape + [K]`, on the host, with the
    /// concentration each was drawn with.
    pub(crate) fn log_gammas(
        &self,
        sample_shape: &[usize],
        rng: &mut dyn RngCore,
    ) -> DistResult<(Vec<f64>, Vec<f64>, Vec<usize>)> {
        let shape = extended_shape(sample_shape, &self.batch_shape, &self.event_shape);
        let alpha = self.concentration.to_vec();
        let per = alpha.len().max(1);
        let mut lg = Vec::with_capacity(numel(&shape));
        let mut al = Vec::with_capacity(numel(&shape));
        for i in 0..numel(&shape) {
            let a = alpha[i % per] as f64;
            let v =
                log_standard_gamma_checked(a, rng).ok_or_else(|| DistError::InvalidParameter {
                    dist: NAME,
                    param: "concentration",
                    reason: format!("{a} is not a valid (positive, finite) concentration"),
                })?;
            lg.push(v);
            al.push(a);
        }
        Ok((lg, al, shape))
    }
}

impl_distribution!(Dirichlet[event_field] {
    fn has_rsample(&self) -> bool {
        true
    }
    fn support(&self) -> Constraint {
        Constraint::Simplex
    }
    fn sample(&self, sample_shape: &[usize], rng: &mut dyn RngCore) -> DistResult<DynTensor<D>> {
        let (lg, _, shape) = self.log_gammas(sample_shape, rng)?;
        let k = self.event_shape[0];
        let mut out = Vec::with_capacity(lg.len());
        for ev in lg.chunks(k.max(1)) {
            let m = ev.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let lse = m + ev.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
            out.extend(
                ev.iter()
                    .map(|v| ((v - lse).exp() as f32).clamp(f32::MIN_POSITIVE, 1.0)),
            );
        }
        Ok(DynTensor::from_vec(out, &shape)?)
    }
    fn rsample(&self, sample_shape: &[usize], rng: &mut dyn RngCore) -> DistResult<DynTensor<D>> {
        let (lg, al, shape) = self.log_gammas(sample_shape, rng)?;
        // log g = log g₀ + (α - α₀) · d log g/dα, exact in value and first derivative.
        let grad: Vec<f32> = lg
            .iter()
            .zip(&al)
            .map(|(&l, &a)| dlnx_dalpha(a, l) as f32)
            .collect();
        let lg32: Vec<f32> = lg.iter().map(|&v| v as f32).collect();
        let lin = tangent(&self.concentration, &shape, grad)?;
        let log_g = DynTensor::from_vec(lg32, &shape)?.add(&lin)?;
        // Normalise: softmax over the event dim.
        let mut lead = shape.clone();
        *lead.last_mut().expect("event dim") = 1;
        let lse = log_g.logsumexp_last()?.reshape(&lead)?;
        Ok(log_g.sub(&lse)?.exp())
    }
    fn log_prob(&self, value: &DynTensor<D>) -> DistResult<DynTensor<D>> {
        let k = self.event_shape[0];
        check_event(NAME, value, k)?;
        validate_value(NAME, &Constraint::Simplex, value)?;
        // Evaluated in f64 on the host (the normaliser lgamma(α₀) - Σ lgamma(α_k) cancels
        // badly in f32 for large α) and put back on the graph by linearisation with
        // ∂/∂x_k = (α_k - 1)/x_k and ∂/∂α_k = log x_k + ψ(α₀) - ψ(α_k).
        let vb = &value.shape()[..value.rank() - 1];
        let full = broadcast_shapes(vb, &self.batch_shape).ok_or_else(|| {
            crate::tensor::TensorError::Broadcast {
                op: "Dirichlet.log_prob",
                lhs: value.shape().to_vec(),
                rhs: self.concentration.shape().to_vec(),
            }
        })?;
        let recording = is_recording();
        let (xv, av) = (value.to_vec(), self.concentration.to_vec());
        // Per batch element: the normaliser and ψ(α₀).
        let norms: Vec<(f64, f64)> = av
            .chunks(k.max(1))
            .map(|a| {
                let a0: f64 = a.iter().map(|&v| v as f64).sum();
                let lg: f64 = a.iter().map(|&v| lgamma(v as f64)).sum();
                (lgamma(a0) - lg, digamma(a0))
            })
            .collect();
        let pidx = broadcast_index(&self.batch_shape, &full);
        let xidx = broadcast_index(vb, &full);
        let nf = numel(&full);
        let mut lp = Vec::with_capacity(nf);
        let (mut gx, mut ga) = (Vec::new(), Vec::new());
        for f in 0..nf {
            let (p, xi) = (pidx[f], xidx[f]);
            let (norm, psi0) = norms[p];
            let mut s = norm;
            for j in 0..k {
                let a = av[p * k + j] as f64;
                let x = (xv[xi * k + j] as f64).max(f32::MIN_POSITIVE as f64);
                s += (a - 1.0) * x.ln();
                if recording {
                    gx.push(((a - 1.0) / x) as f32);
                    ga.push((x.ln() + psi0 - digamma(a)) as f32);
                }
            }
            lp.push(s as f32);
        }
        let out = DynTensor::from_vec(lp, &full)?;
        if !recording {
            return Ok(out);
        }
        let fe = extended_shape(&[], &full, &[k]);
        let lin = tangent(value, &fe, gx)?
            .add(&tangent(&self.concentration, &fe, ga)?)?
            .sum_rightmost(1)?;
        Ok(out.add(&lin)?)
    }
    fn mean(&self) -> DistResult<DynTensor<D>> {
        Ok(self.concentration.div(&self.total()?)?)
    }
    fn variance(&self) -> DistResult<DynTensor<D>> {
        let a0 = self.total()?;
        let num = self.concentration.mul(&a0.sub(&self.concentration)?)?;
        let den = a0.square().mul(&a0.add_scalar(1.0))?;
        Ok(num.div(&den)?)
    }
});

#[cfg(test)]
#[allow(clippy::needless_range_loop)] // index-heavy numeric checks
mod tests {
    use super::*;
    use crate::distributions::implicit::log_x_at_same_quantile;
    use crate::distributions::testing::check_fixture;
    use crate::distributions::testing_mv::*;
    use crate::linalg::test_util::*;
    use crate::tensor::special::scalar::trigamma;
    use crate::tensor::GradScope;
    use dfdx::prelude::Cpu;
    use rand::SeedableRng;

    fn dirichlet(alpha: &[f32]) -> Dirichlet<DynShape, Cpu> {
        Dirichlet::from_dyn(DynTensor::from_vec(alpha.to_vec(), &[alpha.len()]).unwrap()).unwrap()
    }

    #[test]
    fn log_prob_matches_scipy() {
        check_fixture("dirichlet", |p| {
            Dirichlet::new(DynTensor::<Cpu>::from_vec(p.to_vec(), &[p.len()]).unwrap())
                .map(|d| Box::new(d) as BoxDist<Cpu>)
        });
    }

    /// Mean and covariance to 4 standard errors; KS of the component with α_k = 1, whose
    /// marginal is Beta(1, α₀ - 1) with cdf `1 - (1 - x)^(α₀ - 1)`.
    #[test]
    fn sampler_moments_and_ks() {
        for alpha in [[2.0f32, 1.0, 4.5], [0.3, 1.0, 0.1]] {
            let d = dirichlet(&alpha);
            let xs = draw_rows(&d, 100_000);
            let a: Vec<f64> = f64s(&alpha);
            let a0: f64 = a.iter().sum();
            let mean: Vec<f64> = a.iter().map(|v| v / a0).collect();
            let mut cov = vec![0.0; 9];
            for i in 0..3 {
                for j in 0..3 {
                    let delta = if i == j { a[i] * a0 } else { 0.0 };
                    cov[i * 3 + j] = (delta - a[i] * a[j]) / (a0 * a0 * (a0 + 1.0));
                }
            }
            check_mean_cov(&xs, &mean, &cov);
            check_projection_ks(&xs, &[0.0, 1.0, 0.0], |x| {
                1.0 - (1.0 - x.clamp(0.0, 1.0)).powf(a0 - 1.0)
            });
            assert!(xs.iter().all(|x| x.iter().all(|&v| v > 0.0)));
            assert_close(&d.mean().unwrap().to_vec(), &mean, 1e-6);
            let var: Vec<f64> = (0..3).map(|i| cov[i * 4]).collect();
            assert_close(&d.variance().unwrap().to_vec(), &var, 1e-6);
        }
    }

    /// The pathwise gradient of `sum(w ⊙ rsample)` against central differences of the same
    /// draws transported along α at fixed Gamma quantiles (f64 host bisection).
    #[test]
    fn rsample_gradients_match_quantile_transport() {
        let alpha = [1.5f32, 0.2, 3.0];
        let n = 6;
        let w = random_host(&mut seeded(50), n * 3);
        let leaf = DynTensor::<Cpu>::from_vec(alpha.to_vec(), &[3]).unwrap();
        let g = analytic_grads(std::slice::from_ref(&leaf), |p| {
            let d = Dirichlet::from_dyn(p[0].clone()).unwrap();
            let mut rng = rand::rngs::StdRng::seed_from_u64(8);
            weighted_sum(&d.rsample(&[n], &mut rng).unwrap(), &w)
        });
        // The same draws, on the host.
        let mut rng = rand::rngs::StdRng::seed_from_u64(8);
        let (lg0, _, _) = dirichlet(&alpha).log_gammas(&[n], &mut rng).unwrap();
        let objective = |a: &[f64]| -> f64 {
            let mut s = 0.0;
            for e in 0..n {
                let lg: Vec<f64> = (0..3)
                    .map(|k| log_x_at_same_quantile(a[k], alpha[k] as f64, lg0[e * 3 + k]))
                    .collect();
                let tot: f64 = lg.iter().map(|v| v.exp()).sum();
                for k in 0..3 {
                    s += w[e * 3 + k] as f64 * lg[k].exp() / tot;
                }
            }
            s
        };
        for j in 0..3 {
            let h = 1e-5 * alpha[j] as f64;
            let mut up = f64s(&alpha);
            let mut dn = f64s(&alpha);
            up[j] += h;
            dn[j] -= h;
            let fd = (objective(&up) - objective(&dn)) / (2.0 * h);
            assert!(
                (g[0][j] - fd).abs() <= 1e-4 * fd.abs().max(1.0),
                "d/dα{j}: analytic {}, transport fd {fd}",
                g[0][j]
            );
        }
    }

    /// Unbiasedness of the pathwise gradients: the mean of d f(rsample)/dα over 20 × 2000
    /// draws against the analytic d E[f]/dα, for f = x₀ (E = α₀/Σα) and f = log x₁
    /// (E = ψ(α₁) - ψ(Σα)), within 4 standard errors of the batch means.
    #[test]
    fn rsample_gradients_are_unbiased() {
        let alpha = [1.5f32, 0.7, 3.0];
        let a: Vec<f64> = f64s(&alpha);
        let a0: f64 = a.iter().sum();
        let batches = 20;
        let per = 2000;
        let mut rng = rand::rngs::StdRng::seed_from_u64(9);
        let mut g_mean: Vec<Vec<f64>> = vec![vec![]; 6];
        // d/dα of the batch mean of f over `per` fresh draws, one backward pass each.
        let batch_grad = |f: &dyn Fn(&DynTensor<Cpu>) -> DynTensor<Cpu>,
                          rng: &mut rand::rngs::StdRng| {
            let leaf = DynTensor::<Cpu>::from_vec(alpha.to_vec(), &[3]).unwrap();
            let scope = GradScope::<Cpu>::open();
            let x = Dirichlet::from_dyn(leaf.clone())
                .unwrap()
                .rsample(&[per], rng)
                .unwrap();
            let g = scope.backward(&f(&x)).unwrap();
            f64s(&g.get_or_zeros(&leaf).to_vec())
        };
        let pick = |k: usize| {
            let mut w = vec![0.0f32; per * 3];
            for i in 0..per {
                w[i * 3 + k] = 1.0 / per as f32;
            }
            w
        };
        let (w0, w1) = (pick(0), pick(1));
        for _ in 0..batches {
            let g0 = batch_grad(&|x| weighted_sum(x, &w0), &mut rng);
            let g1 = batch_grad(&|x| weighted_sum(&x.ln(), &w1), &mut rng);
            for j in 0..3 {
                g_mean[j].push(g0[j]);
                g_mean[3 + j].push(g1[j]);
            }
        }
        for j in 0..3 {
            let want0 = (if j == 0 { a0 } else { 0.0 } - a[0]) / (a0 * a0);
            let want1 = if j == 1 { trigamma(a[1]) } else { 0.0 } - trigamma(a0);
            for (series, want) in [(&g_mean[j], want0), (&g_mean[3 + j], want1)] {
                let m = series.iter().sum::<f64>() / batches as f64;
                let v =
                    series.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (batches as f64 - 1.0);
                let se = (v / batches as f64).sqrt();
                assert!(
                    (m - want).abs() <= 4.0 * se + 1e-4,
                    "d/dα{j}: pathwise mean {m}, analytic {want} (se {se})"
                );
            }
        }
    }

    #[test]
    fn log_prob_gradients_match_finite_differences() {
        let alpha = vec![0.7f32, 2.5, 1.2];
        let x = vec![0.2f32, 0.5, 0.3];
        let leaves = [
            DynTensor::<Cpu>::from_vec(x.clone(), &[3]).unwrap(),
            DynTensor::<Cpu>::from_vec(alpha.clone(), &[3]).unwrap(),
        ];
        let g = analytic_grads(&leaves, |p| {
            Dirichlet::from_dyn(p[1].clone())
                .unwrap()
                .log_prob(&p[0])
                .unwrap()
        });
        // The density as a function on R^K (the gradient in x is the ambient one).
        let host = |p: &[Vec<f64>]| {
            let a0: f64 = p[1].iter().sum();
            let mut s = lgamma(a0);
            for k in 0..3 {
                s += (p[1][k] - 1.0) * p[0][k].ln() - lgamma(p[1][k]);
            }
            s
        };
        check_host_grads(&g, &host, &[f64s(&x), f64s(&alpha)], |_, _| false);
    }

    #[test]
    fn batched_shapes_and_expand() {
        let a = DynTensor::<Cpu>::from_vec(vec![1.0, 2.0, 3.0, 0.5, 0.5, 0.5], &[2, 3]).unwrap();
        let d = Dirichlet::from_dyn(a).unwrap();
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let x = d.sample(&[4], &mut rng).unwrap();
        assert_eq!(x.shape(), &[4, 2, 3]);
        let lp = d.log_prob(&x).unwrap();
        assert_eq!(lp.shape(), &[4, 2]);
        // Row by row against the unbatched distributions.
        let xv = x.to_vec();
        for s in 0..4 {
            for b in 0..2 {
                let single = dirichlet(&[[1.0, 2.0, 3.0], [0.5, 0.5, 0.5]][b]);
                let xe = DynTensor::<Cpu>::from_vec(
                    xv[(s * 2 + b) * 3..(s * 2 + b + 1) * 3].to_vec(),
                    &[3],
                )
                .unwrap();
                let want = single.log_prob(&xe).unwrap().item().unwrap();
                assert_eq!(lp.to_vec()[s * 2 + b], want);
            }
        }
        let e = d.expand::<DynShape>(&[5, 2]).unwrap();
        assert_eq!(e.rsample(&[3], &mut rng).unwrap().shape(), &[3, 5, 2, 3]);
        assert_eq!(e.mean().unwrap().shape(), &[5, 2, 3]);
    }

    #[test]
    fn invalid_parameters_and_values() {
        crate::enable_validation(true);
        let bad = DynTensor::<Cpu>::from_vec(vec![1.0, -0.5], &[2]).unwrap();
        assert!(matches!(
            Dirichlet::new(bad),
            Err(DistError::InvalidParameter {
                param: "concentration",
                ..
            })
        ));
        assert!(matches!(
            Dirichlet::new(DynTensor::<Cpu>::scalar(1.0)),
            Err(DistError::InvalidParameter {
                param: "concentration",
                ..
            })
        ));
        let d = dirichlet(&[1.0, 2.0]);
        let off = DynTensor::<Cpu>::from_vec(vec![0.5, 0.6], &[2]).unwrap();
        assert!(matches!(
            d.log_prob(&off),
            Err(DistError::OutOfSupport { .. })
        ));
        assert!(matches!(
            d.log_prob(&DynTensor::from_vec(vec![0.2, 0.3, 0.5], &[3]).unwrap()),
            Err(DistError::Tensor(_))
        ));
        // A corner of the simplex with α = 1 there is finite.
        let corner = DynTensor::<Cpu>::from_vec(vec![0.0, 1.0], &[2]).unwrap();
        let lp = d.log_prob(&corner).unwrap().item().unwrap();
        assert!((lp - 2f32.ln()).abs() < 1e-6, "{lp}");
    }

    #[test]
    fn typed_shapes_follow_concentration() {
        use dfdx::prelude::*;
        let a: crate::tensor::Tensor<Rank1<3>> = [1.0, 2.0, 3.0].into();
        let d = Dirichlet::new(a).unwrap();
        let x: crate::tensor::Tensor<Rank1<3>> = d.rdraw().unwrap();
        let s: f32 = x.to_vec().unwrap().iter().sum();
        assert!((s - 1.0).abs() < 1e-5);
    }
}
