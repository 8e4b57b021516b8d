//! The Dirac delta distribution (Pyro's `dist.Delta`): all mass on one value.

use std::marker::PhantomData;

use rand::RngCore;

use super::boilerplate::impl_distribution;
use super::param::{Dev1, Dev2, Param, ParamMeta, ResolveDev, Shape1};
use super::*;
use crate::linalg::broadcast_index;

/// `Delta(v, log_density, event_dim)`: a point mass at `v`.
///
/// The rightmost `event_dim` dims of `v` form one event; the rest are the batch shape.
/// `sample` and `rsample` return `v` (the latter with its gradient path, so `has_rsample` is
/// true); `log_prob(x)` is `log_density` where `x` equals `v` on the whole event and `-inf`
/// elsewhere, as in Pyro (an infinite value, not an error). `log_density` (default 0, a
/// tensor broadcastable to the batch shape) carries gradients, which is how Pyro's autoguides
/// add a Jacobian term.
///
/// ```
/// use pyro::distributions::{Delta, Distribution};
/// use pyro::tensor::DynTensor;
/// let d = Delta::new(2.0).unwrap();
/// assert_eq!(d.sample_global(&[]).unwrap().item().unwrap(), 2.0);
/// assert_eq!(d.log_prob(&DynTensor::scalar(2.0)).unwrap().item().unwrap(), 0.0);
/// let off = d.log_prob(&DynTensor::scalar(1.0)).unwrap().item().unwrap();
/// assert_eq!(off, f32::NEG_INFINITY);
/// ```
#[derive(Debug, Clone)]
pub struct Delta<S = dfdx::shapes::Rank0, D: Backend = crate::tensor::DefaultDevice> {
    v: DynTensor<D>,
    log_density: DynTensor<D>,
    batch_shape: Vec<usize>,
    event_shape: Vec<usize>,
    _s: PhantomData<fn() -> S>,
}

impl Delta {
    /// A point mass at `v` (`log_density = 0`, `event_dim = 0`).
    ///
    /// ```
    /// use pyro::distributions::{Delta, Distribution};
    /// let d = Delta::new(1.5).unwrap();
    /// assert_eq!(d.mean().unwrap().item().unwrap(), 1.5);
    /// assert_eq!(d.variance().unwrap().item().unwrap(), 0.0);
    /// ```
    pub fn new<V>(v: V) -> DistResult<Delta<Shape1<V>, Dev1<V>>>
    where
        V: ParamMeta + Param<Dev1<V>>,
        V::Dev: ResolveDev,
    {
        let v = v.into_dyn()?;
        Delta::build(v, DynTensor::constant(&[], 0.0), 0)
    }

    /// A point mass at `v` with the given `log_density` (broadcastable to the batch shape)
    /// and `event_dim` rightmost dims of `v` forming one event.
    ///
    /// ```
    /// use pyro::distributions::{Delta, Distribution};
    /// use pyro::tensor::DynTensor;
    /// let v = DynTensor::<dfdx::prelude::Cpu>::from_vec(vec![1.0, 2.0, 3.0], &[3]).unwrap();
    /// let d = Delta::with_log_density(v.clone(), -0.5, 1).unwrap();
    /// assert_eq!(d.batch_shape(), &[] as &[usize]);
    /// assert_eq!(d.event_shape(), &[3]);
    /// assert_eq!(d.log_prob(&v).unwrap().item().unwrap(), -0.5);
    /// ```
    pub fn with_log_density<V, L>(
        v: V,
        log_density: L,
        event_dim: usize,
    ) -> DistResult<Delta<Shape1<V>, Dev2<V, L>>>
    where
        V: ParamMeta + Param<Dev2<V, L>>,
        L: ParamMeta + Param<Dev2<V, L>>,
        V::Dev: param::JoinDev<L::Dev>,
        <V::Dev as param::JoinDev<L::Dev>>::Out: param::ResolveDev,
    {
        Delta::build(v.into_dyn()?, log_density.into_dyn()?, event_dim)
    }
}

impl<D: Backend> Delta<DynShape, D> {
    /// Builds from run-time shaped tensors.
    ///
    /// ```
    /// use pyro::distributions::{Delta, Distribution};
    /// use pyro::tensor::DynTensor;
    /// let v = DynTensor::<dfdx::prelude::Cpu>::zeros(&[4, 2]);
    /// let d = Delta::from_dyn(v, DynTensor::scalar(0.0), 1).unwrap();
    /// assert_eq!(d.batch_shape(), &[4]);
    /// ```
    pub fn from_dyn(
        v: DynTensor<D>,
        log_density: DynTensor<D>,
        event_dim: usize,
    ) -> DistResult<Self> {
        Self::build(v, log_density, event_dim)
    }
}

impl<S, D: Backend> Delta<S, D> {
    fn build(v: DynTensor<D>, log_density: DynTensor<D>, event_dim: usize) -> DistResult<Self> {
        if event_dim > v.rank() {
            return Err(DistError::InvalidParameter {
                dist: "Delta",
                param: "event_dim",
                reason: format!("{event_dim} exceeds the rank of v (shape {:?})", v.shape()),
            });
        }
        validate_param("Delta", "v", &v, &Constraint::Real)?;
        validate_param(
            "Delta",
            "log_density",
            &log_density,
            &Constraint::LessThan(f32::INFINITY),
        )?;
        let split = v.rank() - event_dim;
        let batch_shape = v.shape()[..split].to_vec();
        let event_shape = v.shape()[split..].to_vec();
        let log_density =
            log_density
                .broadcast_to(&batch_shape)
                .map_err(|_| DistError::InvalidParameter {
                    dist: "Delta",
                    param: "log_density",
                    reason: format!(
                        "shape {:?} does not broadcast to the batch shape {batch_shape:?}",
                        log_density.shape()
                    ),
                })?;
        Ok(Delta {
            v,
            log_density,
            batch_shape,
            event_shape,
            _s: PhantomData,
        })
    }

    /// The point `v`.
    ///
    /// ```
    /// use pyro::distributions::Delta;
    /// assert_eq!(Delta::new(3.0).unwrap().v().item().unwrap(), 3.0);
    /// ```
    pub fn v(&self) -> &DynTensor<D> {
        &self.v
    }

    /// The log density at `v` (shape: the batch shape).
    ///
    /// ```
    /// use pyro::distributions::Delta;
    /// let d = Delta::with_log_density(3.0, 1.25, 0).unwrap();
    /// assert_eq!(d.log_density().item().unwrap(), 1.25);
    /// ```
    pub fn log_density(&self) -> &DynTensor<D> {
        &self.log_density
    }

    /// The number of rightmost dims of `v` that form one event.
    ///
    /// ```
    /// use pyro::distributions::Delta;
    /// assert_eq!(Delta::new(3.0).unwrap().event_dim(), 0);
    /// ```
    pub fn event_dim(&self) -> usize {
        self.event_shape.len()
    }

    /// The same distribution with `v` and `log_density` broadcast to `batch_shape`.
    ///
    /// ```
    /// use pyro::distributions::{Delta, Distribution, DynShape};
    /// let d = Delta::new(0.0).unwrap().expand::<DynShape>(&[3]).unwrap();
    /// assert_eq!(d.sample_global(&[]).unwrap().shape(), &[3]);
    /// ```
    pub fn expand<S2>(&self, batch_shape: &[usize]) -> DistResult<Delta<S2, D>> {
        let full = extended_shape(&[], batch_shape, &self.event_shape);
        Ok(Delta {
            v: self.v.broadcast_to(&full)?,
            log_density: self.log_density.broadcast_to(batch_shape)?,
            batch_shape: batch_shape.to_vec(),
            event_shape: self.event_shape.clone(),
            _s: PhantomData,
        })
    }
}

impl_distribution!(Delta[event_field, reparameterized] {
    /// Real values, one event being the rightmost `event_dim` dims (`RealVector` stands for
    /// any `event_dim > 0`).
    fn support(&self) -> Constraint {
        if self.event_shape.is_empty() {
            Constraint::Real
        } else {
            Constraint::RealVector
        }
    }
    fn rsample(&self, sample_shape: &[usize], _rng: &mut dyn RngCore) -> DistResult<DynTensor<D>> {
        let shape = extended_shape(sample_shape, &self.batch_shape, &self.event_shape);
        Ok(self.v.broadcast_to(&shape)?)
    }
    fn log_prob(&self, value: &DynTensor<D>) -> DistResult<DynTensor<D>> {
        validate_value("Delta", &Constraint::Real, value)?;
        if value.is_clone_of(&self.v) {
            // The value is `v` itself (a draw of this Delta): every event is on `v`, unless
            // it holds a NaN (which equals nothing, itself included).
            let nan = match self.v.numel() {
                1 => self.v.item()?.is_nan(),
                _ => self.v.to_vec().iter().any(|x| x.is_nan()),
            };
            if !nan {
                return Ok(self.log_density.clone());
            }
        }
        let full = crate::tensor::broadcast_shapes(value.shape(), self.v.shape())
            .filter(|s| s.len() >= self.event_shape.len())
            .ok_or_else(|| TensorError::Broadcast {
                op: "Delta::log_prob",
                lhs: value.shape().to_vec(),
                rhs: self.v.shape().to_vec(),
            })?;
        let x = value.to_vec();
        let v = self.v.to_vec();
        let xmap = broadcast_index(value.shape(), &full);
        let vmap = broadcast_index(self.v.shape(), &full);
        let ev: usize = full[full.len() - self.event_shape.len()..].iter().product();
        let out_shape = full[..full.len() - self.event_shape.len()].to_vec();
        let mask: Vec<f32> = xmap
            .chunks(ev.max(1))
            .zip(vmap.chunks(ev.max(1)))
            .map(|(xs, vs)| {
                let hit = xs.iter().zip(vs).all(|(&xi, &vi)| x[xi] == v[vi]);
                if hit {
                    0.0
                } else {
                    f32::NEG_INFINITY
                }
            })
            .collect();
        if ev == 0 || mask.iter().all(|&m| m == 0.0) {
            // Every event is on `v`: the log density itself (the same node, broadcast).
            return Ok(self.log_density.broadcast_to(&out_shape)?);
        }
        let mask = DynTensor::from_vec(mask, &out_shape)?;
        Ok(mask.add(&self.log_density)?)
    }
    fn mean(&self) -> DistResult<DynTensor<D>> {
        Ok(self.v.clone())
    }
    fn variance(&self) -> DistResult<DynTensor<D>> {
        Ok(DynTensor::zeros(self.v.shape()))
    }
});

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distributions::testing::*;
    use dfdx::prelude::Cpu;

    #[test]
    fn sample_is_v_with_sample_shape() {
        use rand::SeedableRng;
        let mut rng = rand::rngs::StdRng::seed_from_u64(0);
        let v = DynTensor::<Cpu>::from_vec(vec![1.0, -2.0], &[2]).unwrap();
        let d = Delta::from_dyn(v, DynTensor::scalar(0.0), 0).unwrap();
        let x = d.sample(&[3], &mut rng).unwrap();
        assert_eq!(x.shape(), &[3, 2]);
        assert_eq!(x.to_vec(), vec![1.0, -2.0, 1.0, -2.0, 1.0, -2.0]);
        let mean = d.mean().unwrap().to_vec();
        assert_eq!(mean, vec![1.0, -2.0]);
        assert_eq!(d.variance().unwrap().to_vec(), vec![0.0, 0.0]);
    }

    #[test]
    fn rsample_gradient_flows_to_v() {
        // d/dv Σ rsample = number of draws (64), checked by finite differences.
        check_rsample_grad(&[0.7], |p| {
            Delta::new(&p[0]).map(|d| Box::new(d) as BoxDist<Cpu>)
        });
        assert!(Delta::new(0.0).unwrap().has_rsample());
    }

    #[test]
    fn log_prob_of_its_own_draw_is_the_log_density_except_for_nan() {
        use crate::tensor::GradScope;
        let v = DynTensor::<Cpu>::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]).unwrap();
        let ld = DynTensor::<Cpu>::from_vec(vec![-1.0, 0.5], &[2]).unwrap();
        let scope = GradScope::<Cpu>::open();
        // `v` passed through an operation is one node; its draw is that node again.
        let d = Delta::from_dyn(v.mul_scalar(1.0), ld.mul_scalar(2.0), 1).unwrap();
        let x = d.sample_global(&[]).unwrap();
        let lp = d.log_prob(&d.rsample_global(&[]).unwrap()).unwrap();
        assert_eq!(lp.to_vec(), vec![-2.0, 1.0]);
        let g = scope.backward(&lp.sum()).unwrap();
        assert_eq!(g.get_or_zeros(&ld).to_vec(), vec![2.0, 2.0]);
        // A detached draw is another node with the same values: the general path agrees.
        assert_eq!(d.log_prob(&x).unwrap().to_vec(), vec![-2.0, 1.0]);
        // NaN equals nothing, itself included.
        crate::enable_validation(false);
        let n = DynTensor::<Cpu>::from_vec(vec![f32::NAN, 1.0], &[2]).unwrap();
        let d = Delta::from_dyn(n.mul_scalar(1.0), DynTensor::scalar(0.0), 0).unwrap();
        let lp = d
            .log_prob(&d.rsample_global(&[]).unwrap())
            .unwrap()
            .to_vec();
        crate::enable_validation(true);
        assert_eq!(lp, vec![f32::NEG_INFINITY, 0.0]);
    }

    #[test]
    fn log_prob_is_log_density_on_v_and_minus_infinity_elsewhere() {
        let v = DynTensor::<Cpu>::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]).unwrap();
        let ld = DynTensor::<Cpu>::from_vec(vec![-1.0, 0.5], &[2]).unwrap();
        let d = Delta::from_dyn(v, ld, 1).unwrap();
        assert_eq!(d.batch_shape(), &[2]);
        assert_eq!(d.event_shape(), &[2]);
        // Row 0 matches, row 1 differs in one coordinate.
        let x = DynTensor::<Cpu>::from_vec(vec![1.0, 2.0, 3.0, 4.5], &[2, 2]).unwrap();
        let lp = d.log_prob(&x).unwrap().to_vec();
        assert_eq!(lp, vec![-1.0, f32::NEG_INFINITY]);
        assert!(lp.iter().all(|l| !l.is_nan()));
        // Sample dims broadcast.
        let xs =
            DynTensor::<Cpu>::from_vec(vec![1.0, 2.0, 3.0, 4.0, 0.0, 0.0, 3.0, 4.0], &[2, 2, 2])
                .unwrap();
        let lp = d.log_prob(&xs).unwrap();
        assert_eq!(lp.shape(), &[2, 2]);
        assert_eq!(lp.to_vec(), vec![-1.0, 0.5, f32::NEG_INFINITY, 0.5]);
    }

    #[test]
    fn log_density_gradient_flows() {
        use crate::tensor::GradScope;
        let ld = DynTensor::<Cpu>::scalar(0.3);
        let scope = GradScope::<Cpu>::open();
        let d = Delta::with_log_density(2.0, &ld, 0).unwrap();
        let x = DynTensor::<Cpu>::from_vec(vec![2.0, 2.0, 2.0], &[3]).unwrap();
        let lp = d.log_prob(&x).unwrap().sum();
        assert!((lp.item().unwrap() - 0.9).abs() < 1e-6);
        let g = scope.backward(&lp).unwrap();
        assert_eq!(g.get_or_zeros(&ld).to_vec(), vec![3.0]);
    }

    #[test]
    fn validation_names_the_parameter() {
        crate::enable_validation(true);
        let e = Delta::with_log_density(0.0, 0.0, 1).unwrap_err();
        assert!(
            matches!(
                e,
                DistError::InvalidParameter {
                    param: "event_dim",
                    ..
                }
            ),
            "{e}"
        );
        let e = Delta::new(f32::NAN).unwrap_err();
        assert!(
            matches!(e, DistError::InvalidParameter { param: "v", .. }),
            "{e}"
        );
        let e = Delta::with_log_density(0.0, f32::INFINITY, 0).unwrap_err();
        assert!(matches!(
            e,
            DistError::InvalidParameter {
                param: "log_density",
                ..
            }
        ));
        let v = DynTensor::<Cpu>::zeros(&[3]);
        let ld = DynTensor::<Cpu>::zeros(&[2]);
        let e = Delta::from_dyn(v, ld, 0).unwrap_err();
        assert!(matches!(
            e,
            DistError::InvalidParameter {
                param: "log_density",
                ..
            }
        ));
        let d = Delta::new(0.0).unwrap();
        assert!(matches!(
            d.log_prob(&DynTensor::scalar(f32::NAN)),
            Err(DistError::OutOfSupport { .. })
        ));
    }

    #[test]
    fn expand_broadcasts_v_and_log_density() {
        let d = Delta::with_log_density(1.0, -2.0, 0).unwrap();
        let e = d.expand::<DynShape>(&[2, 3]).unwrap();
        assert_eq!(e.batch_shape(), &[2, 3]);
        let lp = e.log_prob(&DynTensor::ones(&[2, 3])).unwrap();
        assert_eq!(lp.to_vec(), vec![-2.0; 6]);
        assert_eq!(e.rsample_global(&[4]).unwrap().shape(), &[4, 2, 3]);
    }
}
