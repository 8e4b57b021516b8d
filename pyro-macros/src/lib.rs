//! Procedural macros of pyro-rs: `#[model]`, `#[guide(model = ..)]`, `#[models]` and the site
//! macros `sample!`, `param!`, `plate!`, `subsample!`, `factor!`, `deterministic!`.
//!
//! Use them through the runtime crate (`use pyro::prelude::*;`), whose `dsl` module documents
//! the syntax and the value types. Layout, in the order a body goes through it: `entry`
//! drives it all on `proc_macro2` tokens; `walk` finds the site macro calls in a body and has
//! `ir` read each one (with `args` and `names`) into an owned intermediate form with its
//! context; `check` validates the whole function's IR and collects every error (and checks a
//! guide against its model's `sites`); `expand` consumes the IR and writes the runtime calls.
//! All wording is in `messages`. The macros never panic: errors become `compile_error!`s at
//! the offending tokens, and the function is still emitted so the rest of the crate
//! type-checks.

use proc_macro::TokenStream;
use proc_macro2::Span;

mod args;
mod check;
mod entry;
mod errors;
mod expand;
#[cfg(test)]
mod fuzz;
mod ir;
#[allow(dead_code)] // the run-time wording is used by the runtime, which includes this file
mod messages;
mod names;
mod sites;
mod walk;

/// Marks a model: rewrites the site macros in its body into runtime calls and publishes its
/// site list for `#[guide(model = ..)]`. See `pyro::dsl`.
#[proc_macro_attribute]
pub fn model(args: TokenStream, item: TokenStream) -> TokenStream {
    entry::model(args.into(), item.into()).into()
}

/// Marks the guide of a model: `#[guide(model = path_to_model)]`; checks its sites against
/// the model's when compiling. See `pyro::dsl`.
#[proc_macro_attribute]
pub fn guide(args: TokenStream, item: TokenStream) -> TokenStream {
    entry::guide(args.into(), item.into()).into()
}

/// On an `impl` block whose methods are `#[model]`s and `#[guide(model = method)]`s (a
/// struct holding networks, as in Pyro's VAE): rewrites them and checks each guide against
/// its model.
#[proc_macro_attribute]
pub fn models(args: TokenStream, item: TokenStream) -> TokenStream {
    entry::models(args.into(), item.into()).into()
}

/// Internal: called by a model's site macro with the model's and a guide's site lists.
#[doc(hidden)]
#[proc_macro]
pub fn __guide_with_model(input: TokenStream) -> TokenStream {
    entry::guide_with_model(input.into()).into()
}

fn outside(name: &str) -> TokenStream {
    syn::Error::new(Span::call_site(), messages::outside_model(name))
        .to_compile_error()
        .into()
}

/// A random variable site: `sample!("z", dist)`, `sample!("y", dist, obs = value)`.
/// Only valid inside `#[model]`/`#[guide]` functions.
#[proc_macro]
pub fn sample(_input: TokenStream) -> TokenStream {
    outside("sample")
}

/// A learnable parameter: `param!("w", init, constraint = .., event_dim = ..)`.
/// Only valid inside `#[model]`/`#[guide]` functions.
#[proc_macro]
pub fn param(_input: TokenStream) -> TokenStream {
    outside("param")
}

/// A plate: `plate!("data", n, { .. })`, `plate!("data", n, |p| { .. })`, or
/// `for i in plate!("seq", n) { .. }`. Only valid inside `#[model]`/`#[guide]` functions.
#[proc_macro]
pub fn plate(_input: TokenStream) -> TokenStream {
    outside("plate")
}

/// Data indexed by the enclosing plates' batch: `subsample!(data, event_dim = 0)`.
/// Only valid inside `#[model]`/`#[guide]` functions.
#[proc_macro]
pub fn subsample(_input: TokenStream) -> TokenStream {
    outside("subsample")
}

/// A log-density term: `factor!("name", log_factor)`.
/// Only valid inside `#[model]`/`#[guide]` functions.
#[proc_macro]
pub fn factor(_input: TokenStream) -> TokenStream {
    outside("factor")
}

/// A recorded value: `deterministic!("name", value, event_dim = 0)`.
/// Only valid inside `#[model]`/`#[guide]` functions.
#[proc_macro]
pub fn deterministic(_input: TokenStream) -> TokenStream {
    outside("deterministic")
}
