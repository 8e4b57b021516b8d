//! The host kernels against dfdx's own operations and dfdx's own autodiff (an outside
//! reference): the same values bit for bit, the same gradients, for every broadcasting
//! layout; and against finite differences.

use dfdx::prelude::*;

use super::cpu_ops::weighted_sum;
use super::grad_tests::check_grad;
use super::*;
use crate::tensor::TensorResult;

/// A dfdx tensor on dfdx's own tape.
type Traced<S> = dfdx::prelude::Tensor<S, f32, Cpu, OwnedTape<f32, Cpu>>;
type Flat = Traced<(usize,)>;

/// A leaf and its values.
fn leaf(v: &[f32], shape: &[usize]) -> DynTensor<Cpu> {
    DynTensor::from_vec(v.to_vec(), shape).unwrap()
}

/// The weights of the test loss `Σ w_k out_k`.
fn weights(n: usize) -> Vec<f32> {
    (0..n).map(|k| 0.5 + k as f32).collect()
}

/// Value and gradients (w.r.t. `xs`) of `Σ w_k out_k` through the runtime's kernels.
fn run(
    xs: &[DynTensor<Cpu>],
    op: &dyn Fn(&[DynTensor<Cpu>]) -> DynTensor<Cpu>,
) -> (Vec<f32>, Vec<Vec<f32>>) {
    let scope = GradScope::<Cpu>::open();
    let out = op(xs);
    let w = DynTensor::from_vec(weights(out.numel()), out.shape()).unwrap();
    let value = out.to_vec();
    let loss = out.mul(&w).unwrap().sum();
    let grads = scope.backward(&loss).unwrap();
    let g = xs.iter().map(|x| grads.get_or_zeros(x).to_vec()).collect();
    (value, g)
}

/// The same through dfdx's operations and autodiff: each input as a flat dfdx tensor on
/// dfdx's tape, broadcast to `n` elements when it is a single value.
fn run_dfdx(
    xs: &[DynTensor<Cpu>],
    n: usize,
    op: &dyn Fn(Vec<Flat>) -> Flat,
) -> (Vec<f32>, Vec<Vec<f32>>) {
    let dev = default_device::<Cpu>();
    let plain: Vec<dfdx::prelude::Tensor<(usize,), f32, Cpu>> = xs
        .iter()
        .map(|x| dev.tensor_from_vec(x.to_vec(), (x.numel(),)))
        .collect();
    // Each input on a tape of its own; dfdx merges the tapes where operations combine them.
    let inputs: Vec<Flat> = plain
        .iter()
        .map(|p| {
            let t: Flat = p.clone().leaky_traced();
            if p.shape().0 == n {
                t
            } else {
                let s: Traced<Rank0> = t.reshape_like(&());
                s.broadcast_like(&(n,))
            }
        })
        .collect();
    let out = op(inputs);
    let value = out.as_vec();
    let m = out.shape().0;
    let w = dev.tensor_from_vec(weights(m), (m,));
    let loss: Traced<Rank0> = (out * w).sum();
    let g = loss.backward();
    (value, plain.iter().map(|p| g.get(p).as_vec()).collect())
}

fn assert_close(a: &[f32], b: &[f32], what: &str) {
    assert_eq!(a.len(), b.len(), "{what}");
    for (x, y) in a.iter().zip(b) {
        assert!(
            (x - y).abs() <= 1e-5 * y.abs().max(1.0),
            "{what}: {a:?} vs {b:?}"
        );
    }
}

/// The layouts a host kernel handles: full/full, full/single, single/full, single/single.
fn layouts() -> Vec<[(Vec<f32>, Vec<usize>); 2]> {
    let full = (vec![0.7, -1.3, 2.1, 0.4, -0.2, 1.6], vec![2, 3]);
    let full2 = (vec![1.1, 0.6, -0.9, 2.5, 1.7, -0.3], vec![2, 3]);
    let one = (vec![0.8], vec![]);
    let one2 = (vec![-1.4], vec![1, 1]);
    vec![
        [full.clone(), full2.clone()],
        [full.clone(), one.clone()],
        [one.clone(), full2],
        [one, one2],
    ]
}

#[test]
fn binary_ops_match_dfdx_in_every_layout() {
    type Op = fn(&DynTensor<Cpu>, &DynTensor<Cpu>) -> TensorResult<DynTensor<Cpu>>;
    type Reference = fn(Flat, Flat) -> Flat;
    let ops: [(&str, Op, Reference); 4] = [
        ("add", DynTensor::add, |a, b| a + b),
        ("sub", DynTensor::sub, |a, b| a - b),
        ("mul", DynTensor::mul, |a, b| a * b),
        ("div", DynTensor::div, |a, b| a / b),
    ];
    for (name, op, reference) in ops {
        for [(va, sa), (vb, sb)] in layouts() {
            let xs = [leaf(&va, &sa), leaf(&vb, &sb)];
            let shape = broadcast_shapes(&sa, &sb).unwrap();
            let (v, g) = run(&xs, &|x| {
                let out = op(&x[0], &x[1]).unwrap();
                assert_eq!(out.shape(), &shape[..], "{name}");
                out
            });
            let n = numel(&shape);
            let (rv, rg) = run_dfdx(&xs, n, &|mut x| {
                let b = x.pop().unwrap();
                let a = x.pop().unwrap();
                reference(a, b)
            });
            assert_eq!(v, rv, "{name} {sa:?} {sb:?}: values must be identical");
            for k in 0..2 {
                assert_close(&g[k], &rg[k], &format!("{name} {sa:?} {sb:?} grad {k}"));
            }
        }
    }
}

#[test]
fn unary_ops_match_dfdx() {
    type Op = fn(&DynTensor<Cpu>) -> DynTensor<Cpu>;
    type Reference = fn(Flat) -> Flat;
    let ops: [(&str, Op, Reference); 12] = [
        ("add_scalar", |x| x.add_scalar(1.5), |x| x + 1.5),
        ("mul_scalar", |x| x.mul_scalar(-0.5), |x| x * -0.5),
        ("rsub_scalar", |x| x.rsub_scalar(2.0), |x| x.negate() + 2.0),
        ("neg", DynTensor::neg, |x| x.negate()),
        ("abs", DynTensor::abs, |x| x.abs()),
        ("exp", DynTensor::exp, |x| x.exp()),
        ("ln", DynTensor::ln, |x| x.ln()),
        ("sqrt", DynTensor::sqrt, |x| x.sqrt()),
        ("square", DynTensor::square, |x| x.square()),
        ("recip", DynTensor::recip, |x| x.recip()),
        ("tanh", DynTensor::tanh, |x| x.tanh()),
        ("powf", |x| x.powf(1.7), |x| x.powf(1.7)),
    ];
    for (name, op, reference) in ops {
        for (v, s) in [(vec![0.3, 1.7, 2.2, 0.05], vec![2, 2]), (vec![1.3], vec![])] {
            let negative = ["abs", "neg", "square"].contains(&name);
            let v: Vec<f32> = if negative {
                v.iter().map(|x| x - 1.0).collect()
            } else {
                v
            };
            let xs = [leaf(&v, &s)];
            let (hv, hg) = run(&xs, &|x| op(&x[0]));
            let (rv, rg) = run_dfdx(&xs, v.len(), &|mut x| reference(x.pop().unwrap()));
            if ["tanh", "powf"].contains(&name) {
                assert_close(&hv, &rv, name); // libm and dfdx may round differently
            } else {
                assert_eq!(hv, rv, "{name}: values must be identical");
            }
            assert_close(&hg[0], &rg[0], name);
        }
    }
}

#[test]
fn reductions_match_dfdx() {
    let v = [0.5, -1.0, 2.0, 0.25, 3.0, -0.75];
    let xs = [leaf(&v, &[2, 3])];
    let (hv, hg) = run(&xs, &|x| x[0].sum());
    let (rv, rg) = run_dfdx(&xs, 6, &|mut x| {
        let s: Traced<Rank0> = x.pop().unwrap().sum();
        s.reshape_like(&(1,))
    });
    assert_close(&hv, &rv, "sum");
    assert_close(&hg[0], &rg[0], "sum grad");
    let (hv, hg) = run(&xs, &|x| x[0].sum_rightmost(1).unwrap());
    let (rv, rg) = run_dfdx(&xs, 6, &|mut x| {
        let m: Traced<(usize, usize)> = x.pop().unwrap().reshape_like(&(2, 3));
        m.sum::<(usize,), Axis<1>>()
    });
    assert_close(&hv, &rv, "sum_rightmost");
    assert_close(&hg[0], &rg[0], "sum_rightmost grad");
    let one = [leaf(&[1.5], &[])];
    let (hv, hg) = run(&one, &|x| x[0].broadcast_to(&[2, 2]).unwrap());
    assert_eq!(hv, vec![1.5; 4]);
    assert_close(&hg[0], &[0.5 + 1.5 + 2.5 + 3.5], "broadcast grad");
    // Empty tensors reduce to zeros.
    let e = DynTensor::<Cpu>::zeros(&[3, 0]);
    assert_eq!(e.sum_rightmost(1).unwrap().to_vec(), vec![0.0; 3]);
    assert_eq!(e.sum().to_vec(), vec![0.0]);
}

#[test]
fn weighted_sum_equals_the_chain_of_adds() {
    let (a, b, c) = (leaf(&[0.1], &[]), leaf(&[1e7], &[]), leaf(&[-3.3], &[1]));
    let s = weighted_sum(&[(&a, 1.0), (&b, 1.0), (&c, -1.0), (&a, 2.5)]).unwrap();
    let chain = DynTensor::scalar(0.0)
        .add(&a)
        .unwrap()
        .add(&b)
        .unwrap()
        .sub(&c.reshape(&[]).unwrap())
        .unwrap()
        .add(&a.mul_scalar(2.5))
        .unwrap();
    assert_eq!(s.shape(), &[] as &[usize]);
    assert_eq!(s.item().unwrap(), chain.item().unwrap());
    check_grad(
        &|x| weighted_sum(&[(&x[0], 1.0), (&x[1], -1.0), (&x[0], 2.5)]).unwrap(),
        vec![(vec![0.3], vec![]), (vec![-1.2], vec![])],
    );
    assert!(weighted_sum(&[(&leaf(&[1.0, 2.0], &[2]), 1.0)]).is_err());
}

#[test]
fn host_kernels_accumulate_into_shared_and_repeated_inputs() {
    // The same node on both sides of a kernel, and one input feeding several kernels.
    check_grad(
        &|x| {
            let a = &x[0];
            let sq = a.mul(a).unwrap();
            let q = a.div(&a.exp().add_scalar(1.0).sqrt()).unwrap();
            sq.add(&q).unwrap().sum().mul(&x[1]).unwrap()
        },
        vec![(vec![0.4, -0.8, 1.3], vec![3]), (vec![1.7], vec![])],
    );
}

#[test]
fn outside_a_scope_host_kernels_record_nothing() {
    let a = leaf(&[1.0, 2.0], &[2]);
    let b = a.mul(&a).unwrap().sum();
    assert_eq!(b.item().unwrap(), 5.0);
    let scope = GradScope::<Cpu>::open();
    assert!(scope.is_empty());
    let _ = a.mul_scalar(2.0);
    assert_eq!(scope.len(), 1, "one node per host kernel");
}

#[test]
fn runtime_constants_get_no_gradient_and_make_no_nodes() {
    let c = DynTensor::<Cpu>::constant(&[], 2.0);
    let x = leaf(&[0.5, -1.5], &[2]);
    let scope = GradScope::<Cpu>::open();
    // Constants only: a constant result and nothing recorded.
    let k = c.mul_scalar(3.0).add(&c).unwrap();
    assert!(k.is_constant() && scope.is_empty());
    assert_eq!(k.item().unwrap(), 8.0);
    // Mixed: one node, and the gradient reaches only the tracked input.
    let y = x.mul(&k).unwrap().sum();
    assert!(!y.is_constant());
    let grads = scope.backward(&y).unwrap();
    assert_eq!(grads.get_or_zeros(&x).to_vec(), vec![8.0, 8.0]);
    // Numbers given to distributions are constants; their densities still carry the
    // value's gradient (checked against finite differences).
    use crate::distributions::{Distribution, Normal};
    check_grad(
        &|v| {
            Normal::new(0.5, 2.0)
                .unwrap()
                .log_prob(&v[0])
                .unwrap()
                .sum()
        },
        vec![(vec![0.3, -1.1], vec![2])],
    );
    assert!(Normal::new(0.5, 2.0).unwrap().loc().is_constant());
}
