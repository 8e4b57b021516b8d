//! The model's prototype trace, as autoguides see it: its latent sites, their supports and
//! the unconstrained space they map from.

use std::rc::Rc;

use crate::constraints::Constraint;
use crate::error::{PyroError, PyroResult};
use crate::poutine::{push_rc, BlockMessenger, Frame, Name, Program, SharedDist, TraceMessenger};
use crate::tensor::{Backend, DynTensor};
use crate::transforms::{biject_to, BoxTransform};

/// One latent site of the model.
#[derive(Debug, Clone)]
pub struct LatentSite<D: Backend> {
    /// The site's name.
    pub name: Name,
    /// The prior (as seen in the prototype trace).
    pub dist: SharedDist<D>,
    /// Its support.
    pub support: Constraint,
    /// `biject_to(support)`: unconstrained -> constrained.
    pub transform: BoxTransform<D>,
    /// Shape of the constrained value.
    pub shape: Vec<usize>,
    /// Number of event dims of the value.
    pub event_dim: usize,
    /// Shape of the unconstrained value.
    pub u_shape: Vec<usize>,
    /// Elements of the unconstrained value.
    pub u_numel: usize,
    /// Event dims of the unconstrained value.
    pub u_event_dim: usize,
    /// Enclosing plates.
    pub frames: Vec<Frame>,
}

impl<D: Backend> LatentSite<D> {
    pub(crate) fn support_check(&self, value: &DynTensor<D>) -> bool {
        self.support.check_all(value)
    }

    /// Maps an unconstrained value to the constrained value and the log-density correction
    /// `-log|det J|` summed down to the value's batch shape.
    pub(crate) fn constrain(&self, u: &DynTensor<D>) -> PyroResult<(DynTensor<D>, DynTensor<D>)> {
        let err = |e| PyroError::Transform {
            site: self.name.to_string(),
            source: e,
        };
        let batch_rank = u.rank().saturating_sub(self.event_dim);
        if self.transform.name() == "IdentityTransform" && u.rank() >= self.event_dim {
            // Real support: the value itself, no Jacobian (zeros without a graph node).
            return Ok((
                u.clone(),
                DynTensor::constant(&u.shape()[..batch_rank], 0.0),
            ));
        }
        let (value, ladj) = self
            .transform
            .forward_with_log_abs_det_jacobian(u)
            .map_err(err)?;
        let batch_rank = value.rank().saturating_sub(self.event_dim);
        // Sample dims lead: a value of rank r has r - shape.len() of them.
        let extra = ladj.rank().saturating_sub(batch_rank);
        let ladj = ladj.sum_rightmost(extra)?;
        Ok((value, ladj.neg()))
    }
}

/// The latent sites of a model, in execution order, with their packing into one vector.
#[derive(Debug, Clone)]
pub struct Prototype<D: Backend> {
    /// Latent sites in order.
    pub sites: Vec<LatentSite<D>>,
    /// Offsets of each site's unconstrained values in the packed vector.
    pub offsets: Vec<usize>,
    /// Total unconstrained dimension.
    pub latent_dim: usize,
}

impl<D: Backend> Prototype<D> {
    /// Runs the model once (hidden from outer handlers) and collects its latent sites.
    pub fn from_model<A, M: Program<A>>(model: &M, args: A, who: &'static str) -> PyroResult<Self> {
        let tm = Rc::new(TraceMessenger::<D>::new());
        {
            let _block = push_rc::<D>(Rc::new(BlockMessenger::<D>::hide_all()));
            let _trace = push_rc::<D>(tm.clone());
            model.call(args)?;
        }
        let trace = tm.take();
        let mut sites = Vec::new();
        let mut offsets = Vec::new();
        let mut latent_dim = 0;
        for s in trace.stochastic_nodes() {
            let dist = s.dist.clone().ok_or_else(|| PyroError::SiteMismatch {
                site: s.name.to_string(),
                reason: "latent site without a distribution".into(),
            })?;
            if dist.is_discrete() {
                return Err(PyroError::Config {
                    algorithm: who,
                    reason: format!(
                        "site `{}` is discrete ({}); autoguides cover continuous latent sites only \
                         (enumerate it out or write its guide by hand)",
                        s.name,
                        dist.name()
                    ),
                });
            }
            if s.cond_indep_stack
                .iter()
                .any(|f| f.subsample_size != f.size)
            {
                return Err(PyroError::Config {
                    algorithm: who,
                    reason: format!(
                        "site `{}` is inside a subsampled plate; local latent variables with \
                         subsampling are not supported by this autoguide yet",
                        s.name
                    ),
                });
            }
            let support = dist.support();
            let transform = biject_to::<D>(&support).map_err(|e| PyroError::Transform {
                site: s.name.to_string(),
                source: e,
            })?;
            let shape = s.value.shape().to_vec();
            let u_shape = transform
                .inverse_shape(&shape)
                .map_err(|e| PyroError::Transform {
                    site: s.name.to_string(),
                    source: e,
                })?;
            let event_dim = dist.event_shape().len();
            let u_event_dim = (event_dim + u_shape.len()).saturating_sub(shape.len());
            let u_numel: usize = u_shape.iter().product();
            offsets.push(latent_dim);
            latent_dim += u_numel;
            sites.push(LatentSite {
                name: s.name.clone(),
                dist,
                support,
                transform,
                shape,
                event_dim,
                u_shape,
                u_numel,
                u_event_dim,
                frames: s.cond_indep_stack.clone(),
            });
        }
        Ok(Prototype {
            sites,
            offsets,
            latent_dim,
        })
    }

    /// Splits a packed unconstrained vector (last dim `latent_dim`, any leading sample dims)
    /// into per-site unconstrained values.
    pub fn unpack(&self, packed: &DynTensor<D>) -> PyroResult<Vec<DynTensor<D>>> {
        let lead: Vec<usize> = packed.shape()[..packed.rank().saturating_sub(1)].to_vec();
        let n: usize = lead.iter().product();
        let mut out = Vec::with_capacity(self.sites.len());
        for (site, &off) in self.sites.iter().zip(&self.offsets) {
            let mut idx = Vec::with_capacity(n * site.u_numel);
            for i in 0..n {
                let base = i * self.latent_dim + off;
                idx.extend(base..base + site.u_numel);
            }
            let mut shape = lead.clone();
            shape.extend_from_slice(&site.u_shape);
            out.push(packed.gather_flat(idx, &shape)?);
        }
        Ok(out)
    }

    /// Packs per-site constrained values into one unconstrained vector.
    pub fn pack_constrained(&self, values: &[DynTensor<D>]) -> PyroResult<DynTensor<D>> {
        let mut parts = Vec::with_capacity(values.len());
        for (site, v) in self.sites.iter().zip(values) {
            let u = site
                .transform
                .inverse(v)
                .map_err(|e| PyroError::Transform {
                    site: site.name.to_string(),
                    source: e,
                })?;
            parts.push(u);
        }
        Ok(DynTensor::cat_flat(&parts)?)
    }
}
