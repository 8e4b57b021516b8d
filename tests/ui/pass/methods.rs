// Model and guide as methods of one struct holding their parameters (Pyro's VAE shape),
// checked by #[models]; a guide method of a free model; a model method on its own.
use pyro::poutine;
use pyro::prelude::*;

struct Vae {
    z_dim: usize,
    decoder_scale: f32,
}

#[models]
impl Vae {
    fn new() -> Self {
        Vae {
            z_dim: 2,
            decoder_scale: 0.5,
        }
    }

    #[model]
    fn model(&self, x: &Tensor<(usize, usize)>) -> PyroResult<()> {
        let (n, d) = x.shape();
        plate!("data", n, {
            let z: Tensor<(usize,)> = sample!("z", Normal::new(0.0, 1.0));
            assert_eq!(z.shape().0, n);
            let _ = (self.z_dim, d);
            let decoded = x * 0.9;
            let px = Normal::new(decoded, self.decoder_scale).and_then(|d| d.to_event(1));
            let xs: DynTensor = sample!("x", px, obs = x);
            assert_eq!(xs.shape(), &[n, d]);
        });
        Ok(())
    }

    #[guide(model = Self::model)]
    fn guide(&self, x: &Tensor<(usize, usize)>) -> PyroResult<()> {
        let loc = param!("z_loc", 0.0);
        plate!("data", x.shape().0, {
            sample!("z", Normal::new(&loc, 1.0));
        });
        Ok(())
    }

    #[pyro::guide(model = free_model)]
    fn guide_of_free_model(&self) -> PyroResult<()> {
        sample!("f", Normal::new(0.0, 1.0));
        Ok(())
    }
}

#[model]
fn free_model() -> PyroResult<()> {
    sample!("f", Normal::new(0.0, 1.0));
    Ok(())
}

struct Solo;

impl Solo {
    // A model method without #[models]: rewritten, its guide unchecked.
    #[model]
    fn model(&self) -> PyroResult<Tensor<Rank0>> {
        Ok(sample!("s", Normal::new(0.0, 1.0)))
    }
}

fn main() {
    let vae = Vae::new();
    let x: Tensor<(usize, usize)> = Tensor::from_vec(vec![0.1; 6], (3, 2)).unwrap();
    let gt = poutine::trace(|| vae.guide(&x)).get_trace(()).unwrap();
    let mt = poutine::trace(poutine::replay(|| vae.model(&x), &gt))
        .get_trace(())
        .unwrap();
    pyro::dsl::check_model_guide(&mt, &gt).unwrap();
    vae.guide_of_free_model().unwrap();
    free_model().unwrap();
    Solo.model().unwrap();
}
