//! Internal macros that write what the distribution files share, so that each file states
//! only what is specific to its distribution.
//!
//! - [`impl_distribution!`] wraps the methods of a family's [`Distribution`] impl with the
//!   ones every shape-marked family writes the same way (`name`, `batch_shape`, `expand_box`,
//!   `clone_box`, `as_any`, `erased`; `event_shape` for scalar events; `has_rsample` and
//!   `sample = rsample().detach()` for reparameterized families) and adds the
//!   [`TypedDistribution`] impl.
//! - [`elementwise_params!`] declares a family whose parameters are tensors broadcast
//!   together elementwise (the batch shape is their common shape): the struct, `new` (any
//!   accepted parameter kinds, typed shape and device), `from_dyn`, the validating `build`,
//!   one accessor per parameter and `expand`, with runnable doc examples built from the
//!   example values given for each parameter.
//!
//! [`Distribution`]: super::Distribution
//! [`TypedDistribution`]: super::TypedDistribution

/// `impl Distribution<D>` (around the given methods) and `impl TypedDistribution<D>` for
/// `$ty<S, D>`. The type needs a field `batch_shape: Vec<usize>` and a method
/// `expand<S2>(&self, &[usize]) -> DistResult<$ty<S2, D>>` (which also gives `erased`).
///
/// Options (any of, in this order): `scalar` (event shape `[]`) or `event_field` (the
/// `event_shape: Vec<usize>` field), `reparameterized` (`has_rsample` is true and `sample` is
/// `rsample` cut from the graph). The name is the type's name.
macro_rules! impl_distribution {
    ($ty:ident[scalar $(, $opt:ident)*] { $($body:tt)* }) => {
        $crate::distributions::boilerplate::impl_distribution!($ty[$($opt),*] {
            fn event_shape(&self) -> &[usize] {
                &[]
            }
            $($body)*
        });
    };
    ($ty:ident[event_field $(, $opt:ident)*] { $($body:tt)* }) => {
        $crate::distributions::boilerplate::impl_distribution!($ty[$($opt),*] {
            fn event_shape(&self) -> &[usize] {
                &self.event_shape
            }
            $($body)*
        });
    };
    ($ty:ident[reparameterized $(, $opt:ident)*] { $($body:tt)* }) => {
        $crate::distributions::boilerplate::impl_distribution!($ty[$($opt),*] {
            fn has_rsample(&self) -> bool {
                true
            }
            fn sample(
                &self,
                sample_shape: &[usize],
                rng: &mut dyn rand::RngCore,
            ) -> $crate::distributions::DistResult<$crate::tensor::DynTensor<D>> {
                Ok(self.rsample(sample_shape, rng)?.detach())
            }
            $($body)*
        });
    };
    ($ty:ident[] { $($body:tt)* }) => {
        impl<S: std::fmt::Debug + Clone + 'static, D: $crate::tensor::Backend>
            $crate::distributions::Distribution<D> for $ty<S, D>
        {
            fn name(&self) -> &'static str {
                stringify!($ty)
            }
            fn batch_shape(&self) -> &[usize] {
                &self.batch_shape
            }
            $($body)*
            fn expand_box(
                &self,
                batch_shape: &[usize],
            ) -> $crate::distributions::DistResult<$crate::distributions::BoxDist<D>> {
                Ok(Box::new(self.expand::<S>(batch_shape)?))
            }
            fn clone_box(&self) -> $crate::distributions::BoxDist<D> {
                Box::new(self.clone())
            }
            fn as_any(&self) -> &dyn std::any::Any {
                self
            }
            fn erased(&self) -> Option<$crate::distributions::BoxDist<D>> {
                let e = self.expand::<$crate::distributions::DynShape>(&self.batch_shape);
                Some(Box::new(e.ok()?))
            }
        }

        impl<S: dfdx::shapes::Shape, D: $crate::tensor::Backend>
            $crate::distributions::TypedDistribution<D> for $ty<S, D>
        {
            type Shape = S;
        }
    };
}
pub(crate) use impl_distribution;

/// Declares a distribution family whose parameters broadcast together elementwise:
///
/// ```text
/// elementwise_params! {
///     /// The family's documentation.
///     pub struct Normal {
///         /// The location parameter.
///         loc: L = 1.0,           // constructor argument, its type variable, example value
///         /// The scale parameter.
///         scale: R = 0.5,
///     }
///     /// What `new` checks (after a generated first sentence).
///     new;
///     validate { scale: Positive, loc: Real }  // constraints, checked in this order
///     check extra_check;                        // optional fn(&Normal<S, D>) -> DistResult<()>
/// }
/// ```
///
/// The struct is generic `<S = Rank0, D = DefaultDevice>` with one `DynTensor<D>` field per
/// parameter, `batch_shape` and the shape marker; `new` takes one to three parameters.
macro_rules! elementwise_params {
    (
        $(#[$meta:meta])*
        pub struct $ty:ident $fields:tt
        $(#[$new_doc:meta])*
        new;
        validate { $($vp:ident: $vc:ident),* $(,)? }
        $(check $check:path;)?
    ) => {
        $crate::distributions::boilerplate::elementwise_params!(@struct
            [$(#[$meta])*] [$(#[$new_doc])*] [$($vp: $vc),*] [$($check)?] $ty $fields $fields
        );
    };

    // The example call `Ty::new(e1, e2, ...)` as a string.
    (@call $ty:ident { $($(#[$m:meta])* $p:ident: $P:ident = $ex:expr),+ $(,)? }) => {
        concat!(stringify!($ty), "::new(", stringify!($($ex),+), ")")
    };

    (@struct
        [$(#[$meta:meta])*] [$(#[$new_doc:meta])*] [$($vp:ident: $vc:ident),*] [$($check:path)?]
        $ty:ident $all:tt
        { $($(#[$pdoc:meta])* $p:ident: $P:ident = $ex:expr),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone)]
        pub struct $ty<
            S = dfdx::shapes::Rank0,
            D: $crate::tensor::Backend = $crate::tensor::DefaultDevice,
        > {
            $($p: $crate::tensor::DynTensor<D>,)+
            batch_shape: Vec<usize>,
            _s: std::marker::PhantomData<fn() -> S>,
        }

        $crate::distributions::boilerplate::elementwise_params!(@new [$(#[$new_doc])*] $ty $all);

        impl<D: $crate::tensor::Backend> $ty<$crate::distributions::DynShape, D> {
            /// Builds from run-time shaped parameters (broadcast together; the same checks as
            /// `new`).
            ///
            #[doc = concat!(
                "```\nuse pyro::distributions::{Distribution, ", stringify!($ty), "};\n",
                "use pyro::tensor::DynTensor;\n",
                "let p = |v: f32| DynTensor::<dfdx::prelude::Cpu>::full(&[3], v);\n",
                "let d = ", stringify!($ty), "::from_dyn(", $("p(", stringify!($ex), "), ",)+
                ").unwrap();\nassert_eq!(d.batch_shape(), &[3]);\n```"
            )]
            pub fn from_dyn($($p: $crate::tensor::DynTensor<D>),+)
                -> $crate::distributions::DistResult<Self>
            {
                Self::build($($p),+)
            }
        }

        impl<S, D: $crate::tensor::Backend> $ty<S, D> {
            fn build($($p: $crate::tensor::DynTensor<D>),+)
                -> $crate::distributions::DistResult<Self>
            {
                use $crate::constraints::Constraint;
                $(
                    $crate::distributions::validate_param(
                        stringify!($ty), stringify!($vp), &$vp, &Constraint::$vc,
                    )?;
                )*
                let ([$($p),+], batch_shape) =
                    $crate::distributions::broadcast_param_array(stringify!($ty), [$($p),+])?;
                let d = $ty {
                    $($p,)+
                    batch_shape,
                    _s: std::marker::PhantomData,
                };
                $($check(&d)?;)?
                Ok(d)
            }

            $(
                $(#[$pdoc])*
                ///
                #[doc = concat!(
                    "```\nlet d = pyro::distributions::",
                    $crate::distributions::boilerplate::elementwise_params!(@call $ty $all),
                    ".unwrap();\nassert_eq!(d.", stringify!($p), "().item().unwrap(), ",
                    stringify!($ex), ");\n```"
                )]
                pub fn $p(&self) -> &$crate::tensor::DynTensor<D> {
                    &self.$p
                }
            )+

            /// The same distribution with parameters broadcast to `batch_shape`.
            ///
            #[doc = concat!(
                "```\nuse pyro::distributions::Distribution;\nlet d = pyro::distributions::",
                $crate::distributions::boilerplate::elementwise_params!(@call $ty $all),
                ".unwrap().expand::<(usize,)>(&[4]).unwrap();\n",
                "assert_eq!(d.batch_shape(), &[4]);\n```"
            )]
            pub fn expand<S2>(&self, batch_shape: &[usize])
                -> $crate::distributions::DistResult<$ty<S2, D>>
            {
                Ok($ty {
                    $($p: self.$p.broadcast_to(batch_shape)?,)+
                    batch_shape: batch_shape.to_vec(),
                    _s: std::marker::PhantomData,
                })
            }
        }
    };

    // `new` for one, two and three parameters.
    (@new [$(#[$doc:meta])*] $ty:ident
        { $(#[$am:meta])* $a:ident: $A:ident = $ae:expr $(,)? }
    ) => {
        impl $ty {
            #[doc = concat!("Builds a `", stringify!($ty), "` from a parameter of any accepted kind \
                (`f32`, typed tensor or `DynTensor`).")]
            $(#[$doc])*
            ///
            #[doc = $crate::distributions::boilerplate::elementwise_params!(@new_example $ty $ae)]
            pub fn new<$A>($a: $A) -> $crate::distributions::DistResult<
                $ty<$crate::distributions::param::Shape1<$A>, $crate::distributions::param::Dev1<$A>>,
            >
            where
                $A: $crate::distributions::param::ParamMeta
                    + $crate::distributions::param::Param<$crate::distributions::param::Dev1<$A>>,
                <$A as $crate::distributions::param::ParamMeta>::Dev:
                    $crate::distributions::param::ResolveDev,
            {
                $ty::build($a.into_dyn()?)
            }
        }
    };
    (@new [$(#[$doc:meta])*] $ty:ident
        { $(#[$am:meta])* $a:ident: $A:ident = $ae:expr,
          $(#[$bm:meta])* $b:ident: $B:ident = $be:expr $(,)? }
    ) => {
        impl $ty {
            #[doc = concat!("Builds a `", stringify!($ty), "` from parameters of any accepted kind \
                (`f32`, typed tensor or `DynTensor`); their shapes broadcast.")]
            $(#[$doc])*
            ///
            #[doc = $crate::distributions::boilerplate::elementwise_params!(@new_example $ty $ae, $be)]
            pub fn new<$A, $B>($a: $A, $b: $B) -> $crate::distributions::DistResult<
                $ty<
                    $crate::distributions::param::Shape2<$A, $B>,
                    $crate::distributions::param::Dev2<$A, $B>,
                >,
            >
            where
                $A: $crate::distributions::param::ParamMeta
                    + $crate::distributions::param::Param<$crate::distributions::param::Dev2<$A, $B>>,
                $B: $crate::distributions::param::ParamMeta
                    + $crate::distributions::param::Param<$crate::distributions::param::Dev2<$A, $B>>,
                <$A as $crate::distributions::param::ParamMeta>::Shape:
                    $crate::distributions::param::JoinShape<<$B as $crate::distributions::param::ParamMeta>::Shape>,
                <$A as $crate::distributions::param::ParamMeta>::Dev:
                    $crate::distributions::param::JoinDev<<$B as $crate::distributions::param::ParamMeta>::Dev>,
                <<$A as $crate::distributions::param::ParamMeta>::Dev as $crate::distributions::param::JoinDev<
                    <$B as $crate::distributions::param::ParamMeta>::Dev,
                >>::Out: $crate::distributions::param::ResolveDev,
            {
                $ty::build($a.into_dyn()?, $b.into_dyn()?)
            }
        }
    };
    (@new [$(#[$doc:meta])*] $ty:ident
        { $(#[$am:meta])* $a:ident: $A:ident = $ae:expr,
          $(#[$bm:meta])* $b:ident: $B:ident = $be:expr,
          $(#[$cm:meta])* $c:ident: $C:ident = $ce:expr $(,)? }
    ) => {
        impl $ty {
            #[doc = concat!("Builds a `", stringify!($ty), "` from parameters of any accepted kind \
                (`f32`, typed tensor or `DynTensor`); their shapes broadcast.")]
            $(#[$doc])*
            ///
            #[doc = $crate::distributions::boilerplate::elementwise_params!(@new_example $ty $ae, $be, $ce)]
            #[allow(clippy::type_complexity)]
            pub fn new<$A, $B, $C>($a: $A, $b: $B, $c: $C) -> $crate::distributions::DistResult<
                $ty<
                    $crate::distributions::param::Shape3<$A, $B, $C>,
                    $crate::distributions::param::Dev3<$A, $B, $C>,
                >,
            >
            where
                $A: $crate::distributions::param::ParamMeta
                    + $crate::distributions::param::Param<$crate::distributions::param::Dev3<$A, $B, $C>>,
                $B: $crate::distributions::param::ParamMeta
                    + $crate::distributions::param::Param<$crate::distributions::param::Dev3<$A, $B, $C>>,
                $C: $crate::distributions::param::ParamMeta
                    + $crate::distributions::param::Param<$crate::distributions::param::Dev3<$A, $B, $C>>,
                <$A as $crate::distributions::param::ParamMeta>::Shape:
                    $crate::distributions::param::JoinShape<<$B as $crate::distributions::param::ParamMeta>::Shape>,
                $crate::distributions::param::Shape2<$A, $B>:
                    $crate::distributions::param::JoinShape<<$C as $crate::distributions::param::ParamMeta>::Shape>,
                <$A as $crate::distributions::param::ParamMeta>::Dev:
                    $crate::distributions::param::JoinDev<<$B as $crate::distributions::param::ParamMeta>::Dev>,
                <<$A as $crate::distributions::param::ParamMeta>::Dev as $crate::distributions::param::JoinDev<
                    <$B as $crate::distributions::param::ParamMeta>::Dev,
                >>::Out: $crate::distributions::param::JoinDev<<$C as $crate::distributions::param::ParamMeta>::Dev>,
                <<<$A as $crate::distributions::param::ParamMeta>::Dev as $crate::distributions::param::JoinDev<
                    <$B as $crate::distributions::param::ParamMeta>::Dev,
                >>::Out as $crate::distributions::param::JoinDev<
                    <$C as $crate::distributions::param::ParamMeta>::Dev,
                >>::Out: $crate::distributions::param::ResolveDev,
            {
                $ty::build($a.into_dyn()?, $b.into_dyn()?, $c.into_dyn()?)
            }
        }
    };
    (@new_example $ty:ident $($ex:expr),+) => {
        concat!(
            "```\nuse pyro::distributions::{Distribution, ", stringify!($ty), "};\n",
            "let d = ", stringify!($ty), "::new(", stringify!($($ex),+), ").unwrap();\n",
            "assert_eq!(d.batch_shape(), &[] as &[usize]);\n```"
        )
    };
}
pub(crate) use elementwise_params;
