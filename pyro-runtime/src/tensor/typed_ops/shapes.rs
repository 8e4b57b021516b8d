//! The shape traits of indexing and joining: a first dim to split off (`SplitFirst`), one
//! more leading dim (`PrependDim`), a dim known to the compiler (`StaticDim`) and an axis
//! resized to a `usize` (`ResizeAxis`).

use dfdx::shapes::{Const, Dim, Shape};

/// A shape with a first dim, `(First, Rest...)`: what indexing and joining along the first
/// axis need. Implemented for ranks 1 to 6.
#[diagnostic::on_unimplemented(
    message = "a tensor of shape `{Self}` has no first dim to index or join along",
    note = "`at`, `select`, `narrow` and `concat` work along the first dim of a tensor of rank 1 to 6"
)]
pub trait SplitFirst: Shape {
    /// The first dim.
    type First: Dim;
    /// The shape without its first dim (what `at`/`select` return).
    type Rest: Shape;
    /// The shape with its first dim replaced by `N`.
    type WithFirst<N: Dim>: Shape;
}

/// A shape that can take one more leading dim (ranks 0 to 5; dfdx's shapes stop at 6).
#[diagnostic::on_unimplemented(
    message = "tensors of shape `{Self}` cannot be stacked: the result would have more than 6 dims"
)]
pub trait PrependDim: Shape {
    /// `(N, Self...)`.
    type Prepended<N: Dim>: Shape;
}

/// A dim whose size the compiler knows: `Const<N>`.
#[diagnostic::on_unimplemented(
    message = "`at::<I>()` needs a first dim known at compile time; this one is `{Self}`",
    label = "the first dim is `{Self}`",
    note = "index a `usize` dim with `select(i)`, which checks the index when it runs"
)]
pub trait StaticDim: Dim {
    /// The size.
    const SIZE: usize;
}

impl<const N: usize> StaticDim for Const<N> {
    const SIZE: usize = N;
}

/// The shape with the dim at axis `Ax` replaced by a `usize` (what `index_select` and
/// `gather` along that axis return). Implemented for every axis of ranks 1 to 6.
#[diagnostic::on_unimplemented(
    message = "a tensor of shape `{Self}` has no axis `{Ax}`",
    note = "the axis is `Axis<I>` with `I` below the tensor's rank"
)]
pub trait ResizeAxis<Ax>: Shape {
    /// The resized shape.
    type Resized: Shape;
}

macro_rules! split_first {
    ($first:ident $(, $rest:ident)*) => {
        impl<$first: Dim $(, $rest: Dim)*> SplitFirst for ($first, $($rest,)*) {
            type First = $first;
            type Rest = ($($rest,)*);
            type WithFirst<N: Dim> = (N, $($rest,)*);
        }
    };
}
split_first!(A);
split_first!(A, B);
split_first!(A, B, C);
split_first!(A, B, C, E);
split_first!(A, B, C, E, F);
split_first!(A, B, C, E, F, G);

macro_rules! prepend_dim {
    ($($d:ident),*) => {
        impl<$($d: Dim),*> PrependDim for ($($d,)*) {
            type Prepended<N: Dim> = (N, $($d,)*);
        }
    };
}
prepend_dim!();
prepend_dim!(A);
prepend_dim!(A, B);
prepend_dim!(A, B, C);
prepend_dim!(A, B, C, E);
prepend_dim!(A, B, C, E, F);

macro_rules! resize_axis {
    ($ax:literal: ($($d:ident),+) => $out:ty) => {
        impl<$($d: Dim),+> ResizeAxis<dfdx::shapes::Axis<$ax>> for ($($d,)+) {
            type Resized = $out;
        }
    };
}
resize_axis!(0: (A) => (usize,));
resize_axis!(0: (A, B) => (usize, B));
resize_axis!(1: (A, B) => (A, usize));
resize_axis!(0: (A, B, C) => (usize, B, C));
resize_axis!(1: (A, B, C) => (A, usize, C));
resize_axis!(2: (A, B, C) => (A, B, usize));
resize_axis!(0: (A, B, C, E) => (usize, B, C, E));
resize_axis!(1: (A, B, C, E) => (A, usize, C, E));
resize_axis!(2: (A, B, C, E) => (A, B, usize, E));
resize_axis!(3: (A, B, C, E) => (A, B, C, usize));
resize_axis!(0: (A, B, C, E, F) => (usize, B, C, E, F));
resize_axis!(1: (A, B, C, E, F) => (A, usize, C, E, F));
resize_axis!(2: (A, B, C, E, F) => (A, B, usize, E, F));
resize_axis!(3: (A, B, C, E, F) => (A, B, C, usize, F));
resize_axis!(4: (A, B, C, E, F) => (A, B, C, E, usize));
resize_axis!(0: (A, B, C, E, F, G) => (usize, B, C, E, F, G));
resize_axis!(1: (A, B, C, E, F, G) => (A, usize, C, E, F, G));
resize_axis!(2: (A, B, C, E, F, G) => (A, B, usize, E, F, G));
resize_axis!(3: (A, B, C, E, F, G) => (A, B, C, usize, F, G));
resize_axis!(4: (A, B, C, E, F, G) => (A, B, C, E, usize, G));
resize_axis!(5: (A, B, C, E, F, G) => (A, B, C, E, F, usize));
