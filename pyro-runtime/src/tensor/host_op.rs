//! Fused kernels on the CPU: an operation evaluated on the host with one backward closure.
//!
//! Every dfdx op allocates its output, records a boxed backward closure and, in the backward
//! pass, looks up and allocates gradient buffers. For the small tensors of a typical model
//! that bookkeeping costs far more than the arithmetic, so the hot runtime operations
//! (elementwise arithmetic, reductions, distribution densities) are written as host kernels:
//! read the inputs, compute the output, and record ONE closure on the shared [`GradTape`]
//! that reads the output's gradient and accumulates into each input's gradient.
//!
//! Only the `Cpu` backend takes this path: [`host_kernel`] returns `None` on any other device,
//! and callers then use their dfdx ops, so CUDA keeps running on the device.
//!
//! Inputs broadcast with NumPy's rules, restricted to the two layouts that need no index
//! arithmetic: one value per output element ([`Arg::Full`]), or a single value broadcast to
//! every element ([`Arg::Scalar`]). Any other layout also returns `None`.

use std::any::{Any, TypeId};

use dfdx::prelude::{Cpu, Gradients, HasShape, Tape};
use dfdx::tensor::{CpuError, TensorFromVec};

use super::backend::{default_device, Backend};
use super::dims::Dims;
use super::dyn_tensor::{broadcast_shapes, numel, DynTensor, Flat};
use super::tape::{is_recording, GradTape};
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

/// Whether `D` is dfdx's `Cpu` (the only backend with host kernels).
#[inline(always)]
pub(crate) fn is_cpu<D: Backend>() -> bool {
    TypeId::of::<D>() == TypeId::of::<Cpu>()
}

/// The CPU view of a flat tensor of backend `D`, when `D` is `Cpu`.
fn as_cpu<D: Backend>(t: &Flat<D>) -> Option<&Flat<Cpu>> {
    (t as &dyn Any).downcast_ref::<Flat<Cpu>>()
}

/// A CPU flat tensor as a flat tensor of backend `D`, when `D` is `Cpu`.
fn from_cpu<D: Backend>(t: Flat<Cpu>) -> Option<Flat<D>> {
    let mut slot = Some(t);
    (&mut slot as &mut dyn Any)
        .downcast_mut::<Option<Flat<D>>>()?
        .take()
}

/// Host copy of a tensor's values; a single value stays off the heap.
pub(crate) enum Vals {
    /// One value.
    One(f32),
    /// Any other number of values.
    Many(Vec<f32>),
}

impl Vals {
    /// The values as a slice.
    pub(crate) fn as_slice(&self) -> &[f32] {
        match self {
            Vals::One(v) => std::slice::from_ref(v),
            Vals::Many(v) => v,
        }
    }

    /// The input as an output of `n` elements sees it.
    fn arg(&self, n: usize) -> Arg<'_> {
        match self {
            Vals::Many(v) if v.len() == n && n != 1 => Arg::Full(v),
            v => Arg::Scalar(v.as_slice().first().copied().unwrap_or(0.0)),
        }
    }
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
    Some(match read(as_cpu(t.flat())?) {
        Vals::One(v) => vec![v],
        Vals::Many(v) => v,
    })
}

/// The single value of a one-element CPU tensor (no allocation); `None` on other backends.
pub(crate) fn cpu_item<D: Backend>(t: &DynTensor<D>) -> Option<f32> {
    match read(as_cpu(t.flat())?) {
        Vals::One(v) => Some(v),
        Vals::Many(v) => v.first().copied(),
    }
}

/// Calls `f` with the gradient of `t` held in `grads` (a CPU gradient is read in place, no
/// copy; a missing slot is allocated as zeros). `None` on other backends.
pub(crate) fn with_cpu_grad<D: Backend, R>(
    grads: &mut Gradients<f32, D>,
    t: &Flat<D>,
    f: impl FnOnce(&[f32]) -> R,
) -> Option<R> {
    let grads = (grads as &mut dyn Any).downcast_mut::<Gradients<f32, Cpu>>()?;
    let g = grads.get_or_alloc_mut(as_cpu(t)?).ok()?;
    Some(f(g))
}

/// A new CPU tensor holding `values`, on the device of `like` (or the thread's CPU device).
fn new_tensor(like: Option<&Flat<Cpu>>, values: Vec<f32>) -> Flat<Cpu> {
    let n = values.len();
    match like {
        Some(c) => c.device().tensor_from_vec(values, (n,)),
        None => default_device::<Cpu>().tensor_from_vec(values, (n,)),
    }
    .retaped()
}

/// The gradient of `out` on the host (a copy, as the inputs' gradients are written next).
fn out_grad(grads: &mut Gradients<f32, Cpu>, out: &Flat<Cpu>) -> Result<Vals, CpuError> {
    let g = grads.get_or_alloc_mut(out)?;
    Ok(if g.len() == 1 {
        Vals::One(g[0])
    } else {
        Vals::Many(g.to_vec())
    })
}

/// The broadcast shape of the inputs (without allocating when they agree).
fn out_shape<D: Backend>(op: &'static str, inputs: &[&DynTensor<D>]) -> TensorResult<Dims> {
    let Some(first) = inputs.first() else {
        return Ok(Dims::new(&[]));
    };
    let mut shape = Dims::new(first.shape());
    for x in &inputs[1..] {
        if x.shape() != &*shape {
            let s = broadcast_shapes(&shape, x.shape()).ok_or_else(|| TensorError::Broadcast {
                op,
                lhs: shape.to_vec(),
                rhs: x.shape().to_vec(),
            })?;
            shape = Dims::new(&s);
        }
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
    forward: impl FnOnce(&[Arg<'_>; N], usize) -> (Vec<f32>, T),
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
    let mut cpu: [Option<&Flat<Cpu>>; N] = [None; N];
    for (c, x) in cpu.iter_mut().zip(inputs) {
        *c = Some(as_cpu(x.flat())?);
    }
    let cpu: [&Flat<Cpu>; N] = cpu.map(|c| c.expect("every slot was filled above"));
    let vals: [Vals; N] = cpu.map(read);
    let (out, saved) = {
        let args: [Arg<'_>; N] = std::array::from_fn(|i| vals[i].arg(n));
        forward(&args, n)
    };
    debug_assert_eq!(out.len(), n, "{op}: the kernel returned a wrong length");
    let out = new_tensor(cpu.first().copied(), out);
    let keys = tracked(&inputs, &cpu);
    let constant = keys.iter().all(Option::is_none);
    if is_recording() && !constant {
        let out_key = out.clone();
        GradTape::<Cpu>::default().add_backward_op(move |grads: &mut Gradients<f32, Cpu>| {
            let g_out = out_grad(grads, &out_key)?;
            let args: [Arg<'_>; N] = std::array::from_fn(|i| vals[i].arg(n));
            for (i, key) in keys.iter().enumerate() {
                if let Some(key) = key {
                    backward(
                        &saved,
                        &args,
                        i,
                        g_out.as_slice(),
                        grads.get_or_alloc_mut(key)?,
                    );
                }
            }
            Ok(())
        });
    }
    Some(DynTensor::from_new_flat(from_cpu(out)?, &shape).map(|t| t.with_constant(constant)))
}

/// The gradient keys of the inputs that are not runtime constants.
fn tracked<D: Backend, const N: usize>(
    inputs: &[&DynTensor<D>; N],
    cpu: &[&Flat<Cpu>; N],
) -> [Option<Flat<Cpu>>; N] {
    std::array::from_fn(|i| (!inputs[i].is_constant()).then(|| cpu[i].clone()))
}

/// A host kernel from one input to an output of any shape (reductions, gathers): `forward(x)`
/// returns the output's values (shape `shape`), `backward(x, g_out, g_in)` accumulates the
/// input's gradient. `None` off the CPU.
pub(crate) fn host_reduce<D: Backend>(
    input: &DynTensor<D>,
    shape: &[usize],
    forward: impl FnOnce(&[f32]) -> Vec<f32>,
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
    forward: impl FnOnce(&[&[f32]; N]) -> Result<(Vec<f32>, T), E>,
    backward: impl Fn(&T, &[&[f32]; N], usize, &[f32], &mut [f32]) + 'static,
) -> Option<Result<DynTensor<D>, E>> {
    if !is_cpu::<D>() {
        return None;
    }
    let mut cpu: [Option<&Flat<Cpu>>; N] = [None; N];
    for (c, x) in cpu.iter_mut().zip(inputs) {
        *c = Some(as_cpu(x.flat())?);
    }
    let cpu: [&Flat<Cpu>; N] = cpu.map(|c| c.expect("every slot was filled above"));
    let vals: [Vals; N] = cpu.map(read);
    let (out, saved) = {
        let xs: [&[f32]; N] = std::array::from_fn(|i| vals[i].as_slice());
        match forward(&xs) {
            Ok(r) => r,
            Err(e) => return Some(Err(e)),
        }
    };
    let n = out.len();
    if n != numel(shape) {
        return Some(Err(TensorError::Shape {
            what: "host kernel output".into(),
            expected: shape.to_vec(),
            found: vec![n],
        }
        .into()));
    }
    let out = new_tensor(cpu.first().copied(), out);
    let keys = tracked(&inputs, &cpu);
    let constant = keys.iter().all(Option::is_none);
    if is_recording() && !constant {
        let out_key = out.clone();
        GradTape::<Cpu>::default().add_backward_op(move |grads: &mut Gradients<f32, Cpu>| {
            let g_out = out_grad(grads, &out_key)?;
            let xs: [&[f32]; N] = std::array::from_fn(|i| vals[i].as_slice());
            for (i, key) in keys.iter().enumerate() {
                if let Some(key) = key {
                    backward(
                        &saved,
                        &xs,
                        i,
                        g_out.as_slice(),
                        grads.get_or_alloc_mut(key)?,
                    );
                }
            }
            Ok(())
        });
    }
    Some(
        DynTensor::from_new_flat(from_cpu(out)?, shape)
            .map(|t| t.with_constant(constant))
            .map_err(E::from),
    )
}

/// `Σ_i w_i x_i` of single-value tensors, folded left from zero in `f32` (so `±1` weights
/// give exactly the value of the same chain of `add`/`sub`), as one node. `None` off the CPU
/// or when a term has more than one element.
pub(crate) fn weighted_sum<D: Backend>(terms: &[(&DynTensor<D>, f32)]) -> Option<DynTensor<D>> {
    if !is_cpu::<D>() || terms.iter().any(|(t, _)| t.numel() != 1) {
        return None;
    }
    let mut keys = Vec::with_capacity(terms.len());
    let mut acc = 0.0f32;
    for (t, w) in terms {
        let c = as_cpu(t.flat())?;
        let x = read(c).as_slice()[0];
        acc += if *w == 1.0 { x } else { w * x };
        if !t.is_constant() {
            keys.push((c.clone(), *w));
        }
    }
    let out = new_tensor(terms.first().and_then(|(t, _)| as_cpu(t.flat())), vec![acc]);
    let constant = keys.is_empty();
    if is_recording() && !constant {
        let out_key = out.clone();
        GradTape::<Cpu>::default().add_backward_op(move |grads: &mut Gradients<f32, Cpu>| {
            let g = out_grad(grads, &out_key)?.as_slice()[0];
            for (key, w) in &keys {
                if let Some(x) = grads.get_or_alloc_mut(key)?.first_mut() {
                    *x += w * g;
                }
            }
            Ok(())
        });
    }
    DynTensor::from_new_flat(from_cpu(out)?, &[])
        .ok()
        .map(|t| t.with_constant(constant))
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
    let mut keys: Vec<(Flat<Cpu>, Vec<f32>)> = Vec::with_capacity(inputs.len());
    for (x, p) in inputs.iter().zip(partials) {
        let c = as_cpu(x.flat())?;
        if !x.is_constant() {
            keys.push((c.clone(), p));
        }
    }
    let out = new_tensor(inputs.first().and_then(|x| as_cpu(x.flat())), values);
    let constant = keys.is_empty();
    if is_recording() && !constant {
        let out_key = out.clone();
        GradTape::<Cpu>::default().add_backward_op(move |grads: &mut Gradients<f32, Cpu>| {
            let g_out = out_grad(grads, &out_key)?;
            for (key, p) in &keys {
                let g_in = grads.get_or_alloc_mut(key)?;
                for ((gi, d), go) in g_in.iter_mut().zip(p).zip(g_out.as_slice()) {
                    *gi += d * go;
                }
            }
            Ok(())
        });
    }
    Some(DynTensor::from_new_flat(from_cpu(out)?, shape).map(|t| t.with_constant(constant)))
}
