//! One NUTS transition: a trajectory doubled in random directions until it turns back, with
//! multinomial sampling of the next state (Betancourt 2017), as Stan's `base_nuts` does it,
//! including the U-turn checks across neighbouring subtrees (stan-dev/stan#2800).
//!
//! The U-turn criterion is the generalized one on momentum sums: a (sub)trajectory with
//! summed momentum `ρ` and end velocities `v⁻`, `v⁺` keeps going while `v⁻·ρ > 0` and
//! `v⁺·ρ > 0`. Besides the merged tree, each merge also checks each half extended by the
//! first point of the other, which catches U-turns a merge of two halves hides.

use rand::Rng;

use super::integrator::{leapfrog, PhasePoint};
use super::mass_matrix::InverseMassMatrix;
use super::potential::Potential;
use crate::error::PyroResult;

/// What one transition did (the per-draw extra fields).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct TransitionStats {
    /// The step size used.
    pub step_size: f64,
    /// Tree depth reached (NUTS; 0 for HMC).
    pub tree_depth: usize,
    /// Leapfrog steps taken.
    pub num_steps: usize,
    /// Whether the trajectory diverged (energy error above the limit, or not finite).
    pub diverging: bool,
    /// The Hamiltonian of the new state.
    pub energy: f64,
    /// The mean Metropolis acceptance probability over the trajectory (what step size
    /// adaptation uses).
    pub accept_prob: f64,
}

/// `log(exp(a) + exp(b))`.
pub(crate) fn log_sum_exp(a: f64, b: f64) -> f64 {
    if a == f64::NEG_INFINITY {
        return b;
    }
    if b == f64::NEG_INFINITY {
        return a;
    }
    let m = a.max(b);
    m + ((a - m).exp() + (b - m).exp()).ln()
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// The generalized no-U-turn criterion: `v⁻·ρ > 0 && v⁺·ρ > 0`.
fn no_u_turn(v_minus: &[f64], v_plus: &[f64], rho: &[f64]) -> bool {
    dot(v_plus, rho) > 0.0 && dot(v_minus, rho) > 0.0
}

fn add(a: &[f64], b: &[f64]) -> Vec<f64> {
    a.iter().zip(b).map(|(x, y)| x + y).collect()
}

struct Builder<'a, P: ?Sized, R> {
    pot: &'a mut P,
    metric: &'a InverseMassMatrix,
    rng: &'a mut R,
    eps: f64,
    h0: f64,
    max_delta_energy: f64,
    n_leapfrog: usize,
    sum_metro_prob: f64,
    divergent: bool,
}

/// The momentum and velocity ends and the momentum sum of a subtree under construction.
struct Ends<'b> {
    v_beg: &'b mut Vec<f64>,
    v_end: &'b mut Vec<f64>,
    rho: &'b mut Vec<f64>,
    p_beg: &'b mut Vec<f64>,
    p_end: &'b mut Vec<f64>,
}

impl<P: Potential + ?Sized, R: Rng> Builder<'_, P, R> {
    /// Builds a subtree of `2^depth` leapfrog steps from `z` (moved to its far end) in the
    /// direction `sign`; `z_propose` gets the subtree's multinomial sample. Returns whether
    /// the subtree is valid (no divergence, no U-turn inside).
    fn build_tree(
        &mut self,
        depth: usize,
        z: &mut PhasePoint,
        z_propose: &mut PhasePoint,
        ends: Ends<'_>,
        sign: f64,
        log_sum_weight: &mut f64,
    ) -> PyroResult<bool> {
        let n = z.q.len();
        if depth == 0 {
            leapfrog(z, sign * self.eps, self.metric, self.pot)?;
            self.n_leapfrog += 1;
            let h = z.energy();
            if h - self.h0 > self.max_delta_energy || h.is_nan() {
                self.divergent = true;
            }
            let w = self.h0 - h;
            *log_sum_weight = log_sum_exp(*log_sum_weight, w);
            self.sum_metro_prob += if w > 0.0 { 1.0 } else { w.exp() };
            z_propose.assign(z);
            ends.v_beg.copy_from_slice(&z.v);
            ends.v_end.copy_from_slice(&z.v);
            for (r, p) in ends.rho.iter_mut().zip(&z.p) {
                *r += p;
            }
            ends.p_beg.copy_from_slice(&z.p);
            ends.p_end.copy_from_slice(&z.p);
            return Ok(!self.divergent);
        }
        // The first half.
        let mut lsw_init = f64::NEG_INFINITY;
        let mut p_init_end = vec![0.0; n];
        let mut v_init_end = vec![0.0; n];
        let mut rho_init = vec![0.0; n];
        let valid_init = self.build_tree(
            depth - 1,
            z,
            z_propose,
            Ends {
                v_beg: &mut *ends.v_beg,
                v_end: &mut v_init_end,
                rho: &mut rho_init,
                p_beg: &mut *ends.p_beg,
                p_end: &mut p_init_end,
            },
            sign,
            &mut lsw_init,
        )?;
        if !valid_init {
            return Ok(false);
        }
        // The second half.
        let mut z_propose_final = z.clone();
        let mut lsw_final = f64::NEG_INFINITY;
        let mut p_final_beg = vec![0.0; n];
        let mut v_final_beg = vec![0.0; n];
        let mut rho_final = vec![0.0; n];
        let valid_final = self.build_tree(
            depth - 1,
            z,
            &mut z_propose_final,
            Ends {
                v_beg: &mut v_final_beg,
                v_end: &mut *ends.v_end,
                rho: &mut rho_final,
                p_beg: &mut p_final_beg,
                p_end: &mut *ends.p_end,
            },
            sign,
            &mut lsw_final,
        )?;
        if !valid_final {
            return Ok(false);
        }
        // Multinomial sample between the halves (uniform progressive sampling).
        let lsw_subtree = log_sum_exp(lsw_init, lsw_final);
        *log_sum_weight = log_sum_exp(*log_sum_weight, lsw_subtree);
        if lsw_final > lsw_subtree || self.rng.gen::<f64>() < (lsw_final - lsw_subtree).exp() {
            z_propose.assign(&z_propose_final);
        }
        let rho_subtree = add(&rho_init, &rho_final);
        for (r, s) in ends.rho.iter_mut().zip(&rho_subtree) {
            *r += s;
        }
        // The merged subtree, then each half extended by the other's nearest point.
        let mut persist = no_u_turn(ends.v_beg, ends.v_end, &rho_subtree);
        persist &= no_u_turn(ends.v_beg, &v_final_beg, &add(&rho_init, &p_final_beg));
        persist &= no_u_turn(&v_init_end, ends.v_end, &add(&rho_final, &p_init_end));
        Ok(persist)
    }
}

/// One NUTS transition from `z` (its position, potential and gradient; the momentum is
/// drawn here), leaving the new state in `z`.
///
/// ```
/// use pyro::infer::mcmc::{nuts_transition, FnPotential, InverseMassMatrix, PhasePoint};
/// use rand::SeedableRng;
/// let mut pot = FnPotential::new(2, |q: &[f64], g: &mut [f64]| {
///     g.copy_from_slice(q);
///     0.5 * (q[0] * q[0] + q[1] * q[1])
/// });
/// let metric = InverseMassMatrix::Diagonal(vec![1.0, 1.0]);
/// let mut z = PhasePoint::at(&mut pot, vec![1.0, -1.0]).unwrap();
/// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
/// let s = nuts_transition(&mut z, &mut pot, &metric, 0.5, 10, 1000.0, &mut rng).unwrap();
/// assert!(s.num_steps >= 1 && s.tree_depth >= 1 && !s.diverging);
/// ```
#[allow(clippy::too_many_arguments)]
pub fn transition<P: Potential + ?Sized, R: Rng>(
    z: &mut PhasePoint,
    pot: &mut P,
    metric: &InverseMassMatrix,
    eps: f64,
    max_depth: usize,
    max_delta_energy: f64,
    rng: &mut R,
) -> PyroResult<TransitionStats> {
    z.refresh(metric, rng);
    let h0 = z.energy();
    let mut z_fwd = z.clone();
    let mut z_bck = z.clone();
    let mut z_sample = z.clone();
    let mut z_propose = z.clone();
    let (mut p_fwd_fwd, mut v_fwd_fwd) = (z.p.clone(), z.v.clone());
    let (mut p_fwd_bck, mut v_fwd_bck) = (z.p.clone(), z.v.clone());
    let (mut p_bck_fwd, mut v_bck_fwd) = (z.p.clone(), z.v.clone());
    let (mut p_bck_bck, mut v_bck_bck) = (z.p.clone(), z.v.clone());
    let mut rho = z.p.clone();
    let n = rho.len();
    let mut b = Builder {
        pot,
        metric,
        rng,
        eps,
        h0,
        max_delta_energy,
        n_leapfrog: 0,
        sum_metro_prob: 0.0,
        divergent: false,
    };
    let mut log_sum_weight = 0.0;
    let mut depth = 0;
    while depth < max_depth {
        let mut rho_fwd = vec![0.0; n];
        let mut rho_bck = vec![0.0; n];
        let mut lsw_subtree = f64::NEG_INFINITY;
        let valid = if b.rng.gen::<f64>() > 0.5 {
            // Forward: the old trajectory becomes the backward part.
            rho_bck.copy_from_slice(&rho);
            p_bck_fwd.copy_from_slice(&p_fwd_fwd);
            v_bck_fwd.copy_from_slice(&v_fwd_fwd);
            let ends = Ends {
                v_beg: &mut v_fwd_bck,
                v_end: &mut v_fwd_fwd,
                rho: &mut rho_fwd,
                p_beg: &mut p_fwd_bck,
                p_end: &mut p_fwd_fwd,
            };
            b.build_tree(
                depth,
                &mut z_fwd,
                &mut z_propose,
                ends,
                1.0,
                &mut lsw_subtree,
            )?
        } else {
            rho_fwd.copy_from_slice(&rho);
            p_fwd_bck.copy_from_slice(&p_bck_bck);
            v_fwd_bck.copy_from_slice(&v_bck_bck);
            let ends = Ends {
                v_beg: &mut v_bck_fwd,
                v_end: &mut v_bck_bck,
                rho: &mut rho_bck,
                p_beg: &mut p_bck_fwd,
                p_end: &mut p_bck_bck,
            };
            b.build_tree(
                depth,
                &mut z_bck,
                &mut z_propose,
                ends,
                -1.0,
                &mut lsw_subtree,
            )?
        };
        if !valid {
            break;
        }
        depth += 1;
        // Biased progressive sampling between the old trajectory and the new subtree.
        if lsw_subtree > log_sum_weight || b.rng.gen::<f64>() < (lsw_subtree - log_sum_weight).exp()
        {
            z_sample.assign(&z_propose);
        }
        log_sum_weight = log_sum_exp(log_sum_weight, lsw_subtree);
        rho = add(&rho_bck, &rho_fwd);
        let mut persist = no_u_turn(&v_bck_bck, &v_fwd_fwd, &rho);
        persist &= no_u_turn(&v_bck_bck, &v_fwd_bck, &add(&rho_bck, &p_fwd_bck));
        persist &= no_u_turn(&v_bck_fwd, &v_fwd_fwd, &add(&rho_fwd, &p_bck_fwd));
        if !persist {
            break;
        }
    }
    let stats = TransitionStats {
        step_size: eps,
        tree_depth: depth,
        num_steps: b.n_leapfrog,
        diverging: b.divergent,
        energy: z_sample.energy(),
        accept_prob: if b.n_leapfrog > 0 {
            b.sum_metro_prob / b.n_leapfrog as f64
        } else {
            0.0
        },
    };
    z.assign(&z_sample);
    Ok(stats)
}
