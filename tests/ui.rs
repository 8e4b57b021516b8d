//! The DSL's compile-time checks (trybuild): every failure kind of the macros has a case in
//! `tests/ui/*.rs` whose expected compiler output is the `.stderr` beside it, and every valid
//! form compiles and runs (`tests/ui/pass/*.rs`). Regenerate the `.stderr` files with
//! `TRYBUILD=overwrite cargo test --test ui` and read each one.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/*.rs");
}
