// Failure kind 4: the guide samples a site that the model always observes. (A site whose
// observation is an `Option` may be sampled by the guide: see the pass cases.)
use pyro::prelude::*;

#[model]
fn model(y: &Tensor<(usize,)>) -> PyroResult<()> {
    let mu = sample!("mu", Normal::new(0.0, 1.0));
    plate!("data", y.shape().0, {
        sample!("y", Normal::new(mu, 1.0), obs = y);
    });
    Ok(())
}

#[guide(model = model)]
fn guide(y: &Tensor<(usize,)>) -> PyroResult<()> {
    sample!("mu", Normal::new(0.0, 1.0));
    plate!("data", y.shape().0, {
        sample!("y", Normal::new(0.0, 1.0));
    });
    Ok(())
}

fn main() {}
