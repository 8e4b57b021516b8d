//! The values a site hands back to the model ([`FromSite`]) and the value type a site of a
//! given shape has under `K` plates ([`SiteValue`]).

use super::SiteDist;
use dfdx::shapes::{Dim, Shape};

use crate::distributions::DynShape;
use crate::error::{PyroError, PyroResult};
use crate::tensor::{Backend, DynTensor, Tensor};

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
/// [module docs](crate::dsl)). Defined for ranks and `K` up to 4.
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
