//! Autoguides over one packed vector of all latent sites in unconstrained space (Pyro's
//! `AutoContinuous` family): diagonal normal, full-rank and low-rank multivariate normal,
//! and the Laplace approximation.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use super::init::InitLoc;
use super::prototype::{Batches, Prototype};
use super::{normal_quantiles, not_set_up, AutoGuide};
use crate::constraints::Constraint;
use crate::distributions::{
    Delta, DistributionExt, LowRankMultivariateNormal, MultivariateNormal, Normal,
};
use crate::error::{PyroError, PyroResult};
use crate::params::ParamInit;
use crate::poutine::{InferConfig, Name, Program, SharedDist};
use crate::primitives::{param_on, sample_with, SampleOptions};
use crate::tensor::{Backend, DefaultDevice, DynTensor};

/// The posterior family over the packed latent vector.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Family {
    Diagonal,
    FullRank,
    LowRank(usize),
    Map,
}

/// The names a continuous guide with a given prefix uses (made once, shared by every call).
#[derive(Debug, Clone)]
struct ContinuousNames {
    latent: Name,
    loc: Name,
    scale: Name,
    scale_tril: Name,
    cov_factor: Name,
}

impl ContinuousNames {
    fn new(prefix: &str) -> Self {
        let part = |p: &str| Name::from(format!("{prefix}.{p}"));
        ContinuousNames {
            latent: format!("_{prefix}_latent").into(),
            loc: part("loc"),
            scale: part("scale"),
            scale_tril: part("scale_tril"),
            cov_factor: part("cov_factor"),
        }
    }
}

/// Shared machinery of the `AutoContinuous` guides.
struct Continuous<M, D: Backend> {
    model: M,
    who: &'static str,
    prefix: String,
    /// The site and parameter names, derived from `prefix`.
    names: ContinuousNames,
    family: Family,
    init_loc: InitLoc<D>,
    init_scale: f32,
    proto: RefCell<Option<Rc<Prototype<D>>>>,
}

fn param_err(name: &str, e: crate::params::ParamStoreError) -> PyroError {
    PyroError::ParamStoreAt {
        site: name.into(),
        source: Box::new(e),
    }
}

impl<M: Clone, D: Backend> Clone for Continuous<M, D> {
    fn clone(&self) -> Self {
        Continuous {
            model: self.model.clone(),
            who: self.who,
            prefix: self.prefix.clone(),
            names: self.names.clone(),
            family: self.family,
            init_loc: self.init_loc.clone(),
            init_scale: self.init_scale,
            proto: RefCell::new(self.proto.borrow().clone()),
        }
    }
}

impl<M, D: Backend> Continuous<M, D> {
    fn new(model: M, who: &'static str, family: Family) -> Self {
        Continuous {
            model,
            who,
            prefix: who.to_string(),
            names: ContinuousNames::new(who),
            family,
            init_loc: InitLoc::Median { num_samples: 15 },
            init_scale: 0.1,
            proto: RefCell::new(None),
        }
    }

    fn name(&self, part: &str) -> String {
        format!("{}.{part}", self.prefix)
    }

    fn setup<A>(&self, args: A) -> PyroResult<Rc<Prototype<D>>>
    where
        M: Program<A>,
    {
        if let Some(p) = self.proto.borrow().as_ref() {
            return Ok(p.clone());
        }
        super::check_init_scale(self.who, self.init_scale)?;
        let p = Prototype::from_model(&self.model, args, self.who)?;
        if p.latent_dim == 0 {
            return Err(PyroError::Config {
                algorithm: self.who,
                reason: "the model has no latent sites".into(),
            });
        }
        let p = Rc::new(p);
        *self.proto.borrow_mut() = Some(p.clone());
        Ok(p)
    }

    fn rank(&self, latent_dim: usize) -> usize {
        match self.family {
            Family::LowRank(0) => ((latent_dim as f64).sqrt().round() as usize).max(1),
            Family::LowRank(r) => r,
            _ => 0,
        }
    }

    /// The initial value of parameter `name` of shape `shape`, built only when the store
    /// lacks it; a stored value of another shape (from another model) is an error.
    fn init_if_missing(
        &self,
        name: &Name,
        shape: &[usize],
        constraint: &Constraint,
        build: impl FnOnce() -> PyroResult<DynTensor<D>>,
    ) -> PyroResult<Option<ParamInit<'static, D>>> {
        Ok(if super::stored_as::<D>(name, shape, constraint)? {
            None
        } else {
            Some(ParamInit::Value(build()?))
        })
    }

    /// The softplus-positive `scale` vector of `n` values, created at `init` on first use.
    fn scale(&self, n: usize, init: f32) -> PyroResult<DynTensor<D>> {
        let name = &self.names.scale;
        let init = self.init_if_missing(name, &[n], &Constraint::SoftplusPositive, || {
            Ok(DynTensor::full(&[n], init))
        })?;
        param_on::<D>(name.clone(), init, Constraint::SoftplusPositive, Some(1))
    }

    /// The posterior over the packed latent vector, creating its parameters on first use.
    fn posterior(&self, proto: &Prototype<D>) -> PyroResult<SharedDist<D>> {
        let n = proto.latent_dim;
        let names = &self.names;
        let init = self.init_if_missing(&names.loc, &[n], &Constraint::Real, || {
            let values = proto
                .sites
                .iter()
                .map(|s| self.init_loc.init(s))
                .collect::<PyroResult<Vec<_>>>()?;
            proto.pack_constrained(&values)
        })?;
        let loc = param_on::<D>(names.loc.clone(), init, Constraint::Real, Some(1))?;
        let who = self.who;
        let dist_err = move |e| PyroError::at_site(who, e);
        Ok(match self.family {
            Family::Diagonal => {
                let scale = self.scale(n, self.init_scale)?;
                Rc::new(
                    Normal::from_dyn(loc, scale)
                        .and_then(|d| d.to_event(1))
                        .map_err(dist_err)?,
                )
            }
            Family::FullRank => {
                // Pyro 1.9: a softplus-positive `scale` (init_scale) and a unit lower
                // Cholesky `scale_tril` (the identity), with the posterior's factor
                // `scale[:, None] * scale_tril`.
                let scale = self.scale(n, self.init_scale)?;
                let init = self.init_if_missing(
                    &names.scale_tril,
                    &[n, n],
                    &Constraint::UnitLowerCholesky,
                    || {
                        let mut eye = vec![0.0; n * n];
                        for i in 0..n {
                            eye[i * n + i] = 1.0;
                        }
                        Ok(DynTensor::from_vec(eye, &[n, n])?)
                    },
                )?;
                let unit = param_on::<D>(
                    names.scale_tril.clone(),
                    init,
                    Constraint::UnitLowerCholesky,
                    Some(2),
                )?;
                let tril = unit.mul_rows(&scale)?;
                Rc::new(MultivariateNormal::from_dyn(loc, tril).map_err(dist_err)?)
            }
            Family::LowRank(_) => {
                let r = self.rank(n);
                let init =
                    self.init_if_missing(&names.cov_factor, &[n, r], &Constraint::Real, || {
                        let sd = 1.0 / (r as f32).sqrt();
                        let v: Vec<f32> = crate::rng::with_rng(|rng| {
                            use rand_distr::Distribution as _;
                            (0..n * r)
                                .map(|_| {
                                    let z: f32 = rand_distr::StandardNormal.sample(rng);
                                    sd * z
                                })
                                .collect::<Vec<f32>>()
                        });
                        Ok(DynTensor::from_vec(v, &[n, r])?)
                    })?;
                let factor = param_on::<D>(names.cov_factor.clone(), init, Constraint::Real, None)?;
                let scale = self.scale(n, 0.5f32.sqrt() * self.init_scale)?;
                let cov_factor = factor.mul_rows(&scale)?;
                let cov_diag = scale.square();
                Rc::new(
                    LowRankMultivariateNormal::from_dyn(loc, cov_factor, cov_diag)
                        .map_err(dist_err)?,
                )
            }
            Family::Map => {
                Rc::new(Delta::from_dyn(loc, DynTensor::scalar(0.0), 1).map_err(dist_err)?)
            }
        })
    }

    /// Samples the packed latent and every latent site of the model, handing each site's
    /// name and value to `keep`.
    fn sample_latents<A>(
        &self,
        args: A,
        mut keep: impl FnMut(&Name, DynTensor<D>),
    ) -> PyroResult<()>
    where
        M: Program<A>,
    {
        let proto = self.setup(args)?;
        let posterior = self.posterior(&proto)?;
        let latent = sample_with(
            self.names.latent.clone(),
            posterior,
            SampleOptions {
                infer: InferConfig {
                    is_auxiliary: true,
                    ..Default::default()
                },
                ..Default::default()
            },
        )?;
        // Each site's Delta is sampled inside that site's plates (Pyro's `_create_plates`),
        // so that the model's and the guide's sites agree on their plates.
        let parts = proto.unpack(&latent)?;
        let mut batches = Batches::default();
        for (site, u) in proto.sites.iter().zip(parts) {
            let (value, log_density) = site.constrain(&u)?;
            let delta = Delta::from_dyn(value, log_density, site.event_dim);
            let _plates = batches.enter_site::<D>(site)?;
            keep(&site.name, crate::sample(&site.name, delta)?);
        }
        Ok(())
    }

    /// The stored value of parameter `part` (detached), which must exist with `shape`: a
    /// missing one means the guide has not been run; another shape is [`PyroError::ParamShape`].
    fn stored(&self, part: &str, shape: &[usize]) -> PyroResult<DynTensor<D>> {
        let name = self.name(part);
        let value = crate::params::get_param::<D>(&name)
            .map_err(|e| param_err(&name, e))?
            .ok_or_else(|| not_set_up(self.who))?;
        if value.shape() != shape {
            return Err(PyroError::ParamShape {
                param: name,
                stored: value.shape().to_vec(),
                expected: shape.to_vec(),
            });
        }
        Ok(value.detach())
    }

    fn proto(&self) -> PyroResult<Rc<Prototype<D>>> {
        self.proto
            .borrow()
            .clone()
            .ok_or_else(|| not_set_up(self.who))
    }

    /// Per-site constrained values of a packed unconstrained tensor `[..., latent_dim]`.
    fn constrain_all(
        &self,
        proto: &Prototype<D>,
        packed: &DynTensor<D>,
    ) -> PyroResult<HashMap<String, DynTensor<D>>> {
        let parts = proto.unpack_draws(packed)?;
        let mut out = HashMap::new();
        for (site, u) in proto.sites.iter().zip(parts) {
            out.insert(site.name.to_string(), site.constrain(&u)?.0);
        }
        Ok(out)
    }

    /// Marginal standard deviations of the packed latent vector.
    fn marginal_sd(&self, n: usize) -> PyroResult<DynTensor<D>> {
        Ok(match self.family {
            Family::Diagonal => self.stored("scale", &[n])?,
            Family::FullRank => {
                let (s, l) = (
                    self.stored("scale", &[n])?.to_vec(),
                    self.stored("scale_tril", &[n, n])?.to_vec(),
                );
                let sd: Vec<f32> = (0..n)
                    .map(|i| s[i] * (0..n).map(|j| l[i * n + j].powi(2)).sum::<f32>().sqrt())
                    .collect();
                DynTensor::from_vec(sd, &[n])?
            }
            Family::LowRank(_) => {
                let r = self.rank(n);
                let f = self.stored("cov_factor", &[n, r])?.to_vec();
                let s = self.stored("scale", &[n])?.to_vec();
                let sd: Vec<f32> = (0..n)
                    .map(|i| {
                        let w: f32 = (0..r).map(|k| (f[i * r + k] * s[i]).powi(2)).sum();
                        (w + s[i] * s[i]).sqrt()
                    })
                    .collect();
                DynTensor::from_vec(sd, &[n])?
            }
            Family::Map => DynTensor::zeros(&[n]),
        })
    }

    fn median(&self) -> PyroResult<HashMap<String, DynTensor<D>>> {
        let proto = self.proto()?;
        self.constrain_all(&proto, &self.stored("loc", &[proto.latent_dim])?)
    }

    fn quantiles(&self, qs: &[f32]) -> PyroResult<HashMap<String, DynTensor<D>>> {
        let proto = self.proto()?;
        let n = proto.latent_dim;
        let z = DynTensor::<D>::from_vec(normal_quantiles(qs)?, &[qs.len(), 1])?;
        let sd = self.marginal_sd(n)?;
        let u = z.mul(&sd)?.add(&self.stored("loc", &[n])?)?;
        self.constrain_all(&proto, &u)
    }

    fn sample_posterior(&self, k: usize) -> PyroResult<HashMap<String, DynTensor<D>>> {
        let proto = self.proto()?;
        // The fitted parameters must be there: `posterior` would create missing ones at
        // their initial values (after `clear_param_store()`, say) and sample those.
        self.stored("loc", &[proto.latent_dim])?;
        let posterior = self.posterior(&proto)?;
        let packed = crate::rng::with_rng(|r| posterior.sample(&[k], r))
            .map_err(|e| PyroError::at_site(self.who, e))?;
        self.constrain_all(&proto, &packed.detach())
    }
}

macro_rules! continuous_guide {
    ($(#[$doc:meta])* $name:ident, $family:expr) => {
        $(#[$doc])*
        pub struct $name<M, D: Backend = DefaultDevice> {
            inner: Continuous<M, D>,
        }

        impl<M: Clone, D: Backend> Clone for $name<M, D> {
            fn clone(&self) -> Self {
                $name { inner: self.inner.clone() }
            }
        }

        impl<M> $name<M> {
            /// A guide for `model` (Pyro's defaults: init to the prior median, init_scale 0.1).
            pub fn new(model: M) -> Self {
                Self::on_device(model)
            }
        }

        impl<M, D: Backend> $name<M, D> {
            /// The same on any device.
            pub fn on_device(model: M) -> Self {
                $name {
                    inner: Continuous::new(model, stringify!($name), $family),
                }
            }

            /// Sets the initialization strategy.
            pub fn init_loc(mut self, init: InitLoc<D>) -> Self {
                self.inner.init_loc = init;
                self
            }

            /// Sets the initial scale (must be positive).
            pub fn init_scale(mut self, scale: f32) -> Self {
                self.inner.init_scale = scale;
                self
            }

            /// Sets the prefix of the parameter names.
            pub fn prefix(mut self, prefix: &str) -> Self {
                self.inner.prefix = prefix.to_string();
                self.inner.names = ContinuousNames::new(prefix);
                self
            }

            /// The prototype, once the guide has been run.
            pub fn prototype(&self) -> Option<Rc<Prototype<D>>> {
                self.inner.proto.borrow().clone()
            }
        }

        impl<A: Clone, M: Program<A>, D: Backend> Program<A> for $name<M, D> {
            type Output = HashMap<String, DynTensor<D>>;
            fn call(&self, args: A) -> PyroResult<Self::Output> {
                super::collect_sites(|keep| self.inner.sample_latents(args, keep))
            }
            fn run(&self, args: A) -> PyroResult<()> {
                self.inner.sample_latents(args, |_, _| {})
            }
        }

        impl<M, D: Backend> AutoGuide<D> for $name<M, D> {
            fn median(&self) -> PyroResult<HashMap<String, DynTensor<D>>> {
                self.inner.median()
            }
            fn quantiles(&self, qs: &[f32]) -> PyroResult<HashMap<String, DynTensor<D>>> {
                self.inner.quantiles(qs)
            }
            fn sample_posterior(&self, n: usize) -> PyroResult<HashMap<String, DynTensor<D>>> {
                self.inner.sample_posterior(n)
            }
        }
    };
}

continuous_guide!(
    /// Pyro's `AutoDiagonalNormal`: a normal with diagonal covariance over all latent sites
    /// packed into one unconstrained vector (`AutoDiagonalNormal.loc`, `.scale`).
    ///
    /// ```
    /// use pyro::prelude::*;
    /// use pyro::infer::autoguide::{AutoDiagonalNormal, AutoGuide};
    /// use pyro::poutine::Program;
    /// pyro::clear_param_store();
    /// let model = || {
    ///     pyro::sample("a", Normal::new(0.0, 1.0))?;
    ///     pyro::sample("b", Exponential::new(1.0))
    /// };
    /// let guide = AutoDiagonalNormal::new(model);
    /// let draw = guide.call(()).unwrap();
    /// assert!(draw["b"].item().unwrap() > 0.0);
    /// assert_eq!(guide.prototype().unwrap().latent_dim, 2);
    /// ```
    AutoDiagonalNormal,
    Family::Diagonal
);

continuous_guide!(
    /// Pyro's `AutoMultivariateNormal`: a full-covariance normal over the packed latent
    /// vector, parameterized as Pyro 1.9 does: `AutoMultivariateNormal.loc`, a
    /// softplus-positive `.scale` (init `init_scale`) and a unit lower-triangular
    /// `.scale_tril` (init the identity), the posterior's Cholesky factor being
    /// `scale[:, None] * scale_tril`.
    ///
    /// ```
    /// use pyro::prelude::*;
    /// use pyro::infer::autoguide::{AutoGuide, AutoMultivariateNormal};
    /// use pyro::poutine::Program;
    /// pyro::clear_param_store();
    /// let model = || pyro::sample("a", Normal::new(0.0, 1.0));
    /// let guide = AutoMultivariateNormal::new(model).init_loc(InitLoc::Feasible);
    /// guide.call(()).unwrap();
    /// let q = guide.quantiles(&[0.5]).unwrap();
    /// # use pyro::infer::autoguide::InitLoc;
    /// assert_eq!(q["a"].to_vec(), vec![0.0]);
    /// ```
    AutoMultivariateNormal,
    Family::FullRank
);

continuous_guide!(
    /// Pyro's `AutoLowRankMultivariateNormal`: covariance `W Wᵀ + diag(d)` of rank
    /// `round(√latent_dim)` over the packed latent vector.
    ///
    /// ```
    /// use pyro::prelude::*;
    /// use pyro::infer::autoguide::{AutoGuide, AutoLowRankMultivariateNormal};
    /// use pyro::poutine::Program;
    /// pyro::clear_param_store();
    /// let model = || pyro::plate("p", 4).run(|_| pyro::sample("a", Normal::new(0.0, 1.0)));
    /// let guide = AutoLowRankMultivariateNormal::new(model);
    /// let s = guide.call(()).unwrap();
    /// assert_eq!(s["a"].shape(), &[4]);
    /// ```
    AutoLowRankMultivariateNormal,
    Family::LowRank(0)
);

continuous_guide!(
    /// Pyro's `AutoLaplaceApproximation`: a MAP point estimate of the packed latent vector;
    /// [`AutoLaplaceApproximation::laplace_approximation`] then fits a multivariate normal
    /// from the loss's Hessian at that point.
    ///
    /// ```
    /// use pyro::prelude::*;
    /// use pyro::infer::autoguide::{AutoGuide, AutoLaplaceApproximation};
    /// use pyro::poutine::Program;
    /// pyro::clear_param_store();
    /// let model = || pyro::sample("a", Normal::new(3.0, 1.0));
    /// let guide = AutoLaplaceApproximation::new(model).init_loc(InitLoc::Feasible);
    /// guide.call(()).unwrap();
    /// assert_eq!(guide.median().unwrap()["a"].item().unwrap(), 0.0); // init_to_feasible
    /// # use pyro::infer::autoguide::InitLoc;
    /// ```
    AutoLaplaceApproximation,
    Family::Map
);

impl<M, D: Backend> AutoLowRankMultivariateNormal<M, D> {
    /// Sets the rank of the covariance factor.
    pub fn rank(mut self, rank: usize) -> Self {
        self.inner.family = Family::LowRank(rank.max(1));
        self
    }
}

impl<M: Clone, D: Backend> AutoLaplaceApproximation<M, D> {
    /// Fits `N(loc, H⁻¹)` where `loc` is the current MAP estimate and `H` is the Hessian of
    /// the loss `-log p(x, z)` in unconstrained space at `loc` (central differences of exact
    /// gradients). Returns an `AutoMultivariateNormal` whose parameters are set accordingly,
    /// under the prefix `<this guide's prefix>.laplace` (`AutoLaplaceApproximation.laplace.loc`,
    /// `.scale`, `.scale_tril`), so that no other guide's parameters are replaced.
    pub fn laplace_approximation<A: Clone>(
        &self,
        args: A,
    ) -> PyroResult<AutoMultivariateNormal<M, D>>
    where
        M: Program<A>,
    {
        let proto = self.inner.setup(args.clone())?;
        let n = proto.latent_dim;
        let loc = self.inner.stored("loc", &[n])?.to_vec();
        let grad_at = |u: &[f32]| -> PyroResult<Vec<f64>> {
            neg_log_joint_grad::<D, A, M>(&self.inner.model, &proto, u, args.clone())
        };
        let mut h = vec![0.0f64; n * n];
        for j in 0..n {
            let step = 1e-3 * (loc[j].abs() as f64).max(1.0);
            let mut up = loc.clone();
            up[j] += step as f32;
            let mut down = loc.clone();
            down[j] -= step as f32;
            let (gu, gd) = (grad_at(&up)?, grad_at(&down)?);
            let denom = (up[j] - down[j]) as f64;
            for i in 0..n {
                h[i * n + j] = (gu[i] - gd[i]) / denom;
            }
        }
        // Symmetrize, invert through the Cholesky factor.
        for i in 0..n {
            for j in 0..i {
                let s = 0.5 * (h[i * n + j] + h[j * n + i]);
                h[i * n + j] = s;
                h[j * n + i] = s;
            }
        }
        let lh = crate::linalg::cholesky_host(&h, n).ok_or_else(|| PyroError::Config {
            algorithm: "AutoLaplaceApproximation",
            reason: "the Hessian at the MAP point is not positive definite (run more MAP steps)"
                .into(),
        })?;
        let inv_l = crate::linalg::inverse_lower_host(&lh, n);
        let cov = crate::linalg::matmul_host(
            &crate::linalg::transpose_host(&inv_l, n, n),
            &inv_l,
            n,
            n,
            n,
        );
        let scale_tril =
            crate::linalg::cholesky_host(&cov, n).ok_or_else(|| PyroError::Config {
                algorithm: "AutoLaplaceApproximation",
                reason: "the inverse Hessian is not positive definite".into(),
            })?;
        // Its parameters get their own prefix, so that they replace no separately fitted
        // AutoMultivariateNormal's.
        let gaussian = AutoMultivariateNormal::<M, D>::on_device(self.inner.model.clone())
            .prefix(&format!("{}.laplace", self.inner.prefix));
        // AutoMultivariateNormal's layout, scale_tril = scale[:, None] * unit: scale is the
        // Cholesky factor's diagonal and unit its rows divided by it. (Pyro 1.9 stores fixed
        // buffers instead: scale = the marginal sds, scale_tril = chol(correlation), which has
        // no unit diagonal. The covariance is the same; `.scale` means another thing.)
        let scale: Vec<f32> = (0..n).map(|i| scale_tril[i * n + i] as f32).collect();
        let unit: Vec<f32> = (0..n * n)
            .map(|k| match (k / n, k % n) {
                (i, j) if j < i => (scale_tril[k] / scale_tril[i * n + i]) as f32,
                (i, j) if j == i => 1.0,
                _ => 0.0,
            })
            .collect();
        let set = |part: &str, v: DynTensor<D>, constraint: Constraint, event_dim| {
            let name = gaussian.inner.name(part);
            crate::params::with_param_store_on::<D, _>(|s| s.remove(&name))
                .map_err(|e| param_err(&name, e))?;
            param_on::<D>(name, Some(ParamInit::Value(v)), constraint, Some(event_dim)).map(|_| ())
        };
        set(
            "loc",
            DynTensor::from_vec(loc.clone(), &[n])?,
            Constraint::Real,
            1,
        )?;
        set(
            "scale",
            DynTensor::from_vec(scale, &[n])?,
            Constraint::SoftplusPositive,
            1,
        )?;
        set(
            "scale_tril",
            DynTensor::from_vec(unit, &[n, n])?,
            Constraint::UnitLowerCholesky,
            2,
        )?;
        *gaussian.inner.proto.borrow_mut() = Some(proto.clone());
        Ok(gaussian)
    }
}

/// Gradient of `-log p(x, z(u)) - log|det ∂z/∂u|` with respect to the packed unconstrained
/// latent `u`.
fn neg_log_joint_grad<D: Backend, A, M: Program<A>>(
    model: &M,
    proto: &Prototype<D>,
    u: &[f32],
    args: A,
) -> PyroResult<Vec<f64>> {
    use crate::poutine::{push_rc, SubstituteMessenger, TraceMessenger};
    let n = proto.latent_dim;
    let scope = crate::tensor::GradScope::<D>::open();
    let packed = DynTensor::<D>::from_vec(u.to_vec(), &[n])?;
    let parts = proto.unpack(&packed)?;
    let mut values = HashMap::new();
    let mut log_det = DynTensor::<D>::scalar(0.0);
    for (site, part) in proto.sites.iter().zip(parts) {
        let (v, neg_ladj) = site.constrain(&part)?;
        log_det = log_det.sub(&neg_ladj.sum())?;
        values.insert(site.name.to_string(), v);
    }
    let tm = Rc::new(TraceMessenger::<D>::new());
    {
        let _t = push_rc::<D>(tm.clone());
        let _s = push_rc::<D>(Rc::new(SubstituteMessenger::new(values)));
        model.call(args)?;
    }
    let mut trace = tm.take();
    let loss = trace.log_prob_sum()?.add(&log_det)?.neg();
    let grads = scope.backward(&loss)?;
    Ok(grads
        .get_or_zeros(&packed)
        .to_vec()
        .into_iter()
        .map(|g| g as f64)
        .collect())
}
