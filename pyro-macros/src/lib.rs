//! Procedural macros of pyro-rs.
//!
//! `sample!`, `param!` and `plate!` only have a meaning inside a function annotated with
//! `#[model]` or `#[guide]`, which rewrites them; anywhere else they expand to a compile
//! error that says so.

use proc_macro::TokenStream;
use proc_macro2::Span;

fn outside(name: &str) -> TokenStream {
    let msg =
        format!("`{name}!` can only be used inside a function annotated with #[model] or #[guide]");
    syn::Error::new(Span::call_site(), msg)
        .to_compile_error()
        .into()
}

/// A random variable site. Only valid inside `#[model]`/`#[guide]` functions.
#[proc_macro]
pub fn sample(_input: TokenStream) -> TokenStream {
    outside("sample")
}

/// A learnable parameter site. Only valid inside `#[model]`/`#[guide]` functions.
#[proc_macro]
pub fn param(_input: TokenStream) -> TokenStream {
    outside("param")
}

/// A conditional-independence context. Only valid inside `#[model]`/`#[guide]` functions.
#[proc_macro]
pub fn plate(_input: TokenStream) -> TokenStream {
    outside("plate")
}
