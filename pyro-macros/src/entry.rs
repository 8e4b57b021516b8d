//! The macros' drivers on `proc_macro2` tokens (so tests can call them): read the attribute
//! and the function, walk it into its IR, check it, expand it, then emit the rewritten
//! function, the model's site list and every error.

use proc_macro2::{Span, TokenStream};
use quote::{quote, ToTokens};
use syn::ext::IdentExt;
use syn::parse::{ParseStream, Parser};
use syn::spanned::Spanned;
use syn::{Attribute, Expr, Ident, ImplItem, ItemFn, ItemImpl, LitStr, Path, Signature};

use crate::args;
use crate::check;
use crate::errors::Errors;
use crate::expand;
use crate::ir::Role;
use crate::messages;
use crate::sites::{self, Site};
use crate::walk;

/// The hidden `macro_rules!` that a `#[model]` emits next to its function: it hands the
/// model's site list to a guide. Its name is what `#[guide(model = path)]` looks for, so
/// when `path` is not a model, rustc's "cannot find macro" names it.
pub fn sites_macro_name(model: &Ident) -> Ident {
    Ident::new(
        &format!("__pyro_model_sites_of_{}", model.unraw()),
        model.span(),
    )
}

/// Walks, checks and expands one function body; returns its sites.
fn analyze(sig: &Signature, block: &mut syn::Block, role: Role, errors: &mut Errors) -> Vec<Site> {
    let function = walk::function(role, sig, block, errors);
    check::function(&function, errors);
    let sites = function.sites();
    expand::function(function, block);
    sites
}

fn effective(sites: &[Site]) -> Vec<Site> {
    sites.iter().flat_map(Site::effective).collect()
}

fn model_sites_macro(ident: &Ident, sites: &[Site]) -> TokenStream {
    let mname = sites_macro_name(ident);
    let name = LitStr::new(&ident.unraw().to_string(), ident.span());
    let list = sites::to_tokens(sites);
    quote! {
        #[doc(hidden)]
        #[allow(unused_macros)]
        macro_rules! #mname {
            ($($guide:tt)*) => {
                ::pyro::__guide_with_model! { @model #name #list $($guide)* }
            };
        }
        #[doc(hidden)]
        #[allow(unused_imports)]
        pub(crate) use #mname;
    }
}

fn parse_fn(item: &TokenStream, attr: &str, errors: &mut Errors) -> Option<ItemFn> {
    match syn::parse2::<ItemFn>(item.clone()) {
        Ok(f) => Some(f),
        Err(e) => {
            let is_fn = item
                .clone()
                .into_iter()
                .any(|t| matches!(&t, proc_macro2::TokenTree::Ident(i) if i == "fn"));
            if is_fn {
                errors.at(
                    e.span(),
                    messages::unreadable_function(attr, &e.to_string()),
                );
            } else {
                errors.at(Span::call_site(), messages::not_a_function(attr));
            }
            None
        }
    }
}

fn mentions_self(tokens: TokenStream) -> bool {
    tokens.into_iter().any(|t| match t {
        proc_macro2::TokenTree::Ident(i) => i == "Self",
        proc_macro2::TokenTree::Group(g) => mentions_self(g.stream()),
        _ => false,
    })
}

/// Whether a function is visibly an associated function (it takes `self` or names `Self`):
/// no `macro_rules!` may be emitted beside it. An associated function that shows neither
/// needs #[models] on its impl block.
fn in_impl(sig: &Signature) -> bool {
    sig.receiver().is_some()
        || mentions_self(sig.inputs.to_token_stream())
        || mentions_self(sig.output.to_token_stream())
}

/// `#[model]`.
pub fn model(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    if let Some(first) = args.clone().into_iter().next() {
        errors.at(first.span(), messages::MODEL_TAKES_NO_ARGUMENTS);
    }
    let Some(mut f) = parse_fn(&item, "model", &mut errors) else {
        let errs = errors.to_compile_errors();
        return quote!(#item #errs);
    };
    let sites = analyze(&f.sig, &mut f.block, Role::Model, &mut errors);
    // A method cannot have a `macro_rules!` beside it; #[models] checks its guide instead.
    let list = if !in_impl(&f.sig) {
        model_sites_macro(&f.sig.ident, &effective(&sites))
    } else {
        TokenStream::new()
    };
    let errs = errors.to_compile_errors();
    quote!(#f #list #errs)
}

/// The arguments of `#[guide(..)]`.
struct GuideArgs {
    model: Option<Path>,
    checked: bool,
}

fn guide_args(tokens: TokenStream, close: Span, errors: &mut Errors) -> GuideArgs {
    let mut out = GuideArgs {
        model: None,
        checked: true,
    };
    let Some(mut a) = args::parse_tokens(tokens, close, messages::GUIDE_USAGE, errors) else {
        return out;
    };
    for p in &a.positional {
        errors.at(p.span(), messages::GUIDE_MODEL_IS_A_KEYWORD);
    }
    let any_kwargs = !a.kwargs.is_empty();
    let [model, check] = a.take_kwargs("`#[guide]`", ["model", "check"], &[], errors);
    match model {
        Some(m) => match m.value {
            Expr::Path(p)
                if p.qself.is_none()
                    && p.path
                        .segments
                        .last()
                        .is_some_and(|s| s.arguments.is_none()) =>
            {
                out.model = Some(p.path)
            }
            other => errors.at(other.span(), messages::GUIDE_MODEL_IS_A_PATH),
        },
        None if a.positional.is_empty() && !any_kwargs => {
            errors.at(close, messages::GUIDE_NEEDS_MODEL)
        }
        None => {}
    }
    if let Some(c) = check {
        match &c.value {
            Expr::Path(p) if p.path.is_ident("runtime") => out.checked = false,
            Expr::Path(p) if p.path.is_ident("compile_time") => {}
            other => errors.at(other.span(), messages::GUIDE_CHECK_VALUES),
        }
    }
    out
}

fn guide_invocation(model: &Path, guide: &Ident, sites: &[Site], checked: bool) -> TokenStream {
    let mut path = model.clone();
    if let Some(last) = path.segments.last_mut() {
        last.ident = sites_macro_name(&last.ident);
    }
    let mode = Ident::new(if checked { "checked" } else { "unchecked" }, guide.span());
    let list = sites::to_tokens(sites);
    quote!(#path! { @guide #guide #mode #list })
}

fn is_self_path(p: &Path) -> bool {
    p.segments.len() == 2 && p.segments.first().is_some_and(|s| s.ident == "Self")
}

/// `#[guide(model = path)]`.
pub fn guide(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let gargs = guide_args(args, Span::call_site(), &mut errors);
    let Some(mut f) = parse_fn(&item, "guide", &mut errors) else {
        let errs = errors.to_compile_errors();
        return quote!(#item #errs);
    };
    let sites = analyze(&f.sig, &mut f.block, Role::Guide, &mut errors);
    let mut invocation = TokenStream::new();
    if in_impl(&f.sig) {
        errors.at(Span::call_site(), messages::GUIDE_METHOD_NEEDS_MODELS);
    } else if let Some(model) = &gargs.model {
        if is_self_path(model) {
            errors.at(model.span(), messages::GUIDE_SELF_PATH);
        } else {
            invocation = guide_invocation(model, &f.sig.ident, &effective(&sites), gargs.checked);
        }
    }
    let errs = errors.to_compile_errors();
    quote!(#f #invocation #errs)
}

/// `__guide_with_model!`: the model's site macro calls it with both site lists.
pub fn guide_with_model(input: TokenStream) -> TokenStream {
    let parsed = (|input: ParseStream| {
        input.parse::<syn::Token![@]>()?;
        let kw: Ident = input.parse()?;
        if kw != "model" {
            return Err(syn::Error::new(
                kw.span(),
                messages::expected_marker("model"),
            ));
        }
        let model: LitStr = input.parse()?;
        let model_sites = sites::parse_list(input)?;
        input.parse::<syn::Token![@]>()?;
        let kw: Ident = input.parse()?;
        if kw != "guide" {
            return Err(syn::Error::new(
                kw.span(),
                messages::expected_marker("guide"),
            ));
        }
        let guide: Ident = input.parse()?;
        let mode: Ident = input.parse()?;
        let guide_sites = sites::parse_list(input)?;
        Ok((model, model_sites, guide, mode, guide_sites))
    })
    .parse2(input);
    let mut errors = Errors::default();
    match parsed {
        Ok((model, model_sites, guide, mode, guide_sites)) => {
            if mode == "checked" {
                check::pair(
                    &model.value(),
                    &model_sites,
                    &guide.unraw().to_string(),
                    guide.span(),
                    &guide_sites,
                    &mut errors,
                );
            }
        }
        Err(e) => errors.at(e.span(), messages::unreadable_site_list(&e.to_string())),
    }
    errors.to_compile_errors()
}

fn role_of(attr: &Attribute) -> Option<Role> {
    let segs = &attr.path().segments;
    let ok_prefix = match segs.len() {
        1 => attr.path().leading_colon.is_none(),
        2 => segs.first().is_some_and(|s| s.ident == "pyro"),
        _ => false,
    };
    let last = segs.last()?;
    match (ok_prefix, last.ident.to_string().as_str()) {
        (true, "model") => Some(Role::Model),
        (true, "guide") => Some(Role::Guide),
        _ => None,
    }
}

struct Method {
    ident: Ident,
    role: Role,
    sites: Vec<Site>,
    guide: Option<GuideArgs>,
}

/// `#[models]` on an impl block: rewrites its `#[model]` and `#[guide(model = ..)]` methods
/// and checks each guide against its model.
pub fn models(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    if let Some(first) = args.clone().into_iter().next() {
        errors.at(first.span(), messages::MODELS_TAKES_NO_ARGUMENTS);
    }
    let mut imp = match syn::parse2::<ItemImpl>(item.clone()) {
        Ok(i) => i,
        Err(e) => {
            errors.at(
                Span::call_site(),
                messages::models_not_an_impl(&e.to_string()),
            );
            let errs = errors.to_compile_errors();
            return quote!(#item #errs);
        }
    };
    let all_methods: Vec<Ident> = imp
        .items
        .iter()
        .filter_map(|it| match it {
            ImplItem::Fn(f) => Some(f.sig.ident.clone()),
            _ => None,
        })
        .collect();
    let mut methods = Vec::new();
    for it in imp.items.iter_mut() {
        let ImplItem::Fn(f) = it else {
            continue;
        };
        let mut roles = Vec::new();
        f.attrs.retain(|a| match role_of(a) {
            Some(r) => {
                roles.push((r, a.clone()));
                false
            }
            None => true,
        });
        let Some((role, attr)) = roles.first().cloned() else {
            continue;
        };
        if let Some((_, extra)) = roles.get(1) {
            errors.at(extra.span(), messages::MODEL_AND_GUIDE);
        }
        let guide = match (role, &attr.meta) {
            (Role::Guide, syn::Meta::List(l)) => Some(guide_args(
                l.tokens.clone(),
                l.delimiter.span().close(),
                &mut errors,
            )),
            (Role::Guide, m) => Some(guide_args(TokenStream::new(), m.span(), &mut errors)),
            (Role::Model, syn::Meta::Path(_)) => None,
            (Role::Model, m) => {
                errors.at(m.span(), messages::MODEL_METHOD_TAKES_NO_ARGUMENTS);
                None
            }
        };
        let sites = analyze(&f.sig, &mut f.block, role, &mut errors);
        methods.push(Method {
            ident: f.sig.ident.clone(),
            role,
            sites,
            guide,
        });
    }
    let mut invocations = TokenStream::new();
    for g in methods.iter().filter(|m| m.role == Role::Guide) {
        let Some(GuideArgs {
            model: Some(path),
            checked,
        }) = &g.guide
        else {
            continue;
        };
        let target = if is_self_path(path) {
            path.segments.last().map(|s| &s.ident)
        } else {
            path.get_ident()
        };
        let found = target.and_then(|t| {
            methods
                .iter()
                .find(|m| m.role == Role::Model && m.ident.unraw() == t.unraw())
        });
        let is_method = target.is_some_and(|t| all_methods.iter().any(|m| m.unraw() == t.unraw()));
        match found {
            Some(m) => {
                if *checked {
                    check::pair(
                        &m.ident.unraw().to_string(),
                        &effective(&m.sites),
                        &g.ident.unraw().to_string(),
                        g.ident.span(),
                        &effective(&g.sites),
                        &mut errors,
                    );
                }
            }
            None if is_self_path(path) || is_method => {
                not_a_model_method(path, &methods, &mut errors)
            }
            None => {
                // A free #[model] function (checked through its site macro).
                invocations.extend(guide_invocation(
                    path,
                    &g.ident,
                    &effective(&g.sites),
                    *checked,
                ));
            }
        }
    }
    let errs = errors.to_compile_errors();
    let imp = imp.into_token_stream();
    quote!(#imp #invocations #errs)
}

fn not_a_model_method(path: &Path, methods: &[Method], errors: &mut Errors) {
    let models: Vec<String> = methods
        .iter()
        .filter(|m| m.role == Role::Model)
        .map(|m| format!("`{}`", m.ident))
        .collect();
    let name = path
        .segments
        .last()
        .map(|s| s.ident.to_string())
        .unwrap_or_default();
    errors.at(path.span(), messages::not_a_model_method(&name, &models));
}
