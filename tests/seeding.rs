//! One call seeds every random source: the same seed gives the same draws.

use pyro::prelude::*;

fn draws() -> Vec<f32> {
    let d = Normal::new(0.0, 1.0).unwrap();
    let mut v = d.sample_global(&[5]).unwrap().to_vec();
    v.extend(d.sample_global(&[3]).unwrap().to_vec());
    v
}

#[test]
fn same_seed_same_draws() {
    pyro::set_rng_seed(42);
    let a = draws();
    pyro::set_rng_seed(42);
    let b = draws();
    assert_eq!(a, b);
}

#[test]
fn different_seed_different_draws() {
    pyro::set_rng_seed(1);
    let a = draws();
    pyro::set_rng_seed(2);
    let b = draws();
    assert_ne!(a, b);
}
