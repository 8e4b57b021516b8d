// Failure kind 10: malformed syntax inside a site macro, a positional argument after the
// keyword arguments, an extra argument, and arguments a sequential plate does not take.
use pyro::prelude::*;

#[model]
fn model(y: &Tensor<Rank0>) -> PyroResult<()> {
    sample!("a" Normal::new(0.0, 1.0));
    sample!("b", obs = y, Normal::new(0.0, 1.0));
    sample!("c", Normal::new(0.0, 1.0), y);
    for i in plate!("seq", 3, dim = -1) {
        sample!(format!("x_{i}"), Normal::new(0.0, 1.0));
    }
    for i in plate!("seq2", 3, { i }) {
        sample!(format!("w_{i}"), Normal::new(0.0, 1.0));
    }
    Ok(())
}

fn main() {}
