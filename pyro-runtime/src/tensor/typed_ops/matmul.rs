//! Matrix products of typed tensors, their shapes computed by the compiler (`MatMulShape`).

use dfdx::shapes::{Const, Dim, Rank0, Shape};

use crate::tensor::backend::Backend;
use crate::tensor::dyn_tensor::{numel, DynTensor};
use crate::tensor::typed::Tensor;
use crate::tensor::{TensorError, TensorResult};

/// The two contracted dims of a matrix product agree: the same `Const<K>`, or a `usize` on
/// either side (then checked when the product runs).
#[diagnostic::on_unimplemented(
    message = "the inner dims of this matrix product disagree: `{Self}` against `{Rhs}`",
    label = "the left operand's last dim is `{Self}`, the right operand's contracted dim is `{Rhs}`",
    note = "in `a.matmul(&b)` the last dim of `a` must equal the first dim of `b` (its second-to-last for a batch `(B, K, N)`)"
)]
pub trait InnerDim<Rhs: Dim>: Dim {}

/// The batch dims of a batched matrix product agree; `Output` is the more static of the two.
#[diagnostic::on_unimplemented(
    message = "the batch dims of this matrix product disagree: `{Self}` against `{Rhs}`",
    label = "a batch of `{Self}` matrices times a batch of `{Rhs}`",
    note = "`(B, M, K)` times `(B, K, N)` needs the same `B` on both sides"
)]
pub trait BatchDim<Rhs: Dim>: Dim {
    /// The result's batch dim.
    type Output: Dim;
}

impl<const K: usize> InnerDim<Const<K>> for Const<K> {}
impl<const K: usize> InnerDim<usize> for Const<K> {}
impl<const K: usize> InnerDim<Const<K>> for usize {}
impl InnerDim<usize> for usize {}

impl<const B: usize> BatchDim<Const<B>> for Const<B> {
    type Output = Const<B>;
}
impl<const B: usize> BatchDim<usize> for Const<B> {
    type Output = Const<B>;
}
impl<const B: usize> BatchDim<Const<B>> for usize {
    type Output = Const<B>;
}
impl BatchDim<usize> for usize {
    type Output = usize;
}

/// The shape of `Self` matmul `Rhs`, as [`Tensor::matmul`] computes it (NumPy's `matmul`
/// for these ranks): `(K,)·(K,) -> ()`, `(K,)·(K, N) -> (N,)`, `(M, K)·(K,) -> (M,)`,
/// `(M, K)·(K, N) -> (M, N)`, `(B, M, K)·(K,) -> (B, M)`, `(B, M, K)·(K, N) -> (B, M, N)`
/// and `(B, M, K)·(B, K, N) -> (B, M, N)`.
#[diagnostic::on_unimplemented(
    message = "no matrix product of a tensor of shape `{Self}` by one of shape `{Rhs}`",
    label = "`{Self}` times `{Rhs}`",
    note = "matmul takes (K,)·(K,), (K,)·(K, N), (M, K)·(K,), (M, K)·(K, N), (B, M, K)·(K,), (B, M, K)·(K, N) and (B, M, K)·(B, K, N)"
)]
pub trait MatMulShape<Rhs: Shape>: Shape {
    /// The product's shape.
    type Output: Shape;
}

impl<K: InnerDim<K2>, K2: Dim> MatMulShape<(K2,)> for (K,) {
    type Output = Rank0;
}
impl<K: InnerDim<K2>, K2: Dim, N: Dim> MatMulShape<(K2, N)> for (K,) {
    type Output = (N,);
}
impl<M: Dim, K: InnerDim<K2>, K2: Dim> MatMulShape<(K2,)> for (M, K) {
    type Output = (M,);
}
impl<M: Dim, K: InnerDim<K2>, K2: Dim, N: Dim> MatMulShape<(K2, N)> for (M, K) {
    type Output = (M, N);
}
impl<B: Dim, M: Dim, K: InnerDim<K2>, K2: Dim> MatMulShape<(K2,)> for (B, M, K) {
    type Output = (B, M);
}
impl<B: Dim, M: Dim, K: InnerDim<K2>, K2: Dim, N: Dim> MatMulShape<(K2, N)> for (B, M, K) {
    type Output = (B, M, N);
}
impl<B: BatchDim<B2>, B2: Dim, M: Dim, K: InnerDim<K2>, K2: Dim, N: Dim> MatMulShape<(B2, K2, N)>
    for (B, M, K)
{
    type Output = (B::Output, M, N);
}

/// Matrix products of the ranks [`MatMulShape`] allows.
fn matmul_dyn<D: Backend>(a: &DynTensor<D>, b: &DynTensor<D>) -> TensorResult<DynTensor<D>> {
    let (ra, rb) = (a.rank(), b.rank());
    let (sa, sb) = (a.shape(), b.shape());
    let unsupported = || TensorError::Broadcast {
        op: "matmul",
        lhs: sa.to_vec(),
        rhs: sb.to_vec(),
    };
    if ra == 0 || rb == 0 || rb > 3 || (rb == 3 && ra != 3) {
        return Err(unsupported());
    }
    let k = sa[ra - 1];
    let k2 = if rb == 1 { sb[0] } else { sb[rb - 2] };
    if k != k2 {
        return Err(TensorError::Shape {
            what: format!("matmul of {sa:?} by {sb:?}: the inner dims disagree"),
            expected: vec![k],
            found: vec![k2],
        });
    }
    let mut out: Vec<usize> = sa[..ra - 1].to_vec();
    if rb >= 2 {
        out.push(sb[rb - 1]);
    }
    if rb == 3 && sa[0] != sb[0] {
        return Err(TensorError::Shape {
            what: format!("matmul of {sa:?} by {sb:?}: the batch dims disagree"),
            expected: vec![sa[0]],
            found: vec![sb[0]],
        });
    }
    if numel(&out) == 0 || k == 0 {
        return Ok(DynTensor::zeros(&out));
    }
    match (ra, rb) {
        (1, 1) => Ok(a.mul(b)?.sum()),
        (1, 2) => a.reshape(&[1, k])?.matmul(b)?.reshape(&out),
        (_, 1) => a.matmul(&b.reshape(&[k, 1])?)?.reshape(&out),
        (_, 2) => a.matmul(b),
        _ => a.bmm(b),
    }
}

impl<S: Shape, D: Backend> Tensor<S, D> {
    /// The matrix product, typed through the trait `MatMulShape`: vector·vector (a dot product),
    /// vector·matrix, matrix·vector, matrix·matrix, a batch of matrices times one matrix or
    /// vector, and a batch times a batch (NumPy's `matmul`). The inner dims must agree: two
    /// `Const` dims are compared by the compiler, a `usize` one when the product runs.
    ///
    /// ```
    /// use pyro::prelude::*;
    /// use pyro::tensor::typed::Tensor;
    /// let a: Tensor<Rank2<2, 3>> = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]].into();
    /// let v: Tensor<Rank1<3>> = [1.0, 0.0, -1.0].into();
    /// let av: Tensor<Rank1<2>> = a.matmul(&v);
    /// assert_eq!(av.to_vec().unwrap(), vec![-2.0, -2.0]);
    /// let b: Tensor<(usize, Const<3>, Const<2>)> =
    ///     Tensor::from_vec((0..12).map(|i| i as f32).collect(), (2, Const, Const)).unwrap();
    /// let w: Tensor<Rank2<2, 1>> = [[1.0], [1.0]].into();
    /// assert_eq!(b.matmul(&w).to_vec().unwrap(), vec![1.0, 5.0, 9.0, 13.0, 17.0, 21.0]);
    /// ```
    ///
    /// Inner dims that disagree do not compile:
    ///
    /// ```compile_fail
    /// use pyro::prelude::*;
    /// use pyro::tensor::typed::Tensor;
    /// let a: Tensor<Rank2<2, 3>> = Tensor::zeros(Default::default());
    /// let b: Tensor<Rank2<4, 2>> = Tensor::zeros(Default::default());
    /// let _ = a.matmul(&b); // the inner dims of this matrix product disagree
    /// ```
    pub fn matmul<R: Shape>(&self, rhs: &Tensor<R, D>) -> Tensor<S::Output, D>
    where
        S: MatMulShape<R>,
    {
        self.zip_to(rhs, matmul_dyn)
    }
}

#[cfg(test)]
mod tests {
    use dfdx::shapes::{Rank1, Rank2, Rank3};

    use super::*;
    use crate::tensor::grad_tests::check_grad;
    use crate::tensor::typed_ops::testing::{
        check_out, fixture, input, spread, t, view, weighted, T,
    };

    #[test]
    fn matmul_of_every_rank_pair_matches_numpy() {
        let f = fixture();
        let c = |n: &str| &f[n];
        let dot: T<Rank0> =
            input::<Rank1<4>>(c("dot"), "x").matmul(&input::<(usize,)>(c("dot"), "y"));
        check_out("dot", c("dot"), &dot);
        let vm: T<Rank1<5>> =
            input::<Rank1<4>>(c("vec_mat"), "x").matmul(&input::<Rank2<4, 5>>(c("vec_mat"), "y"));
        check_out("vec_mat", c("vec_mat"), &vm);
        let mv: T<(usize,)> = input::<(usize, usize)>(c("mat_vec"), "x")
            .matmul(&input::<Rank1<4>>(c("mat_vec"), "y"));
        check_out("mat_vec", c("mat_vec"), &mv);
        let mm: T<(usize, Const<5>)> = input::<(usize, Const<4>)>(c("mat_mat"), "x")
            .matmul(&input::<(usize, Const<5>)>(c("mat_mat"), "y"));
        check_out("mat_mat", c("mat_mat"), &mm);
        let bm: T<(usize, Const<3>, Const<5>)> =
            input::<(usize, Const<3>, Const<4>)>(c("batch_mat"), "x")
                .matmul(&input::<Rank2<4, 5>>(c("batch_mat"), "y"));
        check_out("batch_mat", c("batch_mat"), &bm);
        let bv: T<(usize, Const<3>)> = input::<(usize, Const<3>, Const<4>)>(c("batch_vec"), "x")
            .matmul(&input::<Rank1<4>>(c("batch_vec"), "y"));
        check_out("batch_vec", c("batch_vec"), &bv);
        // A usize batch against a Const one: the result takes the Const.
        let bb: T<(Const<2>, Const<3>, Const<5>)> =
            input::<(usize, Const<3>, Const<4>)>(c("batch_batch"), "x").matmul(&input::<
                Rank3<2, 4, 5>,
            >(
                c("batch_batch"),
                "y",
            ));
        check_out("batch_batch", c("batch_batch"), &bb);
    }

    #[test]
    fn matmul_gradients_match_finite_differences() {
        let ab = |a: Vec<usize>, b: Vec<usize>| {
            vec![(spread(numel(&a), 3), a), (spread(numel(&b), 4), b)]
        };
        check_grad(
            &|x| weighted(&view::<(usize,)>(&x[0]).matmul(&view::<(usize,)>(&x[1]))),
            ab(vec![3], vec![3]),
        );
        check_grad(
            &|x| weighted(&view::<(usize,)>(&x[0]).matmul(&view::<(usize, usize)>(&x[1]))),
            ab(vec![3], vec![3, 2]),
        );
        check_grad(
            &|x| weighted(&view::<(usize, usize)>(&x[0]).matmul(&view::<(usize,)>(&x[1]))),
            ab(vec![2, 3], vec![3]),
        );
        check_grad(
            &|x| weighted(&view::<(usize, usize)>(&x[0]).matmul(&view::<(usize, usize)>(&x[1]))),
            ab(vec![2, 3], vec![3, 4]),
        );
        check_grad(
            &|x| weighted(&view::<(usize, usize, usize)>(&x[0]).matmul(&view::<(usize,)>(&x[1]))),
            ab(vec![2, 2, 3], vec![3]),
        );
        check_grad(
            &|x| {
                weighted(
                    &view::<(usize, usize, usize)>(&x[0]).matmul(&view::<(usize, usize)>(&x[1])),
                )
            },
            ab(vec![2, 2, 3], vec![3, 2]),
        );
        check_grad(
            &|x| {
                let a = view::<(usize, usize, usize)>(&x[0]);
                weighted(&a.matmul(&view::<(usize, usize, usize)>(&x[1])))
            },
            ab(vec![2, 2, 3], vec![2, 3, 2]),
        );
    }

    #[test]
    fn matmul_of_a_tensor_by_itself_differentiates_both_sides() {
        // d/dA sum(w ∘ (A A)) and d/dB of a batch times itself: the same node on both sides.
        check_grad(
            &|x| {
                let a = view::<(usize, usize)>(&x[0]);
                weighted(&a.matmul(&a))
            },
            vec![(spread(9, 5), vec![3, 3])],
        );
        check_grad(
            &|x| {
                let b = view::<(usize, usize, usize)>(&x[0]);
                weighted(&b.matmul(&b))
            },
            vec![(spread(8, 6), vec![2, 2, 2])],
        );
        check_grad(
            &|x| {
                let v = view::<(usize,)>(&x[0]);
                weighted(&v.matmul(&v))
            },
            vec![(spread(3, 7), vec![3])],
        );
    }

    #[test]
    fn matmul_run_time_mismatches_are_typed_errors_in_the_result() {
        let a: T<(usize, usize)> = t(vec![0.0; 6], (2, 3));
        let b: T<(usize, usize)> = t(vec![0.0; 8], (4, 2));
        let e = a.matmul(&b).exp().to_vec().unwrap_err();
        assert!(
            matches!(&e, TensorError::Shape { expected, found, .. } if expected == &[3] && found == &[4]),
            "{e}"
        );
        assert!(e.to_string().contains("inner dims disagree"), "{e}");
        let x: T<(usize, usize, usize)> = t(vec![0.0; 12], (2, 2, 3));
        let y: T<(usize, usize, usize)> = t(vec![0.0; 18], (3, 3, 2));
        let e = x.matmul(&y).to_vec().unwrap_err();
        assert!(e.to_string().contains("batch dims disagree"), "{e}");
        // Empty dims give zeros of the right shape.
        let z: T<(usize, usize)> = t(vec![], (2, 0));
        let w: T<(usize, usize)> = t(vec![], (0, 3));
        assert_eq!(z.matmul(&w).to_vec().unwrap(), vec![0.0; 6]);
    }
}
