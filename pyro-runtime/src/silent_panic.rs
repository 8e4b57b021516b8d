//! Panics the runtime recovers from print nothing.
//!
//! One foreign call reports some failures only by panicking: the safetensors parser (a
//! crafted header whose offsets overflow). The runtime runs it under [`catch_silently`] and
//! turns the panic into a typed error. `catch_unwind` alone would
//! still let the panic hook print the assertion message (and a backtrace) on stderr, for an
//! error the caller then receives as a value; `catch_silently` keeps the hook quiet for the
//! panics it catches.
//!
//! The first call installs, once per process, a panic hook that wraps the hook in place at
//! that time: it says nothing for a panic raised on a thread while that thread is inside
//! `catch_silently`, and hands every other panic to the previous hook unchanged. (A hook set
//! later with `std::panic::set_hook` replaces it, as it replaces any hook.)

use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Once;

thread_local! {
    /// How many `catch_silently` calls this thread is inside (they may nest).
    static DEPTH: Cell<usize> = const { Cell::new(0) };
}

static INSTALL: Once = Once::new();

/// Runs `f`, catching a panic as `catch_unwind` does, without the panic hook printing it.
/// Panics of other threads, and of this thread outside `f`, are reported as before.
pub(crate) fn catch_silently<R>(f: impl FnOnce() -> R) -> std::thread::Result<R> {
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            // `try_with`: a panic while the thread's locals are being destroyed is reported.
            let silent = DEPTH.try_with(|d| d.get() > 0).unwrap_or(false);
            if !silent {
                previous(info);
            }
        }));
    });
    /// Leaves the silent region on every way out of it.
    struct Leave;
    impl Drop for Leave {
        fn drop(&mut self) {
            DEPTH.with(|d| d.set(d.get() - 1));
        }
    }
    DEPTH.with(|d| d.set(d.get() + 1));
    let _leave = Leave;
    catch_unwind(AssertUnwindSafe(f))
}

#[cfg(test)]
mod tests {
    //! Whether a panic is printed is seen on the process's stderr, so the checks run this test
    //! executable again as a child process (one test, chosen by an environment variable) and
    //! read the child's stderr.

    use super::*;

    const CASE: &str = "PYRO_SILENT_PANIC_CASE";

    /// Runs `child_case` in a child process with `CASE=case`; its stderr and whether it
    /// succeeded.
    fn run_child(case: &str) -> (String, bool) {
        let exe = std::env::current_exe().unwrap();
        let out = std::process::Command::new(exe)
            .args([
                "--exact",
                "silent_panic::tests::child_case",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CASE, case)
            .env("RUST_BACKTRACE", "1")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let stdout = String::from_utf8_lossy(&out.stdout);
        // The child ran the case (and not zero tests by a wrong filter).
        assert!(
            stdout.contains("1 passed") || stdout.contains("1 failed"),
            "{stdout}\n{stderr}"
        );
        (stderr, out.status.success())
    }

    /// The body of the child process; does nothing in an ordinary test run.
    #[test]
    fn child_case() {
        let Ok(case) = std::env::var(CASE) else {
            return;
        };
        match case.as_str() {
            // A header whose offsets overflow the safetensors parser's size check (a panic
            // in debug builds).
            "corrupt_file" => {
                use crate::params::{ParamStore, ParamStoreError};
                let n_elem = (usize::MAX - 3) / 4;
                let header = format!(
                    r#"{{"w":{{"dtype":"F32","shape":[{n_elem}],"data_offsets":[0,{}]}}}}"#,
                    4 * n_elem
                );
                let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
                bytes.extend(header.as_bytes());
                bytes.extend([0u8; 16]);
                let path = std::env::temp_dir()
                    .join(format!("pyro-silent-{}.safetensors", std::process::id()));
                std::fs::write(&path, bytes).unwrap();
                let err = ParamStore::<dfdx::prelude::Cpu>::new()
                    .load(&path)
                    .unwrap_err();
                let _ = std::fs::remove_file(&path);
                assert!(
                    matches!(
                        err,
                        ParamStoreError::Corrupt { .. } | ParamStoreError::Truncated { .. }
                    ),
                    "{err}"
                );
            }
            // A caught panic inside `catch_silently`; a panic outside it, caught too, is
            // still printed (the hook delegates).
            "direct" => {
                assert!(catch_silently(|| panic!("quiet one")).is_err());
                assert!(catch_silently(|| 7).unwrap() == 7);
                assert!(catch_unwind(|| panic!("loud one")).is_err());
            }
            // The control: a panic under plain `catch_unwind` is printed, so the checks above
            // would see one that was.
            "plain" => {
                assert!(catch_unwind(|| panic!("loud one")).is_err());
            }
            other => panic!("unknown case {other}"),
        }
    }

    #[test]
    fn a_plain_caught_panic_is_printed() {
        let (stderr, ok) = run_child("plain");
        assert!(ok, "{stderr}");
        assert!(stderr.contains("panicked at"), "{stderr}");
        assert!(stderr.contains("loud one"), "{stderr}");
    }

    #[test]
    fn a_crafted_file_header_prints_nothing() {
        let (stderr, ok) = run_child("corrupt_file");
        assert!(ok, "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }

    #[test]
    fn only_panics_inside_catch_silently_are_silent() {
        let (stderr, ok) = run_child("direct");
        assert!(ok, "{stderr}");
        assert!(!stderr.contains("quiet one"), "{stderr}");
        assert!(stderr.contains("loud one"), "{stderr}");
    }
}
