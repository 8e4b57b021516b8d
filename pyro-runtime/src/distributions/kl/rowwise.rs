//! Divergences between families whose parameters end in an event dim of `k` entries
//! (Dirichlet concentrations, categorical weights): each pair of rows is evaluated on the
//! host in `f64` by a kernel that also returns the gradients with respect to both rows, and
//! the result is put on the graph by linearisation (exact value, exact gradients).

use super::super::host_map::tangent;
use super::super::vector_event::broadcast_index;
use super::super::*;
use crate::tensor::special::scalar::{digamma, lgamma, trigamma};
use crate::tensor::TensorError;
use crate::tensor::{broadcast_shapes, is_recording, numel};

/// A row kernel: `(row of p, row of q, with_grad) -> (KL, ∂/∂row p, ∂/∂row q)`; the
/// gradients may be empty when `with_grad` is false, and non-finite entries count as zero.
pub(super) type RowKernel<'a> = dyn Fn(&[f64], &[f64], bool) -> (f64, Vec<f64>, Vec<f64>) + 'a;

/// `KL` per broadcast batch element of `p_param: p_batch + [k]` and `q_param: q_batch + [k]`,
/// shape `broadcast(p_batch, q_batch)`.
pub(super) fn rowwise<D: Backend>(
    (p_param, p_batch): (&DynTensor<D>, &[usize]),
    (q_param, q_batch): (&DynTensor<D>, &[usize]),
    k: usize,
    kernel: &RowKernel<'_>,
) -> DistResult<DynTensor<D>> {
    let full = broadcast_shapes(p_batch, q_batch).ok_or_else(|| TensorError::Broadcast {
        op: "kl_divergence",
        lhs: p_batch.to_vec(),
        rhs: q_batch.to_vec(),
    })?;
    let (av, bv) = (p_param.to_vec(), q_param.to_vec());
    let (pi, qi) = (
        broadcast_index(p_batch, &full),
        broadcast_index(q_batch, &full),
    );
    let recording = is_recording();
    let nf = numel(&full);
    let mut kl = Vec::with_capacity(nf);
    let (mut ga, mut gb) = (Vec::new(), Vec::new());
    let row = |v: &[f32], i: usize| -> Vec<f64> {
        v[i * k..(i + 1) * k].iter().map(|&x| x as f64).collect()
    };
    let finite = |g: f64| if g.is_finite() { g as f32 } else { 0.0 };
    for f in 0..nf {
        let (v, da, db) = kernel(&row(&av, pi[f]), &row(&bv, qi[f]), recording);
        kl.push(v as f32);
        if recording {
            ga.extend(da.into_iter().map(finite));
            gb.extend(db.into_iter().map(finite));
        }
    }
    let out = DynTensor::from_vec(kl, &full)?;
    if !recording {
        return Ok(out);
    }
    let fe = extended_shape(&[], &full, &[k]);
    let lin = tangent(p_param, &fe, ga)?
        .add(&tangent(q_param, &fe, gb)?)?
        .sum_rightmost(1)?;
    Ok(out.add(&lin)?)
}

/// `KL(Dir(a) || Dir(b)) = log Γ(a₀) - Σ log Γ(a) - log Γ(b₀) + Σ log Γ(b)
/// + Σ (a - b)(ψ(a) - ψ(a₀))`, with `∂/∂a_k = (a_k - b_k) ψ'(a_k) - ψ'(a₀) Σ_j (a_j - b_j)` and
/// `∂/∂b_k = ψ(b_k) - ψ(b₀) - ψ(a_k) + ψ(a₀)`.
pub(crate) fn dirichlet_row(a: &[f64], b: &[f64], with_grad: bool) -> (f64, Vec<f64>, Vec<f64>) {
    let (a0, b0): (f64, f64) = (a.iter().sum(), b.iter().sum());
    let psi_a0 = digamma(a0);
    let mut s = lgamma(a0) - lgamma(b0);
    for (&x, &y) in a.iter().zip(b) {
        s += lgamma(y) - lgamma(x) + (x - y) * (digamma(x) - psi_a0);
    }
    if !with_grad {
        return (s, vec![], vec![]);
    }
    let diff_sum: f64 = a.iter().zip(b).map(|(x, y)| x - y).sum();
    let (tri_a0, psi_b0) = (trigamma(a0), digamma(b0));
    let ga = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| (x - y) * trigamma(x) - tri_a0 * diff_sum)
        .collect();
    let gb = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| digamma(y) - psi_b0 - digamma(x) + psi_a0)
        .collect();
    (s, ga, gb)
}

pub(super) fn kl_dirichlet_dirichlet<D: Backend>(
    p: &Dirichlet<DynShape, D>,
    q: &Dirichlet<DynShape, D>,
) -> DistResult<DynTensor<D>> {
    let k = p.event_shape()[0];
    rowwise(
        (p.concentration(), p.batch_shape()),
        (q.concentration(), q.batch_shape()),
        k,
        &dirichlet_row,
    )
}
