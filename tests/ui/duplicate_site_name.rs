// Failure kind 5: the same literal site name twice in one function. Sites in different arms
// of one `if`/`match` may share a name (no error for `b`).
use pyro::prelude::*;

#[model]
fn model(flag: bool) -> PyroResult<()> {
    let a = sample!("a", Normal::new(0.0, 1.0));
    if flag {
        sample!("b", Normal::new(&a, 1.0));
    } else {
        sample!("b", Normal::new(0.0, 2.0));
    }
    sample!("a", Normal::new(0.0, 1.0));
    Ok(())
}

fn main() {}
