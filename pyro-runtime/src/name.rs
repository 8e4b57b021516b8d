//! [`Name`]: the name of a site, plate or parameter, shared rather than copied.

use std::borrow::Borrow;
use std::fmt;
use std::ops::Deref;
use std::rc::Rc;

/// An immutable, reference-counted string: a site's name is made once, when the primitive
/// is called, and every message, trace site and frame that carries it afterwards shares it
/// (a clone is a reference-count increment, not a copy). It reads like a `&str` (`Deref`),
/// compares with `str`, `&str` and `String`, and hashes like the `str` it holds, so maps
/// keyed by `Name` can be queried with a `&str`.
///
/// ```
/// use pyro::poutine::Name;
/// let n = Name::from("loc");
/// let m = n.clone(); // shares the text
/// assert_eq!(m, "loc");
/// assert_eq!(n.len(), 3);
/// assert_eq!(format!("{n}/{m:?}"), "loc/\"loc\"");
/// let mut map = std::collections::HashMap::new();
/// map.insert(n, 1);
/// assert_eq!(map["loc"], 1);
/// ```
#[derive(Clone)]
pub struct Name {
    text: Rc<str>,
    /// `fast_hash::name_hash` of the text, computed once: traces find sites by it.
    fnv: u64,
}

impl Name {
    fn new(text: Rc<str>) -> Self {
        let fnv = crate::fast_hash::name_hash(&text);
        Name { text, fnv }
    }

    /// The text.
    ///
    /// ```
    /// assert_eq!(pyro::poutine::Name::from("a").as_str(), "a");
    /// ```
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The FNV-1a hash of the text ([`crate::fast_hash::name_hash`]), kept with the name.
    pub(crate) fn fnv(&self) -> u64 {
        self.fnv
    }
}

impl PartialEq for Name {
    fn eq(&self, other: &Name) -> bool {
        self.fnv == other.fnv && self.text == other.text
    }
}

impl Eq for Name {}

impl PartialOrd for Name {
    fn partial_cmp(&self, other: &Name) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Name {
    fn cmp(&self, other: &Name) -> std::cmp::Ordering {
        self.text.cmp(&other.text)
    }
}

/// Hashes like the `str` it holds (so maps keyed by `Name` can be queried with a `&str`).
impl std::hash::Hash for Name {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.text.hash(state)
    }
}

impl Default for Name {
    fn default() -> Self {
        Name::from("")
    }
}

impl Deref for Name {
    type Target = str;
    fn deref(&self) -> &str {
        &self.text
    }
}

impl AsRef<str> for Name {
    fn as_ref(&self) -> &str {
        &self.text
    }
}

impl Borrow<str> for Name {
    fn borrow(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&*self.text, f)
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.text, f)
    }
}

impl From<&str> for Name {
    fn from(s: &str) -> Self {
        Name::new(Rc::from(s))
    }
}

impl From<&String> for Name {
    fn from(s: &String) -> Self {
        Name::new(Rc::from(s.as_str()))
    }
}

impl From<String> for Name {
    fn from(s: String) -> Self {
        Name::new(Rc::from(s))
    }
}

impl From<&Name> for Name {
    fn from(s: &Name) -> Self {
        s.clone()
    }
}

impl From<Name> for String {
    fn from(n: Name) -> Self {
        n.text.to_string()
    }
}

impl PartialEq<str> for Name {
    fn eq(&self, other: &str) -> bool {
        &*self.text == other
    }
}

impl PartialEq<&str> for Name {
    fn eq(&self, other: &&str) -> bool {
        &*self.text == *other
    }
}

impl PartialEq<String> for Name {
    fn eq(&self, other: &String) -> bool {
        &*self.text == other.as_str()
    }
}

impl PartialEq<Name> for str {
    fn eq(&self, other: &Name) -> bool {
        self == &*other.text
    }
}

impl PartialEq<Name> for &str {
    fn eq(&self, other: &Name) -> bool {
        *self == &*other.text
    }
}

impl PartialEq<Name> for String {
    fn eq(&self, other: &Name) -> bool {
        self.as_str() == &*other.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_and_compare_like_strings() {
        let a = Name::from(String::from("site"));
        let b = a.clone();
        assert!(Rc::ptr_eq(&a.text, &b.text));
        assert_eq!(a.fnv(), crate::fast_hash::name_hash("site"));
        assert_eq!(a, b);
        let (text, owned) = ("site", String::from("site"));
        assert!(a == text);
        assert!(text == a);
        assert!(a == *text);
        assert!(a == owned);
        assert!(owned == a);
        assert!(a != "other");
        let (x, y) = (Name::from("a"), Name::from("b"));
        assert!(x < y);
        assert_eq!(String::from(a), "site");
        assert_eq!(Name::default(), "");
    }

    #[test]
    fn hashes_like_str() {
        use std::collections::HashSet;
        let set: HashSet<Name> = ["x", "y"].into_iter().map(Name::from).collect();
        assert!(set.contains("x") && !set.contains("z"));
    }
}
