// An observation that may be absent must be visibly an `Option` (a function argument or a
// `let` with an `Option<..>` type); otherwise the site is read as always observed and an
// `Option` value is a type error that says so.
use pyro::prelude::*;

struct Data {
    y: Option<Tensor<Rank0>>,
}

#[model]
fn model(data: &Data) -> PyroResult<()> {
    sample!("y", Normal::new(0.0, 1.0), obs = data.y.clone());
    Ok(())
}

fn main() {}
