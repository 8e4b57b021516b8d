//! The sites of a function as a guide is checked against them (kind, name, plates), and how a
//! site list travels from a `#[model]` to a `#[guide]` as tokens (through the model's hidden
//! `macro_rules!`).

use proc_macro2::{Delimiter, Group, Ident, Literal, Punct, Spacing, Span, TokenStream, TokenTree};
use quote::{quote, TokenStreamExt};
use syn::parse::ParseStream;

use crate::messages;
use crate::names::{Name, Pattern, Seg};

/// What a site is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `sample!` without `obs`.
    Latent,
    /// `sample!` with `obs = value` (always observed).
    Observed,
    /// `sample!` with `obs = an Option` (latent when `None`).
    MaybeObserved,
    /// `param!`.
    Param,
    /// `factor!`.
    Factor,
    /// `deterministic!`.
    Deterministic,
}

impl Kind {
    const ALL: [(Kind, &'static str); 6] = [
        (Kind::Latent, "latent"),
        (Kind::Observed, "observed"),
        (Kind::MaybeObserved, "maybe_observed"),
        (Kind::Param, "param"),
        (Kind::Factor, "factor"),
        (Kind::Deterministic, "deterministic"),
    ];

    fn word(self) -> &'static str {
        Kind::ALL
            .iter()
            .find(|(k, _)| *k == self)
            .map_or("latent", |(_, w)| w)
    }

    fn from_word(w: &str) -> Option<Kind> {
        Kind::ALL.iter().find(|(_, x)| *x == w).map(|(k, _)| *k)
    }

    /// Whether the site lands in the trace as a sample site (all but params).
    pub fn is_sample(self) -> bool {
        self != Kind::Param
    }
}

/// An enclosing plate.
#[derive(Clone, Debug)]
pub struct PlateRef {
    /// Its name.
    pub name: Name,
}

/// One site of a function.
#[derive(Clone, Debug)]
pub struct Site {
    /// What it is.
    pub kind: Kind,
    /// Its name.
    pub name: Name,
    /// Where its name is written.
    pub span: Span,
    /// It has `infer = ..` (it may be enumerated, so a guide need not sample it).
    pub lenient: bool,
    /// It has `obs_mask = ..` (at run time it becomes `<name>_observed` and
    /// `<name>_unobserved`).
    pub masked: bool,
    /// Enclosing plates, outermost first.
    pub plates: Vec<PlateRef>,
}

impl Site {
    /// A site with no context.
    pub fn new(kind: Kind, name: Name, span: Span) -> Self {
        Site {
            kind,
            name,
            span,
            lenient: false,
            masked: false,
            plates: Vec::new(),
        }
    }

    /// The sites as the trace will hold them: an `obs_mask` site is split in two.
    pub fn effective(&self) -> Vec<Site> {
        if !(self.masked && self.kind == Kind::Observed) {
            return vec![self.clone()];
        }
        let suffixed = |suffix: &str, kind| {
            let name = match &self.name {
                Name::Lit(s) => Name::Lit(format!("{s}{suffix}")),
                Name::Runtime(p) => {
                    let mut segs = p.0.clone();
                    segs.push(Seg::Text(suffix.to_string()));
                    Name::Runtime(Pattern(segs))
                }
            };
            Site {
                kind,
                name,
                masked: false,
                ..self.clone()
            }
        };
        vec![
            suffixed("_observed", Kind::Observed),
            suffixed("_unobserved", Kind::Latent),
        ]
    }
}

// ----- the token form --------------------------------------------------------------------------

fn name_tokens(name: &Name, span: Span) -> TokenTree {
    match name {
        Name::Lit(s) => {
            let mut l = Literal::string(s);
            l.set_span(span);
            TokenTree::Literal(l)
        }
        Name::Runtime(p) => {
            let mut inner = TokenStream::new();
            for seg in &p.0 {
                match seg {
                    Seg::Text(t) => inner.append(Literal::string(t)),
                    Seg::Any => inner.append(Punct::new('*', Spacing::Alone)),
                }
            }
            let mut g = Group::new(Delimiter::Parenthesis, inner);
            g.set_span(span);
            TokenTree::Group(g)
        }
    }
}

/// The token form of a site list: `[(kind "name" lenient [plates]) ...]`; the kind word
/// carries the site's span, so errors can point at the site after the trip.
pub fn to_tokens(sites: &[Site]) -> TokenStream {
    let items = sites.iter().flat_map(Site::effective).map(|s| {
        let kind = Ident::new(s.kind.word(), s.span);
        let name = name_tokens(&s.name, s.span);
        let lenient = Ident::new(if s.lenient { "true" } else { "false" }, s.span);
        let plates = s.plates.iter().map(|p| name_tokens(&p.name, s.span));
        quote!((#kind #name #lenient [#(#plates)*]))
    });
    quote!([#(#items)*])
}

fn parse_name(input: ParseStream) -> syn::Result<(Name, Span)> {
    if input.peek(syn::token::Paren) {
        let content;
        let paren = syn::parenthesized!(content in input);
        let mut segs = Vec::new();
        while !content.is_empty() {
            if content.peek(syn::Token![*]) {
                content.parse::<syn::Token![*]>()?;
                segs.push(Seg::Any);
            } else {
                let s: syn::LitStr = content.parse()?;
                segs.push(Seg::Text(s.value()));
            }
        }
        Ok((Name::Runtime(Pattern(segs)), paren.span.join()))
    } else {
        let s: syn::LitStr = input.parse()?;
        Ok((Name::Lit(s.value()), s.span()))
    }
}

fn parse_site(input: ParseStream) -> syn::Result<Site> {
    let content;
    syn::parenthesized!(content in input);
    let kind_word: Ident = content.parse()?;
    let kind = Kind::from_word(&kind_word.to_string())
        .ok_or_else(|| syn::Error::new(kind_word.span(), messages::UNKNOWN_SITE_KIND))?;
    let (name, _) = parse_name(&content)?;
    let lenient: syn::LitBool = content.parse()?;
    let plates_content;
    syn::bracketed!(plates_content in content);
    let mut plates = Vec::new();
    while !plates_content.is_empty() {
        let (name, _) = parse_name(&plates_content)?;
        plates.push(PlateRef { name });
    }
    if !content.is_empty() {
        return Err(content.error(messages::UNEXPECTED_SITE_TOKENS));
    }
    let mut site = Site::new(kind, name, kind_word.span());
    site.lenient = lenient.value;
    site.plates = plates;
    Ok(site)
}

/// Parses a site list from its token form.
pub fn parse_list(input: ParseStream) -> syn::Result<Vec<Site>> {
    let content;
    syn::bracketed!(content in input);
    let mut sites = Vec::new();
    while !content.is_empty() {
        sites.push(parse_site(&content)?);
    }
    Ok(sites)
}

/// [`parse_list`] on a token stream.
#[cfg(test)]
pub fn parse_list_tokens(tokens: TokenStream) -> syn::Result<Vec<Site>> {
    syn::parse::Parser::parse2(parse_list, tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn site_lists_survive_the_token_trip() {
        let mut a = Site::new(Kind::Latent, Name::Lit("a".into()), Span::call_site());
        a.plates.push(PlateRef {
            name: Name::Lit("data".into()),
        });
        a.lenient = true;
        let mut b = Site::new(
            Kind::Observed,
            Name::Runtime(Pattern::from_format("y_{i}")),
            Span::call_site(),
        );
        b.masked = true;
        let p = Site::new(Kind::Param, Name::Lit("w".into()), Span::call_site());
        let back = parse_list_tokens(to_tokens(&[a, b, p])).unwrap();
        let shown: Vec<_> = back
            .iter()
            .map(|s| (s.kind, s.name.display(), s.lenient, s.plates.len()))
            .collect();
        assert_eq!(
            shown,
            vec![
                (Kind::Latent, "a".to_string(), true, 1),
                (Kind::Observed, "y_{..}_observed".to_string(), false, 0),
                (Kind::Latent, "y_{..}_unobserved".to_string(), false, 0),
                (Kind::Param, "w".to_string(), false, 0),
            ]
        );
        assert!(parse_list_tokens(quote!([(bogus "a" false [])])).is_err());
        assert!(parse_list_tokens(quote!([(latent "a")])).is_err());
    }
}
