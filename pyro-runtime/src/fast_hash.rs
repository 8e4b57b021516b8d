//! A fast hasher for the short names that key traces and the parameter store (FNV-1a: a few
//! cycles per byte, where the standard SipHash costs tens of nanoseconds per lookup). Names
//! come from the user's own program, so hash flooding is not a concern.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// FNV-1a over the bytes written.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NameHasher(u64);

impl Default for NameHasher {
    fn default() -> Self {
        NameHasher(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for NameHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ b as u64).wrapping_mul(0x0100_0000_01b3);
        }
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

/// A map keyed by site or parameter names.
pub(crate) type NameMap<V> = HashMap<String, V, BuildHasherDefault<NameHasher>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_hash_apart_and_the_map_works() {
        let h = |s: &str| {
            let mut x = NameHasher::default();
            x.write(s.as_bytes());
            x.finish()
        };
        assert_ne!(h("AutoNormal.locs.a"), h("AutoNormal.locs.b"));
        // The FNV-1a test vector for "a".
        assert_eq!(h("a"), 0xaf63_dc4c_8601_ec8c);
        let mut m: NameMap<usize> = NameMap::default();
        m.insert("x".into(), 1);
        m.insert("y".into(), 2);
        assert_eq!(m.get("x"), Some(&1));
        assert_eq!(m.get("z"), None);
    }
}
