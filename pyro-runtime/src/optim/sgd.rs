//! [`Sgd`]: torch's `torch.optim.SGD` (Pyro's `pyro.optim.SGD`).
//!
//! Per parameter, with `g` the gradient of the loss (torch.optim.SGD documentation,
//! "Algorithm"):
//!
//! ```text
//! g <- g + weight_decay * p                                  (if weight_decay != 0)
//! if momentum != 0:
//!     b <- g                                       at the parameter's first update
//!     b <- momentum * b + (1 - dampening) * g      afterwards
//!     g <- g + momentum * b   if nesterov, else b
//! p <- p - lr * g
//! ```

use super::common::{
    check_inputs, check_output, non_negative, require, state_methods, ParamState, StateMap,
};
use super::error::OptimResult;
use super::Optimizer;

/// Arguments of [`Sgd`], with torch's defaults (`lr = 1e-3`, no momentum, no dampening, no
/// Nesterov, no weight decay).
///
/// ```
/// use pyro::optim::SgdConfig;
/// let c = SgdConfig { lr: 0.1, momentum: 0.9, nesterov: true, ..Default::default() };
/// assert_eq!(c.dampening, 0.0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SgdConfig {
    /// Learning rate (`>= 0`).
    pub lr: f32,
    /// Momentum factor (`>= 0`).
    pub momentum: f32,
    /// Dampening of the momentum (`>= 0`; must be 0 with Nesterov).
    pub dampening: f32,
    /// Nesterov momentum (needs `momentum > 0` and `dampening == 0`).
    pub nesterov: bool,
    /// L2 penalty added to the gradient (`>= 0`).
    pub weight_decay: f32,
}

impl Default for SgdConfig {
    fn default() -> Self {
        Self {
            lr: 1e-3,
            momentum: 0.0,
            dampening: 0.0,
            nesterov: false,
            weight_decay: 0.0,
        }
    }
}

const NAME: &str = "Sgd";

#[derive(Debug, Clone)]
struct SgdState {
    len: usize,
    /// The momentum buffer, created at the first update when `momentum != 0`.
    buf: Option<Vec<f32>>,
}

impl ParamState for SgdState {
    fn len(&self) -> usize {
        self.len
    }
}

/// Stochastic gradient descent with optional (Nesterov) momentum, as torch's `SGD`.
///
/// ```
/// use pyro::optim::{Optimizer, Sgd, SgdConfig};
/// let mut sgd = Sgd::new(SgdConfig { lr: 0.1, ..Default::default() }).unwrap();
/// let mut x = vec![1.0_f32, -2.0];
/// sgd.update("x", &mut x, &[1.0, 1.0]).unwrap();
/// assert_eq!(x, vec![0.9, -2.1]);
/// ```
#[derive(Debug, Clone)]
pub struct Sgd {
    config: SgdConfig,
    states: StateMap<SgdState>,
}

impl Sgd {
    /// An SGD optimizer; errors name an invalid argument (as torch: Nesterov needs momentum
    /// and zero dampening).
    ///
    /// ```
    /// use pyro::optim::{Sgd, SgdConfig};
    /// assert!(Sgd::new(SgdConfig { lr: 0.1, nesterov: true, ..Default::default() }).is_err());
    /// ```
    pub fn new(config: SgdConfig) -> OptimResult<Self> {
        non_negative(NAME, "lr", config.lr)?;
        non_negative(NAME, "momentum", config.momentum)?;
        non_negative(NAME, "dampening", config.dampening)?;
        non_negative(NAME, "weight_decay", config.weight_decay)?;
        if config.nesterov {
            require(
                config.momentum > 0.0,
                NAME,
                "momentum",
                config.momentum,
                "Nesterov momentum requires momentum > 0",
            )?;
            require(
                config.dampening == 0.0,
                NAME,
                "dampening",
                config.dampening,
                "Nesterov momentum requires zero dampening",
            )?;
        }
        Ok(Self {
            config,
            states: StateMap::default(),
        })
    }

    /// Plain SGD with learning rate `lr`.
    ///
    /// ```
    /// use pyro::optim::{Optimizer, Sgd};
    /// assert_eq!(Sgd::with_lr(0.5).unwrap().learning_rate(), 0.5);
    /// ```
    pub fn with_lr(lr: f32) -> OptimResult<Self> {
        Self::new(SgdConfig {
            lr,
            ..Default::default()
        })
    }

    /// The arguments.
    ///
    /// ```
    /// assert_eq!(pyro::optim::Sgd::with_lr(0.5).unwrap().config().momentum, 0.0);
    /// ```
    pub fn config(&self) -> &SgdConfig {
        &self.config
    }
}

impl Optimizer for Sgd {
    fn update(&mut self, name: &str, value: &mut [f32], grad: &[f32]) -> OptimResult<()> {
        check_inputs(name, value, grad)?;
        let c = self.config;
        let mut st = self
            .states
            .working_copy(name, value.len(), |len| SgdState { len, buf: None })?;
        let mut d: Vec<f32> = grad
            .iter()
            .zip(value.iter())
            .map(|(&g, &p)| {
                if c.weight_decay != 0.0 {
                    g + c.weight_decay * p
                } else {
                    g
                }
            })
            .collect();
        if c.momentum != 0.0 {
            match &mut st.buf {
                None => st.buf = Some(d.clone()),
                Some(buf) => {
                    for (b, &g) in buf.iter_mut().zip(&d) {
                        *b = c.momentum * *b + (1.0 - c.dampening) * g;
                    }
                }
            }
            let buf = st.buf.as_ref().expect("momentum buffer set just above");
            for (g, &b) in d.iter_mut().zip(buf) {
                *g = if c.nesterov { *g + c.momentum * b } else { b };
            }
        }
        let out: Vec<f32> = value.iter().zip(&d).map(|(&p, &g)| p - c.lr * g).collect();
        check_output(name, &out)?;
        value.copy_from_slice(&out);
        self.states.commit(name, st);
        Ok(())
    }

    state_methods!(NAME);
}
