//! Helpers for distributions whose densities are evaluated on the host in `f64`
//! (Binomial, Poisson): putting host values back on the graph with exact gradients, broadcast
//! index maps, finiteness checks and `f64` uniform draws.

use rand::RngCore;

use super::{DistError, DistResult};
use crate::tensor::{is_recording, Backend, DynTensor};

/// A tensor with the values `vals` whose derivative with respect to `x` (same number of
/// elements, elementwise) is `ders`: `out = (x - x0) * ders + vals` with `x0` a constant copy
/// of `x`, so the value is exactly `vals` and the gradient exactly `ders`. Non-finite
/// derivatives (at a boundary of the parameter domain) are replaced by 0.
pub(crate) fn linearized<D: Backend>(x: &DynTensor<D>, vals: &[f64], ders: &[f64]) -> DynTensor<D> {
    let n = x.numel();
    debug_assert_eq!(vals.len(), n);
    debug_assert_eq!(ders.len(), n);
    let shape = x.shape().to_vec();
    let dev = x.device();
    let c: Vec<f32> = vals.iter().map(|&v| v as f32).collect();
    if !is_recording() {
        let data = dev.tensor_from_vec(c, (n,)).retaped();
        return DynTensor::from_flat(data, &shape).expect("same length");
    }
    let d: Vec<f32> = ders
        .iter()
        .map(|&v| if v.is_finite() { v as f32 } else { 0.0 })
        .collect();
    let x0 = dev.tensor_from_vec(x.to_vec(), (n,));
    let d = dev.tensor_from_vec(d, (n,));
    let c = dev.tensor_from_vec(c, (n,));
    let data = (x.flat().clone() - x0) * d + c;
    DynTensor::from_flat(data, &shape).expect("same length")
}

/// For each flat index of `dst`, the flat index of the element of `src` that broadcasting
/// `src` to `dst` puts there. `src` must broadcast to `dst` (checked by the caller).
pub(crate) fn broadcast_index(src: &[usize], dst: &[usize]) -> Vec<usize> {
    let n: usize = dst.iter().product();
    let off = dst.len() - src.len();
    let mut src_strides = vec![0usize; src.len()];
    let mut s = 1;
    for i in (0..src.len()).rev() {
        src_strides[i] = if src[i] == 1 { 0 } else { s };
        s *= src[i];
    }
    let mut out = Vec::with_capacity(n);
    let mut coord = vec![0usize; dst.len()];
    for _ in 0..n {
        out.push(
            (off..dst.len())
                .map(|k| coord[k] * src_strides[k - off])
                .sum(),
        );
        // Increment the row-major counter.
        for k in (0..dst.len()).rev() {
            coord[k] += 1;
            if coord[k] < dst[k] {
                break;
            }
            coord[k] = 0;
        }
    }
    out
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

/// A uniform draw in `[0, 1)` with 53 random bits.
pub(crate) fn uniform_f64(rng: &mut dyn RngCore) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
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

#[cfg(test)]
mod tests {
    use super::*;
    use dfdx::prelude::Cpu;

    #[test]
    fn broadcast_index_matches_numpy_rules() {
        // [3, 1] broadcast to [2, 3, 4]: element (i, j, k) comes from (j, 0).
        let idx = broadcast_index(&[3, 1], &[2, 3, 4]);
        assert_eq!(idx.len(), 24);
        for i in 0..2 {
            for j in 0..3 {
                for k in 0..4 {
                    assert_eq!(idx[(i * 3 + j) * 4 + k], j);
                }
            }
        }
        assert_eq!(broadcast_index(&[], &[3]), vec![0, 0, 0]);
        assert_eq!(broadcast_index(&[2], &[2]), vec![0, 1]);
    }

    #[test]
    fn linearized_has_exact_value_and_gradient() {
        use crate::tensor::GradScope;
        let x = DynTensor::<Cpu>::from_vec(vec![0.5, 2.0], &[2]).unwrap();
        let scope = GradScope::<Cpu>::open();
        let y = linearized(&x, &[1.25, -3.0], &[4.0, f64::INFINITY]);
        assert_eq!(y.to_vec(), vec![1.25, -3.0]);
        let grads = scope
            .backward_any(y.sum().to_scalar_tensor().unwrap(), |g| {
                g.try_alloc_for(x.flat())?;
                Ok(())
            })
            .unwrap();
        assert_eq!(grads.get(x.flat()).as_vec(), vec![4.0, 0.0]);
    }

    #[test]
    fn uniform_is_in_unit_interval() {
        use rand::SeedableRng;
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let u: Vec<f64> = (0..1000).map(|_| uniform_f64(&mut rng)).collect();
        assert!(u.iter().all(|&x| (0.0..1.0).contains(&x)));
        let m = u.iter().sum::<f64>() / 1000.0;
        assert!((m - 0.5).abs() < 4.0 * (1.0 / 12.0f64 / 1000.0).sqrt());
    }
}
