//! Probability distributions (Pyro's `pyro.distributions`), one file each.
//!
//! Every distribution implements the object-safe [`Distribution`] trait over run-time shaped
//! [`DynTensor`]s, which traces and inference algorithms use, and carries a type parameter `S`
//! with its value's dfdx shape so that typed code gets typed tensors back
//! ([`TypedDistribution`]). Shapes follow Pyro: a value has shape
//! `sample_shape + batch_shape + event_shape`, and `log_prob` returns
//! `sample_shape + batch_shape`.

use std::any::Any;
use std::fmt::Debug;

use rand::RngCore;
use thiserror::Error;

use crate::constraints::Constraint;
use crate::tensor::TensorError;
use crate::tensor::{Backend, DynTensor, Tensor};

mod bernoulli;
mod beta;
mod binomial;
mod boilerplate;
mod categorical;
mod cauchy;
mod delta;
mod dirichlet;
mod exponential;
mod fused;
mod fused_mvn;
mod gamma;
mod half_cauchy;
mod half_normal;
mod host_map;
mod implicit;
mod independent;
mod inverse_gamma;
pub mod kl;
mod laplace;
mod log_normal;
mod low_rank_multivariate_normal;
mod multivariate_normal;
mod normal;
pub mod param;
mod poisson;
mod student_t;
#[cfg(test)]
pub(crate) mod testing;
#[cfg(test)]
pub(crate) mod testing_mv;
mod uniform;
mod unit;
mod vector_event;

pub use bernoulli::Bernoulli;
pub use beta::Beta;
pub use binomial::Binomial;
pub use categorical::{CatShape, Categorical, DropLastDim};
pub use cauchy::Cauchy;
pub use delta::Delta;
pub use dirichlet::Dirichlet;
pub use exponential::Exponential;
pub use gamma::Gamma;
pub use half_cauchy::HalfCauchy;
pub use half_normal::HalfNormal;
pub use independent::Independent;
pub use inverse_gamma::InverseGamma;
pub use kl::kl_divergence;
pub use laplace::Laplace;
pub use log_normal::LogNormal;
pub use low_rank_multivariate_normal::LowRankMultivariateNormal;
pub use multivariate_normal::MultivariateNormal;
pub use normal::Normal;
pub use param::{DynShape, Param, ParamMeta, Unplaced};
pub use poisson::Poisson;
pub use student_t::StudentT;
pub use uniform::Uniform;
pub use unit::Unit;

/// Calls `$callback!` with every distribution family of the runtime, once, for the layers
/// above that implement their own traits for each family (the sample primitives, the DSL):
/// `shaped` families take a shape type `S` for elementwise parameters; `event` families take
/// `S` too but have vector or matrix events.
#[doc(hidden)]
#[macro_export]
macro_rules! __distribution_families {
    ($callback:ident) => {
        $callback! {
            shaped: [
                Normal, Bernoulli, Binomial, Categorical, Delta, Poisson, Beta, Cauchy,
                Exponential, Gamma, HalfCauchy, HalfNormal, InverseGamma, Laplace, LogNormal,
                StudentT, Uniform
            ],
            event: [Dirichlet, MultivariateNormal, LowRankMultivariateNormal]
        }
    };
}

/// Errors from constructing or using a distribution.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum DistError {
    /// A parameter is outside its allowed domain (validated on construction).
    #[error("{dist}: invalid parameter `{param}`: {reason}")]
    InvalidParameter {
        /// The distribution.
        dist: &'static str,
        /// The parameter's name.
        param: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A value passed to `log_prob` is outside the support.
    #[error("{dist}: value outside the support `{support}`: {detail}")]
    OutOfSupport {
        /// The distribution.
        dist: &'static str,
        /// The support.
        support: String,
        /// Which values.
        detail: String,
    },
    /// `rsample` was called on a distribution without a reparameterized sampler.
    #[error("{dist} has no reparameterized sampler (rsample); use a score-function estimator")]
    NotReparameterized {
        /// The distribution.
        dist: &'static str,
    },
    /// A quantity that does not exist for these parameters (the mean of a Cauchy).
    #[error("{dist}: {what} is undefined")]
    Undefined {
        /// The distribution.
        dist: &'static str,
        /// The quantity.
        what: &'static str,
    },
    /// A tensor shape problem.
    #[error(transparent)]
    Tensor(#[from] TensorError),
    /// No analytic KL divergence is known for this pair of distributions.
    #[error("no analytic KL divergence KL({p} || {q}) is implemented")]
    NoKl {
        /// The first distribution.
        p: &'static str,
        /// The second distribution.
        q: &'static str,
    },
    /// A linear-algebra failure (a matrix that is not positive definite, a singular factor).
    #[error(transparent)]
    Linalg(#[from] crate::linalg::LinalgError),
}

/// Shorthand result for distributions.
pub type DistResult<T> = Result<T, DistError>;

/// A boxed distribution on device `D`.
pub type BoxDist<D = crate::tensor::DefaultDevice> = Box<dyn Distribution<D>>;

/// A probability distribution over `f32` tensors (object-safe, shape-erased).
///
/// ```
/// use pyro::distributions::{Distribution, Normal};
/// let d = Normal::new(0.0, 2.0).unwrap();
/// let x = pyro::tensor::DynTensor::scalar(1.0);
/// let lp = d.log_prob(&x).unwrap().item().unwrap();
/// let want = -0.5 * (0.5f32).powi(2) - (2.0f32 * (2.0 * std::f32::consts::PI).sqrt()).ln();
/// assert!((lp - want).abs() < 1e-6);
/// ```
pub trait Distribution<D: Backend>: Debug + 'static {
    /// The distribution's name, for messages.
    fn name(&self) -> &'static str;
    /// Shape of independent (not necessarily identical) draws.
    fn batch_shape(&self) -> &[usize];
    /// Shape of one event (`[]` for scalar distributions).
    fn event_shape(&self) -> &[usize];
    /// The set of values with positive density.
    fn support(&self) -> Constraint;
    /// Whether [`Distribution::rsample`] is available (reparameterized sampling).
    fn has_rsample(&self) -> bool {
        false
    }
    /// Whether values are discrete.
    fn is_discrete(&self) -> bool {
        self.support().is_discrete()
    }
    /// Draws `sample_shape` independent values, cut from the graph.
    fn sample(&self, sample_shape: &[usize], rng: &mut dyn RngCore) -> DistResult<DynTensor<D>>;
    /// Draws with a gradient path back to the parameters (reparameterization trick).
    fn rsample(&self, sample_shape: &[usize], rng: &mut dyn RngCore) -> DistResult<DynTensor<D>> {
        let _ = (sample_shape, rng);
        Err(DistError::NotReparameterized { dist: self.name() })
    }
    /// [`Distribution::rsample`], and with it the draw's log-density when the distribution
    /// gets that almost for free from the noise it drew (a normal draw `loc + scale·ε` has
    /// log-density `-ε²/2 - ln scale - ln √(2π)`, with the same value and the same gradient
    /// with respect to the parameters as `log_prob(&draw)`). `None` in the second place
    /// means "not computed": ask [`Distribution::log_prob`]. The default draws with
    /// `rsample` and computes nothing; the handler runtime uses this for the draws it makes,
    /// so a guide's reparameterized sites skip a second density evaluation.
    ///
    /// ```
    /// use pyro::prelude::*;
    /// let d = Normal::new(1.0, 2.0).unwrap();
    /// let (x, lp) = pyro::rng::with_rng(|r| d.rsample_with_log_prob(&[], r)).unwrap();
    /// let direct = d.log_prob(&x).unwrap().item().unwrap();
    /// assert!((lp.unwrap().item().unwrap() - direct).abs() < 1e-5);
    /// ```
    #[allow(clippy::type_complexity)]
    fn rsample_with_log_prob(
        &self,
        sample_shape: &[usize],
        rng: &mut dyn RngCore,
    ) -> DistResult<(DynTensor<D>, Option<DynTensor<D>>)> {
        Ok((self.rsample(sample_shape, rng)?, None))
    }
    /// Log density (or mass) of `value`; shape `sample_shape + batch_shape`.
    fn log_prob(&self, value: &DynTensor<D>) -> DistResult<DynTensor<D>>;
    /// The mean.
    fn mean(&self) -> DistResult<DynTensor<D>>;
    /// The variance.
    fn variance(&self) -> DistResult<DynTensor<D>>;
    /// The same distribution with parameters broadcast to a larger batch shape.
    fn expand_box(&self, batch_shape: &[usize]) -> DistResult<BoxDist<D>>;
    /// A boxed copy.
    fn clone_box(&self) -> BoxDist<D>;
    /// For downcasting (KL dispatch, inspecting a trace's distributions).
    fn as_any(&self) -> &dyn Any;
    /// A copy whose concrete type has its compile-time shape marker erased (`X<DynShape, D>`),
    /// so that generic code ([`kl_divergence`]) can downcast one type per family with
    /// `as_any`. `None` (the default) means `self.as_any()` is already that type.
    ///
    /// ```
    /// use pyro::distributions::{Distribution, DynShape, Normal};
    /// let d = Normal::new(0.0, 1.0).unwrap(); // a Normal<Rank0>
    /// let e = d.erased().unwrap();
    /// assert!(e.as_any().downcast_ref::<Normal<DynShape>>().is_some());
    /// ```
    fn erased(&self) -> Option<BoxDist<D>> {
        None
    }

    /// Standard deviation.
    fn stddev(&self) -> DistResult<DynTensor<D>> {
        Ok(self.variance()?.sqrt())
    }
    /// The shape of one draw: `batch_shape + event_shape`.
    fn shape(&self) -> Vec<usize> {
        let mut s = self.batch_shape().to_vec();
        s.extend_from_slice(self.event_shape());
        s
    }
    /// Samples with the thread's seeded generator ([`crate::set_rng_seed`]).
    fn sample_global(&self, sample_shape: &[usize]) -> DistResult<DynTensor<D>> {
        crate::rng::with_rng(|r| self.sample(sample_shape, r))
    }
    /// Reparameterized sample with the thread's seeded generator.
    fn rsample_global(&self, sample_shape: &[usize]) -> DistResult<DynTensor<D>> {
        crate::rng::with_rng(|r| self.rsample(sample_shape, r))
    }
}

impl<D: Backend> Clone for BoxDist<D> {
    fn clone(&self) -> Self {
        self.clone_box()
    }
}

/// A distribution whose value type is known at compile time.
///
/// ```
/// use dfdx::prelude::*;
/// use pyro::distributions::{Normal, TypedDistribution};
/// let x: pyro::tensor::Tensor<Rank0> = Normal::new(0.0, 1.0).unwrap().draw().unwrap();
/// assert!(x.item().unwrap().is_finite());
/// ```
pub trait TypedDistribution<D: Backend>: Distribution<D> + Clone {
    /// The dfdx shape of one value.
    type Shape: dfdx::shapes::Shape;

    /// One value, cut from the graph, as a typed tensor.
    fn draw(&self) -> DistResult<Tensor<Self::Shape, D>> {
        Ok(self.sample_global(&[])?.to_tensor()?)
    }
    /// One reparameterized value as a typed tensor.
    fn rdraw(&self) -> DistResult<Tensor<Self::Shape, D>> {
        Ok(self.rsample_global(&[])?.to_tensor()?)
    }
    /// Log density of a typed value, summed over everything (a scalar).
    fn log_prob_sum(&self, value: &Tensor<Self::Shape, D>) -> DistResult<DynTensor<D>> {
        Ok(self.log_prob(value.as_dyn()?)?.sum())
    }
}

/// Methods every distribution gets: `to_event`, `expand`.
pub trait DistributionExt<D: Backend>: Distribution<D> + Sized {
    /// Treats the rightmost `n` batch dims as event dims (Pyro's `.to_event(n)`).
    fn to_event(self, n: usize) -> DistResult<Independent<Self, D>> {
        Independent::new(self, n)
    }
}
impl<D: Backend, T: Distribution<D>> DistributionExt<D> for T {}

// ----- helpers shared by the implementations ----------------------------------------------------

/// Checks a parameter's values on the host when validation is on.
pub(crate) fn validate_param<D: Backend>(
    dist: &'static str,
    param: &'static str,
    x: &DynTensor<D>,
    constraint: &Constraint,
) -> DistResult<()> {
    if !crate::is_validation_enabled() {
        return Ok(());
    }
    match first_violation(constraint, x) {
        Some(bad) => Err(DistError::InvalidParameter {
            dist,
            param,
            reason: format!("{bad} is not in {constraint}"),
        }),
        None => Ok(()),
    }
}

/// Calls `f` with the values of `x` (borrowed, no copy).
fn with_host_values<D: Backend, R>(x: &DynTensor<D>, f: impl FnOnce(&[f32]) -> R) -> R {
    f(x.values())
}

/// The flat (row-major) index of the first NaN in `x`, if any.
pub(crate) fn first_nan<D: Backend>(x: &DynTensor<D>) -> Option<usize> {
    with_host_values(x, |v| v.iter().position(|x| x.is_nan()))
}

/// The position of flat (row-major) index `flat` in a tensor of shape `shape`.
pub(crate) fn unravel(mut flat: usize, shape: &[usize]) -> Vec<usize> {
    let mut index = vec![0; shape.len()];
    for (i, &n) in shape.iter().enumerate().rev() {
        if n > 0 {
            index[i] = flat % n;
            flat /= n;
        }
    }
    index
}

/// A position for messages: `index 2` in one dim, `index [1, 2]` in several, nothing for a
/// rank-0 value (`what` is `index` or `batch index`).
pub(crate) fn at_position(what: &str, index: &[usize]) -> String {
    match index {
        [] => String::new(),
        [i] => format!(" at {what} {i}"),
        _ => format!(" at {what} {index:?}"),
    }
}

/// The first part of `x` outside `constraint`, described for a message, if any: the value and
/// its position (`-1 at index 2`) for a constraint on single values; for a constraint on
/// whole events (`simplex`: vectors, `lower_cholesky`: matrices) the event's values and its
/// position among the batch dims (`event [0.5, 0.6] at batch index 1`).
pub(crate) fn first_violation<D: Backend>(
    constraint: &Constraint,
    x: &DynTensor<D>,
) -> Option<String> {
    let shape = x.shape();
    with_host_values(x, |v| {
        let i = constraint.first_violation(v, shape)?;
        let event_dims = constraint.event_dim().min(shape.len());
        let (batch, event) = shape.split_at(shape.len() - event_dims);
        if event_dims == 0 {
            return Some(format!(
                "{}{}",
                v[i],
                at_position("index", &unravel(i, shape))
            ));
        }
        let len = event.iter().product::<usize>().max(1);
        let values = &v[i * len..((i + 1) * len).min(v.len())];
        const MAX: usize = 8;
        let shown: Vec<String> = values.iter().take(MAX).map(|x| x.to_string()).collect();
        let more = if values.len() > MAX { ", ..." } else { "" };
        Some(format!(
            "event [{}{more}]{}",
            shown.join(", "),
            at_position("batch index", &unravel(i, batch))
        ))
    })
}

/// Checks a value against the support when validation is on.
pub(crate) fn validate_value<D: Backend>(
    dist: &'static str,
    support: &Constraint,
    x: &DynTensor<D>,
) -> DistResult<()> {
    if !crate::is_validation_enabled() {
        return Ok(());
    }
    match first_violation(support, x) {
        Some(bad) => Err(DistError::OutOfSupport {
            dist,
            support: support.to_string(),
            detail: format!("value of shape {:?}: {bad}", x.shape()),
        }),
        None => Ok(()),
    }
}

/// Broadcasts parameters to their common shape; errors name the distribution.
pub(crate) fn broadcast_params<D: Backend>(
    dist: &'static str,
    params: &[&DynTensor<D>],
) -> DistResult<(Vec<DynTensor<D>>, Vec<usize>)> {
    let shape = common_shape(dist, params)?;
    let out = params
        .iter()
        .map(|p| p.broadcast_to(&shape))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((out, shape))
}

/// [`broadcast_params`] for a fixed number of parameters (no vector of results).
pub(crate) fn broadcast_param_array<D: Backend, const N: usize>(
    dist: &'static str,
    params: [DynTensor<D>; N],
) -> DistResult<([DynTensor<D>; N], Vec<usize>)> {
    let refs: [&DynTensor<D>; N] = std::array::from_fn(|i| &params[i]);
    let shape = common_shape(dist, &refs)?;
    if params.iter().all(|p| p.shape() == shape.as_slice()) {
        return Ok((params, shape));
    }
    let mut err = None;
    let out = params.map(|p| match p.broadcast_to(&shape) {
        Ok(b) => b,
        Err(e) => {
            err = Some(e);
            p
        }
    });
    match err {
        Some(e) => Err(e.into()),
        None => Ok((out, shape)),
    }
}

/// The common broadcast shape of the parameters (no allocation beyond the result when they
/// agree).
fn common_shape<D: Backend>(
    dist: &'static str,
    params: &[&DynTensor<D>],
) -> DistResult<Vec<usize>> {
    let mut shape: Vec<usize> = params.first().map_or(vec![], |p| p.shape().to_vec());
    for p in params.iter().skip(1) {
        if p.shape() == shape.as_slice() {
            continue;
        }
        shape = crate::tensor::broadcast_shapes(&shape, p.shape()).ok_or_else(|| {
            DistError::InvalidParameter {
                dist,
                param: "shape",
                reason: format!(
                    "parameter shapes {:?} do not broadcast",
                    params
                        .iter()
                        .map(|p| p.shape().to_vec())
                        .collect::<Vec<_>>()
                ),
            }
        })?;
    }
    Ok(shape)
}

pub(crate) fn extended_shape(sample: &[usize], batch: &[usize], event: &[usize]) -> Vec<usize> {
    let mut s = sample.to_vec();
    s.extend_from_slice(batch);
    s.extend_from_slice(event);
    s
}

/// `n` standard normal draws.
pub(crate) fn std_normal_vec(n: usize, rng: &mut dyn RngCore) -> Vec<f32> {
    std_normal_draws(n, rng)
}

/// [`std_normal_vec`] as host values (a single draw stays off the heap).
pub(crate) fn std_normal_vals(n: usize, rng: &mut dyn RngCore) -> crate::tensor::op::Vals {
    std_normal_draws(n, rng)
}

/// `n` standard normal draws, collected into `C`.
fn std_normal_draws<C: FromIterator<f32>>(n: usize, rng: &mut dyn RngCore) -> C {
    use rand_distr::Distribution as _;
    (0..n)
        .map(|_| rand_distr::StandardNormal.sample(rng))
        .collect()
}

/// `n` uniform draws in `(0, 1)` (never exactly 0).
#[allow(dead_code)] // used by the samplers built on uniform noise
pub(crate) fn std_uniform_vec(n: usize, rng: &mut dyn RngCore) -> Vec<f32> {
    use rand::Rng as _;
    (0..n)
        .map(|_| {
            let u: f32 = rng.gen();
            if u == 0.0 {
                f32::MIN_POSITIVE
            } else {
                u
            }
        })
        .collect()
}

/// `log(2π)/2`.
pub(crate) const HALF_LN_2PI: f32 = 0.918_938_5;
