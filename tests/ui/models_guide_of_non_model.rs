// Failure kind 12 for methods: in an impl block with #[models], `model =` names a method
// that is not a #[model].
use pyro::prelude::*;

struct Vae;

#[models]
impl Vae {
    #[model]
    fn model(&self) -> PyroResult<()> {
        sample!("z", Normal::new(0.0, 1.0));
        Ok(())
    }

    fn helper(&self) -> PyroResult<()> {
        Ok(())
    }

    #[guide(model = helper)]
    fn guide(&self) -> PyroResult<()> {
        sample!("z", Normal::new(0.0, 1.0));
        Ok(())
    }
}

fn main() {}
