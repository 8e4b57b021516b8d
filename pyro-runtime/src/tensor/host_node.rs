//! Host nodes: the CPU storage of [`DynTensor`](super::DynTensor) values made by host kernels.
//!
//! A dfdx tensor costs an allocation behind an `Arc`, a device handle, a cache check and, in
//! the backward pass, a gradient buffer found through a map. For the small intermediates of a
//! probabilistic program that bookkeeping costs more than the arithmetic, so the results of
//! host kernels (tensor/host_op.rs) live in a plain vector instead, and their gradients in a
//! numbered slot of the recording scope ([`Slot`], [`HostGrads`]). A host node becomes a dfdx
//! tensor only when a dfdx operation needs one ([`HostNode::flat`]); a *bridge* operation on
//! the tape then carries that tensor's gradient back into the node's slot.

use std::sync::{Arc, OnceLock};

use dfdx::prelude::{Cpu, Gradients};
use dfdx::tensor::TensorFromVec;

use super::backend::default_device;
use super::dyn_tensor::Flat;
use super::tape::{record_host, Key, Slot};

/// Scalars [`cached_scalar`] keeps per thread (more distinct values are made each time).
const SCALAR_CACHE: usize = 64;

thread_local! {
    static SCALARS: std::cell::RefCell<Vec<(u32, Arc<HostNode>)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// A node holding the single value `v` and no gradient slot, shared from a small per-thread
/// cache (such nodes never change, so sharing them is safe).
pub(crate) fn cached_scalar(v: f32) -> Arc<HostNode> {
    let bits = v.to_bits();
    SCALARS.with(|c| {
        let mut c = c.borrow_mut();
        if let Some((_, n)) = c.iter().find(|(b, _)| *b == bits) {
            return n.clone();
        }
        let n = HostNode::new(Vals::One(v));
        if c.len() < SCALAR_CACHE {
            c.push((bits, n.clone()));
        }
        n
    })
}

/// Values on the host, with the runtime's identity of the node for gradients ([`Key`]).
pub(crate) struct HostNode {
    vals: Vals,
    key: Option<Key>,
    flat: OnceLock<Flat<Cpu>>,
}

impl std::fmt::Debug for HostNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostNode")
            .field("len", &self.vals.len())
            .field("key", &self.key)
            .finish()
    }
}

impl HostNode {
    /// A node holding `vals` that no gradient is tracked for (a constant: a detached copy,
    /// a cached number).
    pub(crate) fn new(vals: Vals) -> Arc<Self> {
        Self::with_key(vals, None)
    }

    /// A leaf holding `vals`: a value made outside any operation that gradients may be
    /// asked for (a parameter, a tensor made from a vector).
    pub(crate) fn leaf(vals: Vals) -> Arc<Self> {
        Self::with_key(vals, Some(Key::new_leaf()))
    }

    /// A node holding `vals` with the identity `key` (new values for an existing node keep
    /// its key, so gradients keep finding it).
    pub(crate) fn with_key(vals: Vals, key: Option<Key>) -> Arc<Self> {
        Arc::new(HostNode {
            vals,
            key,
            flat: OnceLock::new(),
        })
    }

    /// A node over the values of the dfdx tensor `flat`, which it keeps as its dfdx form,
    /// identified by `key`.
    pub(crate) fn from_flat(vals: Vals, flat: Flat<Cpu>, key: Option<Key>) -> Arc<Self> {
        let node = HostNode {
            vals,
            key,
            flat: OnceLock::new(),
        };
        let _ = node.flat.set(flat);
        Arc::new(node)
    }

    /// The values, row-major.
    pub(crate) fn vals(&self) -> &[f32] {
        self.vals.as_slice()
    }

    /// The node's identity for gradients (`None` for constants).
    pub(crate) fn key(&self) -> Option<Key> {
        self.key
    }

    /// The gradient slot, when the node was made by a recorded operation.
    pub(crate) fn slot(&self) -> Option<Slot> {
        match self.key {
            Some(Key::Slot(s)) => Some(s),
            _ => None,
        }
    }

    /// The dfdx form of the values, when one was made.
    pub(crate) fn existing_flat(&self) -> Option<&Flat<Cpu>> {
        self.flat.get()
    }

    /// The values as a dfdx tensor, made on first use. When the node has a gradient slot
    /// of the recording scope, a bridge operation is recorded that adds the dfdx tensor's
    /// gradient into the slot, so gradients flow through dfdx operations too. (A leaf's
    /// dfdx gradient is added when it is read, [`Grads`](super::Grads).)
    pub(crate) fn flat(&self) -> &Flat<Cpu> {
        self.flat.get_or_init(|| {
            let n = self.vals.len();
            let t: Flat<Cpu> = default_device::<Cpu>()
                .tensor_from_vec(self.vals.as_slice().to_vec(), (n,))
                .retaped();
            if let Some(slot) = self.slot().filter(|s| s.is_current()) {
                let key = t.clone();
                record_host::<Cpu>(Box::new(move |host, grads: &mut Gradients<f32, Cpu>| {
                    let g = grads.get_or_alloc_mut(&key)?;
                    if let Some(dst) = host.get_mut(Key::Slot(slot), g.len()) {
                        for (d, s) in dst.iter_mut().zip(g.iter()) {
                            *d += s;
                        }
                    }
                    Ok(())
                }));
            }
            t
        })
    }
}

/// Host copy of a tensor's values; a single value stays off the heap.
#[derive(Debug, Clone)]
pub(crate) enum Vals {
    /// One value.
    One(f32),
    /// Any other number of values.
    Many(Vec<f32>),
}

impl Vals {
    /// `n` copies of `v` (one value stays off the heap).
    pub(crate) fn splat(v: f32, n: usize) -> Self {
        if n == 1 {
            Vals::One(v)
        } else {
            // Not `vec![v; n]`: for zeros that is `calloc`, which glibc serves without its
            // per-thread cache; a plain allocation and a fill is several times cheaper here.
            let mut buf = Vec::with_capacity(n);
            buf.resize(n, v);
            Vals::Many(buf)
        }
    }

    /// `n` zeros.
    pub(crate) fn zeros(n: usize) -> Self {
        Self::splat(0.0, n)
    }

    /// No values (no allocation).
    pub(crate) fn empty() -> Self {
        Vals::Many(Vec::new())
    }

    /// The values as a slice.
    pub(crate) fn as_slice(&self) -> &[f32] {
        match self {
            Vals::One(v) => std::slice::from_ref(v),
            Vals::Many(v) => v,
        }
    }

    /// The values as a mutable slice.
    pub(crate) fn as_mut_slice(&mut self) -> &mut [f32] {
        match self {
            Vals::One(v) => std::slice::from_mut(v),
            Vals::Many(v) => v,
        }
    }

    /// Number of values.
    pub(crate) fn len(&self) -> usize {
        self.as_slice().len()
    }
}

impl From<Vec<f32>> for Vals {
    fn from(v: Vec<f32>) -> Self {
        if v.len() == 1 {
            Vals::One(v[0])
        } else {
            Vals::Many(v)
        }
    }
}

/// Collecting exactly one value does not allocate.
impl FromIterator<f32> for Vals {
    fn from_iter<I: IntoIterator<Item = f32>>(iter: I) -> Self {
        let mut it = iter.into_iter();
        let Some(a) = it.next() else {
            return Vals::Many(Vec::new());
        };
        let Some(b) = it.next() else {
            return Vals::One(a);
        };
        let mut v = Vec::with_capacity(it.size_hint().0 + 2);
        v.push(a);
        v.push(b);
        v.extend(it);
        Vals::Many(v)
    }
}
