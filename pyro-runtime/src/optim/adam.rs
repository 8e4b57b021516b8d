//! [`Adam`]: torch's `torch.optim.Adam` (Pyro's `pyro.optim.Adam`), without `amsgrad`.
//!
//! Per parameter, at step `t` (starting at 1), with `g` the gradient of the loss
//! (torch.optim.Adam documentation, "Algorithm"):
//!
//! ```text
//! g   <- g + weight_decay * p                 (if weight_decay != 0; L2 penalty, not AdamW)
//! m   <- beta1 * m + (1 - beta1) * g
//! v   <- beta2 * v + (1 - beta2) * g^2
//! p   <- p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
//! ```

use super::common::{
    check_inputs, non_negative, state_methods, unit_half_open, ParamState, StateMap,
};
use super::error::{OptimError, OptimResult};
use super::Optimizer;

/// Arguments of [`Adam`], with torch's defaults (`lr = 1e-3`, `betas = (0.9, 0.999)`,
/// `eps = 1e-8`, `weight_decay = 0`).
///
/// ```
/// use pyro::optim::AdamConfig;
/// let c = AdamConfig { lr: 0.01, ..Default::default() };
/// assert_eq!(c.betas, (0.9, 0.999));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamConfig {
    /// Learning rate (`>= 0`).
    pub lr: f32,
    /// Decay rates of the first and second moment averages (each in `[0, 1)`).
    pub betas: (f32, f32),
    /// Added to the denominator for numerical stability (`>= 0`).
    pub eps: f32,
    /// L2 penalty added to the gradient (`>= 0`).
    pub weight_decay: f32,
}

impl Default for AdamConfig {
    fn default() -> Self {
        Self {
            lr: 1e-3,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 0.0,
        }
    }
}

impl AdamConfig {
    pub(crate) fn validate(&self, optimizer: &'static str) -> OptimResult<()> {
        non_negative(optimizer, "lr", self.lr)?;
        unit_half_open(optimizer, "betas.0", self.betas.0)?;
        unit_half_open(optimizer, "betas.1", self.betas.1)?;
        non_negative(optimizer, "eps", self.eps)?;
        non_negative(optimizer, "weight_decay", self.weight_decay)
    }
}

#[derive(Debug, Clone)]
pub(crate) struct MomentState {
    pub(crate) step: u64,
    pub(crate) exp_avg: Vec<f32>,
    pub(crate) exp_avg_sq: Vec<f32>,
}

impl MomentState {
    pub(crate) fn new(len: usize) -> Self {
        Self {
            step: 0,
            exp_avg: vec![0.0; len],
            exp_avg_sq: vec![0.0; len],
        }
    }
}

impl ParamState for MomentState {
    fn len(&self) -> usize {
        self.exp_avg.len()
    }
}

/// The Adam optimizer (torch's `Adam`, Pyro's `pyro.optim.Adam`); state per parameter name.
///
/// ```
/// use pyro::optim::{Adam, AdamConfig, Optimizer};
/// let mut adam = Adam::new(AdamConfig { lr: 0.1, ..Default::default() }).unwrap();
/// let mut x = vec![1.0_f32];
/// for _ in 0..200 {
///     let grad = vec![2.0 * x[0]]; // d x^2 / dx
///     adam.update("x", &mut x, &grad).unwrap();
///     adam.end_step();
/// }
/// assert!(x[0].abs() < 0.05);
/// ```
#[derive(Debug, Clone)]
pub struct Adam {
    config: AdamConfig,
    states: StateMap<MomentState>,
    /// `(t, 1 - beta1^t, sqrt(1 - beta2^t))` for the last step count seen: the parameters of
    /// one SVI step usually share `t`, so the powers are computed once per step.
    bias: (u64, f64, f64),
}

impl Adam {
    /// An Adam optimizer; errors name an invalid argument.
    ///
    /// ```
    /// use pyro::optim::{Adam, AdamConfig, Optimizer};
    /// let adam = Adam::new(AdamConfig::default()).unwrap();
    /// assert_eq!(adam.learning_rate(), 1e-3);
    /// assert!(Adam::new(AdamConfig { betas: (1.0, 0.999), ..Default::default() }).is_err());
    /// ```
    pub fn new(config: AdamConfig) -> OptimResult<Self> {
        config.validate("Adam")?;
        Ok(Self {
            config,
            states: StateMap::default(),
            bias: (0, 0.0, 0.0),
        })
    }

    /// Adam with learning rate `lr` and torch's other defaults.
    ///
    /// ```
    /// use pyro::optim::{Adam, Optimizer};
    /// assert_eq!(Adam::with_lr(0.01).unwrap().learning_rate(), 0.01);
    /// ```
    pub fn with_lr(lr: f32) -> OptimResult<Self> {
        Self::new(AdamConfig {
            lr,
            ..Default::default()
        })
    }

    /// The arguments.
    ///
    /// ```
    /// let adam = pyro::optim::Adam::with_lr(0.01).unwrap();
    /// assert_eq!(adam.config().eps, 1e-8);
    /// ```
    pub fn config(&self) -> &AdamConfig {
        &self.config
    }

    /// Number of updates made to parameter `name` (torch's `state["step"]`), `None` if unseen.
    ///
    /// ```
    /// use pyro::optim::{Adam, Optimizer};
    /// let mut adam = Adam::with_lr(0.01).unwrap();
    /// assert_eq!(adam.step_count("x"), None);
    /// adam.update("x", &mut [1.0], &[1.0]).unwrap();
    /// assert_eq!(adam.step_count("x"), Some(1));
    /// ```
    pub fn step_count(&self, name: &str) -> Option<u64> {
        self.states.get(name).map(|s| s.step)
    }
}

impl Optimizer for Adam {
    fn update(&mut self, name: &str, value: &mut [f32], grad: &[f32]) -> OptimResult<()> {
        check_inputs(name, value, grad)?;
        let len = value.len();
        let c = self.config;
        let mut slot = self.states.checked_mut(name, len)?;
        let step = slot.as_ref().map_or(0, |s| s.step) + 1;
        if self.bias.0 != step {
            let (b1, b2) = (c.betas.0 as f64, c.betas.1 as f64);
            let t = step.min(i32::MAX as u64) as i32;
            self.bias = (step, 1.0 - b1.powi(t), (1.0 - b2.powi(t)).sqrt());
        }
        let (_, bias1, bias2_sqrt) = self.bias;
        let step_size = (c.lr as f64 / bias1) as f32;
        let (b1f, b2f) = (c.betas.0, c.betas.1);
        // The new moments and value of element `i` from the old moments `(m0, v0)`.
        let next = |i: usize, p: f32, m0: f32, v0: f32| -> (f32, f32, f32) {
            let g = if c.weight_decay != 0.0 {
                grad[i] + c.weight_decay * p
            } else {
                grad[i]
            };
            let m = b1f * m0 + (1.0 - b1f) * g;
            let v = b2f * v0 + (1.0 - b2f) * g * g;
            let denom = (v.sqrt() as f64 / bias2_sqrt) as f32 + c.eps;
            (m, v, p - step_size * m / denom)
        };
        // First pass: check every new value, so a failed update changes nothing.
        for (i, &p) in value.iter().enumerate() {
            let (m0, v0) = slot
                .as_ref()
                .map_or((0.0, 0.0), |s| (s.exp_avg[i], s.exp_avg_sq[i]));
            let (_, _, np) = next(i, p, m0, v0);
            if !np.is_finite() {
                return Err(OptimError::NonFiniteUpdate {
                    name: name.to_string(),
                    index: i,
                    value: np,
                });
            }
        }
        // Second pass: commit the moments and the values.
        let st = match slot.take() {
            Some(st) => st,
            None => self.states.get_or_insert(name, || MomentState::new(len)),
        };
        st.step = step;
        for (i, p) in value.iter_mut().enumerate() {
            let (m, v, np) = next(i, *p, st.exp_avg[i], st.exp_avg_sq[i]);
            st.exp_avg[i] = m;
            st.exp_avg_sq[i] = v;
            *p = np;
        }
        Ok(())
    }

    state_methods!("Adam");
}
