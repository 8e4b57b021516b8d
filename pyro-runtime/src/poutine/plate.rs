//! Plates: conditional independence, vectorized or sequential, with subsampling.

use std::cell::RefCell;
use std::marker::PhantomData;
use std::rc::Rc;

use rand::seq::index::sample as sample_indices;

use super::message::{Frame, Message, Name, SiteKind};
use super::runtime::{push_rc, HandlerGuard, Messenger};
use crate::error::{PyroError, PyroResult};
use crate::tensor::{Backend, DefaultDevice, DynTensor};

thread_local! {
    /// Names of the vectorized plates holding dims -1, -2, ... (`None` = free).
    static DIMS: RefCell<Vec<Option<Name>>> = const { RefCell::new(Vec::new()) };
    /// Shared `0..size` index lists of plates without subsampling, by size (the few most
    /// recent), so entering a full plate allocates none.
    static FULL: RefCell<Vec<Rc<Vec<usize>>>> = const { RefCell::new(Vec::new()) };
    /// Active plates, outermost first (for `subsample`).
    static ACTIVE: RefCell<Vec<Frame>> = const { RefCell::new(Vec::new()) };
}

/// The indices `0..size`, shared with other full plates of that size.
fn full_indices(size: usize) -> Rc<Vec<usize>> {
    const KEPT: usize = 4;
    FULL.with(|f| {
        let mut f = f.borrow_mut();
        if let Some(i) = f.iter().position(|v| v.len() == size) {
            return f[i].clone();
        }
        let v = Rc::new((0..size).collect::<Vec<usize>>());
        if f.len() == KEPT {
            f.remove(0);
        }
        f.push(v.clone());
        v
    })
}

fn allocate_dim(name: &Name, dim: Option<i32>) -> PyroResult<i32> {
    DIMS.with(|d| {
        let mut d = d.borrow_mut();
        let slot = match dim {
            Some(k) if k >= 0 => {
                return Err(PyroError::Plate {
                    plate: name.to_string(),
                    reason: format!("dim must be negative (counted from the right), got {k}"),
                })
            }
            Some(k) => (-k - 1) as usize,
            None => d.iter().position(|s| s.is_none()).unwrap_or(d.len()),
        };
        if d.len() <= slot {
            d.resize(slot + 1, None);
        }
        if let Some(other) = &d[slot] {
            return Err(PyroError::Plate {
                plate: name.to_string(),
                reason: format!(
                    "dim {} is already used by the enclosing plate `{other}`; give each nested \
                     plate its own dim",
                    -(slot as i32) - 1
                ),
            });
        }
        d[slot] = Some(name.clone());
        Ok(-(slot as i32) - 1)
    })
}

fn free_dim(dim: i32) {
    DIMS.with(|d| {
        let mut d = d.borrow_mut();
        let slot = (-dim - 1) as usize;
        if slot < d.len() {
            d[slot] = None;
        }
        while d.last().is_some_and(|s| s.is_none()) {
            d.pop();
        }
    })
}

/// The messenger of one plate: adds its frame to each site, scales log-probabilities by
/// `size / subsample_size`, and broadcasts distributions along its dim.
#[derive(Clone)]
pub struct PlateMessenger {
    frame: Frame,
}

impl<D: Backend> Messenger<D> for PlateMessenger {
    fn process(&self, msg: &mut Message<D>) -> PyroResult<()> {
        msg.cond_indep_stack.insert(0, self.frame.clone());
        if msg.kind != SiteKind::Sample {
            return Ok(());
        }
        msg.scale *= self.frame.size as f32 / self.frame.subsample_size as f32;
        let (Some(dim), Some(dist)) = (self.frame.dim, msg.dist.as_ref()) else {
            return Ok(());
        };
        let batch = dist.batch_shape();
        let need = (-dim) as usize;
        let mut target = batch.to_vec();
        while target.len() < need {
            target.insert(0, 1);
        }
        let pos = target.len() - need;
        let size = self.frame.subsample_size;
        if target[pos] == 1 {
            target[pos] = size;
        } else if target[pos] != size {
            return Err(PyroError::PlateShape {
                site: msg.name.to_string(),
                plate: self.frame.name.to_string(),
                dim,
                size,
                batch_shape: batch.to_vec(),
            });
        }
        if target != batch {
            let expanded = dist
                .expand_box(&target)
                .map_err(|e| PyroError::at_site(&msg.name, e))?;
            msg.dist = Some(Rc::from(expanded));
        }
        Ok(())
    }
}

/// How to build a plate (Pyro's `pyro.plate(name, size, subsample_size, subsample, dim)`).
///
/// ```
/// use pyro::prelude::*;
/// let x = pyro::plate("data", 100).run(|_| pyro::sample("x", Normal::new(0.0, 1.0))).unwrap();
/// assert_eq!(x.shape(), &[100]);
/// ```
#[derive(Debug, Clone)]
pub struct PlateBuilder<D: Backend = DefaultDevice> {
    name: Name,
    size: usize,
    subsample_size: Option<usize>,
    subsample: Option<Vec<usize>>,
    dim: Option<i32>,
    _d: PhantomData<fn() -> D>,
}

/// Starts building a plate called `name` over `size` independent elements.
pub fn plate(name: &str, size: usize) -> PlateBuilder {
    PlateBuilder::new(name, size)
}

impl<D: Backend> PlateBuilder<D> {
    /// A plate on device `D` (see [`plate`]).
    pub fn new(name: &str, size: usize) -> Self {
        PlateBuilder {
            name: name.into(),
            size,
            subsample_size: None,
            subsample: None,
            dim: None,
            _d: PhantomData,
        }
    }

    /// Draw a random batch of this many indices each time the plate is entered.
    pub fn subsample_size(mut self, n: usize) -> Self {
        self.subsample_size = Some(n);
        self
    }

    /// Use these indices as the batch.
    pub fn subsample(mut self, indices: Vec<usize>) -> Self {
        self.subsample = Some(indices);
        self
    }

    /// The batch dim (negative, counted from the right); allocated automatically if absent.
    pub fn dim(mut self, dim: i32) -> Self {
        self.dim = Some(dim);
        self
    }

    fn indices(&self) -> PyroResult<Rc<Vec<usize>>> {
        let err = |reason: String| PyroError::Plate {
            plate: self.name.to_string(),
            reason,
        };
        if let Some(idx) = &self.subsample {
            if let Some(bad) = idx.iter().find(|&&i| i >= self.size) {
                return Err(err(format!(
                    "subsample index {bad} out of range 0..{}",
                    self.size
                )));
            }
            if let Some(n) = self.subsample_size {
                if n != idx.len() {
                    return Err(err(format!(
                        "subsample_size {n} disagrees with {} given indices",
                        idx.len()
                    )));
                }
            }
            return Ok(Rc::new(idx.clone()));
        }
        match self.subsample_size {
            Some(n) if n > self.size => Err(err(format!(
                "subsample_size {n} is larger than the size {}",
                self.size
            ))),
            Some(0) => Err(err("subsample_size must be positive".into())),
            Some(n) if n < self.size => self.draw_batch(n).map(Rc::new),
            _ => Ok(full_indices(self.size)),
        }
    }

    /// A random batch of `n` distinct indices, sent through the handlers as a subsample site
    /// so that `trace` records it and `replay` hands the guide's batch to the model.
    fn draw_batch(&self, n: usize) -> PyroResult<Vec<usize>> {
        let mut msg = crate::poutine::message::Message::<D>::subsample(self.name.clone());
        let drawn = crate::rng::with_rng(|r| sample_indices(r, self.size, n).into_vec());
        // Handlers (replay) may set the value first; the default is the fresh draw.
        crate::poutine::runtime::apply_stack_with_default(&mut msg, move || {
            DynTensor::from_vec(drawn.iter().map(|&i| i as f32).collect(), &[n])
                .map_err(PyroError::from)
        })?;
        let value = msg.value.ok_or_else(|| PyroError::Plate {
            plate: self.name.to_string(),
            reason: "no batch indices".into(),
        })?;
        let idx: Vec<usize> = value.to_vec().iter().map(|&v| v as usize).collect();
        if idx.len() != n || idx.iter().any(|&i| i >= self.size) {
            return Err(PyroError::Plate {
                plate: self.name.to_string(),
                reason: format!(
                    "the replayed batch {:?} does not fit a plate of size {} with subsample_size {n}",
                    value.shape(),
                    self.size
                ),
            });
        }
        Ok(idx)
    }

    /// Enters the plate as a vectorized context; it is left when the guard is dropped.
    pub fn enter(self) -> PyroResult<Plate<D>> {
        if self.size == 0 {
            return Err(PyroError::Plate {
                plate: self.name.to_string(),
                reason: "size must be positive".into(),
            });
        }
        let indices = self.indices()?;
        let dim = allocate_dim(&self.name, self.dim)?;
        let frame = Frame {
            name: self.name.clone(),
            dim: Some(dim),
            size: self.size,
            subsample_size: indices.len(),
            counter: 0,
            indices,
        };
        ACTIVE.with(|a| a.borrow_mut().push(frame.clone()));
        let guard = push_rc::<D>(Rc::new(PlateMessenger {
            frame: frame.clone(),
        }));
        Ok(Plate {
            frame,
            guard: Some(guard),
        })
    }

    /// Runs `body` inside the vectorized plate.
    pub fn run<R>(self, body: impl FnOnce(&Plate<D>) -> PyroResult<R>) -> PyroResult<R> {
        let p = self.enter()?;
        body(&p)
    }

    /// A sequential plate: iterates over the batch indices, each iteration in its own
    /// independence context (Pyro's `for i in pyro.plate(...)`).
    ///
    /// ```
    /// use pyro::prelude::*;
    /// let mut names = vec![];
    /// for i in pyro::plate("seq", 3).iter().unwrap() {
    ///     let name = format!("x_{i}");
    ///     pyro::sample(&name, Normal::new(0.0, 1.0)).unwrap();
    ///     names.push(name);
    /// }
    /// assert_eq!(names, ["x_0", "x_1", "x_2"]);
    /// ```
    pub fn iter(self) -> PyroResult<SequentialPlate<D>> {
        let indices = self.indices()?.as_ref().clone();
        Ok(SequentialPlate {
            name: self.name,
            size: self.size,
            subsample_size: indices.len(),
            indices,
            next: 0,
            guard: None,
        })
    }
}

/// An entered vectorized plate; leaving happens on drop.
pub struct Plate<D: Backend = DefaultDevice> {
    frame: Frame,
    guard: Option<HandlerGuard<D>>,
}

impl<D: Backend> Plate<D> {
    /// The batch indices (all of `0..size` without subsampling).
    pub fn indices(&self) -> &[usize] {
        &self.frame.indices
    }
    /// The full size.
    pub fn size(&self) -> usize {
        self.frame.size
    }
    /// The batch size.
    pub fn subsample_size(&self) -> usize {
        self.frame.subsample_size
    }
    /// The allocated dim.
    pub fn dim(&self) -> i32 {
        self.frame.dim.unwrap_or(-1)
    }
    /// The plate's name.
    pub fn name(&self) -> &str {
        &self.frame.name
    }
    /// Indexes `data` along this plate's dim with the batch indices (Pyro's
    /// `pyro.subsample`); `event_dim` trailing dims are not batch dims.
    pub fn subsample(&self, data: &DynTensor<D>, event_dim: usize) -> PyroResult<DynTensor<D>> {
        subsample_by(&self.frame, data, event_dim)
    }
}

impl<D: Backend> Drop for Plate<D> {
    fn drop(&mut self) {
        self.guard.take();
        ACTIVE.with(|a| {
            let mut a = a.borrow_mut();
            if let Some(pos) = a.iter().rposition(|f| f.name == self.frame.name) {
                a.remove(pos);
            }
        });
        if let Some(d) = self.frame.dim {
            free_dim(d);
        }
    }
}

/// Iterator of a sequential plate. The plate's context covers the loop body between two
/// calls of `next`.
pub struct SequentialPlate<D: Backend = DefaultDevice> {
    name: Name,
    size: usize,
    subsample_size: usize,
    indices: Vec<usize>,
    next: usize,
    guard: Option<HandlerGuard<D>>,
}

impl<D: Backend> Iterator for SequentialPlate<D> {
    type Item = usize;
    fn next(&mut self) -> Option<usize> {
        self.guard.take();
        let i = *self.indices.get(self.next)?;
        let frame = Frame {
            name: self.name.clone(),
            dim: None,
            size: self.size,
            subsample_size: self.subsample_size,
            counter: self.next,
            indices: Rc::new(vec![i]),
        };
        self.next += 1;
        self.guard = Some(push_rc::<D>(Rc::new(PlateMessenger { frame })));
        Some(i)
    }
}

fn subsample_by<D: Backend>(
    frame: &Frame,
    data: &DynTensor<D>,
    event_dim: usize,
) -> PyroResult<DynTensor<D>> {
    let Some(dim) = frame.dim else {
        return Ok(data.clone());
    };
    let batch_rank = data.rank().saturating_sub(event_dim);
    let need = (-dim) as usize;
    if batch_rank < need {
        return Ok(data.clone()); // broadcasts along this dim
    }
    let axis = batch_rank - need;
    let n = data.shape()[axis];
    if n == frame.subsample_size && n != frame.size {
        return Ok(data.clone()); // already subsampled
    }
    if n != frame.size {
        return Err(PyroError::Plate {
            plate: frame.name.to_string(),
            reason: format!(
                "cannot subsample data of shape {:?}: dim {dim} has size {n}, the plate has size {}",
                data.shape(),
                frame.size
            ),
        });
    }
    if frame.subsample_size == frame.size {
        return Ok(data.clone());
    }
    Ok(data.index_select(axis, &frame.indices)?)
}

/// Indexes `data` by the batch indices of every active vectorized plate (Pyro's
/// `pyro.subsample(data, event_dim)`).
///
/// ```
/// use pyro::prelude::*;
/// let data = DynTensor::<pyro::DefaultDevice>::from_vec((0..10).map(|i| i as f32).collect(), &[10]).unwrap();
/// let p = pyro::plate("d", 10).subsample(vec![7, 2]).enter().unwrap();
/// assert_eq!(pyro::subsample(&data, 0).unwrap().to_vec(), vec![7.0, 2.0]);
/// # drop(p);
/// ```
pub fn subsample<D: Backend>(data: &DynTensor<D>, event_dim: usize) -> PyroResult<DynTensor<D>> {
    let frames = ACTIVE.with(|a| a.borrow().clone());
    let mut out = data.clone();
    for f in &frames {
        out = subsample_by(f, &out, event_dim)?;
    }
    Ok(out)
}

/// Nested plates over `sizes`, named `prefix_0`, `prefix_1`, ... with dims `-len..-1`
/// (the last size at dim -1), as Pyro's `plate_stack`.
///
/// ```
/// use pyro::prelude::*;
/// let plates = pyro::plate_stack("p", &[2, 3]).unwrap();
/// let x = pyro::sample("x", Normal::new(0.0, 1.0)).unwrap();
/// assert_eq!(x.shape(), &[2, 3]);
/// drop(plates);
/// ```
pub fn plate_stack(prefix: &str, sizes: &[usize]) -> PyroResult<Vec<Plate>> {
    let n = sizes.len() as i32;
    sizes
        .iter()
        .enumerate()
        .map(|(i, &s)| plate(&format!("{prefix}_{i}"), s).dim(i as i32 - n).enter())
        .collect()
}
