//! The walk over a `#[model]`/`#[guide]` body: finds the site macros, parses them, records
//! each site with its context (plates, loops, `if`/`match` arms) and rewrites it into its
//! expansion.

use std::collections::HashSet;

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::ToTokens;
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::visit_mut::{self, VisitMut};
use syn::{Expr, Macro, Pat, Stmt, Token, Type};

use crate::args::{self, Kwarg};
use crate::errors::Errors;
use crate::expand::{self, Obs, PlateOpts};
use crate::messages;
use crate::names::{self, Name};
use crate::sites::{Kind, LoopInfo, LoopKind, PlateRef, Site};

/// Whether the function is a model or a guide.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// `#[model]`.
    Model,
    /// `#[guide]`.
    Guide,
}

/// The site macros.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Which {
    Sample,
    Param,
    Plate,
    Factor,
    Deterministic,
    Subsample,
}

const NAMES: [(&str, Which); 6] = [
    ("sample", Which::Sample),
    ("param", Which::Param),
    ("plate", Which::Plate),
    ("factor", Which::Factor),
    ("deterministic", Which::Deterministic),
    ("subsample", Which::Subsample),
];

/// `sample!`, `pyro::sample!` or `::pyro::sample!` (and the other site macros).
fn which(mac: &Macro) -> Option<Which> {
    let segs = &mac.path.segments;
    let last = segs.last()?;
    if !last.arguments.is_none() {
        return None;
    }
    let prefix_ok = match segs.len() {
        1 => mac.path.leading_colon.is_none(),
        2 => segs.first().is_some_and(|s| s.ident == "pyro"),
        _ => false,
    };
    if !prefix_ok {
        return None;
    }
    NAMES.iter().find(|(n, _)| last.ident == n).map(|(_, w)| *w)
}

/// Whether a token stream mentions one of the site macros (`name !`).
fn mentions_site_macro(tokens: &TokenStream) -> bool {
    let mut prev_ident = false;
    for tt in tokens.clone() {
        match tt {
            TokenTree::Ident(i) => {
                prev_ident = NAMES.iter().any(|(n, _)| i == n);
                continue;
            }
            TokenTree::Punct(p) if p.as_char() == '!' && prev_ident => return true,
            TokenTree::Group(g) if mentions_site_macro(&g.stream()) => return true,
            _ => {}
        }
        prev_ident = false;
    }
    false
}

/// How a plate's `dim` is given.
#[derive(Clone, Copy)]
enum Dim {
    Auto,
    Lit(usize),
    Unknown,
}

struct PlateCtx {
    name: Name,
    vectorized: bool,
    dim: Dim,
}

/// The walker's state.
pub struct Walker<'e> {
    role: Role,
    errors: &'e mut Errors,
    /// The sites found, in source order (inner sites of an argument before the outer site).
    pub sites: Vec<Site>,
    /// How many site macros were rewritten.
    pub rewritten: usize,
    plates: Vec<PlateCtx>,
    loops: Vec<LoopInfo>,
    branches: Vec<(usize, usize)>,
    next_branch: usize,
    optional: HashSet<String>,
    /// Whether the function returns a `Result` (so expansions may use `?`).
    fallible: bool,
}

/// Whether a type is written `Option<..>` (or a reference to one).
pub fn is_option_type(ty: &Type) -> bool {
    match ty {
        Type::Reference(r) => is_option_type(&r.elem),
        Type::Paren(p) => is_option_type(&p.elem),
        Type::Group(g) => is_option_type(&g.elem),
        Type::Path(p) => p.path.segments.last().is_some_and(|s| s.ident == "Option"),
        _ => false,
    }
}

/// Collects the names bound by `let name: Option<..>` anywhere in a block.
struct OptionalLets<'a>(&'a mut HashSet<String>);

impl VisitMut for OptionalLets<'_> {
    fn visit_local_mut(&mut self, l: &mut syn::Local) {
        if let Pat::Type(pt) = &l.pat {
            if let Pat::Ident(pi) = &*pt.pat {
                if is_option_type(&pt.ty) {
                    self.0.insert(pi.ident.to_string());
                }
            }
        }
        visit_mut::visit_local_mut(self, l);
    }
}

impl<'e> Walker<'e> {
    /// A walker for one function whose arguments are `inputs`.
    pub fn new<'a>(
        role: Role,
        inputs: impl IntoIterator<Item = &'a syn::FnArg>,
        errors: &'e mut Errors,
    ) -> Self {
        let mut optional = HashSet::new();
        for arg in inputs {
            if let syn::FnArg::Typed(pt) = arg {
                if let Pat::Ident(pi) = &*pt.pat {
                    if is_option_type(&pt.ty) {
                        optional.insert(pi.ident.to_string());
                    }
                }
            }
        }
        Walker {
            role,
            errors,
            sites: Vec::new(),
            rewritten: 0,
            plates: Vec::new(),
            loops: Vec::new(),
            branches: Vec::new(),
            next_branch: 0,
            optional,
            fallible: true,
        }
    }

    /// Tells the walk that the function does not return a `Result` (an error reported by
    /// the caller); expansions then avoid `?`, which would only add a second error.
    pub fn set_fallible(&mut self, fallible: bool) {
        self.fallible = fallible;
    }

    /// Walks and rewrites a function body.
    pub fn walk_block(&mut self, block: &mut syn::Block) {
        let mut copy = block.clone();
        OptionalLets(&mut self.optional).visit_block_mut(&mut copy);
        self.visit_block_mut(block);
    }

    fn record(&mut self, mut site: Site) {
        site.plates = self
            .plates
            .iter()
            .map(|p| PlateRef {
                name: p.name.clone(),
            })
            .collect();
        site.in_loop = self.loops.last().cloned();
        site.branches = self.branches.clone();
        self.sites.push(site);
    }

    /// The number of dims the enclosing vectorized plates take, if the macros can know it.
    fn plate_rank(&self) -> Option<usize> {
        let mut count = 0;
        let mut max_lit = 0;
        for p in self.plates.iter().filter(|p| p.vectorized) {
            count += 1;
            match p.dim {
                Dim::Auto => {}
                Dim::Lit(d) => max_lit = max_lit.max(d),
                Dim::Unknown => return None,
            }
        }
        let k = count.max(max_lit);
        (k <= 4).then_some(k)
    }

    fn visit_opt(&mut self, kw: &mut Option<Kwarg>) {
        if let Some(kw) = kw {
            self.visit_expr_mut(&mut kw.value);
        }
    }

    // ----- the macros ---------------------------------------------------------------------

    fn rewrite(&mut self, mac: &Macro, which: Which, statement: bool) -> Expr {
        self.rewritten += 1;
        let span = mac
            .path
            .segments
            .last()
            .map_or(mac.span(), |s| s.ident.span());
        let tokens = match which {
            Which::Sample => self.sample(mac, span),
            Which::Param => self.param(mac, span),
            Which::Plate => self.plate(mac, span, statement),
            Which::Factor => self.factor(mac, span),
            Which::Deterministic => self.deterministic(mac, span),
            Which::Subsample => self.subsample(mac, span),
        };
        Expr::Verbatim(tokens.unwrap_or_else(|| expand::placeholder(span, statement)))
    }

    /// The name argument, or an error at the closing delimiter when there is none.
    fn name_arg(
        &mut self,
        arg: Option<&Expr>,
        close: Span,
        what: &str,
        missing: &str,
    ) -> Option<names::NameArg> {
        match arg {
            Some(e) => Some(names::classify(e, what, self.errors)),
            None => {
                self.errors.at(close, missing);
                None
            }
        }
    }

    fn classify_obs<'a>(&self, e: &'a Expr) -> (ObsClass, &'a Expr) {
        match e {
            Expr::Path(p) if p.qself.is_none() => match p.path.get_ident() {
                Some(i) if i == "None" => (ObsClass::Absent, e),
                Some(i) if self.optional.contains(&i.to_string()) => (ObsClass::Maybe, e),
                _ => (ObsClass::Always, e),
            },
            Expr::Call(c) if c.args.len() == 1 => match &*c.func {
                Expr::Path(p) if p.path.is_ident("Some") => match c.args.first() {
                    Some(inner) => (ObsClass::Always, inner),
                    None => (ObsClass::Always, e),
                },
                _ => (ObsClass::Always, e),
            },
            Expr::MethodCall(m)
                if ["as_ref", "as_deref", "cloned", "copied", "clone"]
                    .iter()
                    .any(|n| m.method == n) =>
            {
                match self.classify_obs(&m.receiver).0 {
                    ObsClass::Maybe => (ObsClass::Maybe, e),
                    _ => (ObsClass::Always, e),
                }
            }
            Expr::Reference(r) => (self.classify_obs(&r.expr).0, e),
            Expr::Paren(p) => (self.classify_obs(&p.expr).0, e),
            _ => (ObsClass::Always, e),
        }
    }

    fn sample(&mut self, mac: &Macro, span: Span) -> Option<TokenStream> {
        const USAGE: &str =
            "`sample!(\"name\", distribution)` or `sample!(\"name\", distribution, obs = value)`";
        let mut a = args::parse(mac, USAGE, self.errors)?;
        let mut kw = a.take_kwargs(
            "`sample!`",
            &["obs", "obs_mask", "infer"],
            &["name", "distribution"],
            self.errors,
        );
        a.no_more_than(2, "sample", USAGE, self.errors);
        let name = self.name_arg(
            a.positional.first(),
            a.close,
            "site",
            "`sample!` needs a site name and a distribution, as in \
             `sample!(\"z\", Normal::new(0.0, 1.0))`",
        )?;
        let Some(mut dist) = a.positional.get(1).cloned() else {
            self.errors.at(
                a.close,
                "`sample!` needs a distribution after the site name, as in \
                 `sample!(\"z\", Normal::new(0.0, 1.0))`",
            );
            self.record(Site::new(Kind::Latent, name.name, name.span));
            return None;
        };
        self.visit_expr_mut(&mut dist);
        for k in kw.iter_mut() {
            self.visit_opt(k);
        }
        let [obs_kw, mask_kw, infer_kw] = &kw[..] else {
            return None;
        };
        let (class, obs_expr) = match obs_kw {
            Some(o) => {
                let (c, e) = self.classify_obs(&o.value);
                (c, Some(e))
            }
            None => (ObsClass::Absent, None),
        };
        let kind = match class {
            ObsClass::Absent => Kind::Latent,
            ObsClass::Always => Kind::Observed,
            ObsClass::Maybe => Kind::MaybeObserved,
        };
        if let (Some(m), None) = (mask_kw, obs_kw) {
            self.errors.at(
                m.key.span(),
                "`obs_mask` selects which elements of `obs` are observed, so it needs \
                 `obs = value` as well",
            );
        }
        if let (Role::Guide, Some(o)) = (self.role, obs_kw) {
            self.errors.at(
                o.key.span(),
                messages::guide_site_observed(&name.name.display()),
            );
        }
        let mut site = Site::new(kind, name.name.clone(), name.span);
        site.lenient = infer_kw.is_some();
        site.masked = mask_kw.is_some() && kind == Kind::Observed;
        site.obs_span = obs_kw.as_ref().map(|o| o.key.span());
        self.record(site);
        let obs = match (class, obs_expr) {
            (ObsClass::Always, Some(e)) => Obs::Always(e),
            (ObsClass::Maybe, Some(e)) => Obs::Maybe(e),
            _ => Obs::Absent,
        };
        let call = expand::sample(
            span,
            &name.tokens,
            &dist,
            obs,
            mask_kw.as_ref().map(|k| &k.value),
            infer_kw.as_ref().map(|k| &k.value),
            self.plate_rank(),
        );
        Some(expand::try_op(span, call, self.fallible))
    }

    fn param(&mut self, mac: &Macro, span: Span) -> Option<TokenStream> {
        const USAGE: &str =
            "`param!(\"name\", initial_value)` (options: `constraint = ..`, `event_dim = ..`)";
        let mut a = args::parse(mac, USAGE, self.errors)?;
        let mut kw = a.take_kwargs(
            "`param!`",
            &["constraint", "event_dim"],
            &["name", "init"],
            self.errors,
        );
        a.no_more_than(2, "param", USAGE, self.errors);
        let name = self.name_arg(
            a.positional.first(),
            a.close,
            "param",
            "`param!` needs a name and an initial value, as in `param!(\"w\", 0.5)`",
        )?;
        self.record(Site::new(Kind::Param, name.name.clone(), name.span));
        let Some(mut init) = a.positional.get(1).cloned() else {
            self.errors.at(
                a.close,
                "`param!` needs an initial value after the name, as in `param!(\"w\", 0.5)` \
                 or, computed only the first time, `param!(\"w\", || init())`",
            );
            return None;
        };
        self.visit_expr_mut(&mut init);
        for k in kw.iter_mut() {
            self.visit_opt(k);
        }
        let lazy = match &init {
            Expr::Closure(c) if c.inputs.is_empty() => true,
            Expr::Closure(c) => {
                self.errors.at(
                    c.inputs.span(),
                    "a lazy initial value is a closure without arguments: `|| value`",
                );
                return None;
            }
            _ => false,
        };
        let [constraint, event_dim] = &kw[..] else {
            return None;
        };
        let call = expand::param(
            span,
            &name.tokens,
            &init,
            lazy,
            constraint.as_ref().map(|k| &k.value),
            event_dim.as_ref().map(|k| &k.value),
        );
        Some(expand::try_op(span, call, self.fallible))
    }

    fn factor(&mut self, mac: &Macro, span: Span) -> Option<TokenStream> {
        const USAGE: &str = "`factor!(\"name\", log_factor)`";
        let mut a = args::parse(mac, USAGE, self.errors)?;
        a.take_kwargs("`factor!`", &[], &["name"], self.errors);
        a.no_more_than(2, "factor", USAGE, self.errors);
        let name = self.name_arg(
            a.positional.first(),
            a.close,
            "site",
            "`factor!` needs a site name and a log-factor, as in `factor!(\"penalty\", log_p)`",
        )?;
        self.record(Site::new(Kind::Factor, name.name.clone(), name.span));
        let Some(mut value) = a.positional.get(1).cloned() else {
            self.errors.at(
                a.close,
                "`factor!` needs a log-factor tensor after the name, as in \
                 `factor!(\"penalty\", log_p)`",
            );
            return None;
        };
        self.visit_expr_mut(&mut value);
        let call = expand::factor(&name.tokens, &value);
        Some(expand::try_op(span, call, self.fallible))
    }

    fn deterministic(&mut self, mac: &Macro, span: Span) -> Option<TokenStream> {
        const USAGE: &str = "`deterministic!(\"name\", value)` (option: `event_dim = ..`)";
        let mut a = args::parse(mac, USAGE, self.errors)?;
        let mut kw = a.take_kwargs(
            "`deterministic!`",
            &["event_dim"],
            &["name", "value"],
            self.errors,
        );
        a.no_more_than(2, "deterministic", USAGE, self.errors);
        let name = self.name_arg(
            a.positional.first(),
            a.close,
            "site",
            "`deterministic!` needs a site name and a value, as in \
             `deterministic!(\"mean\", mean)`",
        )?;
        self.record(Site::new(Kind::Deterministic, name.name.clone(), name.span));
        let Some(mut value) = a.positional.get(1).cloned() else {
            self.errors.at(
                a.close,
                "`deterministic!` needs a value after the name, as in \
                 `deterministic!(\"mean\", mean)`",
            );
            return None;
        };
        self.visit_expr_mut(&mut value);
        for k in kw.iter_mut() {
            self.visit_opt(k);
        }
        let event_dim = kw.first().and_then(|k| k.as_ref()).map(|k| &k.value);
        let call = expand::deterministic(span, &name.tokens, &value, event_dim);
        Some(expand::try_op(span, call, self.fallible))
    }

    fn subsample(&mut self, mac: &Macro, span: Span) -> Option<TokenStream> {
        const USAGE: &str = "`subsample!(data)` or `subsample!(data, event_dim = 1)`";
        let mut a = args::parse(mac, USAGE, self.errors)?;
        let mut kw = a.take_kwargs("`subsample!`", &["event_dim"], &["data"], self.errors);
        a.no_more_than(1, "subsample", USAGE, self.errors);
        let Some(mut data) = a.positional.first().cloned() else {
            self.errors.at(
                a.close,
                "`subsample!` needs the data to index by the plates' batch, as in \
                 `subsample!(data)`",
            );
            return None;
        };
        if self.plates.iter().all(|p| !p.vectorized) {
            self.errors.at(
                span,
                "`subsample!` indexes data by the batch of the enclosing vectorized plates, \
                 but it is not inside a `plate!` block",
            );
        }
        self.visit_expr_mut(&mut data);
        for k in kw.iter_mut() {
            self.visit_opt(k);
        }
        let event_dim = kw.first().and_then(|k| k.as_ref()).map(|k| &k.value);
        let call = expand::subsample(span, &data, event_dim);
        Some(expand::try_op(span, call, self.fallible))
    }

    /// The name, size and options shared by both plate forms.
    fn plate_head(
        &mut self,
        a: &mut args::Args,
        sequential: bool,
    ) -> Option<(names::NameArg, Expr, [Option<Kwarg>; 3])> {
        let kw = a.take_kwargs(
            "`plate!`",
            &["subsample_size", "subsample", "dim"],
            &["name", "size", "body"],
            self.errors,
        );
        let name = self.name_arg(
            a.positional.first(),
            a.close,
            "plate",
            "`plate!` needs a name and a size, as in `plate!(\"data\", 100, { ... })`",
        )?;
        let Some(mut size) = a.positional.get(1).cloned() else {
            self.errors.at(
                a.close,
                "`plate!` needs a size after the name, as in `plate!(\"data\", 100, { ... })`",
            );
            return None;
        };
        self.visit_expr_mut(&mut size);
        let mut kw: [Option<Kwarg>; 3] = match kw.try_into() {
            Ok(k) => k,
            Err(_) => return None,
        };
        for k in kw.iter_mut() {
            self.visit_opt(k);
        }
        if let (true, Some(d)) = (sequential, &kw[2]) {
            self.errors.at(
                d.key.span(),
                "a sequential plate (`for .. in plate!(..)`) has no `dim`: only vectorized \
                 plates take a batch dim",
            );
        }
        Some((name, size, kw))
    }

    fn dim_of(&mut self, dim: Option<&Kwarg>) -> Dim {
        let Some(kw) = dim else {
            return Dim::Auto;
        };
        let lit_int = |e: &Expr| match e {
            Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Int(i),
                ..
            }) => i.base10_parse::<usize>().ok(),
            _ => None,
        };
        match &kw.value {
            Expr::Unary(u) if matches!(u.op, syn::UnOp::Neg(_)) => match lit_int(&u.expr) {
                Some(0) | None => Dim::Unknown,
                Some(n) => Dim::Lit(n),
            },
            e => {
                if lit_int(e).is_some() {
                    self.errors.at(
                        e.span(),
                        "a plate's `dim` counts from the right of the batch shape and is \
                         negative: `dim = -1` is the rightmost batch dim",
                    );
                }
                Dim::Unknown
            }
        }
    }

    fn plate(&mut self, mac: &Macro, span: Span, statement: bool) -> Option<TokenStream> {
        const USAGE: &str =
            "`plate!(\"name\", size, { ... })` or `plate!(\"name\", size, |p| { ... })`";
        let mut a = args::parse(mac, USAGE, self.errors)?;
        a.no_more_than(3, "plate", USAGE, self.errors);
        let (name, size, kw) = self.plate_head(&mut a, false)?;
        let Some(body) = a.positional.get(2).cloned() else {
            self.errors.at(
                a.close,
                "`plate!` needs a body: `plate!(\"data\", 100, { ... })`, or \
                 `plate!(\"data\", 100, |p| { ... })` to use the plate `p` (its indices); for \
                 a sequential plate, loop over it: `for i in plate!(\"data\", 100) { ... }`",
            );
            return None;
        };
        let (binding, mut body) = match body {
            Expr::Block(_) => (None, body),
            Expr::Closure(c) if c.inputs.len() <= 1 => (c.inputs.first().cloned(), *c.body),
            Expr::Closure(c) => {
                self.errors.at(
                    c.inputs.span(),
                    "the body closure of `plate!` takes one argument, the plate: `|p| { ... }`",
                );
                return None;
            }
            other => {
                self.errors.at(
                    other.span(),
                    "the last argument of `plate!` is its body: a block `{ ... }` or a closure \
                     `|p| { ... }`",
                );
                return None;
            }
        };
        let dim = self.dim_of(kw[2].as_ref());
        self.plates.push(PlateCtx {
            name: name.name.clone(),
            vectorized: true,
            dim,
        });
        self.visit_expr_mut(&mut body);
        self.plates.pop();
        let opts = PlateOpts {
            subsample_size: kw[0].as_ref().map(|k| &k.value),
            subsample: kw[1].as_ref().map(|k| &k.value),
            dim: kw[2].as_ref().map(|k| &k.value),
        };
        let block = expand::plate(
            span,
            &name.tokens,
            &size,
            &opts,
            binding.as_ref(),
            &body,
            self.fallible,
        );
        Some(if statement {
            block
        } else {
            quote::quote_spanned!(expand::gen(span)=> ::core::convert::identity(#block))
        })
    }

    /// `for pat in plate!(..) body`: a sequential plate.
    fn seq_plate(&mut self, f: &mut syn::ExprForLoop, mac: &Macro) {
        self.rewritten += 1;
        let span = mac
            .path
            .segments
            .last()
            .map_or(mac.span(), |s| s.ident.span());
        const USAGE: &str = "`for i in plate!(\"name\", size) { ... }`";
        let head = args::parse(mac, USAGE, self.errors).and_then(|mut a| {
            if let Some(body) = a.positional.get(2) {
                self.errors.at(
                    body.span(),
                    "a sequential plate takes no body argument: the `for` loop's body is the \
                     plate's body",
                );
            }
            a.no_more_than(3, "plate", USAGE, self.errors);
            self.plate_head(&mut a, true)
        });
        let Some((name, size, kw)) = head else {
            *f.expr = Expr::Verbatim(quote::quote_spanned! {expand::gen(span)=>
                ::pyro::dsl::invalid_site::<::core::ops::Range<usize>>()
            });
            self.loops.push(LoopInfo {
                kind: LoopKind::For,
                var: None,
            });
            self.visit_block_mut(&mut f.body);
            self.loops.pop();
            return;
        };
        let opts = PlateOpts {
            subsample_size: kw[0].as_ref().map(|k| &k.value),
            subsample: kw[1].as_ref().map(|k| &k.value),
            dim: None,
        };
        *f.expr = Expr::Verbatim(expand::seq_plate(
            span,
            &name.tokens,
            &size,
            &opts,
            self.fallible,
        ));
        self.plates.push(PlateCtx {
            name: name.name.clone(),
            vectorized: false,
            dim: Dim::Auto,
        });
        self.loops.push(LoopInfo {
            kind: LoopKind::SeqPlate(name.name.display()),
            var: match &*f.pat {
                Pat::Ident(pi) => Some(pi.ident.to_string()),
                _ => None,
            },
        });
        self.visit_block_mut(&mut f.body);
        self.loops.pop();
        self.plates.pop();
    }

    /// Rewrites site macros inside the arguments of another macro, when those are plain
    /// comma-separated expressions (`vec![..]`, `println!(..)`, `assert!(..)`, ...).
    fn foreign_macro(&mut self, mac: &mut Macro) {
        if !mentions_site_macro(&mac.tokens) {
            return;
        }
        let Ok(mut list) =
            Punctuated::<Expr, Token![,]>::parse_terminated.parse2(mac.tokens.clone())
        else {
            return;
        };
        let before = self.rewritten;
        for e in list.iter_mut() {
            self.visit_expr_mut(e);
        }
        if self.rewritten != before {
            mac.tokens = list.to_token_stream();
        }
    }

    fn in_branch(&mut self, id: usize, arm: usize, f: impl FnOnce(&mut Self)) {
        self.branches.push((id, arm));
        f(self);
        self.branches.pop();
    }

    fn in_loop(&mut self, kind: LoopKind, f: impl FnOnce(&mut Self)) {
        self.loops.push(LoopInfo { kind, var: None });
        f(self);
        self.loops.pop();
    }
}

#[derive(Clone, Copy)]
enum ObsClass {
    Absent,
    Always,
    Maybe,
}

impl VisitMut for Walker<'_> {
    fn visit_expr_mut(&mut self, e: &mut Expr) {
        match e {
            Expr::Macro(m) => match which(&m.mac) {
                Some(w) => *e = self.rewrite(&m.mac, w, false),
                None => self.foreign_macro(&mut m.mac),
            },
            Expr::ForLoop(f) => {
                if let Expr::Macro(m) = &*f.expr {
                    if which(&m.mac) == Some(Which::Plate) {
                        let mac = m.mac.clone();
                        self.seq_plate(f, &mac);
                        return;
                    }
                }
                self.visit_expr_mut(&mut f.expr);
                self.in_loop(LoopKind::For, |w| w.visit_block_mut(&mut f.body));
            }
            Expr::While(wh) => {
                self.in_loop(LoopKind::While, |w| {
                    w.visit_expr_mut(&mut wh.cond);
                    w.visit_block_mut(&mut wh.body);
                });
            }
            Expr::Loop(l) => {
                self.in_loop(LoopKind::Loop, |w| w.visit_block_mut(&mut l.body));
            }
            Expr::If(i) => {
                self.visit_expr_mut(&mut i.cond);
                let id = self.next_branch;
                self.next_branch += 1;
                self.in_branch(id, 0, |w| w.visit_block_mut(&mut i.then_branch));
                if let Some((_, els)) = &mut i.else_branch {
                    self.in_branch(id, 1, |w| w.visit_expr_mut(els));
                }
            }
            Expr::Match(m) => {
                self.visit_expr_mut(&mut m.expr);
                let id = self.next_branch;
                self.next_branch += 1;
                for (k, arm) in m.arms.iter_mut().enumerate() {
                    self.in_branch(id, k, |w| {
                        if let Some((_, g)) = &mut arm.guard {
                            w.visit_expr_mut(g);
                        }
                        w.visit_expr_mut(&mut arm.body);
                    });
                }
            }
            _ => visit_mut::visit_expr_mut(self, e),
        }
    }

    fn visit_stmt_mut(&mut self, s: &mut Stmt) {
        match s {
            Stmt::Macro(sm) => match which(&sm.mac) {
                Some(w) => {
                    let e = self.rewrite(&sm.mac, w, true);
                    *s = Stmt::Expr(e, sm.semi_token);
                }
                None => self.foreign_macro(&mut sm.mac),
            },
            // Items nested in the body are functions of their own: not walked.
            Stmt::Item(_) => {}
            _ => visit_mut::visit_stmt_mut(self, s),
        }
    }

    fn visit_item_mut(&mut self, _: &mut syn::Item) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    fn walk(role: Role, f: syn::ItemFn) -> (Vec<Site>, Vec<String>, String) {
        let mut errors = Errors::default();
        let mut f = f;
        let sites = {
            let mut w = Walker::new(role, f.sig.inputs.iter(), &mut errors);
            w.walk_block(&mut f.block);
            w.sites
        };
        (sites, errors.messages(), f.to_token_stream().to_string())
    }

    #[test]
    fn records_sites_with_plates_loops_and_branches() {
        let (sites, errs, out) = walk(
            Role::Model,
            syn::parse_quote! {
                fn m(y: Option<&Tensor<(usize,)>>) -> PyroResult<()> {
                    let a = sample!("a", Normal::new(0.0, 1.0));
                    plate!("data", 10, {
                        sample!("obs", Normal::new(a, 1.0), obs = y);
                    });
                    if c { sample!("b", d) } else { sample!("b", d) }
                    for i in plate!("seq", 3) { sample!(format!("x_{i}"), d); }
                    let w = param!("w", || 0.5, constraint = Constraint::Positive);
                    Ok(())
                }
            },
        );
        assert!(errs.is_empty(), "{errs:?}");
        let names: Vec<_> = sites.iter().map(|s| (s.kind, s.name.display())).collect();
        assert_eq!(
            names,
            vec![
                (Kind::Latent, "a".to_string()),
                (Kind::MaybeObserved, "obs".to_string()),
                (Kind::Latent, "b".to_string()),
                (Kind::Latent, "b".to_string()),
                (Kind::Latent, "x_{..}".to_string()),
                (Kind::Param, "w".to_string()),
            ]
        );
        assert_eq!(sites[1].plates.len(), 1);
        assert!(crate::sites::exclusive(&sites[2], &sites[3]));
        assert!(matches!(
            sites[4].in_loop.as_ref().map(|l| &l.kind),
            Some(LoopKind::SeqPlate(_))
        ));
        assert!(out.contains("sample :: < _ , _ , 1 >"), "{out}");
        assert!(out.contains("maybe_observed"), "{out}");
        assert!(out.contains("param_lazy"), "{out}");
        assert!(out.contains(". iter () ?"), "{out}");
        assert!(!out.contains("sample !"), "{out}");
    }

    #[test]
    fn rewrites_inside_other_macros_and_nested_arguments() {
        let (sites, errs, out) = walk(
            Role::Model,
            syn::parse_quote! {
                fn m() -> R {
                    let v = vec![sample!("a", d), sample!("b", Normal::new(sample!("c", d), 1.0))];
                    Ok(())
                }
            },
        );
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(sites.len(), 3);
        assert!(!out.contains("sample !"), "{out}");
    }

    #[test]
    fn guide_observations_and_bad_arguments_are_errors() {
        let (_, errs, _) = walk(
            Role::Guide,
            syn::parse_quote! {
                fn g() -> R {
                    sample!("a", d, obs = x);
                    sample!("b", d, ob = x);
                    sample!("c", d, infer = i, infer = i);
                    sample!("d");
                    plate!("p", 3);
                    param!("w");
                    sample!(name, d);
                    Ok(())
                }
            },
        );
        let all = errs.join("\n");
        for needle in [
            "guide site `a` is observed",
            "did you mean `obs`",
            "`infer` is given twice",
            "needs a distribution",
            "needs a body",
            "needs an initial value",
            "format!",
        ] {
            assert!(all.contains(needle), "missing {needle:?} in\n{all}");
        }
    }
}
