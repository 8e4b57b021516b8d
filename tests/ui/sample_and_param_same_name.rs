// Failure kind 8: one name for both a sample site and a param.
use pyro::prelude::*;

#[guide(model = model)]
fn guide() -> PyroResult<()> {
    let loc = param!("z", 0.0);
    sample!("z", Normal::new(&loc, 1.0));
    Ok(())
}

#[model]
fn model() -> PyroResult<()> {
    sample!("z", Normal::new(0.0, 1.0));
    Ok(())
}

fn main() {}
