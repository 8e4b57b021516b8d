//! Everything a model needs: `use pyro::prelude::*;`.

// dfdx's shape types give tensors their compile-time shapes; its devices run them.
pub use dfdx::prelude::{Axes2, Axes3, Axis, Const, Cpu, Rank0, Rank1, Rank2, Rank3, Rank4};
pub use dfdx::shapes::Shape;

pub use crate::constraints::Constraint;
pub use crate::distributions::{
    kl_divergence, Dirichlet, LowRankMultivariateNormal, MultivariateNormal,
};
pub use crate::distributions::{
    Bernoulli, Beta, Binomial, BoxDist, Categorical, Cauchy, Delta, DistError, Distribution,
    DistributionExt, Exponential, Gamma, HalfCauchy, HalfNormal, Independent, InverseGamma,
    Laplace, LogNormal, Normal, Poisson, StudentT, TypedDistribution, Uniform,
};
pub use crate::error::{PyroError, PyroResult};
pub use crate::optim::{
    Adagrad, AdagradConfig, Adam, AdamConfig, ClippedAdam, ClippedAdamConfig, ExponentialLr,
    OptimError, Optimizer, RmsProp, RmsPropConfig, Scheduled, Sgd, SgdConfig, StepLr,
};
pub use crate::params::{ParamInit, ParamStore};
pub use crate::tensor::{Backend, DynTensor, GradScope, Grads, Special, Tensor};
pub use crate::transforms::{biject_to, transform_to, BoxTransform, Transform, TransformError};
pub use crate::{deterministic, factor, guide, model, models, param, plate, sample, subsample};
