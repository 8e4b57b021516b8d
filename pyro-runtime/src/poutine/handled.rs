//! [`Program`]: anything a handler can wrap, and [`Handled`]: a program run under a handler.

use std::rc::Rc;

use super::runtime::{push_rc, Messenger};
use crate::error::PyroResult;
use crate::tensor::{Backend, DefaultDevice};

/// A probabilistic program: a function of its arguments that may fail (Pyro's "model" or
/// "guide" callable). Every `Fn(A) -> PyroResult<R>` is one.
///
/// ```
/// use pyro::poutine::Program;
/// let f = |x: f32| -> pyro::PyroResult<f32> { Ok(x * 2.0) };
/// assert_eq!(f.call(2.0).unwrap(), 4.0);
/// ```
pub trait Program<A> {
    /// What the program returns.
    type Output;
    /// Runs the program.
    fn call(&self, args: A) -> PyroResult<Self::Output>;
}

impl<A, R, F: Fn(A) -> PyroResult<R>> Program<A> for F {
    type Output = R;
    fn call(&self, args: A) -> PyroResult<R> {
        self(args)
    }
}

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
    /// let p = Handled::<_, dfdx::prelude::Cpu>::new(|_: ()| Ok(1), || {
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
}
