//! The one random source of pyro-rs. Every sampler draws from this thread-local generator, so
//! [`set_rng_seed`] makes a whole program reproducible.

use std::cell::RefCell;

use rand::rngs::StdRng;
use rand::SeedableRng;

thread_local! {
    static RNG: RefCell<StdRng> = RefCell::new(StdRng::from_entropy());
}

/// Seeds the random source of this thread (Pyro's `pyro.set_rng_seed`): the same seed gives
/// the same draws.
///
/// ```
/// use pyro::distributions::{Distribution, Normal};
/// pyro::set_rng_seed(7);
/// let a = Normal::new(0.0, 1.0).unwrap().sample_global(&[3]).unwrap().to_vec();
/// pyro::set_rng_seed(7);
/// let b = Normal::new(0.0, 1.0).unwrap().sample_global(&[3]).unwrap().to_vec();
/// assert_eq!(a, b);
/// ```
pub fn set_rng_seed(seed: u64) {
    RNG.with(|r| *r.borrow_mut() = StdRng::seed_from_u64(seed));
}

/// Runs `f` with the thread's generator.
pub fn with_rng<R>(f: impl FnOnce(&mut StdRng) -> R) -> R {
    RNG.with(|r| f(&mut r.borrow_mut()))
}

/// Replaces the thread's generator and returns the old one (used by the `seed` handler to
/// restore the outer stream afterwards).
pub fn swap_rng(new: StdRng) -> StdRng {
    RNG.with(|r| std::mem::replace(&mut *r.borrow_mut(), new))
}
