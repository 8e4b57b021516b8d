//! The multivariate normal distribution.

use std::marker::PhantomData;

use rand::RngCore;

use super::boilerplate::impl_distribution;
use super::param::{Dev2, JoinDev, Param, ParamMeta, ResolveDev, Shape1};
use super::vector_event::check_event;
use super::*;
use crate::linalg::{self, LinalgError};
use crate::tensor::numel;

const NAME: &str = "MultivariateNormal";

/// `MultivariateNormal(loc, scale_tril)`: the Gaussian with mean `loc` and covariance
/// `Σ = L Lᵀ`, `L = scale_tril` lower triangular with a positive diagonal.
///
/// The event shape is `[n]` (the last dim of `loc`); the batch shape broadcasts `loc`'s
/// leading dims with `scale_tril`'s (so one `scale_tril` can serve a batch of `loc`s). The
/// value shape type `S` is `loc`'s. Densities use triangular solves; everything is
/// differentiable in `loc` and `scale_tril` (or the covariance / precision it came from).
///
/// ```
/// use pyro::distributions::{Distribution, MultivariateNormal};
/// use pyro::tensor::DynTensor;
/// let loc = DynTensor::<dfdx::prelude::Cpu>::from_vec(vec![1.0, -1.0], &[2]).unwrap();
/// let cov = DynTensor::<dfdx::prelude::Cpu>::from_vec(vec![4.0, 2.0, 2.0, 5.0], &[2, 2]).unwrap();
/// let d = MultivariateNormal::from_covariance(&loc, cov).unwrap();
/// assert_eq!(d.event_shape(), &[2]);
/// assert_eq!(d.scale_tril().to_vec(), vec![2.0, 0.0, 1.0, 2.0]);
/// assert_eq!(d.variance().unwrap().to_vec(), vec![4.0, 5.0]);
/// let lp = d.log_prob(&loc).unwrap().item().unwrap();
/// let want = -(2.0 * std::f32::consts::PI).ln() - 0.5 * 16f32.ln(); // det Σ = 16
/// assert!((lp - want).abs() < 1e-6);
/// ```
#[derive(Debug, Clone)]
pub struct MultivariateNormal<S = (usize,), D: Backend = crate::tensor::DefaultDevice> {
    loc: DynTensor<D>,
    scale_tril: DynTensor<D>,
    batch_shape: Vec<usize>,
    event_shape: Vec<usize>,
    _s: PhantomData<fn() -> S>,
}

/// The bounds shared by the constructors: `loc` gives the shape type, both give the device.
macro_rules! mvn_ctor {
    ($(#[$m:meta])* $name:ident, $build:ident, $pname:ident) => {
        $(#[$m])*
        pub fn $name<L, R>(
            loc: L,
            $pname: R,
        ) -> DistResult<MultivariateNormal<Shape1<L>, Dev2<L, R>>>
        where
            L: ParamMeta + Param<Dev2<L, R>>,
            R: ParamMeta + Param<Dev2<L, R>>,
            L::Dev: JoinDev<R::Dev>,
            <L::Dev as JoinDev<R::Dev>>::Out: ResolveDev,
        {
            MultivariateNormal::$build(loc.into_dyn()?, $pname.into_dyn()?)
        }
    };
}

impl MultivariateNormal {
    mvn_ctor!(
        /// From a mean `loc: [..., n]` and a lower Cholesky factor `scale_tril: [..., n, n]` of
        /// the covariance. Errors (naming the parameter) when `scale_tril` is not lower
        /// triangular with a positive diagonal (with validation on) or the shapes disagree.
        ///
        /// ```
        /// use pyro::distributions::MultivariateNormal;
        /// use pyro::tensor::DynTensor;
        /// let loc = DynTensor::<dfdx::prelude::Cpu>::zeros(&[2]);
        /// let bad = DynTensor::<dfdx::prelude::Cpu>::from_vec(vec![1.0, 0.5, 0.0, 1.0], &[2, 2]).unwrap();
        /// assert!(MultivariateNormal::new(&loc, bad).is_err()); // not lower triangular
        /// ```
        new,
        build,
        scale_tril
    );
    mvn_ctor!(
        /// From a mean and a symmetric positive-definite covariance matrix `[..., n, n]`; the
        /// scale is its (differentiable) Cholesky factor. Errors naming `covariance_matrix`
        /// when it is not positive definite.
        ///
        /// ```
        /// use pyro::distributions::MultivariateNormal;
        /// use pyro::tensor::DynTensor;
        /// let loc = DynTensor::<dfdx::prelude::Cpu>::zeros(&[2]);
        /// let cov = DynTensor::<dfdx::prelude::Cpu>::from_vec(vec![1.0, 2.0, 2.0, 1.0], &[2, 2]).unwrap();
        /// assert!(MultivariateNormal::from_covariance(&loc, cov).is_err());
        /// ```
        from_covariance,
        build_covariance,
        covariance_matrix
    );
    mvn_ctor!(
        /// From a mean and a symmetric positive-definite precision (inverse covariance)
        /// matrix `[..., n, n]`. Errors naming `precision_matrix` when it is not positive
        /// definite.
        ///
        /// ```
        /// use pyro::distributions::{Distribution, MultivariateNormal};
        /// use pyro::tensor::DynTensor;
        /// let loc = DynTensor::<dfdx::prelude::Cpu>::zeros(&[2]);
        /// let prec = DynTensor::<dfdx::prelude::Cpu>::from_vec(vec![0.25, 0.0, 0.0, 4.0], &[2, 2]).unwrap();
        /// let d = MultivariateNormal::from_precision(&loc, prec).unwrap();
        /// let v = d.variance().unwrap().to_vec();
        /// assert!((v[0] - 4.0).abs() < 1e-5 && (v[1] - 0.25).abs() < 1e-6);
        /// ```
        from_precision,
        build_precision,
        precision_matrix
    );
}

impl<D: Backend> MultivariateNormal<DynShape, D> {
    /// Builds from run-time shaped `loc` and `scale_tril`.
    ///
    /// ```
    /// use pyro::distributions::{Distribution, MultivariateNormal};
    /// use pyro::tensor::DynTensor;
    /// let loc = DynTensor::<dfdx::prelude::Cpu>::zeros(&[4, 3]);
    /// let l = DynTensor::<dfdx::prelude::Cpu>::from_vec(vec![1.0, 0.0, 0.0, 0.5, 1.0, 0.0, 0.0, 0.0, 2.0], &[3, 3]).unwrap();
    /// let d = MultivariateNormal::from_dyn(loc, l).unwrap();
    /// assert_eq!(d.batch_shape(), &[4]);
    /// ```
    pub fn from_dyn(loc: DynTensor<D>, scale_tril: DynTensor<D>) -> DistResult<Self> {
        Self::build(loc, scale_tril)
    }
}

fn invalid(param: &'static str, reason: String) -> DistError {
    DistError::InvalidParameter {
        dist: NAME,
        param,
        reason,
    }
}

/// Maps a factorisation failure of a user-supplied matrix to an error naming it.
fn linalg_param(param: &'static str) -> impl Fn(LinalgError) -> DistError {
    move |e| match e {
        LinalgError::NotPositiveDefinite { index, .. } => invalid(
            param,
            format!("matrix {index} of the batch is not positive definite"),
        ),
        LinalgError::Shape { shape, .. } => {
            invalid(param, format!("shape {shape:?} is not [..., n, n]"))
        }
        other => invalid(param, other.to_string()),
    }
}

impl<S, D: Backend> MultivariateNormal<S, D> {
    fn build(loc: DynTensor<D>, scale_tril: DynTensor<D>) -> DistResult<Self> {
        validate_param(NAME, "loc", &loc, &Constraint::Real)?;
        let Some((&n, loc_batch)) = loc.shape().split_last() else {
            return Err(invalid(
                "loc",
                "must have at least one dim (the event dim), found a scalar".into(),
            ));
        };
        let ls = scale_tril.shape();
        if ls.len() < 2 || ls[ls.len() - 1] != n || ls[ls.len() - 2] != n {
            return Err(invalid(
                "scale_tril",
                format!(
                    "shape {ls:?} is not [..., {n}, {n}] (loc has shape {:?})",
                    loc.shape()
                ),
            ));
        }
        validate_param(NAME, "scale_tril", &scale_tril, &Constraint::LowerCholesky)?;
        let batch_shape = crate::tensor::broadcast_shapes(loc_batch, &ls[..ls.len() - 2])
            .ok_or_else(|| {
                invalid(
                    "scale_tril",
                    format!(
                        "batch dims of shape {ls:?} do not broadcast with loc {:?}",
                        loc.shape()
                    ),
                )
            })?;
        let loc = loc.broadcast_to(&extended_shape(&[], &batch_shape, &[n]))?;
        // Only the lower triangle defines the distribution (as in the triangular solves), so
        // no gradient reaches the entries above the diagonal from any method.
        let scale_tril = scale_tril.mul(&lower_mask(n)?)?;
        Ok(MultivariateNormal {
            loc,
            scale_tril,
            batch_shape,
            event_shape: vec![n],
            _s: PhantomData,
        })
    }

    fn build_covariance(loc: DynTensor<D>, cov: DynTensor<D>) -> DistResult<Self> {
        validate_param(
            NAME,
            "covariance_matrix",
            &cov,
            &Constraint::PositiveDefinite,
        )?;
        let l = linalg::cholesky(&cov).map_err(linalg_param("covariance_matrix"))?;
        Self::build(loc, l)
    }

    fn build_precision(loc: DynTensor<D>, prec: DynTensor<D>) -> DistResult<Self> {
        validate_param(
            NAME,
            "precision_matrix",
            &prec,
            &Constraint::PositiveDefinite,
        )?;
        // Σ = P⁻¹ = (Lₚ⁻¹)ᵀ Lₚ⁻¹, then its Cholesky factor; all differentiable.
        let lp = linalg::cholesky(&prec).map_err(linalg_param("precision_matrix"))?;
        let n = *prec.shape().last().expect("cholesky checked the shape");
        let lp_inv = linalg::solve_triangular_lower(&lp, &identity(n)?)
            .map_err(linalg_param("precision_matrix"))?;
        let cov = linalg::matmul(&linalg::transpose(&lp_inv)?, &lp_inv)?;
        let l = linalg::cholesky(&cov).map_err(linalg_param("precision_matrix"))?;
        Self::build(loc, l)
    }

    /// The mean, broadcast to `batch_shape + [n]`.
    pub fn loc(&self) -> &DynTensor<D> {
        &self.loc
    }

    /// The lower Cholesky factor of the covariance, `[..., n, n]` as given (its batch dims
    /// broadcast against `batch_shape`).
    pub fn scale_tril(&self) -> &DynTensor<D> {
        &self.scale_tril
    }

    /// The event size `n`.
    pub fn dim(&self) -> usize {
        self.event_shape[0]
    }

    /// The covariance matrix `L Lᵀ`, shape `batch_shape + [n, n]`.
    ///
    /// ```
    /// use pyro::distributions::MultivariateNormal;
    /// use pyro::tensor::DynTensor;
    /// let loc = DynTensor::<dfdx::prelude::Cpu>::zeros(&[2]);
    /// let l = DynTensor::<dfdx::prelude::Cpu>::from_vec(vec![2.0, 0.0, 1.0, 2.0], &[2, 2]).unwrap();
    /// let d = MultivariateNormal::new(&loc, l).unwrap();
    /// assert_eq!(d.covariance_matrix().unwrap().to_vec(), vec![4.0, 2.0, 2.0, 5.0]);
    /// ```
    pub fn covariance_matrix(&self) -> DistResult<DynTensor<D>> {
        let l = &self.scale_tril;
        let c = linalg::matmul(l, &linalg::transpose(l)?)?;
        let n = self.dim();
        Ok(c.broadcast_to(&extended_shape(&[], &self.batch_shape, &[n, n]))?)
    }

    /// The precision matrix `Σ⁻¹ = L⁻ᵀ L⁻¹`, shape `batch_shape + [n, n]`.
    ///
    /// ```
    /// use pyro::distributions::MultivariateNormal;
    /// use pyro::tensor::DynTensor;
    /// let loc = DynTensor::<dfdx::prelude::Cpu>::zeros(&[2]);
    /// let l = DynTensor::<dfdx::prelude::Cpu>::from_vec(vec![2.0, 0.0, 0.0, 0.5], &[2, 2]).unwrap();
    /// let d = MultivariateNormal::new(&loc, l).unwrap();
    /// assert_eq!(d.precision_matrix().unwrap().to_vec(), vec![0.25, 0.0, 0.0, 4.0]);
    /// ```
    pub fn precision_matrix(&self) -> DistResult<DynTensor<D>> {
        let n = self.dim();
        let li = linalg::solve_triangular_lower(&self.scale_tril, &identity(n)?)?;
        let p = linalg::matmul(&linalg::transpose(&li)?, &li)?;
        Ok(p.broadcast_to(&extended_shape(&[], &self.batch_shape, &[n, n]))?)
    }

    /// `sum(log diag L)` = half the log-determinant of the covariance, shape `[...]` of
    /// `scale_tril`'s batch dims.
    pub(crate) fn half_log_det(&self) -> DistResult<DynTensor<D>> {
        Ok(linalg::diagonal(&self.scale_tril)?.ln().sum_rightmost(1)?)
    }

    /// The same distribution with parameters broadcast to `batch_shape`.
    pub fn expand<S2>(&self, batch_shape: &[usize]) -> DistResult<MultivariateNormal<S2, D>> {
        let n = self.dim();
        Ok(MultivariateNormal {
            loc: self
                .loc
                .broadcast_to(&extended_shape(&[], batch_shape, &[n]))?,
            scale_tril: self.scale_tril.clone(),
            batch_shape: batch_shape.to_vec(),
            event_shape: self.event_shape.clone(),
            _s: PhantomData,
        })
    }
}

/// The `n x n` constant with ones on and below the diagonal.
fn lower_mask<D: Backend>(n: usize) -> DistResult<DynTensor<D>> {
    let mut e = vec![0.0f32; n * n];
    for i in 0..n {
        for j in 0..=i {
            e[i * n + j] = 1.0;
        }
    }
    Ok(DynTensor::from_vec(e, &[n, n])?.with_constant(true))
}

/// The `n x n` identity.
pub(crate) fn identity<D: Backend>(n: usize) -> DistResult<DynTensor<D>> {
    let mut e = vec![0.0f32; n * n];
    for i in 0..n {
        e[i * n + i] = 1.0;
    }
    Ok(DynTensor::from_vec(e, &[n, n])?)
}

impl_distribution!(MultivariateNormal[event_field, reparameterized] {
    fn support(&self) -> Constraint {
        Constraint::RealVector
    }
    fn rsample(&self, sample_shape: &[usize], rng: &mut dyn RngCore) -> DistResult<DynTensor<D>> {
        let shape = extended_shape(sample_shape, &self.batch_shape, &self.event_shape);
        let n = self.dim();
        let single = shape.len() == 1 && self.scale_tril.shape() == [n, n];
        if single {
            let eps = std_normal_vec(n, rng);
            if let Some(x) = super::fused_mvn::mvn_draw(eps.clone(), &self.loc, &self.scale_tril) {
                return Ok(x);
            }
            let eps = DynTensor::from_vec(eps, &shape)?;
            return Ok(linalg::matvec(&self.scale_tril, &eps)?.add(&self.loc)?);
        }
        let eps = DynTensor::from_vec(std_normal_vec(numel(&shape), rng), &shape)?;
        Ok(linalg::matvec(&self.scale_tril, &eps)?.add(&self.loc)?)
    }
    fn rsample_with_log_prob(
        &self,
        sample_shape: &[usize],
        rng: &mut dyn RngCore,
    ) -> DistResult<(DynTensor<D>, Option<DynTensor<D>>)> {
        if sample_shape.is_empty() && self.batch_shape.is_empty() {
            let fused = super::fused_mvn::mvn_draw_with_log_prob(&self.loc, &self.scale_tril, |n| {
                std_normal_vec(n, rng)
            });
            if let Some(r) = fused {
                let (x, lp) = r?;
                return Ok((x, Some(lp)));
            }
        }
        Ok((self.rsample(sample_shape, rng)?, None))
    }
    fn log_prob(&self, value: &DynTensor<D>) -> DistResult<DynTensor<D>> {
        let n = self.dim();
        check_event(NAME, value, n)?;
        validate_value(NAME, &Constraint::RealVector, value)?;
        if let Some(lp) = super::fused_mvn::mvn_log_prob(value, &self.loc, &self.scale_tril) {
            return Ok(lp?);
        }
        let diff = value.sub(&self.loc)?;
        let z = linalg::solve_triangular_lower_vec(&self.scale_tril, &diff)?;
        let maha = z.square().sum_rightmost(1)?;
        let lp = maha.mul_scalar(-0.5).sub(&self.half_log_det()?)?;
        Ok(lp.add_scalar(-(n as f32) * HALF_LN_2PI))
    }
    fn mean(&self) -> DistResult<DynTensor<D>> {
        Ok(self.loc.clone())
    }
    fn variance(&self) -> DistResult<DynTensor<D>> {
        let v = self.scale_tril.square().sum_rightmost(1)?;
        Ok(v.broadcast_to(self.loc.shape())?)
    }
});

#[cfg(test)]
#[allow(clippy::needless_range_loop)] // index-heavy numeric checks
mod tests {
    use super::*;
    use crate::distributions::testing_mv::*;
    use crate::linalg::test_util::*;
    use crate::linalg::{cholesky_host, matmul_host, solve_lower_host, transpose_host};
    use crate::tensor::special::scalar::ndtr;
    use dfdx::prelude::Cpu;
    use rand::SeedableRng;

    /// `n` from a row holding `n + n*n` parameters.
    fn dim_of(len: usize) -> usize {
        let n = ((1.0 + 4.0 * len as f64).sqrt() - 1.0) / 2.0;
        n.round() as usize
    }

    fn split(p: &[f32]) -> (DynTensor<Cpu>, DynTensor<Cpu>) {
        let n = dim_of(p.len());
        (
            DynTensor::from_vec(p[..n].to_vec(), &[n]).unwrap(),
            DynTensor::from_vec(p[n..].to_vec(), &[n, n]).unwrap(),
        )
    }

    /// Host reference: log N(x; loc, L Lᵀ) in f64.
    fn host_log_prob(x: &[f64], loc: &[f64], l: &[f64]) -> f64 {
        let n = x.len();
        let d: Vec<f64> = x.iter().zip(loc).map(|(a, b)| a - b).collect();
        let z = solve_lower_host(l, &d, n, 1);
        let hld: f64 = (0..n).map(|i| l[i * n + i].ln()).sum();
        -0.5 * z.iter().map(|v| v * v).sum::<f64>()
            - hld
            - 0.5 * n as f64 * (2.0 * std::f64::consts::PI).ln()
    }

    #[test]
    fn log_prob_matches_scipy() {
        check_fixture_rows(
            "multivariate_normal",
            |r| {
                let (loc, l) = split(&r.params);
                MultivariateNormal::new(loc, l).map(|d| Box::new(d) as BoxDist<Cpu>)
            },
            |r| vec![r.value.len()],
        );
    }

    #[test]
    fn from_covariance_matches_scipy() {
        check_fixture_rows(
            "multivariate_normal_cov",
            |r| {
                let (loc, c) = split(&r.params);
                MultivariateNormal::from_covariance(loc, c).map(|d| Box::new(d) as BoxDist<Cpu>)
            },
            |r| vec![r.value.len()],
        );
    }

    #[test]
    fn from_precision_matches_scipy() {
        check_fixture_rows(
            "multivariate_normal_prec",
            |r| {
                let (loc, p) = split(&r.params);
                MultivariateNormal::from_precision(loc, p).map(|d| Box::new(d) as BoxDist<Cpu>)
            },
            |r| vec![r.value.len()],
        );
    }

    fn example() -> (Vec<f32>, Vec<f32>) {
        let loc = vec![1.0, -2.0, 0.5];
        let l = vec![1.5, 0.0, 0.0, -0.8, 0.6, 0.0, 0.3, 1.1, 0.4];
        (loc, l)
    }

    #[test]
    fn sampler_mean_covariance_and_ks() {
        let (loc, l) = example();
        let d = MultivariateNormal::new(
            DynTensor::<Cpu>::from_vec(loc.clone(), &[3]).unwrap(),
            DynTensor::<Cpu>::from_vec(l.clone(), &[3, 3]).unwrap(),
        )
        .unwrap();
        let xs = draw_rows(&d, 100_000);
        let l64 = f64s(&l);
        let cov = matmul_host(&l64, &transpose_host(&l64, 3, 3), 3, 3, 3);
        let mean = f64s(&loc);
        check_mean_cov(&xs, &mean, &cov);
        for a in [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [1.0, -2.0, 0.5]] {
            let m: f64 = a.iter().zip(&mean).map(|(u, v)| u * v).sum();
            let ca = matmul_host(&cov, &a, 3, 3, 1);
            let v: f64 = a.iter().zip(&ca).map(|(u, v)| u * v).sum();
            check_projection_ks(&xs, &a, |t| ndtr((t - m) / v.sqrt()));
        }
        // The moments the distribution reports.
        assert_close(&d.mean().unwrap().to_vec(), &mean, 1e-7);
        let diag: Vec<f64> = (0..3).map(|i| cov[i * 4]).collect();
        assert_close(&d.variance().unwrap().to_vec(), &diag, 1e-6);
        assert_close(&d.covariance_matrix().unwrap().to_vec(), &cov, 1e-6);
        let prec = d.precision_matrix().unwrap().to_vec();
        let eye = matmul_host(&f64s(&prec), &cov, 3, 3, 3);
        for i in 0..3 {
            for j in 0..3 {
                let want = if i == j { 1.0 } else { 0.0 };
                assert!((eye[i * 3 + j] - want).abs() < 1e-5, "{eye:?}");
            }
        }
    }

    #[test]
    fn batched_loc_and_batched_scale_tril() {
        let mut rng = seeded(30);
        let n = 3;
        // Batched loc [4, n] with one scale_tril.
        let loc = random_host(&mut rng, 4 * n);
        let l = random_tril(&mut rng, n);
        let d = MultivariateNormal::from_dyn(
            DynTensor::<Cpu>::from_vec(loc.clone(), &[4, n]).unwrap(),
            DynTensor::from_vec(l.clone(), &[n, n]).unwrap(),
        )
        .unwrap();
        assert_eq!(d.batch_shape(), &[4]);
        let x = random_host(&mut rng, 2 * 4 * n);
        let lp = d
            .log_prob(&DynTensor::from_vec(x.clone(), &[2, 4, n]).unwrap())
            .unwrap();
        assert_eq!(lp.shape(), &[2, 4]);
        let lpv = lp.to_vec();
        for s in 0..2 {
            for b in 0..4 {
                let want = host_log_prob(
                    &f64s(&x[(s * 4 + b) * n..(s * 4 + b + 1) * n]),
                    &f64s(&loc[b * n..(b + 1) * n]),
                    &f64s(&l),
                );
                assert!((lpv[s * 4 + b] as f64 - want).abs() < 1e-5 * want.abs().max(1.0));
            }
        }
        let mut r = rand::rngs::StdRng::seed_from_u64(0);
        assert_eq!(d.sample(&[5], &mut r).unwrap().shape(), &[5, 4, n]);
        // Batched scale_tril [2, n, n] with one loc.
        let ls: Vec<f32> = (0..2).flat_map(|_| random_tril(&mut rng, n)).collect();
        let loc1 = random_host(&mut rng, n);
        let d2 = MultivariateNormal::from_dyn(
            DynTensor::<Cpu>::from_vec(loc1.clone(), &[n]).unwrap(),
            DynTensor::from_vec(ls.clone(), &[2, n, n]).unwrap(),
        )
        .unwrap();
        assert_eq!(d2.batch_shape(), &[2]);
        let x1 = random_host(&mut rng, n);
        let lp2 = d2
            .log_prob(&DynTensor::from_vec(x1.clone(), &[n]).unwrap())
            .unwrap();
        assert_eq!(lp2.shape(), &[2]);
        for b in 0..2 {
            let want = host_log_prob(&f64s(&x1), &f64s(&loc1), &f64s(&ls[b * 9..b * 9 + 9]));
            assert!((lp2.to_vec()[b] as f64 - want).abs() < 1e-5 * want.abs().max(1.0));
        }
        assert_eq!(d2.sample(&[7], &mut r).unwrap().shape(), &[7, 2, n]);
        assert_eq!(d2.variance().unwrap().shape(), &[2, n]);
        assert_eq!(d2.covariance_matrix().unwrap().shape(), &[2, n, n]);
        // expand keeps the values.
        let e = d2.expand::<DynShape>(&[5, 2]).unwrap();
        let lp3 = e
            .log_prob(&DynTensor::from_vec(x1.clone(), &[n]).unwrap())
            .unwrap();
        assert_eq!(lp3.shape(), &[5, 2]);
        assert_eq!(&lp3.to_vec()[8..10], &lp2.to_vec()[..]);
    }

    /// A single MVN gives its draw's density with the draw: equal to `log_prob` of the draw,
    /// with the finite-difference gradient in a scale of `loc` and one of `scale_tril`.
    #[test]
    fn fused_draw_density_matches_log_prob_and_finite_differences() {
        let (loc, l) = example();
        crate::distributions::testing::check_fused_draw_log_prob(&[0.7, 1.3], |p| {
            let loc = DynTensor::from_vec(loc.clone(), &[3])?.mul(&p[0])?;
            let l = DynTensor::from_vec(l.clone(), &[3, 3])?.mul(&p[1])?;
            Ok(Box::new(MultivariateNormal::new(&loc, &l)?) as BoxDist<Cpu>)
        });
    }

    /// d sum(w ⊙ rsample) / d(loc, scale_tril) against central differences with the same noise.
    #[test]
    fn rsample_gradients_match_finite_differences() {
        let (loc, l) = example();
        let w = random_host(&mut seeded(31), 16 * 3);
        let f = |p: &[DynTensor<Cpu>]| {
            let d = MultivariateNormal::new(&p[0], &p[1]).unwrap();
            let mut rng = rand::rngs::StdRng::seed_from_u64(5);
            weighted_sum(&d.rsample(&[16], &mut rng).unwrap(), &w)
        };
        let leaves = [
            DynTensor::<Cpu>::from_vec(loc.clone(), &[3]).unwrap(),
            DynTensor::from_vec(l.clone(), &[3, 3]).unwrap(),
        ];
        let g = analytic_grads(&leaves, f);
        for (arg, base) in [(0, &loc), (1, &l)] {
            for i in 0..base.len() {
                if arg == 1 && i % 3 > i / 3 {
                    assert_eq!(g[1][i], 0.0, "no gradient above the diagonal");
                    continue; // stays lower triangular
                }
                let eval = |h: f32| {
                    let mut ls = leaves.to_vec();
                    let mut v = base.clone();
                    v[i] += h;
                    ls[arg] = DynTensor::from_vec(v, leaves[arg].shape()).unwrap();
                    f(&ls).item().unwrap() as f64
                };
                let fd = (eval(1e-2) - eval(-1e-2)) / 2e-2;
                assert!(
                    (g[arg][i] - fd).abs() <= 1e-3 * fd.abs().max(1.0),
                    "arg {arg}[{i}]: analytic {}, fd {fd}",
                    g[arg][i]
                );
            }
        }
    }

    /// Gradients of log_prob in x, loc, scale_tril (and in the covariance, through the
    /// Cholesky factor) against central differences of the f64 host density.
    #[test]
    fn log_prob_gradients_match_finite_differences() {
        let (loc, l) = example();
        let x = vec![0.3f32, -1.0, 2.0];
        let leaves = [
            DynTensor::<Cpu>::from_vec(x.clone(), &[3]).unwrap(),
            DynTensor::from_vec(loc.clone(), &[3]).unwrap(),
            DynTensor::from_vec(l.clone(), &[3, 3]).unwrap(),
        ];
        let g = analytic_grads(&leaves, |p| {
            let d = MultivariateNormal::new(&p[1], &p[2]).unwrap();
            d.log_prob(&p[0]).unwrap()
        });
        let host = |p: &[Vec<f64>]| host_log_prob(&p[0], &p[1], &p[2]);
        let point = vec![f64s(&x), f64s(&loc), f64s(&l)];
        check_host_grads(&g, &host, &point, |arg, i| arg == 2 && i % 3 > i / 3);
        // Through from_covariance, along symmetric directions.
        let l64 = f64s(&l);
        let cov = matmul_host(&l64, &transpose_host(&l64, 3, 3), 3, 3, 3);
        let cov32: Vec<f32> = cov.iter().map(|&v| v as f32).collect();
        let leaf = [DynTensor::<Cpu>::from_vec(cov32.clone(), &[3, 3]).unwrap()];
        let xl = DynTensor::<Cpu>::from_vec(x.clone(), &[3]).unwrap();
        let locl = DynTensor::<Cpu>::from_vec(loc.clone(), &[3]).unwrap();
        let gc = analytic_grads(&leaf, |p| {
            MultivariateNormal::from_covariance(&locl, &p[0])
                .unwrap()
                .log_prob(&xl)
                .unwrap()
        });
        let host_c = |p: &[Vec<f64>]| {
            let lc = cholesky_host(&p[0], 3).unwrap();
            host_log_prob(&f64s(&x), &f64s(&loc), &lc)
        };
        let pc = vec![f64s(&cov32)];
        for i in 0..3 {
            for j in 0..=i {
                let mut dir = vec![0.0; 9];
                dir[i * 3 + j] = 1.0;
                dir[j * 3 + i] = 1.0;
                let fd = fd_host(&host_c, &pc, 0, &dir, 1e-6);
                let an: f64 = gc[0].iter().zip(&dir).map(|(a, b)| a * b).sum();
                assert!(
                    (an - fd).abs() <= 1e-4 * fd.abs().max(1.0),
                    "cov ({i},{j}): analytic {an}, fd {fd}"
                );
            }
        }
    }

    /// Through from_precision (Cholesky, triangular inverse, product, Cholesky), along
    /// symmetric directions of the precision matrix.
    #[test]
    fn from_precision_gradients_match_finite_differences() {
        let (loc, l) = example();
        let x = vec![0.3f32, -1.0, 2.0];
        let l64 = f64s(&l);
        let prec = matmul_host(&l64, &transpose_host(&l64, 3, 3), 3, 3, 3);
        let prec32: Vec<f32> = prec.iter().map(|&v| v as f32).collect();
        let leaf = [DynTensor::<Cpu>::from_vec(prec32.clone(), &[3, 3]).unwrap()];
        let xl = DynTensor::<Cpu>::from_vec(x.clone(), &[3]).unwrap();
        let locl = DynTensor::<Cpu>::from_vec(loc.clone(), &[3]).unwrap();
        let g = analytic_grads(&leaf, |p| {
            MultivariateNormal::from_precision(&locl, &p[0])
                .unwrap()
                .log_prob(&xl)
                .unwrap()
        });
        let host = |p: &[Vec<f64>]| {
            // Σ = P⁻¹ = Lₚ⁻ᵀ Lₚ⁻¹
            let li = crate::linalg::inverse_lower_host(&cholesky_host(&p[0], 3).unwrap(), 3);
            let cov = matmul_host(&transpose_host(&li, 3, 3), &li, 3, 3, 3);
            host_log_prob(&f64s(&x), &f64s(&loc), &cholesky_host(&cov, 3).unwrap())
        };
        let point = vec![f64s(&prec32)];
        for i in 0..3 {
            for j in 0..=i {
                let mut dir = vec![0.0; 9];
                dir[i * 3 + j] = 1.0;
                dir[j * 3 + i] = 1.0;
                let fd = fd_host(&host, &point, 0, &dir, 1e-6);
                let an: f64 = g[0].iter().zip(&dir).map(|(a, b)| a * b).sum();
                assert!(
                    (an - fd).abs() <= 1e-3 * fd.abs().max(1.0),
                    "precision ({i},{j}): analytic {an}, fd {fd}"
                );
            }
        }
    }

    #[test]
    fn invalid_parameters_are_named() {
        crate::enable_validation(true);
        let loc = DynTensor::<Cpu>::zeros(&[2]);
        let m = |v: Vec<f32>| DynTensor::<Cpu>::from_vec(v, &[2, 2]).unwrap();
        let param = |e: DistError| match e {
            DistError::InvalidParameter { param, .. } => param,
            other => panic!("unexpected {other}"),
        };
        let upper = m(vec![1.0, 0.5, 0.0, 1.0]);
        assert_eq!(
            param(MultivariateNormal::new(&loc, upper).unwrap_err()),
            "scale_tril"
        );
        let neg = m(vec![-1.0, 0.0, 0.0, 1.0]);
        assert_eq!(
            param(MultivariateNormal::new(&loc, neg).unwrap_err()),
            "scale_tril"
        );
        let wrong = DynTensor::<Cpu>::from_vec(vec![1.0; 9], &[3, 3]).unwrap();
        assert_eq!(
            param(MultivariateNormal::new(&loc, wrong).unwrap_err()),
            "scale_tril"
        );
        let indefinite = m(vec![1.0, 2.0, 2.0, 1.0]);
        assert_eq!(
            param(MultivariateNormal::from_covariance(&loc, &indefinite).unwrap_err()),
            "covariance_matrix"
        );
        let asym = m(vec![2.0, 0.5, 0.0, 2.0]);
        assert_eq!(
            param(MultivariateNormal::from_covariance(&loc, asym).unwrap_err()),
            "covariance_matrix"
        );
        assert_eq!(
            param(MultivariateNormal::from_precision(&loc, indefinite).unwrap_err()),
            "precision_matrix"
        );
        let scalar = DynTensor::<Cpu>::scalar(0.0);
        assert_eq!(
            param(MultivariateNormal::new(scalar, m(vec![1.0, 0.0, 0.0, 1.0])).unwrap_err()),
            "loc"
        );
        let nan_loc = DynTensor::<Cpu>::from_vec(vec![f32::NAN, 0.0], &[2]).unwrap();
        assert_eq!(
            param(MultivariateNormal::new(nan_loc, m(vec![1.0, 0.0, 0.0, 1.0])).unwrap_err()),
            "loc"
        );
        // A factorisation failure (reached with validation off) also names the parameter.
        let e = linalg_param("covariance_matrix")(LinalgError::NotPositiveDefinite {
            op: "cholesky",
            index: 3,
        });
        assert_eq!(param(e), "covariance_matrix");
        // A value of the wrong event size is a typed shape error.
        let d = MultivariateNormal::new(&loc, m(vec![1.0, 0.0, 0.0, 1.0])).unwrap();
        assert!(matches!(
            d.log_prob(&DynTensor::zeros(&[3])),
            Err(DistError::Tensor(_))
        ));
    }

    #[test]
    fn typed_shapes_follow_loc() {
        use dfdx::prelude::*;
        let loc: crate::tensor::Tensor<Rank1<2>> = [0.0, 1.0].into();
        let l: crate::tensor::Tensor<Rank2<2, 2>> = [[1.0, 0.0], [0.5, 1.0]].into();
        let d = MultivariateNormal::new(loc, l).unwrap();
        let x: crate::tensor::Tensor<Rank1<2>> = d.draw().unwrap();
        assert!(x.to_vec().unwrap().iter().all(|v| v.is_finite()));
        let lp = d.log_prob_sum(&x).unwrap();
        assert!(lp.item().unwrap().is_finite());
    }
}
