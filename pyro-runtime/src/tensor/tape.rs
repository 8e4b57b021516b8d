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
    /// Nested scopes dropped without a backward pass: their operations joined this scope's
    /// list, and their slots (serial, first index into `slot_lens`) are this scope's too.
    merged: Vec<(u64, usize)>,
    /// Nested scopes whose backward pass ran: their values are cut from this scope's graph.
    consumed: Vec<u64>,
}

impl Recording {
    fn new(serial: u64, hint: (usize, usize)) -> Self {
        Recording {
            ops: Vec::with_capacity(hint.0),
            serial,
            slot_lens: Vec::with_capacity(hint.1),
            merged: Vec::new(),
            consumed: Vec::new(),
        }
    }

    /// Takes in a nested scope dropped without a backward pass: one graph, as PyTorch has.
    fn absorb(&mut self, child: Recording) {
        let base = self.slot_lens.len();
        self.merged.push((child.serial, base));
        for (serial, at) in child.merged {
            self.merged.push((serial, base + at));
        }
        self.slot_lens.extend(child.slot_lens);
        self.ops.extend(child.ops);
        self.consumed.extend(child.consumed);
    }

    /// The serials of this scope and of the scopes merged into it.
    fn serials(&self) -> impl Iterator<Item = u64> + '_ {
        std::iter::once(self.serial).chain(self.merged.iter().map(|(s, _)| *s))
    }
}

thread_local! {
    /// Operations and slots the last closed scope held: a new scope reserves as much, so the
    /// repeated steps of an inference loop do not regrow their lists.
    static SIZE_HINT: std::cell::Cell<(usize, usize)> = const { std::cell::Cell::new((0, 0)) };
    /// Stack of open scopes, innermost last.
    static SCOPES: RefCell<Vec<Recording>> = const { RefCell::new(Vec::new()) };
    /// How many [`no_grad`] guards are alive on this thread (nothing is recorded while any is).
    static PAUSED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Stops recording on this thread while the guard lives (PyTorch's `torch.no_grad()`):
/// operations run, and record nothing in any open scope.
///
/// ```
/// use pyro::prelude::*;
/// use pyro::tensor::{is_recording, no_grad};
/// let scope = GradScope::<Cpu>::open();
/// {
///     let _off = no_grad();
///     assert!(!is_recording());
///     let _ = DynTensor::<Cpu>::scalar(1.0).exp();
/// }
/// assert!(scope.is_empty() && is_recording());
/// ```
pub fn no_grad() -> NoGrad {
    PAUSED.with(|p| p.set(p.get() + 1));
    NoGrad(std::marker::PhantomData)
}

/// The guard of [`no_grad`]; recording resumes when the last one is dropped. It belongs to
/// the thread that made it (not `Send`).
pub struct NoGrad(std::marker::PhantomData<*const ()>);

impl Drop for NoGrad {
    fn drop(&mut self) {
        PAUSED.with(|p| p.set(p.get().saturating_sub(1)));
    }
}

#[inline]
fn paused() -> bool {
    PAUSED.with(|p| p.get() > 0)
}

static SERIAL: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// Where a host node's gradient lives during a backward pass: slot `index` of the scope
/// `scope` (the scope that was innermost when the node was made).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Slot {
    scope: u64,
    index: u32,
}

/// The runtime's identity of a host node for gradients. A node made by a recorded operation
/// has the [`Slot`] its gradient fills in that scope's backward pass; a value made outside
/// any operation that may need a gradient (a parameter, `DynTensor::from_vec`) is a leaf
/// with an id of its own. In a later scope a slot node is a leaf too, found by its old slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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
/// per slot of the pass's scope (and of the nested scopes that closed into it), and one per
/// leaf (any other key) an operation sent a gradient to.
pub(crate) struct HostGrads {
    /// The scope of this pass (its slots start at 0).
    scope: u64,
    /// The nested scopes that closed into it, with the offset of their first slot.
    merged: Vec<(u64, usize)>,
    lens: Vec<usize>,
    /// One entry per slot; a single value stays off the heap.
    grads: Vec<Option<Vals>>,
    /// Gradients of leaves, in first-reached order (a model has a handful).
    leaves: Vec<(Key, Vals)>,
    /// Where each leaf is in `leaves`, once there are more than a handful.
    leaf_index: Option<std::collections::HashMap<Key, usize>>,
}

/// Leaves looked up by a linear scan below this many; by a hash map above.
const LINEAR_LEAVES: usize = 16;

impl HostGrads {
    fn of(scope: u64, merged: Vec<(u64, usize)>, lens: Vec<usize>) -> Self {
        let grads = std::iter::repeat_with(|| None).take(lens.len()).collect();
        HostGrads {
            scope,
            merged,
            lens,
            grads,
            leaves: Vec::new(),
            leaf_index: None,
        }
    }

    /// The slot index of `key` when it is a slot of this pass.
    #[inline]
    fn own_slot(&self, key: Key) -> Option<usize> {
        let Key::Slot(s) = key else {
            return None;
        };
        if s.scope == self.scope {
            return Some(s.index as usize);
        }
        let &(_, offset) = self.merged.iter().find(|(serial, _)| *serial == s.scope)?;
        Some(offset + s.index as usize)
    }

    /// Whether a leaf entry is a value made in one of `scopes`.
    fn reached_any(&self, scopes: &[u64]) -> bool {
        self.leaves
            .iter()
            .any(|(k, _)| matches!(k, Key::Slot(s) if scopes.contains(&s.scope)))
    }

    /// Takes out the gradient of a node made in this pass's scope (its producer runs once,
    /// after every consumer); `None` when no gradient reached it.
    #[inline]
    pub(crate) fn take(&mut self, slot: Slot) -> Option<Vals> {
        let i = self.own_slot(Key::Slot(slot))?;
        self.grads.get_mut(i)?.take()
    }

    /// The gradient of the node `key` (of `len` values) to accumulate into, zeros on first
    /// use: its slot when it was made in this pass's scope, its leaf entry otherwise.
    #[inline]
    pub(crate) fn get_mut(&mut self, key: Key, len: usize) -> Option<&mut [f32]> {
        if let Some(i) = self.own_slot(key) {
            let len = *self.lens.get(i)?;
            let g = self.grads.get_mut(i)?;
            return Some(
                g.get_or_insert_with(|| Vals::splat(0.0, len))
                    .as_mut_slice(),
            );
        }
        let at = match self.leaf_position(key) {
            Some(at) => at,
            None => {
                self.leaves.push((key, Vals::zeros(len)));
                let at = self.leaves.len() - 1;
                match &mut self.leaf_index {
                    Some(index) => {
                        index.insert(key, at);
                    }
                    None if self.leaves.len() > LINEAR_LEAVES => {
                        let index = self.leaves.iter().enumerate().map(|(i, (k, _))| (*k, i));
                        self.leaf_index = Some(index.collect());
                    }
                    None => {}
                }
                at
            }
        };
        Some(self.leaves[at].1.as_mut_slice())
    }

    /// Where a leaf's gradient is in `leaves`.
    #[inline]
    fn leaf_position(&self, key: Key) -> Option<usize> {
        match &self.leaf_index {
            Some(index) => index.get(&key).copied(),
            None => self.leaves.iter().position(|(k, _)| *k == key),
        }
    }

    /// The gradient a leaf (any key but a slot of this pass) received, if any.
    pub(crate) fn leaf(&self, key: Key) -> Option<&[f32]> {
        if self.own_slot(key).is_some() {
            return None;
        }
        self.leaf_position(key)
            .map(|at| self.leaves[at].1.as_slice())
    }
}

/// A gradient slot of `len` values in the innermost scope and, in the same visit, the backward
/// step `make(slot)` recorded there; `None` (and nothing recorded) when no scope is open.
#[inline]
pub(crate) fn record_with_slot(len: usize, make: impl FnOnce(Slot) -> HostOp) -> Option<Slot> {
    if paused() {
        return None;
    }
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
#[inline]
pub(crate) fn current_scope() -> Option<u64> {
    if paused() {
        return None;
    }
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
    !paused() && SCOPES.with(|s| !s.borrow().is_empty())
}

/// An open recording of backward operations; closing it with [`GradScope::backward`] gives
/// the gradients. Scopes nest: operations go to the innermost open scope. A nested scope
/// dropped without a backward pass joins its parent (one graph, as in PyTorch); after a
/// nested scope's backward pass its graph is gone, and a later pass of an enclosing scope
/// that needs a gradient through one of its values is an error. A scope belongs to the
/// thread that opened it (not `Send`). To run operations without recording, use
/// [`no_grad`]. (The device parameter names the backend the gradients belong to; every
/// operation on the thread records in the innermost scope, whatever its backend.)
///
/// ```
/// use pyro::prelude::*;
/// let w = DynTensor::<Cpu>::from_vec(vec![1.0, -2.0], &[2]).unwrap();
/// let scope = GradScope::<Cpu>::open();
/// let loss = w.square().add(&w.mul_scalar(3.0)).unwrap().sum(); // d/dw = 2w + 3
/// let grads = scope.backward(&loss).unwrap();
/// assert_eq!(grads.get(&w).unwrap().to_vec(), vec![5.0, -1.0]);
/// ```
///
/// The recording lives on the opening thread, so a scope cannot move to another:
///
/// ```compile_fail
/// let scope = pyro::tensor::GradScope::<dfdx::prelude::Cpu>::open();
/// std::thread::spawn(move || drop(scope));
/// ```
pub struct GradScope<D: Backend> {
    depth: usize,
    serial: u64,
    _d: PhantomData<fn() -> D>,
    /// Not `Send`: the recording lives in the opening thread's locals.
    _thread: PhantomData<*const ()>,
}

impl<D: Backend> GradScope<D> {
    /// Opens a scope: every tensor operation on this thread from now on is recorded.
    pub fn open() -> Self {
        let hint = SIZE_HINT.with(|h| h.get());
        let serial = SERIAL.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let depth = SCOPES.with(|s| {
            let mut s = s.borrow_mut();
            s.push(Recording::new(serial, hint));
            s.len()
        });
        GradScope {
            depth,
            serial,
            _d: PhantomData,
            _thread: PhantomData,
        }
    }

    /// Whether this scope is still on the stack (an enclosing scope closing first takes the
    /// scopes opened inside it with it).
    fn is_open(&self, s: &[Recording]) -> bool {
        self.depth > 0
            && s.get(self.depth - 1)
                .is_some_and(|r| r.serial == self.serial)
    }

    /// Number of operations recorded so far.
    pub fn len(&self) -> usize {
        SCOPES.with(|s| {
            let s = s.borrow();
            if self.is_open(&s) {
                s[self.depth - 1].ops.len()
            } else {
                0
            }
        })
    }

    /// Whether nothing was recorded yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes this scope's recording (with any scope opened inside it and not closed, which
    /// joins it) from the stack; `None` when an enclosing scope already closed it.
    fn take(&mut self) -> Option<Recording> {
        SCOPES.with(|s| {
            let mut s = s.borrow_mut();
            if !self.is_open(&s) {
                self.depth = 0;
                return None;
            }
            while s.len() > self.depth {
                let inner = s.pop().expect("len checked");
                s.last_mut().expect("depth >= 1").absorb(inner);
            }
            let rec = s.pop().expect("is_open checked");
            self.depth = 0;
            Some(rec)
        })
    }

    /// Closes the scope and back-propagates from the one-element tensor `loss`: every
    /// operation recorded since the scope opened runs its backward step, newest first, and
    /// the gradients of the leaves the loss depends on are returned ([`Grads::get`]).
    ///
    /// Errors: a loss of more than one element; a gradient that must pass through a value
    /// made inside a nested scope whose own backward pass already ran (its graph is gone).
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
        let Some(rec) = self.take() else {
            return Err(TensorError::Backward(
                "this scope was closed by an enclosing scope that closed first".into(),
            ));
        };
        SIZE_HINT.with(|h| h.set((rec.ops.len(), rec.slot_lens.len())));
        // This pass consumes the graph: an enclosing scope may not go through it again.
        SCOPES.with(|s| {
            if let Some(parent) = s.borrow_mut().last_mut() {
                parent.consumed.extend(rec.serials());
            }
        });
        let mut host = HostGrads::of(rec.serial, rec.merged, rec.slot_lens);
        if let (Some(key), false) = (loss.host_key(), loss.is_constant()) {
            if let Some(g) = host.get_mut(key, 1) {
                g[0] = 1.0;
            }
        }
        for op in rec.ops.into_iter().rev() {
            op(&mut host);
        }
        if host.reached_any(&rec.consumed) {
            return Err(TensorError::Backward(
                "the loss depends on a value made inside a nested GradScope whose backward pass \
                 already ran, and that graph is gone: compute the value again in this scope, \
                 or detach() it if no gradient should flow through it"
                    .into(),
            ));
        }
        Ok(Grads::new(host))
    }
}

impl<D: Backend> Drop for GradScope<D> {
    fn drop(&mut self) {
        // A scope dropped without a backward pass joins its parent, or is discarded.
        if let Some(rec) = self.take() {
            SCOPES.with(|s| {
                if let Some(parent) = s.borrow_mut().last_mut() {
                    parent.absorb(rec);
                }
            });
        }
    }
}
