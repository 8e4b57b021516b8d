// Failure kind 2: the guide samples a site the model does not have.
use pyro::prelude::*;

#[model]
fn model() -> PyroResult<()> {
    sample!("sigma", HalfNormal::new(1.0));
    param!("weight", 0.5);
    Ok(())
}

#[guide(model = model)]
fn guide() -> PyroResult<()> {
    sample!("sigam", LogNormal::new(0.0, 1.0));
    sample!("sigma", LogNormal::new(0.0, 1.0));
    sample!("weight", Normal::new(0.0, 1.0));
    Ok(())
}

fn main() {}
