// Failure kind 12: `#[guide(model = x)]` where `x` is not a #[model].
use pyro::prelude::*;

fn not_a_model() -> PyroResult<()> {
    pyro::sample("z", Normal::new(0.0, 1.0))?;
    Ok(())
}

#[guide(model = not_a_model)]
fn guide() -> PyroResult<()> {
    sample!("z", Normal::new(0.0, 1.0));
    Ok(())
}

fn main() {
    let _ = not_a_model();
    let _ = guide();
}
