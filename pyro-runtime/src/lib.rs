//! # pyro-rs runtime
//!
//! A deep probabilistic programming language for Rust, modelled on
//! [Pyro](https://pyro.ai). This crate (imported as `pyro`) holds the runtime: differentiable
//! tensors on dfdx with one shared gradient tape ([`tensor`]), distributions
//! ([`distributions`]), constraints and transforms, and the parameter store ([`params`]).
//!
//! ```
//! use pyro::prelude::*;
//! pyro::set_rng_seed(0);
//! let d = Normal::new(0.0, 1.0).unwrap();
//! let x = d.sample_global(&[1000]).unwrap();
//! assert_eq!(x.shape(), &[1000]);
//! ```

pub mod constraints;
pub mod distributions;
pub mod dsl;
pub mod error;
mod fast_hash;
pub mod infer;
pub mod linalg;
mod name;
pub mod optim;
pub mod params;
pub mod poutine;
pub mod prelude;
pub mod primitives;
pub mod rng;
mod silent_panic;
pub mod tensor;
pub mod transforms;
mod validation;

pub use error::{PyroError, PyroResult};
pub use params::clear_param_store;
pub use poutine::{plate, plate_stack, subsample};
pub use primitives::{deterministic, factor, observe, param, param_with, sample, sample_with};
pub use rng::set_rng_seed;
pub use tensor::DefaultDevice;

#[doc(hidden)]
pub use pyro_macros::__guide_with_model;
/// The modelling DSL: `#[model]`, `#[guide(model = ..)]`, `#[models]` and the site macros
/// (outside a `#[model]`/`#[guide]` function the site macros are a compile error). See [`dsl`].
pub use pyro_macros::{
    deterministic, factor, guide, model, models, param, plate, sample, subsample,
};
pub use validation::{enable_validation, is_validation_enabled};
