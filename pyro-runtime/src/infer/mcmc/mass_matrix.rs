//! The Euclidean metric of HMC: the inverse mass matrix `M⁻¹` (the posterior covariance the
//! adaptation estimates), diagonal or dense, with momentum draws `p ~ N(0, M)`, velocities
//! `M⁻¹ p` and the kinetic energy `½ pᵀ M⁻¹ p`.

use rand::Rng;
use rand_distr::StandardNormal;

/// The inverse mass matrix.
#[derive(Debug, Clone, PartialEq)]
pub enum InverseMassMatrix {
    /// Diagonal: the variances.
    Diagonal(Vec<f64>),
    /// Dense: the covariance (row-major) and its lower Cholesky factor `L` (`M⁻¹ = L Lᵀ`).
    Dense {
        /// `M⁻¹`, row-major `n x n`.
        inverse: Vec<f64>,
        /// Its lower Cholesky factor, row-major.
        cholesky: Vec<f64>,
    },
}

impl InverseMassMatrix {
    /// The identity of dimension `n`, diagonal or dense.
    pub fn identity(n: usize, dense: bool) -> Self {
        if dense {
            let mut eye = vec![0.0; n * n];
            for i in 0..n {
                eye[i * n + i] = 1.0;
            }
            InverseMassMatrix::Dense {
                inverse: eye.clone(),
                cholesky: eye,
            }
        } else {
            InverseMassMatrix::Diagonal(vec![1.0; n])
        }
    }

    /// A dense inverse mass matrix from a covariance, or `None` when it is not positive
    /// definite.
    pub fn dense(inverse: Vec<f64>, n: usize) -> Option<Self> {
        let cholesky = crate::linalg::cholesky_host(&inverse, n)?;
        Some(InverseMassMatrix::Dense { inverse, cholesky })
    }

    /// The dimension.
    pub fn dim(&self) -> usize {
        match self {
            InverseMassMatrix::Diagonal(v) => v.len(),
            InverseMassMatrix::Dense { cholesky, .. } => (cholesky.len() as f64).sqrt() as usize,
        }
    }

    /// Draws a momentum `p ~ N(0, M)` into `p`.
    pub fn sample_momentum<R: Rng>(&self, rng: &mut R, p: &mut [f64]) {
        match self {
            InverseMassMatrix::Diagonal(var) => {
                for (pi, v) in p.iter_mut().zip(var) {
                    let z: f64 = rng.sample(StandardNormal);
                    *pi = z / v.sqrt();
                }
            }
            InverseMassMatrix::Dense { cholesky: l, .. } => {
                // p = L⁻ᵀ z has covariance (L Lᵀ)⁻¹ = M.
                let n = p.len();
                for pi in p.iter_mut() {
                    *pi = rng.sample(StandardNormal);
                }
                for i in (0..n).rev() {
                    let mut s = p[i];
                    for k in i + 1..n {
                        s -= l[k * n + i] * p[k];
                    }
                    p[i] = s / l[i * n + i];
                }
            }
        }
    }

    /// The velocity `M⁻¹ p` into `v`.
    pub fn velocity(&self, p: &[f64], v: &mut [f64]) {
        match self {
            InverseMassMatrix::Diagonal(var) => {
                for ((vi, pi), s) in v.iter_mut().zip(p).zip(var) {
                    *vi = s * pi;
                }
            }
            InverseMassMatrix::Dense { inverse, .. } => {
                let n = p.len();
                for (i, vi) in v.iter_mut().enumerate() {
                    let row = &inverse[i * n..(i + 1) * n];
                    *vi = row.iter().zip(p).map(|(a, b)| a * b).sum();
                }
            }
        }
    }

    /// The kinetic energy `½ pᵀ M⁻¹ p`, given the velocity `v = M⁻¹ p`.
    pub fn kinetic(p: &[f64], v: &[f64]) -> f64 {
        0.5 * p.iter().zip(v).map(|(a, b)| a * b).sum::<f64>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn dense_momentum_has_covariance_m() {
        // M⁻¹ = [[4, 1.8], [1.8, 1]]; M = inverse.
        let inv = vec![4.0, 1.8, 1.8, 1.0];
        let m = InverseMassMatrix::dense(inv.clone(), 2).unwrap();
        let det = 4.0 - 1.8 * 1.8;
        let want = [1.0 / det, -1.8 / det, -1.8 / det, 4.0 / det];
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let n = 200_000;
        let mut c = [0.0; 4];
        let mut p = [0.0; 2];
        for _ in 0..n {
            m.sample_momentum(&mut rng, &mut p);
            c[0] += p[0] * p[0];
            c[1] += p[0] * p[1];
            c[2] += p[1] * p[0];
            c[3] += p[1] * p[1];
        }
        for k in 0..4 {
            let got = c[k] / n as f64;
            assert!(
                (got - want[k]).abs() < 0.03 * want[0].abs(),
                "{k}: {got} vs {}",
                want[k]
            );
        }
        let mut v = [0.0; 2];
        m.velocity(&[1.0, 2.0], &mut v);
        assert_eq!(v, [4.0 + 3.6, 1.8 + 2.0]);
    }

    #[test]
    fn diagonal_momentum_and_velocity() {
        let m = InverseMassMatrix::Diagonal(vec![4.0, 0.25]);
        let mut v = [0.0; 2];
        m.velocity(&[1.0, 2.0], &mut v);
        assert_eq!(v, [4.0, 0.5]);
        assert_eq!(
            InverseMassMatrix::kinetic(&[1.0, 2.0], &v),
            0.5 * (4.0 + 1.0)
        );
    }
}
