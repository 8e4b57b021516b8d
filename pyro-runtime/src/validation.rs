//! Global switch for argument and support validation (Pyro's `pyro.enable_validation`).
//! On by default in debug builds, off in release builds.

use std::sync::atomic::{AtomicU8, Ordering};

// 0 = default (follow debug_assertions), 1 = on, 2 = off.
static STATE: AtomicU8 = AtomicU8::new(0);

/// Turns validation of distribution parameters and observed values on or off.
///
/// ```
/// pyro::enable_validation(true);
/// assert!(pyro::is_validation_enabled());
/// ```
pub fn enable_validation(on: bool) {
    STATE.store(if on { 1 } else { 2 }, Ordering::Relaxed);
}

/// Whether validation is on.
pub fn is_validation_enabled() -> bool {
    match STATE.load(Ordering::Relaxed) {
        1 => true,
        2 => false,
        _ => cfg!(debug_assertions),
    }
}
