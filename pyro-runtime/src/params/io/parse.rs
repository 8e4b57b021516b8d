//! Reading a param-store file back: the safetensors container, the metadata, and each
//! parameter, every step checked with a typed error naming the file (and the parameter).

use std::collections::{HashMap, HashSet};
use std::path::Path;

use safetensors::tensor::{Dtype, SafeTensorError};
use safetensors::SafeTensors;

use super::{meta_key, CONSTRAINT, EVENT_DIM, FORMAT, FORMAT_KEY, INDEX};
use crate::constraints::Constraint;
use crate::params::error::{ParamResult, ParamStoreError};
use crate::params::link::Link;
use crate::tensor::Backend;

/// One parameter read from a file and fully checked.
pub(super) struct Loaded<D: Backend> {
    pub(super) name: String,
    pub(super) shape: Vec<usize>,
    pub(super) values: Vec<f32>,
    pub(super) constraint: Constraint,
    pub(super) link: Link<D>,
    pub(super) event_dim: Option<usize>,
    pub(super) index: usize,
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

/// A tensor as the file holds it: name, dtype, shape, little-endian bytes.
type View = (String, Dtype, Vec<usize>, Vec<u8>);

/// The header's metadata map (safetensors' `__metadata__`), when it has one.
type Metadata = Option<HashMap<String, String>>;

/// Parses and checks a whole file; the result is sorted by insertion index.
pub(super) fn parse_file<D: Backend>(path: &Path, bytes: &[u8]) -> ParamResult<Vec<Loaded<D>>> {
    let (metadata, views) = read(path, bytes)?;
    let metadata = check_metadata(path, metadata, &views)?;
    let n = views.len();
    let mut seen_index = vec![false; n];
    let mut out = Vec::with_capacity(n);
    for view in views {
        out.push(parse_param(path, &metadata, view, &mut seen_index)?);
    }
    out.sort_by_key(|l| l.index);
    Ok(out)
}

/// The file's metadata map and its tensors, sorted by name.
fn read(path: &Path, bytes: &[u8]) -> ParamResult<(Metadata, Vec<View>)> {
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
    Ok((metadata, views))
}

/// Checks the format entry and that every other metadata key belongs to a parameter.
fn check_metadata(
    path: &Path,
    metadata: Metadata,
    views: &[View],
) -> ParamResult<HashMap<String, String>> {
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

    Ok(metadata)
}

/// One parameter: its dtype, constraint, event_dim, position and values, each checked.
fn parse_param<D: Backend>(
    path: &Path,
    metadata: &HashMap<String, String>,
    (name, dtype, shape, data): View,
    seen_index: &mut [bool],
) -> ParamResult<Loaded<D>> {
    let p = || path.to_path_buf();
    let n = seen_index.len();
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
    let link = Link::<D>::new(&name, &constraint).map_err(|e| bad_constraint(format!("{e}")))?;
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
    Ok(Loaded {
        name,
        shape,
        values,
        constraint,
        link,
        event_dim,
        index,
    })
}
