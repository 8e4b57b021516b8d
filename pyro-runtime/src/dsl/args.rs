//! Tensors a model hands to sites: data ([`TensorArg`]), observations ([`Observation`],
//! [`MaybeObservation`]) and observation masks ([`IntoObsMask`]).

use super::FromSite;
use dfdx::prelude::Rank0;
use dfdx::shapes::Shape;

use crate::error::{PyroResult, TensorResult};
use crate::tensor::{Backend, DynTensor, Tensor};

/// A tensor argument of a site (`obs = ..`, `factor!`, `deterministic!`, `subsample!`): a
/// typed [`Tensor`], a [`DynTensor`], a reference to either, or an `f32`.
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
    note = "pass a `Tensor<S>`, a `DynTensor`, a reference to one, or an `f32` (a dfdx tensor crosses over with `Tensor::from_dfdx`)"
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
