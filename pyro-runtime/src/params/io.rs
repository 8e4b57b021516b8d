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
//!     parsed back with [`Constraint`]'s `FromStr`),
//!   - `event_dim:<name>` = a decimal number, or `none`,
//!   - `index:<name>` = the parameter's position in insertion order (safetensors itself
//!     sorts tensors by name).
//!
//! Every parameter has all three entries; any other key is rejected on load.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use safetensors::tensor::{Dtype, SafeTensorError, TensorView};
use safetensors::SafeTensors;

use crate::constraints::Constraint;
use crate::tensor::{Backend, DynTensor};

use super::error::{ParamResult, ParamStoreError};
use super::link::Link;
use super::store::{overwrite_leaf, Entry, ParamStore};

const FORMAT_KEY: &str = "format";
const FORMAT: &str = "pyro-rs/param-store/1";
const CONSTRAINT: &str = "constraint";
const EVENT_DIM: &str = "event_dim";
const INDEX: &str = "index";
/// safetensors keeps this tensor name for its metadata map.
const RESERVED: &str = "__metadata__";

fn meta_key(kind: &str, name: &str) -> String {
    format!("{kind}:{name}")
}

/// One parameter read from a file and fully checked.
struct Loaded<D: Backend> {
    name: String,
    shape: Vec<usize>,
    values: Vec<f32>,
    constraint: Constraint,
    link: Link<D>,
    event_dim: Option<usize>,
    index: usize,
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

/// Maps the safetensors crate's errors onto ours.
fn map_safetensors_error(path: &Path, e: SafeTensorError) -> ParamStoreError {
    let path = path.to_path_buf();
    match e {
        SafeTensorError::HeaderTooSmall => ParamStoreError::Truncated {
            path,
            reason: "shorter than the 8-byte header length".into(),
        },
        SafeTensorError::InvalidHeaderLength => ParamStoreError::Truncated {
            path,
            reason: "the header runs past the end of the file".into(),
        },
        SafeTensorError::MetadataIncompleteBuffer => ParamStoreError::Truncated {
            path,
            reason: "the data section's length differs from what the header declares".into(),
        },
        SafeTensorError::HeaderTooLarge
        | SafeTensorError::InvalidHeader
        | SafeTensorError::InvalidHeaderStart
        | SafeTensorError::InvalidHeaderDeserialization
        | SafeTensorError::JsonError(_) => ParamStoreError::NotSafetensors {
            path,
            reason: format!("{e:?}"),
        },
        other => ParamStoreError::Corrupt {
            path,
            reason: format!("{other:?}"),
        },
    }
}

/// Parses and checks a whole file; the result is sorted by insertion index.
fn parse_file<D: Backend>(path: &Path, bytes: &[u8]) -> ParamResult<Vec<Loaded<D>>> {
    // The safetensors parser can panic on crafted headers (an offset sum that overflows), so
    // it runs under catch_silently; a panic becomes a typed error and prints nothing.
    let parsed = crate::silent_panic::catch_silently(|| {
        let (_, meta) = SafeTensors::read_metadata(bytes)?;
        let tensors = SafeTensors::deserialize(bytes)?;
        let views: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = tensors
            .tensors()
            .into_iter()
            .map(|(n, v)| (n, v.dtype(), v.shape().to_vec(), v.data().to_vec()))
            .collect();
        Ok::<_, SafeTensorError>((meta.metadata().clone(), views))
    });
    let (metadata, mut views) = match parsed {
        Ok(Ok(x)) => x,
        Ok(Err(e)) => return Err(map_safetensors_error(path, e)),
        Err(_) => {
            return Err(ParamStoreError::Corrupt {
                path: path.to_path_buf(),
                reason: "the safetensors parser rejected the header (it panicked)".into(),
            })
        }
    };
    views.sort_by(|a, b| a.0.cmp(&b.0));
    let p = || path.to_path_buf();

    let Some(metadata) = metadata else {
        return Err(ParamStoreError::UnknownFormat {
            path: p(),
            reason: "the file has no metadata".into(),
        });
    };
    match metadata.get(FORMAT_KEY) {
        Some(f) if f == FORMAT => {}
        Some(f) => {
            return Err(ParamStoreError::UnknownFormat {
                path: p(),
                reason: format!("format `{f}`, expected `{FORMAT}`"),
            })
        }
        None => {
            return Err(ParamStoreError::UnknownFormat {
                path: p(),
                reason: format!("no `{FORMAT_KEY}` metadata entry"),
            })
        }
    }
    let names: HashSet<&str> = views.iter().map(|v| v.0.as_str()).collect();
    let mut keys: Vec<&String> = metadata.keys().collect();
    keys.sort();
    for key in keys {
        if key == FORMAT_KEY {
            continue;
        }
        let known = match key.split_once(':') {
            Some((kind, name)) => {
                [CONSTRAINT, EVENT_DIM, INDEX].contains(&kind) && names.contains(name)
            }
            None => false,
        };
        if !known {
            return Err(ParamStoreError::UnknownMetadata {
                path: p(),
                key: key.clone(),
            });
        }
    }

    let n = views.len();
    let mut seen_index = vec![false; n];
    let mut out = Vec::with_capacity(n);
    for (name, dtype, shape, data) in views {
        let get = |kind: &str| -> ParamResult<(String, &String)> {
            let key = meta_key(kind, &name);
            match metadata.get(&key) {
                Some(v) => Ok((key, v)),
                None => Err(ParamStoreError::MissingMetadata {
                    path: p(),
                    param: name.clone(),
                    key,
                }),
            }
        };
        let bad = |key: String, value: &str, reason: String| ParamStoreError::BadMetadata {
            path: p(),
            param: name.clone(),
            key,
            value: value.to_string(),
            reason,
        };
        if dtype != Dtype::F32 {
            return Err(ParamStoreError::WrongDtype {
                path: p(),
                param: name.clone(),
                dtype: format!("{dtype:?}"),
            });
        }

        let (_, text) = get(CONSTRAINT)?;
        let bad_constraint = |reason: String| ParamStoreError::BadConstraint {
            path: p(),
            param: name.clone(),
            text: text.clone(),
            reason,
        };
        let constraint: Constraint = text.parse().map_err(|e| bad_constraint(format!("{e}")))?;
        let link =
            Link::<D>::new(&name, &constraint).map_err(|e| bad_constraint(format!("{e}")))?;
        // The rank event_dim is checked against is the constrained value's.
        let constrained_shape = link
            .constrained_shape(&shape)
            .map_err(|e| bad_constraint(format!("does not fit the stored shape: {e}")))?;

        let (key, text) = get(EVENT_DIM)?;
        let event_dim = if text == "none" {
            None
        } else {
            let k: usize = text
                .parse()
                .map_err(|_| bad(key.clone(), text, "not a number or `none`".into()))?;
            if k > constrained_shape.len() {
                return Err(bad(
                    key,
                    text,
                    format!("exceeds the rank of the value's shape {constrained_shape:?}"),
                ));
            }
            Some(k)
        };

        let (key, text) = get(INDEX)?;
        let index: usize = text
            .parse()
            .map_err(|_| bad(key.clone(), text, "not a number".into()))?;
        if index >= n || seen_index[index] {
            return Err(bad(
                key,
                text,
                format!("not a unique position among the file's {n} parameters"),
            ));
        }
        seen_index[index] = true;

        let numel: usize = shape.iter().product();
        if data.len() != numel * 4 {
            return Err(ParamStoreError::Corrupt {
                path: p(),
                reason: format!(
                    "parameter `{name}`: {} bytes for shape {shape:?}",
                    data.len()
                ),
            });
        }
        let values: Vec<f32> = data
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            return Err(ParamStoreError::NonFiniteInFile {
                path: p(),
                param: name.clone(),
                index: i,
            });
        }
        // The leaf must map forward (it will be read): try it once.
        link.check_leaf(&values, &shape)
            .map_err(|e| bad_constraint(format!("does not fit the stored shape: {e}")))?;
        out.push(Loaded {
            name,
            shape,
            values,
            constraint,
            link,
            event_dim,
            index,
        });
    }
    out.sort_by_key(|l| l.index);
    Ok(out)
}

/// Writes `bytes` to `path` atomically: a uniquely named temporary file in the same
/// directory, `fsync`, `before_rename`, rename over `path`, then a best-effort `fsync` of the
/// directory. On error the temporary file is removed and `path` is untouched.
pub(crate) fn write_atomic(
    path: &Path,
    bytes: &[u8],
    before_rename: impl FnOnce(&Path) -> std::io::Result<()>,
) -> ParamResult<()> {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let io_err = |op: &'static str, source: std::io::Error| ParamStoreError::Io {
        path: path.to_path_buf(),
        op,
        source: source.into(),
    };
    let file_name = path.file_name().ok_or_else(|| {
        io_err(
            "write (the path names no file)",
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "no file name"),
        )
    })?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let tmp = dir.join(format!(
        ".{}.{}.{}.tmp",
        file_name.to_string_lossy(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .map_err(|e| io_err("create a temporary file next to it", e))?;
    let written = file
        .write_all(bytes)
        .map_err(|e| io_err("write", e))
        .and_then(|_| file.sync_all().map_err(|e| io_err("sync to disk", e)));
    drop(file);
    let result = written
        .and_then(|_| before_rename(&tmp).map_err(|e| io_err("write", e)))
        .and_then(|_| {
            std::fs::rename(&tmp, path).map_err(|e| io_err("rename the temporary file onto it", e))
        });
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
        return result;
    }
    #[cfg(unix)]
    {
        // Make the rename itself durable; some file systems refuse to sync a directory,
        // which does not undo the (already complete) save.
        if let Ok(d) = std::fs::File::open(&dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use dfdx::prelude::Cpu;

    use super::*;

    /// A fresh directory under the system temp dir, removed on drop.
    struct TempDir(PathBuf);
    impl TempDir {
        fn new(tag: &str) -> Self {
            static N: AtomicUsize = AtomicUsize::new(0);
            let p = std::env::temp_dir().join(format!(
                "pyro-params-{tag}-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            let _ = std::fs::remove_dir_all(&p);
            std::fs::create_dir_all(&p).unwrap();
            TempDir(p)
        }
        fn file(&self, name: &str) -> PathBuf {
            self.0.join(name)
        }
        fn entries(&self) -> Vec<String> {
            let mut v: Vec<String> = std::fs::read_dir(&self.0)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            v.sort();
            v
        }
    }
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn t(v: &[f32], shape: &[usize]) -> DynTensor<Cpu> {
        DynTensor::from_vec(v.to_vec(), shape).unwrap()
    }

    fn sample_store() -> ParamStore<Cpu> {
        let mut s = ParamStore::<Cpu>::new();
        s.param(
            "scale",
            t(&[0.5, 2.0, 7.0], &[3]),
            Constraint::Positive,
            Some(1),
        )
        .unwrap();
        s.param("loc", t(&[-1.25], &[]), Constraint::Real, None)
            .unwrap();
        s.param(
            "w.matrix",
            t(&[0.1, 0.2, 0.3, 0.9, 0.5, 0.6], &[2, 3]),
            Constraint::Interval(0.0, 1.5),
            Some(2),
        )
        .unwrap();
        s.param("p", t(&[0.25], &[1]), Constraint::UnitInterval, Some(0))
            .unwrap();
        s.param(
            "sp",
            t(&[3.0, 0.1], &[2]),
            Constraint::SoftplusPositive,
            None,
        )
        .unwrap();
        s.param("gt", t(&[-0.5], &[1]), Constraint::GreaterThan(-1.0), None)
            .unwrap();
        s.param("lt", t(&[9.0], &[1]), Constraint::LessThan(10.5), None)
            .unwrap();
        s
    }

    /// Everything observable about a store: names in order, shapes, exact unconstrained
    /// bits, constraints, event_dims and leaf ids.
    type Snapshot = Vec<(
        String,
        Vec<usize>,
        Vec<u32>,
        Constraint,
        Option<usize>,
        Option<crate::tensor::Key>,
    )>;
    fn snapshot(s: &ParamStore<Cpu>) -> Snapshot {
        s.named_parameters()
            .map(|(n, u)| {
                (
                    n.to_string(),
                    u.shape().to_vec(),
                    u.to_vec().iter().map(|v| v.to_bits()).collect(),
                    s.constraint(n).unwrap().clone(),
                    s.event_dim(n).unwrap(),
                    u.host_key(),
                )
            })
            .collect()
    }
    fn without_ids(mut s: Snapshot) -> Snapshot {
        for e in &mut s {
            e.5 = None;
        }
        s
    }

    #[test]
    fn constraint_text_round_trip() {
        let all = [
            Constraint::Real,
            Constraint::RealVector,
            Constraint::Positive,
            Constraint::NonNegative,
            Constraint::GreaterThan(-0.1),
            Constraint::GreaterThanEq(1e-30),
            Constraint::LessThan(f32::MAX),
            Constraint::Interval(-3.5, 1.0 / 3.0),
            Constraint::UnitInterval,
            Constraint::Simplex,
            Constraint::LowerCholesky,
            Constraint::CorrCholesky,
            Constraint::PositiveDefinite,
            Constraint::SoftplusPositive,
            Constraint::Boolean,
            Constraint::NonNegativeInteger,
            Constraint::IntegerInterval(-4, 9),
        ];
        for c in all {
            let text = c.to_string();
            assert_eq!(text.parse::<Constraint>(), Ok(c), "{text}");
        }
        for bad in [
            "",
            "reals",
            "positive(1)",
            "interval(0)",
            "interval(0, 1",
            "greater_than(x)",
            "greater_than(NaN)",
            "integer_interval(0.5, 2)",
        ] {
            assert!(bad.parse::<Constraint>().is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn save_load_round_trip() {
        let dir = TempDir::new("roundtrip");
        let path = dir.file("params.safetensors");
        let s = sample_store();
        s.save(&path).unwrap();
        assert_eq!(
            dir.entries(),
            ["params.safetensors"],
            "temporary file left behind"
        );
        let mut r = ParamStore::<Cpu>::new();
        r.load(&path).unwrap();
        assert_eq!(without_ids(snapshot(&r)), without_ids(snapshot(&s)));
        for (name, v) in s.items() {
            assert_eq!(r.get(name).unwrap().to_vec(), v.to_vec(), "{name}");
            assert_eq!(r.get(name).unwrap().shape(), v.shape(), "{name}");
        }
        // Saving again over the same path replaces it atomically.
        r.set("loc", &t(&[4.0], &[])).unwrap();
        r.save(&path).unwrap();
        let mut r2 = ParamStore::<Cpu>::new();
        r2.load(&path).unwrap();
        assert_eq!(r2.get("loc").unwrap().to_vec(), vec![4.0]);
        assert_eq!(dir.entries(), ["params.safetensors"]);
    }

    /// Event-shaped parameters survive save/load: a batch of simplex rows, a lower-Cholesky
    /// factor and a correlation factor (whose file tensor has the leaf's shape [3], not the
    /// value's [3, 3]).
    #[test]
    fn save_load_round_trip_of_event_shaped_params() {
        let dir = TempDir::new("events");
        let path = dir.file("p.safetensors");
        let simplex = [0.2f32, 0.3, 0.5, 0.05, 0.9, 0.05];
        let lower = [1.5f32, 0.0, 0.0, -0.4, 0.2, 0.0, 2.0, 0.7, 3.0];
        let corr = [1.0f32, 0.0, 0.0, 0.6, 0.8, 0.0, 0.0, 0.6, 0.8];
        let mut s = ParamStore::<Cpu>::new();
        s.param("probs", t(&simplex, &[2, 3]), Constraint::Simplex, Some(1))
            .unwrap();
        s.param(
            "scale_tril",
            t(&lower, &[3, 3]),
            Constraint::LowerCholesky,
            None,
        )
        .unwrap();
        s.param("corr", t(&corr, &[3, 3]), Constraint::CorrCholesky, Some(2))
            .unwrap();
        s.save(&path).unwrap();

        let bytes = std::fs::read(&path).unwrap();
        let st = SafeTensors::deserialize(&bytes).unwrap();
        assert_eq!(st.tensor("probs").unwrap().shape(), &[2, 3]);
        assert_eq!(st.tensor("scale_tril").unwrap().shape(), &[3, 3]);
        assert_eq!(st.tensor("corr").unwrap().shape(), &[3]);
        let (_, meta) = SafeTensors::read_metadata(&bytes).unwrap();
        let m = meta.metadata().clone().unwrap();
        assert_eq!(m["constraint:probs"], "simplex");
        assert_eq!(m["constraint:scale_tril"], "lower_cholesky");
        assert_eq!(m["constraint:corr"], "corr_cholesky");

        let mut r = ParamStore::<Cpu>::new();
        r.load(&path).unwrap();
        assert_eq!(without_ids(snapshot(&r)), without_ids(snapshot(&s)));
        assert_eq!(r.event_dim("corr"), Some(Some(2)));
        for (name, init, shape) in [
            ("probs", &simplex[..], &[2usize, 3][..]),
            ("scale_tril", &lower[..], &[3, 3][..]),
            ("corr", &corr[..], &[3, 3][..]),
        ] {
            let v = r.get(name).unwrap();
            assert_eq!(v.shape(), shape, "{name}");
            assert_eq!(v.to_vec(), s.get(name).unwrap().to_vec(), "{name}");
            for (a, b) in v.to_vec().iter().zip(init) {
                assert!(
                    (a - b).abs() <= 1e-5 * (1.0 + b.abs()),
                    "{name}: {a} vs {b}"
                );
            }
        }
    }

    #[test]
    fn file_is_plain_safetensors_of_unconstrained_f32() {
        let dir = TempDir::new("plain");
        let path = dir.file("p.safetensors");
        sample_store().save(&path).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let st = SafeTensors::deserialize(&bytes).unwrap();
        let scale = st.tensor("scale").unwrap();
        assert_eq!(scale.dtype(), Dtype::F32);
        assert_eq!(scale.shape(), &[3]);
        let v: Vec<f32> = scale
            .data()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        for (a, x) in v.iter().zip([0.5f64, 2.0, 7.0]) {
            assert!((*a as f64 - x.ln()).abs() < 1e-6);
        }
        assert_eq!(st.tensor("loc").unwrap().shape(), &[] as &[usize]);
        let (_, meta) = SafeTensors::read_metadata(&bytes).unwrap();
        let m = meta.metadata().clone().unwrap();
        assert_eq!(m["format"], FORMAT);
        assert_eq!(m["constraint:w.matrix"], "interval(0, 1.5)");
        assert_eq!(m["event_dim:w.matrix"], "2");
        assert_eq!(m["event_dim:loc"], "none");
        assert_eq!(m["index:w.matrix"], "2");
    }

    #[test]
    fn load_merges_into_existing_store_keeping_leaf_ids() {
        let dir = TempDir::new("merge");
        let path = dir.file("p.safetensors");
        let mut src = ParamStore::<Cpu>::new();
        src.param("b", t(&[5.0, 6.0], &[2]), Constraint::Positive, Some(1))
            .unwrap();
        src.param("new", t(&[1.0], &[1]), Constraint::Real, None)
            .unwrap();
        src.save(&path).unwrap();

        let mut dst = ParamStore::<Cpu>::new();
        dst.param("a", t(&[0.0], &[1]), Constraint::Real, None)
            .unwrap();
        dst.param("b", t(&[-1.0, -2.0], &[2]), Constraint::Real, None)
            .unwrap();
        let id_b = dst.get_unconstrained("b").unwrap().clone();
        dst.load(&path).unwrap();
        assert_eq!(dst.keys().collect::<Vec<_>>(), ["a", "b", "new"]);
        assert!(dst.get_unconstrained("b").unwrap().same_node(&id_b));
        assert_eq!(dst.constraint("b"), Some(&Constraint::Positive));
        assert_eq!(dst.event_dim("b"), Some(Some(1)));
        let b = dst.get("b").unwrap().to_vec();
        assert!((b[0] - 5.0).abs() < 1e-5 && (b[1] - 6.0).abs() < 1e-5);
        assert_eq!(dst.get("a").unwrap().to_vec(), vec![0.0]);
    }

    #[test]
    fn failed_write_keeps_previous_file_and_removes_temp() {
        let dir = TempDir::new("atomic");
        let path = dir.file("p.safetensors");
        let s = sample_store();
        s.save(&path).unwrap();
        let before = std::fs::read(&path).unwrap();

        // A failure after the temporary file is fully written and synced, just before the
        // rename: the old file must be untouched and the temporary file gone.
        let mut other = ParamStore::<Cpu>::new();
        other.set("x", &t(&[1.0], &[1])).unwrap();
        let mut tmp_seen = None;
        let err = other
            .save_with_hook(&path, |tmp| {
                assert!(tmp.exists() && tmp.parent() == path.parent());
                tmp_seen = Some(tmp.to_path_buf());
                Err(std::io::Error::other("injected failure"))
            })
            .unwrap_err();
        assert!(matches!(err, ParamStoreError::Io { path: ref p, .. } if p == &path));
        assert!(!tmp_seen.unwrap().exists());
        assert_eq!(std::fs::read(&path).unwrap(), before);
        assert_eq!(dir.entries(), ["p.safetensors"]);

        // A rename that fails (the target is a directory): typed error, no temp file left.
        let sub = dir.file("a_directory");
        std::fs::create_dir(&sub).unwrap();
        std::fs::write(sub.join("inside"), b"x").unwrap();
        let err = s.save(&sub).unwrap_err();
        assert!(matches!(err, ParamStoreError::Io { ref path, .. } if path == &sub));
        assert_eq!(dir.entries(), ["a_directory", "p.safetensors"]);

        // A missing directory: typed error naming the file.
        let missing = dir.file("no_such_dir").join("p.safetensors");
        let err = s.save(&missing).unwrap_err();
        assert!(matches!(err, ParamStoreError::Io { .. }));
        assert!(err.to_string().contains(&missing.display().to_string()));

        // A reserved name cannot be written; the previous file stays.
        let mut reserved = ParamStore::<Cpu>::new();
        reserved.set("__metadata__", &t(&[1.0], &[1])).unwrap();
        let err = reserved.save(&path).unwrap_err();
        assert!(matches!(err, ParamStoreError::ReservedName { .. }));
        assert_eq!(std::fs::read(&path).unwrap(), before);
        assert_eq!(dir.entries(), ["a_directory", "p.safetensors"]);
    }

    /// Writes a safetensors file with arbitrary tensors and metadata.
    fn write_raw(
        path: &Path,
        tensors: &[(&str, Dtype, Vec<usize>, Vec<u8>)],
        metadata: Option<HashMap<String, String>>,
    ) {
        let views: Vec<(&str, TensorView)> = tensors
            .iter()
            .map(|(n, d, s, b)| (*n, TensorView::new(*d, s.clone(), b).unwrap()))
            .collect();
        let bytes = safetensors::serialize(views, &metadata).unwrap();
        std::fs::write(path, bytes).unwrap();
    }

    fn good_meta(name: &str, constraint: &str) -> HashMap<String, String> {
        HashMap::from([
            ("format".to_string(), FORMAT.to_string()),
            (format!("constraint:{name}"), constraint.to_string()),
            (format!("event_dim:{name}"), "none".to_string()),
            (format!("index:{name}"), "0".to_string()),
        ])
    }

    fn f32_bytes(v: &[f32]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    /// Loads `path` into a populated store, checks the error names the file (and `param`
    /// when given) and that the store is unchanged.
    fn load_fails(path: &Path, param: Option<&str>) -> ParamStoreError {
        let mut s = sample_store();
        let before = snapshot(&s);
        let err = s.load(path).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains(&path.display().to_string()),
            "error does not name the file: {text}"
        );
        if let Some(p) = param {
            assert!(
                text.contains(&format!("`{p}`")),
                "error does not name `{p}`: {text}"
            );
        }
        assert_eq!(
            snapshot(&s),
            before,
            "store changed by a failed load: {text}"
        );
        err
    }

    #[test]
    fn malformed_files_are_typed_errors_and_leave_store_unchanged() {
        let dir = TempDir::new("malformed");
        let good = dir.file("good.safetensors");
        // A valid file holding "scale" with another shape, plus a new name: half-loading it
        // would add "fresh" before reaching the mismatch.
        let mut src = ParamStore::<Cpu>::new();
        src.set("aaa_fresh", &t(&[1.0], &[1])).unwrap();
        src.param("scale", t(&[1.0, 2.0], &[2]), Constraint::Positive, None)
            .unwrap();
        src.save(&good).unwrap();
        let e = load_fails(&good, Some("scale"));
        assert!(matches!(
            e,
            ParamStoreError::LoadShapeMismatch { ref stored, ref in_file, .. }
                if stored == &[3] && in_file == &[2]
        ));

        // Missing file.
        let e = load_fails(&dir.file("absent.safetensors"), None);
        assert!(matches!(e, ParamStoreError::Io { op: "read", .. }));

        // Truncated at several points: inside the length prefix, the header, the data.
        let full = std::fs::read(&good).unwrap();
        for cut in [0, 5, 8 + 10, full.len() - 3] {
            let p = dir.file(&format!("cut{cut}.safetensors"));
            std::fs::write(&p, &full[..cut]).unwrap();
            let e = load_fails(&p, None);
            assert!(
                matches!(e, ParamStoreError::Truncated { .. }),
                "cut {cut}: {e}"
            );
        }

        // Not safetensors at all.
        let p = dir.file("text.safetensors");
        std::fs::write(&p, "name,value\nscale,1.0\nloc,2.0\n").unwrap();
        assert!(matches!(
            load_fails(&p, None),
            ParamStoreError::NotSafetensors { .. }
        ));
        let p = dir.file("zeros.safetensors");
        std::fs::write(&p, [0u8; 64]).unwrap();
        assert!(matches!(
            load_fails(&p, None),
            ParamStoreError::NotSafetensors { .. }
        ));

        // Wrong dtype.
        let p = dir.file("f64.safetensors");
        let b: Vec<u8> = [1.0f64, 2.0].iter().flat_map(|x| x.to_le_bytes()).collect();
        write_raw(
            &p,
            &[("w", Dtype::F64, vec![2], b)],
            Some(good_meta("w", "real")),
        );
        let e = load_fails(&p, Some("w"));
        assert!(matches!(e, ParamStoreError::WrongDtype { ref dtype, .. } if dtype == "F64"));

        // No metadata at all / another format.
        let p = dir.file("nometa.safetensors");
        write_raw(&p, &[("w", Dtype::F32, vec![1], f32_bytes(&[1.0]))], None);
        assert!(matches!(
            load_fails(&p, None),
            ParamStoreError::UnknownFormat { .. }
        ));
        let p = dir.file("otherformat.safetensors");
        let mut m = good_meta("w", "real");
        m.insert("format".into(), "pt".into());
        write_raw(
            &p,
            &[("w", Dtype::F32, vec![1], f32_bytes(&[1.0]))],
            Some(m),
        );
        assert!(matches!(
            load_fails(&p, None),
            ParamStoreError::UnknownFormat { .. }
        ));

        // A parameter's metadata entry missing.
        for kind in ["constraint", "event_dim", "index"] {
            let p = dir.file(&format!("missing-{kind}.safetensors"));
            let mut m = good_meta("w", "real");
            m.remove(&format!("{kind}:w"));
            write_raw(
                &p,
                &[("w", Dtype::F32, vec![1], f32_bytes(&[1.0]))],
                Some(m),
            );
            let e = load_fails(&p, Some("w"));
            assert!(
                matches!(e, ParamStoreError::MissingMetadata { ref key, .. } if key == &format!("{kind}:w")),
                "{e}"
            );
        }

        // Unknown metadata: an unknown key, and a key for a parameter the file lacks.
        for key in ["comment", "constraint:ghost"] {
            let p = dir.file("unknown.safetensors");
            let mut m = good_meta("w", "real");
            m.insert(key.into(), "x".into());
            write_raw(
                &p,
                &[("w", Dtype::F32, vec![1], f32_bytes(&[1.0]))],
                Some(m),
            );
            let e = load_fails(&p, None);
            assert!(matches!(e, ParamStoreError::UnknownMetadata { key: ref k, .. } if k == key));
        }

        // Unparsable and unsupported constraints, and constraints whose transform cannot take
        // the stored shape (lower_cholesky and positive_definite need square matrices,
        // corr_cholesky a last dim n(n-1)/2, softmax at least one dim).
        for (text, shape) in [
            ("positiv", vec![1]),
            ("interval(0, 1", vec![1]),
            ("boolean", vec![1]),
            ("interval(2, 1)", vec![1]),
            ("lower_cholesky", vec![1]),
            ("positive_definite", vec![1]),
            ("corr_cholesky", vec![2]),
            ("simplex", vec![]),
        ] {
            let p = dir.file("constraint.safetensors");
            let n: usize = shape.iter().product();
            write_raw(
                &p,
                &[("w", Dtype::F32, shape, f32_bytes(&vec![0.5; n]))],
                Some(good_meta("w", text)),
            );
            let e = load_fails(&p, Some("w"));
            assert!(
                matches!(e, ParamStoreError::BadConstraint { text: ref t, .. } if t == text),
                "{e}"
            );
        }

        // Malformed event_dim and index.
        for (key, value) in [
            ("event_dim:w", "-1"),
            ("event_dim:w", "2"),
            ("index:w", "1"),
            ("index:w", "x"),
        ] {
            let p = dir.file("badmeta.safetensors");
            let mut m = good_meta("w", "real");
            m.insert(key.into(), value.into());
            write_raw(
                &p,
                &[("w", Dtype::F32, vec![1], f32_bytes(&[0.5]))],
                Some(m),
            );
            let e = load_fails(&p, Some("w"));
            assert!(
                matches!(e, ParamStoreError::BadMetadata { key: ref k, .. } if k == key),
                "{e}"
            );
        }

        // Non-finite stored values.
        let p = dir.file("nan.safetensors");
        write_raw(
            &p,
            &[("w", Dtype::F32, vec![2], f32_bytes(&[0.5, f32::NAN]))],
            Some(good_meta("w", "real")),
        );
        let e = load_fails(&p, Some("w"));
        assert!(matches!(
            e,
            ParamStoreError::NonFiniteInFile { index: 1, .. }
        ));
    }

    /// A header whose offsets make the safetensors parser's size check overflow (a panic in
    /// debug builds): still a typed error, never a panic.
    #[test]
    fn crafted_header_that_overflows_the_parser_is_an_error() {
        let dir = TempDir::new("overflow");
        let p = dir.file("evil.safetensors");
        let n_elem = (usize::MAX - 3) / 4; // 4 * n_elem = usize::MAX - 3
        let header = format!(
            r#"{{"w":{{"dtype":"F32","shape":[{n_elem}],"data_offsets":[0,{}]}}}}"#,
            4 * n_elem
        );
        let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
        bytes.extend(header.as_bytes());
        bytes.extend([0u8; 16]);
        std::fs::write(&p, bytes).unwrap();
        let e = load_fails(&p, None);
        assert!(
            matches!(
                e,
                ParamStoreError::Corrupt { .. } | ParamStoreError::Truncated { .. }
            ),
            "{e}"
        );
    }
}
