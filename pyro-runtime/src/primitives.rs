//! The primitives a model calls: `sample`, `observe`, `param`, `factor`, `deterministic`
//! (plates live in [`crate::poutine::plate()`]). Outside any handler they behave as plain
//! functions (draw from the prior, return the observation); inside handlers they send a
//! [`Message`] through the stack.

use std::rc::Rc;

use crate::constraints::Constraint;
use crate::distributions::{BoxDist, DistError, Distribution};
use crate::error::{PyroError, PyroResult};
use crate::params::ParamInit;
use crate::poutine::message::{InferConfig, Message, Name, ParamSpec, SharedDist};
use crate::poutine::runtime::apply_stack;
use crate::tensor::{Backend, DefaultDevice, DynTensor};

/// What `sample` accepts as a distribution: a distribution, a boxed or shared one, or the
/// `Result` of a validating constructor (its error is then reported with the site's name).
/// Every distribution type is registered with [`crate::site_dist!`].
pub trait IntoSiteDist<D: Backend> {
    /// The distribution behind a shared pointer (what messages and traces carry), or the
    /// constructor's error.
    fn into_site_dist(self) -> Result<SharedDist<D>, DistError>;
}

impl<D: Backend> IntoSiteDist<D> for BoxDist<D> {
    fn into_site_dist(self) -> Result<SharedDist<D>, DistError> {
        Ok(Rc::from(self))
    }
}

impl<D: Backend> IntoSiteDist<D> for SharedDist<D> {
    fn into_site_dist(self) -> Result<SharedDist<D>, DistError> {
        Ok(self)
    }
}

/// Lets `sample` take a distribution type directly (not only through `Result`).
#[macro_export]
macro_rules! site_dist {
    ($($ty:ident [$($p:ident),*]),* $(,)?) => {
        $(impl<$($p,)* D: $crate::tensor::Backend> $crate::primitives::IntoSiteDist<D> for $ty<$($p,)* D>
        where
            $ty<$($p,)* D>: $crate::distributions::Distribution<D>,
        {
            fn into_site_dist(
                self,
            ) -> Result<$crate::poutine::SharedDist<D>, $crate::distributions::DistError> {
                Ok(::std::rc::Rc::new(self))
            }
        })*
    };
}

/// Every distribution family of the runtime as an [`IntoSiteDist`] (the one family list
/// lives in the distributions layer).
mod registry {
    use crate::distributions::*;

    macro_rules! register {
        (shaped: [$($a:ident),*], event: [$($b:ident),*]) => {
            crate::site_dist!($($a[S],)* $($b[S],)* Independent[T], Unit[]);
        };
    }
    crate::__distribution_families!(register);
}

impl<D: Backend, T: Distribution<D>> IntoSiteDist<D> for Result<T, DistError> {
    fn into_site_dist(self) -> Result<SharedDist<D>, DistError> {
        self.map(|d| Rc::new(d) as SharedDist<D>)
    }
}

/// Options of a sample site beyond its name and distribution.
#[derive(Debug, Clone)]
pub struct SampleOptions<D: Backend> {
    /// Observed value: the site is conditioned on it.
    pub obs: Option<DynTensor<D>>,
    /// Which elements of `obs` are observed (batch shape); the others are sampled.
    pub obs_mask: Option<(Vec<bool>, Vec<usize>)>,
    /// Inference configuration.
    pub infer: InferConfig,
}

impl<D: Backend> Default for SampleOptions<D> {
    fn default() -> Self {
        SampleOptions {
            obs: None,
            obs_mask: None,
            infer: InferConfig::default(),
        }
    }
}

/// A latent random variable: draws from `dist` (or whatever the handlers decide).
///
/// ```
/// use pyro::prelude::*;
/// let x = pyro::sample("x", Normal::new(0.0, 1.0)).unwrap();
/// assert_eq!(x.shape(), &[] as &[usize]);
/// // A bad parameter is reported with the site's name:
/// let err = pyro::sample("y", Normal::new(0.0, -1.0)).unwrap_err();
/// assert!(err.to_string().contains("site `y`"));
/// ```
pub fn sample<D: Backend>(name: &str, dist: impl IntoSiteDist<D>) -> PyroResult<DynTensor<D>> {
    sample_with(name, dist, SampleOptions::default())
}

/// An observed random variable: conditions the model on `value` and returns it.
///
/// ```
/// use pyro::prelude::*;
/// let y = pyro::observe("y", Normal::new(0.0, 1.0), DynTensor::scalar(0.3)).unwrap();
/// assert_eq!(y.item().unwrap(), 0.3);
/// ```
pub fn observe<D: Backend>(
    name: &str,
    dist: impl IntoSiteDist<D>,
    value: DynTensor<D>,
) -> PyroResult<DynTensor<D>> {
    sample_with(
        name,
        dist,
        SampleOptions {
            obs: Some(value),
            ..Default::default()
        },
    )
}

/// A sample site with all of Pyro's options (`obs`, `obs_mask`, `infer`). An `obs` of
/// `None` makes the site latent, like Pyro's `obs=None`.
///
/// The name may be a `&str`, a `String` or a [`Name`] (a name kept by the caller, e.g. an
/// autoguide's, is then shared rather than copied).
pub fn sample_with<D: Backend>(
    name: impl Into<Name>,
    dist: impl IntoSiteDist<D>,
    opts: SampleOptions<D>,
) -> PyroResult<DynTensor<D>> {
    let name: Name = name.into();
    if name.is_empty() {
        return Err(PyroError::SiteMismatch {
            site: name.to_string(),
            reason: "site names must not be empty".into(),
        });
    }
    let dist = dist
        .into_site_dist()
        .map_err(|e| PyroError::at_site(&name, e))?;
    if let (Some(obs), Some((flags, shape))) = (&opts.obs, &opts.obs_mask) {
        return sample_partially_observed(&name, dist, obs.clone(), flags, shape, opts.infer);
    }
    let mut msg = Message::sample(name.clone(), dist);
    msg.infer = opts.infer;
    if let Some(obs) = opts.obs {
        msg.value = Some(obs);
        msg.is_observed = true;
    }
    apply_stack(&mut msg)?;
    msg.value.ok_or_else(|| PyroError::SiteMismatch {
        site: name.to_string(),
        reason: "no value after the handlers ran".into(),
    })
}

/// Pyro's `obs_mask`: splits the site into `<name>_observed` (the masked-in data) and
/// `<name>_unobserved` (latent values for the rest), and returns their combination.
fn sample_partially_observed<D: Backend>(
    name: &str,
    dist: SharedDist<D>,
    obs: DynTensor<D>,
    flags: &[bool],
    shape: &[usize],
    infer: InferConfig,
) -> PyroResult<DynTensor<D>> {
    use crate::poutine::message::Mask;
    let site_err = |e| PyroError::SiteTensor {
        site: name.into(),
        source: e,
    };
    let keep = Mask::Elements {
        flags: Rc::new(flags.to_vec()),
        shape: shape.to_vec(),
    };
    let drop = Mask::Elements {
        flags: Rc::new(flags.iter().map(|f| !f).collect()),
        shape: shape.to_vec(),
    };
    let mut observed = Message::sample(format!("{name}_observed"), dist.clone());
    observed.value = Some(obs.clone());
    observed.is_observed = true;
    observed.mask = Some(keep);
    observed.infer = infer.clone();
    apply_stack(&mut observed)?;
    let mut latent = Message::sample(format!("{name}_unobserved"), dist.clone());
    latent.mask = Some(drop);
    latent.infer = infer;
    apply_stack(&mut latent)?;
    let latent_value = latent.value.ok_or_else(|| PyroError::SiteMismatch {
        site: name.into(),
        reason: "no value for the unobserved part".into(),
    })?;
    // Combine: obs where observed, the latent draw elsewhere. The mask covers batch dims;
    // append singleton event dims so it broadcasts against the value.
    let mut mshape = shape.to_vec();
    mshape.extend(std::iter::repeat_n(1, dist.event_shape().len()));
    let m = DynTensor::from_vec(
        flags.iter().map(|&f| if f { 1.0 } else { 0.0 }).collect(),
        &mshape,
    )
    .map_err(site_err)?;
    let from_obs = obs.detach().mul(&m).map_err(site_err)?;
    let from_latent = latent_value.mul(&m.rsub_scalar(1.0)).map_err(site_err)?;
    from_obs.add(&from_latent).map_err(site_err)
}

/// Adds `log_factor` to the model's log-density (Pyro's `pyro.factor`).
///
/// ```
/// use pyro::prelude::*;
/// use pyro::poutine;
/// let model = || pyro::factor("penalty", DynTensor::scalar(-2.5));
/// let mut tr = poutine::trace(model).get_trace(()).unwrap();
/// assert_eq!(tr.log_prob_sum().unwrap().item().unwrap(), -2.5);
/// ```
pub fn factor(name: &str, log_factor: DynTensor<DefaultDevice>) -> PyroResult<()> {
    factor_on(name, log_factor)
}

/// [`factor`] on any device.
pub fn factor_on<D: Backend>(name: &str, log_factor: DynTensor<D>) -> PyroResult<()> {
    let unit = crate::distributions::Unit::new(log_factor);
    let value = unit
        .sample(&[], &mut rand::rngs::mock::StepRng::new(0, 0))
        .map_err(|e| PyroError::at_site(name, e))?;
    let infer = InferConfig {
        is_auxiliary: true,
        ..Default::default()
    };
    sample_with(
        name,
        unit,
        SampleOptions {
            obs: Some(value),
            obs_mask: None,
            infer,
        },
    )?;
    Ok(())
}

/// Records a deterministic function of other sites in the trace (Pyro's
/// `pyro.deterministic`); it contributes no density. `event_dim` trailing dims of the value
/// form one event.
///
/// ```
/// use pyro::prelude::*;
/// use pyro::poutine;
/// let model = || {
///     let x = pyro::sample("x", Normal::new(0.0, 1.0))?;
///     pyro::deterministic("x2", x.square(), 0)
/// };
/// let tr = poutine::trace(model).get_trace(()).unwrap();
/// let x = tr.get("x").unwrap().value.item().unwrap();
/// assert_eq!(tr.get("x2").unwrap().value.item().unwrap(), x * x);
/// ```
pub fn deterministic(
    name: &str,
    value: DynTensor<DefaultDevice>,
    event_dim: usize,
) -> PyroResult<DynTensor<DefaultDevice>> {
    deterministic_on(name, value, event_dim)
}

/// [`deterministic`] on any device.
pub fn deterministic_on<D: Backend>(
    name: &str,
    value: DynTensor<D>,
    event_dim: usize,
) -> PyroResult<DynTensor<D>> {
    let batch = &value.shape()[..value.rank().saturating_sub(event_dim)];
    let unit = crate::distributions::Unit::new(DynTensor::zeros(batch));
    let infer = InferConfig {
        deterministic: true,
        ..Default::default()
    };
    sample_with(
        name,
        unit,
        SampleOptions {
            obs: Some(value),
            obs_mask: None,
            infer,
        },
    )
}

/// A learnable parameter, initialized (in the constrained space) from `init` the first time
/// and read from the parameter store afterwards (Pyro's `pyro.param`).
///
/// ```
/// use pyro::prelude::*;
/// pyro::clear_param_store();
/// let p = pyro::param("p", DynTensor::scalar(0.5), Constraint::UnitInterval).unwrap();
/// assert!((p.item().unwrap() - 0.5).abs() < 1e-6);
/// let again = pyro::param("p", DynTensor::scalar(0.9), Constraint::UnitInterval).unwrap();
/// assert!((again.item().unwrap() - 0.5).abs() < 1e-6); // the stored value wins
/// ```
pub fn param(
    name: &str,
    init: DynTensor<DefaultDevice>,
    constraint: Constraint,
) -> PyroResult<DynTensor<DefaultDevice>> {
    param_with(name, ParamInit::Value(init), constraint, None)
}

/// [`param`] with a lazy initializer (`ParamInit::lazy(|| ..)`, called only when the
/// parameter does not exist yet) and an explicit `event_dim`.
///
/// ```
/// use pyro::prelude::*;
/// pyro::clear_param_store();
/// let init = ParamInit::lazy(|| DynTensor::ones(&[3]));
/// let w = pyro::param_with("w", init, Constraint::Positive, Some(1)).unwrap();
/// assert_eq!(w.to_vec(), vec![1.0; 3]);
/// ```
pub fn param_with(
    name: &str,
    init: ParamInit<'static, DefaultDevice>,
    constraint: Constraint,
    event_dim: Option<usize>,
) -> PyroResult<DynTensor<DefaultDevice>> {
    param_on(name, Some(init), constraint, event_dim)
}

/// [`param_with`] on any device; `init` may be `None` when the parameter must exist
/// already (Pyro's `pyro.param(name)`).
///
/// The name may be a `&str`, a `String` or a [`Name`] (shared rather than copied).
pub fn param_on<D: Backend>(
    name: impl Into<Name>,
    init: Option<ParamInit<'static, D>>,
    constraint: Constraint,
    event_dim: Option<usize>,
) -> PyroResult<DynTensor<D>> {
    let name: Name = name.into();
    let mut msg = Message::param(
        name.clone(),
        ParamSpec {
            init,
            constraint,
            event_dim,
        },
    );
    apply_stack(&mut msg)?;
    msg.value.ok_or_else(|| PyroError::Param {
        site: name.to_string(),
        reason: "no value after the handlers ran".into(),
    })
}
