//! Shared test helpers of the typed operations: the numpy fixture, typed inputs and
//! output checks, and the inputs and weights of the finite-difference gradient checks.

use std::collections::HashMap;

use dfdx::shapes::Shape;

use crate::tensor::dyn_tensor::DynTensor;
use crate::tensor::typed::Tensor;

pub(super) type Cpu = dfdx::prelude::Cpu;
pub(super) type T<S> = Tensor<S, Cpu>;

/// An array of a fixture case: dims and row-major values.
pub(super) type Array = (Vec<usize>, Vec<f64>);

/// The cases of `fixtures/typed_ops.txt` (written by `scripts/fixtures/typed_ops.py`).
pub(super) fn fixture() -> HashMap<String, HashMap<String, Array>> {
    let path = format!("{}/fixtures/typed_ops.txt", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap();
    let mut cases: HashMap<String, HashMap<String, Array>> = HashMap::new();
    let mut current = String::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        if let Some(name) = line.strip_prefix("case ") {
            current = name.to_string();
            cases.insert(current.clone(), HashMap::new());
            continue;
        }
        let (head, vals) = line
            .split_once(" : ")
            .unwrap_or((line.trim_end_matches(" :"), ""));
        let mut head = head.split_whitespace();
        let label = head.next().unwrap().to_string();
        let dims = head.map(|d| d.parse().unwrap()).collect();
        let vals = vals
            .split_whitespace()
            .map(|v| v.parse().unwrap())
            .collect();
        cases.get_mut(&current).unwrap().insert(label, (dims, vals));
    }
    assert_eq!(cases.len(), 24, "{path}");
    cases
}

/// The typed tensor of a fixture array.
pub(super) fn input<S: Shape>(case: &HashMap<String, Array>, name: &str) -> T<S> {
    let (dims, vals) = &case[name];
    let d = DynTensor::from_vec(vals.iter().map(|&v| v as f32).collect(), dims).unwrap();
    T::from_dyn(d).unwrap()
}

/// Checks `got` against the case's `out` (dims and values, to f32 precision).
pub(super) fn check_out<S: Shape>(name: &str, case: &HashMap<String, Array>, got: &T<S>) {
    let (dims, want) = &case["out"];
    assert_eq!(got.dims().unwrap(), &dims[..], "{name}: dims");
    T::<S>::from_dyn(got.as_dyn().unwrap().clone()).unwrap(); // the run-time dims fit the shape type
    let got = got.to_vec().unwrap();
    assert_eq!(got.len(), want.len(), "{name}");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g as f64 - w).abs() <= 2e-6 * w.abs().max(1.0),
            "{name}[{i}]: {g} vs numpy {w}"
        );
    }
}

pub(super) fn t<S: Shape>(values: Vec<f32>, shape: S) -> T<S> {
    Tensor::from_vec(values, shape).unwrap()
}

/// The typed view of a gradient-check input.
pub(super) fn view<S: Shape>(x: &DynTensor<Cpu>) -> T<S> {
    T::from_dyn(x.clone()).unwrap()
}

/// `Σ w_i y_i` with fixed weights of both signs, so that every element of `y` has its own
/// weight in the gradient.
pub(super) fn weighted<S: Shape>(y: &T<S>) -> DynTensor<Cpu> {
    let y = y.as_dyn().unwrap();
    let w: Vec<f32> = (0..y.numel())
        .map(|i| ((i * 7 % 11) as f32 - 4.5) / 3.0)
        .collect();
    let w = DynTensor::from_vec(w, y.shape()).unwrap();
    y.mul(&w).unwrap().sum()
}

/// Distinct values (no ties) for gradient checks, of `n` elements.
pub(super) fn spread(n: usize, seed: usize) -> Vec<f32> {
    (0..n)
        .map(|i| ((i * 37 + seed * 11) % 97) as f32 / 24.0 - 2.0)
        .collect()
}
