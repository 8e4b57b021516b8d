//! The thread's default parameter store (Pyro's global `ParamStoreDict`), one per backend.

use std::any::{Any, TypeId};
use std::cell::RefCell;
use std::path::Path;
use std::rc::Rc;

use dfdx::prelude::Cpu;

use crate::constraints::Constraint;
use crate::tensor::{Backend, DynTensor};

use super::error::{ParamResult, ParamStoreError};
use super::store::{ParamInit, ParamStore};

thread_local! {
    /// `(TypeId::of::<D>(), Rc<RefCell<ParamStore<D>>>)`, one entry per backend used (a list:
    /// there are one or two, and every parameter read looks its store up here).
    static STORES: RefCell<Vec<(TypeId, Rc<dyn Any>)>> = const { RefCell::new(Vec::new()) };
}

fn store_cell<D: Backend>() -> Rc<RefCell<ParamStore<D>>> {
    STORES.with(|m| {
        let mut m = m.borrow_mut();
        let key = TypeId::of::<D>();
        let rc = match m.iter().find(|(k, _)| *k == key) {
            Some((_, rc)) => rc.clone(),
            None => {
                let rc: Rc<dyn Any> = Rc::new(RefCell::new(ParamStore::<D>::new()));
                m.push((key, rc.clone()));
                rc
            }
        };
        rc.downcast::<RefCell<ParamStore<D>>>()
            .expect("the list is keyed by the store's backend type")
    })
}

/// Runs `f` on the thread's default store for backend `D` (each backend has its own store,
/// as tensors of two devices cannot meet). See [`with_param_store`] for the CPU store.
///
/// Errors with [`ParamStoreError::Busy`] when called from inside another `with_param_store`
/// on the same store (the store is lent out by `&mut` for the duration of `f`).
///
/// ```
/// use pyro::prelude::*;
/// let n = pyro::params::with_param_store_on::<Cpu, _>(|s| s.len()).unwrap();
/// assert_eq!(n, 0);
/// ```
pub fn with_param_store_on<D: Backend, R>(
    f: impl FnOnce(&mut ParamStore<D>) -> R,
) -> ParamResult<R> {
    let cell = store_cell::<D>();
    let mut store = cell.try_borrow_mut().map_err(|_| ParamStoreError::Busy)?;
    Ok(f(&mut store))
}

/// Runs `f` on the thread's default (CPU) store: the store [`param`] uses, Pyro's
/// `pyro.get_param_store()`. A closure rather than a returned reference because the store is
/// thread-local; what `f` returns is handed back.
///
/// ```
/// use pyro::prelude::*;
/// use pyro::params::{param, with_param_store};
/// pyro::clear_param_store();
/// param("w", DynTensor::<Cpu>::zeros(&[2]), Constraint::Real, None).unwrap();
/// let names = with_param_store(|s| s.keys().map(String::from).collect::<Vec<_>>()).unwrap();
/// assert_eq!(names, ["w"]);
/// // Saving the default store:
/// let path = std::env::temp_dir().join(format!("doc-with-param-store-{}.safetensors", std::process::id()));
/// with_param_store(|s| s.save(&path)).unwrap().unwrap();
/// # std::fs::remove_file(&path).unwrap();
/// ```
pub fn with_param_store<R>(f: impl FnOnce(&mut ParamStore<Cpu>) -> R) -> ParamResult<R> {
    with_param_store_on::<Cpu, R>(f)
}

/// Pyro's `pyro.param(name, init, constraint, event_dim)` on the thread's default store for
/// the init's backend: creates the parameter on first use and returns its constrained value
/// (on the graph) every time. See [`ParamStore::param`] for the semantics and [`ParamInit`]
/// for lazy initial values. A lazy init runs outside the store's borrow, so it may itself
/// read or create other parameters.
///
/// ```
/// use pyro::prelude::*;
/// use pyro::params::{param, ParamInit};
/// pyro::clear_param_store();
/// let scale = param("scale", DynTensor::<Cpu>::full(&[3], 0.5), Constraint::Positive, None).unwrap();
/// assert!((scale.to_vec()[0] - 0.5).abs() < 1e-6);
/// let loc = param("loc", ParamInit::lazy(|| DynTensor::<Cpu>::zeros(&[3])), Constraint::Real, Some(1)).unwrap();
/// assert_eq!(loc.shape(), &[3]);
/// ```
pub fn param<'a, D: Backend>(
    name: &str,
    init: impl Into<ParamInit<'a, D>>,
    constraint: Constraint,
    event_dim: Option<usize>,
) -> ParamResult<DynTensor<D>> {
    if let Some(v) = with_param_store_on::<D, _>(|s| s.get(name))? {
        return Ok(v);
    }
    // Resolve a lazy init with the store released.
    let value = init.into().resolve(name)?;
    with_param_store_on::<D, _>(|s| s.param(name, value, constraint, event_dim))?
}

/// The constrained value of a parameter of the thread's default store for backend `D`, or
/// `None` when absent (Pyro's `pyro.param(name)` without an init).
///
/// ```
/// use pyro::prelude::*;
/// pyro::clear_param_store();
/// assert!(pyro::params::get_param::<Cpu>("nope").unwrap().is_none());
/// ```
pub fn get_param<D: Backend>(name: &str) -> ParamResult<Option<DynTensor<D>>> {
    with_param_store_on::<D, _>(|s| s.get(name))
}

/// [`get_param`] with the hash the name carries (the runtime's param sites).
pub(crate) fn get_param_named<D: Backend>(
    name: &crate::name::Name,
) -> ParamResult<Option<DynTensor<D>>> {
    with_param_store_on::<D, _>(|s| s.get_named(name))
}

/// Empties the thread's default stores, of every backend (Pyro's `pyro.clear_param_store()`).
/// Never fails: a store lent out by a running `with_param_store` is detached, so the edits
/// that call makes after this point are dropped with it.
///
/// ```
/// use pyro::prelude::*;
/// pyro::params::param("w", DynTensor::<Cpu>::zeros(&[1]), Constraint::Real, None).unwrap();
/// pyro::clear_param_store();
/// assert!(pyro::params::get_param::<Cpu>("w").unwrap().is_none());
/// ```
pub fn clear_param_store() {
    STORES.with(|m| m.borrow_mut().clear());
}

/// Saves the thread's default CPU store to `path` (see [`ParamStore::save`]).
///
/// ```
/// use pyro::prelude::*;
/// pyro::clear_param_store();
/// pyro::params::param("w", DynTensor::<Cpu>::ones(&[2]), Constraint::Positive, None).unwrap();
/// let path = std::env::temp_dir().join(format!("doc-save-param-store-{}.safetensors", std::process::id()));
/// pyro::params::save_param_store(&path).unwrap();
/// pyro::clear_param_store();
/// pyro::params::load_param_store(&path).unwrap();
/// assert_eq!(pyro::params::get_param::<Cpu>("w").unwrap().unwrap().to_vec(), vec![1.0, 1.0]);
/// # std::fs::remove_file(&path).unwrap();
/// ```
pub fn save_param_store(path: impl AsRef<Path>) -> ParamResult<()> {
    with_param_store(|s| s.save(path))?
}

/// Loads `path` into the thread's default CPU store (see [`ParamStore::load`]).
///
/// ```
/// let err = pyro::params::load_param_store("/no/such/file.safetensors").unwrap_err();
/// assert!(err.to_string().contains("/no/such/file.safetensors"));
/// ```
pub fn load_param_store(path: impl AsRef<Path>) -> ParamResult<()> {
    with_param_store(|s| s.load(path))?
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    #[test]
    fn global_param_lazy_once_and_clear() {
        clear_param_store();
        let calls = Cell::new(0);
        let make = || {
            calls.set(calls.get() + 1);
            DynTensor::<Cpu>::full(&[2], 3.0)
        };
        let a = param("g", ParamInit::lazy(make), Constraint::Positive, None).unwrap();
        let b = param("g", ParamInit::lazy(make), Constraint::Positive, None).unwrap();
        assert_eq!(calls.get(), 1);
        assert_eq!(a.to_vec(), b.to_vec());
        assert!((a.to_vec()[0] - 3.0).abs() < 1e-6);
        clear_param_store();
        assert!(get_param::<Cpu>("g").unwrap().is_none());
        param("g", ParamInit::lazy(make), Constraint::Positive, None).unwrap();
        assert_eq!(calls.get(), 2);
        clear_param_store();
    }

    #[test]
    fn lazy_init_may_use_the_store_and_nested_borrow_is_an_error() {
        clear_param_store();
        // The init of "b" reads "a": allowed, the store is not borrowed while it runs.
        param("a", DynTensor::<Cpu>::scalar(2.0), Constraint::Real, None).unwrap();
        let b = param(
            "b",
            ParamInit::lazy(|| get_param::<Cpu>("a").unwrap().unwrap().mul_scalar(10.0)),
            Constraint::Real,
            None,
        )
        .unwrap();
        assert_eq!(b.to_vec(), vec![20.0]);
        let nested = with_param_store(|_| with_param_store(|s| s.len())).unwrap();
        assert!(matches!(nested, Err(ParamStoreError::Busy)));
        // `with_param_store` is `with_param_store_on::<Cpu, _>`: one store.
        assert_eq!(with_param_store_on::<Cpu, _>(|s| s.len()).unwrap(), 2);
        clear_param_store();
    }

    #[test]
    fn stores_are_per_thread() {
        clear_param_store();
        param(
            "here",
            DynTensor::<Cpu>::scalar(1.0),
            Constraint::Real,
            None,
        )
        .unwrap();
        let seen_elsewhere = std::thread::spawn(|| get_param::<Cpu>("here").unwrap().is_some())
            .join()
            .unwrap();
        assert!(!seen_elsewhere);
        assert!(get_param::<Cpu>("here").unwrap().is_some());
        clear_param_store();
    }
}
