//! The model's prototype trace, as autoguides see it: its latent sites, their supports and
//! the unconstrained space they map from.

use std::rc::Rc;

use crate::constraints::Constraint;
use crate::error::{PyroError, PyroResult};
use crate::poutine::{
    push_rc, BlockMessenger, Frame, Name, Plate, PlateBuilder, Program, SharedDist, TraceMessenger,
};
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
    /// The vectorized enclosing plates with the axis of the unconstrained value they index.
    pub plates: Vec<PlateAxis>,
    /// `u_shape` with every subsampled plate's axis at the plate's full size: the shape of
    /// per-element guide parameters (Pyro's full-size `AutoNormal` locs and scales).
    pub full_u_shape: Vec<usize>,
    /// `shape` with every subsampled plate's axis at the plate's full size (the shape of
    /// AutoDelta's full-size point estimate).
    pub full_shape: Vec<usize>,
}

/// A vectorized plate around a latent site and the axis of the site's unconstrained value
/// that it indexes.
#[derive(Debug, Clone)]
pub struct PlateAxis {
    /// The plate, as the prototype trace saw it.
    pub frame: Frame,
    /// The axis of the unconstrained value (counted from the left).
    pub axis: usize,
}

impl PlateAxis {
    /// Whether the model subsamples this plate.
    pub fn subsampled(&self) -> bool {
        self.frame.subsample_size != self.frame.size
    }
}

impl<D: Backend> LatentSite<D> {
    pub(crate) fn support_check(&self, value: &DynTensor<D>) -> bool {
        self.support.check_all(value)
    }

    /// Whether the site's support is the real numbers (its transform is the identity).
    pub(crate) fn has_real_support(&self) -> bool {
        self.transform.name() == "IdentityTransform"
    }

    /// Maps an unconstrained value to the constrained value and the log-density correction
    /// `-log|det J|` summed down to the value's batch shape.
    pub(crate) fn constrain(&self, u: &DynTensor<D>) -> PyroResult<(DynTensor<D>, DynTensor<D>)> {
        let err = |e| PyroError::Transform {
            site: self.name.to_string(),
            source: e,
        };
        let batch_rank = u.rank().saturating_sub(self.event_dim);
        if self.has_real_support() && u.rank() >= self.event_dim {
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
        Self::from_model_with(model, args, who, false)
    }

    /// [`Prototype::from_model`] for autoguides that keep full-size parameters and index them
    /// by each step's minibatch (`allow_subsampling`); the others reject latent sites inside
    /// subsampled plates with an error naming the site.
    pub fn from_model_with<A, M: Program<A>>(
        model: &M,
        args: A,
        who: &'static str,
        allow_subsampling: bool,
    ) -> PyroResult<Self> {
        Self::collect(model, args, who, allow_subsampling, false)
    }

    /// [`Prototype::from_model`] that also takes latent sites in sequential plates (each
    /// iteration's site has its own name): MCMC samples them like any other site.
    pub(crate) fn from_model_allowing_sequential<A, M: Program<A>>(
        model: &M,
        args: A,
        who: &'static str,
    ) -> PyroResult<Self> {
        Self::collect(model, args, who, false, true)
    }

    fn collect<A, M: Program<A>>(
        model: &M,
        args: A,
        who: &'static str,
        allow_subsampling: bool,
        allow_sequential: bool,
    ) -> PyroResult<Self> {
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
            if let Some(f) = s
                .cond_indep_stack
                .iter()
                .find(|f| !allow_sequential && !f.vectorized())
            {
                return Err(PyroError::Plate {
                    plate: f.name.to_string(),
                    reason: format!(
                        "{who} does not support sequential plates (as in Pyro), and latent \
                         site `{}` is inside one; vectorize the plate or write the guide by hand",
                        s.name
                    ),
                });
            }
            if !allow_subsampling {
                if let Some(f) = s
                    .cond_indep_stack
                    .iter()
                    .find(|f| f.subsample_size != f.size)
                {
                    return Err(PyroError::SubsampledLatent {
                        guide: who,
                        site: s.name.to_string(),
                        plate: f.name.to_string(),
                    });
                }
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
            let (plates, full_u_shape) =
                plate_axes(&s.name, &s.cond_indep_stack, &u_shape, u_event_dim)?;
            // Batch axes count from the left in both shapes.
            let mut full_shape = shape.clone();
            for p in plates.iter().filter(|p| p.subsampled()) {
                full_shape[p.axis] = p.frame.size;
            }
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
                plates,
                full_u_shape,
                full_shape,
            });
        }
        Ok(Prototype {
            sites,
            offsets,
            latent_dim,
        })
    }

    /// Splits a packed unconstrained vector (last dim `latent_dim`, any leading dims) into
    /// per-site unconstrained values.
    ///
    /// The leading dims come from plates outside the model (vectorized particles, a
    /// `samples` plate): a site's value has shape `lead ++ [1; u_event_dim]` broadcast with
    /// its own unconstrained shape (Pyro's `_unpack_latent`), so a latent of shape `[3]` in a
    /// plate of the model, drawn with leading dims `[P, 1]`, has shape `[P, 3]`.
    pub fn unpack(&self, packed: &DynTensor<D>) -> PyroResult<Vec<DynTensor<D>>> {
        self.split(packed, lead_shape)
    }

    /// Splits packed unconstrained draws `[k.., latent_dim]` into per-site draws
    /// `[k.., u_shape..]`: the leading dims are sample dims, kept left of the site's shape
    /// (`sample_posterior`, `quantiles`).
    pub fn unpack_draws(&self, packed: &DynTensor<D>) -> PyroResult<Vec<DynTensor<D>>> {
        self.split(packed, |site, lead| {
            Ok(lead.iter().chain(&site.u_shape).copied().collect())
        })
    }

    fn split(
        &self,
        packed: &DynTensor<D>,
        shape_of: impl Fn(&LatentSite<D>, &[usize]) -> PyroResult<Vec<usize>>,
    ) -> PyroResult<Vec<DynTensor<D>>> {
        let lead: Vec<usize> = packed.shape()[..packed.rank().saturating_sub(1)].to_vec();
        let n: usize = lead.iter().product();
        let mut out = Vec::with_capacity(self.sites.len());
        for (site, &off) in self.sites.iter().zip(&self.offsets) {
            let mut idx = Vec::with_capacity(n * site.u_numel);
            for i in 0..n {
                let base = i * self.latent_dim + off;
                idx.extend(base..base + site.u_numel);
            }
            let shape = shape_of(site, &lead)?;
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

/// The shape of a site's unconstrained value drawn with leading dims `lead`: `lead` with
/// `u_event_dim` trailing ones, broadcast against the site's unconstrained shape. The leading
/// dims must not overlap the site's plate dims except where they are 1 (the model's plates
/// fit inside `max_plate_nesting`); otherwise the error names the site.
fn lead_shape<D: Backend>(site: &LatentSite<D>, lead: &[usize]) -> PyroResult<Vec<usize>> {
    let mut left: Vec<usize> = lead.to_vec();
    left.extend(std::iter::repeat_n(1, site.u_event_dim));
    let right = &site.u_shape;
    let rank = left.len().max(right.len());
    let at = |v: &[usize], i: usize| (i + v.len()).checked_sub(rank).map_or(1, |k| v[k]);
    // The values are laid out as `lead ++ u_shape`; reading them in the broadcast shape is
    // that layout only when every leading dim above 1 sits left of every site dim above 1.
    let last_lead = (0..rank).rev().find(|&i| at(&left, i) != 1);
    let first_site = (0..rank).find(|&i| at(right, i) != 1);
    if let (Some(l), Some(r)) = (last_lead, first_site) {
        if l >= r {
            return Err(PyroError::SiteMismatch {
                site: site.name.to_string(),
                reason: format!(
                    "the packed latent's leading dims {lead:?} (from a plate outside the model: \
                     vectorized particles?) fall among the site's own dims {right:?}; every \
                     plate of the model must fit inside max_plate_nesting, with outer plates \
                     to the left: raise max_plate_nesting"
                ),
            });
        }
    }
    Ok((0..rank).map(|i| at(&left, i).max(at(right, i))).collect())
}

/// The vectorized plates around a site with the unconstrained axes they index, and the
/// unconstrained shape with subsampled axes at full size. A subsampled plate whose dim the
/// value does not have is an error naming the site and the plate.
fn plate_axes(
    site: &str,
    frames: &[Frame],
    u_shape: &[usize],
    u_event_dim: usize,
) -> PyroResult<(Vec<PlateAxis>, Vec<usize>)> {
    let batch_rank = u_shape.len().saturating_sub(u_event_dim) as i32;
    let mut full = u_shape.to_vec();
    let mut plates = Vec::new();
    for f in frames {
        let Some(dim) = f.dim else { continue };
        let axis = batch_rank + dim;
        let subsampled = f.subsample_size != f.size;
        if axis < 0 || u_shape.get(axis as usize) != Some(&f.subsample_size) {
            if subsampled {
                return Err(PyroError::Plate {
                    plate: f.name.to_string(),
                    reason: format!(
                        "latent site `{site}` of shape {u_shape:?} does not span the plate's                          dim {dim} (size {}); give the site's distribution that batch dim",
                        f.subsample_size
                    ),
                });
            }
            continue;
        }
        let axis = axis as usize;
        full[axis] = f.size;
        plates.push(PlateAxis {
            frame: f.clone(),
            axis,
        });
    }
    Ok((plates, full))
}

/// The batch each plate drew in one run of a guide, so that every site in a plate sees the
/// same one (Pyro's guide-side plates, created once per call).
#[derive(Default)]
pub(crate) struct Batches {
    drawn: Vec<(Name, Vec<usize>)>,
}

impl Batches {
    /// Enters the plate of `p`: with the batch drawn earlier in this run, or drawing one (a
    /// subsample site, which `replay` hands to the model) the first time.
    pub(crate) fn enter<D: Backend>(&mut self, p: &PlateAxis) -> PyroResult<Plate<D>> {
        let f = &p.frame;
        let mut builder = PlateBuilder::<D>::new(&f.name, f.size);
        if let Some(dim) = f.dim {
            builder = builder.dim(dim);
        }
        if let Some((_, idx)) = self.drawn.iter().find(|(n, _)| *n == f.name) {
            builder = builder.subsample(idx.clone());
        } else if p.subsampled() {
            builder = builder.subsample_size(f.subsample_size);
        }
        let plate = builder.enter()?;
        if !self.drawn.iter().any(|(n, _)| *n == f.name) {
            self.drawn.push((f.name.clone(), plate.indices().to_vec()));
        }
        Ok(plate)
    }
}

/// The plates of one latent site, entered for the length of its `sample` call; dropping it
/// leaves them innermost first.
pub(crate) struct SitePlates<D: Backend>(Vec<Plate<D>>);

impl<D: Backend> SitePlates<D> {
    /// A full-size per-element parameter of `site` cut to this step's batch: the rows of
    /// each subsampled plate's minibatch, along the axis it indexes.
    pub(crate) fn batch_of(
        &self,
        site: &LatentSite<D>,
        full: DynTensor<D>,
    ) -> PyroResult<DynTensor<D>> {
        let mut t = full;
        for (p, plate) in site
            .plates
            .iter()
            .zip(&self.0)
            .filter(|(p, _)| p.subsampled())
        {
            t = t
                .index_select(p.axis, plate.indices())
                .map_err(|e| PyroError::SiteTensor {
                    site: site.name.to_string(),
                    source: e,
                })?;
        }
        Ok(t)
    }
}

impl<D: Backend> Drop for SitePlates<D> {
    fn drop(&mut self) {
        while self.0.pop().is_some() {}
    }
}

impl Batches {
    /// Enters every plate of `site`, outermost first (see [`Batches::enter`]).
    pub(crate) fn enter_site<D: Backend>(
        &mut self,
        site: &LatentSite<D>,
    ) -> PyroResult<SitePlates<D>> {
        let mut plates = Vec::with_capacity(site.plates.len());
        for p in &site.plates {
            plates.push(self.enter::<D>(p)?);
        }
        Ok(SitePlates(plates))
    }
}

/// A prototype-shaped unconstrained value tiled along the site's subsampled plate axes up
/// to their full sizes (Pyro's `periodic_repeat` of the initial value).
pub(crate) fn repeat_to_full<D: Backend>(
    site: &LatentSite<D>,
    mut u: DynTensor<D>,
) -> PyroResult<DynTensor<D>> {
    for p in site.plates.iter().filter(|p| p.subsampled()) {
        let have = u.shape()[p.axis];
        let idx: Vec<usize> = (0..p.frame.size).map(|i| i % have.max(1)).collect();
        u = u
            .index_select(p.axis, &idx)
            .map_err(|e| PyroError::SiteTensor {
                site: site.name.to_string(),
                source: e,
            })?;
    }
    Ok(u)
}
