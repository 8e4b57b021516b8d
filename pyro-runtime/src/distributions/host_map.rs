//! Host (`f64`) evaluation for distributions: functions of several tensors put back on the
//! gradient graph by linearisation, support masks for values outside a distribution's support,
//! `f64` uniform draws, finiteness checks and the `x ln y` family with its `0 ln 0 = 0`
//! convention.
//!
//! [`host_map`] generalises [`crate::tensor::special::host_unary`] to `N` inputs: for inputs
//! `x_1..x_N` (broadcast to one shape) and a host function returning `f(x0)` and its partial
//! derivatives `g_i(x0)` in `f64`, the output is `f(x0) + Σ_i (x_i - x0_i) g_i(x0)` with `x0_i`
//! constant copies. Its value is exactly `f(x0)` (each `x_i - x0_i` is exactly zero) and its
//! gradient is exactly the given partials. [`linearize`] is the same with precomputed values
//! and partials (used by the implicit reparameterized samplers and the discrete log-masses).

use rand::RngCore;

use super::{DistError, DistResult};
use crate::constraints::Constraint;
use crate::tensor::TensorError;
use crate::tensor::{broadcast_shapes, is_recording, Backend, DynTensor};

/// Evaluates `f` elementwise in `f64` over the broadcast inputs; `f` returns the value and
/// the partial derivative with respect to each input. Non-finite partials become zero (as in
/// `host_unary`); non-finite values (`-inf` log-densities) are kept.
#[allow(clippy::needless_range_loop)] // `j` indexes every input at once
pub(crate) fn host_map<D: Backend, const N: usize>(
    op: &'static str,
    inputs: [&DynTensor<D>; N],
    f: impl Fn([f64; N]) -> (f64, [f64; N]),
) -> DistResult<DynTensor<D>> {
    let mut shape: Vec<usize> = vec![];
    for x in &inputs {
        shape = broadcast_shapes(&shape, x.shape()).ok_or_else(|| TensorError::Broadcast {
            op,
            lhs: shape.clone(),
            rhs: x.shape().to_vec(),
        })?;
    }
    let xs = inputs
        .iter()
        .map(|x| x.broadcast_to(&shape))
        .collect::<Result<Vec<_>, _>>()?;
    let host: Vec<Vec<f32>> = xs.iter().map(|x| x.to_vec()).collect();
    let n = crate::tensor::numel(&shape);
    let recording = is_recording();
    let mut vals = Vec::with_capacity(n);
    let mut grads: Vec<Vec<f64>> = vec![Vec::with_capacity(if recording { n } else { 0 }); N];
    for j in 0..n {
        let args: [f64; N] = std::array::from_fn(|i| host[i][j] as f64);
        let (v, g) = f(args);
        vals.push(v);
        if recording {
            for i in 0..N {
                grads[i].push(g[i]);
            }
        }
    }
    let refs: Vec<&DynTensor<D>> = xs.iter().collect();
    linearize(&refs, &shape, &vals, recording.then_some(&grads[..]))
}

/// `values + Σ_i (inputs_i - inputs_i.detached) * partials_i`, all of shape `shape` (the
/// inputs must already have it). With `partials == None` the result is a constant; with no
/// open gradient scope it is what any operation makes there (a leaf, or a constant when
/// every input is one).
pub(crate) fn linearize<D: Backend>(
    inputs: &[&DynTensor<D>],
    shape: &[usize],
    values: &[f64],
    partials: Option<&[Vec<f64>]>,
) -> DistResult<DynTensor<D>> {
    let c: Vec<f32> = values.iter().map(|&v| v as f32).collect();
    let partials = match partials {
        Some(p) if is_recording() => p,
        Some(_) => {
            let constant = inputs.iter().all(|x| x.is_constant());
            return Ok(DynTensor::from_vec(c, shape)?.with_constant(constant));
        }
        None => return Ok(DynTensor::from_vec(c, shape)?.with_constant(true)),
    };
    let d: Vec<Vec<f32>> = partials
        .iter()
        .map(|g| {
            g.iter()
                .map(|&v| if v.is_finite() { v as f32 } else { 0.0 })
                .collect()
        })
        .collect();
    Ok(crate::tensor::op::host_linearized(inputs, shape, c, d)?)
}

/// `x * ln(y)` with the convention `0 * ln(y) = 0` (also for `y = 0`).
pub(crate) fn xlogy(x: f64, y: f64) -> f64 {
    if x == 0.0 {
        0.0
    } else {
        x * y.ln()
    }
}

/// `x * ln(1 + y)` with the convention `0 * ln(1 + y) = 0`.
pub(crate) fn xlog1py(x: f64, y: f64) -> f64 {
    if x == 0.0 {
        0.0
    } else {
        x * libm::log1p(y)
    }
}

/// `ln(n choose k)` for real `n >= k >= 0`, in `f64`.
pub(crate) fn ln_choose(n: f64, k: f64) -> f64 {
    use crate::tensor::special::scalar::lgamma;
    lgamma(n + 1.0) - lgamma(k + 1.0) - lgamma(n - k + 1.0)
}

/// Errors naming `param` when some value of `x` is infinite or NaN (always checked: the
/// samplers cannot run on such values).
pub(crate) fn require_finite(dist: &'static str, param: &'static str, v: &[f32]) -> DistResult<()> {
    match v.iter().position(|x| !x.is_finite()) {
        None => Ok(()),
        Some(i) => Err(DistError::InvalidParameter {
            dist,
            param,
            reason: format!("{} (at element {i}) is not finite", v[i]),
        }),
    }
}

/// Evaluates `lp` on `value` so that entries outside `support` give `-inf` instead of NaN
/// (torch's behaviour for out-of-support values when validation is off). When every entry
/// is inside (the usual case, and the only case with validation on) this is just
/// `lp(value)`. Otherwise the outside entries are replaced by `inside` (a point of the
/// support) before `lp` sees them, and `-inf` is added at those positions.
pub(crate) fn masked_log_prob<D: Backend>(
    value: &DynTensor<D>,
    support: &Constraint,
    inside: f32,
    lp: impl FnOnce(&DynTensor<D>) -> DistResult<DynTensor<D>>,
) -> DistResult<DynTensor<D>> {
    let v = value.to_vec();
    let ok = support.check_values(&v, value.shape());
    if ok.iter().all(|&b| b) {
        return lp(value);
    }
    let keep: Vec<f32> = ok.iter().map(|&b| if b { 1.0 } else { 0.0 }).collect();
    let repl: Vec<f32> = ok.iter().map(|&b| if b { 0.0 } else { inside }).collect();
    let mask: Vec<f32> = ok
        .iter()
        .map(|&b| if b { 0.0 } else { f32::NEG_INFINITY })
        .collect();
    let shape = value.shape();
    let safe = value
        .clamp(-f32::MAX, f32::MAX)
        .mul(&DynTensor::from_vec(keep, shape)?)?
        .add(&DynTensor::from_vec(repl, shape)?)?;
    Ok(lp(&safe)?.add(&DynTensor::from_vec(mask, shape)?)?)
}

/// `x` where `cond` holds, the constant `c` elsewhere (`cond` evaluated on the host per
/// element of `x`). Gradients flow only through the kept entries.
pub(crate) fn where_host<D: Backend>(
    x: &DynTensor<D>,
    cond: impl Fn(f32) -> bool,
    c: f32,
) -> DistResult<DynTensor<D>> {
    let v = x.to_vec();
    if v.iter().all(|&t| cond(t)) {
        return Ok(x.clone());
    }
    let shape = x.shape();
    let keep: Vec<f32> = v.iter().map(|&t| if cond(t) { 1.0 } else { 0.0 }).collect();
    let fill: Vec<f32> = v.iter().map(|&t| if cond(t) { 0.0 } else { c }).collect();
    let kept = x
        .clamp(-f32::MAX, f32::MAX)
        .mul(&DynTensor::from_vec(keep, shape)?)?;
    Ok(kept.add(&DynTensor::from_vec(fill, shape)?)?)
}

/// `(x - x₀) ⊙ g` with `x` broadcast to `shape` and `x₀` its constant copy: zero in value, with
/// gradient `g` (host values of that shape) with respect to `x`. Sums of such terms put a
/// host-computed function back on the graph (see [`linearize`]).
pub(crate) fn tangent<D: Backend>(
    x: &DynTensor<D>,
    shape: &[usize],
    g: Vec<f32>,
) -> DistResult<DynTensor<D>> {
    let xb = x.broadcast_to(shape)?;
    Ok(xb.sub(&xb.detach())?.mul(&DynTensor::from_vec(g, shape)?)?)
}

/// Per output element, the flat indices `(into the value, into the batch)`.
pub(crate) type IndexPairs = Vec<(usize, usize)>;

/// For a value of `value_shape` scored under a batch of `batch_shape`: the broadcast output
/// shape and, per output element, the flat indices `(into the value, into the batch)`. Errors
/// (naming `op`) when the shapes do not broadcast.
pub(crate) fn value_batch_pairs(
    op: &'static str,
    value_shape: &[usize],
    batch_shape: &[usize],
) -> DistResult<(Vec<usize>, IndexPairs)> {
    let out = broadcast_shapes(value_shape, batch_shape).ok_or_else(|| TensorError::Broadcast {
        op,
        lhs: value_shape.to_vec(),
        rhs: batch_shape.to_vec(),
    })?;
    let vmap = crate::linalg::broadcast_index(value_shape, &out);
    let bmap = crate::linalg::broadcast_index(batch_shape, &out);
    Ok((out, vmap.into_iter().zip(bmap).collect()))
}

/// Standard noise of shape `sample_shape + batch_shape` for a reparameterized sampler:
/// `draw(n, rng)` gives its `n` values.
pub(crate) fn noise<D: Backend>(
    sample_shape: &[usize],
    batch_shape: &[usize],
    rng: &mut dyn RngCore,
    draw: fn(usize, &mut dyn RngCore) -> Vec<f32>,
) -> DistResult<DynTensor<D>> {
    let shape = super::extended_shape(sample_shape, batch_shape, &[]);
    Ok(DynTensor::from_vec(
        draw(crate::tensor::numel(&shape), rng),
        &shape,
    )?)
}

/// [`noise`] whose values are `f(u)` (computed in `f64`) for uniform `u` in `(0, 1)`.
pub(crate) fn uniform_noise<D: Backend>(
    sample_shape: &[usize],
    batch_shape: &[usize],
    rng: &mut dyn RngCore,
    f: impl Fn(f64) -> f64,
) -> DistResult<DynTensor<D>> {
    let shape = super::extended_shape(sample_shape, batch_shape, &[]);
    let u = open_uniform_f64(crate::tensor::numel(&shape), rng);
    let v: Vec<f32> = u.into_iter().map(|u| f(u) as f32).collect();
    Ok(DynTensor::from_vec(v, &shape)?)
}

/// A uniform draw in `[0, 1)` with 53 random bits (the same stream as `rng.gen::<f64>()`).
pub(crate) fn uniform_f64(rng: &mut dyn RngCore) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// `n` uniform draws in the open interval `(0, 1)` in `f64` (finer than `f32` near 0, so
/// transforms such as `-ln u` or `tan(π(u - 1/2))` reach further into the tails).
pub(crate) fn open_uniform_f64(n: usize, rng: &mut dyn RngCore) -> Vec<f64> {
    (0..n).map(|_| open_uniform(rng)).collect()
}

/// One uniform draw in `(0, 1)`: [`uniform_f64`] with 0 replaced by the smallest normal `f64`.
pub(crate) fn open_uniform(rng: &mut dyn RngCore) -> f64 {
    let u = uniform_f64(rng);
    if u == 0.0 {
        f64::MIN_POSITIVE
    } else {
        u
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::GradScope;
    use dfdx::prelude::Cpu;

    fn grad_of(x: &DynTensor<Cpu>, y: &DynTensor<Cpu>, scope: GradScope<Cpu>) -> Vec<f32> {
        let g = scope.backward(&y.sum()).unwrap();
        g.get_or_zeros(x).to_vec()
    }

    #[test]
    fn host_map_values_and_partials_are_exact() {
        // f(a, b) = a² b + sin b, evaluated with broadcasting a: [2], b: [].
        let a = DynTensor::<Cpu>::from_vec(vec![1.5, -2.0], &[2]).unwrap();
        let b = DynTensor::<Cpu>::scalar(0.7);
        let scope = GradScope::<Cpu>::open();
        let y = host_map("test", [&a, &b], |[a, b]| {
            (a * a * b + b.sin(), [2.0 * a * b, a * a + b.cos()])
        })
        .unwrap();
        let v = y.to_vec();
        let want = |a: f64| (a * a * 0.7f32 as f64 + (0.7f32 as f64).sin()) as f32;
        assert_eq!(v, vec![want(1.5), want(-2.0)]);
        let ga = grad_of(&a, &y, scope);
        let b0 = 0.7f32 as f64;
        assert!((ga[0] as f64 - 2.0 * 1.5 * b0).abs() < 1e-6);
        assert!((ga[1] as f64 + 2.0 * 2.0 * b0).abs() < 1e-6);
    }

    #[test]
    fn masked_log_prob_gives_minus_inf_outside() {
        let x = DynTensor::<Cpu>::from_vec(vec![2.0, -1.0, f32::NEG_INFINITY], &[3]).unwrap();
        let lp = masked_log_prob(&x, &Constraint::Positive, 1.0, |v| Ok(v.ln())).unwrap();
        let v = lp.to_vec();
        assert!((v[0] - 2f32.ln()).abs() < 1e-7);
        assert_eq!(v[1], f32::NEG_INFINITY);
        assert_eq!(v[2], f32::NEG_INFINITY);
    }

    #[test]
    fn where_host_replaces_failing_entries() {
        let x = DynTensor::<Cpu>::from_vec(vec![3.0, 1.0], &[2]).unwrap();
        let y = where_host(&x, |t| t > 2.0, f32::INFINITY).unwrap();
        assert_eq!(y.to_vec(), vec![3.0, f32::INFINITY]);
    }

    #[test]
    fn linearize_has_exact_value_and_gradient() {
        let x = DynTensor::<Cpu>::from_vec(vec![0.5, 2.0], &[2]).unwrap();
        let scope = GradScope::<Cpu>::open();
        let ders = [vec![4.0, f64::INFINITY]];
        let y = linearize(&[&x], &[2], &[1.25, -3.0], Some(&ders)).unwrap();
        assert_eq!(y.to_vec(), vec![1.25, -3.0]);
        assert_eq!(grad_of(&x, &y, scope), vec![4.0, 0.0]);
    }

    #[test]
    fn uniform_is_in_unit_interval_and_matches_rand() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let u: Vec<f64> = (0..1000).map(|_| uniform_f64(&mut rng)).collect();
        assert!(u.iter().all(|&x| (0.0..1.0).contains(&x)));
        let m = u.iter().sum::<f64>() / 1000.0;
        assert!((m - 0.5).abs() < 4.0 * (1.0 / 12.0f64 / 1000.0).sqrt());
        // The same 53-bit construction as rand's `Standard` for f64.
        let (mut a, mut b) = (
            rand::rngs::StdRng::seed_from_u64(9),
            rand::rngs::StdRng::seed_from_u64(9),
        );
        for _ in 0..100 {
            assert_eq!(uniform_f64(&mut a), b.gen::<f64>());
        }
    }

    #[test]
    fn require_finite_names_the_parameter() {
        assert!(require_finite("X", "rate", &[1.0, 2.0]).is_ok());
        let e = require_finite("X", "rate", &[1.0, f32::INFINITY]).unwrap_err();
        assert!(matches!(
            e,
            DistError::InvalidParameter { param: "rate", .. }
        ));
    }

    #[test]
    fn xlogy_convention() {
        assert_eq!(xlogy(0.0, 0.0), 0.0);
        assert_eq!(xlogy(1.0, 0.0), f64::NEG_INFINITY);
        assert!((xlogy(2.0, 3.0) - 2.0 * 3f64.ln()).abs() < 1e-15);
        assert_eq!(xlog1py(0.0, -1.0), 0.0);
        assert!((xlog1py(2.0, 1e-10) - 2e-10).abs() < 1e-19); // log1p, not ln(1 + y)
        assert!((ln_choose(5.0, 2.0) - 10f64.ln()).abs() < 1e-12);
    }
}
