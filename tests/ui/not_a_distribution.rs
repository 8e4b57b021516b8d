// `sample!` needs a distribution; `param!` an initial value.
use pyro::prelude::*;

#[model]
fn model() -> PyroResult<()> {
    sample!("x", 3.0f32);
    param!("w", "one");
    Ok(())
}

fn main() {}
