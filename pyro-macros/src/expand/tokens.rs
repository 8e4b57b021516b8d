//! The code each site macro becomes: calls into `pyro::dsl` (see that module of the runtime).
//! The expansion appends `?` ([`try_op`]), so a failing site returns its error from the model.
//! Each call carries the span of its main argument (the distribution, the initial value, ...),
//! so a type error in that argument points at it; the `?` carries the macro's span.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Expr, Pat};

use crate::ir::Position;

/// A span for generated tokens: located at `at` (errors point there), but marked as coming
/// from the macro, so lints (clippy's `needless_question_mark`, ...) leave it alone.
pub fn gen(at: Span) -> Span {
    Span::call_site().located_at(at)
}

/// `call?` at the macro's span; in a function that does not return a `Result` (already an
/// error of its own) `call.unwrap()`, so rustc does not pile a second error on the `?`.
pub fn try_op(span: Span, call: TokenStream, fallible: bool) -> TokenStream {
    if fallible {
        quote_spanned!(gen(span)=> #call?)
    } else {
        quote_spanned!(gen(span)=> #call.unwrap())
    }
}

/// How `obs` is passed.
pub enum Obs<'a> {
    /// No observation (or `obs = None`).
    Absent,
    /// `obs = value`, always observed.
    Always(&'a Expr),
    /// `obs = an Option`.
    Maybe(&'a Expr),
}

/// `sample!`: `k` is the number of enclosing vectorized plates, `None` when the value type
/// must come from the context.
pub fn sample(
    span: Span,
    name: &TokenStream,
    dist: &Expr,
    obs: Obs,
    mask: Option<&Expr>,
    infer: Option<&Expr>,
    k: Option<usize>,
) -> TokenStream {
    let obs = match obs {
        Obs::Absent => quote_spanned!(gen(span)=> ::core::option::Option::None),
        Obs::Always(e) => quote_spanned!(gen(e.span())=> ::pyro::dsl::observed(#e)?),
        Obs::Maybe(e) => quote_spanned!(gen(e.span())=> ::pyro::dsl::maybe_observed(#e)?),
    };
    let mask = match mask {
        None => quote_spanned!(gen(span)=> ::core::option::Option::None),
        Some(e) => quote_spanned!(gen(e.span())=> ::pyro::dsl::obs_mask(#e)),
    };
    let infer = match infer {
        None => quote_spanned!(gen(span)=> ::core::default::Default::default()),
        Some(e) => quote!(#e),
    };
    let opts = quote_spanned! {gen(span)=>
        ::pyro::primitives::SampleOptions { obs: #obs, obs_mask: #mask, infer: #infer }
    };
    let at = dist.span();
    match k {
        Some(k) => {
            let k = proc_macro2::Literal::usize_unsuffixed(k);
            quote_spanned!(gen(at)=> ::pyro::dsl::sample::<_, _, #k>(#name, #dist, #opts))
        }
        None => quote_spanned!(gen(at)=> ::pyro::dsl::sample_inferred(#name, #dist, #opts)),
    }
}

/// `param!`; `lazy` when `init` is a closure.
pub fn param(
    span: Span,
    name: &TokenStream,
    init: &Expr,
    lazy: bool,
    constraint: Option<&Expr>,
    event_dim: Option<&Expr>,
) -> TokenStream {
    let constraint = match constraint {
        Some(c) => quote!(#c),
        None => quote_spanned!(gen(span)=> ::pyro::constraints::Constraint::Real),
    };
    let event_dim = match event_dim {
        Some(e) => quote_spanned!(gen(span)=> ::core::option::Option::Some(#e)),
        None => quote_spanned!(gen(span)=> ::core::option::Option::None),
    };
    // At the initial value's own span (not `gen`): rustc then reports a bad initial value
    // once, not once for the argument and again for the call.
    let at = init.span();
    if lazy {
        quote_spanned!(at=> ::pyro::dsl::param_lazy(#name, #init, #constraint, #event_dim))
    } else {
        quote_spanned!(at=> ::pyro::dsl::param(#name, #init, #constraint, #event_dim))
    }
}

/// `factor!`.
pub fn factor(name: &TokenStream, value: &Expr) -> TokenStream {
    quote_spanned!(gen(value.span())=> ::pyro::dsl::factor(#name, #value))
}

/// `deterministic!`.
pub fn deterministic(
    span: Span,
    name: &TokenStream,
    value: &Expr,
    event_dim: Option<&Expr>,
) -> TokenStream {
    let event_dim = event_dim.map_or_else(|| quote_spanned!(gen(span)=> 0), |e| quote!(#e));
    quote_spanned!(gen(value.span())=> ::pyro::dsl::deterministic(#name, #value, #event_dim))
}

/// `subsample!`.
pub fn subsample(span: Span, data: &Expr, event_dim: Option<&Expr>) -> TokenStream {
    let event_dim = event_dim.map_or_else(|| quote_spanned!(gen(span)=> 0), |e| quote!(#e));
    quote_spanned!(gen(data.span())=> ::pyro::dsl::subsample(#data, #event_dim))
}

/// The options of `plate!` beyond name and size.
pub struct PlateOpts<'a> {
    /// `subsample_size = ..`.
    pub subsample_size: Option<&'a Expr>,
    /// `subsample = ..`.
    pub subsample: Option<&'a Expr>,
    /// `dim = ..`.
    pub dim: Option<&'a Expr>,
}

/// `pyro::plate(name, size)` with its options.
fn builder(span: Span, name: &TokenStream, size: &Expr, opts: &PlateOpts) -> TokenStream {
    let mut b = quote_spanned!(gen(span)=> ::pyro::plate(#name, #size));
    if let Some(e) = opts.subsample_size {
        b = quote_spanned!(gen(span)=> #b.subsample_size(#e));
    }
    if let Some(e) = opts.subsample {
        b = quote_spanned!(gen(span)=> #b.subsample(#e));
    }
    if let Some(e) = opts.dim {
        b = quote_spanned!(gen(span)=> #b.dim(#e));
    }
    b
}

/// A vectorized `plate!` around `body`; `binding` is the pattern of the closure form, bound
/// to `&Plate`. The body runs in place (not in a closure), so `?` and `return` act on the
/// enclosing function, as in Pyro's `with pyro.plate(...)` block.
pub fn plate(
    span: Span,
    name: &TokenStream,
    size: &Expr,
    opts: &PlateOpts,
    binding: Option<&Pat>,
    body: &Expr,
    fallible: bool,
) -> TokenStream {
    let guard = syn::Ident::new("__pyro_plate", Span::mixed_site().located_at(span));
    let b = builder(span, name, size, opts);
    let enter = try_op(span, quote_spanned!(gen(span)=> #b.enter()), fallible);
    let bind = binding.map(|p| quote_spanned!(gen(span)=> let #p = &#guard;));
    // A plain block body is spliced in (a nested block would trip `unused_braces`).
    let body = match body {
        Expr::Block(b) if b.label.is_none() && b.attrs.is_empty() => {
            let stmts = &b.block.stmts;
            quote!(#(#stmts)*)
        }
        other => quote!(#other),
    };
    quote_spanned! {gen(span)=>
        {
            let #guard = #enter;
            #bind
            #body
        }
    }
}

/// The iterator of a sequential plate (`for i in plate!(..)`).
pub fn seq_plate(
    span: Span,
    name: &TokenStream,
    size: &Expr,
    opts: &PlateOpts,
    fallible: bool,
) -> TokenStream {
    let b = builder(span, name, size, opts);
    try_op(span, quote_spanned!(gen(span)=> #b.iter()), fallible)
}

/// Stands in for a site macro that could not be read at all (its error is reported
/// separately), so the rest of the function still type-checks: `()` as a statement, a
/// `Range<usize>` as the iterator of a `for` loop, and any type elsewhere.
pub fn placeholder(span: Span, position: &Position) -> TokenStream {
    match position {
        Position::Statement => quote_spanned!(gen(span)=> ::pyro::dsl::invalid_site::<()>()),
        Position::Expression => quote_spanned!(gen(span)=> ::pyro::dsl::invalid_site()),
        Position::ForHead => quote_spanned! {gen(span)=>
            ::pyro::dsl::invalid_site::<::core::ops::Range<usize>>()
        },
    }
}
