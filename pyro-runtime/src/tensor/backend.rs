//! The device bound used throughout pyro-rs, and the per-thread default device.

use dfdx::prelude::Cpu;

/// A dfdx device that pyro-rs can run on: [`dfdx::prelude::Cpu`], or `Cuda` with the `cuda`
/// feature. Implemented for those two only, and sealed: its supertrait is private to this
/// crate, so no other crate can implement it.
///
/// The backend names where dfdx values that cross into the runtime live
/// ([`DynTensor::from_dfdx`](super::DynTensor::from_dfdx),
/// [`DynTensor::to_dfdx`](super::DynTensor::to_dfdx)). The runtime's own kernels run on the
/// host for every backend today (`HOST` says whether that is also where the backend keeps its
/// values): one op vocabulary, written once as host kernels; device kernels for large tensors
/// would be dispatched here.
///
/// ```
/// use pyro::tensor::Backend;
/// fn host<D: Backend>() -> bool { D::HOST }
/// assert!(host::<dfdx::prelude::Cpu>());
/// ```
pub trait Backend: sealed::Sealed + dfdx::tensor_ops::Device<f32> + Default + 'static {
    /// Whether the backend keeps its values in host memory.
    const HOST: bool;
    /// The thread's device of this backend, created once and then shared.
    fn thread_device() -> Self;
}

mod sealed {
    /// The private supertrait of [`Backend`](super::Backend): implemented here for the
    /// backends pyro-rs supports, and nameable nowhere else.
    pub trait Sealed {}

    impl Sealed for dfdx::prelude::Cpu {}

    #[cfg(feature = "cuda")]
    impl Sealed for dfdx::prelude::Cuda {}
}

impl Backend for Cpu {
    const HOST: bool = true;
    fn thread_device() -> Self {
        CPU.with(|c| c.clone())
    }
}

#[cfg(feature = "cuda")]
impl Backend for dfdx::prelude::Cuda {
    const HOST: bool = false;
    fn thread_device() -> Self {
        CUDA.with(|c| c.clone())
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
