// `Backend` is sealed: only pyro-rs implements it (for `Cpu`, and `Cuda` with the `cuda`
// feature), so no outside type can claim `HOST = true` and have its tensors read as CPU
// tensors. Implementing it elsewhere is a compile error naming the private supertrait.
use pyro::tensor::Backend;

#[derive(Clone, Debug, Default)]
struct MyDevice;

impl Backend for MyDevice {
    const HOST: bool = true;
}

fn main() {}
