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
            Box::new(Scheduled::new(Adam::with_lr(0.1).unwrap(), ExponentialLr { gamma: 0.998 }).unwrap()),
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
        ("adagrad", Box::new(Adagrad::with_lr(1.0).unwrap()), 2000, 1e-3),
    ];
    for (name, mut opt, steps, tol) in cases {
        let d = quadratic_distance(opt.as_mut(), steps);
        assert!(d < tol, "{name}: distance {d} to the minimum after {steps} steps");
    }
}
