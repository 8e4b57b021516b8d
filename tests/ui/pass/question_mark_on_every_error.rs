// `?` on a value of every public error type of the runtime inside functions returning
// `PyroResult`: each converts into `PyroError`, the typed variant holding the original error
// (transparent: the original's message and sources, so an error chain shows each once).
use pyro::constraints::ParseConstraintError;
use pyro::distributions::DistError;
use pyro::error::TensorError;
use pyro::infer::{Summary, SummaryError};
use pyro::linalg::{cholesky, LinalgError};
use pyro::optim::{Adam, OptimError};
use pyro::params::ParamStoreError;
use pyro::prelude::*;
use std::error::Error;

type Cpu = pyro::DefaultDevice;

/// Every error type's `?` on a successful call.
fn every_ok() -> PyroResult<()> {
    let x = DynTensor::<Cpu>::from_vec(vec![4.0, 0.0, 0.0, 9.0], &[2, 2])?; // TensorError
    let _l = cholesky(&x)?; // LinalgError
    let _d = Normal::new(0.0, 1.0)?; // DistError
    let _t = biject_to::<Cpu>(&Constraint::Positive)?; // TransformError
    let _adam = Adam::with_lr(0.01)?; // OptimError
    let store = ParamStore::<Cpu>::new();
    let _m = store.match_regex("^a.*")?; // ParamStoreError
    let _c: Constraint = "interval(0, 1)".parse()?; // ParseConstraintError
    let _s = Summary::new([("z", DynTensor::<Cpu>::zeros(&[4]))])?; // SummaryError
    Ok(())
}

/// `?` on an error value of each type; `which` picks the type.
fn fail(which: usize) -> PyroResult<()> {
    match which {
        0 => Err(TensorError::Invalid("bad index".into()))?,
        1 => Err(LinalgError::Singular {
            op: "solve",
            index: 0,
        })?,
        2 => {
            Normal::new(0.0, -1.0)?;
        }
        3 => Err(TransformError::NoLogDet {
            transform: "Softmax",
            reason: "not a bijection",
        })?,
        4 => {
            Adam::with_lr(-1.0)?;
        }
        5 => {
            ParamStore::<Cpu>::new().match_regex("(")?;
        }
        6 => {
            "sphere".parse::<Constraint>()?;
        }
        7 => {
            Summary::new([("z", DynTensor::<Cpu>::scalar(1.0))])?;
        }
        _ => {}
    }
    Ok(())
}

fn main() {
    pyro::enable_validation(true);
    every_ok().unwrap();
    for which in 0..8 {
        let err = fail(which).unwrap_err();
        // The typed variant holding the original error.
        let original: &dyn Error = match (which, &err) {
            (0, PyroError::Tensor(e @ TensorError::Invalid(_))) => e,
            (1, PyroError::Linalg(e)) => e as &LinalgError,
            (2, PyroError::Dist(e)) => e as &DistError,
            (3, PyroError::Transformation(e)) => e as &TransformError,
            (4, PyroError::Optim(e)) => e as &OptimError,
            (5, PyroError::ParamStore(e)) => e as &ParamStoreError,
            (6, PyroError::ParseConstraint(e)) => e as &ParseConstraintError,
            (7, PyroError::Summary(e)) => e as &SummaryError,
            _ => panic!("case {which}: not its typed variant: {err:?}"),
        };
        // Transparent: the original's message and source, no message twice in a chain.
        assert_eq!(err.to_string(), original.to_string());
        let message = |e: Option<&dyn Error>| e.map(|e| e.to_string());
        assert_eq!(message(err.source()), message(original.source()));
        assert_ne!(
            message(err.source()),
            Some(err.to_string()),
            "a repeated message"
        );
    }
}
