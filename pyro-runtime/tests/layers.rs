//! The runtime's modules form layers that point one way: a module may use the modules below
//! it, never one above. This test reads every source file (test code and comments left out)
//! and fails on an import that points up, naming the file, the line and both layers.
//!
//! Order, low to high (a change to the structure changes this table, on purpose):
//! base utilities (`name`, `fast_hash`, `rng`, `validation`, `silent_panic`) -> `tensor` ->
//! `linalg` -> `constraints` -> `transforms` -> `distributions` -> `params` -> `optim` ->
//! `error` (`PyroError`, which wraps every lower layer's error) -> `poutine` -> `primitives`
//! -> `infer` -> `dsl` -> `prelude`.

use std::path::{Path, PathBuf};

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

/// Names the crate root re-exports, by the module that defines them.
const ROOT_ITEMS: &[(&str, &str)] = &[
    ("PyroError", "error"),
    ("PyroResult", "error"),
    ("enable_validation", "validation"),
    ("is_validation_enabled", "validation"),
    ("set_rng_seed", "rng"),
    ("DefaultDevice", "tensor"),
    ("clear_param_store", "params"),
    ("plate", "poutine"),
    ("plate_stack", "poutine"),
    ("subsample", "poutine"),
    ("sample", "primitives"),
    ("sample_with", "primitives"),
    ("observe", "primitives"),
    ("param", "primitives"),
    ("param_with", "primitives"),
    ("factor", "primitives"),
    ("deterministic", "primitives"),
    ("site_dist", "primitives"),
    ("__distribution_families", "distributions"),
];

fn rank(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
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

/// Whether a whole file is test support (its module is declared under `#[cfg(test)]`).
fn is_test_file(path: &Path) -> bool {
    let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    name == "tests"
        || name == "testing"
        || name == "test_util"
        || name.ends_with("_tests")
        || name.starts_with("testing_")
        || path.components().any(|c| c.as_os_str() == "tests")
}

/// The code lines of a file: from the start to its `#[cfg(test)]` module, without comments.
fn code_lines(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let t = line.trim_start();
        if t.starts_with("#[cfg(test)]") {
            break;
        }
        if t.starts_with("//") {
            continue;
        }
        let code = match line.find("//") {
            Some(at) if !line[..at].contains('"') => &line[..at],
            _ => line,
        };
        out.push((i + 1, code.to_string()));
    }
    out
}

/// The modules a line names through `crate::`.
fn imports(line: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = line;
    while let Some(at) = rest.find("crate::") {
        let after = &rest[at + "crate::".len()..];
        let ident: String = after
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if !ident.is_empty() {
            let module = ROOT_ITEMS
                .iter()
                .find(|(item, _)| *item == ident)
                .map_or(ident.clone(), |(_, m)| m.to_string());
            found.push(module);
        }
        rest = after;
    }
    found
}

#[test]
fn no_module_imports_a_layer_above_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    files.sort();
    let mut violations = Vec::new();
    let mut unknown = Vec::new();
    for path in &files {
        let rel = path.strip_prefix(&src).expect("under src");
        let top = rel
            .components()
            .next()
            .and_then(|c| c.as_os_str().to_str())
            .map(|s| s.trim_end_matches(".rs").to_string())
            .expect("a file name");
        if top == "lib" || is_test_file(rel) {
            continue;
        }
        let Some(mine) = rank(&top) else {
            unknown.push(top.clone());
            continue;
        };
        let text = std::fs::read_to_string(path).expect("a readable source file");
        for (line_no, line) in code_lines(&text) {
            for module in imports(&line) {
                if module == top {
                    continue;
                }
                match rank(&module) {
                    Some(theirs) if theirs > mine => violations.push(format!(
                        "{}:{line_no}: `{top}` (layer {mine}) uses `crate::{module}` (layer {theirs}): {}",
                        rel.display(),
                        line.trim()
                    )),
                    Some(_) => {}
                    None => unknown.push(format!("{}:{line_no}: crate::{module}", rel.display())),
                }
            }
        }
    }
    assert!(
        unknown.is_empty(),
        "modules missing from the layer table (add them where they belong):\n{}",
        unknown.join("\n")
    );
    assert!(
        violations.is_empty(),
        "imports that point up the layers:\n{}",
        violations.join("\n")
    );
}

#[test]
fn the_checker_sees_an_upward_import() {
    // A line the checker must flag and one it must not, so the test above cannot pass by
    // reading nothing.
    assert_eq!(imports("use crate::infer::Svi;"), vec!["infer"]);
    assert_eq!(imports("crate::sample(\"x\", d)"), vec!["primitives"]);
    assert!(rank("infer") > rank("tensor"));
    let lines = code_lines("use crate::a;\n// crate::b\n#[cfg(test)]\nuse crate::c;");
    assert_eq!(lines.len(), 1);
}
