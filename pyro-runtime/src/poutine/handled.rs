//! [`Program`]: anything a handler can wrap, and [`Handled`]: a program run under a handler.

use std::rc::Rc;

use super::runtime::{push_rc, Messenger};
use crate::error::PyroResult;
use crate::tensor::{Backend, DefaultDevice};

/// A probabilistic program: a function of its arguments that may fail (Pyro's "model" or
/// "guide" callable). Arguments travel as a tuple, like Pyro's `*args`: every
/// `Fn() -> PyroResult<R>` is a `Program<()>`, every `Fn(A, B) -> PyroResult<R>` a
/// `Program<(A, B)>`, up to six arguments.
///
/// ```
/// use pyro::poutine::Program;
/// let f = |x: f32, y: f32| -> pyro::PyroResult<f32> { Ok(x * y) };
/// assert_eq!(f.call((2.0, 3.0)).unwrap(), 6.0);
/// let g = || -> pyro::PyroResult<i32> { Ok(1) };
/// assert_eq!(g.call(()).unwrap(), 1);
/// ```
pub trait Program<A> {
    /// What the program returns.
    type Output;
    /// Runs the program.
    fn call(&self, args: A) -> PyroResult<Self::Output>;
    /// Runs the program for its effects only (the sites the handlers see), dropping what it
    /// returns: inference algorithms run models and guides this way. The default calls
    /// [`call`](Self::call); a program that builds its result only for its caller (an
    /// autoguide's map of sampled values) may skip building it.
    ///
    /// ```
    /// use pyro::poutine::{trace, Program};
    /// use pyro::prelude::*;
    /// let model = || pyro::sample("x", Normal::new(0.0, 1.0));
    /// model.run(()).unwrap();
    /// assert!(trace(model).get_trace(()).unwrap().contains("x"));
    /// ```
    fn run(&self, args: A) -> PyroResult<()> {
        self.call(args).map(|_| ())
    }
}

macro_rules! program_for_fn {
    ($($arg:ident),*) => {
        impl<$($arg,)* R, F: Fn($($arg),*) -> PyroResult<R>> Program<($($arg,)*)> for F {
            type Output = R;
            #[allow(non_snake_case)]
            fn call(&self, ($($arg,)*): ($($arg,)*)) -> PyroResult<R> {
                self($($arg),*)
            }
        }
    };
}
program_for_fn!();
program_for_fn!(A1);
program_for_fn!(A1, A2);
program_for_fn!(A1, A2, A3);
program_for_fn!(A1, A2, A3, A4);
program_for_fn!(A1, A2, A3, A4, A5);
program_for_fn!(A1, A2, A3, A4, A5, A6);

type MakeMessenger<D> = Rc<dyn Fn() -> PyroResult<Rc<dyn Messenger<D>>>>;

/// A program that runs under a handler: each call builds a fresh messenger (so handler
/// state never leaks between runs), pushes it, runs the program and pops it.
pub struct Handled<P, D: Backend = DefaultDevice> {
    program: P,
    make: MakeMessenger<D>,
}

impl<P: Clone, D: Backend> Clone for Handled<P, D> {
    fn clone(&self) -> Self {
        Handled {
            program: self.program.clone(),
            make: self.make.clone(),
        }
    }
}

impl<P, D: Backend> Handled<P, D> {
    /// Wraps `program` with messengers made by `make`.
    ///
    /// ```
    /// use pyro::poutine::{Handled, Program, ScaleMessenger};
    /// let p = Handled::<_, dfdx::prelude::Cpu>::new(|| Ok(1), || {
    ///     Ok(std::rc::Rc::new(ScaleMessenger::new(2.0)?) as _)
    /// });
    /// assert_eq!(p.call(()).unwrap(), 1);
    /// ```
    pub fn new(program: P, make: impl Fn() -> PyroResult<Rc<dyn Messenger<D>>> + 'static) -> Self {
        Handled {
            program,
            make: Rc::new(make),
        }
    }

    /// Wraps with one messenger value, cloned for each run.
    pub fn with<M: Messenger<D> + Clone>(program: P, messenger: M) -> Self {
        Handled::new(program, move || {
            Ok(Rc::new(messenger.clone()) as Rc<dyn Messenger<D>>)
        })
    }
}

impl<A, P: Program<A>, D: Backend> Program<A> for Handled<P, D> {
    type Output = P::Output;
    fn call(&self, args: A) -> PyroResult<P::Output> {
        let m = (self.make)()?;
        let _guard = push_rc::<D>(m);
        self.program.call(args)
    }
    fn run(&self, args: A) -> PyroResult<()> {
        let m = (self.make)()?;
        let _guard = push_rc::<D>(m);
        self.program.run(args)
    }
}
