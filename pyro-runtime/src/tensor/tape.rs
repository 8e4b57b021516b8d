//! One thread-local gradient tape, owned by the runtime.
//!
//! While a [`GradScope`] is open, every operation appends its backward step to the scope's
//! list, in execution order; [`GradScope::backward`] runs the list newest first. Tensors can
//! be cloned and used any number of times, and intermediates dropped, with PyTorch
//! semantics. Outside a scope nothing is recorded (like `torch.no_grad()`).
//!
//! Gradients live in the pass's [`HostGrads`]: a numbered slot per node made in the scope,
//! an entry per leaf reached, both found by [`Key`], the runtime's own node identity.

use std::cell::RefCell;
use std::marker::PhantomData;

use super::backend::Backend;
use super::grads::Grads;
use super::host_node::Vals;
use super::DynTensor;
use crate::tensor::TensorError;

/// The backward step of one operation: it takes its output's gradient from the pass's
/// record and adds into its inputs'.
pub(crate) type HostOp = Box<dyn FnOnce(&mut HostGrads)>;

struct Recording {
    ops: Vec<HostOp>,
    /// Identifies this scope among all scopes ever opened (gradient slots name it).
    serial: u64,
    /// Number of values of each gradient slot handed out in this scope.
    slot_lens: Vec<usize>,
}

thread_local! {
    /// Operations and slots the last closed scope held: a new scope reserves as much, so the
    /// repeated steps of an inference loop do not regrow their lists.
    static SIZE_HINT: std::cell::Cell<(usize, usize)> = const { std::cell::Cell::new((0, 0)) };
    /// Stack of open scopes, innermost last.
    static SCOPES: RefCell<Vec<Recording>> = const { RefCell::new(Vec::new()) };
}

static SERIAL: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// Where a host node's gradient lives during a backward pass: slot `index` of the scope
/// `scope` (the scope that was innermost when the node was made).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Slot {
    scope: u64,
    index: u32,
}

/// The runtime's identity of a host node for gradients. A node made by a recorded operation
/// has the [`Slot`] its gradient fills in that scope's backward pass; a value made outside
/// any operation that may need a gradient (a parameter, `DynTensor::from_vec`) is a leaf
/// with an id of its own. In a later scope a slot node is a leaf too, found by its old slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Key {
    /// Made by an operation recorded in some scope.
    Slot(Slot),
    /// Made outside any operation.
    Leaf(u64),
}

static LEAF: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

impl Key {
    /// A new leaf identity.
    pub(crate) fn new_leaf() -> Self {
        Key::Leaf(LEAF.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
    }
}

/// The gradients of host nodes during one backward pass, allocated on first use: one entry
/// per slot of the pass's scope, and one per leaf (any other key) an operation sent a
/// gradient to.
pub(crate) struct HostGrads {
    scope: u64,
    lens: Vec<usize>,
    /// One entry per slot; a single value stays off the heap.
    grads: Vec<Option<Vals>>,
    /// Gradients of leaves, in first-reached order (a model has a handful).
    leaves: Vec<(Key, Vals)>,
}

impl HostGrads {
    fn new(scope: u64, lens: Vec<usize>) -> Self {
        let grads = std::iter::repeat_with(|| None).take(lens.len()).collect();
        HostGrads {
            scope,
            lens,
            grads,
            leaves: Vec::new(),
        }
    }

    /// The slot index of `key` when it is a slot of this pass.
    fn own_slot(&self, key: Key) -> Option<usize> {
        match key {
            Key::Slot(s) if s.scope == self.scope => Some(s.index as usize),
            _ => None,
        }
    }

    /// Takes out the gradient of a node made in this pass's scope (its producer runs once,
    /// after every consumer); `None` when no gradient reached it.
    pub(crate) fn take(&mut self, slot: Slot) -> Option<Vals> {
        let i = self.own_slot(Key::Slot(slot))?;
        self.grads.get_mut(i)?.take()
    }

    /// The gradient of the node `key` (of `len` values) to accumulate into, zeros on first
    /// use: its slot when it was made in this pass's scope, its leaf entry otherwise.
    pub(crate) fn get_mut(&mut self, key: Key, len: usize) -> Option<&mut [f32]> {
        if let Some(i) = self.own_slot(key) {
            let len = *self.lens.get(i)?;
            let g = self.grads.get_mut(i)?;
            return Some(
                g.get_or_insert_with(|| Vals::splat(0.0, len))
                    .as_mut_slice(),
            );
        }
        let at = match self.leaves.iter().position(|(k, _)| *k == key) {
            Some(at) => at,
            None => {
                self.leaves.push((key, Vals::zeros(len)));
                self.leaves.len() - 1
            }
        };
        Some(self.leaves[at].1.as_mut_slice())
    }

    /// The gradient a leaf (any key but a slot of this pass) received, if any.
    pub(crate) fn leaf(&self, key: Key) -> Option<&[f32]> {
        if self.own_slot(key).is_some() {
            return None;
        }
        self.leaves
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, g)| g.as_slice())
    }
}

/// A gradient slot of `len` values in the innermost scope and, in the same visit, the backward
/// step `make(slot)` recorded there; `None` (and nothing recorded) when no scope is open.
pub(crate) fn record_with_slot(len: usize, make: impl FnOnce(Slot) -> HostOp) -> Option<Slot> {
    SCOPES.with(|scopes| {
        let mut scopes = scopes.borrow_mut();
        let rec = scopes.last_mut()?;
        let index = u32::try_from(rec.slot_lens.len()).ok()?;
        rec.slot_lens.push(len);
        let slot = Slot {
            scope: rec.serial,
            index,
        };
        rec.ops.push(make(slot));
        Some(slot)
    })
}

/// The serial of the innermost open scope.
pub(crate) fn current_scope() -> Option<u64> {
    SCOPES.with(|scopes| scopes.borrow().last().map(|r| r.serial))
}

/// Whether a [`GradScope`] is open on this thread, i.e. whether operations are being recorded.
///
/// ```
/// use pyro::tensor::{is_recording, GradScope};
/// assert!(!is_recording());
/// let scope = GradScope::<dfdx::prelude::Cpu>::open();
/// assert!(is_recording());
/// drop(scope);
/// assert!(!is_recording());
/// ```
pub fn is_recording() -> bool {
    SCOPES.with(|s| !s.borrow().is_empty())
}

/// An open recording of backward operations; closing it with [`GradScope::backward`] gives
/// the gradients. Dropping it discards what was recorded. Scopes nest: operations go to the
/// innermost open scope.
///
/// ```
/// use pyro::prelude::*;
/// let w = DynTensor::<Cpu>::from_vec(vec![1.0, -2.0], &[2]).unwrap();
/// let scope = GradScope::<Cpu>::open();
/// let loss = w.square().add(&w.mul_scalar(3.0)).unwrap().sum(); // d/dw = 2w + 3
/// let grads = scope.backward(&loss).unwrap();
/// assert_eq!(grads.get(&w).unwrap().to_vec(), vec![5.0, -1.0]);
/// ```
pub struct GradScope<D: Backend> {
    depth: usize,
    _d: PhantomData<fn() -> D>,
}

impl<D: Backend> GradScope<D> {
    /// Opens a scope: every tensor operation on this thread from now on is recorded.
    pub fn open() -> Self {
        let hint = SIZE_HINT.with(|h| h.get());
        let depth = SCOPES.with(|s| {
            let mut s = s.borrow_mut();
            s.push(Recording {
                ops: Vec::with_capacity(hint.0),
                serial: SERIAL.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
                slot_lens: Vec::with_capacity(hint.1),
            });
            s.len()
        });
        GradScope {
            depth,
            _d: PhantomData,
        }
    }

    /// Number of operations recorded so far.
    pub fn len(&self) -> usize {
        SCOPES.with(|s| {
            s.borrow()
                .get(self.depth.wrapping_sub(1))
                .map_or(0, |r| r.ops.len())
        })
    }

    /// Whether nothing was recorded yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn take_ops(&mut self) -> (Vec<HostOp>, HostGrads) {
        SCOPES.with(|s| {
            let mut s = s.borrow_mut();
            // Pop this scope and anything opened inside it and not closed.
            let mut out = (Vec::new(), HostGrads::new(0, Vec::new()));
            while s.len() >= self.depth && self.depth > 0 {
                let rec = s.pop().expect("len checked");
                if s.len() + 1 == self.depth {
                    SIZE_HINT.with(|h| h.set((rec.ops.len(), rec.slot_lens.len())));
                    out = (rec.ops, HostGrads::new(rec.serial, rec.slot_lens));
                }
            }
            self.depth = 0;
            out
        })
    }

    /// Closes the scope and back-propagates from the one-element tensor `loss`: every
    /// operation recorded since the scope opened runs its backward step, newest first, and
    /// the gradients of the leaves the loss depends on are returned ([`Grads::get`]).
    ///
    /// ```
    /// use pyro::prelude::*;
    /// let w = DynTensor::<Cpu>::from_vec(vec![1.0, -2.0], &[2]).unwrap();
    /// let scope = GradScope::<Cpu>::open();
    /// let loss = w.mul(&w).unwrap().sum(); // d/dw = 2w
    /// let grads = scope.backward(&loss).unwrap();
    /// assert_eq!(grads.get(&w).unwrap().to_vec(), vec![2.0, -4.0]);
    /// ```
    pub fn backward(mut self, loss: &DynTensor<D>) -> Result<Grads<D>, TensorError> {
        if loss.numel() != 1 {
            return Err(TensorError::Shape {
                what: "backward: the loss must have one element".into(),
                expected: vec![],
                found: loss.shape().to_vec(),
            });
        }
        let (ops, mut host) = self.take_ops();
        if let (Some(key), false) = (loss.host_key(), loss.is_constant()) {
            if let Some(g) = host.get_mut(key, 1) {
                g[0] = 1.0;
            }
        }
        for op in ops.into_iter().rev() {
            op(&mut host);
        }
        Ok(Grads::new(host))
    }
}

impl<D: Backend> Drop for GradScope<D> {
    fn drop(&mut self) {
        if self.depth > 0 {
            let _ = self.take_ops();
        }
    }
}
