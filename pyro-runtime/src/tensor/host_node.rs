//! Host nodes: the storage of every [`DynTensor`](super::DynTensor) value.
//!
//! A node is a plain vector of values (a single value stays off the heap) with the runtime's
//! identity of it for gradients ([`Key`]): the numbered slot of the scope whose operation made
//! it, or a leaf id. Its gradient lives in that slot of the backward pass ([`HostGrads`]).
//!
//! [`HostGrads`]: super::tape::HostGrads

use std::sync::Arc;

use super::tape::Key;

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
    /// The leaf this node holds new values of (nonzero for leaves and for what
    /// `DynTensor::overwrite_values` makes of them): the identity `same_node` compares, which
    /// survives writes, while `key` is new for a write during a recorded pass, so that a
    /// clone holding the old values and the new node never share a gradient.
    origin: u64,
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
        let key = Key::new_leaf();
        let origin = match key {
            Key::Leaf(id) => id,
            Key::Slot(_) => 0,
        };
        Arc::new(HostNode {
            vals,
            key: Some(key),
            origin,
        })
    }

    /// New values for the node `of` (a parameter's next values), with the same `origin`.
    /// While a scope records, the old values may already be on the graph, so the new ones get
    /// a gradient identity of their own; otherwise they keep `of`'s (a held clone of a
    /// parameter keeps finding the parameter's gradient in later passes).
    pub(crate) fn rewritten(vals: Vals, of: &HostNode) -> Arc<Self> {
        let key = if super::tape::is_recording() {
            Some(Key::new_leaf())
        } else {
            of.key
        };
        Arc::new(HostNode {
            vals,
            key,
            origin: of.origin,
        })
    }

    /// The leaf this node holds values of (0 for nodes made by operations and constants).
    pub(crate) fn origin(&self) -> u64 {
        self.origin
    }

    /// A node holding `vals` with the identity `key`.
    pub(crate) fn with_key(vals: Vals, key: Option<Key>) -> Arc<Self> {
        Arc::new(HostNode {
            vals,
            key,
            origin: 0,
        })
    }

    /// The values, row-major.
    pub(crate) fn vals(&self) -> &[f32] {
        self.vals.as_slice()
    }

    /// The values, row-major, for writing (a node no other tensor shares).
    pub(crate) fn vals_mut(&mut self) -> &mut [f32] {
        self.vals.as_mut_slice()
    }

    /// The node's identity for gradients (`None` for constants).
    pub(crate) fn key(&self) -> Option<Key> {
        self.key
    }

    /// The gradient slot, when the node was made by a recorded operation.
    #[cfg(test)]
    pub(crate) fn slot(&self) -> Option<super::tape::Slot> {
        match self.key {
            Some(Key::Slot(s)) => Some(s),
            _ => None,
        }
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
