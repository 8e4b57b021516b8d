//! The compile-time checks, on the whole IR of a function, reporting every error rather than
//! the first: each call where it stands (an observed guide site, `obs_mask` without `obs`,
//! `subsample!` outside a plate, a plate's `dim`), the function's return type, and the names
//! (duplicates, names repeated by loops, a name used for a site and a param). The checks of a
//! guide against its model are in [`pair()`].

use proc_macro2::Span;
use syn::ext::IdentExt;
use syn::spanned::Spanned;

use crate::errors::Errors;
use crate::ir::{self, Call, Dim, LoopKind, PlateForm, Role, SiteCall};
use crate::messages;
use crate::sites::Site;

mod pair;

pub use pair::pair;

/// Checks one function.
pub fn function(f: &ir::Function, errors: &mut Errors) {
    let mut placed = Vec::new();
    for call in &f.calls {
        let mut at = |span, msg: &dyn std::fmt::Display| {
            placed.push((call.report_at, syn::Error::new(span, msg)));
        };
        placement(call, f.role, &mut at);
    }
    errors.insert(placed);
    if !f.calls.is_empty() && !f.fallible {
        let attr = match f.role {
            Role::Model => "model",
            Role::Guide => "guide",
        };
        errors.at(
            f.ident.span(),
            messages::needs_result(&f.ident.to_string(), attr),
        );
    }
    names(f, errors);
}

/// What a readable call may not do where it stands; `at` reports.
fn placement(call: &Call, role: Role, at: &mut dyn FnMut(Span, &dyn std::fmt::Display)) {
    match &call.site {
        SiteCall::Sample(s) => {
            if let (Some(m), None) = (&s.obs_mask, &s.obs) {
                at(m.key.span(), &messages::OBS_MASK_NEEDS_OBS);
            }
            if let (Role::Guide, Some(o)) = (role, &s.obs) {
                at(
                    o.key.span(),
                    &messages::guide_site_observed(&s.name.name.display()),
                );
            }
        }
        SiteCall::Subsample(_) if !call.context.in_vectorized_plate() => {
            at(call.span, &messages::SUBSAMPLE_OUTSIDE_PLATE);
        }
        SiteCall::Plate(p) => match (&p.form, &p.dim) {
            (PlateForm::Sequential, Some(d)) => {
                at(d.key.span(), &messages::SEQUENTIAL_PLATE_HAS_NO_DIM);
            }
            (PlateForm::Vectorized { .. }, Some(d)) if p.dim() == Dim::NonNegative => {
                at(d.value.span(), &messages::PLATE_DIM_IS_NEGATIVE);
            }
            _ => {}
        },
        _ => {}
    }
}

/// The names of the function's sites: one site per literal name (unless in different arms
/// of one `if`/`match`), no literal name in a loop, no name for both a site and a param.
fn names(f: &ir::Function, errors: &mut Errors) {
    let fn_name = f.ident.unraw().to_string();
    let sites: Vec<(Site, &Call)> = f
        .calls
        .iter()
        .filter_map(|c| c.site().map(|s| (s, c)))
        .collect();
    for (i, (s, call)) in sites.iter().enumerate() {
        let Some(n) = s.name.lit() else {
            continue;
        };
        if n.is_empty() {
            continue; // reported as an empty name already
        }
        let earlier = sites.get(..i).unwrap_or_default();
        if s.kind.is_sample() {
            if let Some(l) = &call.context.in_loop {
                errors.at(s.span, repeated_in_loop(n, &l.kind, l.var.as_deref()));
            } else if earlier.iter().any(|(p, pc)| {
                p.kind.is_sample()
                    && p.name.lit() == Some(n)
                    && !pc.context.exclusive(&call.context)
            }) {
                errors.at(s.span, messages::duplicate_site(n, &fn_name));
            }
        }
        if earlier
            .iter()
            .any(|(p, _)| p.kind.is_sample() != s.kind.is_sample() && p.name.lit() == Some(n))
        {
            errors.at(s.span, messages::site_and_param(n, &fn_name));
        }
    }
}

/// The error for a literal site name `n` in a loop.
fn repeated_in_loop(n: &str, kind: &LoopKind, var: Option<&str>) -> String {
    match kind {
        LoopKind::SeqPlate(p) => messages::site_in_sequential_plate(n, p, var.unwrap_or("i")),
        LoopKind::While => messages::site_in_loop(n, "`while` loop"),
        LoopKind::Loop => messages::site_in_loop(n, "`loop`"),
        LoopKind::For => messages::site_in_loop(n, "`for` loop"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(role: Role, mut f: syn::ItemFn) -> Vec<String> {
        let mut errors = Errors::default();
        let ir = crate::walk::function(role, &f.sig, &mut f.block, &mut errors);
        let parsed = errors.messages().len();
        function(&ir, &mut errors);
        errors.messages().split_off(parsed)
    }

    #[test]
    fn names_are_checked_across_the_function() {
        let m = check(
            Role::Model,
            syn::parse_quote! {
                fn f() -> R {
                    sample!("a", d);
                    sample!("a", d);
                    param!("a_loc", 0.0);
                    param!("a_loc", 0.0);
                    sample!("a_loc", d);
                    if c { sample!("b", d); } else { sample!("b", d); }
                    for _ in 0..3 { sample!("l", d); }
                    Ok(())
                }
            },
        );
        assert_eq!(m.len(), 3, "{m:?}");
        assert!(m[0].contains("used twice"));
        assert!(m[1].contains("names both a sample site and a param"));
        assert!(m[2].contains("inside a `for` loop") && m[2].contains("plate!"));
    }

    #[test]
    fn calls_are_checked_where_they_stand() {
        let m = check(
            Role::Guide,
            syn::parse_quote! {
                fn g() {
                    sample!("a", d, obs = x);
                    sample!("b", d, obs_mask = m);
                    subsample!(data);
                    plate!("p", 3, dim = 1, { subsample!(data); });
                    for i in plate!("s", 3, dim = -1) { sample!(format!("s_{i}"), d); }
                    for i in plate!("t", 3) { sample!("t", d); }
                }
            },
        );
        let all = m.join("\n");
        for needle in [
            "guide site `a` is observed",
            "needs `obs = value` as well",
            "not inside a `plate!` block",
            "`dim` counts from the right",
            "sequential plate (`for .. in plate!(..)`) has no `dim`",
            "`g` has sites",
            "inside the sequential plate `t`",
            "format!(\"t_{i}\")",
        ] {
            assert!(all.contains(needle), "missing {needle:?} in\n{all}");
        }
        assert_eq!(m.len(), 7, "{m:?}");
    }

    #[test]
    fn the_checks_of_a_call_read_next_to_its_other_errors() {
        let mut errors = Errors::default();
        let mut f: syn::ItemFn = syn::parse_quote! {
            fn m() -> R {
                for i in plate!("s", 3, dim = -1) { sample!(format!("x_{i}"), d); }
                sample!("a" d);
                Ok(())
            }
        };
        let ir = crate::walk::function(Role::Model, &f.sig, &mut f.block, &mut errors);
        function(&ir, &mut errors);
        let m = errors.messages();
        assert_eq!(m.len(), 2, "{m:?}");
        assert!(
            m[0].contains("has no `dim`") && m[1].contains("expected `,`"),
            "{m:?}"
        );
    }
}
