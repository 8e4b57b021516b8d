//! Parsing the arguments of the site macros: positional expressions followed by
//! `key = value` pairs, with spans kept for the errors.

use proc_macro2::Span;
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Expr, Ident, Macro, MacroDelimiter, Token};

use crate::errors::{closest, Errors};
use crate::messages;

/// One `key = value` argument.
pub struct Kwarg {
    /// The key, with its span.
    pub key: Ident,
    /// The value.
    pub value: Expr,
}

/// The parsed arguments of one macro call.
pub struct Args {
    /// Positional arguments, in order.
    pub positional: Vec<Expr>,
    /// Keyword arguments, in order.
    pub kwargs: Vec<Kwarg>,
    /// The closing delimiter, where "missing argument" errors point.
    pub close: Span,
}

/// The span of a macro call's closing delimiter.
pub fn close_span(mac: &Macro) -> Span {
    match &mac.delimiter {
        MacroDelimiter::Paren(p) => p.span.close(),
        MacroDelimiter::Brace(b) => b.span.close(),
        MacroDelimiter::Bracket(b) => b.span.close(),
    }
}

/// A single-identifier path (`obs` in `obs = y`).
fn as_key(e: &Expr) -> Option<Ident> {
    match e {
        Expr::Path(p) if p.qself.is_none() && p.attrs.is_empty() => p.path.get_ident().cloned(),
        _ => None,
    }
}

/// Splits a macro's tokens into positional and keyword arguments. A parse error is recorded
/// and gives `None`.
pub fn parse(mac: &Macro, usage: &str, errors: &mut Errors) -> Option<Args> {
    parse_tokens(mac.tokens.clone(), close_span(mac), usage, errors)
}

/// [`parse`] on bare tokens (attribute arguments); `close` is where "missing" errors point.
pub fn parse_tokens(
    tokens: proc_macro2::TokenStream,
    close: Span,
    usage: &str,
    errors: &mut Errors,
) -> Option<Args> {
    let parsed = Punctuated::<Expr, Token![,]>::parse_terminated.parse2(tokens);
    let list = match parsed {
        Ok(list) => list,
        Err(e) => {
            errors.at(
                e.span(),
                messages::unparsable_arguments(&e.to_string(), usage),
            );
            return None;
        }
    };
    let mut args = Args {
        positional: Vec::new(),
        kwargs: Vec::new(),
        close,
    };
    // A body (block or closure) may come last, after the keyword arguments (`plate!`).
    let list_len = list.len();
    for (i, e) in list.into_iter().enumerate() {
        let seen = i + 1;
        if let Expr::Assign(a) = &e {
            if let Some(key) = as_key(&a.left) {
                args.kwargs.push(Kwarg {
                    key,
                    value: (*a.right).clone(),
                });
                continue;
            }
        }
        let is_body = matches!(e, Expr::Block(_) | Expr::Closure(_));
        if let (Some(first), false) = (args.kwargs.first(), is_body && list_len == seen) {
            errors.at(
                e.span(),
                messages::positional_after_keyword(&first.key.to_string(), usage),
            );
        }
        args.positional.push(e);
    }
    Some(args)
}

impl Args {
    /// Checks the keywords against `allowed` (unknown and repeated ones are errors) and
    /// returns the value of each allowed key, in the order of `allowed`. `what` names the
    /// macro in messages (`` `sample!` ``); `positional` are the names of its positional
    /// arguments, for a hint when one is written as a keyword.
    pub fn take_kwargs<const N: usize>(
        &mut self,
        what: &str,
        allowed: [&str; N],
        positional: &[&str],
        errors: &mut Errors,
    ) -> [Option<Kwarg>; N] {
        let mut out: [Option<Kwarg>; N] = std::array::from_fn(|_| None);
        for kw in std::mem::take(&mut self.kwargs) {
            let key = kw.key.to_string();
            let Some(slot) = allowed
                .iter()
                .position(|a| *a == key)
                .and_then(|i| out.get_mut(i))
            else {
                let index = positional.iter().position(|p| *p == key);
                let close = closest(&key, allowed.iter().copied());
                errors.at(
                    kw.key.span(),
                    messages::unknown_argument(&key, what, &allowed, index, close),
                );
                continue;
            };
            if slot.is_some() {
                errors.at(kw.key.span(), messages::repeated_argument(&key, what));
                continue;
            }
            *slot = Some(kw);
        }
        out
    }

    /// Reports positional arguments beyond the first `n`.
    pub fn no_more_than(&self, n: usize, mac_name: &str, usage: &str, errors: &mut Errors) {
        if let Some(extra) = self.positional.get(n) {
            errors.at(
                extra.span(),
                messages::too_many_arguments(mac_name, n, usage),
            );
        }
    }
}
