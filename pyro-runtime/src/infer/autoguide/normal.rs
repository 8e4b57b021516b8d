//! `AutoNormal`: an independent normal per latent element, in unconstrained space.

use std::cell::RefCell;
use std::collections::HashMap;
use std::marker::PhantomData;
use std::rc::Rc;

use super::init::InitLoc;
use super::prototype::{repeat_to_full, Batches, LatentSite, Prototype};
use super::{collect_sites, normal_quantiles, not_set_up, AutoGuide};
use crate::constraints::Constraint;
use crate::distributions::{Delta, Distribution, DistributionExt, Normal};
use crate::error::{PyroError, PyroResult};
use crate::params::ParamInit;
use crate::poutine::{InferConfig, Name, Program, SharedDist};
use crate::primitives::{param_on, sample_with, SampleOptions};
use crate::tensor::{Backend, DefaultDevice, DynTensor};

/// Pyro's `AutoNormal`: for each latent site, `loc` and `scale` parameters
/// (`AutoNormal.locs.<site>`, `AutoNormal.scales.<site>`, scale through softplus) of a
/// normal in the site's unconstrained space, mapped into its support with `biject_to`.
/// A site with real support is sampled from its normal directly, under its own name (as
/// NumPyro's `AutoNormal` does); any other gets an auxiliary site `<site>_unconstrained` and
/// a `Delta` site carrying the log-Jacobian (as in Pyro). Sites inside plates are sampled inside those plates; for a subsampled plate the
/// parameters have the plate's full size and each step uses the rows of its minibatch (drawn
/// by the guide, replayed to the model), as in Pyro.
///
/// ```
/// use pyro::prelude::*;
/// use pyro::infer::autoguide::{AutoGuide, AutoNormal};
/// use pyro::poutine::Program;
/// pyro::clear_param_store();
/// let model = || pyro::sample("s", LogNormal::new(0.0, 1.0));
/// let guide = AutoNormal::new(model);
/// guide.call(()).unwrap();
/// let m = guide.median().unwrap();
/// assert!((m["s"].item().unwrap() - 1.0).abs() < 1e-6); // init_to_feasible: exp(0)
/// ```
pub struct AutoNormal<M, D: Backend = DefaultDevice> {
    model: M,
    prefix: String,
    init_loc: InitLoc<D>,
    init_scale: f32,
    proto: RefCell<Option<Rc<Prototype<D>>>>,
    /// Parameter and auxiliary site names per latent site, built with the prototype.
    names: RefCell<Rc<Vec<SiteNames>>>,
    _d: PhantomData<fn() -> D>,
}

/// The names an [`AutoNormal`] uses for one latent site.
#[derive(Debug, Clone)]
struct SiteNames {
    loc: Name,
    scale: Name,
    unconstrained: Name,
}

impl<M: Clone, D: Backend> Clone for AutoNormal<M, D> {
    fn clone(&self) -> Self {
        AutoNormal {
            model: self.model.clone(),
            prefix: self.prefix.clone(),
            init_loc: self.init_loc.clone(),
            init_scale: self.init_scale,
            proto: RefCell::new(self.proto.borrow().clone()),
            names: RefCell::new(self.names.borrow().clone()),
            _d: PhantomData,
        }
    }
}

impl<M> AutoNormal<M> {
    /// An AutoNormal guide for `model` (init to feasible, init_scale 0.1).
    pub fn new(model: M) -> Self {
        Self::on_device(model)
    }
}

impl<M, D: Backend> AutoNormal<M, D> {
    /// The same on any device.
    pub fn on_device(model: M) -> Self {
        AutoNormal {
            model,
            prefix: "AutoNormal".into(),
            init_loc: InitLoc::Feasible,
            init_scale: 0.1,
            proto: RefCell::new(None),
            names: RefCell::new(Rc::new(Vec::new())),
            _d: PhantomData,
        }
    }

    /// Sets the initialization strategy of the locations.
    pub fn init_loc(mut self, init: InitLoc<D>) -> Self {
        self.init_loc = init;
        self
    }

    /// Sets the initial scale (must be positive).
    pub fn init_scale(mut self, scale: f32) -> Self {
        self.init_scale = scale;
        self
    }

    /// Sets the prefix of the parameter names.
    pub fn prefix(mut self, prefix: &str) -> Self {
        self.prefix = prefix.to_string();
        self
    }

    /// The prototype, once the guide has been run.
    pub fn prototype(&self) -> Option<Rc<Prototype<D>>> {
        self.proto.borrow().clone()
    }

    fn setup<A>(&self, args: A) -> PyroResult<Rc<Prototype<D>>>
    where
        M: Program<A>,
    {
        if let Some(p) = self.proto.borrow().as_ref() {
            return Ok(p.clone());
        }
        super::check_init_scale("AutoNormal", self.init_scale)?;
        let p = Rc::new(Prototype::from_model_with(
            &self.model,
            args,
            "AutoNormal",
            true,
        )?);
        let names = p
            .sites
            .iter()
            .map(|site| SiteNames {
                loc: self.loc_name(site).into(),
                scale: self.scale_name(site).into(),
                unconstrained: format!("{}_unconstrained", site.name).into(),
            })
            .collect();
        *self.names.borrow_mut() = Rc::new(names);
        *self.proto.borrow_mut() = Some(p.clone());
        Ok(p)
    }

    fn loc_name(&self, site: &LatentSite<D>) -> String {
        format!("{}.locs.{}", self.prefix, site.name)
    }

    fn scale_name(&self, site: &LatentSite<D>) -> String {
        format!("{}.scales.{}", self.prefix, site.name)
    }

    fn loc_and_scale(
        &self,
        site: &LatentSite<D>,
        names: &SiteNames,
    ) -> PyroResult<(DynTensor<D>, DynTensor<D>)> {
        let has_loc = super::stored_as::<D>(&names.loc, &site.full_u_shape, &Constraint::Real)?;
        let has_scale = super::stored_as::<D>(
            &names.scale,
            &site.full_u_shape,
            &Constraint::SoftplusPositive,
        )?;
        let init = if has_loc {
            None
        } else {
            let value = self.init_loc.init(site)?;
            let u = site
                .transform
                .inverse(&value)
                .map_err(|e| PyroError::Transform {
                    site: site.name.to_string(),
                    source: e,
                })?;
            Some(ParamInit::Value(repeat_to_full(site, u)?))
        };
        let loc = param_on::<D>(
            names.loc.clone(),
            init,
            Constraint::Real,
            Some(site.u_event_dim),
        )?;
        let init = if has_scale {
            None
        } else {
            Some(ParamInit::Value(DynTensor::full(
                &site.full_u_shape,
                self.init_scale,
            )))
        };
        let scale = param_on::<D>(
            names.scale.clone(),
            init,
            Constraint::SoftplusPositive,
            Some(site.u_event_dim),
        )?;
        Ok((loc, scale))
    }

    fn stored(&self, name: &str) -> PyroResult<DynTensor<D>> {
        crate::params::get_param::<D>(name)
            .map_err(|e| PyroError::ParamStoreAt {
                site: name.into(),
                source: Box::new(e),
            })?
            .ok_or_else(|| not_set_up("AutoNormal"))
    }
}

impl<A: Clone, M: Program<A>, D: Backend> Program<A> for AutoNormal<M, D> {
    type Output = HashMap<String, DynTensor<D>>;

    fn call(&self, args: A) -> PyroResult<Self::Output> {
        collect_sites(|keep| self.sample_latents(args, keep))
    }

    fn run(&self, args: A) -> PyroResult<()> {
        self.sample_latents(args, |_, _| {})
    }
}

impl<M, D: Backend> AutoNormal<M, D> {
    /// Samples every latent site of the model, handing each site's name and value to `keep`.
    fn sample_latents<A: Clone>(
        &self,
        args: A,
        mut keep: impl FnMut(&Name, DynTensor<D>),
    ) -> PyroResult<()>
    where
        M: Program<A>,
    {
        let proto = self.setup(args)?;
        let names = self.names.borrow().clone();
        let mut batches = Batches::default();
        for (site, names) in proto.sites.iter().zip(names.iter()) {
            let (loc, scale) = self.loc_and_scale(site, names)?;
            // The site's plates, entered with this step's batch (drawn at the first site of
            // each plate, so the model is replayed on the same one); full-size parameters are
            // indexed by it.
            let plates = batches.enter_site::<D>(site)?;
            let (loc, scale) = (plates.batch_of(site, loc)?, plates.batch_of(site, scale)?);
            let normal =
                Normal::from_dyn(loc, scale).map_err(|e| PyroError::at_site(&site.name, e))?;
            // `to_event(0)` is the distribution itself (as in Pyro).
            let base: SharedDist<D> = if site.u_event_dim == 0 {
                Rc::new(normal)
            } else {
                Rc::new(
                    normal
                        .to_event(site.u_event_dim)
                        .map_err(|e| PyroError::at_site(&site.name, e))?,
                )
            };
            // A site with real support is the normal itself (as in NumPyro); any other is an
            // auxiliary normal site mapped into the support, recorded as a `Delta` carrying
            // the log-Jacobian (as in Pyro).
            let v = if site.has_real_support() {
                sample_with(site.name.clone(), base, SampleOptions::default())?
            } else {
                let u = sample_with(
                    names.unconstrained.clone(),
                    base,
                    SampleOptions {
                        infer: InferConfig {
                            is_auxiliary: true,
                            ..Default::default()
                        },
                        ..Default::default()
                    },
                )?;
                let (value, log_density) = site.constrain(&u)?;
                let delta = Delta::from_dyn(value, log_density, site.event_dim);
                sample_with(site.name.clone(), delta, SampleOptions::default())?
            };
            keep(&site.name, v);
            drop(plates);
        }
        Ok(())
    }
}

impl<M, D: Backend> AutoGuide<D> for AutoNormal<M, D> {
    fn median(&self) -> PyroResult<HashMap<String, DynTensor<D>>> {
        let proto = self.prototype().ok_or_else(|| not_set_up("AutoNormal"))?;
        let mut out = HashMap::new();
        for site in &proto.sites {
            let loc = self.stored(&self.loc_name(site))?;
            let (v, _) = site.constrain(&loc.detach())?;
            out.insert(String::from(site.name.as_str()), v);
        }
        Ok(out)
    }

    fn quantiles(&self, qs: &[f32]) -> PyroResult<HashMap<String, DynTensor<D>>> {
        let proto = self.prototype().ok_or_else(|| not_set_up("AutoNormal"))?;
        let z = normal_quantiles(qs)?;
        let zt = DynTensor::<D>::from_vec(z, &[qs.len()])?;
        let mut out = HashMap::new();
        for site in &proto.sites {
            let loc = self.stored(&self.loc_name(site))?.detach();
            let scale = self.stored(&self.scale_name(site))?.detach();
            let mut zshape = vec![qs.len()];
            zshape.extend(std::iter::repeat_n(1, loc.rank()));
            let u = zt.reshape(&zshape)?.mul(&scale)?.add(&loc)?;
            let (v, _) = site.constrain(&u)?;
            out.insert(String::from(site.name.as_str()), v);
        }
        Ok(out)
    }

    fn sample_posterior(&self, n: usize) -> PyroResult<HashMap<String, DynTensor<D>>> {
        let proto = self.prototype().ok_or_else(|| not_set_up("AutoNormal"))?;
        let mut out = HashMap::new();
        for site in &proto.sites {
            let loc = self.stored(&self.loc_name(site))?.detach();
            let scale = self.stored(&self.scale_name(site))?.detach();
            let d = Normal::from_dyn(loc, scale).map_err(|e| PyroError::at_site(&site.name, e))?;
            let u = crate::rng::with_rng(|r| d.sample(&[n], r))
                .map_err(|e| PyroError::at_site(&site.name, e))?;
            let (v, _) = site.constrain(&u)?;
            out.insert(String::from(site.name.as_str()), v);
        }
        Ok(out)
    }
}
