//! [`RmsProp`]: torch's `torch.optim.RMSprop` (Pyro's `pyro.optim.RMSprop`).
//!
//! Per parameter, with `g` the gradient of the loss (torch.optim.RMSprop documentation,
//! "Algorithm"):
//!
//! ```text
//! g <- g + weight_decay * p                          (if weight_decay != 0)
//! v <- alpha * v + (1 - alpha) * g^2
//! if centered: m <- alpha * m + (1 - alpha) * g;  s = sqrt(v - m^2) + eps
//! else:                                             s = sqrt(v) + eps
//! if momentum > 0: b <- momentum * b + g / s;  p <- p - lr * b
//! else:                                        p <- p - lr * g / s
//! ```
//!
//! With `centered`, `v - m^2` is clamped at 0 before the square root (it is a variance; f32
//! rounding can make it a tiny negative number, where torch would produce NaN).

use super::common::{
    check_inputs, check_output, non_negative, state_methods, ParamState, StateMap,
};
use super::error::OptimResult;
use super::Optimizer;

/// Arguments of [`RmsProp`], with torch's defaults (`lr = 0.01`, `alpha = 0.99`,
/// `eps = 1e-8`, no momentum, not centered, no weight decay).
///
/// ```
/// use pyro::optim::RmsPropConfig;
/// let c = RmsPropConfig { centered: true, ..Default::default() };
/// assert_eq!(c.lr, 0.01);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RmsPropConfig {
    /// Learning rate (`>= 0`).
    pub lr: f32,
    /// Smoothing constant of the squared-gradient average (`>= 0`).
    pub alpha: f32,
    /// Added to the denominator for numerical stability (`>= 0`).
    pub eps: f32,
    /// Momentum factor (`>= 0`).
    pub momentum: f32,
    /// Normalise by an estimate of the gradient's variance instead of its second moment.
    pub centered: bool,
    /// L2 penalty added to the gradient (`>= 0`).
    pub weight_decay: f32,
}

impl Default for RmsPropConfig {
    fn default() -> Self {
        Self {
            lr: 0.01,
            alpha: 0.99,
            eps: 1e-8,
            momentum: 0.0,
            centered: false,
            weight_decay: 0.0,
        }
    }
}

const NAME: &str = "RmsProp";

#[derive(Debug, Clone)]
struct RmsState {
    square_avg: Vec<f32>,
    grad_avg: Vec<f32>,
    momentum_buf: Vec<f32>,
}

impl ParamState for RmsState {
    fn len(&self) -> usize {
        self.square_avg.len()
    }
}

/// RMSprop, as torch's `RMSprop`.
///
/// ```
/// use pyro::optim::{Optimizer, RmsProp, RmsPropConfig};
/// let mut opt = RmsProp::new(RmsPropConfig::default()).unwrap();
/// let mut x = vec![1.0_f32];
/// opt.update("x", &mut x, &[0.5]).unwrap();
/// // v = 0.01 * 0.25, step = lr * g / sqrt(v) = 0.01 * 0.5 / 0.05 = 0.1
/// assert!((x[0] - 0.9).abs() < 1e-5);
/// ```
#[derive(Debug, Clone)]
pub struct RmsProp {
    config: RmsPropConfig,
    states: StateMap<RmsState>,
}

impl RmsProp {
    /// An RMSprop optimizer; errors name an invalid argument.
    ///
    /// ```
    /// use pyro::optim::{RmsProp, RmsPropConfig};
    /// assert!(RmsProp::new(RmsPropConfig { alpha: -0.5, ..Default::default() }).is_err());
    /// ```
    pub fn new(config: RmsPropConfig) -> OptimResult<Self> {
        non_negative(NAME, "lr", config.lr)?;
        non_negative(NAME, "alpha", config.alpha)?;
        non_negative(NAME, "eps", config.eps)?;
        non_negative(NAME, "momentum", config.momentum)?;
        non_negative(NAME, "weight_decay", config.weight_decay)?;
        Ok(Self {
            config,
            states: StateMap::default(),
        })
    }

    /// RMSprop with learning rate `lr` and torch's other defaults.
    ///
    /// ```
    /// use pyro::optim::{Optimizer, RmsProp};
    /// assert_eq!(RmsProp::with_lr(0.001).unwrap().learning_rate(), 0.001);
    /// ```
    pub fn with_lr(lr: f32) -> OptimResult<Self> {
        Self::new(RmsPropConfig {
            lr,
            ..Default::default()
        })
    }

    /// The arguments.
    ///
    /// ```
    /// assert_eq!(pyro::optim::RmsProp::with_lr(0.001).unwrap().config().alpha, 0.99);
    /// ```
    pub fn config(&self) -> &RmsPropConfig {
        &self.config
    }
}

impl Optimizer for RmsProp {
    fn update(&mut self, name: &str, value: &mut [f32], grad: &[f32]) -> OptimResult<()> {
        check_inputs(name, value, grad)?;
        let c = self.config;
        let mut st = self
            .states
            .working_copy(name, value.len(), |len| RmsState {
                square_avg: vec![0.0; len],
                grad_avg: if c.centered {
                    vec![0.0; len]
                } else {
                    Vec::new()
                },
                momentum_buf: if c.momentum > 0.0 {
                    vec![0.0; len]
                } else {
                    Vec::new()
                },
            })?;
        let mut out = value.to_vec();
        for (i, p) in out.iter_mut().enumerate() {
            let g = if c.weight_decay != 0.0 {
                grad[i] + c.weight_decay * *p
            } else {
                grad[i]
            };
            let v = c.alpha * st.square_avg[i] + (1.0 - c.alpha) * g * g;
            st.square_avg[i] = v;
            let avg = if c.centered {
                let m = c.alpha * st.grad_avg[i] + (1.0 - c.alpha) * g;
                st.grad_avg[i] = m;
                (v - m * m).max(0.0).sqrt() + c.eps
            } else {
                v.sqrt() + c.eps
            };
            if c.momentum > 0.0 {
                let b = c.momentum * st.momentum_buf[i] + g / avg;
                st.momentum_buf[i] = b;
                *p -= c.lr * b;
            } else {
                *p -= c.lr * g / avg;
            }
        }
        check_output(name, &out)?;
        value.copy_from_slice(&out);
        self.states.commit(name, st);
        Ok(())
    }

    state_methods!(NAME);
}
