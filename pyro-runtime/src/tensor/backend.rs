//! The device bound used throughout pyro-rs, and the per-thread default device.

use std::any::{Any, TypeId};
use std::cell::RefCell;
use std::collections::HashMap;

/// A dfdx device that pyro-rs can run on: [`dfdx::prelude::Cpu`], or `Cuda` with the `cuda`
/// feature. Blanket-implemented; users never implement it.
///
/// ```
/// fn takes_any_backend<D: pyro::tensor::Backend>() {}
/// takes_any_backend::<dfdx::prelude::Cpu>();
/// ```
pub trait Backend: dfdx::tensor_ops::Device<f32> + Default + 'static {}
impl<D: dfdx::tensor_ops::Device<f32> + Default + 'static> Backend for D {}

/// The device user-facing APIs use when none is named: `Cpu`, or `Cuda` when the crate is
/// built with the `cuda` feature. (Runtime types stay generic over [`Backend`].)
///
/// ```
/// let dev = pyro::tensor::default_device::<pyro::DefaultDevice>();
/// # let _ = dev;
/// ```
#[cfg(not(feature = "cuda"))]
pub type DefaultDevice = dfdx::prelude::Cpu;
/// The device user-facing APIs use when none is named (the `cuda` feature is on).
#[cfg(feature = "cuda")]
pub type DefaultDevice = dfdx::prelude::Cuda;

thread_local! {
    static DEVICES: RefCell<HashMap<TypeId, Box<dyn Any>>> = RefCell::new(HashMap::new());
    /// The thread's CPU device (the map's entry for `Cpu` is this one).
    static CPU: dfdx::prelude::Cpu = DEVICES.with(|d| {
        d.borrow_mut()
            .entry(TypeId::of::<dfdx::prelude::Cpu>())
            .or_insert_with(|| Box::new(dfdx::prelude::Cpu::default()))
            .downcast_ref::<dfdx::prelude::Cpu>()
            .expect("keyed by TypeId")
            .clone()
    });
}

/// The thread's device of type `D`, created once and then shared (creating a CUDA device is
/// expensive, and every tensor op must happen on one device).
///
/// ```
/// use dfdx::prelude::*;
/// let dev = pyro::tensor::default_device::<Cpu>();
/// let t = dev.tensor([1.0f32, 2.0]);
/// assert_eq!(t.array(), [1.0, 2.0]);
/// ```
pub fn default_device<D: Backend>() -> D {
    if TypeId::of::<D>() == TypeId::of::<dfdx::prelude::Cpu>() {
        // The CPU device is asked for at every tensor creation: skip the map.
        let mut slot = Some(CPU.with(|c| c.clone()));
        if let Some(d) = (&mut slot as &mut dyn Any).downcast_mut::<Option<D>>() {
            if let Some(d) = d.take() {
                return d;
            }
        }
    }
    DEVICES.with(|d| {
        let mut d = d.borrow_mut();
        d.entry(TypeId::of::<D>())
            .or_insert_with(|| Box::new(D::default()))
            .downcast_ref::<D>()
            .expect("keyed by TypeId")
            .clone()
    })
}
