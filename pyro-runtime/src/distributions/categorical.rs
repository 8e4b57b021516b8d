//! The categorical distribution over `{0, ..., K-1}`, parameterized by probabilities or logits
//! over the last dimension.

use std::marker::PhantomData;

use dfdx::shapes::Dim;
use rand::RngCore;

use super::bernoulli::ParamKind;
use super::boilerplate::impl_distribution;
use super::host_map::{uniform_f64, value_batch_pairs};
use super::param::{Dev1, Param, ParamMeta, ResolveDev};
use super::*;
use crate::tensor::numel;

/// The shape that remains when the last dimension (the categories) is dropped: the value
/// shape of a [`Categorical`] built from a parameter of shape `Self`.
///
/// ```
/// use dfdx::prelude::*;
/// use pyro::distributions::DropLastDim;
/// fn out<S: DropLastDim>() -> std::marker::PhantomData<S::Out> { std::marker::PhantomData }
/// let _: std::marker::PhantomData<(usize,)> = out::<(usize, Const<3>)>();
/// ```
pub trait DropLastDim {
    /// The shape without its last dimension.
    type Out;
}
impl<A: Dim> DropLastDim for (A,) {
    type Out = dfdx::shapes::Rank0;
}
impl<A: Dim, B: Dim> DropLastDim for (A, B) {
    type Out = (A,);
}
impl<A: Dim, B: Dim, C: Dim> DropLastDim for (A, B, C) {
    type Out = (A, B);
}
impl<A: Dim, B: Dim, C: Dim, E: Dim> DropLastDim for (A, B, C, E) {
    type Out = (A, B, C);
}
impl<A: Dim, B: Dim, C: Dim, E: Dim, F: Dim> DropLastDim for (A, B, C, E, F) {
    type Out = (A, B, C, E);
}
impl DropLastDim for DynShape {
    type Out = DynShape;
}

/// Value shape of a categorical built from parameter `P`.
pub type CatShape<P> = <<P as ParamMeta>::Shape as DropLastDim>::Out;

/// `Categorical(probs)` or `Categorical(logits)`: `P(x = k) = probs[..., k] / Σ_j probs[..., j]`
/// or `softmax(logits)[..., k]`, for `k` in `{0, ..., K-1}` (values are `f32` indices).
///
/// The last dimension of the parameter holds the `K` categories; the batch shape is the rest
/// and the event shape is `[]`. Probabilities are normalized over the last dimension, as in
/// torch. `log_prob` gathers the entry of each value from the parameter, so gradients flow to
/// `probs` or `logits`. There is no reparameterized sampler.
///
/// The mean and variance are those of the index as a number (`Σ k p_k`), which torch leaves
/// undefined (NaN).
///
/// ```
/// use pyro::distributions::{Categorical, Distribution};
/// use pyro::tensor::DynTensor;
/// let p = DynTensor::<dfdx::prelude::Cpu>::from_vec(vec![0.2, 0.3, 0.5], &[3]).unwrap();
/// let d = Categorical::new(p).unwrap();
/// assert_eq!(d.batch_shape(), &[] as &[usize]);
/// let lp = d.log_prob(&DynTensor::scalar(2.0)).unwrap().item().unwrap();
/// assert!((lp - 0.5f32.ln()).abs() < 1e-6);
/// assert!(d.log_prob(&DynTensor::scalar(3.0)).is_err()); // index out of range
/// ```
#[derive(Debug, Clone)]
pub struct Categorical<S = dfdx::shapes::Rank0, D: Backend = crate::tensor::DefaultDevice> {
    param: DynTensor<D>,
    kind: ParamKind,
    batch_shape: Vec<usize>,
    k: usize,
    _s: PhantomData<fn() -> S>,
}

impl Categorical {
    /// A categorical with (possibly unnormalized) probabilities `probs` over the last
    /// dimension, each in `[0, 1]`, from a typed tensor or a `DynTensor`.
    ///
    /// ```
    /// use dfdx::prelude::*;
    /// use pyro::distributions::{Categorical, TypedDistribution};
    /// let p: pyro::tensor::Tensor<Rank2<2, 3>> = [[0.2, 0.3, 0.5], [0.9, 0.05, 0.05]].into();
    /// let x: pyro::tensor::Tensor<Rank1<2>> = Categorical::new(p).unwrap().draw().unwrap();
    /// assert!(x.to_vec().unwrap().iter().all(|&k| (0.0..3.0).contains(&k)));
    /// ```
    pub fn new<P>(probs: P) -> DistResult<Categorical<CatShape<P>, Dev1<P>>>
    where
        P: ParamMeta + Param<Dev1<P>>,
        P::Shape: DropLastDim,
        P::Dev: ResolveDev,
    {
        Categorical::build(probs.into_dyn()?, ParamKind::Probs)
    }

    /// A categorical with unnormalized log-probabilities `logits` over the last dimension.
    ///
    /// ```
    /// use pyro::distributions::{Categorical, Distribution};
    /// use pyro::tensor::DynTensor;
    /// let l = DynTensor::<dfdx::prelude::Cpu>::zeros(&[4]);
    /// let d = Categorical::from_logits(l).unwrap();
    /// assert!((d.probs().unwrap().to_vec()[0] - 0.25).abs() < 1e-7);
    /// ```
    pub fn from_logits<P>(logits: P) -> DistResult<Categorical<CatShape<P>, Dev1<P>>>
    where
        P: ParamMeta + Param<Dev1<P>>,
        P::Shape: DropLastDim,
        P::Dev: ResolveDev,
    {
        Categorical::build(logits.into_dyn()?, ParamKind::Logits)
    }
}

impl<D: Backend> Categorical<DynShape, D> {
    /// Builds from run-time shaped probabilities.
    ///
    /// ```
    /// use pyro::distributions::{Categorical, Distribution};
    /// use pyro::tensor::DynTensor;
    /// let p = DynTensor::<dfdx::prelude::Cpu>::full(&[5, 3], 1.0 / 3.0);
    /// assert_eq!(Categorical::from_dyn(p).unwrap().batch_shape(), &[5]);
    /// ```
    pub fn from_dyn(probs: DynTensor<D>) -> DistResult<Self> {
        Self::build(probs, ParamKind::Probs)
    }

    /// Builds from run-time shaped logits.
    ///
    /// ```
    /// use pyro::distributions::{Categorical, Distribution};
    /// use pyro::tensor::DynTensor;
    /// let l = DynTensor::<dfdx::prelude::Cpu>::zeros(&[2, 6]);
    /// assert_eq!(Categorical::from_dyn_logits(l).unwrap().num_categories(), 6);
    /// ```
    pub fn from_dyn_logits(logits: DynTensor<D>) -> DistResult<Self> {
        Self::build(logits, ParamKind::Logits)
    }
}

/// Per-row checks that the generic constraints cannot express.
fn validate_rows(kind: ParamKind, v: &[f32], k: usize) -> DistResult<()> {
    for (r, row) in v.chunks(k).enumerate() {
        let bad = match kind {
            ParamKind::Probs => {
                let s: f32 = row.iter().sum();
                (s <= 0.0).then(|| format!("row {r} {row:?} sums to zero"))
            }
            ParamKind::Logits => {
                if let Some(x) = row.iter().find(|x| **x == f32::INFINITY) {
                    Some(format!("row {r} contains {x}"))
                } else {
                    (!row.iter().any(|x| x.is_finite()))
                        .then(|| format!("row {r} {row:?} has no finite entry"))
                }
            }
        };
        if let Some(reason) = bad {
            return Err(DistError::InvalidParameter {
                dist: "Categorical",
                param: kind.name(),
                reason,
            });
        }
    }
    Ok(())
}

impl<S, D: Backend> Categorical<S, D> {
    fn build(param: DynTensor<D>, kind: ParamKind) -> DistResult<Self> {
        let name = kind.name();
        let Some((&k, batch)) = param.shape().split_last() else {
            return Err(DistError::InvalidParameter {
                dist: "Categorical",
                param: name,
                reason: "needs at least one dimension (the categories)".into(),
            });
        };
        if k == 0 {
            return Err(DistError::InvalidParameter {
                dist: "Categorical",
                param: name,
                reason: format!("shape {:?} has no categories", param.shape()),
            });
        }
        if crate::is_validation_enabled() {
            kind.validate("Categorical", &param)?;
            validate_rows(kind, &param.to_vec(), k)?;
        }
        let batch_shape = batch.to_vec();
        Ok(Categorical {
            param,
            kind,
            batch_shape,
            k,
            _s: PhantomData,
        })
    }

    /// The number of categories `K`.
    ///
    /// ```
    /// use pyro::distributions::Categorical;
    /// use pyro::tensor::DynTensor;
    /// let p = DynTensor::<dfdx::prelude::Cpu>::full(&[7], 0.1);
    /// assert_eq!(Categorical::new(p).unwrap().num_categories(), 7);
    /// ```
    pub fn num_categories(&self) -> usize {
        self.k
    }

    /// The parameter the distribution was built from (`batch_shape + [K]`, rows not
    /// normalized), and which one it is.
    pub(crate) fn raw_param(&self) -> (&DynTensor<D>, ParamKind) {
        (&self.param, self.kind)
    }

    /// The parameter shape with the last dim as a separate size-1 dim for broadcasting.
    fn keepdim(&self) -> Vec<usize> {
        let mut s = self.batch_shape.clone();
        s.push(1);
        s
    }

    /// The normalized probabilities, shape `batch_shape + [K]`.
    ///
    /// ```
    /// use pyro::distributions::Categorical;
    /// use pyro::tensor::DynTensor;
    /// let p = DynTensor::<dfdx::prelude::Cpu>::from_vec(vec![0.2, 0.6], &[2]).unwrap();
    /// let q = Categorical::new(p).unwrap().probs().unwrap().to_vec();
    /// assert!((q[0] - 0.25).abs() < 1e-7 && (q[1] - 0.75).abs() < 1e-7);
    /// ```
    pub fn probs(&self) -> DistResult<DynTensor<D>> {
        match self.kind {
            ParamKind::Probs => {
                let total = self.param.sum_rightmost(1)?.reshape(&self.keepdim())?;
                Ok(self.param.div(&total)?)
            }
            ParamKind::Logits => Ok(self.logits()?.exp()),
        }
    }

    /// The normalized logits `ln(probs)`, shape `batch_shape + [K]` (zero probabilities are
    /// clamped to `f32::MIN_POSITIVE` first so the result is finite).
    ///
    /// ```
    /// use pyro::distributions::Categorical;
    /// use pyro::tensor::DynTensor;
    /// let l = DynTensor::<dfdx::prelude::Cpu>::from_vec(vec![1.0, 1.0], &[2]).unwrap();
    /// let n = Categorical::from_logits(l).unwrap().logits().unwrap().to_vec();
    /// assert!((n[0] - 0.5f32.ln()).abs() < 1e-6);
    /// ```
    pub fn logits(&self) -> DistResult<DynTensor<D>> {
        match self.kind {
            ParamKind::Logits => {
                let lse = self.param.logsumexp_last()?.reshape(&self.keepdim())?;
                Ok(self.param.sub(&lse)?)
            }
            ParamKind::Probs => Ok(self.probs()?.clamp(f32::MIN_POSITIVE, 1.0).ln()),
        }
    }

    /// The same distribution with its parameter broadcast to `batch_shape + [K]`.
    ///
    /// ```
    /// use pyro::distributions::{Categorical, Distribution, DynShape};
    /// use pyro::tensor::DynTensor;
    /// let p = DynTensor::<dfdx::prelude::Cpu>::full(&[3], 1.0 / 3.0);
    /// let d = Categorical::new(p).unwrap().expand::<DynShape>(&[4]).unwrap();
    /// assert_eq!(d.batch_shape(), &[4]);
    /// ```
    pub fn expand<S2>(&self, batch_shape: &[usize]) -> DistResult<Categorical<S2, D>> {
        let mut full = batch_shape.to_vec();
        full.push(self.k);
        Ok(Categorical {
            param: self.param.broadcast_to(&full)?,
            kind: self.kind,
            batch_shape: batch_shape.to_vec(),
            k: self.k,
            _s: PhantomData,
        })
    }

    /// The values `0, ..., K-1` with shape `[K] + [1; batch rank]` (`expand = false`, for
    /// broadcasting against the batch) or `[K] + batch_shape` (`expand = true`), as Pyro's
    /// `enumerate_support`.
    ///
    /// ```
    /// use pyro::distributions::Categorical;
    /// use pyro::tensor::DynTensor;
    /// let p = DynTensor::<dfdx::prelude::Cpu>::full(&[2, 3], 1.0 / 3.0);
    /// let d = Categorical::new(p).unwrap();
    /// let s = d.enumerate_support(false).unwrap();
    /// assert_eq!(s.shape(), &[3, 1]);
    /// assert_eq!(s.to_vec(), vec![0.0, 1.0, 2.0]);
    /// assert_eq!(d.enumerate_support(true).unwrap().shape(), &[3, 2]);
    /// ```
    pub fn enumerate_support(&self, expand: bool) -> DistResult<DynTensor<D>> {
        let mut shape = vec![self.k];
        shape.resize(1 + self.batch_shape.len(), 1);
        let s = DynTensor::from_vec((0..self.k).map(|i| i as f32).collect(), &shape)?;
        if expand {
            let mut full = vec![self.k];
            full.extend_from_slice(&self.batch_shape);
            Ok(s.broadcast_to(&full)?)
        } else {
            Ok(s)
        }
    }

    /// Host probabilities, one row of `K` per batch element, in `f64` (rows need not be
    /// normalized).
    fn host_weights(&self) -> Vec<f64> {
        let v = self.param.to_vec();
        match self.kind {
            ParamKind::Probs => v.into_iter().map(f64::from).collect(),
            ParamKind::Logits => v
                .chunks(self.k)
                .flat_map(|row| {
                    let m = row.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
                    row.iter()
                        .map(move |&l| (l as f64 - m).exp())
                        .collect::<Vec<_>>()
                })
                .collect(),
        }
    }

    /// The index values as numbers `0, ..., K-1` (shape `[K]`).
    fn index_values(&self) -> DistResult<DynTensor<D>> {
        Ok(DynTensor::from_vec(
            (0..self.k).map(|i| i as f32).collect(),
            &[self.k],
        )?)
    }
}

impl_distribution!(Categorical[scalar] {
    fn support(&self) -> Constraint {
        Constraint::IntegerInterval(0, self.k as i64 - 1)
    }
    fn sample(&self, sample_shape: &[usize], rng: &mut dyn RngCore) -> DistResult<DynTensor<D>> {
        let w = self.host_weights();
        let k = self.k;
        // Cumulative weights per row; a row must have positive, finite total weight.
        let mut cum = Vec::with_capacity(w.len());
        for (r, row) in w.chunks(k).enumerate() {
            let mut acc = 0.0;
            for &x in row {
                if !(x >= 0.0 && x.is_finite()) {
                    return Err(DistError::InvalidParameter {
                        dist: "Categorical",
                        param: self.kind.name(),
                        reason: format!("row {r} has weight {x}"),
                    });
                }
                acc += x;
                cum.push(acc);
            }
            if acc <= 0.0 {
                return Err(DistError::InvalidParameter {
                    dist: "Categorical",
                    param: self.kind.name(),
                    reason: format!("row {r} has zero total probability"),
                });
            }
        }
        let shape = extended_shape(sample_shape, &self.batch_shape, &[]);
        let nb = numel(&self.batch_shape).max(1);
        let out: Vec<f32> = (0..numel(&shape))
            .map(|j| {
                let row = &cum[(j % nb) * k..(j % nb + 1) * k];
                let w_row = &w[(j % nb) * k..(j % nb + 1) * k];
                let u = uniform_f64(rng) * row[k - 1];
                // First index whose cumulative weight exceeds u (never a zero-weight one);
                // rounding can leave u at the top: take the last positive category then.
                let i = row.partition_point(|&c| c <= u);
                let i = if i < k {
                    i
                } else {
                    w_row.iter().rposition(|&x| x > 0.0).unwrap_or(k - 1)
                };
                i as f32
            })
            .collect();
        Ok(DynTensor::from_vec(out, &shape)?)
    }
    fn log_prob(&self, value: &DynTensor<D>) -> DistResult<DynTensor<D>> {
        let k = self.k;
        let support = self.support();
        validate_value("Categorical", &support, value)?;
        let (out_shape, pairs) =
            value_batch_pairs("Categorical::log_prob", value.shape(), &self.batch_shape)?;
        // Indices are needed on the host whatever the validation setting.
        let v = value.to_vec();
        if let Some(i) = v
            .iter()
            .position(|&x| !(x >= 0.0 && x < k as f32 && x == x.floor()))
        {
            return Err(DistError::OutOfSupport {
                dist: "Categorical",
                support: support.to_string(),
                detail: format!(
                    "value of shape {:?}: {}{}",
                    value.shape(),
                    v[i],
                    at_position("index", &unravel(i, value.shape()))
                ),
            });
        }
        let idx: Vec<usize> = pairs.iter().map(|&(vi, bi)| bi * k + v[vi] as usize).collect();
        // Gather first, then take logs: no ln(0) of unselected categories on the graph.
        let picked = self.param.gather_flat(idx, &out_shape)?;
        match self.kind {
            ParamKind::Probs => {
                let total = self.param.sum_rightmost(1)?;
                Ok(picked.ln().sub(&total.ln())?)
            }
            ParamKind::Logits => Ok(picked.sub(&self.param.logsumexp_last()?)?),
        }
    }
    fn mean(&self) -> DistResult<DynTensor<D>> {
        Ok(self.probs()?.mul(&self.index_values()?)?.sum_rightmost(1)?)
    }
    fn variance(&self) -> DistResult<DynTensor<D>> {
        let m = self.mean()?.reshape(&self.keepdim())?;
        let dev = self.index_values()?.sub(&m)?.square();
        Ok(self.probs()?.mul(&dev)?.sum_rightmost(1)?)
    }
});

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distributions::testing::*;
    use dfdx::prelude::Cpu;

    fn vec_param(p: &[f32]) -> DynTensor<Cpu> {
        DynTensor::from_vec(p.to_vec(), &[p.len()]).unwrap()
    }

    #[test]
    fn log_prob_matches_scipy_probs() {
        check_fixture("categorical", |p| {
            Categorical::new(vec_param(p)).map(|d| Box::new(d) as BoxDist<Cpu>)
        });
    }

    #[test]
    fn log_prob_matches_scipy_logits() {
        check_fixture("categorical_logits", |p| {
            Categorical::from_logits(vec_param(p)).map(|d| Box::new(d) as BoxDist<Cpu>)
        });
    }

    #[test]
    fn zero_probability_category_gives_minus_infinity_and_clean_gradients() {
        let p = vec_param(&[0.0, 0.4, 0.6]);
        let d = Categorical::new(p.clone()).unwrap();
        let lp = d.log_prob(&DynTensor::scalar(0.0)).unwrap().item().unwrap();
        assert_eq!(lp, f32::NEG_INFINITY);
        // Gradient at a positive category: no NaN from the zero entry.
        let scope = crate::tensor::GradScope::<Cpu>::open();
        let d = Categorical::new(p.clone()).unwrap();
        let lp = d.log_prob(&DynTensor::scalar(2.0)).unwrap();
        let g = scope.backward(&lp).unwrap();
        let g = g.get_or_zeros(&p).to_vec();
        // d/dp_j [ln p_2 - ln Σ p] = [j = 2] / p_2 - 1 / Σ p, with Σ p = 1.
        let want = [-1.0, -1.0, 1.0 / 0.6 - 1.0];
        for (a, b) in g.iter().zip(want) {
            assert!((a - b).abs() < 1e-5, "{g:?}");
        }
    }

    #[test]
    fn batched_log_prob_broadcasts_values_against_the_batch() {
        let p = DynTensor::<Cpu>::from_vec(vec![0.1, 0.9, 0.5, 0.5, 0.8, 0.2], &[3, 2]).unwrap();
        let d = Categorical::new(p).unwrap();
        assert_eq!(d.batch_shape(), &[3]);
        let x = DynTensor::<Cpu>::from_vec(vec![0.0, 1.0], &[2, 1]).unwrap();
        let lp = d.log_prob(&x).unwrap();
        assert_eq!(lp.shape(), &[2, 3]);
        let want = [0.1f32, 0.5, 0.8, 0.9, 0.5, 0.2].map(|p| p.ln());
        for (a, b) in lp.to_vec().iter().zip(want) {
            assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        }
        // Enumerated support broadcasts the same way.
        let s = d.enumerate_support(false).unwrap();
        assert_eq!(d.log_prob(&s).unwrap().to_vec(), lp.to_vec());
    }

    #[test]
    fn normalizes_probs_and_logits() {
        let d = Categorical::new(vec_param(&[0.1, 0.3])).unwrap();
        let lp = d.log_prob(&DynTensor::scalar(1.0)).unwrap().item().unwrap();
        assert!((lp - 0.75f32.ln()).abs() < 1e-6);
        let q = d.probs().unwrap().to_vec();
        assert!((q[0] - 0.25).abs() < 1e-7);
        let e = Categorical::from_logits(vec_param(&[3.0, 3.0 + 3f32.ln()])).unwrap();
        let lq = e.logits().unwrap().to_vec();
        assert!((lq[1] - 0.75f32.ln()).abs() < 1e-6, "{lq:?}");
        assert!((e.probs().unwrap().to_vec()[0] - 0.25).abs() < 1e-6);
        assert!(d.logits().unwrap().to_vec()[0].is_finite());
    }

    #[test]
    fn mean_and_variance_of_the_index() {
        let d = Categorical::new(vec_param(&[0.2, 0.3, 0.5])).unwrap();
        let m = 0.3 + 2.0 * 0.5;
        let v = 0.2 * m * m + 0.3 * (1.0 - m) * (1.0 - m) + 0.5 * (2.0 - m) * (2.0 - m);
        assert!((d.mean().unwrap().item().unwrap() as f64 - m).abs() < 1e-6);
        assert!((d.variance().unwrap().item().unwrap() as f64 - v).abs() < 1e-6);
    }

    #[test]
    fn sampler_moments_and_chi_square() {
        let probs = [0.05, 0.0, 0.25, 0.4, 0.3];
        let d = Categorical::new(vec_param(&probs)).unwrap();
        let m: f64 = probs
            .iter()
            .enumerate()
            .map(|(k, &p)| k as f64 * p as f64)
            .sum();
        let v: f64 = probs
            .iter()
            .enumerate()
            .map(|(k, &p)| (k as f64 - m).powi(2) * p as f64)
            .sum();
        let pmf = |k: u64| probs.get(k as usize).map_or(0.0, |&p| p as f64);
        check_discrete_sampler(&d, m, v, pmf);
        // From logits: softmax([0, 1, 2]).
        let e = Categorical::from_logits(vec_param(&[0.0, 1.0, 2.0])).unwrap();
        let z: f64 = (0..3).map(|k| (k as f64).exp()).sum();
        let pk = |k: u64| if k < 3 { (k as f64).exp() / z } else { 0.0 };
        let m: f64 = (0..3).map(|k| k as f64 * pk(k)).sum();
        let v: f64 = (0..3).map(|k| (k as f64 - m).powi(2) * pk(k)).sum();
        check_discrete_sampler(&e, m, v, pk);
    }

    #[test]
    fn log_prob_gradients_match_finite_differences() {
        let x = DynTensor::<Cpu>::from_vec(vec![2.0, 0.0, 1.0], &[3]).unwrap();
        let probs = [0.2f32, 0.3, 0.5, 0.6, 0.1, 0.3, 0.01, 0.9, 0.09];
        check_log_prob_grad(&[(&probs, &[3, 3])], &x, |p| {
            Categorical::from_dyn(p[0].clone()).map(|d| Box::new(d) as BoxDist<Cpu>)
        });
        let logits = [0.5f32, -1.0, 2.0, 30.0, -30.0, 0.0, 1.0, 1.0, 1.0];
        check_log_prob_grad(&[(&logits, &[3, 3])], &x, |p| {
            Categorical::from_dyn_logits(p[0].clone()).map(|d| Box::new(d) as BoxDist<Cpu>)
        });
    }

    #[test]
    fn has_no_rsample() {
        use rand::SeedableRng;
        let mut rng = rand::rngs::StdRng::seed_from_u64(0);
        let d = Categorical::new(vec_param(&[0.5, 0.5])).unwrap();
        assert!(!d.has_rsample() && d.is_discrete());
        let e = d.rsample(&[], &mut rng).unwrap_err();
        assert_eq!(
            e,
            DistError::NotReparameterized {
                dist: "Categorical"
            }
        );
    }

    #[test]
    fn validation_names_the_parameter() {
        crate::enable_validation(true);
        for bad in [&[0.5, -0.1][..], &[1.5, 0.1], &[0.0, 0.0], &[f32::NAN, 0.5]] {
            let e = Categorical::new(vec_param(bad)).unwrap_err();
            assert!(
                matches!(e, DistError::InvalidParameter { param: "probs", .. }),
                "{bad:?}: {e}"
            );
        }
        for bad in [
            &[f32::INFINITY, 0.0][..],
            &[f32::NEG_INFINITY; 2],
            &[f32::NAN, 1.0],
        ] {
            let e = Categorical::from_logits(vec_param(bad)).unwrap_err();
            assert!(
                matches!(
                    e,
                    DistError::InvalidParameter {
                        param: "logits",
                        ..
                    }
                ),
                "{bad:?}: {e}"
            );
        }
        let e = Categorical::new(DynTensor::<Cpu>::scalar(1.0)).unwrap_err();
        assert!(matches!(
            e,
            DistError::InvalidParameter { param: "probs", .. }
        ));
        let e = Categorical::from_dyn(DynTensor::<Cpu>::zeros(&[2, 0])).unwrap_err();
        assert!(matches!(
            e,
            DistError::InvalidParameter { param: "probs", .. }
        ));
        let d = Categorical::new(vec_param(&[0.2, 0.3, 0.5])).unwrap();
        for bad in [-1.0, 3.0, 0.5, f32::NAN] {
            let e = d.log_prob(&DynTensor::scalar(bad)).unwrap_err();
            assert!(matches!(e, DistError::OutOfSupport { .. }), "{bad}: {e}");
        }
        // Masked categories (logit -inf) are allowed.
        let m = Categorical::from_logits(vec_param(&[f32::NEG_INFINITY, 0.0])).unwrap();
        let lp = m.log_prob(&DynTensor::scalar(1.0)).unwrap().item().unwrap();
        assert_eq!(lp, 0.0);
    }

    #[test]
    fn expand_keeps_categories() {
        let d = Categorical::new(vec_param(&[0.2, 0.8])).unwrap();
        let e = d.expand::<DynShape>(&[3, 2]).unwrap();
        assert_eq!(e.batch_shape(), &[3, 2]);
        assert_eq!(e.probs().unwrap().shape(), &[3, 2, 2]);
        assert_eq!(e.mean().unwrap().shape(), &[3, 2]);
        let x = DynTensor::<Cpu>::ones(&[3, 2]);
        let lp = e.log_prob(&x).unwrap().to_vec();
        assert!(lp.iter().all(|&l| (l - 0.8f32.ln()).abs() < 1e-6));
    }
}
