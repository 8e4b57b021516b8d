//! Composition of transforms (Pyro's `ComposeTransform`).

use super::{validate_in, BoxTransform, Transform, TransformResult};
use crate::constraints::Constraint;
use crate::tensor::{Backend, DynTensor};

/// Applies `parts` in order: `y = parts[n-1](... parts[0](x))`. The log-det is the sum of the
/// parts' log-dets, each first summed over the dims that are event dims of the whole chain but
/// batch dims of the part, exactly as Pyro does.
///
/// `with_codomain` names the set the chain maps onto when the last part alone does not say it
/// (`exp` then `x + 2` maps onto `greater_than(2)`, while the affine part's own codomain is all
/// reals); the inverse then checks its input against that set (when validation is on).
///
/// ```
/// use pyro::constraints::Constraint;
/// use pyro::tensor::DynTensor;
/// use pyro::transforms::{AffineTransform, ComposeTransform, ExpTransform, Transform};
/// let t = ComposeTransform::new(vec![
///     Box::new(ExpTransform),
///     Box::new(AffineTransform::new(2.0, 1.0).unwrap()),
/// ])
/// .with_codomain(Constraint::GreaterThan(2.0));
/// let x = DynTensor::from_vec(vec![0.0, 1.0], &[2]).unwrap();
/// let y = t.forward(&x).unwrap();
/// assert_eq!(y.to_vec(), vec![3.0, 2.0 + 1f32.exp()]);
/// assert_eq!(t.log_abs_det_jacobian(&x, &y).unwrap().to_vec(), vec![0.0, 1.0]);
/// ```
#[derive(Debug, Clone)]
pub struct ComposeTransform<D: Backend> {
    parts: Vec<BoxTransform<D>>,
    codomain: Option<Constraint>,
}

impl<D: Backend> ComposeTransform<D> {
    /// The chain of `parts` (empty: the identity).
    pub fn new(parts: Vec<BoxTransform<D>>) -> Self {
        ComposeTransform {
            parts,
            codomain: None,
        }
    }

    /// The same chain, reporting `codomain` as the set it maps onto.
    pub fn with_codomain(mut self, codomain: Constraint) -> Self {
        self.codomain = Some(codomain);
        self
    }

    /// The parts, in the order they are applied.
    pub fn parts(&self) -> &[BoxTransform<D>] {
        &self.parts
    }
}

/// The log-determinants of a chain's parts, each summed over the event dims the chain has
/// at that part beyond the part's own, added up.
struct LadjSum<D: Backend> {
    /// Event dims of the value entering the next part.
    event_dim: isize,
    total: Option<DynTensor<D>>,
}

impl<D: Backend> LadjSum<D> {
    fn new(domain_event_dim: usize) -> Self {
        LadjSum {
            event_dim: domain_event_dim as isize,
            total: None,
        }
    }

    /// Adds the log-determinant `ld` of part `p`.
    fn add(&mut self, p: &BoxTransform<D>, ld: DynTensor<D>) -> TransformResult<()> {
        let extra = (self.event_dim - p.domain_event_dim() as isize).max(0) as usize;
        let term = ld.sum_rightmost(extra)?;
        self.total = Some(match self.total.take() {
            None => term,
            Some(acc) => acc.add(&term)?,
        });
        self.event_dim += p.codomain_event_dim() as isize - p.domain_event_dim() as isize;
        Ok(())
    }
}

impl<D: Backend> Transform<D> for ComposeTransform<D> {
    fn name(&self) -> &'static str {
        "ComposeTransform"
    }
    fn domain(&self) -> Constraint {
        self.parts.first().map_or(Constraint::Real, |p| p.domain())
    }
    fn codomain(&self) -> Constraint {
        match (&self.codomain, self.parts.last()) {
            (Some(c), _) => c.clone(),
            (None, Some(p)) => p.codomain(),
            (None, None) => Constraint::Real,
        }
    }
    fn domain_event_dim(&self) -> usize {
        let Some(last) = self.parts.last() else {
            return 0;
        };
        let mut ev = last.codomain_event_dim() as isize;
        for p in self.parts.iter().rev() {
            ev += p.domain_event_dim() as isize - p.codomain_event_dim() as isize;
            ev = ev.max(p.domain_event_dim() as isize);
        }
        ev as usize
    }
    fn codomain_event_dim(&self) -> usize {
        let Some(first) = self.parts.first() else {
            return 0;
        };
        let mut ev = first.domain_event_dim() as isize;
        for p in &self.parts {
            ev += p.codomain_event_dim() as isize - p.domain_event_dim() as isize;
            ev = ev.max(p.codomain_event_dim() as isize);
        }
        ev as usize
    }
    fn bijective(&self) -> bool {
        self.parts.iter().all(|p| p.bijective())
    }
    fn forward(&self, x: &DynTensor<D>) -> TransformResult<DynTensor<D>> {
        let mut v = x.clone();
        for p in &self.parts {
            v = p.forward(&v)?;
        }
        Ok(v)
    }
    fn inverse(&self, y: &DynTensor<D>) -> TransformResult<DynTensor<D>> {
        if let Some(c) = &self.codomain {
            if crate::is_validation_enabled() {
                validate_in(self.name(), "inverse", c, y)?;
            }
        }
        let mut v = y.clone();
        for p in self.parts.iter().rev() {
            v = p.inverse(&v)?;
        }
        Ok(v)
    }
    fn log_abs_det_jacobian(
        &self,
        x: &DynTensor<D>,
        y: &DynTensor<D>,
    ) -> TransformResult<DynTensor<D>> {
        if self.parts.is_empty() {
            return Ok(DynTensor::zeros(x.shape()));
        }
        let mut xs = vec![x.clone()];
        for p in &self.parts[..self.parts.len() - 1] {
            let next = p.forward(xs.last().expect("starts non-empty"))?;
            xs.push(next);
        }
        xs.push(y.clone());
        let mut sum = LadjSum::new(self.domain_event_dim());
        for (i, p) in self.parts.iter().enumerate() {
            sum.add(p, p.log_abs_det_jacobian(&xs[i], &xs[i + 1])?)?;
        }
        Ok(sum.total.expect("parts non-empty"))
    }
    fn forward_with_log_abs_det_jacobian(
        &self,
        x: &DynTensor<D>,
    ) -> TransformResult<(DynTensor<D>, DynTensor<D>)> {
        if self.parts.is_empty() {
            return Ok((x.clone(), DynTensor::zeros(x.shape())));
        }
        let mut sum = LadjSum::new(self.domain_event_dim());
        let mut v = x.clone();
        for p in &self.parts {
            let (y, ld) = p.forward_with_log_abs_det_jacobian(&v)?;
            sum.add(p, ld)?;
            v = y;
        }
        Ok((v, sum.total.expect("parts non-empty")))
    }
    fn forward_shape(&self, shape: &[usize]) -> TransformResult<Vec<usize>> {
        let mut s = shape.to_vec();
        for p in &self.parts {
            s = p.forward_shape(&s)?;
        }
        Ok(s)
    }
    fn inverse_shape(&self, shape: &[usize]) -> TransformResult<Vec<usize>> {
        let mut s = shape.to_vec();
        for p in self.parts.iter().rev() {
            s = p.inverse_shape(&s)?;
        }
        Ok(s)
    }
    fn clone_box(&self) -> BoxTransform<D> {
        Box::new(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::*;
    use dfdx::prelude::Cpu;

    fn chain(parts: Vec<BoxTransform<Cpu>>) -> ComposeTransform<Cpu> {
        ComposeTransform::new(parts)
    }

    #[test]
    fn elementwise_chain_matches_finite_differences() {
        let tr = chain(vec![
            Box::new(TanhTransform),
            Box::new(AffineTransform::new(1.0, 3.0).unwrap()),
            Box::new(ExpTransform),
        ]);
        assert_eq!((tr.domain_event_dim(), tr.codomain_event_dim()), (0, 0));
        for x in [-2.0f32, -0.3, 0.0, 0.8, 1.9] {
            check_log_det_fd(&tr, &[x], &[], &[0], &[0], 1e-3);
        }
        let x = normal_vec(&mut rng(4), 8, 1.0);
        check_round_trip_x(&tr, &x, &[2, 4], 1e-3);
        let f = |v: &DynTensor<Cpu>| {
            let y = tr.forward(v)?;
            tr.log_abs_det_jacobian(v, &y)
        };
        check_grad("compose log-det", &f, &x[..4], &[4], 1e-2);
    }

    #[test]
    fn elementwise_then_vector_part_sums_event_dims() {
        // Affine (event dim 0) before stick-breaking (event dim 1): the chain has event dim 1
        // and the affine log-det is summed over the vector.
        let tr = chain(vec![
            Box::new(AffineTransform::new(0.5, 2.0).unwrap()),
            Box::new(StickBreakingTransform),
        ]);
        assert_eq!((tr.domain_event_dim(), tr.codomain_event_dim()), (1, 1));
        assert_eq!(tr.forward_shape(&[7, 3]).unwrap(), vec![7, 4]);
        assert_eq!(tr.inverse_shape(&[4]).unwrap(), vec![3]);
        check_log_det_fd(&tr, &[0.3, -1.2, 0.7], &[3], &[0, 1, 2], &[0, 1, 2], 1e-3);
        let x = normal_vec(&mut rng(8), 6, 1.0);
        let xt = t(x.clone(), &[2, 3]);
        let y = tr.forward(&xt).unwrap();
        assert!(Constraint::Simplex.check_all(&y));
        assert_eq!(tr.log_abs_det_jacobian(&xt, &y).unwrap().shape(), &[2]);
        check_round_trip_x(&tr, &x, &[2, 3], 1e-4);
    }

    #[test]
    fn forward_with_log_det_equals_the_two_calls() {
        // One pass over the parts gives the same values as forward then log_abs_det_jacobian,
        // for an elementwise chain and for one with a vector part.
        let chains = [
            chain(vec![
                Box::new(SigmoidTransform),
                Box::new(AffineTransform::new(-1.0, 4.0).unwrap()),
            ]),
            chain(vec![
                Box::new(AffineTransform::new(0.5, 2.0).unwrap()),
                Box::new(StickBreakingTransform),
            ]),
            chain(vec![]),
        ];
        let x = t(normal_vec(&mut rng(12), 6, 1.5), &[2, 3]);
        for tr in chains {
            let (y, ld) = tr.forward_with_log_abs_det_jacobian(&x).unwrap();
            let y2 = tr.forward(&x).unwrap();
            assert_eq!(y.to_vec(), y2.to_vec());
            let ld2 = tr.log_abs_det_jacobian(&x, &y2).unwrap();
            assert_eq!(ld.shape(), ld2.shape());
            assert_eq!(ld.to_vec(), ld2.to_vec());
        }
    }

    #[test]
    fn empty_chain_is_the_identity() {
        let tr = chain(vec![]);
        let x = t(vec![1.0, -2.0], &[2]);
        assert_eq!(tr.forward(&x).unwrap().to_vec(), vec![1.0, -2.0]);
        assert_eq!(
            tr.log_abs_det_jacobian(&x, &x).unwrap().to_vec(),
            vec![0.0, 0.0]
        );
        assert_eq!(tr.domain_event_dim(), 0);
    }

    #[test]
    fn codomain_override_is_checked_by_the_inverse() {
        crate::enable_validation(true);
        let tr = chain(vec![
            Box::new(ExpTransform),
            Box::new(AffineTransform::new(2.0, 1.0).unwrap()),
        ])
        .with_codomain(Constraint::GreaterThan(2.0));
        let err = tr.inverse(&t(vec![1.0], &[1])).unwrap_err();
        assert!(err.to_string().contains("greater_than(2)"), "{err}");
        assert!(tr.inverse(&t(vec![2.5], &[1])).is_ok());
    }
}
