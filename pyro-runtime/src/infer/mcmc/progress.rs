//! Progress bars of a run, one per chain (indicatif): phase, draws, step size, tree depth and
//! divergences. Off when `progress_bar` is false or stderr is not a terminal.

use std::io::IsTerminal;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::config::McmcConfig;
use super::nuts::TransitionStats;

/// The bars of one run; chains on threads draw theirs together.
pub(crate) struct Bars {
    multi: Option<MultiProgress>,
    total: u64,
}

impl Bars {
    /// The run's bars, or none (see the module doc).
    pub(crate) fn new(cfg: &McmcConfig) -> Self {
        let on = cfg.progress_bar && std::io::stderr().is_terminal();
        Self::with_target(cfg, on.then(ProgressDrawTarget::stderr))
    }

    /// Bars drawing to `target` (tests draw to a hidden target).
    fn with_target(cfg: &McmcConfig, target: Option<ProgressDrawTarget>) -> Self {
        Bars {
            multi: target.map(MultiProgress::with_draw_target),
            total: (cfg.num_warmup + cfg.num_samples) as u64,
        }
    }

    /// The bar of chain `chain`.
    pub(crate) fn chain(&self, chain: usize) -> ChainBar {
        let Some(multi) = &self.multi else {
            return ChainBar(None);
        };
        let style = ProgressStyle::with_template(
            "chain {prefix} [{bar:30}] {pos}/{len} {elapsed_precise} {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        let bar = multi.add(ProgressBar::new(self.total).with_style(style));
        bar.set_prefix(chain.to_string());
        ChainBar(Some(bar))
    }
}

/// One chain's bar (nothing when the run has none).
pub(crate) struct ChainBar(Option<ProgressBar>);

impl ChainBar {
    /// Iteration `i` (0-based, warmup first) finished with `s`.
    pub(crate) fn tick(&self, i: usize, warmup: bool, s: &TransitionStats, divergences: usize) {
        if let Some(bar) = &self.0 {
            bar.set_position(i as u64 + 1);
            bar.set_message(format!(
                "{} step size {:.2e} depth {} divergences {divergences}",
                if warmup { "warmup" } else { "sample" },
                s.step_size,
                s.tree_depth,
            ));
        }
    }

    /// The chain is done (the bar stays on screen, complete).
    pub(crate) fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish();
        }
    }

    /// Whether this chain draws a bar.
    #[cfg(test)]
    fn is_on(&self) -> bool {
        self.0.is_some()
    }

    /// The bar's position.
    #[cfg(test)]
    fn position(&self) -> Option<u64> {
        self.0.as_ref().map(ProgressBar::position)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats() -> TransitionStats {
        TransitionStats {
            step_size: 0.25,
            tree_depth: 3,
            ..TransitionStats::default()
        }
    }

    #[test]
    fn bars_are_off_without_a_terminal_or_when_disabled() {
        let cfg = McmcConfig {
            progress_bar: false,
            ..Default::default()
        };
        assert!(!Bars::new(&cfg).chain(0).is_on());
        // A test's stderr is not a terminal: off even when asked for.
        let cfg = McmcConfig::default();
        if !std::io::stderr().is_terminal() {
            assert!(!Bars::new(&cfg).chain(0).is_on());
        }
    }

    #[test]
    fn a_bar_follows_the_iterations() {
        let cfg = McmcConfig {
            num_warmup: 3,
            num_samples: 2,
            ..Default::default()
        };
        let bars = Bars::with_target(&cfg, Some(ProgressDrawTarget::hidden()));
        let bar = bars.chain(1);
        assert!(bar.is_on());
        for i in 0..5 {
            bar.tick(i, i < 3, &stats(), 0);
        }
        assert_eq!(bar.position(), Some(5));
        bar.finish();
    }
}
