//! The binomial distribution, parameterized by a count and probabilities or logits.

use std::marker::PhantomData;

use rand::RngCore;

use super::bernoulli::ParamKind;
use super::boilerplate::impl_distribution;
use super::host_map::{
    linearize, ln_choose, require_finite, uniform_f64, value_batch_pairs, xlog1py, xlogy,
};
use super::param::{Dev2, Param, ParamMeta, Shape2};
use super::*;
use crate::tensor::numel;
use crate::tensor::special::scalar;

/// `Binomial(total_count, probs)` or `Binomial::from_logits(total_count, logits)`: the number
/// of successes in `total_count` independent trials that each succeed with probability
/// `probs = sigmoid(logits)`; values `0, 1, ..., total_count` (as `f32`).
///
/// `log_prob` is evaluated in `f64` on the host (so large counts lose no precision to
/// cancellation between the log-gamma terms) and put back on the graph with its exact
/// derivative with respect to `probs` or `logits`; `total_count` and the value are treated as
/// constants. The sampler is exact: inversion for small means, Hörmann's transformed rejection
/// (BTRS) otherwise. There is no reparameterized sampler.
///
/// ```
/// use pyro::distributions::{Binomial, Distribution};
/// use pyro::tensor::DynTensor;
/// let d = Binomial::new(10.0, 0.3).unwrap();
/// assert!((d.mean().unwrap().item().unwrap() - 3.0).abs() < 1e-6);
/// let lp = d.log_prob(&DynTensor::scalar(0.0)).unwrap().item().unwrap();
/// assert!((lp - 10.0 * 0.7f32.ln()).abs() < 1e-5);
/// assert!(Binomial::new(2.5, 0.3).is_err()); // total_count must be an integer
/// ```
#[derive(Debug, Clone)]
pub struct Binomial<S = dfdx::shapes::Rank0, D: Backend = crate::tensor::DefaultDevice> {
    total_count: DynTensor<D>,
    param: DynTensor<D>,
    kind: ParamKind,
    batch_shape: Vec<usize>,
    _s: PhantomData<fn() -> S>,
}

impl Binomial {
    /// A binomial with `total_count` trials (a non-negative integer) and success
    /// probabilities `probs` (in `[0, 1]`); the two broadcast.
    ///
    /// ```
    /// use pyro::distributions::{Binomial, Distribution};
    /// let d = Binomial::new(4.0, 0.5).unwrap();
    /// assert_eq!(d.variance().unwrap().item().unwrap(), 1.0);
    /// ```
    pub fn new<N, P>(total_count: N, probs: P) -> DistResult<Binomial<Shape2<N, P>, Dev2<N, P>>>
    where
        N: ParamMeta + Param<Dev2<N, P>>,
        P: ParamMeta + Param<Dev2<N, P>>,
        N::Shape: param::JoinShape<P::Shape>,
        N::Dev: param::JoinDev<P::Dev>,
        <N::Dev as param::JoinDev<P::Dev>>::Out: param::ResolveDev,
    {
        Binomial::build(total_count.into_dyn()?, probs.into_dyn()?, ParamKind::Probs)
    }

    /// A binomial with `total_count` trials and log-odds `logits`.
    ///
    /// ```
    /// use pyro::distributions::{Binomial, Distribution};
    /// let d = Binomial::from_logits(8.0, 0.0).unwrap();
    /// assert_eq!(d.mean().unwrap().item().unwrap(), 4.0);
    /// ```
    pub fn from_logits<N, P>(
        total_count: N,
        logits: P,
    ) -> DistResult<Binomial<Shape2<N, P>, Dev2<N, P>>>
    where
        N: ParamMeta + Param<Dev2<N, P>>,
        P: ParamMeta + Param<Dev2<N, P>>,
        N::Shape: param::JoinShape<P::Shape>,
        N::Dev: param::JoinDev<P::Dev>,
        <N::Dev as param::JoinDev<P::Dev>>::Out: param::ResolveDev,
    {
        Binomial::build(
            total_count.into_dyn()?,
            logits.into_dyn()?,
            ParamKind::Logits,
        )
    }
}

impl<D: Backend> Binomial<DynShape, D> {
    /// Builds from run-time shaped parameters.
    ///
    /// ```
    /// use pyro::distributions::{Binomial, Distribution};
    /// use pyro::tensor::DynTensor;
    /// let n = DynTensor::<dfdx::prelude::Cpu>::from_vec(vec![5.0, 10.0], &[2]).unwrap();
    /// let d = Binomial::from_dyn(n, DynTensor::scalar(0.5)).unwrap();
    /// assert_eq!(d.batch_shape(), &[2]);
    /// ```
    pub fn from_dyn(total_count: DynTensor<D>, probs: DynTensor<D>) -> DistResult<Self> {
        Self::build(total_count, probs, ParamKind::Probs)
    }

    /// Builds from run-time shaped count and logits.
    ///
    /// ```
    /// use pyro::distributions::{Binomial, Distribution};
    /// use pyro::tensor::DynTensor;
    /// let l = DynTensor::<dfdx::prelude::Cpu>::zeros(&[3]);
    /// let d = Binomial::from_dyn_logits(DynTensor::scalar(2.0), l).unwrap();
    /// assert_eq!(d.batch_shape(), &[3]);
    /// ```
    pub fn from_dyn_logits(total_count: DynTensor<D>, logits: DynTensor<D>) -> DistResult<Self> {
        Self::build(total_count, logits, ParamKind::Logits)
    }
}

impl<S, D: Backend> Binomial<S, D> {
    fn build(total_count: DynTensor<D>, param: DynTensor<D>, kind: ParamKind) -> DistResult<Self> {
        if crate::is_validation_enabled() {
            let c = Constraint::NonNegativeInteger;
            validate_param("Binomial", "total_count", &total_count, &c)?;
            require_finite("Binomial", "total_count", &total_count.to_vec())?;
        }
        kind.validate("Binomial", &param)?;
        let (p, batch_shape) = broadcast_params("Binomial", &[&total_count, &param])?;
        let mut p = p.into_iter();
        Ok(Binomial {
            total_count: p.next().unwrap_or(total_count),
            param: p.next().unwrap_or(param),
            kind,
            batch_shape,
            _s: PhantomData,
        })
    }

    /// The number of trials.
    ///
    /// ```
    /// use pyro::distributions::Binomial;
    /// assert_eq!(Binomial::new(7.0, 0.1).unwrap().total_count().item().unwrap(), 7.0);
    /// ```
    pub fn total_count(&self) -> &DynTensor<D> {
        &self.total_count
    }

    /// The success probabilities (`sigmoid(logits)` when built from logits).
    ///
    /// ```
    /// use pyro::distributions::Binomial;
    /// assert_eq!(Binomial::from_logits(3.0, 0.0).unwrap().probs().item().unwrap(), 0.5);
    /// ```
    pub fn probs(&self) -> DynTensor<D> {
        self.kind.probs(&self.param)
    }

    /// The log-odds (`ln(p / (1 - p))` with `p` clamped away from 0 and 1 when built from
    /// probabilities).
    ///
    /// ```
    /// use pyro::distributions::Binomial;
    /// assert_eq!(Binomial::from_logits(3.0, 1.5).unwrap().logits().item().unwrap(), 1.5);
    /// ```
    pub fn logits(&self) -> DynTensor<D> {
        self.kind.logits(&self.param)
    }

    /// The same distribution with its parameters broadcast to `batch_shape`.
    ///
    /// ```
    /// use pyro::distributions::{Binomial, Distribution, DynShape};
    /// let d = Binomial::new(3.0, 0.2).unwrap().expand::<DynShape>(&[4]).unwrap();
    /// assert_eq!(d.batch_shape(), &[4]);
    /// ```
    pub fn expand<S2>(&self, batch_shape: &[usize]) -> DistResult<Binomial<S2, D>> {
        Ok(Binomial {
            total_count: self.total_count.broadcast_to(batch_shape)?,
            param: self.param.broadcast_to(batch_shape)?,
            kind: self.kind,
            batch_shape: batch_shape.to_vec(),
            _s: PhantomData,
        })
    }

    /// The success parameter the distribution was built from, and which one it is.
    pub(crate) fn raw_param(&self) -> (&DynTensor<D>, ParamKind) {
        (&self.param, self.kind)
    }

    /// Host `(n, p, q)` per batch element with `q = 1 - p` computed without cancellation
    /// for logits; errors naming the parameter when a value cannot be sampled from.
    fn host_params(&self) -> DistResult<Vec<(f64, f64, f64)>> {
        let n = self.total_count.to_vec();
        let t = self.param.to_vec();
        require_finite("Binomial", "total_count", &n)?;
        if let Some(i) = n.iter().position(|&x| x < 0.0 || x != x.floor()) {
            return Err(DistError::InvalidParameter {
                dist: "Binomial",
                param: "total_count",
                reason: format!("{} (at element {i}) is not a non-negative integer", n[i]),
            });
        }
        let mut out = Vec::with_capacity(n.len());
        for (i, (&n, &t)) in n.iter().zip(&t).enumerate() {
            let t = t as f64;
            let (p, q) = match self.kind {
                ParamKind::Probs => (t, 1.0 - t),
                ParamKind::Logits => (scalar::sigmoid(t), scalar::sigmoid(-t)),
            };
            if !(0.0..=1.0).contains(&p) {
                return Err(DistError::InvalidParameter {
                    dist: "Binomial",
                    param: self.kind.name(),
                    reason: format!("{t} (at element {i}) gives probability {p}"),
                });
            }
            out.push((n as f64, p, q));
        }
        Ok(out)
    }
}

/// One exact binomial draw. `q = 1 - p` is passed separately for precision.
pub(crate) fn sample_binomial(n: f64, p: f64, q: f64, rng: &mut dyn RngCore) -> f64 {
    if n == 0.0 || p == 0.0 {
        return 0.0;
    }
    if q == 0.0 {
        return n;
    }
    // Work with the smaller probability; mirror the result.
    let (flip, p, q) = if p > 0.5 { (true, q, p) } else { (false, p, q) };
    let k = if n * p < 10.0 {
        binomial_inversion(n, p, q, rng)
    } else {
        binomial_btrs(n, p, q, rng)
    };
    if flip {
        n - k
    } else {
        k
    }
}

/// Sequential search of the cdf from 0 (expected `n p + 1` steps; `n p < 10` here).
fn binomial_inversion(n: f64, p: f64, q: f64, rng: &mut dyn RngCore) -> f64 {
    let u = uniform_f64(rng);
    let ratio = p / q;
    let mut pk = (n * libm::log1p(-p)).exp();
    let mut cdf = pk;
    let mut k = 0.0;
    while u >= cdf && k < n {
        pk *= (n - k) / (k + 1.0) * ratio;
        k += 1.0;
        cdf += pk;
        if pk == 0.0 && k > n * p {
            break; // the remaining mass underflows: rounding left u above the total
        }
    }
    k
}

/// Transformed rejection with squeeze (Hörmann 1993, "The generation of binomial random
/// variates", algorithm BTRS), for `p <= 1/2` and `n p >= 10`; the acceptance test uses the
/// exact log-pmf ratio, so draws are exact.
fn binomial_btrs(n: f64, p: f64, q: f64, rng: &mut dyn RngCore) -> f64 {
    let spq = (n * p * q).sqrt();
    let b = 1.15 + 2.53 * spq;
    let a = -0.0873 + 0.0248 * b + 0.01 * p;
    let c = n * p + 0.5;
    let v_r = 0.92 - 4.2 / b;
    let alpha = (2.83 + 5.1 / b) * spq;
    let lpq = (p / q).ln();
    let m = ((n + 1.0) * p).floor();
    let h = scalar::lgamma(m + 1.0) + scalar::lgamma(n - m + 1.0);
    loop {
        let u = uniform_f64(rng) - 0.5;
        let v = uniform_f64(rng);
        let us = 0.5 - u.abs();
        let k = ((2.0 * a / us + b) * u + c).floor();
        if k < 0.0 || k > n {
            continue;
        }
        if us >= 0.07 && v <= v_r {
            return k;
        }
        let lhs = (v * alpha / (a / (us * us) + b)).ln();
        let rhs = h - scalar::lgamma(k + 1.0) - scalar::lgamma(n - k + 1.0) + (k - m) * lpq;
        if lhs <= rhs {
            return k;
        }
    }
}

impl_distribution!(Binomial[scalar] {
    /// `{0, ..., total_count}` when all counts are equal; `{0, 1, 2, ...}` otherwise (values
    /// above their own count are still rejected by `log_prob`).
    fn support(&self) -> Constraint {
        let n = self.total_count.to_vec();
        match n.first() {
            Some(&first) if n.iter().all(|&x| x == first) && first.is_finite() => {
                Constraint::IntegerInterval(0, first as i64)
            }
            _ => Constraint::NonNegativeInteger,
        }
    }
    fn sample(&self, sample_shape: &[usize], rng: &mut dyn RngCore) -> DistResult<DynTensor<D>> {
        let params = self.host_params()?;
        let shape = extended_shape(sample_shape, &self.batch_shape, &[]);
        let nb = params.len().max(1);
        let out: Vec<f32> = (0..numel(&shape))
            .map(|j| {
                let (n, p, q) = params[j % nb];
                sample_binomial(n, p, q, rng) as f32
            })
            .collect();
        Ok(DynTensor::from_vec(out, &shape)?)
    }
    fn log_prob(&self, value: &DynTensor<D>) -> DistResult<DynTensor<D>> {
        validate_value("Binomial", &Constraint::NonNegativeInteger, value)?;
        let (out_shape, pairs) =
            value_batch_pairs("Binomial::log_prob", value.shape(), &self.batch_shape)?;
        let x = value.to_vec();
        let n = self.total_count.to_vec();
        let t = self.param.to_vec();
        if crate::is_validation_enabled() {
            if let Some(&(vi, bi)) = pairs.iter().find(|&&(vi, bi)| x[vi] > n[bi]) {
                return Err(DistError::OutOfSupport {
                    dist: "Binomial",
                    support: format!("integer_interval(0, total_count = {})", n[bi]),
                    detail: format!(
                        "value of shape {:?}: {}{}",
                        value.shape(),
                        x[vi],
                        at_position("index", &unravel(vi, value.shape()))
                    ),
                });
            }
        }
        let mut vals = Vec::with_capacity(pairs.len());
        let mut ders = Vec::with_capacity(pairs.len());
        for &(vi, bi) in &pairs {
            let (x, n, t) = (x[vi] as f64, n[bi] as f64, t[bi] as f64);
            if !(x >= 0.0 && x <= n) {
                // Outside the support (only reachable with validation off).
                vals.push(f64::NEG_INFINITY);
                ders.push(0.0);
                continue;
            }
            let (term, d) = match self.kind {
                ParamKind::Probs => (
                    xlogy(x, t) + xlog1py(n - x, -t),
                    (if x > 0.0 { x / t } else { 0.0 })
                        - (if n - x > 0.0 {
                            (n - x) / (1.0 - t)
                        } else {
                            0.0
                        }),
                ),
                ParamKind::Logits => {
                    // ln sigmoid(t) = -softplus(-t), ln(1 - sigmoid(t)) = -softplus(t).
                    let a = if x > 0.0 {
                        -x * scalar::softplus(-t)
                    } else {
                        0.0
                    };
                    let b = if n > x {
                        -(n - x) * scalar::softplus(t)
                    } else {
                        0.0
                    };
                    (a + b, x - n * scalar::sigmoid(t))
                }
            };
            vals.push(ln_choose(n, x) + term);
            ders.push(d);
        }
        let theta = self.param.broadcast_to(&out_shape)?;
        linearize(&[&theta], &out_shape, &vals, Some(&[ders]))
    }
    fn mean(&self) -> DistResult<DynTensor<D>> {
        Ok(self.total_count.mul(&self.probs())?)
    }
    fn variance(&self) -> DistResult<DynTensor<D>> {
        let pq = self.kind.bernoulli_variance(&self.param)?;
        Ok(self.total_count.mul(&pq)?)
    }
});

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distributions::testing::*;
    use dfdx::prelude::Cpu;

    fn pmf(n: u64, p: f64) -> impl Fn(u64) -> f64 {
        move |k| {
            if k > n {
                0.0
            } else {
                let (n, k) = (n as f64, k as f64);
                let l = libm::lgamma(n + 1.0) - libm::lgamma(k + 1.0) - libm::lgamma(n - k + 1.0);
                (l + k * p.ln() + (n - k) * (1.0 - p).ln()).exp()
            }
        }
    }

    #[test]
    fn log_prob_matches_scipy_probs() {
        check_fixture("binomial", |p| {
            Binomial::new(p[0], p[1]).map(|d| Box::new(d) as BoxDist<Cpu>)
        });
    }

    #[test]
    fn log_prob_matches_scipy_logits() {
        check_fixture("binomial_logits", |p| {
            Binomial::from_logits(p[0], p[1]).map(|d| Box::new(d) as BoxDist<Cpu>)
        });
    }

    #[test]
    fn zero_trials_and_certain_outcomes() {
        let d = Binomial::new(0.0, 0.3).unwrap();
        assert_eq!(
            d.log_prob(&DynTensor::scalar(0.0)).unwrap().item().unwrap(),
            0.0
        );
        let d = Binomial::new(5.0, 0.0).unwrap();
        assert_eq!(
            d.log_prob(&DynTensor::scalar(0.0)).unwrap().item().unwrap(),
            0.0
        );
        let lp = d.log_prob(&DynTensor::scalar(1.0)).unwrap().item().unwrap();
        assert_eq!(lp, f32::NEG_INFINITY);
        let d = Binomial::new(5.0, 1.0).unwrap();
        assert_eq!(
            d.log_prob(&DynTensor::scalar(5.0)).unwrap().item().unwrap(),
            0.0
        );
        use rand::SeedableRng;
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        assert!(d
            .sample(&[100], &mut rng)
            .unwrap()
            .to_vec()
            .iter()
            .all(|&x| x == 5.0));
        let z = Binomial::new(0.0, 0.5).unwrap();
        assert!(z
            .sample(&[100], &mut rng)
            .unwrap()
            .to_vec()
            .iter()
            .all(|&x| x == 0.0));
    }

    #[test]
    fn sampler_moments_and_chi_square_small_mean() {
        // n p < 10: inversion.
        let d = Binomial::new(20.0, 0.15).unwrap();
        check_discrete_sampler(&d, 3.0, 20.0 * 0.15 * 0.85, pmf(20, 0.15f32 as f64));
    }

    #[test]
    fn sampler_moments_and_chi_square_large_mean() {
        // n p >= 10: BTRS, and the mirrored branch p > 1/2.
        let d = Binomial::new(1000.0, 0.3).unwrap();
        let p = 0.3f32 as f64;
        check_discrete_sampler(&d, 1000.0 * p, 1000.0 * p * (1.0 - p), pmf(1000, p));
        let d = Binomial::from_logits(60.0, 1.0).unwrap();
        let p = 1.0 / (1.0 + (-1.0f64).exp());
        check_discrete_sampler(&d, 60.0 * p, 60.0 * p * (1.0 - p), pmf(60, p));
    }

    #[test]
    fn log_prob_gradients_match_finite_differences() {
        let x = DynTensor::<Cpu>::from_vec(vec![0.0, 3.0, 10.0, 40.0], &[4]).unwrap();
        let n = DynTensor::<Cpu>::from_vec(vec![5.0, 10.0, 10.0, 100.0], &[4]).unwrap();
        let probs = [0.3f32, 0.25, 0.9, 0.45];
        check_log_prob_grad(&[(&probs, &[4])], &x, |p| {
            Binomial::from_dyn(n.clone(), p[0].clone()).map(|d| Box::new(d) as BoxDist<Cpu>)
        });
        let logits = [-1.0f32, 0.3, 4.0, -0.2];
        check_log_prob_grad(&[(&logits, &[4])], &x, |p| {
            Binomial::from_dyn_logits(n.clone(), p[0].clone()).map(|d| Box::new(d) as BoxDist<Cpu>)
        });
    }

    #[test]
    fn has_no_rsample() {
        use rand::SeedableRng;
        let mut rng = rand::rngs::StdRng::seed_from_u64(0);
        let d = Binomial::new(3.0, 0.5).unwrap();
        assert!(!d.has_rsample() && d.is_discrete());
        let e = d.rsample(&[], &mut rng).unwrap_err();
        assert_eq!(e, DistError::NotReparameterized { dist: "Binomial" });
    }

    #[test]
    fn validation_names_the_parameter() {
        crate::enable_validation(true);
        for bad in [-1.0, 2.5, f32::NAN, f32::INFINITY] {
            let e = Binomial::new(bad, 0.5).unwrap_err();
            assert!(
                matches!(
                    e,
                    DistError::InvalidParameter {
                        param: "total_count",
                        ..
                    }
                ),
                "{bad}: {e}"
            );
        }
        for bad in [-0.1, 1.1, f32::NAN] {
            let e = Binomial::new(3.0, bad).unwrap_err();
            assert!(
                matches!(e, DistError::InvalidParameter { param: "probs", .. }),
                "{bad}: {e}"
            );
        }
        let e = Binomial::from_logits(3.0, f32::NAN).unwrap_err();
        assert!(matches!(
            e,
            DistError::InvalidParameter {
                param: "logits",
                ..
            }
        ));
        let d = Binomial::new(3.0, 0.5).unwrap();
        for bad in [-1.0, 1.5, 4.0] {
            let e = d.log_prob(&DynTensor::scalar(bad)).unwrap_err();
            assert!(matches!(e, DistError::OutOfSupport { .. }), "{bad}: {e}");
        }
        assert_eq!(d.support(), Constraint::IntegerInterval(0, 3));
    }

    #[test]
    fn batched_counts_and_broadcasting() {
        let n = DynTensor::<Cpu>::from_vec(vec![2.0, 5.0], &[2]).unwrap();
        let d = Binomial::from_dyn(n, DynTensor::scalar(0.5)).unwrap();
        assert_eq!(d.support(), Constraint::NonNegativeInteger);
        let x = DynTensor::<Cpu>::from_vec(vec![1.0, 2.0, 2.0, 5.0], &[2, 2]).unwrap();
        let lp = d.log_prob(&x).unwrap();
        assert_eq!(lp.shape(), &[2, 2]);
        let want = [2.0f64 / 4.0, 10.0 / 32.0, 1.0 / 4.0, 1.0 / 32.0].map(|p| p.ln());
        for (a, b) in lp.to_vec().iter().zip(want) {
            assert!((*a as f64 - b).abs() < 1e-6, "{a} vs {b}");
        }
        // 3 > 2 for the first count.
        let e = d.log_prob(&DynTensor::from_vec(vec![3.0, 3.0], &[2]).unwrap());
        assert!(matches!(e, Err(DistError::OutOfSupport { .. })));
        let e = d.expand::<DynShape>(&[3, 2]).unwrap();
        assert_eq!(
            e.mean().unwrap().to_vec(),
            vec![1.0, 2.5, 1.0, 2.5, 1.0, 2.5]
        );
    }

    #[test]
    fn mean_and_variance_from_logits_stay_precise() {
        let d = Binomial::from_logits(100.0, 20.0).unwrap();
        let q = 1.0 / (1.0 + 20f64.exp());
        let v = d.variance().unwrap().item().unwrap() as f64;
        assert!((v - 100.0 * q * (1.0 - q)).abs() < 1e-6 * 100.0 * q, "{v}");
    }
}
