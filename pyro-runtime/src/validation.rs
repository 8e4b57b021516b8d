//! Switch for argument and support validation (Pyro's `pyro.enable_validation`). On by
//! default in debug builds, off in release builds. The switch is per thread, so a test or a
//! worker thread can change it without affecting others.

use std::cell::Cell;

thread_local! {
    // None = default (follow debug_assertions).
    static STATE: Cell<Option<bool>> = const { Cell::new(None) };
}

/// Turns validation of distribution parameters and observed values on or off for this
/// thread.
///
/// ```
/// pyro::enable_validation(true);
/// assert!(pyro::is_validation_enabled());
/// ```
pub fn enable_validation(on: bool) {
    STATE.with(|s| s.set(Some(on)));
}

/// Whether validation is on for this thread.
pub fn is_validation_enabled() -> bool {
    STATE.with(|s| s.get()).unwrap_or(cfg!(debug_assertions))
}
