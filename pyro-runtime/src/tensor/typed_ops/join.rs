//! Joining typed tensors along the first axis: `concat` and `stack`.

use dfdx::shapes::{Const, Dim, Rank0, Shape};

use super::shapes::{PrependDim, SplitFirst};
use crate::tensor::backend::Backend;
use crate::tensor::dyn_tensor::DynTensor;
use crate::tensor::typed::Tensor;
use crate::tensor::{TensorError, TensorResult};

/// A list of tensors of one shape type to [`Tensor::concat`] or [`Tensor::stack`]: an array
/// (its length is then known to the compiler: `Count = Const<K>`), a slice or a `Vec`.
pub trait Tensors<S: Shape, D: Backend> {
    /// The number of tensors.
    type Count: Dim;
    /// The tensors.
    fn tensors(&self) -> &[Tensor<S, D>];
}

impl<S: Shape, D: Backend, const K: usize> Tensors<S, D> for [Tensor<S, D>; K] {
    type Count = Const<K>;
    fn tensors(&self) -> &[Tensor<S, D>] {
        self
    }
}
impl<S: Shape, D: Backend, const K: usize> Tensors<S, D> for &[Tensor<S, D>; K] {
    type Count = Const<K>;
    fn tensors(&self) -> &[Tensor<S, D>] {
        *self
    }
}
impl<S: Shape, D: Backend> Tensors<S, D> for &[Tensor<S, D>] {
    type Count = usize;
    fn tensors(&self) -> &[Tensor<S, D>] {
        self
    }
}
impl<S: Shape, D: Backend> Tensors<S, D> for Vec<Tensor<S, D>> {
    type Count = usize;
    fn tensors(&self) -> &[Tensor<S, D>] {
        self
    }
}
impl<S: Shape, D: Backend> Tensors<S, D> for &Vec<Tensor<S, D>> {
    type Count = usize;
    fn tensors(&self) -> &[Tensor<S, D>] {
        self
    }
}

/// A typed tensor holding `value` (a value or the error to carry), of shape type `O`.
/// (The typed tensor's constructor is private to typed.rs; `map_to` from a throwaway scalar
/// wraps any result.)
fn lift<O: Shape, D: Backend>(value: TensorResult<DynTensor<D>>) -> Tensor<O, D> {
    Tensor::<Rank0, D>::scalar(0.0).map_to(move |_| value)
}

/// The flat data of `parts` one after another, as a rank-1 tensor.
fn cat_values<D: Backend>(parts: &[DynTensor<D>]) -> TensorResult<DynTensor<D>> {
    let parts: Vec<&DynTensor<D>> = parts.iter().filter(|p| p.numel() > 0).collect();
    match parts.as_slice() {
        [] => return Ok(DynTensor::zeros(&[0])),
        [one] => return one.reshape(&[one.numel()]),
        _ => {}
    }
    let parts: Vec<DynTensor<D>> = parts.into_iter().cloned().collect();
    DynTensor::cat_flat(&parts)
}

fn dyn_parts<S: Shape, D: Backend>(parts: &[Tensor<S, D>]) -> TensorResult<Vec<DynTensor<D>>> {
    parts.iter().map(|p| p.as_dyn().cloned()).collect()
}

fn concat_dyn<D: Backend>(parts: &[DynTensor<D>]) -> TensorResult<DynTensor<D>> {
    let Some(first) = parts.first() else {
        return Err(TensorError::Invalid("concat of no tensors".into()));
    };
    let rest = &first.shape()[1..];
    for (i, p) in parts.iter().enumerate() {
        if &p.shape()[1..] != rest {
            return Err(TensorError::Shape {
                what: format!("concat: the dims after the first of part {i}"),
                expected: rest.to_vec(),
                found: p.shape()[1..].to_vec(),
            });
        }
    }
    let mut shape = first.shape().to_vec();
    shape[0] = parts.iter().map(|p| p.shape()[0]).sum();
    cat_values(parts)?.reshape(&shape)
}

fn stack_dyn<D: Backend>(parts: &[DynTensor<D>], item: &[usize]) -> TensorResult<DynTensor<D>> {
    for (i, p) in parts.iter().enumerate() {
        if p.shape() != item {
            return Err(TensorError::Shape {
                what: format!("stack: part {i}"),
                expected: item.to_vec(),
                found: p.shape().to_vec(),
            });
        }
    }
    let mut shape = vec![parts.len()];
    shape.extend_from_slice(item);
    cat_values(parts)?.reshape(&shape)
}

impl<S: Shape, D: Backend> Tensor<S, D> {
    /// Joins tensors along the first axis (PyTorch's `cat(parts, 0)`); the first dim of the
    /// result is a `usize` (a sum of `Const`s is not a type on stable Rust). The other dims
    /// must agree: `Const` ones do by type, `usize` ones are checked when it runs; an empty
    /// list is an error carried in the result.
    ///
    /// ```
    /// use pyro::prelude::*;
    /// use pyro::tensor::typed::Tensor;
    /// let a: Tensor<(usize, Const<2>)> = Tensor::from_vec(vec![1.0, 2.0], (1, Const)).unwrap();
    /// let b: Tensor<(usize, Const<2>)> = Tensor::from_vec(vec![3.0, 4.0, 5.0, 6.0], (2, Const)).unwrap();
    /// let c = Tensor::concat([a, b]);
    /// assert_eq!(c.shape(), (3, Const));
    /// assert_eq!(c.to_vec().unwrap(), vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    /// ```
    pub fn concat(parts: impl Tensors<S, D>) -> Tensor<S::WithFirst<usize>, D>
    where
        S: SplitFirst,
    {
        lift(dyn_parts(parts.tensors()).and_then(|p| concat_dyn(&p)))
    }

    /// Stacks tensors of one shape along a new first axis (PyTorch's `stack(parts, 0)`). Its
    /// dim is `Const<K>` for an array of `K` tensors, a `usize` for a slice or a `Vec`. The
    /// tensors' `usize` dims must agree (checked when it runs); an empty list is an error
    /// carried in the result.
    ///
    /// ```
    /// use pyro::prelude::*;
    /// use pyro::tensor::typed::Tensor;
    /// let a: Tensor<Rank1<2>> = [1.0, 2.0].into();
    /// let b: Tensor<Rank1<2>> = [3.0, 4.0].into();
    /// let m: Tensor<Rank2<2, 2>> = Tensor::stack([a.clone(), b.clone()]);
    /// assert_eq!(m.to_vec().unwrap(), vec![1.0, 2.0, 3.0, 4.0]);
    /// let rows = vec![a, b.clone(), b];
    /// let n: Tensor<(usize, Const<2>)> = Tensor::stack(&rows);
    /// assert_eq!(n.dims().unwrap(), &[3, 2]);
    /// ```
    pub fn stack<P: Tensors<S, D>>(parts: P) -> Tensor<S::Prepended<P::Count>, D>
    where
        S: PrependDim,
    {
        lift(dyn_parts(parts.tensors()).and_then(|p| match p.first() {
            Some(t) => stack_dyn(&p, t.shape()),
            None => Err(TensorError::Invalid("stack of no tensors".into())),
        }))
    }
}

#[cfg(test)]
mod tests {
    use dfdx::shapes::{Const, Rank1, Rank2};

    use super::*;
    use crate::tensor::grad_tests::check_grad;
    use crate::tensor::typed_ops::testing::{spread, t, view, weighted, T};

    #[test]
    fn concat_and_stack_join_along_the_first_axis() {
        let a: T<(usize, Const<2>)> = t(vec![1.0, 2.0], (1, Const));
        let b: T<(usize, Const<2>)> = t(vec![3.0, 4.0, 5.0, 6.0], (2, Const));
        let c: T<(usize, Const<2>)> = Tensor::concat(&[a.clone(), b.clone(), a.clone()]);
        assert_eq!(
            c.to_vec().unwrap(),
            vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 1.0, 2.0]
        );
        assert_eq!(c.shape(), (4, Const));
        // Static parts concatenate to a usize first dim.
        let p: T<Rank2<1, 2>> = [[7.0, 8.0]].into();
        let q: T<(usize, Const<2>)> = Tensor::concat(vec![p.clone(), p]);
        assert_eq!(q.to_vec().unwrap(), vec![7.0, 8.0, 7.0, 8.0]);
        // Stack: Const<K> for arrays, usize for slices and Vecs.
        let u: T<Rank1<2>> = [1.0, 2.0].into();
        let v: T<Rank1<2>> = [3.0, 4.0].into();
        let s: T<Rank2<3, 2>> = Tensor::stack([u.clone(), v.clone(), u.clone()]);
        assert_eq!(s.to_vec().unwrap(), vec![1.0, 2.0, 3.0, 4.0, 1.0, 2.0]);
        let parts = [u.clone(), v];
        let s2: T<(usize, Const<2>)> = Tensor::stack(&parts[..]);
        assert_eq!(s2.shape(), (2, Const));
        let s3: T<(Const<2>, Const<2>)> = Tensor::stack(&[u.clone(), u]);
        assert_eq!(s3.to_vec().unwrap(), vec![1.0, 2.0, 1.0, 2.0]);
        let scalars: T<(usize,)> = Tensor::stack(vec![Tensor::scalar(1.0), Tensor::scalar(2.0)]);
        assert_eq!(scalars.to_vec().unwrap(), vec![1.0, 2.0]);
        // A single part and empty parts.
        let one: T<(usize, Const<2>)> = Tensor::concat([b.clone()]);
        assert_eq!(one.to_vec().unwrap(), b.to_vec().unwrap());
        let empty: T<(usize, Const<2>)> = t(vec![], (0, Const));
        let with_empty = Tensor::concat([empty.clone(), b.clone(), empty]);
        assert_eq!(with_empty.to_vec().unwrap(), b.to_vec().unwrap());
    }

    #[test]
    fn concat_and_stack_errors_are_carried() {
        let a: T<(usize, usize)> = t(vec![0.0; 2], (1, 2));
        let b: T<(usize, usize)> = t(vec![0.0; 3], (1, 3));
        let e = Tensor::concat([a.clone(), b.clone()]).to_vec().unwrap_err();
        assert!(
            matches!(&e, TensorError::Shape { expected, found, .. } if expected == &[2] && found == &[3]),
            "{e}"
        );
        let e = Tensor::stack([a.clone(), b]).to_vec().unwrap_err();
        assert!(matches!(e, TensorError::Shape { .. }), "{e}");
        let none: Vec<T<(usize, usize)>> = vec![];
        assert!(matches!(
            Tensor::concat(&none).to_vec(),
            Err(TensorError::Invalid(_))
        ));
        assert!(matches!(
            Tensor::stack(&none).to_vec(),
            Err(TensorError::Invalid(_))
        ));
        // An error already in a part is the result's.
        let bad = a.matmul(&a);
        let e = Tensor::concat([a, bad]).to_vec().unwrap_err();
        assert!(e.to_string().contains("inner dims disagree"), "{e}");
    }

    #[test]
    fn joining_gradients_match_finite_differences_with_repeated_parts() {
        let x = || vec![(spread(4, 9), vec![2, 2]), (spread(6, 10), vec![3, 2])];
        type S2 = (usize, Const<2>);
        // `a` appears several times, first twice in a row: each copy's gradient reaches it.
        check_grad(
            &|x| {
                let (a, b) = (view::<S2>(&x[0]), view::<S2>(&x[1]));
                weighted(&Tensor::concat([a.clone(), a.clone(), b, a]))
            },
            x(),
        );
        check_grad(
            &|x| {
                let a = view::<Rank2<2, 2>>(&x[0]);
                weighted(&Tensor::stack([a.clone(), a]))
            },
            x(),
        );
        check_grad(
            &|x| {
                let (a, b) = (view::<S2>(&x[0]), view::<S2>(&x[1]).narrow(0, 2));
                weighted(&Tensor::stack([a.clone(), b.exp(), a]))
            },
            x(),
        );
        // Joined values used again next to their parts.
        check_grad(
            &|x| {
                let a = view::<S2>(&x[0]);
                let c = Tensor::concat([a.clone()]);
                weighted(&(&c * &a))
            },
            x(),
        );
    }
}
