// Failure kind 10: malformed syntax inside a site macro, a positional argument after the
// keyword arguments, and an extra argument.
use pyro::prelude::*;

#[model]
fn model(y: &Tensor<Rank0>) -> PyroResult<()> {
    sample!("a" Normal::new(0.0, 1.0));
    sample!("b", obs = y, Normal::new(0.0, 1.0));
    sample!("c", Normal::new(0.0, 1.0), y);
    Ok(())
}

fn main() {}
