// Failure kind 10: a missing argument.
use pyro::prelude::*;

#[model]
fn model() -> PyroResult<()> {
    sample!("a");
    param!("w");
    plate!("data", 10);
    plate!("data");
    Ok(())
}

fn main() {}
