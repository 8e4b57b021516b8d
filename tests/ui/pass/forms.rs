// Every valid form of the site macros, in models and their guides; `main` runs them.
use pyro::poutine;
use pyro::prelude::*;

type T1 = Tensor<(usize,)>;

fn data(n: usize) -> T1 {
    Tensor::from_vec((0..n).map(|i| i as f32 * 0.1).collect(), (n,)).unwrap()
}

// Latent and observed sites; obs as &Tensor, Tensor, Option, Some(..); typed values.
#[model]
fn observations(x: &T1, y: Option<&T1>, z: Option<T1>) -> PyroResult<()> {
    let a: Tensor<Rank0> = sample!("a", Normal::new(0.0, 10.0));
    let b = sample!("b", Normal::new(&a, 1.0));
    let _: Tensor<Rank0> = b;
    plate!("data", x.shape().0, {
        let mean: T1 = x.clone() * 2.0;
        let o: T1 = sample!("obs", Normal::new(&mean, 1.0), obs = x);
        let _ = o;
        sample!("y", Normal::new(&mean, 1.0), obs = y);
        sample!("z", Normal::new(&mean, 1.0), obs = z.as_ref());
        sample!("y_ref", Normal::new(&mean, 1.0), obs = &y);
        sample!("z_ref", Normal::new(&mean, 1.0), obs = &z);
        sample!("w", Normal::new(0.0, 1.0), obs = Some(x.clone()));
        sample!("none", Normal::new(0.0, 1.0), obs = None);
    });
    let fixed: Option<DynTensor> = Some(DynTensor::scalar(0.5));
    sample!("fixed", Normal::new(0.0, 1.0), obs = fixed);
    Ok(())
}

// The guide may sample sites whose observation is an Option (latent when absent).
#[guide(model = observations)]
fn observations_guide(x: &T1, _y: Option<&T1>, _z: Option<T1>) -> PyroResult<()> {
    let a_loc = param!("a_loc", 0.0);
    sample!("a", Normal::new(&a_loc, 1.0));
    sample!("b", Normal::new(0.0, 1.0));
    sample!("fixed", Normal::new(0.0, 1.0));
    plate!("data", x.shape().0, {
        sample!("y", Normal::new(0.0, 1.0));
        sample!("none", Normal::new(0.0, 1.0));
    });
    Ok(())
}

// Params: initial value f32, array, typed tensor, DynTensor, lazy closure (borrowing),
// constraint and event_dim.
#[model]
fn params(init: &T1) -> PyroResult<()> {
    let s: Tensor<Rank0> = param!("s", 1.0, constraint = Constraint::Positive);
    let v: Tensor<Rank1<3>> = param!("v", [0.2f32, 0.3, 0.5], constraint = Constraint::UnitInterval, event_dim = 1);
    let t: T1 = param!("t", init);
    let d: DynTensor = param!("d", DynTensor::zeros(&[2, 2]));
    let lazy: T1 = param!("lazy", || init.clone() + 1.0, constraint = Constraint::Real);
    let _ = (s, v, t, d, lazy);
    Ok(())
}

// Plates: closure form with the plate, subsample_size, explicit subsample indices, dims,
// nesting, and subsample!; a non-literal dim gives a value typed by the context.
#[model]
fn plates(x: &T1) -> PyroResult<()> {
    let n = x.shape().0;
    plate!("batch", n, subsample_size = 3, |p| {
        assert_eq!(p.indices().len(), 3);
        let xb: T1 = subsample!(x);
        let z: T1 = sample!("z", Normal::new(0.0, 1.0));
        sample!("xb", Normal::new(&z, 1.0), obs = &xb);
    });
    plate!("rows", 5, subsample = vec![4, 0], dim = -2, {
        plate!("cols", 3, dim = -1, {
            let grid: Tensor<(usize, usize)> = sample!("grid", Normal::new(0.0, 1.0));
            assert_eq!(grid.shape(), (2, 3));
        });
        let col: Tensor<(usize, usize)> = sample!("col", Normal::new(0.0, 1.0));
        assert_eq!(col.shape(), (2, 1));
    });
    let dim = -1;
    plate!("inferred", 4, dim = dim, {
        let v: Tensor<(usize,)> = sample!("v", Normal::new(0.0, 1.0));
        assert_eq!(v.shape().0, 4);
    });
    Ok(())
}

// Sequential plates with names built at run time; factor!, deterministic!, infer, obs_mask,
// mutually exclusive branches, sites inside other macros' arguments, pyro:: paths.
#[model]
fn misc(flag: bool, y: &T1) -> PyroResult<Vec<f32>> {
    let mut draws = vec![];
    for i in plate!("seq", 3) {
        let x = sample!(format!("x_{i}"), Normal::new(0.0, 1.0));
        draws.push(x.item()?);
    }
    for i in plate!("seq_sub", 10, subsample_size = 2) {
        sample!(format!("s_{}", i), Normal::new(0.0, 1.0));
    }
    let z = pyro::sample!("z", Normal::new(0.0, 1.0));
    factor!("penalty", z.clone() * -0.5);
    let d: Tensor<Rank0> = deterministic!("z2", z.clone() * z.clone(), event_dim = 0);
    let _ = d;
    let enumerated = sample!("e", Bernoulli::new(0.3), infer = pyro::poutine::InferConfig::default());
    let _ = enumerated;
    plate!("masked", y.shape().0, {
        sample!("m", Normal::new(0.0, 1.0), obs = y, obs_mask = vec![true, false, true]);
    });
    let w = if flag {
        sample!("w", Normal::new(0.0, 1.0))
    } else {
        sample!("w", Normal::new(1.0, 1.0))
    };
    match draws.len() {
        3 => sample!("k", Normal::new(0.0, 1.0)),
        _ => sample!("k", Normal::new(5.0, 1.0)),
    };
    let v = vec![sample!("in_vec", Normal::new(0.0, 1.0)), w];
    assert_eq!(v.len(), 2);
    Ok(draws)
}

#[guide(model = misc)]
fn misc_guide(_flag: bool, _y: &T1) -> PyroResult<Vec<f32>> {
    for i in plate!("seq", 3) {
        sample!(format!("x_{i}"), Normal::new(0.0, 1.0));
    }
    for i in plate!("seq_sub", 10, subsample_size = 2) {
        sample!(format!("s_{}", i), Normal::new(0.0, 1.0));
    }
    sample!("z", Normal::new(0.0, 1.0));
    sample!("w", Normal::new(0.0, 1.0));
    sample!("k", Normal::new(0.0, 1.0));
    sample!("in_vec", Normal::new(0.0, 1.0));
    plate!("masked", 3, {
        sample!("m_unobserved", Normal::new(0.0, 1.0));
    });
    Ok(vec![])
}

// A guide written before its model, with the model named by a path, and a guide that is
// matched at run time only (it calls a helper with sites).
mod nested {
    use pyro::prelude::*;

    #[guide(model = super::nested::inner_model)]
    pub fn inner_guide() -> PyroResult<()> {
        sample!("q", Normal::new(0.0, 1.0));
        Ok(())
    }

    #[model]
    pub fn inner_model() -> PyroResult<()> {
        sample!("q", Normal::new(0.0, 1.0));
        helper()?;
        Ok(())
    }

    fn helper() -> PyroResult<()> {
        pyro::sample("h", Normal::new(0.0, 1.0))?;
        Ok(())
    }

    #[guide(model = inner_model, check = runtime)]
    pub fn runtime_checked_guide() -> PyroResult<()> {
        sample!("q", Normal::new(0.0, 1.0));
        pyro::sample("h", Normal::new(0.0, 1.0))?;
        Ok(())
    }
}

// A boxed distribution and a `.to_event(..)` one give a `DynTensor`.
#[model]
fn erased() -> PyroResult<DynTensor> {
    let b: BoxDist = Box::new(Normal::from_dyn(DynTensor::scalar(0.0), DynTensor::scalar(1.0)).unwrap());
    let x: DynTensor = sample!("x", b);
    let loc = DynTensor::zeros(&[3]);
    let e: DynTensor = sample!("e", Normal::from_dyn(loc, DynTensor::scalar(1.0)).and_then(|d| d.to_event(1)));
    assert_eq!(e.shape(), &[3]);
    Ok(x)
}

fn main() {
    pyro::set_rng_seed(0);
    pyro::clear_param_store();
    let x = data(4);
    // Called with no handler, a model draws from the prior.
    observations(&x, None, Some(data(4))).unwrap();
    observations_guide(&x, None, None).unwrap();
    let tr = poutine::trace(|| observations(&x, None, None)).get_trace(()).unwrap();
    assert!(!tr.get("y").unwrap().is_observed);
    assert!(tr.get("obs").unwrap().is_observed);
    assert!(tr.get("fixed").unwrap().is_observed);
    assert!(!tr.get("none").unwrap().is_observed);
    params(&x).unwrap();
    plates(&data(6)).unwrap();
    let y = data(3);
    let (draws, tr) = poutine::trace(|| misc(true, &y)).run_traced(()).unwrap();
    assert_eq!(draws.len(), 3);
    for name in ["x_0", "x_1", "x_2", "penalty", "z2", "m_observed", "m_unobserved", "k"] {
        assert!(tr.contains(name), "{name}");
    }
    misc_guide(false, &y).unwrap();
    nested::inner_guide().unwrap();
    nested::inner_model().unwrap();
    nested::runtime_checked_guide().unwrap();
    assert_eq!(erased().unwrap().rank(), 0);
}
