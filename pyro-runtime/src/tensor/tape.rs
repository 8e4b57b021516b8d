//! One shared, thread-local gradient tape (DESIGN.md §3).
//!
//! dfdx moves a tape along with each tensor, so a tensor used twice must be split by hand. A
//! probabilistic program reuses values everywhere, so pyro-rs gives every tensor the zero-sized
//! [`GradTape`]: its backward operations all land on one thread-local list, in execution order,
//! while a [`GradScope`] is open. Tensors can then be cloned and used any number of times, and
//! intermediates can be dropped, with PyTorch semantics. Outside a scope no operation is
//! recorded (like `torch.no_grad()`).

use std::any::Any;
use std::cell::RefCell;
use std::marker::PhantomData;

use dfdx::prelude::{Gradients, Merge, NoneTape, OwnedTape, Rank0, Tape, Tensor};
use dfdx::tensor::{PutTape, SplitTape, Storage, Trace};
use dfdx::tensor_ops::Backward;

use super::host_node::Vals;
use crate::error::TensorError;

type BackwardOp<D> =
    Box<dyn FnOnce(&mut Gradients<f32, D>) -> Result<(), <D as dfdx::tensor::HasErr>::Err>>;

/// A backward operation of a host node (tensor/host_node.rs): it reads and writes host
/// gradients, and dfdx gradients for inputs that are dfdx tensors.
pub(crate) type HostOp<D> = Box<
    dyn FnOnce(
        &mut HostGrads,
        &mut Gradients<f32, D>,
    ) -> Result<(), <D as dfdx::tensor::HasErr>::Err>,
>;

enum Op<D: Storage<f32>> {
    Dev(BackwardOp<D>),
    Host(HostOp<D>),
}

struct Recording<D: Storage<f32>> {
    ops: Vec<Op<D>>,
    /// Identifies this scope among all scopes ever opened (host gradient slots name it).
    serial: u64,
    /// Number of values of each host gradient slot handed out in this scope.
    slot_lens: Vec<usize>,
}

thread_local! {
    /// Operations and host slots the last closed scope held: a new scope reserves as much,
    /// so the repeated steps of an inference loop do not regrow their lists.
    static SIZE_HINT: std::cell::Cell<(usize, usize)> = const { std::cell::Cell::new((0, 0)) };
}

static SERIAL: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// Where a host node's gradient lives during a backward pass: slot `index` of the scope
/// `scope` (the scope that was innermost when the node was made).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Slot {
    scope: u64,
    index: u32,
}

/// The gradients of host nodes during one backward pass, allocated on first use.
pub(crate) struct HostGrads {
    scope: u64,
    lens: Vec<usize>,
    /// One entry per slot; a single value stays off the heap.
    grads: Vec<Option<Vals>>,
}

impl HostGrads {
    fn new(scope: u64, lens: Vec<usize>) -> Self {
        let grads = std::iter::repeat_with(|| None).take(lens.len()).collect();
        HostGrads { scope, lens, grads }
    }

    /// Takes out the gradient of a node (its producer runs once, after every consumer);
    /// `None` when no gradient reached it or the slot is not of this pass.
    pub(crate) fn take(&mut self, slot: Slot) -> Option<Vals> {
        if slot.scope != self.scope {
            return None;
        }
        self.grads.get_mut(slot.index as usize)?.take()
    }

    /// The gradient of a node to accumulate into (zeros on first use); `None` when the slot
    /// is not of this pass.
    pub(crate) fn get_mut(&mut self, slot: Slot) -> Option<&mut [f32]> {
        if slot.scope != self.scope {
            return None;
        }
        let i = slot.index as usize;
        let len = *self.lens.get(i)?;
        let g = self.grads.get_mut(i)?;
        Some(
            g.get_or_insert_with(|| Vals::splat(0.0, len))
                .as_mut_slice(),
        )
    }
}

/// A gradient slot of `len` values in the innermost scope and, in the same visit, the backward
/// operation `make(slot)` recorded there; `None` (and nothing recorded) when no scope records
/// for `D`.
pub(crate) fn record_with_slot<D: Storage<f32> + 'static>(
    len: usize,
    make: impl FnOnce(Slot) -> HostOp<D>,
) -> Option<Slot> {
    SCOPES.with(|scopes| {
        let mut scopes = scopes.borrow_mut();
        let rec = scopes.last_mut()?.downcast_mut::<Recording<D>>()?;
        let index = u32::try_from(rec.slot_lens.len()).ok()?;
        rec.slot_lens.push(len);
        let slot = Slot {
            scope: rec.serial,
            index,
        };
        rec.ops.push(Op::Host(make(slot)));
        Some(slot)
    })
}

/// The serial of the innermost scope when it records for `D`.
pub(crate) fn current_scope<D: Storage<f32> + 'static>() -> Option<u64> {
    SCOPES.with(|scopes| {
        let scopes = scopes.borrow();
        Some(scopes.last()?.downcast_ref::<Recording<D>>()?.serial)
    })
}

/// Whether `slot` belongs to the innermost scope.
pub(crate) fn slot_is_current(slot: Slot, current: Option<u64>) -> bool {
    current == Some(slot.scope)
}

/// Records a host backward operation in the innermost scope (dropped when none records).
pub(crate) fn record_host<D: Storage<f32> + 'static>(op: HostOp<D>) {
    SCOPES.with(|scopes| {
        let mut scopes = scopes.borrow_mut();
        if let Some(rec) = scopes
            .last_mut()
            .and_then(|top| top.downcast_mut::<Recording<D>>())
        {
            rec.ops.push(Op::Host(op));
        }
    });
}

thread_local! {
    /// Stack of open scopes; each entry is a `Recording<D>` for some device `D`.
    static SCOPES: RefCell<Vec<Box<dyn Any>>> = const { RefCell::new(Vec::new()) };
}

/// The tape type of the dfdx tensors the runtime works with (`DfdxTensor`): a handle to
/// the thread's current [`GradScope`].
///
/// It is zero-sized, `Copy` and merges with itself for free, so tensors carrying it can be
/// cloned and combined without any bookkeeping by the user.
///
/// ```
/// use dfdx::prelude::*;
/// use pyro::tensor::DfdxTensor;
/// let dev = pyro::tensor::default_device::<Cpu>();
/// let x: DfdxTensor<Rank1<3>> = dev.tensor([1.0f32, 2.0, 3.0]).retaped();
/// let y = x.clone() * 2.0 + x.exp(); // `x` used twice, no manual tape splitting
/// assert_eq!(y.array().len(), 3);
/// ```
pub struct GradTape<D>(PhantomData<fn() -> D>);

impl<D> Default for GradTape<D> {
    fn default() -> Self {
        GradTape(PhantomData)
    }
}
impl<D> Clone for GradTape<D> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<D> Copy for GradTape<D> {}
impl<D> std::fmt::Debug for GradTape<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GradTape")
    }
}
impl<D> Merge<GradTape<D>> for GradTape<D> {
    fn merge(self, _: GradTape<D>) -> Self {
        self
    }
}
impl<D> Merge<NoneTape> for GradTape<D> {
    fn merge(self, _: NoneTape) -> Self {
        self
    }
}

impl<D: Storage<f32> + 'static> Tape<f32, D> for GradTape<D> {
    const OWNS_TAPE: bool = true;
    fn add_backward_op<F>(&mut self, operation: F)
    where
        F: 'static + FnOnce(&mut Gradients<f32, D>) -> Result<(), D::Err>,
    {
        SCOPES.with(|scopes| {
            let mut scopes = scopes.borrow_mut();
            if let Some(top) = scopes.last_mut() {
                if let Some(rec) = top.downcast_mut::<Recording<D>>() {
                    rec.ops.push(Op::Dev(Box::new(operation)));
                }
            }
        });
    }
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
/// use dfdx::prelude::*;
/// use pyro::prelude::{GradScope, GradTape};
/// let dev = pyro::tensor::default_device::<Cpu>();
/// let w: dfdx::prelude::Tensor<Rank1<2>, f32, Cpu> = dev.tensor([1.0, -2.0]);
/// let scope = GradScope::<Cpu>::open();
/// let x = w.retaped::<GradTape<Cpu>>();
/// let loss = (x.clone().square() + x * 3.0).sum(); // d/dx sum(x^2 + 3x) = 2x + 3
/// let grads = scope.backward(loss, &[&w]).unwrap();
/// assert_eq!(grads.get(&w).array(), [5.0, -1.0]);
/// ```
pub struct GradScope<D: Storage<f32> + 'static> {
    depth: usize,
    _d: PhantomData<fn() -> D>,
}

impl<D: Storage<f32> + 'static> GradScope<D> {
    /// Opens a scope: every tensor operation on this thread from now on is recorded.
    pub fn open() -> Self {
        let hint = SIZE_HINT.with(|h| h.get());
        let depth = SCOPES.with(|s| {
            let mut s = s.borrow_mut();
            s.push(Box::new(Recording::<D> {
                ops: Vec::with_capacity(hint.0),
                serial: SERIAL.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
                slot_lens: Vec::with_capacity(hint.1),
            }));
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
                .get(self.depth - 1)
                .and_then(|r| r.downcast_ref::<Recording<D>>())
                .map_or(0, |r| r.ops.len())
        })
    }

    /// Whether nothing was recorded yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn take_ops(&mut self) -> (Vec<Op<D>>, HostGrads) {
        SCOPES.with(|s| {
            let mut s = s.borrow_mut();
            // Pop this scope and anything opened inside it and not closed.
            let mut out = (Vec::new(), HostGrads::new(0, Vec::new()));
            while s.len() >= self.depth {
                let top = s.pop().expect("len checked");
                if s.len() + 1 == self.depth {
                    if let Ok(rec) = top.downcast::<Recording<D>>() {
                        SIZE_HINT.with(|h| h.set((rec.ops.len(), rec.slot_lens.len())));
                        out = (rec.ops, HostGrads::new(rec.serial, rec.slot_lens));
                    }
                }
            }
            self.depth = 0;
            out
        })
    }

    /// Closes the scope and back-propagates from the scalar `loss`. Gradients are allocated
    /// (as zeros) for every tensor in `leaves`, so `grads.get(leaf)` never fails for them, even
    /// when the loss does not depend on a leaf.
    pub fn backward<T, S: dfdx::shapes::Shape, LT>(
        self,
        loss: Tensor<Rank0, f32, D, T>,
        leaves: &[&Tensor<S, f32, D, LT>],
    ) -> Result<Gradients<f32, D>, TensorError>
    where
        D: dfdx::tensor_ops::Device<f32>,
        T: Tape<f32, D>,
    {
        self.backward_any(loss, |grads| {
            for leaf in leaves {
                grads.try_alloc_for(*leaf)?;
            }
            Ok(())
        })
    }

    /// Like [`GradScope::backward`], with a closure that allocates gradient slots for the
    /// leaves (of any shapes) before the backward pass runs.
    pub fn backward_any<T>(
        mut self,
        loss: Tensor<Rank0, f32, D, T>,
        alloc_leaves: impl FnOnce(&mut Gradients<f32, D>) -> Result<(), D::Err>,
    ) -> Result<Gradients<f32, D>, TensorError>
    where
        D: dfdx::tensor_ops::Device<f32>,
        T: Tape<f32, D>,
    {
        let (ops, mut host) = self.take_ops();
        let mut grads = Gradients::leaky();
        alloc_leaves(&mut grads).map_err(|e| TensorError::Device(format!("{e:?}")))?;
        let (loss, _) = loss.split_tape();
        let (loss, mut tape) = loss.traced(grads).split_tape();
        // One entry on dfdx's tape runs the recorded operations newest first (dfdx seeds the
        // loss's gradient before it), instead of boxing each operation a second time.
        tape.add_backward_op(move |grads| {
            for op in ops.into_iter().rev() {
                match op {
                    Op::Dev(op) => op(grads)?,
                    Op::Host(op) => op(&mut host, grads)?,
                }
            }
            Ok(())
        });
        let loss: Tensor<Rank0, f32, D, OwnedTape<f32, D>> = loss.put_tape(tape);
        match crate::silent_panic::catch_silently(move || loss.try_backward()) {
            Ok(Ok(g)) => Ok(g),
            Ok(Err(e)) => Err(TensorError::Device(format!("{e:?}"))),
            Err(_) => Err(TensorError::Backward(format!(
                "a backward operation failed ({}); the usual cause is one dfdx tensor used as \
                 both operands of a dfdx binary op (`x.clone() * x`): use `x.square()` or \
                 `pyro::tensor::fresh(&x)` for one operand",
                crate::silent_panic::last_message().unwrap_or_else(|| "no message".into())
            ))),
        }
    }
}

impl<D: Storage<f32> + 'static> Drop for GradScope<D> {
    fn drop(&mut self) {
        if self.depth > 0 {
            let _ = self.take_ops();
        }
    }
}
