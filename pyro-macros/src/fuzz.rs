//! Robustness: the macros' drivers never panic, whatever tokens they are given. A
//! deterministic generator feeds them (1) random token trees over a vocabulary that hits the
//! parsers' keywords and (2) random mutations (deleted, repeated, swapped, replaced or inserted
//! tokens, at any depth) of valid models, guides, impl blocks and site lists. Each input goes
//! through `#[model]`, `#[guide]`, `#[models]` and the guide callback; every run must return
//! tokens (errors included), never unwind.

use std::panic::{catch_unwind, AssertUnwindSafe};

use proc_macro2::{Delimiter, Group, Ident, Literal, Punct, Spacing, Span, TokenStream, TokenTree};

use crate::entry;

/// xorshift64*: small, deterministic, good enough to pick tokens.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

const IDENTS: &[&str] = &[
    "sample",
    "param",
    "plate",
    "factor",
    "deterministic",
    "subsample",
    "obs",
    "obs_mask",
    "infer",
    "constraint",
    "event_dim",
    "dim",
    "subsample_size",
    "format",
    "model",
    "guide",
    "check",
    "runtime",
    "compile_time",
    "fn",
    "for",
    "in",
    "while",
    "loop",
    "if",
    "else",
    "match",
    "let",
    "Some",
    "None",
    "Option",
    "self",
    "Self",
    "impl",
    "pub",
    "move",
    "return",
    "x",
    "y",
    "p",
    "i",
    "pyro",
    "Normal",
    "new",
    "Ok",
    "PyroResult",
    "Tensor",
    "_",
];
const PUNCTS: &[char] = &[
    ',', '=', '!', ';', ':', '&', '|', '-', '*', '@', '#', '<', '>', '.', '?', '\'', '$', '+',
];

fn random_leaf(rng: &mut Rng) -> TokenTree {
    match rng.below(10) {
        0..=4 => {
            let w = IDENTS[rng.below(IDENTS.len())];
            TokenTree::Ident(Ident::new(w, Span::call_site()))
        }
        5 => TokenTree::Ident(Ident::new_raw("type", Span::call_site())),
        6 | 7 => {
            let spacing = if rng.chance(30) {
                Spacing::Joint
            } else {
                Spacing::Alone
            };
            TokenTree::Punct(Punct::new(PUNCTS[rng.below(PUNCTS.len())], spacing))
        }
        _ => TokenTree::Literal(match rng.below(9) {
            0 => Literal::string("x"),
            1 => Literal::string(""),
            2 => Literal::string("x_{i}"),
            3 => Literal::string("{"),
            4 => Literal::i32_unsuffixed(-1),
            5 => Literal::usize_unsuffixed(3),
            6 => Literal::f64_unsuffixed(0.5),
            7 => Literal::character('c'),
            _ => Literal::byte_string(b"z"),
        }),
    }
}

fn random_delim(rng: &mut Rng) -> Delimiter {
    match rng.below(4) {
        0 => Delimiter::Parenthesis,
        1 => Delimiter::Brace,
        2 => Delimiter::Bracket,
        _ => Delimiter::None,
    }
}

fn random_stream(rng: &mut Rng, depth: usize) -> TokenStream {
    let n = rng.below(12);
    (0..n)
        .map(|_| {
            if depth < 4 && rng.chance(20) {
                TokenTree::Group(Group::new(random_delim(rng), random_stream(rng, depth + 1)))
            } else {
                random_leaf(rng)
            }
        })
        .collect()
}

/// One random edit somewhere in the tree.
fn mutate(rng: &mut Rng, ts: TokenStream) -> TokenStream {
    let mut items: Vec<TokenTree> = ts.into_iter().collect();
    let groups: Vec<usize> = items
        .iter()
        .enumerate()
        .filter(|(_, t)| matches!(t, TokenTree::Group(_)))
        .map(|(i, _)| i)
        .collect();
    if !groups.is_empty() && rng.chance(60) {
        let i = groups[rng.below(groups.len())];
        if let TokenTree::Group(g) = &items[i] {
            let delim = if rng.chance(10) {
                random_delim(rng)
            } else {
                g.delimiter()
            };
            items[i] = TokenTree::Group(Group::new(delim, mutate(rng, g.stream())));
        }
        return items.into_iter().collect();
    }
    let len = items.len();
    match rng.below(5) {
        0 if len > 0 => {
            items.remove(rng.below(len));
        }
        1 if len > 0 => {
            let t = items[rng.below(len)].clone();
            items.insert(rng.below(len + 1), t);
        }
        2 if len > 1 => {
            let (a, b) = (rng.below(len), rng.below(len));
            items.swap(a, b);
        }
        3 if len > 0 => {
            let i = rng.below(len);
            items[i] = random_leaf(rng);
        }
        _ => items.insert(rng.below(len + 1), random_leaf(rng)),
    }
    items.into_iter().collect()
}

const SEEDS: &[&str] = &[
    r#"fn model(x: &Tensor<(usize,)>, y: Option<&Tensor<(usize,)>>) -> PyroResult<()> {
        let a = sample!("a", Normal::new(0.0, 10.0));
        let s = param!("s", 1.0, constraint = Constraint::Positive, event_dim = 0);
        let v = param!("v", || init(), constraint = Constraint::Positive);
        plate!("data", x.shape().0, subsample_size = 10, dim = -1, |p| {
            let b = subsample!(x, event_dim = 0);
            sample!("obs", Normal::new(&a, &s), obs = y, obs_mask = m, infer = cfg);
        });
        for i in plate!("seq", 3, subsample = vec![0, 1]) {
            sample!(format!("x_{i}"), Normal::new(0.0, 1.0));
        }
        if c { sample!("b", d); } else { sample!("b", d); }
        match k { 0 => factor!("f", lf), _ => deterministic!("d", v, event_dim = 1) }
        while go { loop { let z = vec![sample!("w", d)]; } }
        Ok(())
    }"#,
    r#"impl Vae {
        #[model]
        fn model(&self, x: &Tensor<(usize, usize)>) -> PyroResult<()> {
            plate!("data", x.shape().0, { let z = sample!("z", Normal::new(0.0, 1.0)); });
            Ok(())
        }
        #[guide(model = Self::model, check = runtime)]
        fn guide(&self, x: &Tensor<(usize, usize)>) -> PyroResult<()> {
            plate!("data", x.shape().0, { sample!("z", Normal::new(0.0, 1.0)); });
            Ok(())
        }
        #[pyro::guide(model = free_model)]
        fn g2(&self) -> PyroResult<()> { Ok(()) }
    }"#,
    r#"@model "m" [(latent "a" false ["data"]) (observed ("x_" *) true [("p" *)])]
       @guide g checked [(latent "a" false []) (param "w" false [])]"#,
    r#"model = crate::models::rugged, check = compile_time"#,
];

/// Runs every driver; returns the concatenated outputs.
fn run_all(a: &TokenStream, b: &TokenStream) -> Result<String, String> {
    let r = catch_unwind(AssertUnwindSafe(|| {
        let outs = [
            entry::model(a.clone(), b.clone()),
            entry::model(TokenStream::new(), b.clone()),
            entry::guide(a.clone(), b.clone()),
            entry::guide(b.clone(), a.clone()),
            entry::models(TokenStream::new(), b.clone()),
            entry::guide_with_model(b.clone()),
        ];
        outs.iter()
            .map(|o| o.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    }));
    r.map_err(|_| format!("panic on\n  args: {a}\n  item: {b}"))
}

#[test]
fn random_token_trees_never_panic() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..3000 {
        let a = random_stream(&mut rng, 0);
        let b = random_stream(&mut rng, 0);
        // Give the walk something to chew on: wrap some inputs in a function body.
        let b = if rng.chance(50) {
            let body = TokenTree::Group(Group::new(Delimiter::Brace, b));
            let f: TokenStream = "fn f() -> R".parse().unwrap_or_default();
            f.into_iter().chain(std::iter::once(body)).collect()
        } else {
            b
        };
        if let Err(e) = run_all(&a, &b) {
            panic!("{e}");
        }
    }
}

#[test]
fn mutated_valid_inputs_never_panic() {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let seeds: Vec<TokenStream> = SEEDS.iter().filter_map(|s| s.parse().ok()).collect();
    assert_eq!(seeds.len(), SEEDS.len(), "the seeds must tokenize");
    // The unmutated seeds run cleanly first.
    for s in &seeds {
        if let Err(e) = run_all(&seeds[3], s) {
            panic!("{e}");
        }
    }
    let mut errors = 0;
    for _ in 0..3000 {
        let mut b = seeds[rng.below(seeds.len())].clone();
        for _ in 0..1 + rng.below(4) {
            b = mutate(&mut rng, b);
        }
        let a = mutate(&mut rng, seeds[3].clone());
        match run_all(&a, &b) {
            Ok(out) => errors += usize::from(out.contains("compile_error")),
            Err(e) => panic!("{e}"),
        }
    }
    assert!(errors > 1000, "{errors}");
}

/// Site macro calls whose arguments get mutated; the function around them stays valid, so
/// every input reaches the argument parsers, the walk and the checks.
const CALLS: &[&str] = &[
    r#"sample!("a", Normal::new(0.0, 1.0), obs = y, obs_mask = vec![true], infer = c)"#,
    r#"sample!(format!("x_{i}"), d)"#,
    r#"param!("w", || t, constraint = Constraint::Positive, event_dim = 1)"#,
    r#"plate!("data", n, subsample_size = 5, subsample = v, dim = -2, |p| { sample!("z", d) })"#,
    r#"plate!("data", 10, { sample!("z", d, obs = Some(x)); })"#,
    r#"factor!("f", lf)"#,
    r#"deterministic!("d", v, event_dim = 0)"#,
    r#"subsample!(data, event_dim = 1)"#,
];

#[test]
fn mutated_site_macro_arguments_never_panic() {
    let mut rng = Rng(0x0123_4567_89ab_cdef);
    let calls: Vec<TokenStream> = CALLS.iter().filter_map(|s| s.parse().ok()).collect();
    assert_eq!(calls.len(), CALLS.len(), "the calls must tokenize");
    let wrappers = [
        ("", ""),
        ("for i in plate!(\"seq\", 3) {", "}"),
        ("plate!(\"outer\", 4, {", "});"),
        ("if c {", "} else { sample!(\"a\", d); }"),
        ("loop {", "}"),
        ("let v = vec![", "];"),
    ];
    let (mut rewritten, mut errors) = (0, 0);
    for _ in 0..1200 {
        let mut body = String::new();
        for _ in 0..1 + rng.below(3) {
            let mut call: Vec<TokenTree> =
                calls[rng.below(calls.len())].clone().into_iter().collect();
            // `name ! (args)`: mutate the args only.
            if let Some(TokenTree::Group(g)) = call.get(2).cloned() {
                let mut inner = g.stream();
                for _ in 0..rng.below(4) {
                    inner = mutate(&mut rng, inner);
                }
                call[2] = TokenTree::Group(Group::new(g.delimiter(), inner));
            }
            let call: TokenStream = call.into_iter().collect();
            let (pre, post) = wrappers[rng.below(wrappers.len())];
            body.push_str(&format!("{pre} {call}; {post}\n"));
        }
        let src = format!("fn f(y: Option<&T>) -> R {{ {body} Ok(()) }}");
        let Ok(item) = src.parse::<TokenStream>() else {
            continue;
        };
        let guide_args: TokenStream = "model = m".parse().unwrap_or_default();
        match run_all(&guide_args, &item) {
            Ok(out) => {
                rewritten += usize::from(out.contains(":: pyro :: dsl ::"));
                errors += usize::from(out.contains("compile_error"));
            }
            Err(e) => panic!("{e}"),
        }
    }
    // The inputs reach the rewriting and the errors, not only the first parse.
    assert!(rewritten > 800 && errors > 400, "{rewritten} {errors}");
}
