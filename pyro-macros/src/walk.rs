//! The walk over a `#[model]`/`#[guide]` body: finds the site macro calls, has each read into
//! the IR ([`crate::ir`]) with the context it stands in (plates, loops, `if`/`match` arms, the
//! names declared `Option`), and leaves a marker in its place for the expansion.

use std::collections::HashSet;

use proc_macro2::{TokenStream, TokenTree};
use quote::ToTokens;
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::visit_mut::{self, VisitMut};
use syn::{Expr, Macro, Pat, Signature, Stmt, Token, Type};

use crate::errors::Errors;
use crate::ir::{
    self, Call, Context, EnclosingPlate, LoopInfo, LoopKind, PlateForm, Position, Role, SiteCall,
    Which,
};

/// Walks the body of the function `sig`, replacing each site macro call by a marker; returns
/// the function's IR.
pub fn function(
    role: Role,
    sig: &Signature,
    block: &mut syn::Block,
    errors: &mut Errors,
) -> ir::Function {
    let mut optional = HashSet::new();
    for arg in &sig.inputs {
        if let syn::FnArg::Typed(pt) = arg {
            if let Pat::Ident(pi) = &*pt.pat {
                if is_option_type(&pt.ty) {
                    optional.insert(pi.ident.to_string());
                }
            }
        }
    }
    OptionalLets(&mut optional).visit_block_mut(block);
    let mut w = Walker {
        errors,
        calls: Vec::new(),
        plates: Vec::new(),
        loops: Vec::new(),
        branches: Vec::new(),
        next_branch: 0,
        optional,
    };
    w.visit_block_mut(block);
    ir::Function {
        role,
        ident: sig.ident.clone(),
        fallible: !matches!(sig.output, syn::ReturnType::Default),
        calls: w.calls,
    }
}

/// Whether a type is written `Option<..>` (or a reference to one).
fn is_option_type(ty: &Type) -> bool {
    match ty {
        Type::Reference(r) => is_option_type(&r.elem),
        Type::Paren(p) => is_option_type(&p.elem),
        Type::Group(g) => is_option_type(&g.elem),
        Type::Path(p) => p.path.segments.last().is_some_and(|s| s.ident == "Option"),
        _ => false,
    }
}

/// Collects the names bound by `let name: Option<..>` anywhere in a block (it changes
/// nothing).
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

/// Whether a token stream mentions one of the site macros (`name !`).
fn mentions_site_macro(tokens: &TokenStream) -> bool {
    let mut prev_ident = false;
    for tt in tokens.clone() {
        match tt {
            TokenTree::Ident(i) => {
                prev_ident = ir::NAMES.iter().any(|(n, _)| i == n);
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

/// The walker's state: the calls found so far and the context of the current position.
struct Walker<'e> {
    errors: &'e mut Errors,
    /// The calls, in site order; a call's index is its id.
    calls: Vec<Call>,
    plates: Vec<EnclosingPlate>,
    loops: Vec<LoopInfo>,
    branches: Vec<(usize, usize)>,
    next_branch: usize,
    /// The names visibly typed `Option<..>` (function arguments and `let`s).
    optional: HashSet<String>,
}

impl Walker<'_> {
    /// The context of the current position.
    fn context(&self) -> Context {
        Context {
            plates: self.plates.clone(),
            in_loop: self.loops.last().cloned(),
            branches: self.branches.clone(),
        }
    }

    /// Takes the next id (a slot filled by [`Walker::fill`]).
    fn reserve(&mut self) -> usize {
        self.calls.push(Call {
            span: proc_macro2::Span::call_site(),
            position: Position::Statement,
            context: Context::default(),
            site: SiteCall::Unreadable(Vec::new()),
            report_at: 0,
        });
        self.calls.len() - 1
    }

    /// Puts `call` in its reserved slot.
    fn fill(&mut self, id: usize, call: Call) {
        if let Some(slot) = self.calls.get_mut(id) {
            *slot = call;
        }
    }

    /// The marker of call `id`, at the call's span.
    fn marker(&self, id: usize) -> Expr {
        let span = self
            .calls
            .get(id)
            .map_or_else(proc_macro2::Span::call_site, |c| c.span);
        ir::marker(id, span)
    }

    /// Reads one site macro call at `position` and walks its arguments (and a vectorized
    /// plate's body); returns its id. A `sample!` takes its id after the calls in its
    /// arguments, every other macro before them: that is the site order.
    fn call(&mut self, mac: &Macro, which: Which, position: Position) -> usize {
        let span = mac
            .path
            .segments
            .last()
            .map_or(mac.span(), |s| s.ident.span());
        let context = self.context();
        let site = ir::parse_call(mac, which, &position, &self.optional, self.errors);
        let mut call = Call {
            span,
            position,
            context,
            site,
            report_at: 0,
        };
        let early = (which != Which::Sample).then(|| self.reserve());
        for e in call.args_mut() {
            self.visit_expr_mut(e);
        }
        call.report_at = self.errors.len();
        if let SiteCall::Plate(p) = &mut call.site {
            let dim = p.dim();
            if let PlateForm::Vectorized { body, .. } = &mut p.form {
                self.plates.push(EnclosingPlate {
                    name: p.name.name.clone(),
                    vectorized: true,
                    dim,
                });
                self.visit_expr_mut(body);
                self.plates.pop();
            }
        }
        let id = early.unwrap_or_else(|| self.reserve());
        self.fill(id, call);
        id
    }

    /// `for pat in plate!(..) body`: a sequential plate around the loop's body.
    fn sequential_plate(&mut self, f: &mut syn::ExprForLoop, mac: &Macro) {
        let var = match &*f.pat {
            Pat::Ident(pi) => Some(pi.ident.to_string()),
            _ => None,
        };
        let id = self.call(mac, Which::Plate, Position::ForHead);
        *f.expr = self.marker(id);
        let plate = match self.calls.get(id).map(|c| &c.site) {
            Some(SiteCall::Plate(p)) => Some(p.name.name.clone()),
            _ => None,
        };
        match plate {
            Some(name) => {
                let kind = LoopKind::SeqPlate(name.display());
                self.plates.push(EnclosingPlate {
                    name,
                    vectorized: false,
                    dim: ir::Dim::Auto,
                });
                self.loops.push(LoopInfo { kind, var });
                self.visit_block_mut(&mut f.body);
                self.loops.pop();
                self.plates.pop();
            }
            // Unreadable: the body is still walked, as in any `for` loop.
            None => self.in_loop(LoopKind::For, |w| w.visit_block_mut(&mut f.body)),
        }
    }

    /// Walks the arguments of another macro, when those are plain comma-separated
    /// expressions (`vec![..]`, `println!(..)`, `assert!(..)`, ...).
    fn foreign_macro(&mut self, mac: &mut Macro) {
        if !mentions_site_macro(&mac.tokens) {
            return;
        }
        let Ok(mut list) =
            Punctuated::<Expr, Token![,]>::parse_terminated.parse2(mac.tokens.clone())
        else {
            return;
        };
        let before = self.calls.len();
        for e in list.iter_mut() {
            self.visit_expr_mut(e);
        }
        if self.calls.len() != before {
            mac.tokens = list.to_token_stream();
        }
    }

    /// Runs `f` inside arm `arm` of branch point `id`.
    fn in_branch(&mut self, id: usize, arm: usize, f: impl FnOnce(&mut Self)) {
        self.branches.push((id, arm));
        f(self);
        self.branches.pop();
    }

    /// Runs `f` inside a loop of kind `kind`.
    fn in_loop(&mut self, kind: LoopKind, f: impl FnOnce(&mut Self)) {
        self.loops.push(LoopInfo { kind, var: None });
        f(self);
        self.loops.pop();
    }
}

impl VisitMut for Walker<'_> {
    fn visit_expr_mut(&mut self, e: &mut Expr) {
        match e {
            Expr::Macro(m) => match ir::which(&m.mac) {
                Some(w) => {
                    let id = self.call(&m.mac, w, Position::Expression);
                    *e = self.marker(id);
                }
                None => self.foreign_macro(&mut m.mac),
            },
            Expr::ForLoop(f) => {
                if let Expr::Macro(m) = &*f.expr {
                    if ir::which(&m.mac) == Some(Which::Plate) {
                        let mac = m.mac.clone();
                        self.sequential_plate(f, &mac);
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
            Stmt::Macro(sm) => match ir::which(&sm.mac) {
                Some(w) => {
                    let id = self.call(&sm.mac, w, Position::Statement);
                    *s = Stmt::Expr(self.marker(id), sm.semi_token);
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
    use crate::sites::Kind;

    fn walk(role: Role, f: syn::ItemFn) -> (ir::Function, Vec<String>, String) {
        let mut errors = Errors::default();
        let mut f = f;
        let ir = function(role, &f.sig, &mut f.block, &mut errors);
        (ir, errors.messages(), f.to_token_stream().to_string())
    }

    #[test]
    fn records_sites_with_plates_loops_and_branches() {
        let (ir, errs, out) = walk(
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
        let sites = ir.sites();
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
        let contexts: Vec<&Context> = ir
            .calls
            .iter()
            .filter(|c| c.site().is_some())
            .map(|c| &c.context)
            .collect();
        assert!(contexts[2].exclusive(contexts[3]));
        assert!(!contexts[0].exclusive(contexts[2]));
        assert!(matches!(
            contexts[4].in_loop.as_ref().map(|l| &l.kind),
            Some(LoopKind::SeqPlate(_))
        ));
        assert_eq!(contexts[1].plate_rank(), Some(1));
        assert!(ir.fallible && ir.calls.len() == 8, "{}", ir.calls.len());
        // Every call is replaced by its marker.
        assert!(
            !out.contains("sample !") && !out.contains("plate !"),
            "{out}"
        );
    }

    #[test]
    fn walks_other_macros_and_nested_arguments_in_site_order() {
        let (ir, errs, _) = walk(
            Role::Model,
            syn::parse_quote! {
                fn m() -> R {
                    let v = vec![sample!("a", d), sample!("b", Normal::new(sample!("c", d), 1.0))];
                    param!("p", deterministic!("q", sample!("r", d)));
                    Ok(())
                }
            },
        );
        assert!(errs.is_empty(), "{errs:?}");
        let names: Vec<_> = ir.sites().iter().map(|s| s.name.display()).collect();
        assert_eq!(names, ["a", "c", "b", "p", "q", "r"]);
    }

    #[test]
    fn option_lets_and_loops_are_context() {
        let (ir, _, _) = walk(
            Role::Model,
            syn::parse_quote! {
                fn m() -> R {
                    let o: Option<Tensor<Rank0>> = None;
                    while go { sample!("w", d, obs = o); }
                    for t in plate!(bad_name(), 3) { sample!("t", d); }
                    Ok(())
                }
            },
        );
        let sites = ir.sites();
        assert_eq!(sites[0].kind, Kind::MaybeObserved);
        let loops: Vec<_> = ir
            .calls
            .iter()
            .filter(|c| c.site().is_some())
            .map(|c| c.context.in_loop.as_ref().map(|l| l.kind.clone()))
            .collect();
        assert!(matches!(loops[0], Some(LoopKind::While)), "{loops:?}");
        // A bad plate name is reported, and the plate is still read.
        assert!(matches!(loops[1], Some(LoopKind::SeqPlate(_))), "{loops:?}");
    }
}
