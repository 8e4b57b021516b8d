//! [`Adagrad`]: torch's `torch.optim.Adagrad` (Pyro's `pyro.optim.Adagrad`).
//!
//! Per parameter, at its `t`-th update (`t` starting at 1), with `g` the gradient of the loss
//! (torch.optim.Adagrad documentation, "Algorithm"):
//!
//! ```text
//! lr_t = lr / (1 + (t - 1) * lr_decay)
//! g    <- g + weight_decay * p                      (if weight_decay != 0)
//! s    <- s + g^2                                   (s starts at initial_accumulator_value)
//! p    <- p - lr_t * g / (sqrt(s) + eps)
//! ```

use super::common::{
    check_inputs, check_output, non_negative, state_methods, ParamState, StateMap,
};
use super::error::OptimResult;
use super::Optimizer;

/// Arguments of [`Adagrad`], with torch's defaults (`lr = 0.01`, `lr_decay = 0`,
/// `weight_decay = 0`, `initial_accumulator_value = 0`, `eps = 1e-10`).
///
/// ```
/// use pyro::optim::AdagradConfig;
/// assert_eq!(AdagradConfig::default().eps, 1e-10);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdagradConfig {
    /// Learning rate (`>= 0`).
    pub lr: f32,
    /// Learning-rate decay: the `t`-th update uses `lr / (1 + (t - 1) * lr_decay)` (`>= 0`).
    pub lr_decay: f32,
    /// L2 penalty added to the gradient (`>= 0`).
    pub weight_decay: f32,
    /// Starting value of the sum of squared gradients (`>= 0`).
    pub initial_accumulator_value: f32,
    /// Added to the denominator for numerical stability (`>= 0`).
    pub eps: f32,
}

impl Default for AdagradConfig {
    fn default() -> Self {
        Self {
            lr: 0.01,
            lr_decay: 0.0,
            weight_decay: 0.0,
            initial_accumulator_value: 0.0,
            eps: 1e-10,
        }
    }
}

const NAME: &str = "Adagrad";

#[derive(Debug, Clone)]
struct AdagradState {
    step: u64,
    sum: Vec<f32>,
}

impl ParamState for AdagradState {
    fn len(&self) -> usize {
        self.sum.len()
    }
}

/// Adagrad, as torch's `Adagrad`.
///
/// ```
/// use pyro::optim::{Adagrad, AdagradConfig, Optimizer};
/// let mut opt = Adagrad::new(AdagradConfig { lr: 0.1, ..Default::default() }).unwrap();
/// let mut x = vec![1.0_f32];
/// opt.update("x", &mut x, &[4.0]).unwrap(); // first step: lr * g / |g| = 0.1
/// assert!((x[0] - 0.9).abs() < 1e-6);
/// ```
#[derive(Debug, Clone)]
pub struct Adagrad {
    config: AdagradConfig,
    states: StateMap<AdagradState>,
}

impl Adagrad {
    /// An Adagrad optimizer; errors name an invalid argument.
    ///
    /// ```
    /// use pyro::optim::{Adagrad, AdagradConfig};
    /// assert!(Adagrad::new(AdagradConfig { lr_decay: -1.0, ..Default::default() }).is_err());
    /// ```
    pub fn new(config: AdagradConfig) -> OptimResult<Self> {
        non_negative(NAME, "lr", config.lr)?;
        non_negative(NAME, "lr_decay", config.lr_decay)?;
        non_negative(NAME, "weight_decay", config.weight_decay)?;
        non_negative(
            NAME,
            "initial_accumulator_value",
            config.initial_accumulator_value,
        )?;
        non_negative(NAME, "eps", config.eps)?;
        Ok(Self {
            config,
            states: StateMap::default(),
        })
    }

    /// Adagrad with learning rate `lr` and torch's other defaults.
    ///
    /// ```
    /// use pyro::optim::{Adagrad, Optimizer};
    /// assert_eq!(Adagrad::with_lr(0.5).unwrap().learning_rate(), 0.5);
    /// ```
    pub fn with_lr(lr: f32) -> OptimResult<Self> {
        Self::new(AdagradConfig {
            lr,
            ..Default::default()
        })
    }

    /// The arguments.
    ///
    /// ```
    /// assert_eq!(pyro::optim::Adagrad::with_lr(0.5).unwrap().config().lr_decay, 0.0);
    /// ```
    pub fn config(&self) -> &AdagradConfig {
        &self.config
    }
}

impl Optimizer for Adagrad {
    fn update(&mut self, name: &str, value: &mut [f32], grad: &[f32]) -> OptimResult<()> {
        check_inputs(name, value, grad)?;
        let c = self.config;
        let mut st = self
            .states
            .working_copy(name, value.len(), |len| AdagradState {
                step: 0,
                sum: vec![c.initial_accumulator_value; len],
            })?;
        st.step += 1;
        let clr = (c.lr as f64 / (1.0 + (st.step - 1) as f64 * c.lr_decay as f64)) as f32;
        let mut out = value.to_vec();
        for (i, p) in out.iter_mut().enumerate() {
            let g = if c.weight_decay != 0.0 {
                grad[i] + c.weight_decay * *p
            } else {
                grad[i]
            };
            let s = st.sum[i] + g * g;
            st.sum[i] = s;
            *p -= clr * g / (s.sqrt() + c.eps);
        }
        check_output(name, &out)?;
        value.copy_from_slice(&out);
        self.states.commit(name, st);
        Ok(())
    }

    state_methods!(NAME);
}
