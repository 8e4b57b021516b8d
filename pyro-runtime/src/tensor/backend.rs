//! The device bound used throughout pyro-rs, and the per-thread default device.

use dfdx::prelude::{Cpu, Gradients};

use super::dyn_tensor::Flat;

/// A dfdx device that pyro-rs can run on: [`dfdx::prelude::Cpu`], or `Cuda` with the `cuda`
/// feature. Implemented for those two only, and sealed: its supertrait is private to this
/// crate, so no other crate can implement it (an outside `HOST = true` would have the runtime
/// read that device's tensors as CPU tensors).
///
/// Each backend says, at compile time, whether its values live in host memory (where the
/// runtime's host kernels run) and gives the CPU view of its tensors when they do, so the
/// runtime never asks for a device's type at run time.
///
/// ```
/// use pyro::tensor::Backend;
/// fn host<D: Backend>() -> bool { D::HOST }
/// assert!(host::<dfdx::prelude::Cpu>());
/// ```
pub trait Backend: sealed::Sealed + dfdx::tensor_ops::Device<f32> + Default + 'static {
    /// Whether values live in host memory (the runtime's host kernels run on them).
    const HOST: bool;
    /// The thread's device of this backend, created once and then shared.
    fn thread_device() -> Self;
}

pub(crate) mod sealed {
    use super::*;

    /// The private supertrait of [`Backend`](super::Backend): implemented here for the
    /// backends pyro-rs supports, and nameable nowhere else. Its methods are the runtime's
    /// view of a backend's dfdx storage.
    pub trait Sealed: Sized + dfdx::tensor_ops::Device<f32> {
        /// A flat tensor of this backend as a CPU tensor (`None` off the host).
        fn cpu_flat(t: &Flat<Self>) -> Option<&Flat<Cpu>>;
        /// A flat CPU tensor as a tensor of this backend (`None` off the host).
        fn from_cpu_flat(t: &Flat<Cpu>) -> Option<&Flat<Self>>;
        /// Gradients of this backend as CPU gradients (`None` off the host).
        fn cpu_grads(g: &mut Gradients<f32, Self>) -> Option<&mut Gradients<f32, Cpu>>;
    }
}

impl Backend for Cpu {
    const HOST: bool = true;
    fn thread_device() -> Self {
        CPU.with(|c| c.clone())
    }
}

impl sealed::Sealed for Cpu {
    fn cpu_flat(t: &Flat<Self>) -> Option<&Flat<Cpu>> {
        Some(t)
    }
    fn from_cpu_flat(t: &Flat<Cpu>) -> Option<&Flat<Self>> {
        Some(t)
    }
    fn cpu_grads(g: &mut Gradients<f32, Self>) -> Option<&mut Gradients<f32, Cpu>> {
        Some(g)
    }
}

#[cfg(feature = "cuda")]
impl Backend for dfdx::prelude::Cuda {
    const HOST: bool = false;
    fn thread_device() -> Self {
        CUDA.with(|c| c.clone())
    }
}

#[cfg(feature = "cuda")]
impl sealed::Sealed for dfdx::prelude::Cuda {
    fn cpu_flat(_: &Flat<Self>) -> Option<&Flat<Cpu>> {
        None
    }
    fn from_cpu_flat(_: &Flat<Cpu>) -> Option<&Flat<Self>> {
        None
    }
    fn cpu_grads(_: &mut Gradients<f32, Self>) -> Option<&mut Gradients<f32, Cpu>> {
        None
    }
}

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
    /// The thread's CPU device.
    static CPU: Cpu = Cpu::default();
}

#[cfg(feature = "cuda")]
thread_local! {
    /// The thread's CUDA device (creating one is expensive: once per thread).
    static CUDA: dfdx::prelude::Cuda = dfdx::prelude::Cuda::default();
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
    D::thread_device()
}
