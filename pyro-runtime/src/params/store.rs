//! [`ParamStore`]: named, constrained, learnable parameters (Pyro's `ParamStoreDict`).

use crate::constraints::Constraint;
use crate::fast_hash::{name_hash, NameIndex};
use crate::name::Name;
use crate::tensor::TensorResult;
use crate::tensor::{Backend, DynTensor};

use super::error::{ParamResult, ParamStoreError};
use super::link::Link;

/// The initial value of a parameter, in the constrained space: a tensor, or a closure that is
/// only called when the parameter does not exist yet (Pyro's `pyro.param(name, lambda: ...)`).
///
/// An enum rather than two functions (`param` / `param_lazy`) keeps one entry point with
/// Pyro's argument order, and rather than a builder because the other arguments
/// (`constraint`, `event_dim`) are plain values a call site always knows. A tensor converts
/// into it with `From`, so `store.param("w", tensor, ..)` reads like Pyro; a closure goes
/// through [`ParamInit::lazy`] (or [`ParamInit::try_lazy`] when building the tensor can fail).
/// The closure may borrow from its surroundings (lifetime `'a`).
///
/// ```
/// use std::cell::Cell;
/// use pyro::prelude::*;
/// use pyro::params::{ParamInit, ParamStore};
/// let mut store = ParamStore::<Cpu>::new();
/// let calls = Cell::new(0);
/// let init = || {
///     calls.set(calls.get() + 1);
///     DynTensor::zeros(&[1000])
/// };
/// store.param("w", ParamInit::lazy(init), Constraint::Real, None).unwrap();
/// store.param("w", ParamInit::lazy(init), Constraint::Real, None).unwrap();
/// assert_eq!(calls.get(), 1); // the second call found "w" and never built its init
/// ```
pub enum ParamInit<'a, D: Backend = crate::tensor::DefaultDevice> {
    /// An initial value (constrained space).
    Value(DynTensor<D>),
    /// Builds the initial value; called at most once, only if the parameter is absent.
    Lazy(Box<dyn FnOnce() -> TensorResult<DynTensor<D>> + 'a>),
}

impl<'a, D: Backend> ParamInit<'a, D> {
    /// A lazy initial value from an infallible closure.
    ///
    /// ```
    /// use pyro::prelude::*;
    /// use pyro::params::ParamInit;
    /// let init = ParamInit::<Cpu>::lazy(|| DynTensor::ones(&[3]));
    /// assert!(matches!(init, ParamInit::Lazy(_)));
    /// ```
    pub fn lazy(f: impl FnOnce() -> DynTensor<D> + 'a) -> Self {
        ParamInit::Lazy(Box::new(move || Ok(f())))
    }

    /// A lazy initial value from a closure that may fail with a tensor error (its error is
    /// reported as [`ParamStoreError::Init`] naming the parameter).
    ///
    /// ```
    /// use pyro::prelude::*;
    /// use pyro::params::{ParamInit, ParamStore, ParamStoreError};
    /// let mut store = ParamStore::<Cpu>::new();
    /// // Three values cannot have shape [2]: the store reports it, naming "loc".
    /// let init = ParamInit::try_lazy(|| DynTensor::from_vec(vec![1.0, 2.0, 3.0], &[2]));
    /// let err = store.param("loc", init, Constraint::Real, None).unwrap_err();
    /// assert!(matches!(err, ParamStoreError::Init { ref name, .. } if name == "loc"));
    /// ```
    pub fn try_lazy(f: impl FnOnce() -> TensorResult<DynTensor<D>> + 'a) -> Self {
        ParamInit::Lazy(Box::new(f))
    }

    /// The initial value (calls a lazy closure).
    pub(crate) fn resolve(self, name: &str) -> ParamResult<DynTensor<D>> {
        match self {
            ParamInit::Value(t) => Ok(t),
            ParamInit::Lazy(f) => f().map_err(|source| ParamStoreError::Init {
                name: name.to_string(),
                source,
            }),
        }
    }
}

impl<D: Backend> std::fmt::Debug for ParamInit<'_, D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParamInit::Value(v) => write!(f, "Value({v:?})"),
            ParamInit::Lazy(_) => write!(f, "Lazy(..)"),
        }
    }
}

impl<D: Backend> From<DynTensor<D>> for ParamInit<'_, D> {
    fn from(t: DynTensor<D>) -> Self {
        ParamInit::Value(t)
    }
}

impl<D: Backend> From<&DynTensor<D>> for ParamInit<'_, D> {
    fn from(t: &DynTensor<D>) -> Self {
        ParamInit::Value(t.clone())
    }
}

/// One stored parameter.
#[derive(Clone)]
pub(crate) struct Entry<D: Backend> {
    pub(crate) name: String,
    pub(crate) unconstrained: DynTensor<D>,
    pub(crate) constraint: Constraint,
    /// `transform_to(constraint)`; the leaf's shape has been checked against it.
    pub(crate) link: Link<D>,
    pub(crate) event_dim: Option<usize>,
}

impl<D: Backend> Entry<D> {
    fn constrained(&self) -> DynTensor<D> {
        self.link.forward(&self.unconstrained)
    }

    /// Whether the constrained value has `shape` (an elementwise link keeps the leaf's
    /// shape: compared without computing it).
    fn has_shape(&self, shape: &[usize]) -> bool {
        if super::link::elementwise(&self.constraint) {
            self.unconstrained.shape() == shape
        } else {
            self.constrained_shape() == shape
        }
    }

    fn constrained_shape(&self) -> Vec<usize> {
        // The leaf's shape was checked against the link when it was stored.
        self.link
            .constrained_shape(self.unconstrained.shape())
            .unwrap_or_else(|_| self.unconstrained.shape().to_vec())
    }
}

/// How a stored parameter compares with the shape and constraint asked for.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum StoredMatch {
    /// Same shape and constraint.
    Same,
    /// Another constrained shape (the stored one).
    Shape(Vec<usize>),
    /// The same shape with another constraint (the stored one).
    Constraint(Constraint),
}

/// A store of named parameters (Pyro's `ParamStoreDict`). Each parameter is kept as an
/// **unconstrained** leaf tensor plus its [`Constraint`] and `event_dim`; reading it gives the
/// constrained value `transform_to(constraint)(leaf)`
/// ([`transform_to`](crate::transforms::transform_to)), computed on the graph, so inside a
/// [`GradScope`](crate::tensor::GradScope) gradients reach the leaf.
///
/// Every constraint `transform_to` supports can be used. For the event-shaped ones the leaf
/// may have another shape than the value: a `corr_cholesky` value `[..., n, n]` is stored as
/// `[..., n(n-1)/2]`; `simplex` (softmax, not a bijection) stores `log x`, and
/// `lower_cholesky` / `positive_definite` store an `[..., n, n]` leaf whose strictly upper part
/// is zero and unused.
///
/// ```
/// use pyro::prelude::*;
/// use pyro::params::ParamStore;
/// let mut store = ParamStore::<Cpu>::new();
/// let l = DynTensor::from_vec(vec![1.0, 0.0, 0.6, 0.8], &[2, 2]).unwrap();
/// store.param("corr", l, Constraint::CorrCholesky, None).unwrap();
/// let leaf = store.get_unconstrained("corr").unwrap();
/// assert_eq!(leaf.shape(), &[1]); // one partial correlation, atanh(0.6)
/// assert!((leaf.to_vec()[0] - 0.6f32.atanh()).abs() < 1e-5);
/// assert_eq!(store.get("corr").unwrap().shape(), &[2, 2]);
/// ```
///
/// The leaf keeps its node identity for as long as the parameter exists: writes through
/// [`set`](Self::set) (same shape), [`replace_unconstrained`](Self::replace_unconstrained) and
/// [`load`](Self::load) copy new values into it. An optimizer can therefore read gradients
/// with `grads.get(leaf)` for the leaves of [`named_parameters`](Self::named_parameters) on
/// every step.
///
/// Names iterate in insertion order. A clone is a snapshot: its leaves start with the same
/// values and ids as the original's and are written copy-on-write. Most programs use the thread's default store through
/// [`param`](super::param) and [`with_param_store`](super::with_param_store); this type is
/// also usable on its own.
///
/// ```
/// use pyro::prelude::*;
/// use pyro::params::ParamStore;
/// let mut store = ParamStore::<Cpu>::new();
/// let init = DynTensor::from_vec(vec![0.5, 2.0], &[2]).unwrap();
/// let scale = store.param("scale", init, Constraint::Positive, None).unwrap();
/// assert!((scale.to_vec()[1] - 2.0).abs() < 1e-6);
/// // Stored in log space:
/// let u = store.get_unconstrained("scale").unwrap().to_vec();
/// assert!((u[1] - 2f32.ln()).abs() < 1e-6);
/// // A second call returns the stored value and ignores its init.
/// let again = store.param("scale", DynTensor::zeros(&[7]), Constraint::Real, None).unwrap();
/// assert_eq!(again.shape(), &[2]);
/// ```
#[derive(Clone)]
pub struct ParamStore<D: Backend = crate::tensor::DefaultDevice> {
    pub(crate) entries: Vec<Entry<D>>,
    /// Positions in `entries` by the FNV hash of the name (`fast_hash::name_hash`).
    index: NameIndex,
}

impl<D: Backend> Default for ParamStore<D> {
    fn default() -> Self {
        ParamStore {
            entries: Vec::new(),
            index: Default::default(),
        }
    }
}

impl<D: Backend> std::fmt::Debug for ParamStore<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut m = f.debug_map();
        for e in &self.entries {
            m.entry(
                &e.name,
                &format_args!("{:?} {}", e.unconstrained.shape(), e.constraint),
            );
        }
        m.finish()
    }
}

/// Checks `event_dim <= rank`.
fn check_event_dim(name: &str, event_dim: Option<usize>, shape: &[usize]) -> ParamResult<()> {
    match event_dim {
        Some(k) if k > shape.len() => Err(ParamStoreError::EventDim {
            name: name.to_string(),
            event_dim: k,
            shape: shape.to_vec(),
        }),
        _ => Ok(()),
    }
}

/// A fresh leaf (a new node identity) of the given values and shape.
fn new_leaf<D: Backend>(
    name: &str,
    values: Vec<f32>,
    shape: &[usize],
) -> ParamResult<DynTensor<D>> {
    DynTensor::from_vec(values, shape).map_err(|source| ParamStoreError::Tensor {
        name: name.to_string(),
        source,
    })
}

/// Copies `values` into `leaf` in place: same node identity, new data (copy-on-write, so
/// clones of the old leaf held elsewhere keep their values).
pub(crate) fn overwrite_leaf<D: Backend>(leaf: &mut DynTensor<D>, values: &[f32]) {
    debug_assert_eq!(leaf.numel(), values.len());
    if let Err(e) = leaf.overwrite_values(values) {
        debug_assert!(false, "overwrite_leaf: {e}");
    }
}

impl<D: Backend> ParamStore<D> {
    /// An empty store.
    ///
    /// ```
    /// let store = pyro::params::ParamStore::<dfdx::prelude::Cpu>::new();
    /// assert!(store.is_empty());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of parameters.
    ///
    /// ```
    /// use pyro::prelude::*;
    /// let mut store = pyro::params::ParamStore::<Cpu>::new();
    /// store.set("a", &DynTensor::scalar(1.0)).unwrap();
    /// assert_eq!(store.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the store holds no parameter.
    ///
    /// ```
    /// assert!(pyro::params::ParamStore::<dfdx::prelude::Cpu>::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The position of `name` in [`entries`](Self::entries) (insertion order).
    pub(crate) fn position(&self, name: &str) -> Option<usize> {
        self.position_hashed(name_hash(name), name)
    }

    /// [`position`](Self::position) with the hash the name carries.
    pub(crate) fn position_named(&self, name: &Name) -> Option<usize> {
        self.position_hashed(name.fnv(), name)
    }

    fn position_hashed(&self, hash: u64, name: &str) -> Option<usize> {
        let entries = &self.entries;
        self.index
            .find_hashed(hash, name, |i| entries[i].name.as_str(), entries.len())
    }

    /// [`get`](Self::get) with the hash the name carries.
    pub(crate) fn get_named(&self, name: &Name) -> Option<DynTensor<D>> {
        self.position_named(name)
            .map(|i| self.entries[i].constrained())
    }

    fn entry(&self, name: &str) -> Option<&Entry<D>> {
        self.position(name).map(|i| &self.entries[i])
    }

    fn entry_mut(&mut self, name: &str) -> Option<&mut Entry<D>> {
        self.position(name).map(|i| &mut self.entries[i])
    }

    /// Rebuilds the index after entries moved.
    fn reindex(&mut self) {
        self.index = NameIndex::with_capacity(self.entries.len());
        for (i, e) in self.entries.iter().enumerate() {
            self.index.insert_hashed(name_hash(&e.name), i);
        }
    }

    /// Pyro's `pyro.param(name, init, constraint, event_dim)` on this store: if `name` is
    /// absent, stores `transform_to(constraint).inv(init)` as a new unconstrained leaf (a lazy
    /// init is called here, once); then returns the constrained value, on the graph. If `name`
    /// exists, `init`, `constraint` and `event_dim` are ignored (a lazy init is not called)
    /// and the stored parameter is returned, as in Pyro.
    ///
    /// `event_dim` is Pyro's: the number of rightmost dims of the value that form one event
    /// (used when a plate subsamples the parameter); `None` means "not declared".
    ///
    /// Errors name the parameter: an init outside the constraint, one with no finite
    /// unconstrained value (e.g. `0` for `nonnegative`), a shape the constraint's transform
    /// cannot take, a discrete constraint (no transform), `event_dim` above the init's rank,
    /// a failing lazy init.
    ///
    /// ```
    /// use pyro::prelude::*;
    /// use pyro::params::{ParamInit, ParamStore};
    /// let mut store = ParamStore::<Cpu>::new();
    /// let p = store
    ///     .param("p", ParamInit::lazy(|| DynTensor::full(&[3], 0.25)), Constraint::UnitInterval, Some(1))
    ///     .unwrap();
    /// assert!((p.to_vec()[0] - 0.25).abs() < 1e-6);
    /// assert_eq!(store.event_dim("p"), Some(Some(1)));
    /// ```
    pub fn param<'a>(
        &mut self,
        name: &str,
        init: impl Into<ParamInit<'a, D>>,
        constraint: Constraint,
        event_dim: Option<usize>,
    ) -> ParamResult<DynTensor<D>> {
        if let Some(e) = self.entry(name) {
            return Ok(e.constrained());
        }
        let init = init.into().resolve(name)?;
        self.insert_new(name, &init, constraint, event_dim)?;
        self.get(name).ok_or_else(|| ParamStoreError::NotFound {
            name: name.to_string(),
        })
    }

    /// Builds the leaf for a new parameter (every check first, then one push).
    pub(crate) fn insert_new(
        &mut self,
        name: &str,
        constrained: &DynTensor<D>,
        constraint: Constraint,
        event_dim: Option<usize>,
    ) -> ParamResult<()> {
        let link = Link::new(name, &constraint)?;
        let leaf = Self::make_leaf(name, constrained, &constraint, &link, event_dim)?;
        self.push(Entry {
            name: name.to_string(),
            unconstrained: leaf,
            constraint,
            link,
            event_dim,
        });
        Ok(())
    }

    pub(crate) fn push(&mut self, entry: Entry<D>) {
        self.index
            .insert_hashed(name_hash(&entry.name), self.entries.len());
        self.entries.push(entry);
    }

    /// A new leaf holding `transform_to(constraint).inv(constrained)`, checked.
    fn make_leaf(
        name: &str,
        constrained: &DynTensor<D>,
        constraint: &Constraint,
        link: &Link<D>,
        event_dim: Option<usize>,
    ) -> ParamResult<DynTensor<D>> {
        check_event_dim(name, event_dim, constrained.shape())?;
        let u = link.to_unconstrained(name, constraint, constrained)?;
        new_leaf(name, u.values, &u.shape)
    }

    /// The constrained value of a parameter (on the graph, like [`param`](Self::param)), or
    /// `None` when absent (Pyro's `param_store[name]`).
    ///
    /// ```
    /// use pyro::prelude::*;
    /// let mut store = pyro::params::ParamStore::<Cpu>::new();
    /// assert!(store.get("x").is_none());
    /// store.set("x", &DynTensor::scalar(3.0)).unwrap();
    /// assert_eq!(store.get("x").unwrap().to_vec(), vec![3.0]);
    /// ```
    pub fn get(&self, name: &str) -> Option<DynTensor<D>> {
        self.entry(name).map(Entry::constrained)
    }

    /// The unconstrained leaf of a parameter.
    ///
    /// ```
    /// use pyro::prelude::*;
    /// let mut store = pyro::params::ParamStore::<Cpu>::new();
    /// store.param("s", DynTensor::scalar(1.0), Constraint::Positive, None).unwrap();
    /// assert_eq!(store.get_unconstrained("s").unwrap().to_vec(), vec![0.0]); // log 1
    /// ```
    pub fn get_unconstrained(&self, name: &str) -> Option<&DynTensor<D>> {
        self.entry(name).map(|e| &e.unconstrained)
    }

    /// Sets the constrained value of a parameter (Pyro's `param_store[name] = value`). An
    /// existing parameter keeps its constraint and `event_dim`; when the new value's
    /// unconstrained image has the leaf's shape it also keeps its leaf's id (the values are
    /// copied in), otherwise it gets a new leaf. A new name is created with constraint `real`
    /// and no `event_dim`, as in Pyro. Errors as for [`param`](Self::param); on error
    /// nothing changes.
    ///
    /// ```
    /// use pyro::prelude::*;
    /// let mut store = pyro::params::ParamStore::<Cpu>::new();
    /// store.param("s", DynTensor::scalar(1.0), Constraint::Positive, None).unwrap();
    /// store.set("s", &DynTensor::scalar(5.0)).unwrap();
    /// assert!((store.get("s").unwrap().to_vec()[0] - 5.0).abs() < 1e-5);
    /// assert!(store.set("s", &DynTensor::scalar(-1.0)).is_err()); // outside `positive`
    /// ```
    pub fn set(&mut self, name: &str, value: &DynTensor<D>) -> ParamResult<()> {
        let Some(e) = self.entry_mut(name) else {
            return self.insert_new(name, value, Constraint::Real, None);
        };
        let u = e.link.to_unconstrained(name, &e.constraint, value)?;
        if e.unconstrained.shape() == u.shape.as_slice() {
            overwrite_leaf(&mut e.unconstrained, &u.values);
        } else {
            check_event_dim(name, e.event_dim, value.shape())?;
            e.unconstrained = new_leaf(name, u.values, &u.shape)?;
        }
        Ok(())
    }

    /// Writes new unconstrained values into a parameter's leaf, keeping its name, constraint,
    /// `event_dim` and node identity (so gradients of the next step are found under the same
    /// leaf). This is what optimizers call. The shape must match and the values be finite.
    ///
    /// ```
    /// use pyro::prelude::*;
    /// let mut store = pyro::params::ParamStore::<Cpu>::new();
    /// store.param("s", DynTensor::scalar(1.0), Constraint::Positive, None).unwrap();
    /// store.replace_unconstrained("s", &DynTensor::scalar(2f32.ln())).unwrap();
    /// assert!((store.get("s").unwrap().to_vec()[0] - 2.0).abs() < 1e-6);
    /// ```
    pub fn replace_unconstrained(&mut self, name: &str, value: &DynTensor<D>) -> ParamResult<()> {
        self.replace_unconstrained_values(name, value.shape(), &value.to_vec())
    }

    /// [`replace_unconstrained`](Self::replace_unconstrained) from host values of the given
    /// shape (what optimizers produce), without building a tensor first.
    pub(crate) fn replace_unconstrained_values(
        &mut self,
        name: &str,
        shape: &[usize],
        values: &[f32],
    ) -> ParamResult<()> {
        let e = self
            .entry_mut(name)
            .ok_or_else(|| ParamStoreError::NotFound {
                name: name.to_string(),
            })?;
        if e.unconstrained.shape() != shape {
            return Err(ParamStoreError::ShapeMismatch {
                name: name.to_string(),
                expected: e.unconstrained.shape().to_vec(),
                found: shape.to_vec(),
            });
        }
        Self::overwrite_entry(e, values)
    }

    /// Writes new unconstrained values (as many as the leaf holds, all finite) into the leaf
    /// of the parameter at `position` (see [`position`](Self::position)), keeping its shape
    /// and node identity.
    pub(crate) fn overwrite_unconstrained_at(
        &mut self,
        position: usize,
        values: &[f32],
    ) -> ParamResult<()> {
        let e = self
            .entries
            .get_mut(position)
            .ok_or_else(|| ParamStoreError::NotFound {
                name: format!("#{position}"),
            })?;
        Self::overwrite_entry(e, values)
    }

    /// Writes `values` into the entry's leaf after checking their number and finiteness.
    fn overwrite_entry(e: &mut Entry<D>, values: &[f32]) -> ParamResult<()> {
        if values.len() != e.unconstrained.numel() {
            return Err(ParamStoreError::ShapeMismatch {
                name: e.name.clone(),
                expected: e.unconstrained.shape().to_vec(),
                found: vec![values.len()],
            });
        }
        if let Some(index) = values.iter().position(|v| !v.is_finite()) {
            return Err(ParamStoreError::NonFinite {
                name: e.name.clone(),
                constraint: Constraint::Real,
                value: values[index],
                index,
            });
        }
        overwrite_leaf(&mut e.unconstrained, values);
        Ok(())
    }

    /// Whether a parameter of that name exists.
    ///
    /// ```
    /// use pyro::prelude::*;
    /// let mut store = pyro::params::ParamStore::<Cpu>::new();
    /// store.set("a", &DynTensor::scalar(0.0)).unwrap();
    /// assert!(store.contains("a") && !store.contains("b"));
    /// ```
    pub fn contains(&self, name: &str) -> bool {
        self.position(name).is_some()
    }

    /// The shape of a parameter's constrained value, or `None` if it is absent (no value is
    /// computed).
    ///
    /// ```
    /// use pyro::prelude::*;
    /// let mut store = pyro::params::ParamStore::<Cpu>::new();
    /// store.set("w", &DynTensor::zeros(&[2, 3])).unwrap();
    /// assert_eq!(store.shape("w"), Some(vec![2, 3]));
    /// assert_eq!(store.shape("b"), None);
    /// ```
    pub fn shape(&self, name: &str) -> Option<Vec<usize>> {
        self.entry(name).map(Entry::constrained_shape)
    }

    /// The stored shape of `name` when it is not `shape` (`None` if absent or the same);
    /// nothing is allocated when the shapes agree.
    pub(crate) fn other_shape(&self, name: &str, shape: &[usize]) -> Option<Vec<usize>> {
        let e = self.entry(name)?;
        (!e.has_shape(shape)).then(|| e.constrained_shape())
    }

    /// How the parameter (found by the hash its name carries) compares with a constrained
    /// shape and a constraint: `None` if absent.
    pub(crate) fn check_named(
        &self,
        name: &Name,
        shape: &[usize],
        constraint: &Constraint,
    ) -> Option<StoredMatch> {
        let e = &self.entries[self.position_named(name)?];
        Some(if !e.has_shape(shape) {
            StoredMatch::Shape(e.constrained_shape())
        } else if e.constraint != *constraint {
            StoredMatch::Constraint(e.constraint.clone())
        } else {
            StoredMatch::Same
        })
    }

    /// Removes a parameter; returns its last constrained value, or `None` if it was absent.
    ///
    /// ```
    /// use pyro::prelude::*;
    /// let mut store = pyro::params::ParamStore::<Cpu>::new();
    /// store.set("a", &DynTensor::scalar(4.0)).unwrap();
    /// assert_eq!(store.remove("a").unwrap().to_vec(), vec![4.0]);
    /// assert!(store.remove("a").is_none());
    /// ```
    pub fn remove(&mut self, name: &str) -> Option<DynTensor<D>> {
        let i = self.position(name)?;
        let e = self.entries.remove(i);
        self.reindex();
        Some(e.constrained())
    }

    /// Removes every parameter (Pyro's `clear()`).
    ///
    /// ```
    /// use pyro::prelude::*;
    /// let mut store = pyro::params::ParamStore::<Cpu>::new();
    /// store.set("a", &DynTensor::scalar(0.0)).unwrap();
    /// store.clear();
    /// assert!(store.is_empty());
    /// ```
    pub fn clear(&mut self) {
        self.entries.clear();
        self.index = NameIndex::default();
    }

    /// Parameter names in insertion order.
    ///
    /// ```
    /// use pyro::prelude::*;
    /// let mut store = pyro::params::ParamStore::<Cpu>::new();
    /// for n in ["b", "a", "c"] {
    ///     store.set(n, &DynTensor::scalar(0.0)).unwrap();
    /// }
    /// assert_eq!(store.keys().collect::<Vec<_>>(), vec!["b", "a", "c"]);
    /// ```
    pub fn keys(&self) -> impl Iterator<Item = &str> + '_ {
        self.entries.iter().map(|e| e.name.as_str())
    }

    /// `(name, constrained value)` pairs in insertion order (Pyro's `items()`).
    ///
    /// ```
    /// use pyro::prelude::*;
    /// let mut store = pyro::params::ParamStore::<Cpu>::new();
    /// store.param("s", DynTensor::scalar(2.0), Constraint::Positive, None).unwrap();
    /// let (name, v) = store.items().next().unwrap();
    /// assert_eq!(name, "s");
    /// assert!((v.to_vec()[0] - 2.0).abs() < 1e-6);
    /// ```
    pub fn items(&self) -> impl Iterator<Item = (&str, DynTensor<D>)> + '_ {
        self.entries
            .iter()
            .map(|e| (e.name.as_str(), e.constrained()))
    }

    /// `(name, unconstrained leaf)` pairs in insertion order: what an optimizer updates.
    ///
    /// ```
    /// use pyro::prelude::*;
    /// let mut store = pyro::params::ParamStore::<Cpu>::new();
    /// store.param("s", DynTensor::scalar(1.0), Constraint::Positive, None).unwrap();
    /// let (name, leaf) = store.named_parameters().next().unwrap();
    /// assert_eq!((name, leaf.to_vec()), ("s", vec![0.0]));
    /// ```
    pub fn named_parameters(&self) -> impl Iterator<Item = (&str, &DynTensor<D>)> + '_ {
        self.entries
            .iter()
            .map(|e| (e.name.as_str(), &e.unconstrained))
    }

    /// The constraint of a parameter.
    ///
    /// ```
    /// use pyro::prelude::*;
    /// let mut store = pyro::params::ParamStore::<Cpu>::new();
    /// store.param("s", DynTensor::scalar(1.0), Constraint::Positive, None).unwrap();
    /// assert_eq!(store.constraint("s"), Some(&Constraint::Positive));
    /// ```
    pub fn constraint(&self, name: &str) -> Option<&Constraint> {
        self.entry(name).map(|e| &e.constraint)
    }

    /// The `event_dim` a parameter was declared with: `None` when the parameter is absent,
    /// `Some(None)` when it was declared without one.
    ///
    /// ```
    /// use pyro::prelude::*;
    /// let mut store = pyro::params::ParamStore::<Cpu>::new();
    /// store.param("m", DynTensor::zeros(&[2, 3]), Constraint::Real, Some(2)).unwrap();
    /// assert_eq!(store.event_dim("m"), Some(Some(2)));
    /// assert_eq!(store.event_dim("z"), None);
    /// ```
    pub fn event_dim(&self, name: &str) -> Option<Option<usize>> {
        self.entry(name).map(|e| e.event_dim)
    }

    /// The name of the parameter whose unconstrained leaf is `t` (the same node), as
    /// Pyro's `param_name(p)`.
    ///
    /// ```
    /// use pyro::prelude::*;
    /// let mut store = pyro::params::ParamStore::<Cpu>::new();
    /// store.set("w", &DynTensor::zeros(&[2])).unwrap();
    /// let leaf = store.get_unconstrained("w").unwrap().clone();
    /// assert_eq!(store.param_name(&leaf), Some("w"));
    /// assert_eq!(store.param_name(&DynTensor::zeros(&[2])), None);
    /// ```
    pub fn param_name(&self, t: &DynTensor<D>) -> Option<&str> {
        self.entries
            .iter()
            .find(|e| e.unconstrained.same_node(t))
            .map(|e| e.name.as_str())
    }

    /// Every parameter whose name matches the regular expression `pattern` at its start, with
    /// its constrained value, in insertion order. This is Pyro's `param_store.match(pattern)`,
    /// which uses Python's `re.match`: the match is anchored at the start of the name but not
    /// at its end (`"loc"` matches `"loc_q"`; add `$` for a whole-name match). Syntax is the
    /// `regex` crate's (close to Python's for the patterns names use; no look-around).
    ///
    /// ```
    /// use pyro::prelude::*;
    /// let mut store = pyro::params::ParamStore::<Cpu>::new();
    /// for n in ["loc_q", "scale_q", "AutoNormal.loc"] {
    ///     store.set(n, &DynTensor::scalar(0.0)).unwrap();
    /// }
    /// let names = |v: Vec<(String, DynTensor)>| v.into_iter().map(|(n, _)| n).collect::<Vec<_>>();
    /// assert_eq!(names(store.match_regex("loc").unwrap()), vec!["loc_q"]);
    /// assert_eq!(names(store.match_regex(".*loc").unwrap()), vec!["loc_q", "AutoNormal.loc"]);
    /// assert!(store.match_regex("(").is_err());
    /// ```
    pub fn match_regex(&self, pattern: &str) -> ParamResult<Vec<(String, DynTensor<D>)>> {
        let re = regex::Regex::new(&format!(r"\A(?:{pattern})")).map_err(|source| {
            ParamStoreError::Regex {
                pattern: pattern.to_string(),
                source,
            }
        })?;
        Ok(self
            .entries
            .iter()
            .filter(|e| re.is_match(&e.name))
            .map(|e| (e.name.clone(), e.constrained()))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use dfdx::prelude::Cpu;

    use super::*;
    use crate::tensor::GradScope;

    fn t(v: &[f32], shape: &[usize]) -> DynTensor<Cpu> {
        DynTensor::from_vec(v.to_vec(), shape).unwrap()
    }

    #[test]
    fn value_init_stores_and_returns() {
        let mut s = ParamStore::<Cpu>::new();
        let x = s
            .param("w", t(&[1.0, -2.0, 3.0], &[3]), Constraint::Real, None)
            .unwrap();
        assert_eq!(x.to_vec(), vec![1.0, -2.0, 3.0]);
        assert_eq!(x.shape(), &[3]);
        assert_eq!(s.get("w").unwrap().to_vec(), vec![1.0, -2.0, 3.0]);
        assert_eq!(s.constraint("w"), Some(&Constraint::Real));
        assert_eq!(s.event_dim("w"), Some(None));
    }

    #[test]
    fn lazy_init_called_exactly_once() {
        let mut s = ParamStore::<Cpu>::new();
        let calls = Cell::new(0usize);
        let make = || {
            calls.set(calls.get() + 1);
            t(&[0.5, 0.25], &[2])
        };
        let a = s
            .param("p", ParamInit::lazy(make), Constraint::UnitInterval, None)
            .unwrap();
        assert_eq!(calls.get(), 1);
        let b = s
            .param("p", ParamInit::lazy(make), Constraint::UnitInterval, None)
            .unwrap();
        assert_eq!(
            calls.get(),
            1,
            "lazy init must not run when the name exists"
        );
        assert_eq!(a.to_vec(), b.to_vec());
        for (v, want) in a.to_vec().iter().zip([0.5f32, 0.25]) {
            assert!((v - want).abs() < 1e-6);
        }
        // A lazy init that fails is reported with the parameter's name, and nothing stored.
        let e = s
            .param(
                "bad",
                ParamInit::try_lazy(|| DynTensor::from_vec(vec![1.0], &[2])),
                Constraint::Real,
                None,
            )
            .unwrap_err();
        assert!(matches!(e, ParamStoreError::Init { ref name, .. } if name == "bad"));
        assert!(!s.contains("bad"));
    }

    #[test]
    fn second_call_returns_stored_value_ignoring_init_and_constraint() {
        let mut s = ParamStore::<Cpu>::new();
        s.param("s", t(&[2.0], &[1]), Constraint::Positive, Some(0))
            .unwrap();
        let again = s
            .param("s", t(&[-7.0, 1.0], &[2]), Constraint::Real, None)
            .unwrap();
        assert_eq!(again.shape(), &[1]);
        assert!((again.to_vec()[0] - 2.0).abs() < 1e-6);
        assert_eq!(s.constraint("s"), Some(&Constraint::Positive));
        assert_eq!(s.event_dim("s"), Some(Some(0)));
        assert_eq!(s.len(), 1);
    }

    #[test]
    fn positive_param_is_stored_as_log() {
        let init = [1e-3f32, 0.7, 1.0, 12.5, 3e4];
        let mut s = ParamStore::<Cpu>::new();
        let got = s
            .param("scale", t(&init, &[5]), Constraint::Positive, None)
            .unwrap();
        let u = s.get_unconstrained("scale").unwrap().to_vec();
        for ((ui, gi), &xi) in u.iter().zip(got.to_vec()).zip(&init) {
            assert!(
                (*ui as f64 - (xi as f64).ln()).abs() < 1e-6,
                "{ui} vs ln {xi}"
            );
            assert!(((gi - xi) / xi).abs() < 1e-6, "{gi} vs {xi}");
        }
    }

    #[test]
    fn invalid_inits_are_typed_errors_and_store_nothing() {
        let mut s = ParamStore::<Cpu>::new();
        let e = s
            .param("s", t(&[1.0, 0.0], &[2]), Constraint::Positive, None)
            .unwrap_err();
        assert!(
            matches!(e, ParamStoreError::OutOfSupport { ref name, index: 1, .. } if name == "s")
        );
        let e = s
            .param("e", t(&[1.0], &[1]), Constraint::Real, Some(2))
            .unwrap_err();
        assert!(matches!(e, ParamStoreError::EventDim { event_dim: 2, .. }));
        let e = s
            .param("c", t(&[0.3], &[1]), Constraint::Boolean, None)
            .unwrap_err();
        assert!(matches!(e, ParamStoreError::UnsupportedConstraint { .. }));
        let e = s
            .param("c", t(&[0.3, 0.3], &[2]), Constraint::Simplex, None)
            .unwrap_err();
        assert!(matches!(
            e,
            ParamStoreError::EventOutOfSupport { event: 0, .. }
        ));
        assert!(s.is_empty());
    }

    /// d loss / d leaf through every supported bijection, against central finite differences
    /// of the same loss evaluated through the store.
    #[test]
    fn gradient_reaches_unconstrained_leaf() {
        let cases = [
            (Constraint::Real, vec![0.3f32, -1.2]),
            (Constraint::Positive, vec![0.5, 2.0]),
            (Constraint::GreaterThan(-1.0), vec![0.0, 1.5]),
            (Constraint::LessThan(2.0), vec![1.0, -0.5]),
            (Constraint::UnitInterval, vec![0.2, 0.7]),
            (Constraint::Interval(-2.0, 3.0), vec![-1.0, 2.0]),
            (Constraint::SoftplusPositive, vec![0.4, 3.0]),
        ];
        let w = [1.5f32, -0.7];
        // loss(x) = sum(w * x^2): nonlinear in x, so the bijection's derivative matters.
        let loss_of = |x: &DynTensor<Cpu>| x.square().mul(&t(&w, &[2])).unwrap().sum();
        for (c, init) in cases {
            let mut s = ParamStore::<Cpu>::new();
            s.param("p", t(&init, &[2]), c.clone(), None).unwrap();
            let leaf = s.get_unconstrained("p").unwrap().clone();
            let scope = GradScope::<Cpu>::open();
            let x = s.get("p").unwrap();
            let loss = loss_of(&x);
            let grads = scope.backward(&loss).unwrap();
            let g = grads.get_or_zeros(&leaf).to_vec();
            let u0 = leaf.to_vec();
            for i in 0..2 {
                let h = 1e-2f32;
                let mut f = [0.0f32; 2];
                for (k, sign) in [1.0f32, -1.0].into_iter().enumerate() {
                    let mut u = u0.clone();
                    u[i] += sign * h;
                    s.replace_unconstrained("p", &t(&u, &[2])).unwrap();
                    f[k] = loss_of(&s.get("p").unwrap()).item().unwrap();
                }
                let fd = (f[0] - f[1]) / (2.0 * h);
                assert!(
                    (g[i] - fd).abs() <= 3e-3 * (1.0 + fd.abs()),
                    "{c}: grad[{i}] = {}, finite difference {fd}",
                    g[i]
                );
            }
        }
    }

    /// (constraint, constrained init, its shape, leaf shape).
    type EventCase = (Constraint, Vec<f32>, Vec<usize>, Vec<usize>);

    /// The event-shaped constraints.
    fn event_cases() -> Vec<EventCase> {
        // A correlation Cholesky factor: rows of unit norm, positive diagonal.
        let (a, b) = (0.6f32, -0.48f32);
        let c = (1.0 - b * b - 0.36f32 * 0.36).sqrt();
        vec![
            // Two simplex rows (a batch of 2 events).
            (
                Constraint::Simplex,
                vec![0.2, 0.3, 0.5, 0.05, 0.9, 0.05],
                vec![2, 3],
                vec![2, 3],
            ),
            (
                Constraint::LowerCholesky,
                vec![1.5, 0.0, 0.0, -0.4, 0.2, 0.0, 2.0, 0.7, 3.0],
                vec![3, 3],
                vec![3, 3],
            ),
            (
                Constraint::CorrCholesky,
                vec![1.0, 0.0, 0.0, a, 0.8, 0.0, b, 0.36, c],
                vec![3, 3],
                vec![3],
            ),
            (
                Constraint::PositiveDefinite,
                vec![4.0, 1.0, 1.0, 2.0],
                vec![2, 2],
                vec![2, 2],
            ),
        ]
    }

    /// A value of every event-shaped constraint comes back from the store (through its
    /// unconstrained leaf, of the transform's inverse shape) to 1e-5.
    #[test]
    fn event_shaped_params_return_their_init() {
        for (c, init, shape, leaf_shape) in event_cases() {
            let mut s = ParamStore::<Cpu>::new();
            let ed = Some(c.event_dim());
            let got = s.param("p", t(&init, &shape), c.clone(), ed).unwrap();
            assert_eq!(got.shape(), &shape[..], "{c}");
            assert_eq!(s.get_unconstrained("p").unwrap().shape(), &leaf_shape[..]);
            assert_eq!(s.event_dim("p"), Some(ed));
            assert!(c.check_all(&got), "{c}: {:?}", got.to_vec());
            for (g, x) in got.to_vec().iter().zip(&init) {
                assert!((g - x).abs() <= 1e-5 * (1.0 + x.abs()), "{c}: {g} vs {x}");
            }
            // The leaf of lower_cholesky / positive_definite is zero above the diagonal.
            if leaf_shape.len() == 2 && c != Constraint::Simplex {
                let n = leaf_shape[1];
                let u = s.get_unconstrained("p").unwrap().to_vec();
                for i in 0..n {
                    for j in i + 1..n {
                        assert_eq!(u[i * n + j], 0.0, "{c}");
                    }
                }
            }
        }
    }

    /// `set` on event-shaped parameters: a value of the same leaf shape keeps the leaf's id,
    /// another size gets a new leaf, a bad value is a typed error and changes nothing.
    #[test]
    fn set_event_shaped_params() {
        let mut s = ParamStore::<Cpu>::new();
        let (c, init, shape, _) = event_cases().swap_remove(2); // corr_cholesky 3 x 3
        s.param("L", t(&init, &shape), c, Some(2)).unwrap();
        let id = s.get_unconstrained("L").unwrap().clone();
        let eye = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0];
        s.set("L", &t(&eye, &[3, 3])).unwrap();
        assert!(s.get_unconstrained("L").unwrap().same_node(&id));
        assert_eq!(s.get_unconstrained("L").unwrap().to_vec(), vec![0.0; 3]);
        let back = s.get("L").unwrap().to_vec();
        assert!(back.iter().zip(eye).all(|(a, b)| (a - b).abs() < 1e-6));
        // Not a correlation factor (second row has norm 2): rejected, nothing changed.
        let bad = [1.0, 0.0, 0.0, 0.0, 2.0, 0.0, 0.0, 0.0, 1.0];
        let e = s.set("L", &t(&bad, &[3, 3])).unwrap_err();
        assert!(
            matches!(e, ParamStoreError::EventOutOfSupport { ref name, event: 0, .. } if name == "L"),
            "{e}"
        );
        assert_eq!(s.get_unconstrained("L").unwrap().to_vec(), vec![0.0; 3]);
        // A 2 x 2 factor: a new leaf of shape [1].
        s.set("L", &t(&[1.0, 0.0, 0.6, 0.8], &[2, 2])).unwrap();
        let leaf = s.get_unconstrained("L").unwrap();
        assert_eq!(leaf.shape(), &[1]);
        assert!(!leaf.same_node(&id));
        assert!((leaf.to_vec()[0] as f64 - 0.6f64.atanh()).abs() < 1e-5);
        // The smallest case: a 1 x 1 factor, stored as an empty leaf.
        s.set("L", &t(&[1.0], &[1, 1])).unwrap();
        assert_eq!(s.get_unconstrained("L").unwrap().shape(), &[0]);
        assert_eq!(s.get("L").unwrap().to_vec(), vec![1.0]);
    }

    /// d loss / d leaf through the event-shaped transforms (softmax, lower-Cholesky,
    /// corr-Cholesky with its change of shape, positive-definite) against central finite
    /// differences of the same loss evaluated through the store.
    #[test]
    fn gradient_reaches_event_shaped_leaves() {
        for (c, init, shape, leaf_shape) in event_cases() {
            let n: usize = shape.iter().product();
            // loss(x) = sum(w * x^2) with distinct weights, so every entry matters.
            let w: Vec<f32> = (0..n).map(|i| 0.5 + 0.3 * i as f32).collect();
            let loss_of = |x: &DynTensor<Cpu>| x.square().mul(&t(&w, &shape)).unwrap().sum();
            let mut s = ParamStore::<Cpu>::new();
            s.param("p", t(&init, &shape), c.clone(), None).unwrap();
            let leaf = s.get_unconstrained("p").unwrap().clone();
            let scope = GradScope::<Cpu>::open();
            let loss = loss_of(&s.get("p").unwrap());
            let grads = scope.backward(&loss).unwrap();
            let g = grads.get_or_zeros(&leaf).to_vec();
            let u0 = leaf.to_vec();
            assert_eq!(g.len(), u0.len());
            for i in 0..u0.len() {
                let h = 1e-2f32;
                let mut f = [0.0f32; 2];
                for (k, sign) in [1.0f32, -1.0].into_iter().enumerate() {
                    let mut u = u0.clone();
                    u[i] += sign * h;
                    s.replace_unconstrained("p", &t(&u, &leaf_shape)).unwrap();
                    f[k] = loss_of(&s.get("p").unwrap()).item().unwrap();
                }
                let fd = (f[0] - f[1]) / (2.0 * h);
                assert!(
                    (g[i] - fd).abs() <= 5e-3 * (1.0 + fd.abs()),
                    "{c}: grad[{i}] = {}, finite difference {fd}",
                    g[i]
                );
            }
        }
    }

    #[test]
    fn leaf_keeps_its_id_across_updates() {
        let mut s = ParamStore::<Cpu>::new();
        s.param("s", t(&[1.0, 2.0], &[2]), Constraint::Positive, None)
            .unwrap();
        let held = s.get_unconstrained("s").unwrap().clone();
        let id = held.clone();
        s.replace_unconstrained("s", &t(&[0.0, 0.0], &[2])).unwrap();
        s.set("s", &t(&[3.0, 4.0], &[2])).unwrap();
        let leaf = s.get_unconstrained("s").unwrap();
        assert!(leaf.same_node(&id));
        assert_eq!(s.param_name(&held), Some("s"));
        // Copy-on-write: the clone taken before the updates kept its values.
        assert_eq!(held.to_vec(), vec![0.0, 2f32.ln()]);
        let v = s.get("s").unwrap().to_vec();
        assert!((v[0] - 3.0).abs() < 1e-6 && (v[1] - 4.0).abs() < 1e-6);
        // Wrong shape / non-finite / absent: typed errors, nothing changed.
        let e = s.replace_unconstrained("s", &t(&[0.0], &[1])).unwrap_err();
        assert!(
            matches!(e, ParamStoreError::ShapeMismatch { ref expected, .. } if expected == &[2])
        );
        let e = s
            .replace_unconstrained("s", &t(&[0.0, f32::NAN], &[2]))
            .unwrap_err();
        assert!(matches!(e, ParamStoreError::NonFinite { index: 1, .. }));
        let e = s.replace_unconstrained("q", &t(&[0.0], &[1])).unwrap_err();
        assert!(matches!(e, ParamStoreError::NotFound { ref name } if name == "q"));
        let v = s.get("s").unwrap().to_vec();
        assert!((v[0] - 3.0).abs() < 1e-6 && (v[1] - 4.0).abs() < 1e-6);
    }

    #[test]
    fn set_new_name_is_real_and_new_shape_gets_new_leaf() {
        let mut s = ParamStore::<Cpu>::new();
        s.set("a", &t(&[-5.0], &[1])).unwrap();
        assert_eq!(s.constraint("a"), Some(&Constraint::Real));
        s.param("b", t(&[1.0], &[1]), Constraint::Positive, None)
            .unwrap();
        s.set("b", &t(&[1.0, 2.0, 3.0], &[3])).unwrap();
        let v = s.get("b").unwrap();
        assert_eq!(v.shape(), &[3]);
        assert!((v.to_vec()[2] - 3.0).abs() < 1e-5);
        assert!(s.set("b", &t(&[-1.0], &[1])).is_err());
        assert_eq!(s.get("b").unwrap().shape(), &[3]);
    }

    #[test]
    fn keys_in_insertion_order_through_remove_and_clear() {
        let mut s = ParamStore::<Cpu>::new();
        for n in ["z", "a", "m", "b"] {
            s.set(n, &t(&[0.0], &[1])).unwrap();
        }
        assert_eq!(s.keys().collect::<Vec<_>>(), ["z", "a", "m", "b"]);
        assert!(s.remove("a").is_some());
        assert_eq!(s.keys().collect::<Vec<_>>(), ["z", "m", "b"]);
        // The index is rebuilt: later names are still found.
        assert!(s.contains("b") && s.get("m").is_some());
        s.set("a", &t(&[1.0], &[1])).unwrap();
        assert_eq!(s.keys().collect::<Vec<_>>(), ["z", "m", "b", "a"]);
        assert_eq!(
            s.named_parameters().map(|(n, _)| n).collect::<Vec<_>>(),
            ["z", "m", "b", "a"]
        );
        s.clear();
        assert!(s.is_empty() && s.keys().next().is_none() && !s.contains("z"));
    }

    #[test]
    fn regex_match_is_anchored_at_start_like_re_match() {
        let mut s = ParamStore::<Cpu>::new();
        for n in ["loc", "loc_q", "scale_q", "net.loc", "Loc"] {
            s.set(n, &t(&[1.0], &[1])).unwrap();
        }
        let names = |p: &str| -> Vec<String> {
            s.match_regex(p)
                .unwrap()
                .into_iter()
                .map(|(n, _)| n)
                .collect()
        };
        assert_eq!(names("loc"), ["loc", "loc_q"]);
        assert_eq!(names("loc$"), ["loc"]);
        assert_eq!(names(".*_q"), ["loc_q", "scale_q"]);
        assert_eq!(names("(?i)loc$"), ["loc", "Loc"]);
        assert_eq!(names("q"), Vec::<String>::new());
        // An alternation stays anchored as a whole.
        assert_eq!(names("scale|net"), ["scale_q", "net.loc"]);
        let e = s.match_regex("loc[").unwrap_err();
        assert!(matches!(e, ParamStoreError::Regex { ref pattern, .. } if pattern == "loc["));
    }
}
