//! Helpers shared by the SVI test files.

use pyro::optim::{ClippedAdam, ClippedAdamConfig};

/// ClippedAdam whose learning rate decays 100-fold over `steps` steps (Pyro's `lrd`), so that
/// the last iterates of a stochastic fit settle.
pub fn decaying_adam(lr: f32, steps: usize) -> ClippedAdam {
    ClippedAdam::new(ClippedAdamConfig {
        lr,
        lrd: 0.01f32.powf(1.0 / steps as f32),
        ..Default::default()
    })
    .unwrap()
}
