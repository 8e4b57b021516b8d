//! Tests of the optimizers against trajectories of Pyro's own optimizers (fixtures written by
//! `scripts/fixtures/optim.py` with torch and pyro-ppl), on a quadratic, and of the errors.

use std::collections::HashMap;

use super::*;

/// One case of an `optim_*.txt` fixture.
struct Case {
    name: String,
    kind: String,
    cfg: HashMap<String, String>,
    inits: HashMap<String, Vec<f32>>,
    /// `(t, param, grad, value after the update)` in the order Pyro ran them.
    steps: Vec<(u64, String, Vec<f32>, Vec<f32>)>,
    /// `(t, lr of "a" after step t's end)`.
    lrs: Vec<(u64, f64)>,
}

fn floats(tokens: &[&str]) -> Vec<f32> {
    tokens
        .iter()
        .map(|s| s.parse::<f64>().expect("fixture number") as f32)
        .collect()
}

fn load(file: &str) -> Vec<Case> {
    let path = format!("{}/fixtures/{file}.txt", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut cases: Vec<Case> = Vec::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let tok: Vec<&str> = line.split_whitespace().collect();
        match tok[0] {
            "case" => cases.push(Case {
                name: tok[1].to_string(),
                kind: tok[2].to_string(),
                cfg: tok[3..]
                    .iter()
                    .map(|kv| {
                        let (k, v) = kv.split_once('=').expect("key=value");
                        (k.to_string(), v.to_string())
                    })
                    .collect(),
                inits: HashMap::new(),
                steps: Vec::new(),
                lrs: Vec::new(),
            }),
            "init" => {
                let c = cases.last_mut().expect("case first");
                assert_eq!(c.name, tok[1]);
                c.inits.insert(tok[2].to_string(), floats(&tok[3..]));
            }
            "step" => {
                let c = cases.last_mut().expect("case first");
                assert_eq!(c.name, tok[1]);
                let sep = tok.iter().position(|&t| t == ";").expect("; in step line");
                c.steps.push((
                    tok[2].parse().expect("step number"),
                    tok[3].to_string(),
                    floats(&tok[4..sep]),
                    floats(&tok[sep + 1..]),
                ));
            }
            "lr" => {
                let c = cases.last_mut().expect("case first");
                assert_eq!(c.name, tok[1]);
                c.lrs
                    .push((tok[2].parse().expect("step"), tok[3].parse().expect("lr")));
            }
            other => panic!("{path}: unknown line kind {other}"),
        }
    }
    assert!(!cases.is_empty(), "{path}: no case");
    cases
}

impl Case {
    fn f(&self, key: &str, default: f32) -> f32 {
        self.cfg
            .get(key)
            .map(|v| v.parse::<f64>().expect("number") as f32)
            .unwrap_or(default)
    }

    fn flag(&self, key: &str) -> bool {
        self.f(key, 0.0) != 0.0
    }

    fn build_inner(&self) -> Box<dyn Optimizer> {
        match self.kind.as_str() {
            "adam" => {
                let d = AdamConfig::default();
                Box::new(
                    Adam::new(AdamConfig {
                        lr: self.f("lr", d.lr),
                        betas: (self.f("beta1", d.betas.0), self.f("beta2", d.betas.1)),
                        eps: self.f("eps", d.eps),
                        weight_decay: self.f("weight_decay", d.weight_decay),
                    })
                    .unwrap(),
                )
            }
            "clipped_adam" => {
                let d = ClippedAdamConfig::default();
                Box::new(
                    ClippedAdam::new(ClippedAdamConfig {
                        lr: self.f("lr", d.lr),
                        betas: (self.f("beta1", d.betas.0), self.f("beta2", d.betas.1)),
                        eps: self.f("eps", d.eps),
                        weight_decay: self.f("weight_decay", d.weight_decay),
                        clip_norm: self.f("clip_norm", d.clip_norm),
                        lrd: self.f("lrd", d.lrd),
                        centered_variance: self.flag("centered_variance"),
                    })
                    .unwrap(),
                )
            }
            "sgd" => {
                let d = SgdConfig::default();
                Box::new(
                    Sgd::new(SgdConfig {
                        lr: self.f("lr", d.lr),
                        momentum: self.f("momentum", d.momentum),
                        dampening: self.f("dampening", d.dampening),
                        nesterov: self.flag("nesterov"),
                        weight_decay: self.f("weight_decay", d.weight_decay),
                    })
                    .unwrap(),
                )
            }
            "rmsprop" => {
                let d = RmsPropConfig::default();
                Box::new(
                    RmsProp::new(RmsPropConfig {
                        lr: self.f("lr", d.lr),
                        alpha: self.f("alpha", d.alpha),
                        eps: self.f("eps", d.eps),
                        momentum: self.f("momentum", d.momentum),
                        centered: self.flag("centered"),
                        weight_decay: self.f("weight_decay", d.weight_decay),
                    })
                    .unwrap(),
                )
            }
            "adagrad" => {
                let d = AdagradConfig::default();
                Box::new(
                    Adagrad::new(AdagradConfig {
                        lr: self.f("lr", d.lr),
                        lr_decay: self.f("lr_decay", d.lr_decay),
                        weight_decay: self.f("weight_decay", d.weight_decay),
                        initial_accumulator_value: self
                            .f("initial_accumulator_value", d.initial_accumulator_value),
                        eps: self.f("eps", d.eps),
                    })
                    .unwrap(),
                )
            }
            other => panic!("unknown optimizer {other}"),
        }
    }

    fn build(&self) -> Box<dyn Optimizer> {
        let inner = self.build_inner();
        match self.cfg.get("schedule").map(String::as_str) {
            None => inner,
            Some("exponential") => Box::new(
                Scheduled::new(
                    inner,
                    ExponentialLr {
                        gamma: self.f("gamma", 1.0),
                    },
                )
                .unwrap(),
            ),
            Some("step") => Box::new(
                Scheduled::new(
                    inner,
                    StepLr {
                        step_size: self.f("step_size", 1.0) as u64,
                        gamma: self.f("gamma", 1.0),
                    },
                )
                .unwrap(),
            ),
            Some(other) => panic!("unknown schedule {other}"),
        }
    }
}

/// Replays every case of `file` and compares each value after each update with Pyro's, to
/// 1e-5 relative (absolute below 0.1). Returns the number of values compared.
fn check_trajectories(file: &str) -> usize {
    let mut compared = 0;
    for case in load(file) {
        let mut opt = case.build();
        let mut values = case.inits.clone();
        let mut a_updates = 0i32;
        let last = case.steps.last().expect("steps").0;
        for t in 1..=last {
            for (_, p, grad, want) in case.steps.iter().filter(|s| s.0 == t) {
                let v = values.get_mut(p).expect("param with init");
                opt.update(p, v, grad).unwrap();
                if p == "a" {
                    a_updates += 1;
                }
                for (i, (&got, &want)) in v.iter().zip(want).enumerate() {
                    let tol = 1e-5 * want.abs().max(0.1);
                    assert!(
                        (got - want).abs() <= tol,
                        "{file} {} step {t} {p}[{i}]: got {got}, Pyro {want}",
                        case.name
                    );
                    compared += 1;
                }
            }
            opt.end_step();
            if let Some(&(_, lr)) = case.lrs.iter().find(|l| l.0 == t) {
                // torch's group lr also carries ClippedAdam's own decay lrd^(updates of "a").
                let lrd = if case.kind == "clipped_adam" {
                    (case.f("lrd", 1.0) as f64).powi(a_updates)
                } else {
                    1.0
                };
                let got = opt.learning_rate() as f64 * lrd;
                assert!(
                    (got - lr).abs() <= 1e-6 * lr,
                    "{file} {} lr after step {t}: got {got}, Pyro {lr}",
                    case.name
                );
                compared += 1;
            }
        }
    }
    compared
}

#[test]
fn adam_matches_pyro() {
    assert_eq!(check_trajectories("optim_adam"), 4 * (19 * 3 + 15 * 2));
}

#[test]
fn clipped_adam_matches_pyro() {
    assert_eq!(
        check_trajectories("optim_clipped_adam"),
        4 * (19 * 3 + 15 * 2)
    );
}

#[test]
fn sgd_matches_pyro() {
    assert_eq!(check_trajectories("optim_sgd"), 3 * (19 * 3 + 15 * 2));
}

#[test]
fn rmsprop_matches_pyro() {
    assert_eq!(check_trajectories("optim_rmsprop"), 4 * (19 * 3 + 15 * 2));
}

#[test]
fn adagrad_matches_pyro() {
    assert_eq!(check_trajectories("optim_adagrad"), 3 * (19 * 3 + 15 * 2));
}

#[test]
fn schedules_match_pyro() {
    assert_eq!(
        check_trajectories("optim_scheduled"),
        3 * (19 * 3 + 15 * 2 + 20)
    );
}

/// Minimises `f(x) = 0.5 * sum_i a_i (x_i - c_i)^2` (minimum at `c`, analytically) for
/// `steps` steps from 0 and returns the largest distance to `c`.
fn quadratic_distance(opt: &mut dyn Optimizer, steps: usize) -> f32 {
    let a = [1.0_f32, 4.0, 0.25];
    let c = [3.0_f32, -2.0, 0.5];
    let mut x = vec![0.0_f32; 3];
    for _ in 0..steps {
        let grad: Vec<f32> = (0..3).map(|i| a[i] * (x[i] - c[i])).collect();
        opt.update("x", &mut x, &grad).unwrap();
        opt.end_step();
    }
    (0..3).map(|i| (x[i] - c[i]).abs()).fold(0.0, f32::max)
}

#[test]
fn every_optimizer_converges_on_a_quadratic() {
    let cases: Vec<(&str, Box<dyn Optimizer>, usize, f32)> = vec![
        (
            "adam",
            Box::new(
                Scheduled::new(Adam::with_lr(0.1).unwrap(), ExponentialLr { gamma: 0.998 })
                    .unwrap(),
            ),
            3000,
            1e-3,
        ),
        (
            "clipped_adam",
            Box::new(
                ClippedAdam::new(ClippedAdamConfig {
                    lr: 0.1,
                    lrd: 0.998,
                    clip_norm: 1.0,
                    ..Default::default()
                })
                .unwrap(),
            ),
            3000,
            1e-3,
        ),
        ("sgd", Box::new(Sgd::with_lr(0.3).unwrap()), 300, 1e-4),
        (
            "sgd_nesterov",
            Box::new(
                Sgd::new(SgdConfig {
                    lr: 0.05,
                    momentum: 0.9,
                    nesterov: true,
                    ..Default::default()
                })
                .unwrap(),
            ),
            1000,
            1e-4,
        ),
        (
            "rmsprop",
            Box::new(
                Scheduled::new(
                    RmsProp::with_lr(0.05).unwrap(),
                    StepLr {
                        step_size: 100,
                        gamma: 0.5,
                    },
                )
                .unwrap(),
            ),
            2000,
            1e-3,
        ),
        (
            "adagrad",
            Box::new(Adagrad::with_lr(1.0).unwrap()),
            2000,
            1e-3,
        ),
    ];
    for (name, mut opt, steps, tol) in cases {
        let d = quadratic_distance(opt.as_mut(), steps);
        assert!(
            d < tol,
            "{name}: distance {d} to the minimum after {steps} steps"
        );
    }
}

/// One optimizer of each kind, with non-default settings that use every state buffer.
fn all_optimizers() -> Vec<(&'static str, Box<dyn Optimizer>)> {
    vec![
        ("Adam", Box::new(Adam::with_lr(0.1).unwrap())),
        (
            "ClippedAdam",
            Box::new(
                ClippedAdam::new(ClippedAdamConfig {
                    lr: 0.1,
                    lrd: 0.9,
                    ..Default::default()
                })
                .unwrap(),
            ),
        ),
        (
            "Sgd",
            Box::new(
                Sgd::new(SgdConfig {
                    lr: 0.1,
                    momentum: 0.9,
                    ..Default::default()
                })
                .unwrap(),
            ),
        ),
        (
            "RmsProp",
            Box::new(
                RmsProp::new(RmsPropConfig {
                    momentum: 0.5,
                    centered: true,
                    ..Default::default()
                })
                .unwrap(),
            ),
        ),
        ("Adagrad", Box::new(Adagrad::with_lr(0.1).unwrap())),
        (
            "Scheduled",
            Box::new(
                Scheduled::new(Adam::with_lr(0.1).unwrap(), ExponentialLr { gamma: 0.9 }).unwrap(),
            ),
        ),
    ]
}

fn config_argument(r: OptimResult<impl std::fmt::Debug>) -> (&'static str, &'static str) {
    match r {
        Err(OptimError::InvalidConfig {
            optimizer,
            argument,
            ..
        }) => (optimizer, argument),
        other => panic!("expected InvalidConfig, got {other:?}"),
    }
}

#[test]
fn bad_learning_rates_are_named_by_every_constructor() {
    for lr in [-1e-3, f32::NAN, f32::INFINITY] {
        assert_eq!(config_argument(Adam::with_lr(lr)), ("Adam", "lr"));
        assert_eq!(
            config_argument(ClippedAdam::with_lr(lr)),
            ("ClippedAdam", "lr")
        );
        assert_eq!(config_argument(Sgd::with_lr(lr)), ("Sgd", "lr"));
        assert_eq!(config_argument(RmsProp::with_lr(lr)), ("RmsProp", "lr"));
        assert_eq!(config_argument(Adagrad::with_lr(lr)), ("Adagrad", "lr"));
        for (name, mut opt) in all_optimizers() {
            let before = opt.learning_rate();
            assert!(opt.set_learning_rate(lr).is_err(), "{name}");
            assert_eq!(opt.learning_rate(), before, "{name}");
        }
    }
    // lr = 0 is allowed, as in torch.
    assert!(Adam::with_lr(0.0).is_ok());
    let msg = Adam::with_lr(-1.0).unwrap_err().to_string();
    assert!(msg.contains("Adam") && msg.contains("lr"), "{msg}");
}

#[test]
fn bad_arguments_are_named() {
    let adam = AdamConfig::default();
    assert_eq!(
        config_argument(Adam::new(AdamConfig {
            betas: (1.0, 0.999),
            ..adam
        }))
        .1,
        "betas.0"
    );
    assert_eq!(
        config_argument(Adam::new(AdamConfig {
            betas: (0.9, f32::NAN),
            ..adam
        }))
        .1,
        "betas.1"
    );
    assert_eq!(
        config_argument(Adam::new(AdamConfig { eps: -1.0, ..adam })).1,
        "eps"
    );
    assert_eq!(
        config_argument(Adam::new(AdamConfig {
            weight_decay: -0.1,
            ..adam
        }))
        .1,
        "weight_decay"
    );
    let sgd = SgdConfig::default();
    assert_eq!(
        config_argument(Sgd::new(SgdConfig {
            momentum: -0.5,
            ..sgd
        }))
        .1,
        "momentum"
    );
    assert_eq!(
        config_argument(Sgd::new(SgdConfig {
            nesterov: true,
            ..sgd
        }))
        .1,
        "momentum"
    );
    assert_eq!(
        config_argument(Sgd::new(SgdConfig {
            nesterov: true,
            momentum: 0.9,
            dampening: 0.1,
            ..sgd
        }))
        .1,
        "dampening"
    );
    let rms = RmsPropConfig::default();
    assert_eq!(
        config_argument(RmsProp::new(RmsPropConfig { alpha: -0.1, ..rms })).1,
        "alpha"
    );
    assert_eq!(
        config_argument(RmsProp::new(RmsPropConfig {
            momentum: f32::NAN,
            ..rms
        }))
        .1,
        "momentum"
    );
    let ada = AdagradConfig::default();
    assert_eq!(
        config_argument(Adagrad::new(AdagradConfig {
            initial_accumulator_value: -1.0,
            ..ada
        }))
        .1,
        "initial_accumulator_value"
    );
    assert_eq!(
        config_argument(Adagrad::new(AdagradConfig {
            lr_decay: -1.0,
            ..ada
        }))
        .1,
        "lr_decay"
    );
}

#[test]
fn mismatched_lengths_are_named() {
    for (name, mut opt) in all_optimizers() {
        let mut w = vec![1.0_f32, 2.0];
        match opt.update("loc.weight", &mut w, &[0.1, 0.2, 0.3]) {
            Err(OptimError::ShapeMismatch {
                name: p,
                value_len: 2,
                grad_len: 3,
            }) => assert_eq!(p, "loc.weight", "{name}"),
            other => panic!("{name}: {other:?}"),
        }
        assert_eq!(w, vec![1.0, 2.0], "{name}");
        assert_eq!(
            opt.num_states(),
            0,
            "{name}: no state made by a failed update"
        );
    }
}

#[test]
fn non_finite_gradients_and_values_are_named() {
    for (name, mut opt) in all_optimizers() {
        let mut w = vec![1.0_f32, 2.0, 3.0];
        for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            let err = opt.update("scale", &mut w, &[0.0, 1.0, bad]).unwrap_err();
            match &err {
                OptimError::NonFiniteGradient {
                    name: p, index: 2, ..
                } => {
                    assert_eq!(p, "scale", "{name}")
                }
                other => panic!("{name}: {other:?}"),
            }
            assert!(err.to_string().contains("`scale`"), "{name}: {err}");
        }
        let mut v = vec![1.0_f32, f32::NAN];
        assert!(
            matches!(
                opt.update("v", &mut v, &[1.0, 1.0]),
                Err(OptimError::NonFiniteValue { index: 1, .. })
            ),
            "{name}"
        );
        assert_eq!(w, vec![1.0, 2.0, 3.0], "{name}");
    }
}

#[test]
fn a_failed_update_changes_nothing() {
    // Twin optimizers see the same good gradients; one also gets bad ones in between. Their
    // trajectories must stay identical (the failed updates left values and state alone).
    for ((name, mut a), (_, mut b)) in all_optimizers().into_iter().zip(all_optimizers()) {
        let (mut x, mut y) = (vec![0.5_f32, -0.5], vec![0.5_f32, -0.5]);
        for t in 0..6 {
            let g = [0.3 * t as f32 - 0.7, 1.1];
            a.update("x", &mut x, &g).unwrap();
            assert!(b.update("x", &mut y, &[f32::NAN, 1.0]).is_err());
            assert!(b.update("x", &mut y, &[1.0]).is_err());
            b.update("x", &mut y, &g).unwrap();
            a.end_step();
            b.end_step();
        }
        assert_eq!(x, y, "{name}");
    }
}

#[test]
fn a_resized_parameter_needs_forget() {
    for (name, mut opt) in all_optimizers() {
        opt.update("w", &mut [0.0, 0.0], &[1.0, 1.0]).unwrap();
        let err = opt.update("w", &mut [0.0; 3], &[1.0; 3]).unwrap_err();
        assert!(
            matches!(
                err,
                OptimError::StateMismatch {
                    state_len: 2,
                    value_len: 3,
                    ..
                }
            ),
            "{name}: {err}"
        );
        assert!(opt.forget("w"), "{name}");
        opt.update("w", &mut [0.0; 3], &[1.0; 3]).unwrap();
    }
}

#[test]
fn an_overflowing_update_is_refused() {
    let mut sgd = Sgd::with_lr(1.0).unwrap();
    let mut x = vec![0.0_f32, 3e38];
    let err = sgd.update("big", &mut x, &[1.0, -3e38]).unwrap_err();
    assert!(
        matches!(err, OptimError::NonFiniteUpdate { ref name, index: 1, .. } if name == "big"),
        "{err}"
    );
    assert_eq!(x, vec![0.0, 3e38]);
}
