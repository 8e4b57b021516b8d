//! The distributions a site accepts ([`SiteDist`]) and the shape type of the value each
//! gives back.

use std::rc::Rc;

use crate::distributions::{
    Bernoulli, Beta, Binomial, BoxDist, Categorical, Cauchy, Delta, DistError, DynShape,
    Exponential, Gamma, HalfCauchy, HalfNormal, Independent, InverseGamma, Laplace, LogNormal,
    Normal, Poisson, StudentT, Uniform, Unit,
};
use crate::poutine::SharedDist;
use crate::tensor::Backend;

/// What `sample!` accepts as its distribution, with the shape type of one value: a typed
/// distribution (its [`TypedDistribution::Shape`](crate::distributions::TypedDistribution::Shape)), one with run-time shaped parameters or a
/// boxed one ([`DynShape`]: the value is a [`DynTensor`](crate::tensor::DynTensor)), or the `Result` of a validating
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
