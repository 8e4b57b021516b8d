//! An error in any input of a typed operation carries through to its result.

use dfdx::shapes::Axis;

use super::testing::{t, T};
use crate::tensor::typed::Tensor;
use crate::tensor::TensorError;

#[test]
fn errors_in_inputs_carry_through_every_operation() {
    let a: T<(usize, usize)> = t(vec![0.0; 6], (2, 3));
    let bad: T<(usize, usize)> = a.matmul(&a); // inner dims 3 vs 2
    let is_it = |e: TensorError| e.to_string().contains("inner dims disagree");
    assert!(is_it(bad.sum_axis::<Axis<0>>().to_vec().unwrap_err()));
    assert!(is_it(bad.mean_axis::<Axis<1>>().to_vec().unwrap_err()));
    assert!(is_it(bad.max_axis::<Axis<1>>().to_vec().unwrap_err()));
    assert!(is_it(bad.logsumexp_last().to_vec().unwrap_err()));
    assert!(is_it(bad.softmax().to_vec().unwrap_err()));
    assert!(is_it(bad.log_softmax().to_vec().unwrap_err()));
    assert!(is_it(a.matmul(&bad).to_vec().unwrap_err()));
    assert!(is_it(bad.select(0).to_vec().unwrap_err()));
    assert!(is_it(bad.narrow(0, 1).to_vec().unwrap_err()));
    assert!(is_it(bad.reshape((6,)).to_vec().unwrap_err()));
    assert!(is_it(
        bad.index_select::<Axis<0>>(&[0]).to_vec().unwrap_err()
    ));
    assert!(is_it(bad.gather::<Axis<0>>(&[0]).to_vec().unwrap_err()));
    assert!(is_it(
        Tensor::stack([a.clone(), bad.clone()])
            .to_vec()
            .unwrap_err()
    ));
    assert!(is_it(a.gt(&bad).to_vec().unwrap_err()));
    assert!(is_it(bad.gt(0.0).to_vec().unwrap_err()));
    assert!(is_it(Tensor::where_(&a, &bad, 0.0).to_vec().unwrap_err()));
    assert!(is_it(Tensor::where_(&bad, &a, 0.0).to_vec().unwrap_err()));
    assert!(is_it(Tensor::where_(&a, 0.0, &bad).to_vec().unwrap_err()));
}
