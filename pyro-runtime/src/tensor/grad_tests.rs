//! Gradients through the shared tape checked against central finite differences, on graphs
//! that reuse values, drop intermediates and broadcast.

use dfdx::prelude::*;

use super::*;

/// Input values and shapes.
pub(super) type Inputs = Vec<(Vec<f32>, Vec<usize>)>;

/// Analytic gradients of the scalar `f(inputs)` through the tape.
fn analytic(f: &dyn Fn(&[DynTensor<Cpu>]) -> DynTensor<Cpu>, inputs: &Inputs) -> Vec<Vec<f32>> {
    let xs: Vec<DynTensor<Cpu>> = inputs
        .iter()
        .map(|(v, s)| DynTensor::from_vec(v.clone(), s).unwrap())
        .collect();
    let scope = GradScope::<Cpu>::open();
    let y = f(&xs);
    let grads = scope.backward(&y).unwrap();
    xs.iter().map(|x| grads.get_or_zeros(x).to_vec()).collect()
}

fn value(f: &dyn Fn(&[DynTensor<Cpu>]) -> DynTensor<Cpu>, inputs: &Inputs) -> f64 {
    let xs: Vec<DynTensor<Cpu>> = inputs
        .iter()
        .map(|(v, s)| DynTensor::from_vec(v.clone(), s).unwrap())
        .collect();
    f(&xs).item().unwrap() as f64
}

/// Checks the tape's gradients of the scalar `f` against central finite differences.
pub(super) fn check_grad(f: &dyn Fn(&[DynTensor<Cpu>]) -> DynTensor<Cpu>, inputs: Inputs) {
    let g = analytic(f, &inputs);
    for (k, (vals, _)) in inputs.iter().enumerate() {
        for i in 0..vals.len() {
            let h = 1e-2f32 * vals[i].abs().max(0.1);
            let mut plus = inputs.clone();
            plus[k].0[i] += h;
            let mut minus = inputs.clone();
            minus[k].0[i] -= h;
            let fd = (value(f, &plus) - value(f, &minus)) / (2.0 * h as f64);
            let a = g[k][i] as f64;
            assert!(
                (a - fd).abs() <= 5e-3 * fd.abs().max(1.0),
                "input {k}[{i}]: analytic {a} vs finite difference {fd}"
            );
        }
    }
}

#[test]
fn reused_values_and_dropped_intermediates() {
    // f(a, b) = sum(a*b + exp(a)*sigmoid(a) + a/b) with every input used several times.
    check_grad(
        &|x| {
            let (a, b) = (&x[0], &x[1]);
            let t1 = a.mul(b).unwrap();
            let t2 = a.exp().mul(&a.sigmoid()).unwrap();
            let t3 = a.div(b).unwrap();
            drop(a.square()); // an intermediate that is dropped must not matter
            t1.add(&t2).unwrap().add(&t3).unwrap().sum()
        },
        vec![
            (vec![0.3, -0.7, 1.2], vec![3]),
            (vec![1.5, 0.8, -2.0], vec![3]),
        ],
    );
}

#[test]
fn same_node_as_both_operands() {
    // a * a and a + a are the same graph node on both sides; the gradient is 2a and 2.
    check_grad(
        &|x| {
            x[0].mul(&x[0])
                .unwrap()
                .add(&x[0].add(&x[0]).unwrap())
                .unwrap()
                .sum()
        },
        vec![(vec![0.5, -1.5], vec![2])],
    );
}

#[test]
fn broadcasting_scalars_rows_and_columns() {
    check_grad(
        &|x| {
            // [2,1] * [3] -> [2,3]; plus a scalar; then a weighted sum.
            let m = x[0].mul(&x[1]).unwrap().add(&x[2]).unwrap();
            let w = DynTensor::from_vec(vec![1.0, 2.0, 3.0, -1.0, 0.5, 4.0], &[2, 3]).unwrap();
            m.mul(&w).unwrap().sum()
        },
        vec![
            (vec![0.4, -1.1], vec![2, 1]),
            (vec![1.0, 2.0, -0.5], vec![3]),
            (vec![0.25], vec![]),
        ],
    );
}

#[test]
fn reductions_indexing_and_matmul() {
    check_grad(
        &|x| {
            let a = &x[0]; // [2,3]
            let s = a.sum_rightmost(1).unwrap(); // [2]
            let sel = a.index_select(1, &[2, 0, 2]).unwrap(); // [2,3]
            let mm = a.matmul(&x[1]).unwrap(); // [2,3]x[3,2] -> [2,2]
            let back = sel.sum_to_shape(&[3]).unwrap(); // [3]
            let cat = DynTensor::cat_flat(&[s.clone(), back, mm.clone()]).unwrap();
            let piece = cat.slice_flat(1, 7).unwrap();
            piece
                .square()
                .sum()
                .add(&mm.t().unwrap().exp().sum())
                .unwrap()
        },
        vec![
            (vec![0.1, -0.2, 0.3, 0.5, 0.4, -0.6], vec![2, 3]),
            (vec![0.2, 0.1, -0.3, 0.7, 0.05, -0.4], vec![3, 2]),
        ],
    );
}

#[test]
fn special_functions_compose() {
    check_grad(
        &|x| {
            let a = &x[0];
            a.softplus()
                .add(&a.lgamma())
                .unwrap()
                .mul(&a.log_sigmoid())
                .unwrap()
                .add(&a.erf())
                .unwrap()
                .sum()
        },
        vec![(vec![0.6, 1.7, 3.2], vec![3])],
    );
}

#[test]
fn typed_tensors_can_be_reused_without_clones() {
    // PyTorch-style code on typed tensors: x used five times, no tape handling.
    let w = DynTensor::<Cpu>::from_vec(vec![0.5, -1.0, 2.0], &[3]).unwrap();
    let scope = GradScope::<Cpu>::open();
    let x = super::Tensor::<Rank1<3>, Cpu>::from_dyn(w.clone()).unwrap();
    let y = x.exp() * x.sigmoid() + &x * 3.0 - &x * &x;
    let g = scope.backward(&y.sum().into_dyn().unwrap()).unwrap();
    let g = g.get(&w).unwrap().to_vec();
    for (i, &v) in [0.5f32, -1.0, 2.0].iter().enumerate() {
        let s = 1.0 / (1.0 + (-v).exp());
        let want = v.exp() * s * (2.0 - s) + 3.0 - 2.0 * v;
        assert!((g[i] - want).abs() < 1e-5, "{} vs {want}", g[i]);
    }
}

#[test]
fn nothing_is_recorded_outside_a_scope() {
    assert!(!is_recording());
    let a = DynTensor::<Cpu>::from_vec(vec![1.0, 2.0], &[2]).unwrap();
    let _ = a.exp().mul(&a).unwrap();
    let scope = GradScope::<Cpu>::open();
    assert!(scope.is_empty());
    let _ = a.exp();
    assert!(!scope.is_empty());
}

#[test]
fn a_loss_must_have_one_element() {
    let x = DynTensor::<Cpu>::from_vec(vec![1.0, 2.0], &[2]).unwrap();
    let scope = GradScope::<Cpu>::open();
    let y = x.exp();
    assert!(matches!(
        scope.backward(&y),
        Err(crate::tensor::TensorError::Shape { .. })
    ));
}

#[test]
fn shape_errors_are_typed() {
    let a = DynTensor::<Cpu>::zeros(&[2, 3]);
    let b = DynTensor::<Cpu>::zeros(&[4]);
    assert!(matches!(
        a.add(&b),
        Err(crate::tensor::TensorError::Broadcast { op: "add", .. })
    ));
    assert!(a.reshape(&[5]).is_err());
    assert!(a.index_select(1, &[3]).is_err());
    assert!(a.index_select(2, &[0]).is_err());
    assert!(a.to_tensor::<Rank2<3, 2>>().is_err());
    assert!(a.to_tensor::<Rank2<2, 3>>().is_ok());
}

#[test]
fn broadcast_to_follows_numpy() {
    let a = DynTensor::<Cpu>::from_vec(vec![1.0, 2.0], &[2, 1]).unwrap();
    let b = a.broadcast_to(&[3, 2, 2]).unwrap();
    assert_eq!(
        b.to_vec(),
        vec![1., 1., 2., 2., 1., 1., 2., 2., 1., 1., 2., 2.]
    );
    let s = b.sum_to_shape(&[2, 1]).unwrap();
    assert_eq!(s.to_vec(), vec![6.0, 12.0]);
    assert!(a.broadcast_to(&[3]).is_err());
}

#[test]
fn a_typed_view_is_the_same_node() {
    // DynTensor -> typed -> DynTensor again: a binary op between the two sees one node on
    // both sides (the DSL does this at every site).
    check_grad(
        &|x| {
            let typed = super::Tensor::<(usize,), Cpu>::from_dyn(x[0].clone()).unwrap();
            let back = typed.into_dyn().unwrap();
            assert!(back.same_node(&x[0]));
            x[0].mul(&back)
                .unwrap()
                .add(&back.sub(&x[0]).unwrap())
                .unwrap()
                .sum()
        },
        vec![(vec![0.5, -1.5, 2.0], vec![3])],
    );
}

#[test]
fn a_dfdx_round_trip_is_a_new_leaf() {
    // Values crossing to dfdx and back are copies: the loss's gradient stops at the tensor
    // `from_dfdx` made, which is a leaf like any other.
    let x = DynTensor::<Cpu>::from_vec(vec![0.5, -1.5], &[2]).unwrap();
    let back = DynTensor::from_dfdx(x.to_dfdx::<Rank1<2>>().unwrap());
    assert!(!back.same_node(&x));
    let scope = GradScope::<Cpu>::open();
    let loss = x.mul(&back).unwrap().sum();
    let g = scope.backward(&loss).unwrap();
    assert_eq!(g.get(&x).unwrap().to_vec(), vec![0.5, -1.5]);
    assert_eq!(g.get(&back).unwrap().to_vec(), vec![0.5, -1.5]);
}

#[test]
fn host_values_from_an_earlier_scope_are_cut_from_the_graph() {
    let x = DynTensor::<Cpu>::from_vec(vec![0.5, -1.0], &[2]).unwrap();
    let old = {
        let _scope = GradScope::<Cpu>::open();
        x.exp()
    };
    let scope = GradScope::<Cpu>::open();
    let loss = old.mul(&x).unwrap().sum();
    let grads = scope.backward(&loss).unwrap();
    // d/dx sum(c * x) with c = exp(x) computed earlier, held fixed: exactly c.
    assert_eq!(grads.get(&x).unwrap().to_vec(), old.to_vec());
    // The earlier value is a leaf of this pass: its gradient is x.
    assert_eq!(grads.get(&old).unwrap().to_vec(), x.to_vec());
}

#[test]
fn filled_tensors_can_be_leaves_of_host_kernels() {
    let x = DynTensor::<Cpu>::full(&[2], 1.5);
    let scope = GradScope::<Cpu>::open();
    let loss = x.square().sum();
    let grads = scope.backward(&loss).unwrap();
    assert_eq!(grads.get(&x).unwrap().to_vec(), vec![3.0, 3.0]);
}

#[test]
fn nodes_no_gradient_reaches_cost_nothing_and_change_nothing() {
    // A host node off the loss's path: its backward operation finds no gradient and skips.
    check_grad(
        &|x| {
            let _unused = x[0].exp().mul(&x[0]).unwrap();
            x[0].square().sum()
        },
        vec![(vec![0.25, 2.0], vec![2])],
    );
}

/// A detached tensor requires no gradient (PyTorch's `detach()`): the backward pass makes no
/// gradient buffer for it, while the same values not detached get one, and the gradient of the
/// other operand is the same either way.
#[test]
fn detached_data_gets_no_gradient_buffer() {
    for detach in [false, true] {
        let w = DynTensor::<Cpu>::scalar(2.0);
        let x = DynTensor::<Cpu>::from_vec(vec![1.0, 3.0, -0.5], &[3]).unwrap();
        let x = if detach { x.detach() } else { x };
        let scope = GradScope::<Cpu>::open();
        let loss = x.mul(&w).unwrap().square().sum(); // d/dw = 2 w Σx² = 4 · 10.25
        let g = scope.backward(&loss).unwrap();
        assert_eq!(g.get_or_zeros(&w).to_vec(), vec![41.0]);
        assert_eq!(g.get(&x).is_some(), !detach, "detached: {detach}");
    }
}

#[test]
fn typed_operators_reuse_a_tensor_on_both_sides_with_correct_gradients() {
    // x * x, (x - mu) * (x - mu), a scalar broadcast from both sides and f32 operands: the
    // typed view over the same nodes, no `.clone()` and no "same node" trap.
    check_grad(
        &|v| {
            let x = super::Tensor::<(usize,), Cpu>::from_dyn(v[0].clone()).unwrap();
            let mu = super::Tensor::<Rank0, Cpu>::from_dyn(v[1].clone()).unwrap();
            let sq = &x * &x;
            let centred = (&x - &mu) * (&x - &mu);
            let y = sq + centred * 0.5 + 2.0 * &mu * &x - &x / 3.0 + mu.exp();
            y.sum().into_dyn().unwrap()
        },
        vec![(vec![0.5, -1.5, 2.0], vec![3]), (vec![0.7], vec![])],
    );
}

#[test]
fn sigmoid_tanh_powf_clamp_maximum_and_minimum_run_as_host_kernels() {
    // Each is a host node on the CPU (one op vocabulary), with gradients checked by finite
    // differences away from the kinks of clamp/maximum/minimum.
    let x = DynTensor::<Cpu>::from_vec(vec![0.3, -1.2, 2.5], &[3]).unwrap();
    for y in [
        x.sigmoid(),
        x.tanh(),
        x.abs().powf(1.5),
        x.clamp(-1.0, 1.0),
        x.maximum(&DynTensor::scalar(0.0)).unwrap(),
        x.minimum(&x.mul_scalar(0.5)).unwrap(),
    ] {
        assert!(!y.is_constant());
    }
    check_grad(
        &|v| {
            let (a, b) = (&v[0], &v[1]);
            a.sigmoid()
                .add(&a.tanh())
                .unwrap()
                .add(&a.abs().powf(1.5))
                .unwrap()
                .add(&a.clamp(-1.0, 1.0))
                .unwrap()
                .add(&a.maximum(b).unwrap())
                .unwrap()
                .add(&a.minimum(b).unwrap().mul_scalar(2.0))
                .unwrap()
                .sum()
        },
        vec![
            (vec![0.3, -1.7, 2.5, -0.4], vec![4]),
            (vec![0.9, -2.0, 1.5, 0.1], vec![4]),
        ],
    );
}

#[test]
fn sum_to_shape_where_mask_and_logsumexp_run_as_host_kernels() {
    // [2, 3, 4] summed to [3, 1] (a leading dim dropped, an inner one kept as 1), against the
    // sums written out; then gradients by finite differences, with a masked element.
    let vals: Vec<f32> = (0..24).map(|i| (i as f32 * 0.37).sin()).collect();
    let x = DynTensor::<Cpu>::from_vec(vals.clone(), &[2, 3, 4]).unwrap();
    let s = x.sum_to_shape(&[3, 1]).unwrap();
    let want: Vec<f32> = (0..3)
        .map(|j| {
            (0..2)
                .flat_map(|a| (0..4).map(move |k| (a, k)))
                .map(|(a, k)| vals[a * 12 + j * 4 + k])
                .sum()
        })
        .collect();
    for (g, w) in s.to_vec().iter().zip(&want) {
        assert!((g - w).abs() < 1e-5, "{g} vs {w}");
    }
    let keep = [true, false, true, true, false, true];
    check_grad(
        &|v| {
            let m = v[0].where_mask(&keep).unwrap();
            let w = v[1].sum_to_shape(&[3, 1]).unwrap();
            let l = v[1].reshape(&[6, 4]).unwrap().logsumexp_last().unwrap();
            m.square()
                .sum()
                .add(&w.square().sum())
                .unwrap()
                .add(&l.mul(&v[0]).unwrap().sum())
                .unwrap()
        },
        vec![
            (vec![0.3, -1.7, 2.5, -0.4, 0.8, 1.1], vec![6]),
            (vals.iter().map(|v| v * 0.5).collect(), vec![2, 3, 4]),
        ],
    );
}

#[test]
fn matmul_and_bmm_run_as_host_kernels_with_gemm() {
    // [2, 3] x [3, 2] and a batched [2, 2, 3] x [2, 3, 1] against the sums written out, as
    // host nodes; gradients by finite differences, with the same node on both sides.
    let a = DynTensor::<Cpu>::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]).unwrap();
    let b = DynTensor::<Cpu>::from_vec(vec![1.0, 0.5, -1.0, 2.0, 0.0, 1.0], &[3, 2]).unwrap();
    let c = a.matmul(&b).unwrap();
    assert_eq!(c.to_vec(), vec![-1.0, 7.5, -1.0, 18.0]);
    let a3 = a
        .reshape(&[1, 2, 3])
        .unwrap()
        .broadcast_to(&[2, 2, 3])
        .unwrap();
    let b3 = DynTensor::<Cpu>::from_vec(vec![1.0, 1.0, 1.0, 0.0, 1.0, 0.0], &[2, 3, 1]).unwrap();
    let c3 = a3.bmm(&b3).unwrap();
    assert_eq!(c3.to_vec(), vec![6.0, 15.0, 2.0, 5.0]);
    check_grad(
        &|v| {
            let m = v[0].matmul(&v[1]).unwrap();
            let sq = v[2].matmul(&v[2]).unwrap();
            let bat = v[3].bmm(&v[3]).unwrap();
            m.square()
                .sum()
                .add(&sq.sum())
                .unwrap()
                .add(&bat.square().sum())
                .unwrap()
        },
        vec![
            (vec![0.5, -1.0, 2.0, 0.3, 0.7, -0.2], vec![2, 3]),
            (vec![1.0, 0.5, -1.0, 2.0, 0.4, 1.0], vec![3, 2]),
            (vec![0.2, -0.5, 1.5, 0.9], vec![2, 2]),
            (
                vec![0.1, 0.2, -0.3, 0.4, 0.5, -0.6, 0.7, 0.8],
                vec![2, 2, 2],
            ),
        ],
    );
}

#[test]
fn cat_flat_and_transpose_run_as_host_kernels_even_with_a_repeated_part() {
    let a = DynTensor::<Cpu>::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]).unwrap();
    let t = a.t().unwrap();
    assert_eq!(t.shape(), &[3, 2]);
    assert_eq!(t.to_vec(), vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
    let c = DynTensor::cat_flat(&[a.clone(), a.clone(), t.clone()]).unwrap();
    assert_eq!(c.shape(), &[18]);
    check_grad(
        &|v| {
            let c =
                DynTensor::cat_flat(&[v[0].clone(), v[0].t().unwrap(), v[1].clone(), v[0].clone()])
                    .unwrap();
            c.square().sum().add(&c.sum()).unwrap()
        },
        vec![
            (vec![0.5, -1.0, 2.0, 0.3, 0.7, -0.2], vec![2, 3]),
            (vec![1.5, -0.5], vec![2]),
        ],
    );
}

#[test]
fn mul_rows_scales_each_row_with_gradients_to_both_operands() {
    let m = DynTensor::<Cpu>::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]).unwrap();
    let s = DynTensor::<Cpu>::from_vec(vec![2.0, -0.5], &[2]).unwrap();
    let r = m.mul_rows(&s).unwrap();
    assert_eq!(r.to_vec(), vec![2.0, 4.0, 6.0, -2.0, -2.5, -3.0]);
    assert!(m.mul_rows(&m).is_err());
    check_grad(
        &|v| v[0].mul_rows(&v[1]).unwrap().square().sum(),
        vec![
            (vec![0.5, -1.0, 2.0, 0.3, 0.7, -0.2], vec![2, 3]),
            (vec![1.5, -0.5], vec![2]),
        ],
    );
}

#[test]
fn a_nested_scope_dropped_without_backward_joins_its_parent() {
    // Values made inside the inner scope stay on the outer scope's graph (PyTorch: one graph).
    let x = DynTensor::<Cpu>::from_vec(vec![1.0, 2.0], &[2]).unwrap();
    let outer = GradScope::<Cpu>::open();
    let y = {
        let _inner = GradScope::<Cpu>::open();
        x.square()
    };
    let g = outer.backward(&y.sum()).unwrap();
    assert_eq!(g.get(&x).unwrap().to_vec(), vec![2.0, 4.0]);
    assert!(g.get(&y).is_none(), "an intermediate keeps no gradient");
}

#[test]
fn a_graph_consumed_by_a_nested_backward_is_an_error_for_the_parent() {
    let x = DynTensor::<Cpu>::from_vec(vec![3.0], &[1]).unwrap();
    let outer = GradScope::<Cpu>::open();
    let y = x.mul_scalar(2.0); // made in the outer scope
    let inner = GradScope::<Cpu>::open();
    let z = y.square(); // made in the inner scope
    let gi = inner.backward(&z.sum()).unwrap();
    // Inside the inner pass, the outer value is a leaf: d z / d y = 2y = 12.
    assert_eq!(gi.get(&y).unwrap().to_vec(), vec![12.0]);
    // z's graph is gone: the outer pass through it is an error, not a silent zero.
    let err = outer.backward(&z.sum()).unwrap_err();
    assert!(
        matches!(err, crate::error::TensorError::Backward(_)),
        "{err}"
    );
}

#[test]
fn scopes_closed_out_of_order_do_not_take_a_later_scopes_recording() {
    let x = DynTensor::<Cpu>::from_vec(vec![1.0, 2.0], &[2]).unwrap();
    let a = GradScope::<Cpu>::open();
    let b = GradScope::<Cpu>::open();
    drop(a); // closes b with it
    assert!(b.is_empty());
    let _c = GradScope::<Cpu>::open();
    let d = GradScope::<Cpu>::open();
    let loss = x.square().sum(); // recorded in d
    drop(b); // already closed: must not pop d
    let g = d.backward(&loss).unwrap();
    assert_eq!(g.get(&x).unwrap().to_vec(), vec![2.0, 4.0]);
}

#[test]
fn no_grad_records_nothing_and_the_store_uses_it() {
    let x = DynTensor::<Cpu>::from_vec(vec![1.0], &[1]).unwrap();
    let scope = GradScope::<Cpu>::open();
    {
        let _off = crate::tensor::no_grad();
        let _ = x.exp();
    }
    assert!(scope.is_empty());
    let y = x.exp();
    let g = scope.backward(&y.sum()).unwrap();
    assert!((g.get(&x).unwrap().to_vec()[0] - 1f32.exp()).abs() < 1e-6);
}

#[test]
fn empty_dims_reduce_and_multiply_to_defined_values() {
    let e = DynTensor::<Cpu>::zeros(&[3, 0]);
    let l = e.logsumexp_last().unwrap();
    assert_eq!(l.shape(), &[3]);
    assert!(l.to_vec().iter().all(|v| *v == f32::NEG_INFINITY));
    let a = DynTensor::<Cpu>::zeros(&[2, 0]);
    let b = DynTensor::<Cpu>::zeros(&[0, 3]);
    let c = a.matmul(&b).unwrap();
    assert_eq!(c.shape(), &[2, 3]);
    assert_eq!(c.to_vec(), vec![0.0; 6]);
    // Backward through them is defined too.
    let x = DynTensor::<Cpu>::zeros(&[1, 0]);
    let scope = GradScope::<Cpu>::open();
    let s = x.logsumexp_last().unwrap().sum();
    assert!(scope.backward(&s).is_ok());
}

#[test]
fn a_write_during_a_recorded_pass_gives_old_and_new_values_their_own_gradients() {
    // A clone holding the old values and the rewritten tensor are the same parameter
    // (same_node) but two values of the graph.
    let mut p = DynTensor::<Cpu>::scalar(1.0);
    let old = p.clone();
    let scope = GradScope::<Cpu>::open();
    let a = old.mul_scalar(2.0);
    p.overwrite_values(&[5.0]).unwrap();
    let b = p.mul_scalar(3.0);
    let g = scope.backward(&a.add(&b).unwrap()).unwrap();
    assert_eq!(g.get(&old).unwrap().to_vec(), vec![2.0]);
    assert_eq!(g.get(&p).unwrap().to_vec(), vec![3.0]);
    assert!(p.same_node(&old));
}

#[test]
fn many_leaves_each_get_their_gradient() {
    // Past the linear-scan size the leaves are found through an index; every one still gets
    // exactly its own gradient.
    let xs: Vec<DynTensor<Cpu>> = (0..40)
        .map(|i| DynTensor::from_vec(vec![i as f32], &[1]).unwrap())
        .collect();
    let scope = GradScope::<Cpu>::open();
    let mut acc = DynTensor::<Cpu>::scalar(0.0);
    for (i, x) in xs.iter().enumerate() {
        acc = acc.add(&x.mul_scalar(i as f32 + 1.0).sum()).unwrap();
    }
    let g = scope.backward(&acc).unwrap();
    for (i, x) in xs.iter().enumerate() {
        assert_eq!(g.get(x).unwrap().to_vec(), vec![i as f32 + 1.0]);
    }
}
