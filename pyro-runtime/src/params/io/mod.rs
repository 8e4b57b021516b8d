//! Saving and loading a [`ParamStore`] as a safetensors file.
//!
//! # File format (version 1)
//!
//! A standard [safetensors](https://github.com/huggingface/safetensors) file, readable by any
//! safetensors reader (e.g. Python's `safetensors.torch.load_file`):
//!
//! - one `F32` tensor per parameter, named by the parameter, holding its **unconstrained**
//!   value with its shape (row-major, little-endian; the leaf's shape, which differs from the
//!   value's for `corr_cholesky`: `[..., n(n-1)/2]` for `[..., n, n]`);
//! - the header's `__metadata__` string map holds
//!   - `format` = `pyro-rs/param-store/1`,
//!   - `constraint:<name>` = the constraint's `Display` form (`positive`, `interval(0, 1)`;
//!     parsed back with [`Constraint`](crate::constraints::Constraint)'s `FromStr`),
//!   - `event_dim:<name>` = a decimal number, or `none`,
//!   - `index:<name>` = the parameter's position in insertion order (safetensors itself
//!     sorts tensors by name).
//!
//! Every parameter has all three entries; any other key is rejected on load.

mod atomic;
mod parse;

use std::collections::HashMap;
use std::path::Path;

use safetensors::tensor::{Dtype, TensorView};

use super::error::{ParamResult, ParamStoreError};
use super::store::{overwrite_leaf, Entry, ParamStore};
use crate::tensor::{Backend, DynTensor};
pub(crate) use atomic::write_atomic;
use parse::parse_file;

pub(super) const FORMAT_KEY: &str = "format";
pub(super) const FORMAT: &str = "pyro-rs/param-store/1";
pub(super) const CONSTRAINT: &str = "constraint";
pub(super) const EVENT_DIM: &str = "event_dim";
pub(super) const INDEX: &str = "index";
/// safetensors keeps this tensor name for its metadata map.
pub(super) const RESERVED: &str = "__metadata__";

pub(super) fn meta_key(kind: &str, name: &str) -> String {
    format!("{kind}:{name}")
}

impl<D: Backend> ParamStore<D> {
    /// Writes every parameter (unconstrained values, constraints, `event_dim`s, order) to
    /// `path` as a safetensors file (format in the [module docs](super::io)), atomically: the
    /// bytes go to a temporary file in the same directory, which is flushed to disk and then
    /// renamed over `path`. A failed save leaves any previous file at `path` as it was and
    /// removes its temporary file. Errors name the file.
    ///
    /// ```
    /// use pyro::prelude::*;
    /// use pyro::params::ParamStore;
    /// let mut store = ParamStore::<Cpu>::new();
    /// store.param("scale", DynTensor::full(&[2], 0.5), Constraint::Positive, None).unwrap();
    /// let path = std::env::temp_dir().join(format!("doc-param-save-{}.safetensors", std::process::id()));
    /// store.save(&path).unwrap();
    /// let mut other = ParamStore::<Cpu>::new();
    /// other.load(&path).unwrap();
    /// assert_eq!(other.constraint("scale"), Some(&Constraint::Positive));
    /// assert!((other.get("scale").unwrap().to_vec()[0] - 0.5).abs() < 1e-6);
    /// # std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn save(&self, path: impl AsRef<Path>) -> ParamResult<()> {
        self.save_with_hook(path.as_ref(), |_| Ok(()))
    }

    /// [`save`](Self::save) with a hook run on the temporary file just before the rename
    /// (tests inject failures there).
    pub(crate) fn save_with_hook(
        &self,
        path: &Path,
        before_rename: impl FnOnce(&Path) -> std::io::Result<()>,
    ) -> ParamResult<()> {
        let bytes = self.to_safetensors_bytes(path)?;
        write_atomic(path, &bytes, before_rename)
    }

    fn to_safetensors_bytes(&self, path: &Path) -> ParamResult<Vec<u8>> {
        let mut metadata = HashMap::new();
        metadata.insert(FORMAT_KEY.to_string(), FORMAT.to_string());
        let mut raw: Vec<(&str, Vec<usize>, Vec<u8>)> = Vec::with_capacity(self.entries.len());
        for (i, e) in self.entries.iter().enumerate() {
            if e.name == RESERVED {
                return Err(ParamStoreError::ReservedName {
                    path: path.to_path_buf(),
                    name: e.name.clone(),
                });
            }
            let bytes = e
                .unconstrained
                .to_vec()
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect();
            raw.push((&e.name, e.unconstrained.shape().to_vec(), bytes));
            metadata.insert(meta_key(CONSTRAINT, &e.name), e.constraint.to_string());
            let ed = e
                .event_dim
                .map_or_else(|| "none".to_string(), |k| k.to_string());
            metadata.insert(meta_key(EVENT_DIM, &e.name), ed);
            metadata.insert(meta_key(INDEX, &e.name), i.to_string());
        }
        let serialize_err = |reason: String| ParamStoreError::Io {
            path: path.to_path_buf(),
            op: "serialize the parameters",
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, reason).into(),
        };
        let mut views = Vec::with_capacity(raw.len());
        for (name, shape, bytes) in &raw {
            let view = TensorView::new(Dtype::F32, shape.clone(), bytes)
                .map_err(|e| serialize_err(format!("parameter `{name}`: {e}")))?;
            views.push((*name, view));
        }
        safetensors::serialize(views, &Some(metadata)).map_err(|e| serialize_err(e.to_string()))
    }

    /// Reads a file written by [`save`](Self::save) into this store, as Pyro's
    /// `param_store.load`: parameters in the file replace those of the same name (their values,
    /// constraint and `event_dim`; the leaf keeps its id), new ones are appended in the file's
    /// order, and parameters not in the file are kept.
    ///
    /// Everything is read and checked before the store is touched, so on any error the store
    /// is unchanged. Errors name the file and, where there is one, the parameter: a missing or
    /// unreadable file, a truncated file, a file that is not safetensors, a tensor that is not
    /// `F32` or holds NaN/infinite values, missing, unknown or malformed metadata, a constraint
    /// that cannot be parsed, has no transform (a discrete one) or does not fit the tensor's
    /// shape, and a shape that differs from the stored parameter's.
    ///
    /// ```
    /// use pyro::params::{ParamStore, ParamStoreError};
    /// let path = std::env::temp_dir().join(format!("doc-param-load-{}.txt", std::process::id()));
    /// std::fs::write(&path, "certainly not a safetensors file").unwrap();
    /// let mut store = ParamStore::<dfdx::prelude::Cpu>::new();
    /// let err = store.load(&path).unwrap_err();
    /// assert!(matches!(err, ParamStoreError::NotSafetensors { .. }));
    /// assert!(store.is_empty());
    /// # std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn load(&mut self, path: impl AsRef<Path>) -> ParamResult<()> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| ParamStoreError::Io {
            path: path.to_path_buf(),
            op: "read",
            source: source.into(),
        })?;
        let loaded = parse_file::<D>(path, &bytes)?;

        // Check against the store and build new leaves; no mutation yet.
        let mut new_leaves = Vec::with_capacity(loaded.len());
        for l in &loaded {
            match self.get_unconstrained(&l.name) {
                Some(old) if old.shape() != l.shape.as_slice() => {
                    return Err(ParamStoreError::LoadShapeMismatch {
                        path: path.to_path_buf(),
                        param: l.name.clone(),
                        stored: old.shape().to_vec(),
                        in_file: l.shape.clone(),
                    })
                }
                Some(_) => new_leaves.push(None),
                None => {
                    let leaf = DynTensor::from_vec(l.values.clone(), &l.shape).map_err(|e| {
                        ParamStoreError::Corrupt {
                            path: path.to_path_buf(),
                            reason: format!("parameter `{}`: {e}", l.name),
                        }
                    })?;
                    new_leaves.push(Some(leaf));
                }
            }
        }

        // Commit: infallible from here on.
        for (l, leaf) in loaded.into_iter().zip(new_leaves) {
            match leaf {
                Some(unconstrained) => self.push(Entry {
                    name: l.name,
                    unconstrained,
                    constraint: l.constraint,
                    link: l.link,
                    event_dim: l.event_dim,
                }),
                None => {
                    // (Checked above: a load without a new leaf names an existing entry.)
                    if let Some(i) = self.position(&l.name) {
                        let e = &mut self.entries[i];
                        overwrite_leaf(&mut e.unconstrained, &l.values);
                        e.constraint = l.constraint;
                        e.link = l.link;
                        e.event_dim = l.event_dim;
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
