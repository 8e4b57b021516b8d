//! Writing a file atomically (a temporary file, `fsync`, rename), for saving a store.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::params::error::{ParamResult, ParamStoreError};

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
