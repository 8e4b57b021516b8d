//! Helpers shared by the SVI and autoguide test files.

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

/// Sample mean and covariance (ddof 1) of rows of equal length.
#[allow(dead_code)] // not every test file that shares this module uses it
pub fn moments(rows: &[Vec<f64>]) -> (Vec<f64>, Vec<Vec<f64>>) {
    let k = rows.len() as f64;
    let d = rows[0].len();
    let mean: Vec<f64> = (0..d)
        .map(|j| rows.iter().map(|r| r[j]).sum::<f64>() / k)
        .collect();
    let cov = (0..d)
        .map(|a| {
            (0..d)
                .map(|b| {
                    rows.iter()
                        .map(|r| (r[a] - mean[a]) * (r[b] - mean[b]))
                        .sum::<f64>()
                        / (k - 1.0)
                })
                .collect()
        })
        .collect();
    (mean, cov)
}
