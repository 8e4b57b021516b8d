//! The typed primitives the macros expand to: `sample`, `param`, `subsample`, `factor`,
//! `deterministic`.

use super::{FromSite, SiteDist, SiteOut, SiteValue, TensorArg};
use dfdx::prelude::{Rank0, Rank1};
use dfdx::shapes::Shape;

use crate::constraints::Constraint;
use crate::error::{PyroError, PyroResult, TensorResult};
use crate::params::ParamInit;
use crate::primitives::SampleOptions;
use crate::tensor::{Backend, DefaultDevice, DynTensor, Tensor};

/// `sample!` inside `K` vectorized plates: runs the site and converts its value to the typed
/// tensor [`SiteOut`].
///
/// ```
/// use pyro::prelude::*;
/// let x: Tensor<(usize,)> = pyro::plate("data", 4)
///     .run(|_| Ok(pyro::dsl::sample::<_, _, 1>("x", Normal::new(0.0, 1.0), Default::default())?))
///     .unwrap();
/// assert_eq!(x.shape().0, 4);
/// ```
pub fn sample<D: Backend, T: SiteDist<D>, const K: usize>(
    name: &str,
    dist: T,
    opts: SampleOptions<D>,
) -> PyroResult<SiteOut<D, T, K>>
where
    T::Shape: SiteValue<D, K>,
{
    let value = run_sample(name, dist, opts)?;
    FromSite::from_site(name, value)
}

/// `sample!` whose value type comes from the context (inside a plate whose `dim` is not a
/// literal).
///
/// ```
/// use pyro::prelude::*;
/// let x: DynTensor = pyro::dsl::sample_inferred("x", Normal::new(0.0, 1.0), Default::default()).unwrap();
/// assert_eq!(x.rank(), 0);
/// ```
pub fn sample_inferred<D: Backend, T: SiteDist<D>, O: FromSite<D>>(
    name: &str,
    dist: T,
    opts: SampleOptions<D>,
) -> PyroResult<O> {
    let value = run_sample(name, dist, opts)?;
    O::from_site(name, value)
}

fn run_sample<D: Backend, T: SiteDist<D>>(
    name: &str,
    dist: T,
    opts: SampleOptions<D>,
) -> PyroResult<DynTensor<D>> {
    let dist = dist
        .into_shared()
        .map_err(|e| PyroError::at_site(name, e))?;
    crate::primitives::sample_with(name, dist, opts)
}

/// The initial value of `param!`: an `f32` (a scalar on the default device), a `[f32; N]`,
/// a typed tensor or a [`DynTensor`] (or a reference to one). The parameter has the same
/// shape type.
///
/// ```
/// use pyro::dsl::ParamValue;
/// let v = [1.0f32, 2.0].into_dyn().unwrap();
/// assert_eq!(v.shape(), &[2]);
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot initialize a parameter",
    label = "expected an initial value",
    note = "`param!` takes an `f32`, a `[f32; N]`, a `Tensor<S>`, a `DynTensor`, or a closure `|| value` for a lazy initial value"
)]
pub trait ParamValue {
    /// The device of the parameter.
    type Device: Backend;
    /// The type `param!` returns.
    type Out: FromSite<Self::Device>;
    /// The shape-erased initial value (or the error a typed tensor carries).
    fn into_dyn(self) -> TensorResult<DynTensor<Self::Device>>;
    /// The initial value's shape, without building it (`None` for a typed tensor that
    /// carries an error).
    fn dims(&self) -> Option<Vec<usize>>;
}

impl ParamValue for f32 {
    type Device = DefaultDevice;
    type Out = Tensor<Rank0, DefaultDevice>;
    fn into_dyn(self) -> TensorResult<DynTensor<DefaultDevice>> {
        Ok(DynTensor::scalar(self))
    }
    fn dims(&self) -> Option<Vec<usize>> {
        Some(vec![])
    }
}
impl<const N: usize> ParamValue for [f32; N] {
    type Device = DefaultDevice;
    type Out = Tensor<Rank1<N>, DefaultDevice>;
    fn into_dyn(self) -> TensorResult<DynTensor<DefaultDevice>> {
        DynTensor::from_vec(self.to_vec(), &[N])
    }
    fn dims(&self) -> Option<Vec<usize>> {
        Some(vec![N])
    }
}
impl<S: Shape, D: Backend> ParamValue for Tensor<S, D> {
    type Device = D;
    type Out = Tensor<S, D>;
    fn into_dyn(self) -> TensorResult<DynTensor<D>> {
        Tensor::into_dyn(self)
    }
    fn dims(&self) -> Option<Vec<usize>> {
        self.dims().ok().map(<[usize]>::to_vec)
    }
}
impl<S: Shape, D: Backend> ParamValue for &Tensor<S, D> {
    type Device = D;
    type Out = Tensor<S, D>;
    fn into_dyn(self) -> TensorResult<DynTensor<D>> {
        self.as_dyn().cloned()
    }
    fn dims(&self) -> Option<Vec<usize>> {
        Tensor::dims(self).ok().map(<[usize]>::to_vec)
    }
}
impl<D: Backend> ParamValue for DynTensor<D> {
    type Device = D;
    type Out = DynTensor<D>;
    fn into_dyn(self) -> TensorResult<DynTensor<D>> {
        Ok(self)
    }
    fn dims(&self) -> Option<Vec<usize>> {
        Some(self.shape().to_vec())
    }
}
impl<D: Backend> ParamValue for &DynTensor<D> {
    type Device = D;
    type Out = DynTensor<D>;
    fn into_dyn(self) -> TensorResult<DynTensor<D>> {
        Ok(self.clone())
    }
    fn dims(&self) -> Option<Vec<usize>> {
        Some(self.shape().to_vec())
    }
}

/// `param!(name, init, ..)`: the constrained parameter, typed like `init`.
///
/// ```
/// use pyro::prelude::*;
/// pyro::clear_param_store();
/// let p: Tensor<Rank0> = pyro::dsl::param("p", 0.25, Constraint::UnitInterval, None).unwrap();
/// assert!((p.item().unwrap() - 0.25).abs() < 1e-6);
/// ```
pub fn param<V: ParamValue>(
    name: &str,
    init: V,
    constraint: Constraint,
    event_dim: Option<usize>,
) -> PyroResult<V::Out> {
    // The initial value is ignored once the parameter exists (as in Pyro): only build its
    // tensor when the store lacks it. Its shape is still checked against the stored value's:
    // another shape is a parameter left over from another model.
    if let Some(dims) = init.dims() {
        let stored =
            crate::params::with_param_store_on::<V::Device, _>(|s| s.other_shape(name, &dims))
                .map_err(|e| PyroError::ParamStoreAt {
                    site: name.to_string(),
                    source: Box::new(e),
                })?;
        if let Some(stored) = stored {
            return Err(PyroError::ParamShape {
                param: name.to_string(),
                stored,
                expected: dims,
            });
        }
    }
    param_lazy(name, || init, constraint, event_dim)
}

/// `param!(name, || init, ..)`: like [`param`], but `init` is only called when the parameter
/// does not exist yet. The closure may borrow from the model (it need not be `'static`).
///
/// ```
/// use pyro::prelude::*;
/// pyro::clear_param_store();
/// let mut calls = 0;
/// for _ in 0..3 {
///     let _: Tensor<Rank0> = pyro::dsl::param_lazy("q", || { calls += 1; 1.0 }, Constraint::Positive, None).unwrap();
/// }
/// assert_eq!(calls, 1);
/// ```
pub fn param_lazy<V: ParamValue, F: FnOnce() -> V>(
    name: &str,
    init: F,
    constraint: Constraint,
    event_dim: Option<usize>,
) -> PyroResult<V::Out> {
    // `ParamInit::Lazy` needs a `'static` closure; evaluate here instead, only when the store
    // lacks the parameter (the store then provides the value, so no init is needed).
    let exists =
        crate::params::with_param_store_on::<V::Device, _>(|s| s.contains(name)).map_err(|e| {
            PyroError::ParamStoreAt {
                site: name.to_string(),
                source: Box::new(e),
            }
        })?;
    let init = if exists {
        None
    } else {
        Some(ParamInit::Value(init().into_dyn().map_err(|e| {
            PyroError::SiteTensor {
                site: name.to_string(),
                source: e,
            }
        })?))
    };
    let value = crate::primitives::param_on(name, init, constraint, event_dim)?;
    FromSite::from_site(name, value)
}

/// `subsample!(data, event_dim = k)`: `data` indexed by the batch indices of the enclosing
/// vectorized plates (Pyro's `pyro.subsample`), with the same type.
///
/// ```
/// use pyro::prelude::*;
/// let data = DynTensor::<Cpu>::from_vec(vec![0.0, 1.0, 2.0, 3.0], &[4]).unwrap();
/// let p = pyro::plate("d", 4).subsample(vec![3, 1]).enter().unwrap();
/// let batch: DynTensor = pyro::dsl::subsample(&data, 0).unwrap();
/// assert_eq!(batch.to_vec(), vec![3.0, 1.0]);
/// # drop(p);
/// ```
pub fn subsample<D: Backend, T: TensorArg<D>>(data: T, event_dim: usize) -> PyroResult<T::Out> {
    let out = crate::poutine::subsample(&data.into_dyn()?, event_dim)?;
    FromSite::from_site("subsample!", out)
}

/// `factor!(name, log_factor)`: adds `log_factor` to the log-density.
///
/// ```
/// use pyro::prelude::*;
/// pyro::dsl::factor::<Cpu, _>("f", -1.5).unwrap();
/// ```
pub fn factor<D: Backend, T: TensorArg<D>>(name: &str, log_factor: T) -> PyroResult<()> {
    let value = log_factor.into_dyn().map_err(|e| PyroError::SiteTensor {
        site: name.to_string(),
        source: e,
    })?;
    crate::primitives::factor_on(name, value)
}

/// `deterministic!(name, value, event_dim = k)`: records `value` in the trace and returns it
/// (as the handlers leave it), with the same type.
///
/// ```
/// use pyro::prelude::*;
/// let v: Tensor<Rank0> = pyro::dsl::deterministic::<Cpu, _>("d", 2.0, 0).unwrap();
/// assert_eq!(v.item().unwrap(), 2.0);
/// ```
pub fn deterministic<D: Backend, T: TensorArg<D>>(
    name: &str,
    value: T,
    event_dim: usize,
) -> PyroResult<T::Out> {
    let value = value.into_dyn().map_err(|e| PyroError::SiteTensor {
        site: name.to_string(),
        source: e,
    })?;
    let v = crate::primitives::deterministic_on(name, value, event_dim)?;
    FromSite::from_site(name, v)
}

pub use crate::infer::check_model_guide;

/// Stands in for a site macro call that could not be read; the macro reports why with a
/// `compile_error!`, so a crate containing this call never builds and it never runs.
#[doc(hidden)]
pub fn invalid_site<T>() -> T {
    unreachable!("a site macro with a compile error cannot run")
}
