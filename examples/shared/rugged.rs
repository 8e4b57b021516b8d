//! The rugged data set and the models of Pyro's intro tutorial, shared by the
//! `bayesian_regression` example, the SVI bench and the regression tests.
#![allow(dead_code)] // each user takes what it needs

use pyro::prelude::*;
use pyro::PyroResult;

pub type Dev = pyro::DefaultDevice;
pub type T = DynTensor<Dev>;

/// The columns the tutorial uses, for the 170 nations with a GDP figure.
pub struct Rugged {
    pub cont_africa: T,
    pub rugged: T,
    pub log_gdp: T,
}

pub fn load(path: &str) -> Result<Rugged, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
    // ISO-8859-1: every byte is one char.
    let text: String = bytes.iter().map(|&b| b as char).collect();
    let mut lines = text.lines();
    let header: Vec<&str> = lines
        .next()
        .ok_or(format!("{path}: empty file"))?
        .split('\t')
        .collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .ok_or(format!("{path}: no column `{name}`"))
    };
    let (ia, ir, ig) = (col("cont_africa")?, col("rugged")?, col("rgdppc_2000")?);
    let (mut a, mut r, mut g) = (vec![], vec![], vec![]);
    for (i, line) in lines.enumerate() {
        let f: Vec<&str> = line.split('\t').collect();
        let num = |k: usize| -> Option<f32> { f.get(k)?.trim().parse::<f32>().ok() };
        let row = i + 2;
        match (num(ia), num(ir), num(ig)) {
            (Some(ca), Some(ru), Some(gdp)) if gdp.is_finite() && gdp > 0.0 => {
                a.push(ca);
                r.push(ru);
                g.push(gdp.ln());
            }
            (None, _, _) | (_, None, _) => {
                return Err(format!("{path}:{row}: unreadable cont_africa or rugged"))
            }
            _ => {} // no GDP figure: dropped, as in the tutorial
        }
    }
    let n = g.len();
    let t = |v: Vec<f32>| DynTensor::from_vec(v, &[n]).map_err(|e| e.to_string());
    Ok(Rugged {
        cont_africa: t(a)?,
        rugged: t(r)?,
        log_gdp: t(g)?,
    })
}

/// `a + bA * africa + bR * rugged + bAR * africa * rugged`.
pub fn linear(d: &Rugged, a: &T, b_a: &T, b_r: &T, b_ar: &T) -> PyroResult<T> {
    let inter = d.cont_africa.mul(&d.rugged)?;
    Ok(a.add(&b_a.mul(&d.cont_africa)?)?
        .add(&b_r.mul(&d.rugged)?)?
        .add(&b_ar.mul(&inter)?)?)
}

/// Maximum likelihood: every coefficient is a `param`, the guide is empty.
pub fn mle_model(d: &Rugged) -> PyroResult<T> {
    let p = |name: &str| pyro::param(name, DynTensor::scalar(0.0), Constraint::Real);
    let (a, b_a, b_r, b_ar) = (p("a")?, p("bA")?, p("bR")?, p("bAR")?);
    let sigma = pyro::param("sigma", DynTensor::scalar(1.0), Constraint::Positive)?;
    let mean = linear(d, &a, &b_a, &b_r, &b_ar)?;
    pyro::plate("data", d.log_gdp.numel())
        .run(|_| pyro::observe("obs", Normal::new(&mean, &sigma), d.log_gdp.clone()))
}

pub fn empty_guide(_: &Rugged) -> PyroResult<()> {
    Ok(())
}

/// The Bayesian model. `log_gdp = None` makes "obs" latent (for prediction).
pub fn model(d: &Rugged, log_gdp: Option<&T>) -> PyroResult<T> {
    let a = pyro::sample("a", Normal::new(0.0, 10.0))?;
    let b_a = pyro::sample("bA", Normal::new(0.0, 1.0))?;
    let b_r = pyro::sample("bR", Normal::new(0.0, 1.0))?;
    let b_ar = pyro::sample("bAR", Normal::new(0.0, 1.0))?;
    let sigma = pyro::sample("sigma", Uniform::new(0.0, 10.0))?;
    let mean = linear(d, &a, &b_a, &b_r, &b_ar)?;
    pyro::plate("data", d.log_gdp.numel()).run(|_| {
        pyro::sample_with(
            "obs",
            Normal::new(&mean, &sigma),
            pyro::primitives::SampleOptions {
                obs: log_gdp.cloned(),
                ..Default::default()
            },
        )
    })
}

/// The tutorial's hand-written mean-field guide.
pub fn custom_guide(_: &Rugged, _: Option<&T>) -> PyroResult<()> {
    let a_loc = pyro::param("a_loc", DynTensor::scalar(0.0), Constraint::Real)?;
    let a_scale = pyro::param("a_scale", DynTensor::scalar(1.0), Constraint::Positive)?;
    let sigma_loc = pyro::param("sigma_loc", DynTensor::scalar(1.0), Constraint::Positive)?;
    let w_loc = pyro::param(
        "weights_loc",
        DynTensor::from_vec(vec![0.1, -0.2, 0.05], &[3])?,
        Constraint::Real,
    )?;
    let w_scale = pyro::param("weights_scale", DynTensor::ones(&[3]), Constraint::Positive)?;
    let pick = |t: &T, i: usize| -> PyroResult<T> { Ok(t.slice_flat(i, i + 1)?.reshape(&[])?) };
    pyro::sample("a", Normal::new(&a_loc, &a_scale))?;
    pyro::sample("bA", Normal::new(&pick(&w_loc, 0)?, &pick(&w_scale, 0)?))?;
    pyro::sample("bR", Normal::new(&pick(&w_loc, 1)?, &pick(&w_scale, 1)?))?;
    pyro::sample("bAR", Normal::new(&pick(&w_loc, 2)?, &pick(&w_scale, 2)?))?;
    pyro::sample("sigma", Normal::new(&sigma_loc, 0.05))?;
    Ok(())
}

/// Ordinary least squares on the four regressors (normal equations, f64).
pub fn ols(d: &Rugged) -> [f64; 4] {
    let (a, r, y) = (
        d.cont_africa.to_vec(),
        d.rugged.to_vec(),
        d.log_gdp.to_vec(),
    );
    let rows: Vec<[f64; 4]> = a
        .iter()
        .zip(&r)
        .map(|(&a, &r)| [1.0, a as f64, r as f64, (a * r) as f64])
        .collect();
    let mut xtx = [[0.0f64; 4]; 4];
    let mut xty = [0.0f64; 4];
    for (row, &yi) in rows.iter().zip(&y) {
        for i in 0..4 {
            xty[i] += row[i] * yi as f64;
            for j in 0..4 {
                xtx[i][j] += row[i] * row[j];
            }
        }
    }
    // Gauss-Jordan elimination.
    let mut m: Vec<Vec<f64>> = (0..4)
        .map(|i| {
            let mut v = xtx[i].to_vec();
            v.push(xty[i]);
            v
        })
        .collect();
    for c in 0..4 {
        let p = (c..4)
            .max_by(|&i, &j| m[i][c].abs().total_cmp(&m[j][c].abs()))
            .unwrap_or(c);
        m.swap(c, p);
        let pivot = m[c].clone();
        for (i, row) in m.iter_mut().enumerate() {
            if i != c {
                let f = row[c] / pivot[c];
                for (x, p) in row.iter_mut().zip(&pivot).skip(c) {
                    *x -= f * p;
                }
            }
        }
    }
    [
        m[0][4] / m[0][0],
        m[1][4] / m[1][1],
        m[2][4] / m[2][2],
        m[3][4] / m[3][3],
    ]
}

/// The data file shipped with the examples.
pub fn data_path() -> &'static str {
    concat!(env!("CARGO_MANIFEST_DIR"), "/examples/data/rugged_data.csv")
}
