// `?` on a value of every public error type of the runtime inside functions returning
// `PyroResult`: each converts into `PyroError` (a typed variant keeping the original error as
// its source).
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
        let source = err.source().expect("the original error is the source");
        assert_eq!(err.to_string(), source.to_string());
        match which {
            0 => assert!(matches!(err, PyroError::Tensor(TensorError::Invalid(_)))),
            1 => assert!(source.downcast_ref::<LinalgError>().is_some()),
            2 => assert!(source.downcast_ref::<DistError>().is_some()),
            3 => assert!(source.downcast_ref::<TransformError>().is_some()),
            4 => assert!(source.downcast_ref::<OptimError>().is_some()),
            5 => assert!(source.downcast_ref::<ParamStoreError>().is_some()),
            6 => assert!(source.downcast_ref::<ParseConstraintError>().is_some()),
            7 => assert!(source.downcast_ref::<SummaryError>().is_some()),
            _ => unreachable!(),
        }
    }
}
