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

/// The FNV-1a hash of a name.
pub(crate) fn name_hash(name: &str) -> u64 {
    let mut h = NameHasher::default();
    h.write(name.as_bytes());
    h.finish()
}

/// Positions of named items in a list the caller owns, found by the names' hashes (so the
/// index keeps no copy of the names). Collisions are resolved by the caller's comparison.
#[derive(Debug, Clone, Default)]
pub(crate) struct NameIndex {
    /// Hash -> position of the first item with that hash.
    first: HashMap<u64, usize, BuildHasherDefault<U64Hasher>>,
}

impl NameIndex {
    /// An empty index with room for `n` names.
    pub(crate) fn with_capacity(n: usize) -> Self {
        NameIndex {
            first: HashMap::with_capacity_and_hasher(n, Default::default()),
        }
    }

    /// The position of `name` (whose [`name_hash`] is `hash`), given the names of the items
    /// by position.
    pub(crate) fn find_hashed<'a>(
        &self,
        hash: u64,
        name: &str,
        names: impl Fn(usize) -> &'a str,
        len: usize,
    ) -> Option<usize> {
        let i = *self.first.get(&hash)?;
        if names(i) == name {
            return Some(i);
        }
        // Another name with the same hash came first: search the rest.
        (i + 1..len).find(|&j| names(j) == name)
    }

    /// Records that the name with hash `hash` sits at position `i` (keeps the first position
    /// of a hash).
    pub(crate) fn insert_hashed(&mut self, hash: u64, i: usize) {
        self.first.entry(hash).or_insert(i);
    }
}

/// The identity on `u64` keys that are already hashes.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct U64Hasher(u64);

impl Hasher for U64Hasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | b as u64;
        }
    }

    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

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

    #[test]
    fn name_index_finds_names_and_survives_collisions() {
        let names = ["a", "b", "c"];
        let mut ix = NameIndex::with_capacity(3);
        for (i, n) in names.iter().enumerate() {
            ix.insert_hashed(name_hash(n), i);
        }
        let at = |i: usize| names[i];
        assert_eq!(ix.find_hashed(name_hash("b"), "b", at, 3), Some(1));
        assert_eq!(ix.find_hashed(name_hash("d"), "d", at, 3), None);
        // A collision: "c" recorded under the hash of "a" resolves by scanning.
        let mut ix = NameIndex::default();
        ix.first.insert(name_hash("c"), 0);
        assert_eq!(ix.find_hashed(name_hash("c"), "c", at, 3), Some(2));
    }
}
