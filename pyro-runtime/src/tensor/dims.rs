//! [`Dims`]: the shape of a [`DynTensor`](super::DynTensor), stored inline up to rank 4 so
//! that creating and cloning tensors does not allocate for it.

use std::ops::Deref;

/// Dims kept inline (larger ranks go to the heap).
const INLINE: usize = 4;

/// A tensor shape: a `[usize]` that lives inline for rank ≤ 4.
#[derive(Clone)]
pub(crate) struct Dims(Repr);

#[derive(Clone)]
enum Repr {
    Inline(u8, [usize; INLINE]),
    Heap(Vec<usize>),
}

impl Dims {
    /// The shape `dims`.
    #[inline]
    pub(crate) fn new(dims: &[usize]) -> Self {
        if dims.len() <= INLINE {
            let mut a = [0; INLINE];
            a[..dims.len()].copy_from_slice(dims);
            Dims(Repr::Inline(dims.len() as u8, a))
        } else {
            Dims(Repr::Heap(dims.to_vec()))
        }
    }
}

impl Deref for Dims {
    type Target = [usize];
    #[inline]
    fn deref(&self) -> &[usize] {
        match &self.0 {
            Repr::Inline(n, a) => &a[..*n as usize],
            Repr::Heap(v) => v,
        }
    }
}

impl PartialEq for Dims {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl std::fmt::Debug for Dims {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        (**self).fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_and_heap_shapes_read_back() {
        for s in [&[][..], &[3], &[2, 3, 4, 5], &[1, 2, 3, 4, 5, 6]] {
            let d = Dims::new(s);
            assert_eq!(&*d, s);
            assert_eq!(d.clone(), d);
            assert_eq!(format!("{d:?}"), format!("{s:?}"));
        }
        assert!(Dims::new(&[2, 3]) != Dims::new(&[3, 2]));
    }
}
