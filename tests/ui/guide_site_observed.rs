// Failure kind 3: a guide site is observed.
use pyro::prelude::*;

#[model]
fn model(_x: &Tensor<Rank0>) -> PyroResult<()> {
    sample!("z", Normal::new(0.0, 1.0));
    Ok(())
}

#[guide(model = model)]
fn guide(x: &Tensor<Rank0>) -> PyroResult<()> {
    sample!("z", Normal::new(0.0, 1.0), obs = x);
    Ok(())
}

fn main() {}
