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
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Name(Rc<str>);

impl Name {
    /// The text.
    ///
    /// ```
    /// assert_eq!(pyro::poutine::Name::from("a").as_str(), "a");
    /// ```
    pub fn as_str(&self) -> &str {
        &self.0
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
        &self.0
    }
}

impl AsRef<str> for Name {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for Name {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&*self.0, f)
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl From<&str> for Name {
    fn from(s: &str) -> Self {
        Name(Rc::from(s))
    }
}

impl From<&String> for Name {
    fn from(s: &String) -> Self {
        Name(Rc::from(s.as_str()))
    }
}

impl From<String> for Name {
    fn from(s: String) -> Self {
        Name(Rc::from(s))
    }
}

impl From<&Name> for Name {
    fn from(s: &Name) -> Self {
        s.clone()
    }
}

impl From<Name> for String {
    fn from(n: Name) -> Self {
        n.0.to_string()
    }
}

impl PartialEq<str> for Name {
    fn eq(&self, other: &str) -> bool {
        &*self.0 == other
    }
}

impl PartialEq<&str> for Name {
    fn eq(&self, other: &&str) -> bool {
        &*self.0 == *other
    }
}

impl PartialEq<String> for Name {
    fn eq(&self, other: &String) -> bool {
        &*self.0 == other.as_str()
    }
}

impl PartialEq<Name> for str {
    fn eq(&self, other: &Name) -> bool {
        self == &*other.0
    }
}

impl PartialEq<Name> for &str {
    fn eq(&self, other: &Name) -> bool {
        *self == &*other.0
    }
}

impl PartialEq<Name> for String {
    fn eq(&self, other: &Name) -> bool {
        self.as_str() == &*other.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_and_compare_like_strings() {
        let a = Name::from(String::from("site"));
        let b = a.clone();
        assert!(Rc::ptr_eq(&a.0, &b.0));
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
