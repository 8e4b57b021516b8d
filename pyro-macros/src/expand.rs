//! The expansion: consumes a function's IR and puts, at each call's marker in the body, the
//! code the call becomes ([`tokens`]). A call's arguments are expanded first, so the calls
//! nested in them are in place when the call's own code is written.

use proc_macro2::{Group, TokenStream, TokenTree};
use quote::quote_spanned;
use syn::visit_mut::{self, VisitMut};
use syn::Expr;

use crate::args::Kwarg;
use crate::ir::{self, Call, ObsClass, PlateForm, Position, SiteCall};

mod tokens;

pub use tokens::gen;
use tokens::{Obs, PlateOpts};

/// Replaces every marker in `block` (the body `f` was walked from) by its call's code.
pub fn function(f: ir::Function, block: &mut syn::Block) {
    let mut s = Splice {
        calls: f.calls.into_iter().map(Some).collect(),
        fallible: f.fallible,
    };
    s.visit_block_mut(block);
}

/// The calls not yet expanded, by id.
struct Splice {
    calls: Vec<Option<Call>>,
    fallible: bool,
}

impl Splice {
    /// The code of call `id`, with the calls in its arguments expanded. Each call is
    /// expanded once: its marker appears once.
    fn expand(&mut self, id: usize) -> TokenStream {
        let Some(mut call) = self.calls.get_mut(id).and_then(Option::take) else {
            return TokenStream::new();
        };
        for e in call.args_mut() {
            self.visit_expr_mut(e);
        }
        if let SiteCall::Plate(ir::Plate {
            form: PlateForm::Vectorized { body, .. },
            ..
        }) = &mut call.site
        {
            self.visit_expr_mut(body);
        }
        code(call, self.fallible)
    }

    /// `tokens` with each marker replaced by its call's code, at any depth.
    fn fill(&mut self, tokens: TokenStream) -> TokenStream {
        if !has_marker(&tokens) {
            return tokens;
        }
        let mut out = TokenStream::new();
        for tt in tokens {
            match (ir::marker_id(&tt), tt) {
                (Some(id), _) => out.extend(self.expand(id)),
                (None, TokenTree::Group(g)) if has_marker(&g.stream()) => {
                    let mut filled = Group::new(g.delimiter(), self.fill(g.stream()));
                    filled.set_span(g.span());
                    out.extend([TokenTree::Group(filled)]);
                }
                (None, tt) => out.extend([tt]),
            }
        }
        out
    }
}

/// Whether `tokens` hold a marker, at any depth.
fn has_marker(tokens: &TokenStream) -> bool {
    tokens.clone().into_iter().any(|tt| {
        ir::marker_id(&tt).is_some()
            || matches!(&tt, TokenTree::Group(g) if has_marker(&g.stream()))
    })
}

impl VisitMut for Splice {
    fn visit_expr_mut(&mut self, e: &mut Expr) {
        match e {
            Expr::Verbatim(tokens) => *tokens = self.fill(std::mem::take(tokens)),
            _ => visit_mut::visit_expr_mut(self, e),
        }
    }

    /// The arguments of other macros, which the walk rewrote as tokens.
    fn visit_macro_mut(&mut self, m: &mut syn::Macro) {
        m.tokens = self.fill(std::mem::take(&mut m.tokens));
    }

    // Items nested in the body were not walked.
    fn visit_item_mut(&mut self, _: &mut syn::Item) {}
}

/// The value of an optional keyword argument.
fn value(k: &Option<Kwarg>) -> Option<&Expr> {
    k.as_ref().map(|k| &k.value)
}

/// The code of one call whose arguments are expanded.
fn code(call: Call, fallible: bool) -> TokenStream {
    let span = call.span;
    let try_op = |code| tokens::try_op(span, code, fallible);
    let placeholder = || tokens::placeholder(span, &call.position);
    match call.site {
        SiteCall::Sample(s) => {
            let Some(dist) = &s.dist else {
                return placeholder();
            };
            let obs = match &s.obs {
                Some(o) if o.class == ObsClass::Always => Obs::Always(&o.value),
                Some(o) if o.class == ObsClass::Maybe => Obs::Maybe(&o.value),
                _ => Obs::Absent,
            };
            try_op(tokens::sample(
                span,
                &s.name.tokens,
                dist,
                obs,
                value(&s.obs_mask),
                value(&s.infer),
                call.context.plate_rank(),
            ))
        }
        SiteCall::Param(p) => match &p.init {
            Some(init) => try_op(tokens::param(
                span,
                &p.name.tokens,
                &init.value,
                init.lazy,
                value(&p.constraint),
                value(&p.event_dim),
            )),
            None => placeholder(),
        },
        SiteCall::Factor(f) => match &f.value {
            Some(v) => try_op(tokens::factor(&f.name.tokens, v)),
            None => placeholder(),
        },
        SiteCall::Deterministic(d) => match &d.value {
            Some(v) => try_op(tokens::deterministic(
                span,
                &d.name.tokens,
                v,
                value(&d.event_dim),
            )),
            None => placeholder(),
        },
        SiteCall::Subsample(s) => try_op(tokens::subsample(span, &s.data, value(&s.event_dim))),
        SiteCall::Plate(p) => plate(span, p, &call.position, fallible),
        SiteCall::Unreadable(_) => placeholder(),
    }
}

/// The code of a plate whose arguments and body are expanded.
fn plate(
    span: proc_macro2::Span,
    p: ir::Plate,
    position: &Position,
    fallible: bool,
) -> TokenStream {
    match &p.form {
        PlateForm::Vectorized { binding, body } => {
            let opts = PlateOpts {
                subsample_size: value(&p.subsample_size),
                subsample: value(&p.subsample),
                dim: value(&p.dim),
            };
            let block = tokens::plate(
                span,
                &p.name.tokens,
                &p.size,
                &opts,
                binding.as_deref(),
                body,
                fallible,
            );
            match position {
                Position::Statement => block,
                _ => quote_spanned!(gen(span)=> ::core::convert::identity(#block)),
            }
        }
        PlateForm::Sequential => {
            // A sequential plate's `dim` is an error of its own (see `check`).
            let opts = PlateOpts {
                subsample_size: value(&p.subsample_size),
                subsample: value(&p.subsample),
                dim: None,
            };
            tokens::seq_plate(span, &p.name.tokens, &p.size, &opts, fallible)
        }
    }
}

#[cfg(test)]
mod tests {
    use quote::ToTokens;

    use crate::errors::Errors;
    use crate::ir::Role;

    fn expand(f: syn::ItemFn) -> (Vec<String>, String) {
        let mut errors = Errors::default();
        let mut f = f;
        let ir = crate::walk::function(Role::Model, &f.sig, &mut f.block, &mut errors);
        super::function(ir, &mut f.block);
        (errors.messages(), f.to_token_stream().to_string())
    }

    #[test]
    fn every_call_becomes_its_runtime_call() {
        let (errs, out) = expand(syn::parse_quote! {
            fn m(y: Option<&Tensor<(usize,)>>) -> PyroResult<()> {
                let a = sample!("a", Normal::new(0.0, 1.0));
                plate!("data", 10, {
                    sample!("obs", Normal::new(a, 1.0), obs = y);
                });
                for i in plate!("seq", 3) { sample!(format!("x_{i}"), d); }
                let w = param!("w", || 0.5, constraint = Constraint::Positive);
                factor!("f", lf);
                deterministic!("d", w);
                Ok(())
            }
        });
        assert!(errs.is_empty(), "{errs:?}");
        for needle in [
            "sample :: < _ , _ , 0 >",
            "sample :: < _ , _ , 1 >",
            "maybe_observed",
            "param_lazy",
            ". iter () ?",
            ". enter () ?",
            ":: pyro :: dsl :: factor",
            ":: pyro :: dsl :: deterministic",
        ] {
            assert!(out.contains(needle), "missing {needle:?} in {out}");
        }
        assert!(
            !out.contains("sample !") && !out.contains("__pyro_call"),
            "{out}"
        );
    }

    #[test]
    fn nested_calls_and_calls_in_other_macros_are_expanded() {
        let (errs, out) = expand(syn::parse_quote! {
            fn m() -> R {
                let v = vec![sample!("a", d), sample!("b", Normal::new(sample!("c", d), 1.0))];
                plate!("p", 3, { sample!("o", d, obs = subsample!(x)); });
                Ok(())
            }
        });
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(
            out.matches(":: pyro :: dsl :: sample ::").count(),
            4,
            "{out}"
        );
        assert!(out.contains(":: pyro :: dsl :: subsample"), "{out}");
        assert!(
            !out.contains("sample !") && !out.contains("__pyro_call"),
            "{out}"
        );
    }

    #[test]
    fn unreadable_calls_and_infallible_functions() {
        let (_, out) = expand(syn::parse_quote! {
            fn m() {
                sample!("a");
                let x = plate!("p", 3);
                for i in plate!() {}
                param!("w", 1.0);
            }
        });
        assert!(out.contains("invalid_site :: < () > ()"), "{out}");
        assert!(
            out.contains("let x = :: pyro :: dsl :: invalid_site ()"),
            "{out}"
        );
        assert!(out.contains("Range < usize >> ()"), "{out}");
        assert!(out.contains(". unwrap ()") && !out.contains("?"), "{out}");
    }
}
