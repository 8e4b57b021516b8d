// Misused attributes: #[model] with arguments, #[guide] without its model or with an unknown
// key, a model that does not return a `Result`, and #[model] on something that is not a
// function.
use pyro::prelude::*;

#[model(name = "m")]
fn model() -> PyroResult<()> {
    sample!("z", Normal::new(0.0, 1.0));
    Ok(())
}

#[guide]
fn guide_without_model() -> PyroResult<()> {
    sample!("z", Normal::new(0.0, 1.0));
    Ok(())
}

#[guide(modle = model)]
fn guide_with_typo() -> PyroResult<()> {
    sample!("z", Normal::new(0.0, 1.0));
    Ok(())
}

#[model]
fn no_result() {
    sample!("z", Normal::new(0.0, 1.0));
}

#[model]
struct NotAFunction;

fn main() {}
