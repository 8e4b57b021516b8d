//! Collects every error of one expansion, so a single compile reports all of them.

use proc_macro2::{Span, TokenStream};

/// The errors found so far, each with the span it points at, in the order they are
/// reported.
#[derive(Default)]
pub struct Errors {
    list: Vec<syn::Error>,
}

impl Errors {
    /// Records an error at `span`.
    pub fn at(&mut self, span: Span, msg: impl std::fmt::Display) {
        self.list.push(syn::Error::new(span, msg));
    }

    /// How many errors are recorded: a place in the list, for [`Errors::insert`].
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Records errors found later at earlier places of the list: each `(place, error)` goes
    /// after the first `place` errors (a [`Errors::len`] taken before), keeping the order of
    /// `placed` among equal places. A check of a call then reads next to the call's other
    /// errors, in source order.
    pub fn insert(&mut self, mut placed: Vec<(usize, syn::Error)>) {
        placed.sort_by_key(|(place, _)| *place);
        let mut placed = placed.into_iter().peekable();
        let old = std::mem::take(&mut self.list);
        for (i, e) in old.into_iter().enumerate() {
            while let Some((_, p)) = placed.next_if(|(place, _)| *place <= i) {
                self.list.push(p);
            }
            self.list.push(e);
        }
        self.list.extend(placed.map(|(_, p)| p));
    }

    /// Whether nothing was recorded.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The messages, in order (for tests).
    #[cfg(test)]
    pub fn messages(&self) -> Vec<String> {
        self.list.iter().map(|e| e.to_string()).collect()
    }

    /// One `compile_error!` per error, each at its span, in order.
    pub fn to_compile_errors(&self) -> TokenStream {
        let combined = self.list.iter().cloned().reduce(|mut all, e| {
            all.combine(e);
            all
        });
        combined.map(|e| e.to_compile_error()).unwrap_or_default()
    }
}

/// Edit distance between two short strings, a swap of neighbours counting as one edit
/// (for "did you mean" hints).
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // d[i][j]: distance between a[..i] and b[..j].
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[a.len()][b.len()]
}

/// The closest of `candidates` to `word`, if it is close enough to be a likely typo.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, c)| *d <= (c.chars().count().max(3) / 3).max(1) && *d > 0)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_and_closest() {
        assert_eq!(edit_distance("obs", "obs"), 0);
        assert_eq!(edit_distance("ob", "obs"), 1);
        assert_eq!(edit_distance("sigma", "sgima"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(closest("ob", ["obs", "infer"]), Some("obs"));
        assert_eq!(
            closest("constrant", ["constraint", "event_dim"]),
            Some("constraint")
        );
        assert_eq!(closest("zzz", ["obs", "infer"]), None);
    }

    #[test]
    fn later_errors_are_inserted_at_their_places() {
        let mut e = Errors::default();
        e.at(Span::call_site(), "a");
        e.at(Span::call_site(), "c");
        let err = |m: &str| syn::Error::new(Span::call_site(), m);
        e.insert(vec![
            (2, err("d")),
            (1, err("b1")),
            (1, err("b2")),
            (0, err("0")),
        ]);
        assert_eq!(e.messages(), ["0", "a", "b1", "b2", "c", "d"]);
    }
}
