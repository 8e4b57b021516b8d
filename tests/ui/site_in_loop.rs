// Failure kind 6: a literal site name inside a loop would repeat at run time.
use pyro::prelude::*;

#[model]
fn model() -> PyroResult<()> {
    for _ in 0..3 {
        sample!("x", Normal::new(0.0, 1.0));
    }
    for t in plate!("steps", 5) {
        let _ = t;
        sample!("y", Normal::new(0.0, 1.0));
    }
    Ok(())
}

fn main() {}
