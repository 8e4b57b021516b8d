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
//! typed tensors whose shape type (a dfdx shape) follows from the distribution and the plates:
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

mod args;
mod dist;
mod primitives;
mod values;

pub use args::*;
pub use dist::*;
pub use primitives::*;
pub use values::*;
