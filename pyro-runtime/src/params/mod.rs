//! The parameter store: named, constrained, learnable parameters (Pyro's `pyro.param` and
//! `ParamStoreDict`).
//!
//! A parameter is stored as an **unconstrained** leaf tensor together with its
//! [`Constraint`](crate::constraints::Constraint) and `event_dim`; reading it gives the
//! constrained value `transform_to(constraint)(leaf)`, computed on the gradient tape, so the
//! gradient of a loss reaches the leaf, which is what optimizers update. Every constraint that
//! [`transform_to`](crate::transforms::transform_to) maps onto can be used, the event-shaped
//! ones (`simplex`, `lower_cholesky`, `corr_cholesky`, `positive_definite`) included; their
//! leaf may have another shape than the value (see [`ParamStore`]). Each thread has a
//! default store (like Pyro's global one), reached through [`param`], [`get_param`],
//! [`with_param_store`] and [`clear_param_store`]; [`ParamStore`]
//! can also be used on its own. Stores are saved to and loaded from safetensors files
//! ([`ParamStore::save`], [`ParamStore::load`]; format in [`io`]).
//!
//! ```
//! use pyro::prelude::*;
//! use pyro::params::{param, ParamInit};
//! pyro::clear_param_store();
//! let scale = param("scale", ParamInit::lazy(|| DynTensor::<Cpu>::ones(&[2])), Constraint::Positive, None)
//!     .unwrap();
//! // Gradients reach the unconstrained leaf: d sum(scale) / d log(scale) = scale.
//! let leaf = pyro::params::with_param_store(|s| s.get_unconstrained("scale").unwrap().clone()).unwrap();
//! let scope = GradScope::<Cpu>::open();
//! let scale = param("scale", DynTensor::<Cpu>::zeros(&[2]), Constraint::Positive, None).unwrap();
//! let loss = scale.sum();
//! let grads = scope.backward(&loss).unwrap();
//! assert_eq!(grads.get_or_zeros(&leaf).to_vec(), vec![1.0, 1.0]);
//! ```

mod error;
mod global;
pub mod io;
mod link;
pub(crate) mod store;

pub use error::{ParamResult, ParamStoreError};
pub(crate) use global::get_param_named;
pub use global::{
    clear_param_store, get_param, load_param_store, param, save_param_store, with_param_store,
    with_param_store_on,
};
pub use store::{ParamInit, ParamStore};
