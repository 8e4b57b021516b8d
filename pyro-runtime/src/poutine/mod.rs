//! Effect handlers (Pyro's `poutine`): a thread-local stack of messengers that every
//! primitive call passes through. One file per handler.
//!
//! Handlers wrap a [`Program`] (any `Fn(A) -> PyroResult<R>`) and compose in any order:
//!
//! ```
//! use pyro::prelude::*;
//! use pyro::poutine;
//! let model = || {
//!     let z = pyro::sample("z", Normal::new(0.0, 1.0))?;
//!     pyro::observe("x", Normal::new(&z, 1.0), DynTensor::scalar(0.5))
//! };
//! let guide_tr = poutine::trace(model).get_trace(()).unwrap();
//! let mut tr = poutine::trace(poutine::replay(model, &guide_tr)).get_trace(()).unwrap();
//! assert!(tr.log_prob_sum().unwrap().item().unwrap().is_finite());
//! ```

mod block;
mod condition;
mod do_;
mod equalize;
mod escape;
mod handled;
mod infer_config;
mod lift;
mod mask;
pub mod message;
mod param_default;
pub mod plate;
mod replay;
pub mod runtime;
mod scale;
mod seed;
mod substitute;
mod trace;

pub use block::{block, BlockMessenger, BlockSpec, BlockType};
pub use condition::{condition, uncondition, ConditionMessenger, UnconditionMessenger};
pub use do_::{do_, DoMessenger};
pub use equalize::{equalize, EqualizeMessenger};
pub use escape::{escape, EscapeMessenger};
pub use handled::{Handled, Program};
pub use infer_config::{infer_config, InferConfigMessenger};
pub use lift::{lift, LiftMessenger};
pub use mask::{mask, MaskMessenger};
pub use message::{Frame, InferConfig, Mask, Message, Name, ParamSpec, SharedDist, SiteKind};
pub use plate::{plate, plate_stack, subsample, Plate, PlateBuilder, PlateMessenger};
pub use replay::{replay, ReplayMessenger};
pub use runtime::{
    am_i_wrapped, apply_stack, push_handler, push_rc, stack_depth, HandlerGuard, Messenger,
};
pub use scale::{scale, ScaleMessenger};
pub use seed::{seed, Seeded};
pub use substitute::{substitute, SubstituteMessenger};
pub use trace::{trace, Site, Trace, TraceHandler, TraceMessenger};
