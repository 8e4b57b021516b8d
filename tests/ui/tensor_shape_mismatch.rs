// Adding tensors of two different static shapes is a compile error that says so in words.
use pyro::prelude::*;

fn main() {
    let x: Tensor<Rank1<3>> = [1.0, 2.0, 3.0].into();
    let y: Tensor<Rank1<4>> = [1.0, 2.0, 3.0, 4.0].into();
    let _ = &x + &y;
}
