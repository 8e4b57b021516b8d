//! The runtime's modules form layers that point one way: a module may use the modules below
//! it, never one above. This test parses every source file (items under `#[cfg(test)]` left
//! out), follows every `use` tree and every path that starts with `crate::`, `super::` or
//! `self::`, and fails on one that reaches a layer above, naming the file, the path and both
//! layers. (Tokens inside macro invocations are not paths to the parser and are not seen.)
//!
//! Order, low to high (a change to the structure changes this table, on purpose):
//! base utilities (`name`, `fast_hash`, `rng`, `validation`, `silent_panic`) -> `tensor` ->
//! `linalg` -> `constraints` -> `transforms` -> `distributions` -> `params` -> `optim` ->
//! `error` (`PyroError`, which wraps every lower layer's error) -> `poutine` -> `primitives`
//! -> `infer` -> `dsl` -> `prelude`. `optim` sits below `poutine` (it needs only the
//! parameter store and `Name`), and the error type sits below the handlers because models
//! and handlers return it; the inference errors it wraps are defined under `error/`.

use std::path::{Path, PathBuf};

use syn::visit::Visit;

const LAYERS: &[&[&str]] = &[
    &["name", "fast_hash", "rng", "validation", "silent_panic"],
    &["tensor"],
    &["linalg"],
    &["constraints"],
    &["transforms"],
    &["distributions"],
    &["params"],
    &["optim"],
    &["error"],
    &["poutine"],
    &["primitives"],
    &["infer"],
    &["dsl"],
    &["prelude"],
];

/// `#[macro_export]` macros live at the crate root without a `pub use` in lib.rs: the module
/// that defines each.
const EXPORTED_MACROS: &[(&str, &str)] = &[
    ("site_dist", "primitives"),
    ("__distribution_families", "distributions"),
];

/// The names the crate root re-exports (its `pub use` items in lib.rs), by the top-level
/// module they come from; the DSL's macros (from pyro-macros) belong to `dsl`. A name that is
/// both a function and a macro (`sample`) maps to the function's module, which is what a
/// `crate::sample(..)` path means.
fn root_items(src: &Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(src.join("lib.rs")).expect("lib.rs is readable");
    let file = syn::parse_file(&text).expect("lib.rs parses");
    fn leaves(tree: &syn::UseTree, out: &mut Vec<String>) {
        match tree {
            syn::UseTree::Path(p) => leaves(&p.tree, out),
            syn::UseTree::Name(n) => out.push(n.ident.to_string()),
            syn::UseTree::Rename(r) => out.push(r.rename.to_string()),
            syn::UseTree::Glob(_) => {}
            syn::UseTree::Group(g) => g.items.iter().for_each(|t| leaves(t, out)),
        }
    }
    let mut items: Vec<(String, String)> = EXPORTED_MACROS
        .iter()
        .map(|(n, m)| (n.to_string(), m.to_string()))
        .collect();
    let mut macros = Vec::new();
    for item in &file.items {
        let syn::Item::Use(u) = item else { continue };
        if !matches!(u.vis, syn::Visibility::Public(_)) {
            continue;
        }
        let syn::UseTree::Path(first) = &u.tree else {
            continue;
        };
        let module = first.ident.to_string();
        let mut names = Vec::new();
        leaves(&first.tree, &mut names);
        for name in names {
            if module == "pyro_macros" {
                macros.push(name);
            } else {
                items.push((name, module.clone()));
            }
        }
    }
    for name in macros {
        if !items.iter().any(|(n, _)| *n == name) {
            items.push((name, "dsl".into()));
        }
    }
    items
}

fn rank(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

/// The top-level module an item of the crate root named `ident` belongs to.
fn top_of(root: &[(String, String)], ident: &str) -> String {
    root.iter()
        .find(|(item, _)| item == ident)
        .map_or(ident.to_string(), |(_, m)| m.clone())
}

/// The files under `dir`, recursively.
fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src is readable") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module path of a source file (`tensor/dyn_tensor/ops.rs` -> tensor::dyn_tensor::ops).
fn module_path(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .iter()
        .map(|c| c.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
        parts.pop();
    }
    parts
}

/// Whether an item carries `#[cfg(test)]` (or a `cfg` that mentions `test`).
fn is_test_only(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("cfg")
            && a.meta
                .require_list()
                .is_ok_and(|l| l.tokens.to_string().split_whitespace().any(|t| t == "test"))
    })
}

/// Paths of the crate that one file names, resolved to their top-level module.
struct Imports<'r> {
    /// The module the code being visited is in.
    module: Vec<String>,
    /// The crate root's re-exports ([`root_items`]).
    root: &'r [(String, String)],
    found: Vec<(String, String)>,
}

impl Imports<'_> {
    /// Records `segments` (a path as written) when it starts at the crate, `super` or `self`.
    fn path(&mut self, segments: &[String]) {
        let mut at = self.module.clone();
        let mut rest = segments;
        match rest.first().map(String::as_str) {
            Some("crate") => {
                at.clear();
                rest = &rest[1..];
            }
            Some("super") | Some("self") => {
                while let Some(first) = rest.first() {
                    match first.as_str() {
                        "super" => {
                            at.pop();
                        }
                        "self" => {}
                        _ => break,
                    }
                    rest = &rest[1..];
                }
            }
            _ => return,
        }
        let top = match at.first() {
            Some(top) => top.clone(),
            None => match rest.first() {
                Some(first) => top_of(self.root, first),
                None => return,
            },
        };
        self.found.push((top, segments.join("::")));
    }

    /// Every path a `use` tree names, with its prefix.
    fn use_tree(&mut self, tree: &syn::UseTree, prefix: &mut Vec<String>) {
        match tree {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                self.use_tree(&p.tree, prefix);
                prefix.pop();
            }
            syn::UseTree::Name(n) => {
                prefix.push(n.ident.to_string());
                self.path(&prefix.clone());
                prefix.pop();
            }
            syn::UseTree::Rename(r) => {
                prefix.push(r.ident.to_string());
                self.path(&prefix.clone());
                prefix.pop();
            }
            syn::UseTree::Glob(_) => {
                prefix.push("*".into());
                self.path(&prefix.clone());
                prefix.pop();
            }
            syn::UseTree::Group(g) => {
                for t in &g.items {
                    self.use_tree(t, prefix);
                }
            }
        }
    }
}

impl<'ast> Visit<'ast> for Imports<'_> {
    fn visit_item(&mut self, item: &'ast syn::Item) {
        let attrs = match item {
            syn::Item::Mod(m) => &m.attrs,
            syn::Item::Fn(f) => &f.attrs,
            syn::Item::Impl(i) => &i.attrs,
            syn::Item::Use(u) => &u.attrs,
            syn::Item::Struct(s) => &s.attrs,
            syn::Item::Enum(e) => &e.attrs,
            syn::Item::Trait(t) => &t.attrs,
            syn::Item::Const(c) => &c.attrs,
            syn::Item::Static(s) => &s.attrs,
            syn::Item::Type(t) => &t.attrs,
            syn::Item::Macro(m) => &m.attrs,
            _ => return syn::visit::visit_item(self, item),
        };
        if is_test_only(attrs) {
            return;
        }
        match item {
            syn::Item::Mod(m) if m.content.is_some() => {
                self.module.push(m.ident.to_string());
                syn::visit::visit_item_mod(self, m);
                self.module.pop();
            }
            syn::Item::Use(u) => self.use_tree(&u.tree, &mut Vec::new()),
            _ => syn::visit::visit_item(self, item),
        }
    }

    fn visit_impl_item(&mut self, item: &'ast syn::ImplItem) {
        if let syn::ImplItem::Fn(f) = item {
            if is_test_only(&f.attrs) {
                return;
            }
        }
        syn::visit::visit_impl_item(self, item);
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
        self.path(&segments);
        syn::visit::visit_path(self, path);
    }
}

/// The module paths a file declares as test-only (`#[cfg(test)] mod x;` in module `module`).
fn test_modules(module: &[String], text: &str) -> Vec<Vec<String>> {
    let file = syn::parse_file(text).expect("the sources parse");
    file.items
        .iter()
        .filter_map(|item| match item {
            syn::Item::Mod(m) if m.content.is_none() && is_test_only(&m.attrs) => {
                let mut path = module.to_vec();
                path.push(m.ident.to_string());
                Some(path)
            }
            _ => None,
        })
        .collect()
}

/// The upward imports of one source text, as `(path, own layer, their layer)`.
fn upward(
    root: &[(String, String)],
    module: &[String],
    text: &str,
) -> Vec<(String, String, String)> {
    let file = syn::parse_file(text).expect("the sources parse");
    let mut imports = Imports {
        module: module.to_vec(),
        root,
        found: Vec::new(),
    };
    imports.visit_file(&file);
    let Some(top) = module.first() else {
        return Vec::new(); // lib.rs: the root re-exports everything
    };
    let mine = rank(top).unwrap_or_else(|| panic!("`{top}` is missing from the layer table"));
    imports
        .found
        .into_iter()
        .filter(|(theirs, _)| theirs != top)
        .filter_map(|(theirs, path)| {
            let r = rank(&theirs).unwrap_or_else(|| {
                panic!("`{theirs}` (in `{path}`) is missing from the layer table")
            });
            (r > mine).then(|| (path, top.clone(), theirs))
        })
        .collect()
}

#[test]
fn no_module_imports_a_layer_above_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let root = root_items(&src);
    let mut files = Vec::new();
    sources(&src, &mut files);
    files.sort();
    let texts: Vec<(Vec<String>, String)> = files
        .iter()
        .map(|path| {
            let rel = path.strip_prefix(&src).expect("under src");
            let text = std::fs::read_to_string(path).expect("a readable source file");
            (module_path(rel), text)
        })
        .collect();
    // Files of modules declared under `#[cfg(test)]` (and everything below them) are tests.
    let tests: Vec<Vec<String>> = texts
        .iter()
        .flat_map(|(module, text)| test_modules(module, text))
        .collect();
    let mut violations = Vec::new();
    for (path, (module, text)) in files.iter().zip(&texts) {
        if tests.iter().any(|t| module.starts_with(t)) {
            continue;
        }
        let rel = path.strip_prefix(&src).expect("under src");
        for (used, mine, theirs) in upward(&root, module, text) {
            violations.push(format!(
                "{}: `{mine}` uses `{used}` (layer `{theirs}` is above it)",
                rel.display()
            ));
        }
    }
    assert!(
        violations.is_empty(),
        "imports that point up the layers:\n{}",
        violations.join("\n")
    );
}

#[test]
fn the_checker_sees_every_form_of_an_upward_import() {
    let root = root_items(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    assert!(root.contains(&("sample".to_string(), "primitives".to_string())));
    assert!(root.contains(&("model".to_string(), "dsl".to_string())));
    let tensor = vec!["tensor".to_string(), "dims".to_string()];
    let cases = [
        "use crate::infer::Svi;",
        "use crate::{\n    infer::Svi,\n};",
        "use super::super::infer::Svi;",
        "fn f() { let _ = crate::sample(\"x\", 1.0); }",
        "#[cfg(test)]\nfn helper() {}\nuse crate::poutine::Trace;",
        "struct S; impl S { fn f(e: crate::error::PyroError) -> String { e.to_string() } }",
    ];
    for case in cases {
        assert_eq!(upward(&root, &tensor, case).len(), 1, "not flagged: {case}");
    }
    // Not upward: a lower layer, the module itself, relative paths inside it, test code.
    let fine = [
        "use super::Dims;",
        "use crate::tensor::DynTensor;",
        "use crate::name::Name;",
        "#[cfg(test)]\nmod tests { use crate::infer::Svi; }",
    ];
    for case in fine {
        assert!(
            upward(&root, &tensor, case).is_empty(),
            "wrongly flagged: {case}"
        );
    }
}
