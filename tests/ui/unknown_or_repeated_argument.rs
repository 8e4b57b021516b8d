// Failure kind 10: an unknown or repeated keyword argument.
use pyro::prelude::*;

#[model]
fn model(y: &Tensor<Rank0>) -> PyroResult<()> {
    sample!("a", Normal::new(0.0, 1.0), ob = y);
    sample!("b", Normal::new(0.0, 1.0), obs = y, obs = y);
    param!("w", 1.0, constrant = Constraint::Positive);
    plate!("data", 10, size = 3, {});
    Ok(())
}

fn main() {}
