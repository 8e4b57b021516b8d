//! `seed`: runs a program with its own seeded random stream.

use rand::rngs::StdRng;
use rand::SeedableRng;

use super::Program;
use crate::error::PyroResult;
use crate::rng::swap_rng;

/// Restores the outer random stream when dropped.
struct RestoreRng(Option<StdRng>);

impl Drop for RestoreRng {
    fn drop(&mut self) {
        if let Some(r) = self.0.take() {
            swap_rng(r);
        }
    }
}

/// A program that runs with the thread's generator seeded to a fixed value, then restores
/// the outer generator (Pyro's `poutine.seed`).
#[derive(Clone)]
pub struct Seeded<P> {
    program: P,
    seed: u64,
}

impl<A, P: Program<A>> Program<A> for Seeded<P> {
    type Output = P::Output;
    fn call(&self, args: A) -> PyroResult<P::Output> {
        let _restore = RestoreRng(Some(swap_rng(StdRng::seed_from_u64(self.seed))));
        self.program.call(args)
    }
}

/// Runs `program` with a fixed seed: every call draws the same values, and the outer random
/// stream is left where it was.
///
/// ```
/// use pyro::prelude::*;
/// use pyro::poutine::{self, Program};
/// let model = || pyro::sample("z", Normal::new(0.0, 1.0));
/// let seeded = poutine::seed(model, 3);
/// let a = seeded.call(()).unwrap().item().unwrap();
/// let b = seeded.call(()).unwrap().item().unwrap();
/// assert_eq!(a, b);
/// ```
pub fn seed<P>(program: P, seed: u64) -> Seeded<P> {
    Seeded { program, seed }
}
