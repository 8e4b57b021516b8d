//! Site and plate names: a string literal (checked at compile time) or a `format!(...)` call
//! (built at run time; the macros keep its shape as a pattern such as `x_{..}`).

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::{Expr, Lit, LitStr};

use crate::errors::Errors;
use crate::messages;

/// One piece of a run-time name pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seg {
    /// Literal text.
    Text(String),
    /// Whatever a `{...}` placeholder produces.
    Any,
}

/// The names a `format!` call can produce.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pattern(pub Vec<Seg>);

impl Pattern {
    /// A pattern matching every name.
    pub fn any() -> Self {
        Pattern(vec![Seg::Any])
    }

    /// The pattern of a format string (`"x_{i}"` -> `x_` then anything).
    pub fn from_format(fmt: &str) -> Self {
        let mut segs = Vec::new();
        let mut text = String::new();
        let mut chars = fmt.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                    text.push('{');
                }
                '}' if chars.peek() == Some(&'}') => {
                    chars.next();
                    text.push('}');
                }
                '{' => {
                    for c in chars.by_ref() {
                        if c == '}' {
                            break;
                        }
                    }
                    if !text.is_empty() {
                        segs.push(Seg::Text(std::mem::take(&mut text)));
                    }
                    if segs.last() != Some(&Seg::Any) {
                        segs.push(Seg::Any);
                    }
                }
                c => text.push(c),
            }
        }
        if !text.is_empty() {
            segs.push(Seg::Text(text));
        }
        Pattern(segs)
    }

    /// Whether `name` is one of the names.
    pub fn matches(&self, name: &str) -> bool {
        fn go(segs: &[Seg], s: &str) -> bool {
            match segs.split_first() {
                None => s.is_empty(),
                Some((Seg::Text(t), rest)) => {
                    s.strip_prefix(t.as_str()).is_some_and(|r| go(rest, r))
                }
                Some((Seg::Any, rest)) => {
                    (0..=s.len()).any(|i| s.is_char_boundary(i) && go(rest, &s[i..]))
                }
            }
        }
        go(&self.0, name)
    }

    /// How the pattern reads in messages: `x_{..}`.
    pub fn display(&self) -> String {
        self.0
            .iter()
            .map(|s| match s {
                Seg::Text(t) => t.clone(),
                Seg::Any => "{..}".to_string(),
            })
            .collect()
    }
}

/// A site or plate name as written.
#[derive(Clone, Debug)]
pub enum Name {
    /// A string literal (its value).
    Lit(String),
    /// A name built at run time.
    Runtime(Pattern),
}

impl Name {
    /// The literal name, if it is one.
    pub fn lit(&self) -> Option<&str> {
        match self {
            Name::Lit(s) => Some(s),
            Name::Runtime(_) => None,
        }
    }

    /// Whether this name can be `other` (a literal).
    pub fn can_be(&self, other: &str) -> bool {
        match self {
            Name::Lit(s) => s == other,
            Name::Runtime(p) => p.matches(other),
        }
    }

    /// How the name reads in messages.
    pub fn display(&self) -> String {
        match self {
            Name::Lit(s) => s.clone(),
            Name::Runtime(p) => p.display(),
        }
    }
}

/// A classified name with the tokens the expansion passes as `&str`.
pub struct NameArg {
    /// What the name is.
    pub name: Name,
    /// A `&str` expression.
    pub tokens: TokenStream,
    /// Where the name is written.
    pub span: Span,
}

fn is_format(mac: &syn::Macro) -> bool {
    mac.path
        .segments
        .last()
        .is_some_and(|s| s.ident == "format" && s.arguments.is_none())
}

/// The pattern of a `format!` call's tokens.
fn format_pattern(tokens: &TokenStream) -> Pattern {
    match tokens.clone().into_iter().next() {
        Some(TokenTree::Literal(l)) => match syn::parse2::<LitStr>(l.into_token_stream()) {
            Ok(s) => Pattern::from_format(&s.value()),
            Err(_) => Pattern::any(),
        },
        _ => Pattern::any(),
    }
}

/// Classifies the name argument of a site or plate macro (`what` is "site" or "plate").
/// Anything other than a string literal or `format!(..)` is failure kind 9; the expansion
/// then uses an empty name so the rest of the function still type-checks.
pub fn classify(expr: &Expr, what: &str, errors: &mut Errors) -> NameArg {
    let span = expr.span();
    let inner = match expr {
        Expr::Reference(r) if r.mutability.is_none() => &*r.expr,
        e => e,
    };
    match inner {
        Expr::Lit(l) => match &l.lit {
            Lit::Str(s) => {
                let v = s.value();
                if v.is_empty() {
                    errors.at(s.span(), messages::empty_name(what));
                }
                return NameArg {
                    name: Name::Lit(v),
                    tokens: s.to_token_stream(),
                    span: s.span(),
                };
            }
            other => {
                errors.at(
                    other.span(),
                    messages::name_not_a_string(what, describe_lit(other)),
                );
            }
        },
        Expr::Macro(m) if is_format(&m.mac) => {
            let pattern = format_pattern(&m.mac.tokens);
            let mac = &m.mac;
            return NameArg {
                name: Name::Runtime(pattern),
                tokens: quote_spanned!(crate::expand::gen(span)=> &#mac),
                span,
            };
        }
        Expr::Paren(p) => return classify(&p.expr, what, errors),
        Expr::Group(g) => return classify(&g.expr, what, errors),
        other => {
            let shown = other.to_token_stream().to_string();
            let shown: String = shown.chars().take(40).collect();
            let suggestion = match other {
                Expr::Path(p) if p.path.get_ident().is_some() => {
                    format!("format!(\"{{{shown}}}\")")
                }
                _ => format!("format!(\"{{}}\", {shown})"),
            };
            errors.at(span, messages::name_not_literal(what, &shown, &suggestion));
        }
    }
    // Keep the expression (no "unused" warnings, and it is still type-checked).
    NameArg {
        name: Name::Lit(String::new()),
        tokens: quote_spanned!(crate::expand::gen(span)=> { let _ = &(#expr); "" }),
        span,
    }
}

fn describe_lit(l: &Lit) -> &'static str {
    match l {
        Lit::Int(_) => "an integer",
        Lit::Float(_) => "a float",
        Lit::Bool(_) => "a bool",
        Lit::Char(_) => "a char",
        Lit::ByteStr(_) | Lit::CStr(_) => "a byte string",
        Lit::Byte(_) => "a byte",
        _ => "a literal",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_from_format_strings() {
        let p = Pattern::from_format("x_{i}");
        assert_eq!(p.display(), "x_{..}");
        assert!(p.matches("x_0") && p.matches("x_") && !p.matches("y_0"));
        let p = Pattern::from_format("{prefix}.weight");
        assert!(p.matches("enc.weight") && !p.matches("enc.bias"));
        let p = Pattern::from_format("a{{b}}{}c");
        assert_eq!(p.display(), "a{b}{..}c");
        assert!(p.matches("a{b}zzc"));
        assert!(Pattern::from_format("{}{}").matches("anything"));
        assert!(Pattern::from_format("é{}ü").matches("éxü"));
        // Unbalanced braces do not panic.
        assert!(Pattern::from_format("x{").matches("x"));
    }

    #[test]
    fn names_are_classified() {
        let mut e = Errors::default();
        let n = classify(&syn::parse_quote!("z"), "site", &mut e);
        assert_eq!(n.name.lit(), Some("z"));
        let n = classify(&syn::parse_quote!(format!("z_{}", i)), "site", &mut e);
        assert!(n.name.can_be("z_3") && n.name.lit().is_none());
        assert!(e.is_empty());
        classify(&syn::parse_quote!(""), "site", &mut e);
        classify(&syn::parse_quote!(name), "site", &mut e);
        classify(&syn::parse_quote!(3), "site", &mut e);
        let m = e.messages();
        assert!(m[0].contains("empty site name"), "{m:?}");
        assert!(m[1].contains("format!"), "{m:?}");
        assert!(m[2].contains("an integer"), "{m:?}");
    }
}
