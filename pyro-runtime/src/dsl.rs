//! The modelling DSL: `#[model]`, `#[guide(model = ..)]`, `#[models]` and the site macros,
//! and the run-time side of it (what the macros expand to, and [`check_model_guide`]).
//!
//! ```
//! use pyro::prelude::*;
//!
//! #[model]
//! fn model(x: &Tensor<(usize,)>, y: Option<&Tensor<(usize,)>>) -> PyroResult<()> {
//!     let w = sample!("w", Normal::new(0.0, 1.0));            // Tensor<Rank0>
//!     let s = param!("s", 1.0, constraint = Constraint::Positive);
//!     let mean = w * x; // a Rank0 broadcasts against any shape
//!     plate!("data", x.shape().0, {
//!         sample!("y", Normal::new(&mean, &s), obs = y);      // latent when `y` is None
//!     });
//!     Ok(())
//! }
//!
//! #[guide(model = model)]
//! fn guide(_x: &Tensor<(usize,)>, _y: Option<&Tensor<(usize,)>>) -> PyroResult<()> {
//!     let w_loc = param!("w_loc", 0.0);
//!     sample!("w", Normal::new(&w_loc, 0.1));
//!     Ok(())
//! }
//!
//! let x: Tensor<(usize,)> = Tensor::from_vec(vec![1.0, 2.0, 3.0], (3,)).unwrap();
//! model(&x, None).unwrap(); // an ordinary function: called with no handler, it draws from the prior
//! guide(&x, None).unwrap();
//! ```
//!
//! # The macros
//!
//! Site names are string literals (checked when compiling) or `format!(..)` calls (names
//! built at run time: indexed names in sequential plates, module paths; checked when running).
//! Arguments after the positional ones are named (`key = value`); an unknown, repeated or
//! missing argument is a compile error at the offending token. Each site macro inserts `?`, so
//! a model or guide returns `PyroResult<T>` (or any `Result<T, E>` with `E: From<PyroError>`).
//!
//! | form | meaning (Pyro) |
//! |---|---|
//! | `sample!("z", dist)` | latent site (`pyro.sample("z", dist)`) |
//! | `sample!("y", dist, obs = value)` | observed site; `value` is a `Tensor`, `&Tensor`, `DynTensor` or `f32` |
//! | `sample!("y", dist, obs = y)` with `y: Option<..>` | observed when `Some`, latent when `None` (`obs=None`) |
//! | `sample!("y", dist, obs = v, obs_mask = mask)` | partly observed (`<name>_observed` / `<name>_unobserved` sites) |
//! | `sample!("z", dist, infer = config)` | with an [`InferConfig`](crate::poutine::InferConfig); a guide need not cover it |
//! | `param!("w", init)` | learnable parameter; `init` is an `f32`, `[f32; N]`, `Tensor`, `DynTensor` |
//! | `param!("w", \|\| init)` | lazy initial value, computed only when the parameter does not exist |
//! | `param!("w", init, constraint = c, event_dim = k)` | constrained parameter (`constraints.positive`, ...) |
//! | `plate!("data", n, { .. })` | vectorized plate over a block (`with pyro.plate(..)`) |
//! | `plate!("data", n, subsample_size = b, dim = -2, \|p\| { .. })` | `p: &Plate` gives the batch (`p.indices()`) |
//! | `plate!("data", n, subsample = indices, { .. })` | explicit batch indices (`Vec<usize>`) |
//! | `for i in plate!("seq", n) { .. }` | sequential plate (`for i in pyro.plate(..)`) |
//! | `subsample!(data)`, `subsample!(data, event_dim = 1)` | `data` indexed by the enclosing plates' batch |
//! | `factor!("f", log_factor)` | adds a log-density term (`pyro.factor`) |
//! | `deterministic!("d", value, event_dim = 0)` | records a value (`pyro.deterministic`) |
//!
//! A plate's body runs in place, as Python's `with` block: `?` and `return` in it act on the
//! enclosing function. An observation is *optional* when the macros can see an `Option`: the
//! value is a function argument or a `let` declared with an `Option<..>` type (possibly with
//! `.as_ref()`, `.as_deref()`, `.cloned()`), or it is `None`; `Some(x)` is always observed.
//! Anything else is read as always observed, and an `Option` there is a type error saying so.
//!
//! # What `#[guide(model = m)]` checks when compiling
//!
//! `#[model]` emits, next to the function, a hidden `macro_rules!` named
//! `__pyro_model_sites_of_<name>` that hands the model's site list to a callback;
//! `#[guide(model = m)]` expands to a call of `m`'s site macro (the path's last segment
//! renamed) with the guide's site list, and the callback reports, at the guide's tokens:
//! a latent model site without a guide site (at the guide's name), a guide site the model does
//! not have (with a "did you mean"), a guide site that the model always observes, and a site
//! inside different plates in the two. Within every `#[model]`/`#[guide]` function: a site name
//! used twice (except in different arms of one `if`/`match`), a literal site name inside a
//! loop, a name used for both a site and a param, an empty or non-literal name, an observed
//! guide site. If `m` is not a `#[model]`, rustc reports "cannot find macro
//! `__pyro_model_sites_of_m`" at `m`. The model must be in the same crate.
//!
//! Model and guide as methods of one struct (Pyro's VAE) are checked by `#[models]` on the
//! `impl` block, with `#[guide(model = model)]` (or `Self::model`) on the guide method. A
//! `#[model]` on a method without `#[models]` is rewritten but cannot be named by a guide.
//!
//! A model or guide that calls other functions with sites cannot be checked statically:
//! `#[guide(model = m, check = runtime)]` leaves the matching to [`check_model_guide`].
//! Run-time names are matched by their shape (`format!("x_{i}")` covers `x_0`, `x_1`, ...).
//!
//! # Value types
//!
//! The expansions call the functions of this module with typed values; the functions talk
//! to the shape-erased runtime ([`crate::primitives`]) and convert back, so a model sees
//! typed dfdx tensors whose shape type follows from the distribution and the plates:
//!
//! | distribution's value shape | enclosing vectorized plates | value type of `sample!` |
//! |---|---|---|
//! | `Rank0` (`Normal::new(0.0, 1.0)`) | 0 | `Tensor<Rank0>` |
//! | `Rank0` | 1 | `Tensor<(usize,)>` |
//! | `(A,)` (a parameter of type `Tensor<(A,)>`) | 1 | `Tensor<(A,)>` |
//! | `(A,)` | 2 | `Tensor<(usize, A)>` |
//! | run-time shape (`DynTensor` parameters, `.to_event(..)`, boxed) | any | `DynTensor` |
//!
//! The number of plates is the lexical nesting of `plate!` blocks in the function (or the
//! largest literal `dim`). A plate whose `dim` is not a literal makes the value type come from
//! the context instead (annotate it, e.g. `let x: Tensor<(usize, usize)> = sample!(..)`).
//! Plates entered outside the function (by a caller) add dims the types cannot know about:
//! the conversion then fails at run time with an error naming the site and both shapes.
//! `param!` returns the shape type of its initial value.
//!
//! ```
//! use pyro::prelude::*;
//! // What `let z = sample!("z", Normal::new(0.0, 1.0));` becomes inside a #[model]:
//! let z: Tensor<Rank0> =
//!     pyro::dsl::sample::<_, _, 0>("z", Normal::new(0.0, 1.0), Default::default()).unwrap();
//! assert!(z.item().unwrap().is_finite());
//! ```

use std::rc::Rc;

use dfdx::prelude::{Rank0, Rank1};
use dfdx::shapes::{Dim, Shape};

use crate::constraints::Constraint;
use crate::distributions::{
    Bernoulli, Beta, Binomial, BoxDist, Categorical, Cauchy, Delta, DistError, DynShape,
    Exponential, Gamma, HalfCauchy, HalfNormal, Independent, InverseGamma, Laplace, LogNormal,
    Normal, Poisson, StudentT, Uniform, Unit,
};
use crate::error::{PyroError, PyroResult, TensorResult};
use crate::params::ParamInit;
use crate::poutine::SharedDist;

use crate::primitives::SampleOptions;
use crate::tensor::{Backend, DefaultDevice, DynTensor, Tensor};

// ----- distributions ------------------------------------------------------------------------

/// What `sample!` accepts as its distribution, with the shape type of one value: a typed
/// distribution (its [`TypedDistribution::Shape`](crate::distributions::TypedDistribution::Shape)), one with run-time shaped parameters or a
/// boxed one ([`DynShape`]: the value is a [`DynTensor`]), or the `Result` of a validating
/// constructor (its error is reported with the site's name).
///
/// ```
/// use pyro::prelude::*;
/// use pyro::dsl::SiteDist;
/// fn shape_of<T: SiteDist<Cpu>>(_: &T) -> &'static str { std::any::type_name::<T::Shape>() }
/// assert_eq!(shape_of(&Normal::new(0.0, 1.0)), "()");
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a distribution",
    label = "`sample!` needs a distribution here",
    note = "write a distribution such as `Normal::new(0.0, 1.0)` (its `Result` is accepted too), or a `BoxDist`"
)]
pub trait SiteDist<D: Backend> {
    /// The dfdx shape type of one value outside plates, or [`DynShape`].
    type Shape;
    /// Boxes the distribution, or returns the constructor's error.
    fn into_box(self) -> Result<BoxDist<D>, DistError>;
    /// The distribution behind a shared pointer (what the site's message carries), or the
    /// constructor's error.
    fn into_shared(self) -> Result<SharedDist<D>, DistError>
    where
        Self: Sized,
    {
        self.into_box().map(Rc::from)
    }
}

impl<D: Backend, X: SiteDist<D>> SiteDist<D> for Result<X, DistError> {
    type Shape = X::Shape;
    fn into_box(self) -> Result<BoxDist<D>, DistError> {
        self?.into_box()
    }
    fn into_shared(self) -> Result<SharedDist<D>, DistError> {
        self?.into_shared()
    }
}

impl<D: Backend> SiteDist<D> for BoxDist<D> {
    type Shape = DynShape;
    fn into_box(self) -> Result<BoxDist<D>, DistError> {
        Ok(self)
    }
}

impl<D: Backend> SiteDist<D> for Unit<D> {
    type Shape = DynShape;
    fn into_box(self) -> Result<BoxDist<D>, DistError> {
        Ok(Box::new(self))
    }
    fn into_shared(self) -> Result<SharedDist<D>, DistError> {
        Ok(Rc::new(self))
    }
}

// `.to_event(n)` moves batch dims into the event, which the shape type cannot follow inside
// plates: the value is a `DynTensor`.
impl<D: Backend, T: crate::distributions::Distribution<D> + Clone> SiteDist<D>
    for Independent<T, D>
{
    type Shape = DynShape;
    fn into_box(self) -> Result<BoxDist<D>, DistError> {
        Ok(Box::new(self))
    }
    fn into_shared(self) -> Result<SharedDist<D>, DistError> {
        Ok(Rc::new(self))
    }
}

/// The distribution families: the shape type parameter `S` is the value's shape type (a dfdx
/// shape, or [`DynShape`] for run-time shaped parameters).
macro_rules! shaped {
    ($($ty:ident),* $(,)?) => {$(
        impl<S, D: Backend> SiteDist<D> for $ty<S, D>
        where
            $ty<S, D>: crate::distributions::Distribution<D>,
        {
            type Shape = S;
            fn into_box(self) -> Result<BoxDist<D>, DistError> {
                Ok(Box::new(self))
            }
            fn into_shared(self) -> Result<SharedDist<D>, DistError> {
                Ok(Rc::new(self))
            }
        }
    )*};
}
macro_rules! register {
    (shaped: [$($a:ident),*], event: [$($b:ident),*]) => {
        shaped!($($a),*);
    };
}
crate::__distribution_families!(register);

// ----- typed values -------------------------------------------------------------------------

/// A value a site hands back to the model: a typed tensor (the shape is checked at run time)
/// or a [`DynTensor`].
///
/// ```
/// use pyro::prelude::*;
/// use pyro::dsl::FromSite;
/// let x = DynTensor::<Cpu>::zeros(&[3]);
/// let t = <Tensor<(usize,)> as FromSite<Cpu>>::from_site("x", x.clone()).unwrap();
/// assert_eq!(t.shape().0, 3);
/// let err = <Tensor<Rank0> as FromSite<Cpu>>::from_site("x", x).unwrap_err();
/// assert!(err.to_string().contains("site `x`") && err.to_string().contains("[3]"));
/// ```
pub trait FromSite<D: Backend>: Sized {
    /// Converts the site's value; the error names the site and both shapes.
    fn from_site(site: &str, value: DynTensor<D>) -> PyroResult<Self>;
}

impl<D: Backend> FromSite<D> for DynTensor<D> {
    fn from_site(_: &str, value: DynTensor<D>) -> PyroResult<Self> {
        Ok(value)
    }
}

impl<S: Shape, D: Backend> FromSite<D> for Tensor<S, D> {
    fn from_site(site: &str, value: DynTensor<D>) -> PyroResult<Self> {
        Tensor::from_dyn(value.clone()).map_err(|_| PyroError::SiteMismatch {
            site: site.to_string(),
            reason: format!(
                "the value has shape {:?}, which does not fit the type `{}` (rank {}) the code \
                 expects; a value gains one leading dim per enclosing vectorized plate, \
                 including plates entered outside this function",
                value.shape(),
                std::any::type_name::<S>(),
                S::NUM_DIMS
            ),
        })
    }
}

/// Maps the value shape type of a distribution to the type of a site's value inside `K`
/// vectorized plates: leading dims the plates add are `usize` (see the table in the
/// [module docs](self)). Defined for ranks and `K` up to 4.
///
/// ```
/// use pyro::prelude::*;
/// use pyro::dsl::SiteValue;
/// fn out<S: SiteValue<Cpu, 2>>() -> &'static str { std::any::type_name::<S::Out>() }
/// assert!(out::<Rank0>().contains("(usize, usize)"));
/// ```
pub trait SiteValue<D: Backend, const K: usize> {
    /// The value's type.
    type Out: FromSite<D>;
}

impl<D: Backend, const K: usize> SiteValue<D, K> for DynShape {
    type Out = DynTensor<D>;
}

macro_rules! site_value {
    ($k:literal: ($($d:ident),*) => $out:ty) => {
        impl<D: Backend, $($d: Dim),*> SiteValue<D, $k> for ($($d,)*) {
            type Out = Tensor<$out, D>;
        }
    };
}
site_value!(0: () => ());
site_value!(1: () => (usize,));
site_value!(2: () => (usize, usize));
site_value!(3: () => (usize, usize, usize));
site_value!(4: () => (usize, usize, usize, usize));
site_value!(0: (A) => (A,));
site_value!(1: (A) => (A,));
site_value!(2: (A) => (usize, A));
site_value!(3: (A) => (usize, usize, A));
site_value!(4: (A) => (usize, usize, usize, A));
site_value!(0: (A, B) => (A, B));
site_value!(1: (A, B) => (A, B));
site_value!(2: (A, B) => (A, B));
site_value!(3: (A, B) => (usize, A, B));
site_value!(4: (A, B) => (usize, usize, A, B));
site_value!(0: (A, B, C) => (A, B, C));
site_value!(1: (A, B, C) => (A, B, C));
site_value!(2: (A, B, C) => (A, B, C));
site_value!(3: (A, B, C) => (A, B, C));
site_value!(4: (A, B, C) => (usize, A, B, C));
site_value!(0: (A, B, C, E) => (A, B, C, E));
site_value!(1: (A, B, C, E) => (A, B, C, E));
site_value!(2: (A, B, C, E) => (A, B, C, E));
site_value!(3: (A, B, C, E) => (A, B, C, E));
site_value!(4: (A, B, C, E) => (A, B, C, E));

/// The value type of a `sample!` site with distribution `T` inside `K` vectorized plates.
///
/// ```
/// use pyro::prelude::*;
/// use pyro::distributions::DistResult;
/// let _: Option<pyro::dsl::SiteOut<Cpu, DistResult<Normal>, 1>> = None::<Tensor<(usize,)>>;
/// ```
pub type SiteOut<D, T, const K: usize> = <<T as SiteDist<D>>::Shape as SiteValue<D, K>>::Out;

// ----- tensors handed to sites ----------------------------------------------------------------

/// A tensor argument of a site (`obs = ..`, `factor!`, `deterministic!`, `subsample!`): a
/// typed dfdx tensor of any tape, a [`DynTensor`], a reference to either, or an `f32`.
///
/// ```
/// use pyro::prelude::*;
/// use pyro::dsl::TensorArg;
/// let d = <f32 as TensorArg<Cpu>>::into_dyn(2.0).unwrap();
/// assert_eq!(d.item().unwrap(), 2.0);
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a tensor",
    label = "expected a tensor here",
    note = "pass a `Tensor<S>` (a dfdx tensor), a `DynTensor`, a reference to one, or an `f32`"
)]
pub trait TensorArg<D: Backend> {
    /// The typed value handed back (same shape type; `Tensor<Rank0>` for an `f32`).
    type Out: FromSite<D>;
    /// The shape-erased value (or the error a typed tensor carries).
    fn into_dyn(self) -> TensorResult<DynTensor<D>>;
}

/// An observation of a site that is always observed (`obs = value` with a value that is not
/// an `Option`).
///
/// ```
/// use pyro::prelude::*;
/// let y = DynTensor::<Cpu>::scalar(1.0);
/// assert!(pyro::dsl::observed::<Cpu, _>(&y).unwrap().is_some());
/// ```
#[diagnostic::on_unimplemented(
    message = "`obs = ...` needs a tensor, found `{Self}`",
    label = "#[model] reads this site as always observed, so this must be a tensor",
    note = "an observation that may be absent (Pyro's `obs=None`) must be visibly an `Option`: a function argument or a `let` declared with an `Option<..>` type (e.g. `y: Option<&Tensor<(usize,)>>`, then `obs = y`)"
)]
pub trait Observation<D: Backend> {
    /// The observed value.
    fn into_obs(self) -> TensorResult<DynTensor<D>>;
}

/// An observation that may be absent (`obs = y` with `y: Option<..>`): the site is latent
/// when it is `None` (Pyro's `obs=None`).
///
/// ```
/// use pyro::prelude::*;
/// let y: Option<&DynTensor<Cpu>> = None;
/// assert!(pyro::dsl::maybe_observed::<Cpu, _>(y).unwrap().is_none());
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an `Option`",
    label = "#[model] reads this observation as optional because it is declared with an `Option<..>` type",
    note = "a name declared `Option<..>` was shadowed by a non-optional value; rename one of them"
)]
pub trait MaybeObservation<D: Backend> {
    /// The observed value, if any.
    fn into_maybe_obs(self) -> TensorResult<Option<DynTensor<D>>>;
}

impl<S: Shape, D: Backend> TensorArg<D> for Tensor<S, D> {
    type Out = Tensor<S, D>;
    fn into_dyn(self) -> TensorResult<DynTensor<D>> {
        Tensor::into_dyn(self)
    }
}
impl<S: Shape, D: Backend> TensorArg<D> for &Tensor<S, D> {
    type Out = Tensor<S, D>;
    fn into_dyn(self) -> TensorResult<DynTensor<D>> {
        self.as_dyn().cloned()
    }
}
impl<D: Backend> TensorArg<D> for DynTensor<D> {
    type Out = DynTensor<D>;
    fn into_dyn(self) -> TensorResult<DynTensor<D>> {
        Ok(self)
    }
}
impl<D: Backend> TensorArg<D> for &DynTensor<D> {
    type Out = DynTensor<D>;
    fn into_dyn(self) -> TensorResult<DynTensor<D>> {
        Ok(self.clone())
    }
}
impl<D: Backend> TensorArg<D> for f32 {
    type Out = Tensor<Rank0, D>;
    fn into_dyn(self) -> TensorResult<DynTensor<D>> {
        Ok(DynTensor::scalar(self))
    }
}

impl<S: Shape, D: Backend> Observation<D> for Tensor<S, D> {
    fn into_obs(self) -> TensorResult<DynTensor<D>> {
        TensorArg::into_dyn(self)
    }
}
impl<S: Shape, D: Backend> Observation<D> for &Tensor<S, D> {
    fn into_obs(self) -> TensorResult<DynTensor<D>> {
        TensorArg::into_dyn(self)
    }
}
impl<D: Backend> Observation<D> for DynTensor<D> {
    fn into_obs(self) -> TensorResult<DynTensor<D>> {
        Ok(self)
    }
}
impl<D: Backend> Observation<D> for &DynTensor<D> {
    fn into_obs(self) -> TensorResult<DynTensor<D>> {
        Ok(self.clone())
    }
}
impl<D: Backend> Observation<D> for f32 {
    fn into_obs(self) -> TensorResult<DynTensor<D>> {
        Ok(DynTensor::scalar(self))
    }
}

impl<D: Backend, T: Observation<D>> MaybeObservation<D> for Option<T> {
    fn into_maybe_obs(self) -> TensorResult<Option<DynTensor<D>>> {
        self.map(Observation::into_obs).transpose()
    }
}
impl<D: Backend, T: Observation<D> + Clone> MaybeObservation<D> for &Option<T> {
    fn into_maybe_obs(self) -> TensorResult<Option<DynTensor<D>>> {
        self.clone().map(Observation::into_obs).transpose()
    }
}

/// `obs = value` of an always-observed site (or the error the value carries from an
/// earlier operation).
pub fn observed<D: Backend, O: Observation<D>>(value: O) -> PyroResult<Option<DynTensor<D>>> {
    Ok(Some(value.into_obs()?))
}

/// `obs = value` of a site whose observation may be absent.
pub fn maybe_observed<D: Backend, O: MaybeObservation<D>>(
    value: O,
) -> PyroResult<Option<DynTensor<D>>> {
    Ok(value.into_maybe_obs()?)
}

/// `obs_mask = ..`: which elements of `obs` are observed, as `(flags, batch shape)` or as
/// flags over a 1-d batch.
///
/// ```
/// let m = pyro::dsl::obs_mask(vec![true, false]);
/// assert_eq!(m, Some((vec![true, false], vec![2])));
/// ```
pub fn obs_mask(mask: impl IntoObsMask) -> Option<(Vec<bool>, Vec<usize>)> {
    Some(mask.into_obs_mask())
}

/// See [`obs_mask`].
///
/// ```
/// use pyro::dsl::IntoObsMask;
/// assert_eq!((vec![true], vec![1]).into_obs_mask(), (vec![true], vec![1]));
/// ```
#[diagnostic::on_unimplemented(
    message = "`obs_mask` must be a `Vec<bool>` or a `(Vec<bool>, Vec<usize>)` of flags and their shape, found `{Self}`"
)]
pub trait IntoObsMask {
    /// The flags (row-major) and their shape.
    fn into_obs_mask(self) -> (Vec<bool>, Vec<usize>);
}
impl IntoObsMask for (Vec<bool>, Vec<usize>) {
    fn into_obs_mask(self) -> (Vec<bool>, Vec<usize>) {
        self
    }
}
impl IntoObsMask for Vec<bool> {
    fn into_obs_mask(self) -> (Vec<bool>, Vec<usize>) {
        let n = self.len();
        (self, vec![n])
    }
}
impl IntoObsMask for &[bool] {
    fn into_obs_mask(self) -> (Vec<bool>, Vec<usize>) {
        (self.to_vec(), vec![self.len()])
    }
}

// ----- the primitives ------------------------------------------------------------------------

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
