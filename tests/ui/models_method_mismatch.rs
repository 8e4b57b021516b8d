// Model and guide as methods of one struct (Pyro's VAE): #[models] on the impl checks the
// pair: a latent site missing from the guide (kind 1) and one in the wrong plate (kind 7).
use pyro::prelude::*;

struct Vae {
    z_dim: usize,
}

#[models]
impl Vae {
    #[model]
    fn model(&self, x: &Tensor<(usize, usize)>) -> PyroResult<()> {
        let _ = self.z_dim;
        let scale = sample!("scale", HalfNormal::new(1.0));
        plate!("data", x.shape().0, {
            let z = sample!("z", Normal::new(0.0, 1.0));
            let _ = (z, &scale);
        });
        Ok(())
    }

    #[guide(model = model)]
    fn guide(&self, _x: &Tensor<(usize, usize)>) -> PyroResult<()> {
        sample!("z", Normal::new(0.0, 1.0));
        Ok(())
    }
}

fn main() {}
