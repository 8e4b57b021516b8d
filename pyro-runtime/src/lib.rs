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
pub mod error;
pub mod linalg;
pub mod params;
pub mod prelude;
pub mod rng;
pub mod tensor;
mod validation;

pub use params::clear_param_store;
pub use rng::set_rng_seed;
pub use validation::{enable_validation, is_validation_enabled};

pub use pyro_macros::{param, plate, sample};
