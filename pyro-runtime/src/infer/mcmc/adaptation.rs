//! Warmup adaptation as Stan does it: dual averaging of the step size (Hoffman & Gelman
//! 2014), the windowed schedule of mass matrix estimates (a 75-iteration initial buffer,
//! windows from 25 iterations doubling, a 50-iteration terminal buffer), and Welford
//! estimates of the variance or covariance with Stan's regularization.

/// Dual averaging of the log step size towards a target mean acceptance probability.
///
/// ```
/// use pyro::infer::mcmc::DualAveraging;
/// let mut da = DualAveraging::new(0.5, 0.8);
/// // Acceptance above the target makes the step size grow.
/// let eps = (0..20).map(|_| da.update(0.99)).last().unwrap();
/// assert!(eps > 0.5 && da.final_step_size() > 0.5);
/// ```
#[derive(Debug, Clone)]
pub struct DualAveraging {
    /// Shrinkage target of the log step size (`log(10 ε₀)`).
    pub mu: f64,
    /// The target acceptance statistic.
    pub target: f64,
    /// Adaptation regularization (0.05).
    pub gamma: f64,
    /// Iteration offset (10).
    pub t0: f64,
    /// Decay of the averaging weights (0.75).
    pub kappa: f64,
    counter: f64,
    s_bar: f64,
    x_bar: f64,
}

impl DualAveraging {
    /// Stan's defaults around an initial step size.
    pub fn new(step_size: f64, target: f64) -> Self {
        DualAveraging {
            mu: (10.0 * step_size).ln(),
            target,
            gamma: 0.05,
            t0: 10.0,
            kappa: 0.75,
            counter: 0.0,
            s_bar: 0.0,
            x_bar: 0.0,
        }
    }

    /// Starts over around a new initial step size (after a mass matrix update).
    pub fn restart(&mut self, step_size: f64) {
        self.mu = (10.0 * step_size).ln();
        self.counter = 0.0;
        self.s_bar = 0.0;
        self.x_bar = 0.0;
    }

    /// One update with the transition's acceptance statistic; returns the next step size.
    pub fn update(&mut self, accept_stat: f64) -> f64 {
        let accept = if accept_stat.is_nan() {
            0.0
        } else {
            accept_stat.min(1.0)
        };
        self.counter += 1.0;
        let eta = 1.0 / (self.counter + self.t0);
        self.s_bar = (1.0 - eta) * self.s_bar + eta * (self.target - accept);
        let x = self.mu - self.s_bar * self.counter.sqrt() / self.gamma;
        let x_eta = self.counter.powf(-self.kappa);
        self.x_bar = (1.0 - x_eta) * self.x_bar + x_eta * x;
        x.exp()
    }

    /// The averaged step size, used once adaptation ends.
    pub fn final_step_size(&self) -> f64 {
        self.x_bar.exp()
    }
}

/// Stan's windowed adaptation schedule over `num_warmup` iterations.
///
/// ```
/// use pyro::infer::mcmc::Windows;
/// let mut w = Windows::new(1000);
/// let ends: Vec<usize> = (0..1000).filter(|_| w.step().1).collect();
/// assert_eq!(ends, vec![99, 149, 249, 449, 949]);
/// ```
#[derive(Debug, Clone)]
pub struct Windows {
    num_warmup: usize,
    init_buffer: usize,
    term_buffer: usize,
    window_size: usize,
    next_window_end: usize,
    counter: usize,
}

impl Windows {
    /// The schedule with Stan's buffers (75 / 25 / 50), shrunk to 15% / 75% / 10% of the
    /// warmup when those do not fit. Fewer than 20 warmup iterations adapt no mass matrix.
    pub fn new(num_warmup: usize) -> Self {
        let (mut init_buffer, mut term_buffer, mut base) = (75, 50, 25);
        if num_warmup < 20 {
            // No window: adaptation_window() is never true.
            init_buffer = num_warmup;
            term_buffer = 0;
            base = 0;
        } else if init_buffer + base + term_buffer > num_warmup {
            init_buffer = (0.15 * num_warmup as f64) as usize;
            term_buffer = (0.1 * num_warmup as f64) as usize;
            base = num_warmup - (init_buffer + term_buffer);
        }
        Windows {
            num_warmup,
            init_buffer,
            term_buffer,
            window_size: base,
            next_window_end: (init_buffer + base).saturating_sub(1),
            counter: 0,
        }
    }

    /// Whether warmup iteration `counter` (the current one) feeds the mass matrix estimate.
    fn in_window(&self) -> bool {
        self.window_size > 0
            && self.counter >= self.init_buffer
            && self.counter < self.num_warmup - self.term_buffer
            && self.counter != self.num_warmup
    }

    fn window_ends(&self) -> bool {
        self.window_size > 0
            && self.counter == self.next_window_end
            && self.counter != self.num_warmup
    }

    fn compute_next_window(&mut self) {
        let last = self.num_warmup - self.term_buffer - 1;
        if self.next_window_end == last {
            return;
        }
        self.window_size *= 2;
        self.next_window_end = self.counter + self.window_size;
        if self.next_window_end != last {
            let boundary = self.next_window_end + 2 * self.window_size;
            if boundary >= self.num_warmup - self.term_buffer {
                self.next_window_end = last;
            }
        }
    }

    /// Advances one warmup iteration: whether its draw enters the estimate, and whether a
    /// window ends with it (then the estimate is taken and restarted).
    pub fn step(&mut self) -> (bool, bool) {
        let add = self.in_window();
        let end = self.window_ends();
        if end {
            self.compute_next_window();
        }
        self.counter += 1;
        (add, end)
    }
}

/// Welford's running mean and (co)variance of the draws in one window.
///
/// ```
/// use pyro::infer::mcmc::Welford;
/// let mut w = Welford::new(1, false);
/// for x in [1.0, 2.0, 3.0] {
///     w.add(&[x]);
/// }
/// assert_eq!(w.variance_and_restart(), vec![1.0]);
/// ```
#[derive(Debug, Clone)]
pub struct Welford {
    n: usize,
    dense: bool,
    mean: Vec<f64>,
    m2: Vec<f64>,
    delta: Vec<f64>,
}

impl Welford {
    /// An empty estimate over `dim` coordinates, of the covariance when `dense`.
    pub fn new(dim: usize, dense: bool) -> Self {
        Welford {
            n: 0,
            dense,
            mean: vec![0.0; dim],
            m2: vec![0.0; if dense { dim * dim } else { dim }],
            delta: vec![0.0; dim],
        }
    }

    /// Number of draws so far.
    pub fn len(&self) -> usize {
        self.n
    }

    /// Whether it has no draws.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Adds one draw.
    pub fn add(&mut self, x: &[f64]) {
        self.n += 1;
        let n = self.n as f64;
        let d = self.mean.len();
        for ((delta, mean), xi) in self.delta.iter_mut().zip(&mut self.mean).zip(x) {
            *delta = xi - *mean;
            *mean += *delta / n;
        }
        if self.dense {
            for ((row, xi), mean) in self.m2.chunks_mut(d).zip(x).zip(&self.mean) {
                let after = xi - mean;
                for (m, delta) in row.iter_mut().zip(&self.delta) {
                    *m += after * delta;
                }
            }
        } else {
            for (((m, xi), mean), delta) in
                self.m2.iter_mut().zip(x).zip(&self.mean).zip(&self.delta)
            {
                *m += (xi - mean) * delta;
            }
        }
    }

    /// The sample variances (divisor `n - 1`, diagonal estimates only), then restarts.
    pub fn variance_and_restart(&mut self) -> Vec<f64> {
        let denom = (self.n as f64 - 1.0).max(1.0);
        let out = self.m2.iter().map(|m| m / denom).collect();
        *self = Welford::new(self.mean.len(), self.dense);
        out
    }

    /// Stan's regularized estimate `n/(n+5) Σ + 1e-3 · 5/(n+5) I` (the sample variance or
    /// covariance with divisor `n - 1`), then restarts.
    pub fn regularized_and_restart(&mut self) -> Vec<f64> {
        let n = self.n as f64;
        let d = self.mean.len();
        let w = n / (n + 5.0);
        let shrink = 1e-3 * 5.0 / (n + 5.0);
        let denom = (n - 1.0).max(1.0);
        let mut out: Vec<f64> = self.m2.iter().map(|m| w * m / denom).collect();
        if self.dense {
            for i in 0..d {
                out[i * d + i] += shrink;
            }
            // Symmetric by construction up to rounding; make it exact.
            for i in 0..d {
                for j in 0..i {
                    let s = 0.5 * (out[i * d + j] + out[j * d + i]);
                    out[i * d + j] = s;
                    out[j * d + i] = s;
                }
            }
        } else {
            for v in &mut out {
                *v += shrink;
            }
        }
        *self = Welford::new(d, self.dense);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The iterations at which windows end, for a warmup length.
    fn ends(num_warmup: usize) -> (Vec<usize>, usize, usize) {
        let mut w = Windows::new(num_warmup);
        let (mut out, mut first, mut added) = (vec![], None, 0);
        for i in 0..num_warmup {
            let (add, end) = w.step();
            if add {
                added += 1;
                first.get_or_insert(i);
            }
            if end {
                out.push(i);
            }
        }
        (out, first.unwrap_or(0), added)
    }

    #[test]
    fn stan_windows_for_1000_warmup() {
        // Stan: windows [75, 99], [100, 149], [150, 249], [250, 449], [450, 949].
        let (e, first, added) = ends(1000);
        assert_eq!(e, vec![99, 149, 249, 449, 949]);
        assert_eq!(first, 75);
        assert_eq!(added, 875);
    }

    #[test]
    fn short_warmup_uses_fractions() {
        // 100 warmup: init 15, term 10, one window of 75 ending at 89.
        let (e, first, _) = ends(100);
        assert_eq!(e, vec![89]);
        assert_eq!(first, 15);
        assert!(ends(10).0.is_empty());
    }

    #[test]
    fn welford_regularizes_as_stan() {
        let mut w = Welford::new(1, false);
        for x in [1.0, 2.0, 3.0, 4.0, 5.0] {
            w.add(&[x]);
        }
        let v = w.regularized_and_restart();
        // sample variance 2.5; (5/10) 2.5 + 1e-3 (5/10)
        assert!((v[0] - (1.25 + 0.0005)).abs() < 1e-12);
        assert!(w.is_empty());
        let mut w = Welford::new(2, true);
        for (a, b) in [(1.0, 2.0), (2.0, 4.0), (3.0, 6.5)] {
            w.add(&[a, b]);
        }
        let c = w.regularized_and_restart();
        let (ma, mb) = (2.0, 12.5 / 3.0);
        let cov_ab = ((1.0 - ma) * (2.0 - mb) + 0.0 + (3.0 - ma) * (6.5 - mb)) / 2.0;
        assert!((c[1] - 3.0 / 8.0 * cov_ab).abs() < 1e-12);
        assert!((c[0] - (3.0 / 8.0 * 1.0 + 1e-3 * 5.0 / 8.0)).abs() < 1e-12);
    }

    #[test]
    fn dual_averaging_moves_towards_the_target() {
        let mut da = DualAveraging::new(1.0, 0.8);
        // Always accepting: the step size grows.
        let mut eps = 1.0;
        for _ in 0..50 {
            eps = da.update(1.0);
        }
        assert!(eps > 1.0);
        let mut da = DualAveraging::new(1.0, 0.8);
        for _ in 0..50 {
            eps = da.update(0.0);
        }
        assert!(eps < 1.0 && da.final_step_size() < 1.0);
    }
}
