//! The runtime's one way to write a differentiable operation: a kernel over host slices.
//!
//! An operation reads its inputs' values, computes the output into a new host node, and
//! records ONE backward step that takes the output's gradient from its slot and accumulates
//! into each input's gradient (the slot of an input made in the recording scope, the leaf
//! entry of any other, nothing for a constant). Inputs are shared with the backward step,
//! not copied.
//!
//! [`host_custom`] is the general form (inputs in their own layouts, an output of any
//! shape); [`host_kernel`] is the elementwise form, whose inputs broadcast inside the kernel
//! in the two layouts that need no index arithmetic: one value per output element
//! ([`Arg::Full`]) or a single value broadcast to every element ([`Arg::Scalar`]);
//! [`host_reduce`] has one input; [`host_linearized`] and [`weighted_sum`] record an output
//! whose partial derivatives are known values.

use std::sync::Arc;

use super::backend::Backend;
use super::dims::Dims;
use super::dyn_tensor::{broadcast_shapes, numel, DynTensor};
use super::host_node::{HostNode, Vals};
use super::tape::{current_scope, record_with_slot, HostGrads, Key, Slot};
use crate::tensor::{TensorError, TensorResult};

/// One input of a host kernel, seen from the output: a single value broadcast to every
/// element, or one value per element.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Arg<'a> {
    /// A single value.
    Scalar(f32),
    /// One value per output element.
    Full(&'a [f32]),
}

impl Arg<'_> {
    /// The value at output element `i`.
    #[inline(always)]
    pub(crate) fn at(&self, i: usize) -> f32 {
        match self {
            Arg::Scalar(v) => *v,
            Arg::Full(v) => v[i],
        }
    }

    /// Whether the input has one value per output element.
    #[inline(always)]
    pub(crate) fn is_full(&self) -> bool {
        matches!(self, Arg::Full(_))
    }
}

/// Adds `d(i) * g_out[i]` into the gradient of an input: elementwise for a full input, summed
/// over the output for a single value (the adjoint of broadcasting).
#[inline(always)]
pub(crate) fn accumulate(arg: &Arg<'_>, g_in: &mut [f32], g_out: &[f32], d: impl Fn(usize) -> f32) {
    if arg.is_full() {
        for (i, (gi, go)) in g_in.iter_mut().zip(g_out).enumerate() {
            *gi += d(i) * go;
        }
    } else if let Some(g0) = g_in.first_mut() {
        let mut s = 0.0f32;
        for (i, go) in g_out.iter().enumerate() {
            s += d(i) * go;
        }
        *g0 += s;
    }
}

/// The single value of a one-element tensor.
pub(crate) fn cpu_item<D: Backend>(t: &DynTensor<D>) -> Option<f32> {
    t.host_node().vals().first().copied()
}

/// An input's values, kept for the backward pass (the node is shared, not copied).
struct Held(Arc<HostNode>);

impl Held {
    fn of<D: Backend>(x: &DynTensor<D>) -> Held {
        Held(x.host_node().clone())
    }

    fn as_slice(&self) -> &[f32] {
        self.0.vals()
    }

    /// The input as an output of `n` elements sees it.
    fn arg(&self, n: usize) -> Arg<'_> {
        let v = self.as_slice();
        if v.len() == n && n != 1 {
            Arg::Full(v)
        } else {
            Arg::Scalar(v.first().copied().unwrap_or(0.0))
        }
    }
}

/// Where an input's gradient goes in the backward pass: nowhere (a runtime constant), or
/// the host record of a node of `len` values (its slot when it was made in the recording
/// scope, its leaf entry otherwise).
#[derive(Clone, Copy)]
struct Dst(Option<(Key, usize)>);

impl Dst {
    fn of<D: Backend>(x: &DynTensor<D>) -> Dst {
        if x.is_constant() {
            return Dst(None);
        }
        Dst(x.host_key().map(|k| (k, x.host_node().vals().len())))
    }

    /// The gradient buffer to accumulate into, if any.
    fn grad<'a>(&self, host: &'a mut HostGrads) -> Option<&'a mut [f32]> {
        let (key, len) = self.0?;
        host.get_mut(key, len)
    }
}

/// The values of the inputs and, when a scope records and some input is not a constant,
/// where their gradients go; and whether every input is a constant.
#[allow(clippy::type_complexity)]
fn gather<D: Backend, const N: usize>(
    inputs: [&DynTensor<D>; N],
) -> ([Held; N], Option<[Dst; N]>, bool) {
    let held: [Held; N] = std::array::from_fn(|i| Held::of(inputs[i]));
    let constant = inputs.iter().all(|x| x.is_constant());
    let dsts = (!constant && current_scope().is_some())
        .then(|| std::array::from_fn(|i| Dst::of(inputs[i])));
    (held, dsts, constant)
}

/// Makes the output node and records its backward step: `body(g_out, grad_of)` gets the
/// output's gradient and `grad_of(i, f)`, which calls `f` with input `i`'s gradient buffer
/// (when the input takes a gradient). Every operation's node is made here.
fn finish<D: Backend, S: AsRef<[Dst]> + 'static>(
    out: Vals,
    shape: &[usize],
    constant: bool,
    dsts: Option<S>,
    body: impl FnOnce(&[f32], &mut dyn FnMut(usize, &mut dyn FnMut(&mut [f32]))) + 'static,
) -> DynTensor<D> {
    // One visit to the tape: a gradient slot for the output and its backward step.
    let slot = dsts.and_then(|dsts| {
        record_with_slot(out.len(), move |slot| {
            Box::new(move |host: &mut HostGrads| {
                let Some(g_out) = host.take(slot) else {
                    return; // no gradient reached this node
                };
                let dsts = dsts.as_ref();
                body(g_out.as_slice(), &mut |i, f| {
                    if let Some(g) = dsts[i].grad(host) {
                        f(g)
                    }
                });
            })
        })
    });
    DynTensor::from_host(node_for(out, slot, constant), shape, constant)
}

/// The output node of a kernel: identified by its slot when an operation was recorded, as a
/// new leaf when none was (outside a scope) and it is not a constant.
fn node_for(vals: Vals, slot: Option<Slot>, constant: bool) -> Arc<HostNode> {
    let key = match slot {
        Some(s) => Some(Key::Slot(s)),
        None if !constant => Some(Key::new_leaf()),
        None => None,
    };
    HostNode::with_key(vals, key)
}

/// The broadcast shape of the inputs (without allocating when they agree).
fn out_shape<D: Backend>(op: &'static str, inputs: &[&DynTensor<D>]) -> TensorResult<Dims> {
    let Some(first) = inputs.first() else {
        return Ok(Dims::new(&[]));
    };
    let mut shape = Dims::new(first.shape());
    for x in &inputs[1..] {
        let xs = x.shape();
        if xs == &*shape || (xs.len() <= shape.len() && xs.iter().all(|&d| d == 1)) {
            continue; // same shape, or a single value of no higher rank: `shape` stands
        }
        if shape.len() <= xs.len() && shape.iter().all(|&d| d == 1) {
            shape = Dims::new(xs); // the other way round
            continue;
        }
        let s = broadcast_shapes(&shape, xs).ok_or_else(|| TensorError::Broadcast {
            op,
            lhs: shape.to_vec(),
            rhs: xs.to_vec(),
        })?;
        shape = Dims::new(&s);
    }
    Ok(shape)
}

/// Evaluates an elementwise kernel. `forward(args, n)` returns the `n` output values and
/// anything the backward pass needs; `backward(saved, args, i, g_out, g_in)`, called once
/// per input `i` that takes a gradient, adds that input's share into `g_in` (see
/// [`accumulate`]). The output has the broadcast shape of the inputs.
///
/// Returns `None` when an input is neither a single value nor the full output shape (the
/// caller broadcasts it first), and a shape error when the inputs do not broadcast.
pub(crate) fn host_kernel<D: Backend, const N: usize, T: 'static>(
    op: &'static str,
    inputs: [&DynTensor<D>; N],
    forward: impl FnOnce(&[Arg<'_>; N], usize) -> (Vals, T),
    backward: impl Fn(&T, &[Arg<'_>; N], usize, &[f32], &mut [f32]) + 'static,
) -> Option<TensorResult<DynTensor<D>>> {
    let shape = match out_shape(op, &inputs) {
        Ok(s) => s,
        Err(e) => return Some(Err(e)),
    };
    let n = numel(&shape);
    if inputs.iter().any(|x| x.numel() != n && x.numel() != 1) {
        return None;
    }
    let (held, dsts, constant) = gather(inputs);
    let (out, saved) = {
        let args: [Arg<'_>; N] = std::array::from_fn(|i| held[i].arg(n));
        forward(&args, n)
    };
    debug_assert_eq!(out.len(), n, "{op}: the kernel returned a wrong length");
    Some(Ok(finish(
        out,
        &shape,
        constant,
        dsts,
        move |g_out, grad_of| {
            let args: [Arg<'_>; N] = std::array::from_fn(|i| held[i].arg(n));
            for i in 0..N {
                grad_of(i, &mut |g_in| backward(&saved, &args, i, g_out, g_in));
            }
        },
    )))
}

/// A kernel from one input to an output of any shape (reductions, gathers): `forward(x)`
/// returns the output's values (shape `shape`, the caller's promise), `backward(x, g_out,
/// g_in)` accumulates the input's gradient.
pub(crate) fn host_reduce<D: Backend>(
    input: &DynTensor<D>,
    shape: &[usize],
    forward: impl FnOnce(&[f32]) -> Vals,
    backward: impl Fn(&[f32], &[f32], &mut [f32]) + 'static,
) -> DynTensor<D> {
    let (held, dsts, constant) = gather([input]);
    let out = forward(held[0].as_slice());
    // Every caller computes `shape`'s number of values; a kernel that did not would make a
    // node whose values and shape disagree.
    assert_eq!(out.len(), numel(shape), "host_reduce: wrong output length");
    finish(out, shape, constant, dsts, move |g_out, grad_of| {
        grad_of(0, &mut |g_in| backward(held[0].as_slice(), g_out, g_in));
    })
}

/// The general kernel: inputs in their own layouts (row-major values), an output of shape
/// `shape`. `forward(inputs)` returns the output's values and anything the backward pass
/// needs, or an error (then no node is made); `backward(saved, inputs, i, g_out, g_in)`,
/// called once per input `i` that takes a gradient, adds that input's share into `g_in`. A
/// shape error when `forward` returns a wrong number of values.
pub(crate) fn host_custom<D: Backend, const N: usize, T: 'static, E: From<TensorError>>(
    inputs: [&DynTensor<D>; N],
    shape: &[usize],
    forward: impl FnOnce(&[&[f32]; N]) -> Result<(Vals, T), E>,
    backward: impl Fn(&T, &[&[f32]; N], usize, &[f32], &mut [f32]) + 'static,
) -> Result<DynTensor<D>, E> {
    let (held, dsts, constant) = gather(inputs);
    let (out, saved) = {
        let xs: [&[f32]; N] = std::array::from_fn(|i| held[i].as_slice());
        forward(&xs)?
    };
    if out.len() != numel(shape) {
        return Err(TensorError::Shape {
            what: "host kernel output".into(),
            expected: shape.to_vec(),
            found: vec![out.len()],
        }
        .into());
    }
    Ok(finish(out, shape, constant, dsts, move |g_out, grad_of| {
        let xs: [&[f32]; N] = std::array::from_fn(|i| held[i].as_slice());
        for i in 0..N {
            grad_of(i, &mut |g_in| backward(&saved, &xs, i, g_out, g_in));
        }
    }))
}

/// `Σ_i w_i x_i` of single-value tensors, folded left from zero in `f32` (so `±1` weights
/// give exactly the value of the same chain of `add`/`sub`), as one node. `None` when a term
/// has more than one element.
pub(crate) fn weighted_sum<D: Backend>(terms: &[(&DynTensor<D>, f32)]) -> Option<DynTensor<D>> {
    if terms.iter().any(|(t, _)| t.numel() != 1) {
        return None;
    }
    let mut acc = 0.0f32;
    for (t, w) in terms {
        let x = cpu_item(t)?;
        acc += if *w == 1.0 { x } else { w * x };
    }
    Some(finish_terms(
        Vals::One(acc),
        &[],
        terms.iter().copied(),
        |w, g_in, g_out| {
            if let Some(x) = g_in.first_mut() {
                *x += w * g_out[0];
            }
        },
    ))
}

/// Values computed elsewhere (on the host, in `f64`) put on the graph with known partial
/// derivatives: the output is `values` (shape `shape`), and the backward pass adds
/// `partials[i][k] * g_out[k]` to element `k` of input `i`. Every input and every partial
/// must have `shape`'s number of elements (a shape error otherwise).
pub(crate) fn host_linearized<D: Backend>(
    inputs: &[&DynTensor<D>],
    shape: &[usize],
    values: Vec<f32>,
    partials: Vec<Vec<f32>>,
) -> TensorResult<DynTensor<D>> {
    let n = numel(shape);
    let bad = values.len() != n
        || partials.len() != inputs.len()
        || inputs.iter().any(|x| x.numel() != n)
        || partials.iter().any(|p| p.len() != n);
    if bad {
        return Err(TensorError::Shape {
            what: "host_linearized".into(),
            expected: shape.to_vec(),
            found: vec![values.len()],
        });
    }
    Ok(finish_terms(
        Vals::from(values),
        shape,
        inputs.iter().copied().zip(partials),
        |p, g_in, g_out| {
            for ((gi, d), go) in g_in.iter_mut().zip(p).zip(g_out) {
                *gi += d * go;
            }
        },
    ))
}

/// Makes the output node of a kernel whose inputs each come with data `X` for the backward
/// pass, which calls `apply(x, g_in, g_out)` for every input that takes a gradient.
fn finish_terms<'a, D: Backend, X: 'static>(
    vals: Vals,
    shape: &[usize],
    terms: impl IntoIterator<Item = (&'a DynTensor<D>, X)>,
    apply: impl Fn(&X, &mut [f32], &[f32]) + 'static,
) -> DynTensor<D> {
    let recording = current_scope().is_some();
    let mut constant = true;
    let mut dsts = Vec::new();
    let mut data = Vec::new();
    for (t, x) in terms {
        if !t.is_constant() {
            constant = false;
            if recording {
                dsts.push(Dst::of(t));
                data.push(x);
            }
        }
    }
    let dsts = (!constant && recording).then_some(dsts);
    finish(vals, shape, constant, dsts, move |g_out, grad_of| {
        for (i, x) in data.iter().enumerate() {
            grad_of(i, &mut |g_in| apply(x, g_in, g_out));
        }
    })
}
