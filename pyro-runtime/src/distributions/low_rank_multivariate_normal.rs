//! The multivariate normal with a low-rank-plus-diagonal covariance.

use std::marker::PhantomData;

use rand::RngCore;

use super::boilerplate::impl_distribution;
use super::host_map::tangent;
use super::param::{Dev3, JoinDev, Param, ParamMeta, ResolveDev, Shape1};
use super::vector_event::{broadcast_index, check_event};
use super::*;
use crate::linalg::{self, cholesky_host, solve_lower_host, solve_lower_t_host};
use crate::tensor::{broadcast_shapes, is_recording, numel};

const NAME: &str = "LowRankMultivariateNormal";

/// `LowRankMultivariateNormal(loc, cov_factor, cov_diag)`: the Gaussian with mean `loc: [..., n]`
/// and covariance `Σ = W Wᵀ + diag(d)`, `W = cov_factor: [..., n, r]`, `d = cov_diag: [..., n] > 0`.
///
/// `log_prob` is computed per event on the host in `f64`: `Σ` is formed explicitly and
/// factorised by Cholesky (exactness over speed: `O(n³)` per event rather than the `O(n r²)` of
/// the Woodbury/capacitance form, whose subtraction loses digits when `d` is tiny). The result
/// goes back on the graph by linearisation with the analytic gradients
/// (`∂/∂x = -Σ⁻¹(x - loc)`, `∂/∂Σ = ½(ααᵀ - Σ⁻¹)` with `α = Σ⁻¹(x - loc)`, so
/// `∂/∂W = 2 (∂/∂Σ) W`, `∂/∂d = diag(∂/∂Σ)`), so values and first derivatives are exact.
/// `rsample` is `loc + W ε_r + √d ⊙ ε_n`.
///
/// ```
/// use pyro::distributions::{Distribution, LowRankMultivariateNormal};
/// use pyro::tensor::DynTensor;
/// let loc = DynTensor::<dfdx::prelude::Cpu>::zeros(&[2]);
/// let w = DynTensor::<dfdx::prelude::Cpu>::from_vec(vec![1.0, 1.0], &[2, 1]).unwrap();
/// let d = DynTensor::<dfdx::prelude::Cpu>::from_vec(vec![1.0, 2.0], &[2]).unwrap();
/// let mvn = LowRankMultivariateNormal::new(&loc, w, d).unwrap();
/// assert_eq!(mvn.variance().unwrap().to_vec(), vec![2.0, 3.0]);
/// // Σ = [[2, 1], [1, 3]], det 5.
/// let lp = mvn.log_prob(&loc).unwrap().item().unwrap();
/// let want = -(2.0 * std::f32::consts::PI).ln() - 0.5 * 5f32.ln();
/// assert!((lp - want).abs() < 1e-6);
/// ```
#[derive(Debug, Clone)]
pub struct LowRankMultivariateNormal<S = (usize,), D: Backend = crate::tensor::DefaultDevice> {
    loc: DynTensor<D>,
    cov_factor: DynTensor<D>,
    cov_diag: DynTensor<D>,
    batch_shape: Vec<usize>,
    event_shape: Vec<usize>,
    _s: PhantomData<fn() -> S>,
}

impl LowRankMultivariateNormal {
    /// Builds from parameters of any accepted kind; `loc` gives the value shape type. Errors
    /// naming the parameter when `cov_diag` is not positive (with validation on) or a shape
    /// disagrees.
    ///
    /// ```
    /// use pyro::distributions::LowRankMultivariateNormal;
    /// use pyro::tensor::DynTensor;
    /// let loc = DynTensor::<dfdx::prelude::Cpu>::zeros(&[2]);
    /// let w = DynTensor::<dfdx::prelude::Cpu>::zeros(&[2, 1]);
    /// let d = DynTensor::<dfdx::prelude::Cpu>::from_vec(vec![1.0, 0.0], &[2]).unwrap();
    /// assert!(LowRankMultivariateNormal::new(&loc, w, d).is_err());
    /// ```
    #[allow(clippy::type_complexity)]
    pub fn new<L, W, G>(
        loc: L,
        cov_factor: W,
        cov_diag: G,
    ) -> DistResult<LowRankMultivariateNormal<Shape1<L>, Dev3<L, W, G>>>
    where
        L: ParamMeta + Param<Dev3<L, W, G>>,
        W: ParamMeta + Param<Dev3<L, W, G>>,
        G: ParamMeta + Param<Dev3<L, W, G>>,
        L::Dev: JoinDev<W::Dev>,
        <L::Dev as JoinDev<W::Dev>>::Out: JoinDev<G::Dev>,
        <<L::Dev as JoinDev<W::Dev>>::Out as JoinDev<G::Dev>>::Out: ResolveDev,
    {
        LowRankMultivariateNormal::build(
            loc.into_dyn()?,
            cov_factor.into_dyn()?,
            cov_diag.into_dyn()?,
        )
    }
}

impl<D: Backend> LowRankMultivariateNormal<DynShape, D> {
    /// Builds from run-time shaped parameters.
    ///
    /// ```
    /// use pyro::distributions::{Distribution, LowRankMultivariateNormal};
    /// use pyro::tensor::DynTensor;
    /// let d = LowRankMultivariateNormal::from_dyn(
    ///     DynTensor::<dfdx::prelude::Cpu>::zeros(&[5, 3]),
    ///     DynTensor::<dfdx::prelude::Cpu>::zeros(&[3, 2]),
    ///     DynTensor::<dfdx::prelude::Cpu>::ones(&[3]),
    /// )
    /// .unwrap();
    /// assert_eq!(d.batch_shape(), &[5]);
    /// ```
    pub fn from_dyn(
        loc: DynTensor<D>,
        cov_factor: DynTensor<D>,
        cov_diag: DynTensor<D>,
    ) -> DistResult<Self> {
        Self::build(loc, cov_factor, cov_diag)
    }
}

fn invalid(param: &'static str, reason: String) -> DistError {
    DistError::InvalidParameter {
        dist: NAME,
        param,
        reason,
    }
}

/// One factorised covariance on the host.
struct Factor {
    l: Vec<f64>,
    half_log_det: f64,
    /// `Σ⁻¹`, only while recording.
    inv: Option<Vec<f64>>,
}

impl<S, D: Backend> LowRankMultivariateNormal<S, D> {
    fn build(
        loc: DynTensor<D>,
        cov_factor: DynTensor<D>,
        cov_diag: DynTensor<D>,
    ) -> DistResult<Self> {
        validate_param(NAME, "loc", &loc, &Constraint::Real)?;
        validate_param(NAME, "cov_factor", &cov_factor, &Constraint::Real)?;
        validate_param(NAME, "cov_diag", &cov_diag, &Constraint::Positive)?;
        let Some((&n, loc_batch)) = loc.shape().split_last() else {
            return Err(invalid(
                "loc",
                "must have at least one dim (the event dim), found a scalar".into(),
            ));
        };
        let ws = cov_factor.shape();
        if ws.len() < 2 || ws[ws.len() - 2] != n {
            return Err(invalid(
                "cov_factor",
                format!(
                    "shape {ws:?} is not [..., {n}, rank] (loc has shape {:?})",
                    loc.shape()
                ),
            ));
        }
        let r = ws[ws.len() - 1];
        let ds = cov_diag.shape();
        if ds.last() != Some(&n) {
            return Err(invalid(
                "cov_diag",
                format!(
                    "shape {ds:?} is not [..., {n}] (loc has shape {:?})",
                    loc.shape()
                ),
            ));
        }
        let batch_shape = broadcast_shapes(loc_batch, &ws[..ws.len() - 2])
            .and_then(|b| broadcast_shapes(&b, &ds[..ds.len() - 1]))
            .ok_or_else(|| {
                invalid(
                    "cov_factor",
                    format!(
                        "batch dims of loc {:?}, cov_factor {ws:?} and cov_diag {ds:?} do not broadcast",
                        loc.shape()
                    ),
                )
            })?;
        Ok(LowRankMultivariateNormal {
            loc: loc.broadcast_to(&extended_shape(&[], &batch_shape, &[n]))?,
            cov_factor: cov_factor.broadcast_to(&extended_shape(&[], &batch_shape, &[n, r]))?,
            cov_diag: cov_diag.broadcast_to(&extended_shape(&[], &batch_shape, &[n]))?,
            batch_shape,
            event_shape: vec![n],
            _s: PhantomData,
        })
    }

    /// The mean, `batch_shape + [n]`.
    pub fn loc(&self) -> &DynTensor<D> {
        &self.loc
    }

    /// The low-rank factor `W`, `batch_shape + [n, r]`.
    pub fn cov_factor(&self) -> &DynTensor<D> {
        &self.cov_factor
    }

    /// The diagonal `d`, `batch_shape + [n]`.
    pub fn cov_diag(&self) -> &DynTensor<D> {
        &self.cov_diag
    }

    fn dims(&self) -> (usize, usize) {
        let ws = self.cov_factor.shape();
        (ws[ws.len() - 2], ws[ws.len() - 1])
    }

    /// The covariance `W Wᵀ + diag(d)`, `batch_shape + [n, n]` (differentiable).
    ///
    /// ```
    /// use pyro::distributions::LowRankMultivariateNormal;
    /// use pyro::tensor::DynTensor;
    /// let d = LowRankMultivariateNormal::new(
    ///     DynTensor::<dfdx::prelude::Cpu>::zeros(&[2]),
    ///     DynTensor::<dfdx::prelude::Cpu>::from_vec(vec![1.0, 2.0], &[2, 1]).unwrap(),
    ///     DynTensor::<dfdx::prelude::Cpu>::from_vec(vec![0.5, 0.5], &[2]).unwrap(),
    /// )
    /// .unwrap();
    /// assert_eq!(d.covariance_matrix().unwrap().to_vec(), vec![1.5, 2.0, 2.0, 4.5]);
    /// ```
    pub fn covariance_matrix(&self) -> DistResult<DynTensor<D>> {
        let w = &self.cov_factor;
        let wwt = linalg::matmul(w, &linalg::transpose(w)?)?;
        Ok(wwt.add(&linalg::diag_embed(&self.cov_diag)?)?)
    }

    /// The lower Cholesky factor of the covariance (differentiable).
    pub fn scale_tril(&self) -> DistResult<DynTensor<D>> {
        Ok(linalg::cholesky(&self.covariance_matrix()?)?)
    }

    /// The same distribution as a [`MultivariateNormal`] with the Cholesky factor of the
    /// covariance (used by KL divergences).
    ///
    /// ```
    /// use pyro::distributions::{Distribution, LowRankMultivariateNormal};
    /// use pyro::tensor::DynTensor;
    /// let d = LowRankMultivariateNormal::new(
    ///     DynTensor::<dfdx::prelude::Cpu>::zeros(&[2]),
    ///     DynTensor::<dfdx::prelude::Cpu>::from_vec(vec![1.0, 2.0], &[2, 1]).unwrap(),
    ///     DynTensor::<dfdx::prelude::Cpu>::from_vec(vec![0.5, 0.5], &[2]).unwrap(),
    /// )
    /// .unwrap();
    /// let x = DynTensor::<dfdx::prelude::Cpu>::from_vec(vec![0.3, -0.2], &[2]).unwrap();
    /// let a = d.log_prob(&x).unwrap().item().unwrap();
    /// let b = d.to_multivariate_normal().unwrap().log_prob(&x).unwrap().item().unwrap();
    /// assert!((a - b).abs() < 1e-5);
    /// ```
    pub fn to_multivariate_normal(&self) -> DistResult<MultivariateNormal<DynShape, D>> {
        MultivariateNormal::from_dyn(self.loc.clone(), self.scale_tril()?)
    }

    /// The same distribution with parameters broadcast to `batch_shape`.
    pub fn expand<S2>(
        &self,
        batch_shape: &[usize],
    ) -> DistResult<LowRankMultivariateNormal<S2, D>> {
        let (n, r) = self.dims();
        Ok(LowRankMultivariateNormal {
            loc: self
                .loc
                .broadcast_to(&extended_shape(&[], batch_shape, &[n]))?,
            cov_factor: self
                .cov_factor
                .broadcast_to(&extended_shape(&[], batch_shape, &[n, r]))?,
            cov_diag: self
                .cov_diag
                .broadcast_to(&extended_shape(&[], batch_shape, &[n]))?,
            batch_shape: batch_shape.to_vec(),
            event_shape: self.event_shape.clone(),
            _s: PhantomData,
        })
    }

    /// Factorises `Σ_k` for every batch element `k` on the host.
    fn factors(&self, with_inverse: bool) -> DistResult<Vec<Factor>> {
        let (n, r) = self.dims();
        let w = self.cov_factor.to_vec();
        let d = self.cov_diag.to_vec();
        let nb = numel(&self.batch_shape);
        let mut out = Vec::with_capacity(nb);
        for k in 0..nb {
            let wk = &w[k * n * r..(k + 1) * n * r];
            let mut cov = vec![0.0f64; n * n];
            for i in 0..n {
                for j in 0..=i {
                    let mut s: f64 = (0..r)
                        .map(|c| wk[i * r + c] as f64 * wk[j * r + c] as f64)
                        .sum();
                    if i == j {
                        s += d[k * n + i] as f64;
                    }
                    cov[i * n + j] = s;
                    cov[j * n + i] = s;
                }
            }
            let l = cholesky_host(&cov, n).ok_or_else(|| {
                invalid(
                    "cov_diag",
                    format!("the covariance of batch element {k} is not positive definite"),
                )
            })?;
            let half_log_det = (0..n).map(|i| l[i * n + i].ln()).sum();
            let inv = with_inverse.then(|| {
                let li = linalg::inverse_lower_host(&l, n);
                // Σ⁻¹ = L⁻ᵀ L⁻¹
                linalg::matmul_host(&linalg::transpose_host(&li, n, n), &li, n, n, n)
            });
            out.push(Factor {
                l,
                half_log_det,
                inv,
            });
        }
        Ok(out)
    }
}

impl_distribution!(LowRankMultivariateNormal[event_field, reparameterized] {
    fn support(&self) -> Constraint {
        Constraint::RealVector
    }
    fn rsample(&self, sample_shape: &[usize], rng: &mut dyn RngCore) -> DistResult<DynTensor<D>> {
        let (n, r) = self.dims();
        let sr = extended_shape(sample_shape, &self.batch_shape, &[r]);
        let sn = extended_shape(sample_shape, &self.batch_shape, &[n]);
        let eps_r = DynTensor::from_vec(std_normal_vec(numel(&sr), rng), &sr)?;
        let eps_n = DynTensor::from_vec(std_normal_vec(numel(&sn), rng), &sn)?;
        let low = linalg::matvec(&self.cov_factor, &eps_r)?;
        let diag = eps_n.mul(&self.cov_diag.sqrt())?;
        Ok(low.add(&diag)?.add(&self.loc)?)
    }
    fn log_prob(&self, value: &DynTensor<D>) -> DistResult<DynTensor<D>> {
        let (n, r) = self.dims();
        check_event(NAME, value, n)?;
        validate_value(NAME, &Constraint::RealVector, value)?;
        let vb = &value.shape()[..value.rank() - 1];
        let full = broadcast_shapes(vb, &self.batch_shape).ok_or_else(|| {
            crate::tensor::TensorError::Broadcast {
                op: "LowRankMultivariateNormal.log_prob",
                lhs: value.shape().to_vec(),
                rhs: self.loc.shape().to_vec(),
            }
        })?;
        let recording = is_recording();
        let factors = self.factors(recording)?;
        let pidx = broadcast_index(&self.batch_shape, &full);
        let xidx = broadcast_index(vb, &full);
        let (xv, lv, wv) = (value.to_vec(), self.loc.to_vec(), self.cov_factor.to_vec());
        let nf = numel(&full);
        let c = 0.5 * n as f64 * (2.0 * std::f64::consts::PI).ln();
        let mut lp = Vec::with_capacity(nf);
        let (mut gy, mut gw, mut gd) = (Vec::new(), Vec::new(), Vec::new());
        for f in 0..nf {
            let (k, xi) = (pidx[f], xidx[f]);
            let fk = &factors[k];
            let y: Vec<f64> = (0..n)
                .map(|i| xv[xi * n + i] as f64 - lv[k * n + i] as f64)
                .collect();
            let z = solve_lower_host(&fk.l, &y, n, 1);
            lp.push((-0.5 * z.iter().map(|v| v * v).sum::<f64>() - fk.half_log_det - c) as f32);
            if let Some(inv) = &fk.inv {
                let alpha = solve_lower_t_host(&fk.l, &z, n, 1);
                // ∂/∂y = -α; G = ½(ααᵀ - Σ⁻¹); ∂/∂W = 2 G W; ∂/∂d = diag G.
                gy.extend(alpha.iter().map(|a| -a as f32));
                let g: Vec<f64> = (0..n * n)
                    .map(|ij| 0.5 * (alpha[ij / n] * alpha[ij % n] - inv[ij]))
                    .collect();
                let wk: Vec<f64> = wv[k * n * r..(k + 1) * n * r]
                    .iter()
                    .map(|&v| v as f64)
                    .collect();
                let gwk = linalg::matmul_host(&g, &wk, n, n, r);
                gw.extend(gwk.iter().map(|v| (2.0 * v) as f32));
                gd.extend((0..n).map(|i| g[i * n + i] as f32));
            }
        }
        let value_out = DynTensor::from_vec(lp, &full)?;
        if !recording {
            return Ok(value_out);
        }
        let fy = extended_shape(&[], &full, &[n]);
        let fw = extended_shape(&[], &full, &[n, r]);
        let lin = tangent(&value.sub(&self.loc)?, &fy, gy)?
            .sum_rightmost(1)?
            .add(&tangent(&self.cov_factor, &fw, gw)?.sum_rightmost(2)?)?
            .add(&tangent(&self.cov_diag, &fy, gd)?.sum_rightmost(1)?)?;
        Ok(value_out.add(&lin)?)
    }
    fn mean(&self) -> DistResult<DynTensor<D>> {
        Ok(self.loc.clone())
    }
    fn variance(&self) -> DistResult<DynTensor<D>> {
        Ok(self
            .cov_factor
            .square()
            .sum_rightmost(1)?
            .add(&self.cov_diag)?)
    }
});

#[cfg(test)]
#[allow(clippy::needless_range_loop)] // index-heavy numeric checks
mod tests {
    use super::*;
    use crate::distributions::testing_mv::*;
    use crate::linalg::test_util::*;
    use crate::linalg::{matmul_host, transpose_host};
    use crate::tensor::special::scalar::ndtr;
    use dfdx::prelude::Cpu;
    use rand::SeedableRng;

    /// Σ = W Wᵀ + diag(d) in f64.
    fn host_cov(w: &[f64], d: &[f64], n: usize, r: usize) -> Vec<f64> {
        let mut c = matmul_host(w, &transpose_host(w, n, r), n, r, n);
        for i in 0..n {
            c[i * n + i] += d[i];
        }
        c
    }

    /// log N(x; loc, Σ) in f64 by a Cholesky factorisation.
    fn host_log_prob(x: &[f64], loc: &[f64], cov: &[f64]) -> f64 {
        let n = x.len();
        let l = cholesky_host(cov, n).unwrap();
        let y: Vec<f64> = x.iter().zip(loc).map(|(a, b)| a - b).collect();
        let z = solve_lower_host(&l, &y, n, 1);
        let hld: f64 = (0..n).map(|i| l[i * n + i].ln()).sum();
        -0.5 * z.iter().map(|v| v * v).sum::<f64>()
            - hld
            - 0.5 * n as f64 * (2.0 * std::f64::consts::PI).ln()
    }

    /// `loc` is `[n]`, or `[b, n]` when it holds `b` vectors; `W` is `[n, r]`, `d` is `[n]`.
    fn tensors(loc: &[f32], w: &[f32], d: &[f32], n: usize) -> [DynTensor<Cpu>; 3] {
        let r = w.len() / n;
        let loc_shape = if loc.len() == n {
            vec![n]
        } else {
            vec![loc.len() / n, n]
        };
        [
            DynTensor::from_vec(loc.to_vec(), &loc_shape).unwrap(),
            DynTensor::from_vec(w.to_vec(), &[n, r]).unwrap(),
            DynTensor::from_vec(d.to_vec(), &[n]).unwrap(),
        ]
    }

    #[test]
    fn log_prob_matches_scipy() {
        check_fixture_rows(
            "low_rank_mvn",
            |row| {
                let n = row.value.len();
                let p = &row.params;
                let r = (p.len() - 2 * n) / n;
                let [loc, w, d] = tensors(&p[..n], &p[n..n + n * r], &p[n + n * r..], n);
                LowRankMultivariateNormal::new(loc, w, d).map(|d| Box::new(d) as BoxDist<Cpu>)
            },
            |row| vec![row.value.len()],
        );
    }

    fn example() -> (Vec<f32>, Vec<f32>, Vec<f32>) {
        (
            vec![0.5, -1.0, 2.0],
            vec![1.0, 0.2, -0.7, 0.5, 0.3, -1.2],
            vec![0.4, 0.9, 0.1],
        )
    }

    #[test]
    fn sampler_mean_covariance_and_ks() {
        let (loc, w, d) = example();
        let [lt, wt, dt] = tensors(&loc, &w, &d, 3);
        let dist = LowRankMultivariateNormal::new(lt, wt, dt).unwrap();
        let xs = draw_rows(&dist, 100_000);
        let cov = host_cov(&f64s(&w), &f64s(&d), 3, 2);
        let mean = f64s(&loc);
        check_mean_cov(&xs, &mean, &cov);
        for a in [[0.0, 1.0, 0.0], [1.0, 1.0, 1.0], [-0.5, 2.0, 1.0]] {
            let m: f64 = a.iter().zip(&mean).map(|(u, v)| u * v).sum();
            let ca = matmul_host(&cov, &a, 3, 3, 1);
            let v: f64 = a.iter().zip(&ca).map(|(u, v)| u * v).sum();
            check_projection_ks(&xs, &a, |t| ndtr((t - m) / v.sqrt()));
        }
        let diag: Vec<f64> = (0..3).map(|i| cov[i * 4]).collect();
        assert_close(&dist.variance().unwrap().to_vec(), &diag, 1e-6);
        assert_close(&dist.covariance_matrix().unwrap().to_vec(), &cov, 1e-6);
        let l = dist.scale_tril().unwrap().to_vec();
        assert_close(&l, &cholesky_host(&cov, 3).unwrap(), 1e-6);
    }

    #[test]
    fn log_prob_gradients_match_finite_differences() {
        let (loc, w, d) = example();
        let x = vec![1.0f32, 0.0, 1.5];
        let [lt, wt, dt] = tensors(&loc, &w, &d, 3);
        let xt = DynTensor::<Cpu>::from_vec(x.clone(), &[3]).unwrap();
        let leaves = [xt, lt, wt, dt];
        for record_value in [false, true] {
            // Values agree with and without recording.
            let scope = record_value.then(crate::tensor::GradScope::<Cpu>::open);
            let dist = LowRankMultivariateNormal::new(&leaves[1], &leaves[2], &leaves[3]).unwrap();
            let lp = dist.log_prob(&leaves[0]).unwrap().item().unwrap() as f64;
            drop(scope);
            let want = host_log_prob(
                &f64s(&x),
                &f64s(&loc),
                &host_cov(&f64s(&w), &f64s(&d), 3, 2),
            );
            assert!(
                (lp - want).abs() < 1e-6 * want.abs().max(1.0),
                "{lp} vs {want}"
            );
        }
        let g = analytic_grads(&leaves, |p| {
            LowRankMultivariateNormal::new(&p[1], &p[2], &p[3])
                .unwrap()
                .log_prob(&p[0])
                .unwrap()
        });
        let host = |p: &[Vec<f64>]| host_log_prob(&p[0], &p[1], &host_cov(&p[2], &p[3], 3, 2));
        let point = vec![f64s(&x), f64s(&loc), f64s(&w), f64s(&d)];
        check_host_grads(&g, &host, &point, |_, _| false);
    }

    #[test]
    fn rsample_gradients_match_finite_differences() {
        let (loc, w, d) = example();
        let wts = random_host(&mut seeded(40), 8 * 3);
        let f = |p: &[DynTensor<Cpu>]| {
            let dist = LowRankMultivariateNormal::new(&p[0], &p[1], &p[2]).unwrap();
            let mut rng = rand::rngs::StdRng::seed_from_u64(6);
            weighted_sum(&dist.rsample(&[8], &mut rng).unwrap(), &wts)
        };
        let leaves = tensors(&loc, &w, &d, 3);
        let g = analytic_grads(&leaves, f);
        for (arg, base) in [(0, &loc), (1, &w), (2, &d)] {
            for i in 0..base.len() {
                let eval = |h: f32| {
                    let mut ls = leaves.to_vec();
                    let mut v = base.clone();
                    v[i] += h;
                    ls[arg] = DynTensor::from_vec(v, leaves[arg].shape()).unwrap();
                    f(&ls).item().unwrap() as f64
                };
                let h = 1e-2 * base[i].abs().max(0.1);
                let fd = (eval(h) - eval(-h)) / (2.0 * h as f64);
                assert!(
                    (g[arg][i] - fd).abs() <= 2e-3 * fd.abs().max(1.0),
                    "arg {arg}[{i}]: analytic {}, fd {fd}",
                    g[arg][i]
                );
            }
        }
    }

    #[test]
    fn batched_loc_broadcasts_against_shared_covariance() {
        let (_, w, d) = example();
        let mut rng = seeded(41);
        let loc = random_host(&mut rng, 4 * 3);
        let [lt, wt, dt] = tensors(&loc, &w, &d, 3);
        assert_eq!(lt.shape(), &[4, 3]);
        let dist = LowRankMultivariateNormal::new(lt, wt, dt).unwrap();
        assert_eq!(dist.batch_shape(), &[4]);
        let x = random_host(&mut rng, 2 * 3);
        let xt = DynTensor::<Cpu>::from_vec(x.clone(), &[2, 1, 3]).unwrap();
        let lp = dist.log_prob(&xt).unwrap();
        assert_eq!(lp.shape(), &[2, 4]);
        let mvn = dist.to_multivariate_normal().unwrap();
        let lp2 = mvn.log_prob(&xt).unwrap();
        let cov = host_cov(&f64s(&w), &f64s(&d), 3, 2);
        for s in 0..2 {
            for b in 0..4 {
                let want = host_log_prob(
                    &f64s(&x[s * 3..s * 3 + 3]),
                    &f64s(&loc[b * 3..b * 3 + 3]),
                    &cov,
                );
                assert_close(&[lp.to_vec()[s * 4 + b]], &[want], 1e-6);
                assert_close(&[lp2.to_vec()[s * 4 + b]], &[want], 1e-5);
            }
        }
        let mut r = rand::rngs::StdRng::seed_from_u64(0);
        assert_eq!(dist.sample(&[5], &mut r).unwrap().shape(), &[5, 4, 3]);
        assert_eq!(
            dist.expand::<DynShape>(&[2, 4])
                .unwrap()
                .log_prob(&xt)
                .unwrap()
                .shape(),
            &[2, 4]
        );
    }

    #[test]
    fn invalid_parameters_are_named() {
        crate::enable_validation(true);
        let param = |e: DistError| match e {
            DistError::InvalidParameter { param, .. } => param,
            other => panic!("unexpected {other}"),
        };
        let loc = DynTensor::<Cpu>::zeros(&[2]);
        let w = DynTensor::<Cpu>::zeros(&[2, 1]);
        let bad_d = DynTensor::<Cpu>::from_vec(vec![1.0, -1.0], &[2]).unwrap();
        assert_eq!(
            param(LowRankMultivariateNormal::new(&loc, &w, bad_d).unwrap_err()),
            "cov_diag"
        );
        let d = DynTensor::<Cpu>::ones(&[2]);
        let bad_w = DynTensor::<Cpu>::zeros(&[3, 1]);
        assert_eq!(
            param(LowRankMultivariateNormal::new(&loc, bad_w, &d).unwrap_err()),
            "cov_factor"
        );
        assert_eq!(
            param(
                LowRankMultivariateNormal::new(&loc, &w, DynTensor::<Cpu>::ones(&[3])).unwrap_err()
            ),
            "cov_diag"
        );
        assert_eq!(
            param(
                LowRankMultivariateNormal::new(DynTensor::<Cpu>::scalar(0.0), &w, &d).unwrap_err()
            ),
            "loc"
        );
        let nan_w = DynTensor::<Cpu>::from_vec(vec![f32::NAN, 0.0], &[2, 1]).unwrap();
        assert_eq!(
            param(LowRankMultivariateNormal::new(&loc, nan_w, &d).unwrap_err()),
            "cov_factor"
        );
        let dist = LowRankMultivariateNormal::new(&loc, &w, &d).unwrap();
        assert!(matches!(
            dist.log_prob(&DynTensor::zeros(&[3])),
            Err(DistError::Tensor(_))
        ));
    }
}
