//! How distribution constructors accept their parameters: plain `f32`s, typed tensors or
//! [`DynTensor`]s, with the value shape and device worked out at compile time where possible.
//!
//! `Normal::new(0.0, 1.0)` is a `Normal<Rank0, Cpu>`; `Normal::new(mean, 1.0)` with a
//! `Tensor<(usize,)>` mean is a `Normal<(usize,), Cpu>`; a `DynTensor` parameter gives the
//! run-time shape marker [`DynShape`].

use dfdx::prelude::*;
use dfdx::shapes::Dim;

use crate::tensor::TensorResult;
use crate::tensor::{Backend, DynTensor, Tensor};

/// Marks a shape known only at run time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DynShape;

/// Marks a parameter that lives on no device yet (a plain number).
#[derive(Debug, Clone, Copy, Default)]
pub struct Unplaced;

/// Compile-time facts about a parameter: its shape type and device type.
pub trait ParamMeta {
    /// The dfdx shape type, [`Rank0`] for numbers, [`DynShape`] for `DynTensor`s.
    type Shape;
    /// The device type, [`Unplaced`] for numbers.
    type Dev;
}

/// A value usable as a distribution parameter on device `D`.
pub trait Param<D: Backend>: ParamMeta {
    /// Converts into a run-time shaped tensor on `D` (or the error a typed tensor carries
    /// from an earlier operation).
    fn into_dyn(self) -> TensorResult<DynTensor<D>>;
}

impl ParamMeta for f32 {
    type Shape = Rank0;
    type Dev = Unplaced;
}
impl<D: Backend> Param<D> for f32 {
    fn into_dyn(self) -> TensorResult<DynTensor<D>> {
        // A number is a constant of the model: no gradient is sent to it.
        Ok(DynTensor::constant(&[], self))
    }
}
impl<S: Shape, D: Backend> ParamMeta for Tensor<S, D> {
    type Shape = S;
    type Dev = D;
}
impl<S: Shape, D: Backend> Param<D> for Tensor<S, D> {
    fn into_dyn(self) -> TensorResult<DynTensor<D>> {
        Tensor::into_dyn(self)
    }
}
impl<S: Shape, D: Backend> ParamMeta for &Tensor<S, D> {
    type Shape = S;
    type Dev = D;
}
impl<S: Shape, D: Backend> Param<D> for &Tensor<S, D> {
    fn into_dyn(self) -> TensorResult<DynTensor<D>> {
        self.as_dyn().cloned()
    }
}
impl<D: Backend> ParamMeta for DynTensor<D> {
    type Shape = DynShape;
    type Dev = D;
}
impl<D: Backend> Param<D> for DynTensor<D> {
    fn into_dyn(self) -> TensorResult<DynTensor<D>> {
        Ok(self)
    }
}
impl<D: Backend> ParamMeta for &DynTensor<D> {
    type Shape = DynShape;
    type Dev = D;
}
impl<D: Backend> Param<D> for &DynTensor<D> {
    fn into_dyn(self) -> TensorResult<DynTensor<D>> {
        Ok(self.clone())
    }
}

/// The shape of two broadcast parameters: equal shapes, or a scalar with anything.
pub trait JoinShape<Rhs> {
    /// The joined shape.
    type Out;
}
/// The device of two parameters: numbers go wherever the tensors are.
pub trait JoinDev<Rhs> {
    /// The joined device.
    type Out;
}
/// The device a fully resolved parameter list lives on ([`Unplaced`] becomes `Cpu`).
pub trait ResolveDev {
    /// The concrete device.
    type Out: Backend;
}

impl JoinShape<Rank0> for Rank0 {
    type Out = Rank0;
}
impl<X> JoinShape<X> for DynShape {
    type Out = DynShape;
}
impl JoinShape<DynShape> for Rank0 {
    type Out = DynShape;
}
macro_rules! join_rank {
    ($($d:ident),+) => {
        impl<$($d: Dim),+> JoinShape<($($d,)+)> for ($($d,)+) { type Out = ($($d,)+); }
        impl<$($d: Dim),+> JoinShape<Rank0> for ($($d,)+) { type Out = ($($d,)+); }
        impl<$($d: Dim),+> JoinShape<($($d,)+)> for Rank0 { type Out = ($($d,)+); }
        impl<$($d: Dim),+> JoinShape<DynShape> for ($($d,)+) { type Out = DynShape; }
    };
}
join_rank!(A);
join_rank!(A, B);
join_rank!(A, B, C);
join_rank!(A, B, C, E);
join_rank!(A, B, C, E, F);

impl JoinDev<Unplaced> for Unplaced {
    type Out = Unplaced;
}
impl JoinDev<Cpu> for Unplaced {
    type Out = Cpu;
}
impl JoinDev<Unplaced> for Cpu {
    type Out = Cpu;
}
impl JoinDev<Cpu> for Cpu {
    type Out = Cpu;
}
impl ResolveDev for Unplaced {
    type Out = crate::tensor::DefaultDevice;
}
impl ResolveDev for Cpu {
    type Out = Cpu;
}
#[cfg(feature = "cuda")]
mod cuda_join {
    use super::*;
    impl JoinDev<Cuda> for Unplaced {
        type Out = Cuda;
    }
    impl JoinDev<Unplaced> for Cuda {
        type Out = Cuda;
    }
    impl JoinDev<Cuda> for Cuda {
        type Out = Cuda;
    }
    impl ResolveDev for Cuda {
        type Out = Cuda;
    }
}

/// Shape type of a one-parameter distribution.
pub type Shape1<A> = <A as ParamMeta>::Shape;
/// Device of a one-parameter distribution.
pub type Dev1<A> = <<A as ParamMeta>::Dev as ResolveDev>::Out;
/// Shape type of a two-parameter distribution.
pub type Shape2<A, B> = <<A as ParamMeta>::Shape as JoinShape<<B as ParamMeta>::Shape>>::Out;
/// Device of a two-parameter distribution.
pub type Dev2<A, B> =
    <<<A as ParamMeta>::Dev as JoinDev<<B as ParamMeta>::Dev>>::Out as ResolveDev>::Out;
/// Shape type of a three-parameter distribution.
pub type Shape3<A, B, C> = <Shape2<A, B> as JoinShape<<C as ParamMeta>::Shape>>::Out;
/// Device of a three-parameter distribution.
pub type Dev3<A, B, C> =
    <<<<A as ParamMeta>::Dev as JoinDev<<B as ParamMeta>::Dev>>::Out as JoinDev<
        <C as ParamMeta>::Dev,
    >>::Out as ResolveDev>::Out;
