//! The Bernoulli distribution, parameterized by probabilities or logits.

use std::marker::PhantomData;

use rand::RngCore;

use super::boilerplate::impl_distribution;
use super::host_map::uniform_f64;
use super::param::{Dev1, Param, ParamMeta, ResolveDev, Shape1};
use super::*;
use crate::tensor::special::{host_unary, scalar};
use crate::tensor::Special;

/// Which parameter a discrete distribution was built from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ParamKind {
    Probs,
    Logits,
}

impl ParamKind {
    /// The parameter's name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            ParamKind::Probs => "probs",
            ParamKind::Logits => "logits",
        }
    }

    /// Checks a parameter of this kind (probabilities in `[0, 1]`, real logits) when
    /// validation is on.
    pub(crate) fn validate<D: Backend>(
        self,
        dist: &'static str,
        x: &DynTensor<D>,
    ) -> DistResult<()> {
        let c = match self {
            ParamKind::Probs => Constraint::UnitInterval,
            ParamKind::Logits => Constraint::Real,
        };
        validate_param(dist, self.name(), x, &c)
    }

    /// Success probabilities from an elementwise parameter of this kind.
    pub(crate) fn probs<D: Backend>(self, x: &DynTensor<D>) -> DynTensor<D> {
        match self {
            ParamKind::Probs => x.clone(),
            ParamKind::Logits => x.sigmoid(),
        }
    }

    /// Log-odds from an elementwise parameter of this kind (see [`logit_of_probs`]).
    pub(crate) fn logits<D: Backend>(self, x: &DynTensor<D>) -> DynTensor<D> {
        match self {
            ParamKind::Logits => x.clone(),
            ParamKind::Probs => logit_of_probs(x),
        }
    }

    /// `p (1 - p)` from an elementwise parameter of this kind (`sigmoid(l) sigmoid(-l)` for
    /// logits, which keeps its precision where `p` is near 1).
    pub(crate) fn bernoulli_variance<D: Backend>(
        self,
        x: &DynTensor<D>,
    ) -> DistResult<DynTensor<D>> {
        match self {
            ParamKind::Probs => Ok(x.mul(&x.rsub_scalar(1.0))?),
            ParamKind::Logits => Ok(x.sigmoid().mul(&x.neg().sigmoid())?),
        }
    }
}

/// `Bernoulli(probs)` or `Bernoulli(logits)`: `P(x = 1) = probs = sigmoid(logits)`,
/// `P(x = 0) = 1 - probs`, on the values `{0, 1}` (stored as `f32`).
///
/// Built from `probs`, `log_prob` is `ln(x p + (1 - x)(1 - p))`; built from `logits`, it is
/// `log_sigmoid((2x - 1) logits)`, which stays exact for large `|logits|`. Gradients flow to
/// the parameter the distribution was built from. There is no reparameterized sampler.
///
/// ```
/// use pyro::distributions::{Bernoulli, Distribution};
/// use pyro::tensor::DynTensor;
/// let d = Bernoulli::new(0.25).unwrap();
/// assert_eq!(d.mean().unwrap().item().unwrap(), 0.25);
/// let lp = d.log_prob(&DynTensor::scalar(1.0)).unwrap().item().unwrap();
/// assert!((lp - 0.25f32.ln()).abs() < 1e-6);
/// let e = Bernoulli::from_logits(-40.0).unwrap();
/// let lp0 = e.log_prob(&DynTensor::scalar(0.0)).unwrap().item().unwrap();
/// assert!(lp0 > -1e-6 && lp0 <= 0.0);
/// assert!(Bernoulli::new(1.5).is_err()); // probs must lie in [0, 1]
/// ```
#[derive(Debug, Clone)]
pub struct Bernoulli<S = dfdx::shapes::Rank0, D: Backend = crate::tensor::DefaultDevice> {
    param: DynTensor<D>,
    kind: ParamKind,
    batch_shape: Vec<usize>,
    _s: PhantomData<fn() -> S>,
}

impl Bernoulli {
    /// A Bernoulli with success probabilities `probs` (each in `[0, 1]`), from an `f32`, a
    /// typed tensor or a `DynTensor`.
    ///
    /// ```
    /// use pyro::distributions::{Bernoulli, Distribution};
    /// let d = Bernoulli::new(0.5).unwrap();
    /// assert_eq!(d.variance().unwrap().item().unwrap(), 0.25);
    /// ```
    pub fn new<P>(probs: P) -> DistResult<Bernoulli<Shape1<P>, Dev1<P>>>
    where
        P: ParamMeta + Param<Dev1<P>>,
        P::Dev: ResolveDev,
    {
        Bernoulli::build(probs.into_dyn()?, ParamKind::Probs)
    }

    /// A Bernoulli with log-odds `logits`: `probs = sigmoid(logits)`.
    ///
    /// ```
    /// use pyro::distributions::{Bernoulli, Distribution};
    /// let d = Bernoulli::from_logits(0.0).unwrap();
    /// assert_eq!(d.probs().item().unwrap(), 0.5);
    /// ```
    pub fn from_logits<P>(logits: P) -> DistResult<Bernoulli<Shape1<P>, Dev1<P>>>
    where
        P: ParamMeta + Param<Dev1<P>>,
        P::Dev: ResolveDev,
    {
        Bernoulli::build(logits.into_dyn()?, ParamKind::Logits)
    }
}

impl<D: Backend> Bernoulli<DynShape, D> {
    /// Builds from run-time shaped probabilities.
    ///
    /// ```
    /// use pyro::distributions::{Bernoulli, Distribution};
    /// use pyro::tensor::DynTensor;
    /// let p = DynTensor::<dfdx::prelude::Cpu>::from_vec(vec![0.1, 0.9], &[2]).unwrap();
    /// assert_eq!(Bernoulli::from_dyn(p).unwrap().batch_shape(), &[2]);
    /// ```
    pub fn from_dyn(probs: DynTensor<D>) -> DistResult<Self> {
        Self::build(probs, ParamKind::Probs)
    }

    /// Builds from run-time shaped logits.
    ///
    /// ```
    /// use pyro::distributions::{Bernoulli, Distribution};
    /// use pyro::tensor::DynTensor;
    /// let l = DynTensor::<dfdx::prelude::Cpu>::zeros(&[3]);
    /// assert_eq!(Bernoulli::from_dyn_logits(l).unwrap().batch_shape(), &[3]);
    /// ```
    pub fn from_dyn_logits(logits: DynTensor<D>) -> DistResult<Self> {
        Self::build(logits, ParamKind::Logits)
    }
}

/// `ln(p / (1 - p))` with `p` kept inside `[f32::MIN_POSITIVE, 1 - 2^-24]` so the result is
/// finite (as torch clamps probabilities before taking logits).
pub(crate) fn logit_of_probs<D: Backend>(p: &DynTensor<D>) -> DynTensor<D> {
    const HI: f64 = 1.0 - 1.0 / 16_777_216.0;
    host_unary(p, |p| {
        let q = p.clamp(f32::MIN_POSITIVE as f64, HI);
        let d = if q == p { 1.0 / (p * (1.0 - p)) } else { 0.0 };
        (q.ln() - libm::log1p(-q), d)
    })
}

impl<S, D: Backend> Bernoulli<S, D> {
    fn build(param: DynTensor<D>, kind: ParamKind) -> DistResult<Self> {
        kind.validate("Bernoulli", &param)?;
        let batch_shape = param.shape().to_vec();
        Ok(Bernoulli {
            param,
            kind,
            batch_shape,
            _s: PhantomData,
        })
    }

    /// The success probabilities (computed as `sigmoid(logits)` when built from logits).
    ///
    /// ```
    /// use pyro::distributions::Bernoulli;
    /// assert_eq!(Bernoulli::new(0.3).unwrap().probs().item().unwrap(), 0.3);
    /// ```
    pub fn probs(&self) -> DynTensor<D> {
        self.kind.probs(&self.param)
    }

    /// The log-odds (computed as `ln(p / (1 - p))` when built from probabilities, with `p`
    /// clamped away from 0 and 1 so the result is finite).
    ///
    /// ```
    /// use pyro::distributions::Bernoulli;
    /// assert_eq!(Bernoulli::from_logits(2.0).unwrap().logits().item().unwrap(), 2.0);
    /// assert!(Bernoulli::new(0.0).unwrap().logits().item().unwrap().is_finite());
    /// ```
    pub fn logits(&self) -> DynTensor<D> {
        self.kind.logits(&self.param)
    }

    /// The same distribution with its parameter broadcast to `batch_shape`.
    ///
    /// ```
    /// use pyro::distributions::{Bernoulli, Distribution, DynShape};
    /// let d = Bernoulli::new(0.3).unwrap().expand::<DynShape>(&[2, 3]).unwrap();
    /// assert_eq!(d.batch_shape(), &[2, 3]);
    /// ```
    pub fn expand<S2>(&self, batch_shape: &[usize]) -> DistResult<Bernoulli<S2, D>> {
        Ok(Bernoulli {
            param: self.param.broadcast_to(batch_shape)?,
            kind: self.kind,
            batch_shape: batch_shape.to_vec(),
            _s: PhantomData,
        })
    }

    /// The support `{0, 1}` as a tensor of shape `[2] + [1; batch rank]` (`expand = false`)
    /// or `[2] + batch_shape` (`expand = true`), as Pyro's `enumerate_support`.
    ///
    /// ```
    /// use pyro::distributions::Bernoulli;
    /// let s = Bernoulli::new(0.3).unwrap().enumerate_support(false).unwrap();
    /// assert_eq!(s.to_vec(), vec![0.0, 1.0]);
    /// ```
    pub fn enumerate_support(&self, expand: bool) -> DistResult<DynTensor<D>> {
        let mut shape = vec![2];
        shape.resize(1 + self.batch_shape.len(), 1);
        let s = DynTensor::from_vec(vec![0.0, 1.0], &shape)?;
        if expand {
            let mut full = vec![2];
            full.extend_from_slice(&self.batch_shape);
            Ok(s.broadcast_to(&full)?)
        } else {
            Ok(s)
        }
    }

    /// The parameter the distribution was built from, and which one it is.
    pub(crate) fn raw_param(&self) -> (&DynTensor<D>, ParamKind) {
        (&self.param, self.kind)
    }

    /// Host success probabilities in `f64`.
    fn host_probs(&self) -> Vec<f64> {
        let v = self.param.to_vec();
        match self.kind {
            ParamKind::Probs => v.into_iter().map(f64::from).collect(),
            ParamKind::Logits => v.into_iter().map(|l| scalar::sigmoid(l as f64)).collect(),
        }
    }
}

impl_distribution!(Bernoulli[scalar] {
    fn support(&self) -> Constraint {
        Constraint::Boolean
    }
    fn sample(&self, sample_shape: &[usize], rng: &mut dyn RngCore) -> DistResult<DynTensor<D>> {
        let p = self.host_probs();
        if let Some(i) = p.iter().position(|p| !(0.0..=1.0).contains(p)) {
            return Err(DistError::InvalidParameter {
                dist: "Bernoulli",
                param: "probs",
                reason: format!("{} (at element {i}) is not in [0, 1]", p[i]),
            });
        }
        let shape = extended_shape(sample_shape, &self.batch_shape, &[]);
        let nb = p.len().max(1);
        let out: Vec<f32> = (0..crate::tensor::numel(&shape))
            .map(|j| {
                if uniform_f64(rng) < p[j % nb] {
                    1.0
                } else {
                    0.0
                }
            })
            .collect();
        Ok(DynTensor::from_vec(out, &shape)?)
    }
    fn log_prob(&self, value: &DynTensor<D>) -> DistResult<DynTensor<D>> {
        validate_value("Bernoulli", &Constraint::Boolean, value)?;
        match self.kind {
            ParamKind::Probs => {
                // x p + (1 - x)(1 - p) is p at x = 1 and 1 - p at x = 0: no 0 * ln 0.
                let p = &self.param;
                let hit = value.mul(p)?;
                let miss = value.rsub_scalar(1.0).mul(&p.rsub_scalar(1.0))?;
                Ok(hit.add(&miss)?.ln())
            }
            ParamKind::Logits => {
                let sign = value.mul_scalar(2.0).add_scalar(-1.0);
                Ok(sign.mul(&self.param)?.log_sigmoid())
            }
        }
    }
    fn mean(&self) -> DistResult<DynTensor<D>> {
        Ok(self.probs())
    }
    fn variance(&self) -> DistResult<DynTensor<D>> {
        self.kind.bernoulli_variance(&self.param)
    }
});

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distributions::testing::*;
    use dfdx::prelude::Cpu;

    fn boxed(d: DistResult<Bernoulli<DynShape, Cpu>>) -> DistResult<BoxDist<Cpu>> {
        d.map(|d| Box::new(d) as BoxDist<Cpu>)
    }

    #[test]
    fn log_prob_matches_scipy_probs() {
        check_fixture("bernoulli", |p| {
            Bernoulli::new(p[0]).map(|d| Box::new(d) as BoxDist<Cpu>)
        });
    }

    #[test]
    fn log_prob_matches_scipy_logits() {
        check_fixture("bernoulli_logits", |p| {
            Bernoulli::from_logits(p[0]).map(|d| Box::new(d) as BoxDist<Cpu>)
        });
    }

    #[test]
    fn log_prob_at_certain_outcomes_is_finite_or_minus_infinity() {
        let d = Bernoulli::new(0.0).unwrap();
        assert_eq!(
            d.log_prob(&DynTensor::scalar(0.0)).unwrap().item().unwrap(),
            0.0
        );
        let lp1 = d.log_prob(&DynTensor::scalar(1.0)).unwrap().item().unwrap();
        assert_eq!(lp1, f32::NEG_INFINITY);
        let d = Bernoulli::new(1.0).unwrap();
        assert_eq!(
            d.log_prob(&DynTensor::scalar(1.0)).unwrap().item().unwrap(),
            0.0
        );
    }

    #[test]
    fn probs_and_logits_agree() {
        let d = Bernoulli::from_logits(1.3).unwrap();
        let p = 1.0 / (1.0 + (-1.3f64).exp());
        assert!((d.probs().item().unwrap() as f64 - p).abs() < 1e-7);
        let e = Bernoulli::new(p as f32).unwrap();
        assert!((e.logits().item().unwrap() - 1.3).abs() < 1e-5);
        // Same log_prob either way.
        for x in [0.0, 1.0] {
            let x = DynTensor::scalar(x);
            let a = d.log_prob(&x).unwrap().item().unwrap();
            let b = e.log_prob(&x).unwrap().item().unwrap();
            assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        }
        // Variance p (1 - p) from both parameterizations.
        let v = p * (1.0 - p);
        assert!((d.variance().unwrap().item().unwrap() as f64 - v).abs() < 1e-7);
        assert!((e.variance().unwrap().item().unwrap() as f64 - v).abs() < 1e-7);
    }

    #[test]
    fn sampler_moments_and_chi_square() {
        let d = Bernoulli::new(0.3).unwrap();
        check_discrete_sampler(&d, 0.3, 0.21, |k| match k {
            0 => 0.7,
            1 => 0.3,
            _ => 0.0,
        });
        let d = Bernoulli::from_logits(-2.0).unwrap();
        let p = 1.0 / (1.0 + 2f64.exp());
        check_discrete_sampler(&d, p, p * (1.0 - p), |k| match k {
            0 => 1.0 - p,
            1 => p,
            _ => 0.0,
        });
    }

    #[test]
    fn sampler_respects_certain_outcomes_and_shapes() {
        use rand::SeedableRng;
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        let p = DynTensor::<Cpu>::from_vec(vec![0.0, 1.0], &[2]).unwrap();
        let d = Bernoulli::from_dyn(p).unwrap();
        let x = d.sample(&[500], &mut rng).unwrap();
        assert_eq!(x.shape(), &[500, 2]);
        let v = x.to_vec();
        assert!(v.chunks(2).all(|r| r == [0.0, 1.0]));
    }

    #[test]
    fn log_prob_gradients_match_finite_differences() {
        let x = DynTensor::<Cpu>::from_vec(vec![1.0, 0.0, 1.0, 0.0], &[4]).unwrap();
        let theta = [0.3f32, 0.02, 0.97, 0.6];
        check_log_prob_grad(&[(&theta, &[4])], &x, |p| {
            boxed(Bernoulli::from_dyn(p[0].clone()))
        });
        let theta = [-2.0f32, 0.4, 25.0, -25.0];
        check_log_prob_grad(&[(&theta, &[4])], &x, |p| {
            boxed(Bernoulli::from_dyn_logits(p[0].clone()))
        });
    }

    #[test]
    fn has_no_rsample() {
        use rand::SeedableRng;
        let mut rng = rand::rngs::StdRng::seed_from_u64(0);
        let d = Bernoulli::new(0.5).unwrap();
        assert!(!d.has_rsample());
        assert!(d.is_discrete());
        let e = d.rsample(&[], &mut rng).unwrap_err();
        assert_eq!(e, DistError::NotReparameterized { dist: "Bernoulli" });
    }

    #[test]
    fn validation_names_the_parameter() {
        crate::enable_validation(true);
        for bad in [-0.1, 1.1, f32::NAN] {
            let e = Bernoulli::new(bad).unwrap_err();
            assert!(
                matches!(e, DistError::InvalidParameter { param: "probs", .. }),
                "{e}"
            );
        }
        let e = Bernoulli::from_logits(f32::NAN).unwrap_err();
        assert!(
            matches!(
                e,
                DistError::InvalidParameter {
                    param: "logits",
                    ..
                }
            ),
            "{e}"
        );
        let d = Bernoulli::new(0.5).unwrap();
        for bad in [0.5, 2.0, -1.0] {
            let e = d.log_prob(&DynTensor::scalar(bad)).unwrap_err();
            assert!(matches!(e, DistError::OutOfSupport { .. }), "{e}");
        }
    }

    #[test]
    fn shapes_broadcast_and_expand() {
        let p = DynTensor::<Cpu>::from_vec(vec![0.2, 0.5, 0.9], &[3]).unwrap();
        let d = Bernoulli::from_dyn(p).unwrap();
        let x = DynTensor::<Cpu>::from_vec(vec![1.0, 0.0], &[2, 1]).unwrap();
        let lp = d.log_prob(&x).unwrap();
        assert_eq!(lp.shape(), &[2, 3]);
        let v = lp.to_vec();
        assert!((v[0] - 0.2f32.ln()).abs() < 1e-6 && (v[5] - 0.1f32.ln()).abs() < 1e-5);
        let e = d.expand::<DynShape>(&[4, 3]).unwrap();
        assert_eq!(e.batch_shape(), &[4, 3]);
        assert_eq!(e.mean().unwrap().shape(), &[4, 3]);
        assert!(d.expand::<DynShape>(&[2]).is_err());
        let s = d.enumerate_support(true).unwrap();
        assert_eq!(s.shape(), &[2, 3]);
        assert_eq!(s.to_vec(), vec![0.0, 0.0, 0.0, 1.0, 1.0, 1.0]);
    }

    #[test]
    fn typed_shapes_follow_parameters() {
        use dfdx::prelude::*;
        let p: crate::tensor::Tensor<Rank1<3>> = [0.1, 0.5, 0.9].into();
        let d = Bernoulli::new(p).unwrap();
        let x: crate::tensor::Tensor<Rank1<3>> = d.draw().unwrap();
        assert!(x.to_vec().unwrap().iter().all(|&v| v == 0.0 || v == 1.0));
    }
}
