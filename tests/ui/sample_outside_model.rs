// Failure kind 11: site macros outside a #[model]/#[guide] function.
use pyro::prelude::*;

fn not_a_model() -> PyroResult<()> {
    let _z = sample!("z", Normal::new(0.0, 1.0));
    let _w = param!("w", 0.5);
    plate!("data", 10, {});
    Ok(())
}

fn main() {
    let _ = not_a_model();
}
