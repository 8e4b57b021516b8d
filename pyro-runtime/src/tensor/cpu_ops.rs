//! The elementwise, reduction and layout operations of [`DynTensor`] as host kernels (see
//! [`super::host_op`]): one output and one backward step per operation, broadcasting a
//! single value inside the kernel instead of through a separate broadcast node. Adding an
//! elementwise function is one [`Unary`] variant (its value and derivative) and a method.

use super::backend::Backend;
use super::dyn_tensor::DynTensor;
use super::host_node::Vals;
use super::host_op::{accumulate, host_kernel, host_reduce, Arg};
use crate::tensor::TensorResult;

/// An elementwise binary operation.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Binary {
    Add,
    Sub,
    Mul,
    Div,
    Maximum,
    Minimum,
}

impl Binary {
    /// The op's name, for messages.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Binary::Add => "add",
            Binary::Sub => "sub",
            Binary::Mul => "mul",
            Binary::Div => "div",
            Binary::Maximum => "maximum",
            Binary::Minimum => "minimum",
        }
    }
}

/// `lhs op rhs` with broadcasting, or `None` for a broadcast that is not a single value
/// against a full tensor (the caller expands the operands first).
pub(crate) fn binary<D: Backend>(
    op: Binary,
    lhs: &DynTensor<D>,
    rhs: &DynTensor<D>,
) -> Option<TensorResult<DynTensor<D>>> {
    host_kernel(
        op.name(),
        [lhs, rhs],
        move |[a, b], n| {
            let out = match op {
                Binary::Add => map2(a, b, n, |x, y| x + y),
                Binary::Sub => map2(a, b, n, |x, y| x - y),
                Binary::Mul => map2(a, b, n, |x, y| x * y),
                Binary::Div => map2(a, b, n, |x, y| x / y),
                Binary::Maximum => map2(a, b, n, f32::max),
                Binary::Minimum => map2(a, b, n, f32::min),
            };
            (out, ())
        },
        move |_, [a, b], i, g_out, g_in| {
            let full = if i == 0 { a } else { b };
            match (op, i) {
                (Binary::Add, _) | (Binary::Sub, 0) => accumulate(full, g_in, g_out, |_| 1.0),
                (Binary::Sub, _) => accumulate(full, g_in, g_out, |_| -1.0),
                (Binary::Mul, 0) => accumulate(full, g_in, g_out, |k| b.at(k)),
                (Binary::Mul, _) => accumulate(full, g_in, g_out, |k| a.at(k)),
                (Binary::Div, 0) => accumulate(full, g_in, g_out, |k| b.at(k).recip()),
                (Binary::Div, _) => accumulate(full, g_in, g_out, |k| {
                    let y = b.at(k);
                    -a.at(k) / (y * y)
                }),
                // dfdx's convention: a tie sends half the gradient to each side.
                (Binary::Maximum | Binary::Minimum, _) => {
                    let (mine, other) = if i == 0 { (a, b) } else { (b, a) };
                    let wins = |x: f32, y: f32| match op {
                        Binary::Maximum => x > y,
                        _ => x < y,
                    };
                    accumulate(full, g_in, g_out, |k| {
                        let (x, y) = (mine.at(k), other.at(k));
                        if x == y {
                            0.5
                        } else if wins(x, y) {
                            1.0
                        } else {
                            0.0
                        }
                    })
                }
            }
        },
    )
}

/// `f(a_k, b_k)` for every output element, with the common layouts specialised.
#[inline(always)]
fn map2(a: &Arg<'_>, b: &Arg<'_>, n: usize, f: impl Fn(f32, f32) -> f32) -> Vals {
    match (a, b) {
        (Arg::Full(x), Arg::Full(y)) => x.iter().zip(*y).map(|(&x, &y)| f(x, y)).collect(),
        (Arg::Full(x), Arg::Scalar(y)) => x.iter().map(|&x| f(x, *y)).collect(),
        (Arg::Scalar(x), Arg::Full(y)) => y.iter().map(|&y| f(*x, y)).collect(),
        (Arg::Scalar(x), Arg::Scalar(y)) => Vals::splat(f(*x, *y), n),
    }
}

/// An elementwise unary operation.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Unary {
    AddScalar(f32),
    MulScalar(f32),
    RSubScalar(f32),
    Neg,
    Abs,
    Exp,
    Ln,
    Square,
    Sqrt,
    Recip,
    Sigmoid,
    Tanh,
    Powf(f32),
    Clamp(f32, f32),
}

impl Unary {
    #[inline(always)]
    fn f(self, x: f32) -> f32 {
        match self {
            Unary::AddScalar(c) => x + c,
            Unary::MulScalar(c) => x * c,
            Unary::RSubScalar(c) => -x + c,
            Unary::Neg => -x,
            Unary::Abs => x.abs(),
            Unary::Exp => x.exp(),
            Unary::Ln => x.ln(),
            Unary::Square => x * x,
            Unary::Sqrt => x.sqrt(),
            Unary::Recip => x.recip(),
            Unary::Sigmoid => sigmoid(x),
            Unary::Tanh => x.tanh(),
            Unary::Powf(p) => x.powf(p),
            Unary::Clamp(lo, hi) => x.clamp(lo, hi),
        }
    }

    /// The derivative at `x` (dfdx's formulas).
    #[inline(always)]
    fn df(self, x: f32) -> f32 {
        match self {
            Unary::AddScalar(_) => 1.0,
            Unary::MulScalar(c) => c,
            Unary::RSubScalar(_) | Unary::Neg => -1.0,
            Unary::Abs if x == 0.0 => 0.0,
            Unary::Abs => x.signum(),
            Unary::Exp => x.exp(),
            Unary::Ln => x.recip(),
            Unary::Square => x + x,
            Unary::Sqrt => {
                let s = x.sqrt();
                (s + s).recip()
            }
            Unary::Recip => {
                let r = x.recip();
                -(r * r)
            }
            Unary::Sigmoid => {
                let s = sigmoid(x);
                s * (1.0 - s)
            }
            Unary::Tanh => {
                let t = x.tanh();
                1.0 - t * t
            }
            Unary::Powf(p) => p * x.powf(p - 1.0),
            // Inside the interval (its ends included) the value passes through.
            Unary::Clamp(lo, hi) => {
                if (lo..=hi).contains(&x) {
                    1.0
                } else {
                    0.0
                }
            }
        }
    }
}

/// The logistic function without overflow for large `|x|` (the special functions' one).
#[inline(always)]
fn sigmoid(x: f32) -> f32 {
    super::special::scalar::sigmoid(x as f64) as f32
}

/// `op(x)` elementwise.
pub(crate) fn unary<D: Backend>(op: Unary, x: &DynTensor<D>) -> DynTensor<D> {
    host_kernel(
        "unary",
        [x],
        move |[a], n| {
            let out = match a {
                Arg::Full(v) => v.iter().map(|&v| op.f(v)).collect(),
                Arg::Scalar(v) => Vals::splat(op.f(*v), n),
            };
            (out, ())
        },
        move |_, [a], _, g_out, g_in| accumulate(a, g_in, g_out, |k| op.df(a.at(k))),
    )
    .expect("one input is its own broadcast shape")
    .expect("one input broadcasts with itself")
}

/// A copy of `x` that is a new node with the same gradient path.
pub(crate) fn identity<D: Backend>(x: &DynTensor<D>) -> DynTensor<D> {
    host_kernel(
        "identity",
        [x],
        |[a], n| {
            let out = match a {
                Arg::Full(v) => Vals::Many(v.to_vec()),
                Arg::Scalar(v) => Vals::splat(*v, n),
            };
            (out, ())
        },
        |_, [a], _, g_out, g_in| accumulate(a, g_in, g_out, |_| 1.0),
    )
    .expect("one input is its own broadcast shape")
    .expect("one input broadcasts with itself")
}

/// Sums groups of `inner` consecutive elements (`inner` = all of them for a full sum) into a
/// tensor of shape `shape`.
pub(crate) fn sum_groups<D: Backend>(
    x: &DynTensor<D>,
    inner: usize,
    shape: &[usize],
) -> DynTensor<D> {
    let inner = inner.max(1);
    host_reduce(
        x,
        shape,
        |v| {
            if v.is_empty() {
                Vals::splat(0.0, super::dyn_tensor::numel(shape))
            } else {
                v.chunks(inner).map(|c| c.iter().sum()).collect()
            }
        },
        move |_, g_out, g_in| {
            for (c, g) in g_in.chunks_mut(inner).zip(g_out) {
                for x in c {
                    *x += g;
                }
            }
        },
    )
}

/// A single value broadcast to `shape`.
pub(crate) fn broadcast_scalar<D: Backend>(x: &DynTensor<D>, shape: &[usize]) -> DynTensor<D> {
    let n = super::dyn_tensor::numel(shape);
    host_reduce(
        x,
        shape,
        |v| Vals::splat(v.first().copied().unwrap_or(0.0), n),
        |_, g_out, g_in| {
            if let Some(g) = g_in.first_mut() {
                *g += g_out.iter().sum::<f32>();
            }
        },
    )
}

/// `Σ_i w_i x_i` of single-value tensors, accumulated left to right from zero, as one node
/// (with `±1` weights the value equals that of the same chain of `add`/`sub`). Errors when a
/// term has more than one element.
pub(crate) fn weighted_sum<D: Backend>(
    terms: &[(&DynTensor<D>, f32)],
) -> TensorResult<DynTensor<D>> {
    super::host_op::weighted_sum(terms).ok_or_else(|| {
        let bad = terms.iter().find(|(t, _)| t.numel() != 1);
        crate::tensor::TensorError::Shape {
            what: "weighted_sum".into(),
            expected: vec![],
            found: bad.map(|(t, _)| t.shape().to_vec()).unwrap_or_default(),
        }
    })
}

/// `x[idx[k]]` for every `k` (indices already checked), as a tensor of shape `shape`; the
/// backward pass scatter-adds.
pub(crate) fn gather<D: Backend>(
    x: &DynTensor<D>,
    idx: Vec<usize>,
    shape: &[usize],
) -> TensorResult<DynTensor<D>> {
    super::host_op::host_custom(
        [x],
        shape,
        |[v]| {
            let out = idx.iter().map(|&i| v[i]).collect();
            Ok::<_, crate::tensor::TensorError>((out, idx))
        },
        |idx, _, _, g_out, g_in| {
            for (&i, g) in idx.iter().zip(g_out) {
                g_in[i] += g;
            }
        },
    )
}

/// Zeros where `keep` is false (exact zeros, no `-inf * 0`); the gradient flows through kept
/// elements only.
pub(crate) fn where_mask<D: Backend>(x: &DynTensor<D>, keep: &[bool]) -> DynTensor<D> {
    let keep: std::rc::Rc<[bool]> = keep.into();
    let k2 = keep.clone();
    host_reduce(
        x,
        x.shape(),
        move |v| {
            v.iter()
                .zip(k2.iter())
                .map(|(&v, &k)| if k { v } else { 0.0 })
                .collect()
        },
        move |_, g_out, g_in| {
            for ((g, &go), &k) in g_in.iter_mut().zip(g_out).zip(keep.iter()) {
                if k {
                    *g += go;
                }
            }
        },
    )
}

/// `log Σ exp` over groups of `last` consecutive elements (the last dim), shifted by each
/// group's maximum; a group of `-inf` gives `-inf`.
pub(crate) fn logsumexp_groups<D: Backend>(
    x: &DynTensor<D>,
    last: usize,
    shape: &[usize],
) -> DynTensor<D> {
    let last = last.max(1);
    let lse = move |c: &[f32]| -> f32 {
        let m = c.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        if m == f32::NEG_INFINITY {
            return m;
        }
        m + c.iter().map(|&v| (v - m).exp()).sum::<f32>().ln()
    };
    let n_out = super::dyn_tensor::numel(shape);
    host_reduce(
        x,
        shape,
        move |v| {
            if v.is_empty() {
                // An empty last dim: log Σ over nothing is -inf (as torch.logsumexp).
                Vals::splat(f32::NEG_INFINITY, n_out)
            } else {
                v.chunks(last).map(lse).collect()
            }
        },
        move |v, g_out, g_in| {
            // d/dx_i lse(x) = softmax(x)_i, from the shifted exponentials (exact where
            // `exp(x_i - lse)` would lose the digits of a large lse).
            for ((c, gc), &go) in v.chunks(last).zip(g_in.chunks_mut(last)).zip(g_out) {
                let m = c.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                if m == f32::NEG_INFINITY {
                    continue;
                }
                let z: f32 = c.iter().map(|&xi| (xi - m).exp()).sum();
                for (g, &xi) in gc.iter_mut().zip(c) {
                    *g += go * (xi - m).exp() / z;
                }
            }
        },
    )
}

/// Sums `x` (shape `from`) down to `to`, the inverse of broadcasting `to` up to `from` (the
/// caller has checked that it is one).
pub(crate) fn sum_to<D: Backend>(x: &DynTensor<D>, from: &[usize], to: &[usize]) -> DynTensor<D> {
    // The output position of each input element.
    let target: std::rc::Rc<[usize]> = super::dyn_tensor::broadcast_index(from, to).into();
    let n_out = super::dyn_tensor::numel(to);
    let t2 = target.clone();
    host_reduce(
        x,
        to,
        move |v| {
            let mut out = vec![0.0f32; n_out];
            for (&x, &p) in v.iter().zip(t2.iter()) {
                out[p] += x;
            }
            Vals::Many(out)
        },
        move |_, g_out, g_in| {
            for (g, &p) in g_in.iter_mut().zip(target.iter()) {
                *g += g_out[p];
            }
        },
    )
}

/// `[a..., b...]`: the values of `a` then those of `b` as one flat tensor; each part's
/// gradient is its slice of the output's.
pub(crate) fn concat2<D: Backend>(
    a: &DynTensor<D>,
    b: &DynTensor<D>,
) -> TensorResult<DynTensor<D>> {
    let (na, nb) = (a.numel(), b.numel());
    super::host_op::host_custom(
        [a, b],
        &[na + nb],
        |[x, y]| {
            let mut out = Vec::with_capacity(na + nb);
            out.extend_from_slice(x);
            out.extend_from_slice(y);
            Ok::<_, crate::tensor::TensorError>((Vals::Many(out), ()))
        },
        move |_, _, i, g_out, g_in| {
            let part = if i == 0 { &g_out[..na] } else { &g_out[na..] };
            for (g, &go) in g_in.iter_mut().zip(part) {
                *g += go;
            }
        },
    )
}

/// `m[i, j] * s[i]` for a matrix `m` of `rows x cols` values and a vector `s` of `rows`
/// (`m * s[:, None]`, the scale of each row).
pub(crate) fn mul_rows<D: Backend>(
    m: &DynTensor<D>,
    s: &DynTensor<D>,
) -> TensorResult<DynTensor<D>> {
    let rows = s.numel();
    let cols = m.numel() / rows.max(1);
    super::host_op::host_custom(
        [m, s],
        m.shape(),
        move |[x, y]| {
            let out: Vec<f32> = x
                .chunks(cols.max(1))
                .zip(y.iter())
                .flat_map(|(row, &c)| row.iter().map(move |&v| v * c))
                .collect();
            Ok::<_, crate::tensor::TensorError>((Vals::Many(out), ()))
        },
        move |_, [x, y], i, g_out, g_in| {
            let c = cols.max(1);
            if i == 0 {
                for ((gi, go), &k) in g_in.chunks_mut(c).zip(g_out.chunks(c)).zip(y.iter()) {
                    for (g, &o) in gi.iter_mut().zip(go) {
                        *g += o * k;
                    }
                }
            } else {
                for ((g, go), row) in g_in.iter_mut().zip(g_out.chunks(c)).zip(x.chunks(c)) {
                    *g += go.iter().zip(row).map(|(&o, &v)| o * v).sum::<f32>();
                }
            }
        },
    )
}
