// Failure kind 1: the guide has no site for a latent site of its model.
use pyro::prelude::*;

#[model]
fn model(data: &Tensor<(usize,)>) -> PyroResult<()> {
    let loc = sample!("loc", Normal::new(0.0, 10.0));
    let scale = sample!("scale", HalfNormal::new(1.0));
    plate!("data", data.shape().0, {
        sample!("obs", Normal::new(&loc, &scale), obs = data);
    });
    Ok(())
}

#[guide(model = model)]
fn guide(_data: &Tensor<(usize,)>) -> PyroResult<()> {
    let loc_q = param!("loc_q", 0.0);
    sample!("loc", Normal::new(&loc_q, 1.0));
    Ok(())
}

fn main() {}
