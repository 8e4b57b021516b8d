//! Phase-space points and the leapfrog (velocity Verlet) integrator, in f64.

use super::mass_matrix::InverseMassMatrix;
use super::potential::Potential;
use crate::error::PyroResult;

/// A point in phase space with its cached potential, gradient and velocity.
///
/// ```
/// use pyro::infer::mcmc::{FnPotential, PhasePoint};
/// let mut pot = FnPotential::new(1, |q: &[f64], g: &mut [f64]| { g[0] = q[0]; 0.5 * q[0] * q[0] });
/// let z = PhasePoint::at(&mut pot, vec![2.0]).unwrap();
/// assert_eq!((z.potential, z.grad[0], z.energy()), (2.0, 2.0, 2.0)); // zero momentum
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct PhasePoint {
    /// Position (unconstrained).
    pub q: Vec<f64>,
    /// Momentum.
    pub p: Vec<f64>,
    /// Velocity `M⁻¹ p`.
    pub v: Vec<f64>,
    /// Gradient of the potential at `q`.
    pub grad: Vec<f64>,
    /// Potential energy at `q` (`+inf` where the density is zero or not finite).
    pub potential: f64,
}

impl PhasePoint {
    /// A point at `q` with zero momentum, evaluating the potential there.
    pub fn at<P: Potential + ?Sized>(pot: &mut P, q: Vec<f64>) -> PyroResult<Self> {
        let n = q.len();
        let mut grad = vec![0.0; n];
        let potential = pot.value_and_grad(&q, &mut grad)?;
        Ok(PhasePoint {
            q,
            p: vec![0.0; n],
            v: vec![0.0; n],
            grad,
            potential: finite_or_inf(potential),
        })
    }

    /// The kinetic energy (from the cached velocity).
    pub fn kinetic(&self) -> f64 {
        InverseMassMatrix::kinetic(&self.p, &self.v)
    }

    /// The Hamiltonian, `+inf` when not finite.
    pub fn energy(&self) -> f64 {
        finite_or_inf(self.potential + self.kinetic())
    }

    /// Draws a fresh momentum and its velocity.
    pub fn refresh<R: rand::Rng>(&mut self, metric: &InverseMassMatrix, rng: &mut R) {
        metric.sample_momentum(rng, &mut self.p);
        metric.velocity(&self.p, &mut self.v);
    }

    /// Copies `other` into `self` without reallocating.
    pub fn assign(&mut self, other: &PhasePoint) {
        self.q.copy_from_slice(&other.q);
        self.p.copy_from_slice(&other.p);
        self.v.copy_from_slice(&other.v);
        self.grad.copy_from_slice(&other.grad);
        self.potential = other.potential;
    }
}

/// NaN becomes `+inf` (a point of zero density).
pub(crate) fn finite_or_inf(x: f64) -> f64 {
    if x.is_nan() {
        f64::INFINITY
    } else {
        x
    }
}

/// One leapfrog step of size `eps` (negative: backward in time), in place.
///
/// ```
/// use pyro::infer::mcmc::{leapfrog, FnPotential, InverseMassMatrix, PhasePoint};
/// let mut pot = FnPotential::new(1, |q: &[f64], g: &mut [f64]| { g[0] = q[0]; 0.5 * q[0] * q[0] });
/// let metric = InverseMassMatrix::Diagonal(vec![1.0]);
/// let mut z = PhasePoint::at(&mut pot, vec![1.0]).unwrap();
/// z.p = vec![0.5];
/// metric.velocity(&[0.5], &mut z.v);
/// let h0 = z.energy();
/// leapfrog(&mut z, 0.1, &metric, &mut pot).unwrap();
/// assert!((z.energy() - h0).abs() < 1e-3);
/// ```
pub fn leapfrog<P: Potential + ?Sized>(
    z: &mut PhasePoint,
    eps: f64,
    metric: &InverseMassMatrix,
    pot: &mut P,
) -> PyroResult<()> {
    let half = 0.5 * eps;
    for (p, g) in z.p.iter_mut().zip(&z.grad) {
        *p -= half * g;
    }
    metric.velocity(&z.p, &mut z.v);
    for (q, v) in z.q.iter_mut().zip(&z.v) {
        *q += eps * v;
    }
    z.potential = finite_or_inf(pot.value_and_grad(&z.q, &mut z.grad)?);
    for (p, g) in z.p.iter_mut().zip(&z.grad) {
        *p -= half * g;
    }
    metric.velocity(&z.p, &mut z.v);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::infer::mcmc::potential::FnPotential;

    #[test]
    fn leapfrog_is_reversible_and_nearly_conserves_energy() {
        // Standard normal in 2d.
        let mut pot = FnPotential::new(2, |q: &[f64], g: &mut [f64]| {
            g.copy_from_slice(q);
            0.5 * (q[0] * q[0] + q[1] * q[1])
        });
        let metric = InverseMassMatrix::Diagonal(vec![1.0, 1.0]);
        let mut z = PhasePoint::at(&mut pot, vec![1.0, -0.5]).unwrap();
        z.p = vec![0.3, 0.7];
        metric.velocity(&z.p.clone(), &mut z.v);
        let start = z.clone();
        let h0 = z.energy();
        for _ in 0..10 {
            leapfrog(&mut z, 0.1, &metric, &mut pot).unwrap();
        }
        assert!((z.energy() - h0).abs() < 1e-2);
        for _ in 0..10 {
            leapfrog(&mut z, -0.1, &metric, &mut pot).unwrap();
        }
        for (a, b) in z.q.iter().zip(&start.q) {
            assert!((a - b).abs() < 1e-12);
        }
    }
}
