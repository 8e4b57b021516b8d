//! Fused kernels on the CPU: an operation evaluated on the host with one backward closure.
//!
//! Every dfdx op allocates its output, records a boxed backward closure and, in the backward
//! pass, looks up and allocates gradient buffers. For the small tensors of a typical model
//! that bookkeeping costs far more than the arithmetic, so the hot runtime operations
//! (elementwise arithmetic, reductions, distribution densities) are written as host kernels:
//! read the inputs, compute the output into a [`HostNode`] (a plain vector, no dfdx tensor),
//! and record ONE backward operation that takes the output's gradient from its slot and
//! accumulates into each input's gradient: the slot of an input that is a host node of the
//! same scope, or the dfdx gradient of an input that is a dfdx tensor (a parameter, a user's
//! typed tensor). Inputs that are host nodes are shared with the backward pass, not copied.
//!
//! Only the `Cpu` backend takes this path: [`host_kernel`] returns `None` on any other device,
//! and callers then use their dfdx ops, so CUDA keeps running on the device.
//!
//! Inputs broadcast with NumPy's rules, restricted to the two layouts that need no index
//! arithmetic: one value per output element ([`Arg::Full`]), or a single value broadcast to
//! every element ([`Arg::Scalar`]). Any other layout also returns `None`.

use std::sync::Arc;

use dfdx::prelude::{Cpu, Gradients, HasShape};
use dfdx::tensor::CpuError;

use super::backend::Backend;
use super::dims::Dims;
use super::dyn_tensor::{broadcast_shapes, numel, DynTensor, Flat};
use super::host_node::{HostNode, Vals};
use super::tape::{current_scope, record_with_slot, HostGrads, Key};
use crate::error::{TensorError, TensorResult};

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

/// Whether `D` keeps its values in host memory (the only backend with host kernels).
#[inline(always)]
pub(crate) fn is_cpu<D: Backend>() -> bool {
    D::HOST
}

/// The CPU view of a flat tensor of backend `D`, when `D` is `Cpu`.
fn as_cpu<D: Backend>(t: &Flat<D>) -> Option<&Flat<Cpu>> {
    D::cpu_flat(t)
}

/// The values of a CPU tensor. Every [`DynTensor`] holds contiguous data (its constructors
/// see to that), so its storage is exactly its values in order.
fn read(t: &Flat<Cpu>) -> Vals {
    let n = t.shape().0;
    if n == 1 {
        let mut v = [0.0f32];
        t.copy_into(&mut v);
        Vals::One(v[0])
    } else {
        let mut v = vec![0.0; n];
        t.copy_into(&mut v);
        Vals::Many(v)
    }
}

/// The values of a CPU tensor on the host (a plain copy, without dfdx's strided iterator);
/// `None` on other backends.
pub(crate) fn cpu_values<D: Backend>(t: &DynTensor<D>) -> Option<Vec<f32>> {
    if let Some(node) = t.host_node() {
        return Some(node.vals().to_vec());
    }
    Some(match read(as_cpu(t.flat())?) {
        Vals::One(v) => vec![v],
        Vals::Many(v) => v,
    })
}

/// The single value of a one-element CPU tensor (no allocation); `None` on other backends.
pub(crate) fn cpu_item<D: Backend>(t: &DynTensor<D>) -> Option<f32> {
    if let Some(node) = t.host_node() {
        return node.vals().first().copied();
    }
    match read(as_cpu(t.flat())?) {
        Vals::One(v) => Some(v),
        Vals::Many(v) => v.first().copied(),
    }
}

/// An input's values, kept for the backward pass: a host node is shared, the values of a
/// dfdx tensor are copied out once.
enum Held {
    Node(Arc<HostNode>),
    Copied(Vals),
}

impl Held {
    /// `x`'s values; `x` must be a CPU tensor (callers check `is_cpu::<D>()`).
    fn of<D: Backend>(x: &DynTensor<D>) -> Held {
        match x.host_node() {
            Some(node) => Held::Node(node.clone()),
            None => Held::Copied(read(
                as_cpu(x.flat()).expect("host kernels run only on the CPU backend"),
            )),
        }
    }

    fn as_slice(&self) -> &[f32] {
        match self {
            Held::Node(n) => n.vals(),
            Held::Copied(v) => v.as_slice(),
        }
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

/// Where an input's gradient goes in the backward pass.
enum Dst {
    /// Nowhere (a runtime constant).
    Nothing,
    /// The host record of a node (`len` values): its slot when it was made in the
    /// recording scope, its leaf entry otherwise.
    Host(Key, usize),
    /// The dfdx gradient of a dfdx tensor.
    Dev(Flat<Cpu>),
}

impl Dst {
    /// Where `x`'s gradient goes; `x` must be a CPU tensor (callers check `is_cpu::<D>()`).
    fn of<D: Backend>(x: &DynTensor<D>) -> Dst {
        if x.is_constant() {
            return Dst::Nothing;
        }
        if let Some(node) = x.host_node() {
            if let Some(key) = node.key() {
                return Dst::Host(key, node.vals().len());
            }
        }
        Dst::Dev(
            as_cpu(x.flat())
                .expect("host kernels run only on the CPU backend")
                .clone(),
        )
    }

    /// The gradient buffer to accumulate into, if any.
    fn grad<'a>(
        &self,
        host: &'a mut HostGrads,
        grads: &'a mut Gradients<f32, Cpu>,
    ) -> Result<Option<&'a mut [f32]>, CpuError> {
        Ok(match self {
            Dst::Nothing => None,
            Dst::Host(key, len) => host.get_mut(*key, *len),
            Dst::Dev(t) => Some(grads.get_or_alloc_mut(t)?),
        })
    }
}

/// The values of the inputs and, when a scope records and some input is not a constant,
/// where their gradients go. `None` off the CPU.
#[allow(clippy::type_complexity)]
fn gather<D: Backend, const N: usize>(
    inputs: [&DynTensor<D>; N],
) -> Option<([Held; N], Option<[Dst; N]>, bool)> {
    if !is_cpu::<D>() {
        return None;
    }
    // On the CPU every input is a host node or a CPU tensor, so the lookups below succeed.
    let held: [Held; N] = std::array::from_fn(|i| Held::of(inputs[i]));
    let constant = inputs.iter().all(|x| x.is_constant());
    // Gradients are tracked when a CPU scope records (the innermost scope's serial).
    let scope = if constant {
        None
    } else {
        current_scope::<Cpu>()
    };
    let dsts = scope.map(|_| std::array::from_fn(|i| Dst::of(inputs[i])));
    Some((held, dsts, constant))
}

/// Makes the output node and records its backward operation: `body(g_out, grad_of)` gets
/// the output's gradient and a way to reach each input's gradient buffer.
fn finish<D: Backend, const N: usize>(
    out: Vals,
    shape: &[usize],
    constant: bool,
    dsts: Option<[Dst; N]>,
    body: impl FnOnce(&[f32], &mut dyn FnMut(usize, &mut dyn FnMut(&mut [f32]))) + 'static,
) -> DynTensor<D> {
    // One visit to the tape: a gradient slot for the output and its backward operation.
    let slot = dsts.and_then(|dsts| {
        record_with_slot::<Cpu>(out.len(), move |slot| {
            Box::new(move |host, grads| {
                let Some(g_out) = host.take(slot) else {
                    return Ok(()); // no gradient reached this node
                };
                let mut failed = None;
                body(
                    g_out.as_slice(),
                    &mut |i, f| match dsts[i].grad(host, grads) {
                        Ok(Some(g)) => f(g),
                        Ok(None) => {}
                        Err(e) => failed = Some(e),
                    },
                );
                failed.map_or(Ok(()), Err)
            })
        })
    });
    DynTensor::from_host(node_for(out, slot, constant), shape, constant)
}

/// The output node of a kernel: identified by its slot when an operation was recorded, as a
/// new leaf when none was (outside a scope) and it is not a constant.
fn node_for(vals: Vals, slot: Option<super::tape::Slot>, constant: bool) -> Arc<HostNode> {
    let key = match slot {
        Some(s) => Some(Key::Slot(s)),
        None if !constant => Some(Key::new_leaf()),
        None => None,
    };
    HostNode::with_key(vals, key)
}

/// The values of a new CPU dfdx tensor (the result of a dfdx operation) as a host node,
/// keeping the tensor as the node's dfdx form: when a scope records, the node's gradient
/// is added to the dfdx tensor's in the backward pass, so it reaches the dfdx operation
/// that made it. `None` off the CPU.
pub(crate) fn host_from_flat<D: Backend>(data: &Flat<D>, shape: &[usize]) -> Option<DynTensor<D>> {
    let flat = as_cpu(data)?.clone();
    let vals = read(&flat);
    let key = flat.clone();
    let slot = record_with_slot::<Cpu>(vals.len(), move |slot| {
        Box::new(move |host, grads| {
            if let Some(g) = host.take(slot) {
                for (d, s) in grads.get_or_alloc_mut(&key)?.iter_mut().zip(g.as_slice()) {
                    *d += s;
                }
            }
            Ok(())
        })
    });
    let key = Some(slot.map_or_else(Key::new_leaf, Key::Slot));
    Some(DynTensor::from_host(
        HostNode::from_flat(vals, flat, key),
        shape,
        false,
    ))
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

/// Evaluates an elementwise kernel on the host. `forward(args, n)` returns the `n` output
/// values and anything the backward pass needs; `backward(saved, args, i, g_out, g_in)`,
/// called once per input `i`, adds that input's share of the gradient into `g_in` (see
/// [`accumulate`]). The output has the broadcast shape of the inputs.
///
/// Returns `None` (the caller then uses its dfdx ops) when `D` is not `Cpu` or an input is
/// neither a single value nor the full output shape, and a shape error when the inputs do
/// not broadcast.
pub(crate) fn host_kernel<D: Backend, const N: usize, T: 'static>(
    op: &'static str,
    inputs: [&DynTensor<D>; N],
    forward: impl FnOnce(&[Arg<'_>; N], usize) -> (Vals, T),
    backward: impl Fn(&T, &[Arg<'_>; N], usize, &[f32], &mut [f32]) + 'static,
) -> Option<TensorResult<DynTensor<D>>> {
    if !is_cpu::<D>() {
        return None;
    }
    let shape = match out_shape(op, &inputs) {
        Ok(s) => s,
        Err(e) => return Some(Err(e)),
    };
    let n = numel(&shape);
    if inputs.iter().any(|x| x.numel() != n && x.numel() != 1) {
        return None;
    }
    let (held, dsts, constant) = gather(inputs)?;
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

/// A host kernel from one input to an output of any shape (reductions, gathers): `forward(x)`
/// returns the output's values (shape `shape`), `backward(x, g_out, g_in)` accumulates the
/// input's gradient. `None` off the CPU.
pub(crate) fn host_reduce<D: Backend>(
    input: &DynTensor<D>,
    shape: &[usize],
    forward: impl FnOnce(&[f32]) -> Vals,
    backward: impl Fn(&[f32], &[f32], &mut [f32]) + 'static,
) -> Option<DynTensor<D>> {
    let r = host_custom(
        [input],
        shape,
        |[x]| Ok::<_, TensorError>((forward(x), ())),
        move |_, [x], _, g_out, g_in| backward(x, g_out, g_in),
    );
    r?.ok()
}

/// The general host kernel: inputs in their own layouts (row-major values), an output of
/// shape `shape`. `forward(inputs)` returns the output's values and anything the backward
/// pass needs, or an error (then no node is made); `backward(saved, inputs, i, g_out, g_in)`,
/// called once per input `i`, adds that input's share of the gradient into `g_in`. `None` off
/// the CPU; a shape error when `forward` returns a wrong number of values.
pub(crate) fn host_custom<D: Backend, const N: usize, T: 'static, E: From<TensorError>>(
    inputs: [&DynTensor<D>; N],
    shape: &[usize],
    forward: impl FnOnce(&[&[f32]; N]) -> Result<(Vals, T), E>,
    backward: impl Fn(&T, &[&[f32]; N], usize, &[f32], &mut [f32]) + 'static,
) -> Option<Result<DynTensor<D>, E>> {
    if !is_cpu::<D>() {
        return None;
    }
    let (held, dsts, constant) = gather(inputs)?;
    let (out, saved) = {
        let xs: [&[f32]; N] = std::array::from_fn(|i| held[i].as_slice());
        match forward(&xs) {
            Ok(r) => r,
            Err(e) => return Some(Err(e)),
        }
    };
    if out.len() != numel(shape) {
        return Some(Err(TensorError::Shape {
            what: "host kernel output".into(),
            expected: shape.to_vec(),
            found: vec![out.len()],
        }
        .into()));
    }
    Some(Ok(finish(
        out,
        shape,
        constant,
        dsts,
        move |g_out, grad_of| {
            let xs: [&[f32]; N] = std::array::from_fn(|i| held[i].as_slice());
            for i in 0..N {
                grad_of(i, &mut |g_in| backward(&saved, &xs, i, g_out, g_in));
            }
        },
    )))
}

/// `Σ_i w_i x_i` of single-value tensors, folded left from zero in `f32` (so `±1` weights
/// give exactly the value of the same chain of `add`/`sub`), as one node. `None` off the CPU
/// or when a term has more than one element.
pub(crate) fn weighted_sum<D: Backend>(terms: &[(&DynTensor<D>, f32)]) -> Option<DynTensor<D>> {
    if !is_cpu::<D>() || terms.iter().any(|(t, _)| t.numel() != 1) {
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
/// must have `shape`'s number of elements (a shape error otherwise). `None` off the CPU.
pub(crate) fn host_linearized<D: Backend>(
    inputs: &[&DynTensor<D>],
    shape: &[usize],
    values: Vec<f32>,
    partials: Vec<Vec<f32>>,
) -> Option<TensorResult<DynTensor<D>>> {
    if !is_cpu::<D>() {
        return None;
    }
    let n = numel(shape);
    let bad = values.len() != n
        || partials.len() != inputs.len()
        || inputs.iter().any(|x| x.numel() != n)
        || partials.iter().any(|p| p.len() != n);
    if bad {
        return Some(Err(TensorError::Shape {
            what: "host_linearized".into(),
            expected: shape.to_vec(),
            found: vec![values.len()],
        }));
    }
    Some(Ok(finish_terms(
        Vals::from(values),
        shape,
        inputs.iter().copied().zip(partials),
        |p, g_in, g_out| {
            for ((gi, d), go) in g_in.iter_mut().zip(p).zip(g_out) {
                *gi += d * go;
            }
        },
    )))
}

/// Makes the output node of a kernel whose inputs each come with data `X` for the backward
/// pass, which calls `apply(x, g_in, g_out)` for every input that is not a constant. The
/// inputs must be CPU tensors (callers check `is_cpu::<D>()`).
fn finish_terms<'a, D: Backend, X: 'static>(
    vals: Vals,
    shape: &[usize],
    terms: impl IntoIterator<Item = (&'a DynTensor<D>, X)>,
    apply: impl Fn(&X, &mut [f32], &[f32]) + 'static,
) -> DynTensor<D> {
    let scope = current_scope::<Cpu>();
    let mut constant = true;
    let terms = terms.into_iter();
    let mut dsts = Vec::with_capacity(if scope.is_some() {
        terms.size_hint().0
    } else {
        0
    });
    for (t, x) in terms {
        if !t.is_constant() {
            constant = false;
            if scope.is_some() {
                dsts.push((Dst::of(t), x));
            }
        }
    }
    let slot = if constant {
        None
    } else {
        record_with_slot::<Cpu>(vals.len(), move |slot| {
            Box::new(move |host, grads| {
                let Some(g_out) = host.take(slot) else {
                    return Ok(());
                };
                for (dst, x) in &dsts {
                    if let Some(g_in) = dst.grad(host, grads)? {
                        apply(x, g_in, g_out.as_slice());
                    }
                }
                Ok(())
            })
        })
    };
    DynTensor::from_host(node_for(vals, slot, constant), shape, constant)
}
