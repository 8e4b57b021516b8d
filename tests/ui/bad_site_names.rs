// Failure kind 9: an empty site name, and names that are neither a literal nor `format!`.
use pyro::prelude::*;

#[model]
fn model(prefix: &str) -> PyroResult<()> {
    sample!("", Normal::new(0.0, 1.0));
    sample!(prefix, Normal::new(0.0, 1.0));
    param!(42, 1.0);
    plate!(prefix.to_string(), 3, {});
    Ok(())
}

fn main() {}
