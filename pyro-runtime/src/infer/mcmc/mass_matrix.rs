//! The Euclidean metric of HMC: the inverse mass matrix `M⁻¹` (the posterior covariance the
//! adaptation estimates), diagonal or dense, with momentum draws `p ~ N(0, M)`, velocities
//! `M⁻¹ p` and the kinetic energy `½ pᵀ M⁻¹ p`.

use rand::Rng;
use rand_distr::StandardNormal;

use super::adaptation::Welford;

/// The inverse mass matrix.
///
/// ```
/// use pyro::infer::mcmc::InverseMassMatrix;
/// let m = InverseMassMatrix::dense(vec![2.0, 0.5, 0.5, 1.0], 2).unwrap();
/// let mut v = [0.0; 2];
/// m.velocity(&[1.0, 0.0], &mut v);
/// assert_eq!(v, [2.0, 0.5]);
/// assert!(InverseMassMatrix::dense(vec![1.0, 2.0, 2.0, 1.0], 2).is_none()); // not PD
/// ```
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
    /// Block diagonal: each block's coordinates and its (diagonal or dense) matrix over
    /// them; the blocks partition the coordinates (NumPyro's `dense_mass=[("a", "b")]`).
    Blocks(Vec<(Vec<usize>, InverseMassMatrix)>),
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
            InverseMassMatrix::Blocks(b) => b.iter().map(|(idx, _)| idx.len()).sum(),
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
            InverseMassMatrix::Blocks(blocks) => {
                for (idx, m) in blocks {
                    let mut local = vec![0.0; idx.len()];
                    m.sample_momentum(rng, &mut local);
                    for (&i, x) in idx.iter().zip(local) {
                        p[i] = x;
                    }
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
            InverseMassMatrix::Blocks(blocks) => {
                for (idx, m) in blocks {
                    let local: Vec<f64> = idx.iter().map(|&i| p[i]).collect();
                    let mut out = vec![0.0; idx.len()];
                    m.velocity(&local, &mut out);
                    for (&i, x) in idx.iter().zip(out) {
                        v[i] = x;
                    }
                }
            }
        }
    }

    /// The kinetic energy `½ pᵀ M⁻¹ p`, given the velocity `v = M⁻¹ p`.
    pub fn kinetic(p: &[f64], v: &[f64]) -> f64 {
        0.5 * p.iter().zip(v).map(|(a, b)| a * b).sum::<f64>()
    }
}

/// Which coordinates share a mass matrix block and whether it is dense.
///
/// ```
/// use pyro::infer::mcmc::{InverseMassMatrix, MassStructure};
/// let s = MassStructure(vec![(vec![0, 2], true), (vec![1], false)]);
/// assert!(matches!(s.identity(), InverseMassMatrix::Blocks(ref b) if b.len() == 2));
/// assert_eq!(MassStructure::uniform(3, false).identity(), InverseMassMatrix::Diagonal(vec![1.0; 3]));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct MassStructure(pub Vec<(Vec<usize>, bool)>);

impl MassStructure {
    /// One block over `n` coordinates, dense or diagonal.
    pub fn uniform(n: usize, dense: bool) -> Self {
        MassStructure(vec![((0..n).collect(), dense)])
    }

    /// The number of coordinates.
    pub fn dim(&self) -> usize {
        self.0.iter().map(|(idx, _)| idx.len()).sum()
    }

    /// The identity with this structure.
    pub fn identity(&self) -> InverseMassMatrix {
        self.assemble(
            self.0
                .iter()
                .map(|(idx, dense)| InverseMassMatrix::identity(idx.len(), *dense))
                .collect(),
        )
    }

    /// One block's matrices back in this structure (a single block is not wrapped).
    fn assemble(&self, mut parts: Vec<InverseMassMatrix>) -> InverseMassMatrix {
        if parts.len() == 1 && self.0[0].0.iter().enumerate().all(|(k, &i)| k == i) {
            return parts.remove(0);
        }
        InverseMassMatrix::Blocks(
            self.0
                .iter()
                .map(|(idx, _)| idx.clone())
                .zip(parts)
                .collect(),
        )
    }
}

/// Welford estimates per block of a [`MassStructure`], of the draws and (for
/// [`MassAdaptation::DrawsAndGradients`](super::MassAdaptation)) of the gradients.
///
/// ```
/// use pyro::infer::mcmc::{InverseMassMatrix, MassEstimator, MassStructure};
/// let mut e = MassEstimator::new(MassStructure::uniform(1, false), false);
/// for x in [1.0, 2.0, 3.0, 4.0, 5.0] {
///     e.add(&[x], &[0.0]);
/// }
/// // Stan's regularization: (5/10) 2.5 + 1e-3 (5/10).
/// let InverseMassMatrix::Diagonal(v) = e.estimate_and_restart().unwrap() else { panic!() };
/// assert!((v[0] - 1.2505).abs() < 1e-12);
/// ```
#[derive(Debug, Clone)]
pub struct MassEstimator {
    structure: MassStructure,
    draws: Vec<Welford>,
    grads: Option<Vec<Welford>>,
}

impl MassEstimator {
    /// Empty estimates for `structure`; `with_grads` also tracks gradient variances (used for
    /// diagonal blocks only).
    pub fn new(structure: MassStructure, with_grads: bool) -> Self {
        let draws = structure
            .0
            .iter()
            .map(|(idx, dense)| Welford::new(idx.len(), *dense))
            .collect();
        let grads = with_grads.then(|| {
            structure
                .0
                .iter()
                .map(|(idx, _)| Welford::new(idx.len(), false))
                .collect()
        });
        MassEstimator {
            structure,
            draws,
            grads,
        }
    }

    /// Adds one draw and its gradient.
    pub fn add(&mut self, q: &[f64], grad: &[f64]) {
        for (k, (idx, _)) in self.structure.0.iter().enumerate() {
            let local: Vec<f64> = idx.iter().map(|&i| q[i]).collect();
            self.draws[k].add(&local);
            if let Some(g) = &mut self.grads {
                let local: Vec<f64> = idx.iter().map(|&i| grad[i]).collect();
                g[k].add(&local);
            }
        }
    }

    /// The regularized estimate (restarting the window), or `None` when a dense block is not
    /// positive definite.
    pub fn estimate_and_restart(&mut self) -> Option<InverseMassMatrix> {
        let mut parts = Vec::with_capacity(self.draws.len());
        for (k, (idx, dense)) in self.structure.0.iter().enumerate() {
            let mut est = self.draws[k].regularized_and_restart();
            if *dense {
                parts.push(InverseMassMatrix::dense(est, idx.len())?);
                if let Some(g) = &mut self.grads {
                    g[k].variance_and_restart();
                }
                continue;
            }
            if let Some(g) = &mut self.grads {
                for (e, g) in est.iter_mut().zip(g[k].variance_and_restart()) {
                    // nuts-rs: sqrt(Var[q] / Var[grad]), kept within a sane range.
                    let v = (*e / g).sqrt();
                    if v.is_finite() && v > 0.0 {
                        *e = v.clamp(1e-10, 1e10);
                    }
                }
            }
            parts.push(InverseMassMatrix::Diagonal(est));
        }
        Some(self.structure.assemble(parts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn a_dense_estimate_that_is_not_positive_definite_is_refused() {
        // Draws whose covariance overflows f64: the regularized estimate is not finite, its
        // Cholesky factorization fails, and the estimator says so (the chain then reports
        // McmcError::NotPositiveDefinite) instead of handing on a broken metric.
        let mut est = MassEstimator::new(MassStructure::uniform(2, true), false);
        for k in 0..10 {
            let x = if k % 2 == 0 { 1e200 } else { -1e200 };
            est.add(&[x, -x], &[0.0, 0.0]);
        }
        assert!(est.estimate_and_restart().is_none());
        // After the restart, ordinary draws give a usable metric again.
        for k in 0..10 {
            let x = k as f64 * 0.1;
            est.add(&[x, (x * 3.0).sin()], &[0.0, 0.0]);
        }
        assert!(est.estimate_and_restart().is_some());
    }

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
    fn blocks_act_on_their_coordinates() {
        // Coordinates 0 and 2 dense together, 1 diagonal.
        let s = MassStructure(vec![(vec![0, 2], true), (vec![1], false)]);
        let mut est = MassEstimator::new(s.clone(), false);
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        for _ in 0..20_000 {
            let a: f64 = rng.sample(StandardNormal);
            let b: f64 = rng.sample(StandardNormal);
            let c: f64 = rng.sample(StandardNormal);
            // Var 4 and 1 with covariance 1.8 on (0, 2); Var 9 on 1.
            est.add(
                &[2.0 * a, 3.0 * b, 0.9 * a + (1.0f64 - 0.81).sqrt() * c],
                &[0.0; 3],
            );
        }
        let m = est.estimate_and_restart().unwrap();
        let InverseMassMatrix::Blocks(blocks) = &m else {
            panic!("{m:?}")
        };
        let InverseMassMatrix::Dense { inverse, .. } = &blocks[0].1 else {
            panic!()
        };
        assert!((inverse[1] - 1.8).abs() < 0.1 && (inverse[0] - 4.0).abs() < 0.2);
        let mut v = [0.0; 3];
        m.velocity(&[1.0, 1.0, 1.0], &mut v);
        assert!((v[1] - 9.0).abs() < 0.3);
        assert!((v[0] - (inverse[0] + inverse[1])).abs() < 1e-12);
        assert_eq!(m.dim(), 3);
        assert_eq!(s.identity().dim(), 3);
        assert_eq!(
            MassStructure::uniform(2, false).identity(),
            InverseMassMatrix::Diagonal(vec![1.0, 1.0])
        );
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
