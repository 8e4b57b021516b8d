// Failure kind 7: a site inside a plate in the model but outside it (or in another plate)
// in the guide.
use pyro::prelude::*;

#[model]
fn model() -> PyroResult<()> {
    plate!("data", 10, {
        sample!("z", Normal::new(0.0, 1.0));
        sample!("w", Normal::new(0.0, 1.0));
    });
    Ok(())
}

#[guide(model = model)]
fn guide() -> PyroResult<()> {
    sample!("z", Normal::new(0.0, 1.0));
    plate!("batch", 10, {
        sample!("w", Normal::new(0.0, 1.0));
    });
    Ok(())
}

fn main() {}
