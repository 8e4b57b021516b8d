//! Shape arithmetic on `[usize]` shapes: sizes, NumPy broadcasting, broadcast index maps.

/// Number of elements of a shape.
pub fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

/// NumPy broadcasting of two shapes, or `None` when they do not broadcast.
///
/// ```
/// assert_eq!(pyro::tensor::broadcast_shapes(&[3, 1], &[4]), Some(vec![3, 4]));
/// assert_eq!(pyro::tensor::broadcast_shapes(&[3], &[4]), None);
/// ```
pub fn broadcast_shapes(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let n = a.len().max(b.len());
    let mut out = vec![0; n];
    for i in 0..n {
        let da = if i < n - a.len() {
            1
        } else {
            a[i - (n - a.len())]
        };
        let db = if i < n - b.len() {
            1
        } else {
            b[i - (n - b.len())]
        };
        out[i] = if da == db || db == 1 {
            da
        } else if da == 1 {
            db
        } else {
            return None;
        };
    }
    Some(out)
}

/// For each element of `shape` (row-major), the flat index of the element of `src` it comes
/// from when `src` is broadcast to `shape` (NumPy's rules: `src` aligned to the right, its
/// missing and size-1 dims repeated) — equally, the element of `src` it is summed into when
/// `shape` is reduced to `src`. The caller has checked that `src` broadcasts to `shape`.
pub(crate) fn broadcast_index(shape: &[usize], src: &[usize]) -> Vec<usize> {
    let off = shape.len() - src.len();
    let src_strides = strides(src);
    // The stride in `src` of each dim of `shape` (0 where it repeats).
    let step: Vec<usize> = (0..shape.len())
        .map(|k| match k.checked_sub(off) {
            Some(j) if src[j] != 1 => src_strides[j],
            _ => 0,
        })
        .collect();
    let n = numel(shape);
    let mut coord = vec![0usize; shape.len()];
    let mut at = 0usize;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(at);
        for k in (0..shape.len()).rev() {
            coord[k] += 1;
            at += step[k];
            if coord[k] < shape[k] {
                break;
            }
            at -= step[k] * coord[k];
            coord[k] = 0;
        }
    }
    out
}

/// Row-major strides of a shape.
fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1];
    }
    s
}
