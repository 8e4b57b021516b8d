//! The owned intermediate form of a `#[model]`/`#[guide]` body: one [`Call`] per site macro,
//! with its parsed arguments, its spans and the context the walk found it in (enclosing
//! plates, loops, `if`/`match` arms). The walk ([`crate::walk`]) builds it, the checks
//! ([`crate::check`]) read it and the expansion ([`crate::expand`]) consumes it.
//!
//! A call's argument expressions are owned; a site macro nested in one of them is a call of
//! its own, and the argument holds a [`marker`] in its place, which the expansion replaces.

use proc_macro2::{Delimiter, Group, Ident, Literal, Span, TokenStream, TokenTree};
use syn::{Expr, Pat};

use crate::args::Kwarg;
use crate::names::{Name, NameArg};
use crate::sites::{Kind, PlateRef, Site};

mod parse;

pub use parse::{parse_call, which, Which, NAMES};

/// Whether the function is a model or a guide.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// `#[model]`.
    Model,
    /// `#[guide]`.
    Guide,
}

/// One walked function.
pub struct Function {
    /// Model or guide.
    pub role: Role,
    /// The function's name.
    pub ident: Ident,
    /// Whether it returns something (a `Result`, so expansions may use `?`).
    pub fallible: bool,
    /// Its site macro calls, in site order: a `sample!` after the calls in its arguments, the
    /// other macros before them. A call's index is the id its [`marker`] carries.
    pub calls: Vec<Call>,
}

impl Function {
    /// The sites of the function, in site order (what a guide is checked against).
    pub fn sites(&self) -> Vec<Site> {
        self.calls.iter().filter_map(Call::site).collect()
    }
}

/// Where in the syntax a call stands; it decides the type of a placeholder and whether a
/// plate's block is wrapped to be an expression.
#[derive(Clone, Debug)]
pub enum Position {
    /// A statement (`sample!(..);`).
    Statement,
    /// An expression (`let x = sample!(..);`).
    Expression,
    /// The iterator of a `for` loop: a sequential plate.
    ForHead,
}

/// One site macro call.
pub struct Call {
    /// The macro's name as written (`sample` in `sample!(..)`): where the call's own errors
    /// and its `?` point.
    pub span: Span,
    /// Where it stands.
    pub position: Position,
    /// What encloses it.
    pub context: Context,
    /// What it says.
    pub site: SiteCall,
    /// Where the checks of this call go in the error list ([`crate::errors::Errors::insert`]):
    /// after the errors of reading it and its arguments, before those of a plate's body.
    pub report_at: usize,
}

/// The parsed arguments of a site macro call.
pub enum SiteCall {
    /// `sample!`.
    Sample(Sample),
    /// `param!`.
    Param(Param),
    /// `plate!`, vectorized or sequential.
    Plate(Plate),
    /// `factor!`.
    Factor(Factor),
    /// `deterministic!`.
    Deterministic(Deterministic),
    /// `subsample!`.
    Subsample(Subsample),
    /// A call that could not be read (its errors are reported); it expands to a placeholder.
    /// It keeps the arguments it was read far enough to have (a plate's size and options),
    /// which are walked, so the sites in them still count.
    Unreadable(Vec<Expr>),
}

/// `sample!(name, dist, obs = .., obs_mask = .., infer = ..)`.
pub struct Sample {
    /// The site name.
    pub name: NameArg,
    /// The distribution; `None` when missing (the site still counts, as a latent one, and
    /// the options are dropped).
    pub dist: Option<Expr>,
    /// `obs = ..`.
    pub obs: Option<Obs>,
    /// `obs_mask = ..`.
    pub obs_mask: Option<Kwarg>,
    /// `infer = ..`.
    pub infer: Option<Kwarg>,
}

/// How an observation is known to be present.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ObsClass {
    /// `obs = None`: latent.
    Absent,
    /// Always observed.
    Always,
    /// An `Option` (a function argument or `let` visibly typed `Option<..>`): latent when
    /// `None`.
    Maybe,
}

/// `obs = value`.
pub struct Obs {
    /// The `obs` key, where errors about the observation point.
    pub key: Ident,
    /// The value passed (`Some(x)` is unwrapped to `x`).
    pub value: Expr,
    /// What the walk could tell about its presence.
    pub class: ObsClass,
}

/// `param!(name, init, constraint = .., event_dim = ..)`.
pub struct Param {
    /// The param name.
    pub name: NameArg,
    /// The initial value; `None` when missing or unusable (the param still counts).
    pub init: Option<Init>,
    /// `constraint = ..`.
    pub constraint: Option<Kwarg>,
    /// `event_dim = ..`.
    pub event_dim: Option<Kwarg>,
}

/// The initial value of a param.
pub struct Init {
    /// The expression.
    pub value: Expr,
    /// It is a closure `|| value`, computed only the first time.
    pub lazy: bool,
}

/// `plate!(name, size, ..)`.
pub struct Plate {
    /// The plate name.
    pub name: NameArg,
    /// The size.
    pub size: Expr,
    /// `subsample_size = ..`.
    pub subsample_size: Option<Kwarg>,
    /// `subsample = ..`.
    pub subsample: Option<Kwarg>,
    /// `dim = ..`.
    pub dim: Option<Kwarg>,
    /// Vectorized with a body, or sequential.
    pub form: PlateForm,
}

/// The two kinds of plate.
pub enum PlateForm {
    /// `plate!(.., { body })` or `plate!(.., |p| { body })`.
    Vectorized {
        /// The closure's argument, bound to the plate.
        binding: Option<Box<Pat>>,
        /// The body.
        body: Box<Expr>,
    },
    /// `for i in plate!(..) { .. }`: the loop's body stays in the syntax tree (and the
    /// loop variable in the context of the calls inside).
    Sequential,
}

impl Plate {
    /// How its `dim` is given.
    pub fn dim(&self) -> Dim {
        Dim::of(self.dim.as_ref().map(|k| &k.value))
    }
}

/// `factor!(name, log_factor)`.
pub struct Factor {
    /// The site name.
    pub name: NameArg,
    /// The log-factor; `None` when missing (the site still counts).
    pub value: Option<Expr>,
}

/// `deterministic!(name, value, event_dim = ..)`.
pub struct Deterministic {
    /// The site name.
    pub name: NameArg,
    /// The value; `None` when missing (the site still counts, the option is dropped).
    pub value: Option<Expr>,
    /// `event_dim = ..`.
    pub event_dim: Option<Kwarg>,
}

/// `subsample!(data, event_dim = ..)`.
pub struct Subsample {
    /// The data.
    pub data: Expr,
    /// `event_dim = ..`.
    pub event_dim: Option<Kwarg>,
}

/// How a plate's `dim` is given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dim {
    /// Not given: the next free dim.
    Auto,
    /// `dim = -n`.
    Lit(usize),
    /// A non-negative integer literal (an error: dims count from the right).
    NonNegative,
    /// Anything else (a variable, `-0`): unknown when compiling.
    Unknown,
}

impl Dim {
    /// Reads a `dim = ..` value.
    pub fn of(value: Option<&Expr>) -> Dim {
        let lit_int = |e: &Expr| match e {
            Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Int(i),
                ..
            }) => i.base10_parse::<usize>().ok(),
            _ => None,
        };
        match value {
            None => Dim::Auto,
            Some(Expr::Unary(u)) if matches!(u.op, syn::UnOp::Neg(_)) => match lit_int(&u.expr) {
                Some(0) | None => Dim::Unknown,
                Some(n) => Dim::Lit(n),
            },
            Some(e) if lit_int(e).is_some() => Dim::NonNegative,
            Some(_) => Dim::Unknown,
        }
    }
}

/// The kind of loop a call sits in.
#[derive(Clone, Debug)]
pub enum LoopKind {
    /// `for` over anything but a plate.
    For,
    /// `while` / `while let`.
    While,
    /// `loop`.
    Loop,
    /// `for i in plate!(..)`, with the plate's name as written.
    SeqPlate(String),
}

/// The innermost loop around a call.
#[derive(Clone, Debug)]
pub struct LoopInfo {
    /// What loop.
    pub kind: LoopKind,
    /// The loop variable of a sequential plate, when it is a plain name.
    pub var: Option<String>,
}

/// A plate around a call.
#[derive(Clone, Debug)]
pub struct EnclosingPlate {
    /// Its name.
    pub name: Name,
    /// Vectorized (`plate!(.., { .. })`) rather than sequential.
    pub vectorized: bool,
    /// Its `dim` (always [`Dim::Auto`] for a sequential plate).
    pub dim: Dim,
}

/// What encloses a call in its function.
#[derive(Clone, Debug, Default)]
pub struct Context {
    /// Enclosing plates, outermost first.
    pub plates: Vec<EnclosingPlate>,
    /// The innermost enclosing loop, if any.
    pub in_loop: Option<LoopInfo>,
    /// `(branch point, arm)` pairs of the enclosing `if`/`match` arms.
    pub branches: Vec<(usize, usize)>,
}

impl Context {
    /// Whether two calls can never both run: they sit in different arms of one
    /// `if`/`match`.
    pub fn exclusive(&self, other: &Context) -> bool {
        self.branches
            .iter()
            .any(|(p, arm)| other.branches.iter().any(|(q, arm2)| p == q && arm != arm2))
    }

    /// Whether a vectorized plate encloses the call.
    pub fn in_vectorized_plate(&self) -> bool {
        self.plates.iter().any(|p| p.vectorized)
    }

    /// The number of batch dims the enclosing vectorized plates take, when the macros can
    /// know it (every `dim` a literal or automatic, at most 4).
    pub fn plate_rank(&self) -> Option<usize> {
        let mut count = 0;
        let mut max_lit = 0;
        for p in self.plates.iter().filter(|p| p.vectorized) {
            count += 1;
            match p.dim {
                Dim::Auto => {}
                Dim::Lit(d) => max_lit = max_lit.max(d),
                Dim::NonNegative | Dim::Unknown => return None,
            }
        }
        let k = count.max(max_lit);
        (k <= 4).then_some(k)
    }
}

impl Call {
    /// The site this call adds to the trace (`None` for plates, `subsample!` and unreadable
    /// calls).
    pub fn site(&self) -> Option<Site> {
        let (kind, name) = match &self.site {
            SiteCall::Sample(s) => (s.kind(), &s.name),
            SiteCall::Param(p) => (Kind::Param, &p.name),
            SiteCall::Factor(f) => (Kind::Factor, &f.name),
            SiteCall::Deterministic(d) => (Kind::Deterministic, &d.name),
            SiteCall::Plate(_) | SiteCall::Subsample(_) | SiteCall::Unreadable(_) => return None,
        };
        let mut site = Site::new(kind, name.name.clone(), name.span);
        if let SiteCall::Sample(s) = &self.site {
            site.lenient = s.infer.is_some();
            site.masked = s.obs_mask.is_some() && kind == Kind::Observed;
        }
        site.plates = self
            .context
            .plates
            .iter()
            .map(|p| PlateRef {
                name: p.name.clone(),
            })
            .collect();
        Some(site)
    }

    /// The argument expressions, in the order they are walked (a vectorized plate's body
    /// is not among them: it is walked inside the plate).
    pub fn args_mut(&mut self) -> Vec<&mut Expr> {
        fn kw(k: &mut Option<Kwarg>) -> Option<&mut Expr> {
            k.as_mut().map(|k| &mut k.value)
        }
        match &mut self.site {
            SiteCall::Sample(s) => [
                s.dist.as_mut(),
                s.obs.as_mut().map(|o| &mut o.value),
                kw(&mut s.obs_mask),
                kw(&mut s.infer),
            ]
            .into_iter()
            .flatten()
            .collect(),
            SiteCall::Param(p) => [
                p.init.as_mut().map(|i| &mut i.value),
                kw(&mut p.constraint),
                kw(&mut p.event_dim),
            ]
            .into_iter()
            .flatten()
            .collect(),
            SiteCall::Plate(p) => [
                Some(&mut p.size),
                kw(&mut p.subsample_size),
                kw(&mut p.subsample),
                kw(&mut p.dim),
            ]
            .into_iter()
            .flatten()
            .collect(),
            SiteCall::Factor(f) => f.value.iter_mut().collect(),
            SiteCall::Deterministic(d) => [d.value.as_mut(), kw(&mut d.event_dim)]
                .into_iter()
                .flatten()
                .collect(),
            SiteCall::Subsample(s) => [Some(&mut s.data), kw(&mut s.event_dim)]
                .into_iter()
                .flatten()
                .collect(),
            SiteCall::Unreadable(args) => args.iter_mut().collect(),
        }
    }
}

impl Sample {
    /// What site it is, from its observation.
    pub fn kind(&self) -> Kind {
        match self.obs.as_ref().map(|o| o.class) {
            None | Some(ObsClass::Absent) => Kind::Latent,
            Some(ObsClass::Always) => Kind::Observed,
            Some(ObsClass::Maybe) => Kind::MaybeObserved,
        }
    }
}

/// The word of the markers: `__pyro_call` followed by the call's id, in an invisible group.
const MARKER: &str = "__pyro_call";

/// The expression that stands in the syntax tree for call `id` between the walk and the
/// expansion. Its invisible delimiters make it impossible to write in source, so user code
/// can never be mistaken for one.
pub fn marker(id: usize, span: Span) -> Expr {
    let inner: TokenStream = [
        TokenTree::Ident(Ident::new(MARKER, span)),
        TokenTree::Literal(Literal::usize_unsuffixed(id)),
    ]
    .into_iter()
    .collect();
    let mut g = Group::new(Delimiter::None, inner);
    g.set_span(span);
    Expr::Verbatim(TokenTree::Group(g).into())
}

/// The call id of a marker token.
pub fn marker_id(tt: &TokenTree) -> Option<usize> {
    let TokenTree::Group(g) = tt else {
        return None;
    };
    if g.delimiter() != Delimiter::None {
        return None;
    }
    let mut it = g.stream().into_iter();
    match (it.next(), it.next(), it.next()) {
        (Some(TokenTree::Ident(i)), Some(TokenTree::Literal(l)), None) if i == MARKER => {
            l.to_string().parse().ok()
        }
        _ => None,
    }
}
