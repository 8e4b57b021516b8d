//! [`ClippedAdam`]: Pyro's `pyro.optim.ClippedAdam` (pyro/optim/clipped_adam.py), Adam with
//! elementwise gradient clipping and a per-parameter learning-rate decay.
//!
//! Per parameter, at its `t`-th update (`t` starting at 1), with `g` the gradient of the loss:
//!
//! ```text
//! g     <- clamp(g, -clip_norm, clip_norm)               (elementwise, before weight decay)
//! lr_t  =  lr * lrd^t                                      (Pyro multiplies its lr by lrd
//!                                                           before every update)
//! g     <- g + weight_decay * p                            (if weight_decay != 0)
//! m     <- beta1 * m + (1 - beta1) * g
//! d     =  g - m   if centered_variance, else g
//! v     <- beta2 * v + (1 - beta2) * d^2
//! p     <- p - lr_t * sqrt(1 - beta2^t) / (1 - beta1^t) * m / (sqrt(v) + eps)
//! ```
//!
//! Note `eps` is added to `sqrt(v)` before the bias correction, unlike torch's `Adam`. Pyro
//! keeps one optimizer per parameter, so `t` counts that parameter's own updates.

use super::adam::MomentState;
use super::common::{
    check_inputs, check_output, non_negative, positive, state_methods, unit_half_open, StateMap,
};
use super::error::OptimResult;
use super::Optimizer;

/// Arguments of [`ClippedAdam`], with Pyro's defaults (`lr = 1e-3`, `betas = (0.9, 0.999)`,
/// `eps = 1e-8`, `weight_decay = 0`, `clip_norm = 10`, `lrd = 1`, `centered_variance = false`).
///
/// ```
/// use pyro::optim::ClippedAdamConfig;
/// let c = ClippedAdamConfig { lr: 0.01, lrd: 0.999, ..Default::default() };
/// assert_eq!(c.clip_norm, 10.0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClippedAdamConfig {
    /// Learning rate (`>= 0`).
    pub lr: f32,
    /// Decay rates of the first and second moment averages (each in `[0, 1)`).
    pub betas: (f32, f32),
    /// Added to `sqrt(v)` for numerical stability (`>= 0`).
    pub eps: f32,
    /// L2 penalty added to the (clipped) gradient (`>= 0`).
    pub weight_decay: f32,
    /// Each gradient element is clamped to `[-clip_norm, clip_norm]` (`> 0`).
    pub clip_norm: f32,
    /// Learning-rate decay per update: the `t`-th update uses `lr * lrd^t` (`> 0`).
    pub lrd: f32,
    /// Use the variance of the gradient around its running mean for the second moment.
    pub centered_variance: bool,
}

impl Default for ClippedAdamConfig {
    fn default() -> Self {
        Self {
            lr: 1e-3,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 0.0,
            clip_norm: 10.0,
            lrd: 1.0,
            centered_variance: false,
        }
    }
}

const NAME: &str = "ClippedAdam";

/// Pyro's `ClippedAdam`: Adam with elementwise gradient clipping and learning-rate decay.
///
/// ```
/// use pyro::optim::{ClippedAdam, ClippedAdamConfig, Optimizer};
/// let mut opt = ClippedAdam::new(ClippedAdamConfig { lr: 0.1, lrd: 0.99, ..Default::default() })
///     .unwrap();
/// let mut x = vec![0.0_f32];
/// opt.update("x", &mut x, &[1e6]).unwrap(); // clipped to 10; Adam's first step is -lr*lrd
/// assert!((x[0] + 0.1 * 0.99).abs() < 1e-6);
/// ```
#[derive(Debug, Clone)]
pub struct ClippedAdam {
    config: ClippedAdamConfig,
    states: StateMap<MomentState>,
}

impl ClippedAdam {
    /// A ClippedAdam optimizer; errors name an invalid argument.
    ///
    /// ```
    /// use pyro::optim::{ClippedAdam, ClippedAdamConfig};
    /// assert!(ClippedAdam::new(ClippedAdamConfig::default()).is_ok());
    /// assert!(ClippedAdam::new(ClippedAdamConfig { clip_norm: 0.0, ..Default::default() }).is_err());
    /// ```
    pub fn new(config: ClippedAdamConfig) -> OptimResult<Self> {
        non_negative(NAME, "lr", config.lr)?;
        unit_half_open(NAME, "betas.0", config.betas.0)?;
        unit_half_open(NAME, "betas.1", config.betas.1)?;
        non_negative(NAME, "eps", config.eps)?;
        non_negative(NAME, "weight_decay", config.weight_decay)?;
        positive(NAME, "clip_norm", config.clip_norm)?;
        positive(NAME, "lrd", config.lrd)?;
        Ok(Self {
            config,
            states: StateMap::default(),
        })
    }

    /// ClippedAdam with learning rate `lr` and Pyro's other defaults.
    ///
    /// ```
    /// use pyro::optim::{ClippedAdam, Optimizer};
    /// assert_eq!(ClippedAdam::with_lr(0.01).unwrap().learning_rate(), 0.01);
    /// ```
    pub fn with_lr(lr: f32) -> OptimResult<Self> {
        Self::new(ClippedAdamConfig {
            lr,
            ..Default::default()
        })
    }

    /// The arguments.
    ///
    /// ```
    /// let opt = pyro::optim::ClippedAdam::with_lr(0.01).unwrap();
    /// assert_eq!(opt.config().lrd, 1.0);
    /// ```
    pub fn config(&self) -> &ClippedAdamConfig {
        &self.config
    }

    /// Number of updates made to parameter `name`, `None` if unseen.
    ///
    /// ```
    /// use pyro::optim::{ClippedAdam, Optimizer};
    /// let mut opt = ClippedAdam::with_lr(0.01).unwrap();
    /// opt.update("x", &mut [1.0], &[1.0]).unwrap();
    /// assert_eq!(opt.step_count("x"), Some(1));
    /// ```
    pub fn step_count(&self, name: &str) -> Option<u64> {
        self.states.get(name).map(|s| s.step)
    }

    /// The learning rate the next update of `name` will use: `lr * lrd^(t + 1)` after `t`
    /// updates (Pyro decays each parameter's own learning rate).
    ///
    /// ```
    /// use pyro::optim::{ClippedAdam, ClippedAdamConfig, Optimizer};
    /// let mut opt = ClippedAdam::new(ClippedAdamConfig { lr: 1.0, lrd: 0.5, ..Default::default() })
    ///     .unwrap();
    /// assert_eq!(opt.next_learning_rate("x"), 0.5);
    /// opt.update("x", &mut [1.0], &[1.0]).unwrap();
    /// assert_eq!(opt.next_learning_rate("x"), 0.25);
    /// ```
    pub fn next_learning_rate(&self, name: &str) -> f32 {
        let t = self.step_count(name).unwrap_or(0) + 1;
        self.decayed_lr(t) as f32
    }

    fn decayed_lr(&self, t: u64) -> f64 {
        let t = t.min(i32::MAX as u64) as i32;
        self.config.lr as f64 * (self.config.lrd as f64).powi(t)
    }
}

impl Optimizer for ClippedAdam {
    fn update(&mut self, name: &str, value: &mut [f32], grad: &[f32]) -> OptimResult<()> {
        check_inputs(name, value, grad)?;
        let mut st = self
            .states
            .working_copy(name, value.len(), MomentState::new)?;
        st.step += 1;
        let c = &self.config;
        let (b1, b2) = (c.betas.0 as f64, c.betas.1 as f64);
        let t = st.step.min(i32::MAX as u64) as i32;
        let bias1 = 1.0 - b1.powi(t);
        let bias2 = 1.0 - b2.powi(t);
        let step_size = (self.decayed_lr(st.step) * bias2.sqrt() / bias1) as f32;
        let (b1f, b2f) = (c.betas.0, c.betas.1);
        let mut out = value.to_vec();
        for (i, p) in out.iter_mut().enumerate() {
            let mut g = grad[i].clamp(-c.clip_norm, c.clip_norm);
            if c.weight_decay != 0.0 {
                g += c.weight_decay * *p;
            }
            let m = b1f * st.exp_avg[i] + (1.0 - b1f) * g;
            let d = if c.centered_variance { g - m } else { g };
            let v = b2f * st.exp_avg_sq[i] + (1.0 - b2f) * d * d;
            st.exp_avg[i] = m;
            st.exp_avg_sq[i] = v;
            *p -= step_size * m / (v.sqrt() + c.eps);
        }
        check_output(name, &out)?;
        value.copy_from_slice(&out);
        self.states.commit(name, st);
        Ok(())
    }

    state_methods!(NAME);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opt(clip_norm: f32, lrd: f32, weight_decay: f32) -> ClippedAdam {
        ClippedAdam::new(ClippedAdamConfig {
            lr: 0.05,
            clip_norm,
            lrd,
            weight_decay,
            ..Default::default()
        })
        .unwrap()
    }

    #[test]
    fn gradients_are_clamped_elementwise() {
        // Huge gradients behave exactly as gradients equal to the bound, elementwise, and
        // elements inside the bound are untouched (same as with a bound that never acts).
        let (mut clipped, mut at_bound, mut unbounded) =
            (opt(2.0, 1.0, 0.0), opt(2.0, 1.0, 0.0), opt(1e30, 1.0, 0.0));
        let (mut x, mut y, mut z) = (vec![0.5_f32; 3], vec![0.5_f32; 3], vec![0.5_f32; 3]);
        for t in 0..10 {
            let s = if t % 2 == 0 { 1.0 } else { -1.0 };
            clipped
                .update("x", &mut x, &[1e6 * s, -3e4, 0.7 * s])
                .unwrap();
            at_bound
                .update("x", &mut y, &[2.0 * s, -2.0, 0.7 * s])
                .unwrap();
            unbounded
                .update("x", &mut z, &[2.0 * s, -2.0, 0.7 * s])
                .unwrap();
        }
        assert_eq!(x, y);
        assert_eq!(y, z);
    }

    #[test]
    fn weight_decay_is_added_after_clipping() {
        // Pyro clamps the raw gradient, then adds weight_decay * p: feeding that sum to a
        // ClippedAdam without weight decay (and a bound it never reaches) is the same run,
        // while decaying before clipping would be another one.
        let raw = [50.0_f32, -40.0, 0.3, -60.0, 45.0];
        let mut with_wd = opt(1.0, 1.0, 0.5);
        let (mut after, mut before) = (opt(1e30, 1.0, 0.0), opt(1e30, 1.0, 0.0));
        let (mut x, mut y, mut z) = (vec![2.0_f32], vec![2.0_f32], vec![2.0_f32]);
        for g in raw {
            with_wd.update("x", &mut x, &[g]).unwrap();
            let gy = [g.clamp(-1.0, 1.0) + 0.5 * y[0]];
            after.update("x", &mut y, &gy).unwrap();
            let gz = [(g + 0.5 * z[0]).clamp(-1.0, 1.0)];
            before.update("x", &mut z, &gz).unwrap();
        }
        assert_eq!(x, y);
        assert!((x[0] - z[0]).abs() > 1e-3, "{x:?} vs {z:?}");
    }

    #[test]
    fn learning_rate_decays_by_lrd_per_update_of_each_parameter() {
        // With a constant gradient and eps = 0, Adam's m_hat / sqrt(v_hat) is exactly 1, so
        // the t-th displacement is lr * lrd^t (Pyro multiplies lr by lrd before each update).
        let (lr, lrd) = (0.1_f64, 0.8_f64);
        let mut o = ClippedAdam::new(ClippedAdamConfig {
            lr: lr as f32,
            lrd: lrd as f32,
            eps: 0.0,
            ..Default::default()
        })
        .unwrap();
        let mut x = vec![0.0_f32];
        for t in 1..=12 {
            let before = x[0] as f64;
            o.update("x", &mut x, &[0.3]).unwrap();
            o.end_step();
            let want = lr * lrd.powi(t);
            let got = before - x[0] as f64;
            assert!(
                (got - want).abs() < 1e-5 * want,
                "step {t}: {got} vs {want}"
            );
        }
        // A parameter seen for the first time starts from lr * lrd, whatever the others did.
        let mut y = vec![0.0_f32];
        o.update("y", &mut y, &[-0.3]).unwrap();
        assert!((y[0] as f64 - lr * lrd).abs() < 1e-7);
        assert_eq!(o.learning_rate(), 0.1);
    }

    #[test]
    fn invalid_arguments_are_named() {
        let bad = |c: ClippedAdamConfig, arg: &str| match ClippedAdam::new(c).unwrap_err() {
            crate::optim::OptimError::InvalidConfig { argument, .. } => {
                assert_eq!(argument, arg)
            }
            e => panic!("{e}"),
        };
        let d = ClippedAdamConfig::default();
        bad(
            ClippedAdamConfig {
                clip_norm: -1.0,
                ..d
            },
            "clip_norm",
        );
        bad(ClippedAdamConfig { lrd: 0.0, ..d }, "lrd");
        bad(
            ClippedAdamConfig {
                lrd: f32::INFINITY,
                ..d
            },
            "lrd",
        );
        bad(ClippedAdamConfig { lr: f32::NAN, ..d }, "lr");
        bad(
            ClippedAdamConfig {
                betas: (0.9, -0.1),
                ..d
            },
            "betas.1",
        );
        bad(ClippedAdamConfig { eps: -1e-8, ..d }, "eps");
    }
}
