//! The rugged data set and the models of Pyro's intro tutorial, shared by the
//! `bayesian_regression` example, the SVI bench and the regression tests.
#![allow(dead_code)] // each user takes what it needs

use pyro::prelude::*;
use pyro::PyroResult;

pub type Dev = pyro::DefaultDevice;
/// One value per nation.
pub type Data = Tensor<(usize,)>;

/// The columns the tutorial uses, for the 170 nations with a GDP figure.
pub struct Rugged {
    /// 1 for African nations.
    pub cont_africa: Data,
    /// Terrain ruggedness index.
    pub rugged: Data,
    /// log GDP per capita in 2000.
    pub log_gdp: Data,
}

impl Rugged {
    /// The arguments of the models: `(cont_africa, rugged, log_gdp)`.
    pub fn args(&self) -> (&Data, &Data, Option<&Data>) {
        (&self.cont_africa, &self.rugged, Some(&self.log_gdp))
    }
}

/// Reads the tab-separated, ISO-8859-1 file of the tutorial.
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
    let t = |v: Vec<f32>| Data::from_vec(v, (n,)).map_err(|e| format!("{path}: {e}"));
    Ok(Rugged {
        cont_africa: t(a)?,
        rugged: t(r)?,
        log_gdp: t(g)?,
    })
}

/// Maximum likelihood: every coefficient is a `param!`, the guide is empty.
#[model]
pub fn mle_model(africa: &Data, rugged: &Data, log_gdp: Option<&Data>) -> PyroResult<Data> {
    let a = param!("a", 0.0);
    let b_a = param!("bA", 0.0);
    let b_r = param!("bR", 0.0);
    let b_ar = param!("bAR", 0.0);
    let sigma = param!("sigma", 1.0, constraint = Constraint::Positive);
    let mean = a + b_a * africa + b_r * rugged + b_ar * africa * rugged;
    plate!("data", rugged.shape().0, {
        sample!("obs", Normal::new(&mean, &sigma), obs = log_gdp);
    });
    Ok(mean)
}

/// The guide of the maximum-likelihood model: nothing is latent.
#[guide(model = mle_model)]
pub fn empty_guide(_africa: &Data, _rugged: &Data, _log_gdp: Option<&Data>) -> PyroResult<()> {
    Ok(())
}

/// The Bayesian model. `log_gdp = None` makes "obs" latent (for prediction).
#[model]
pub fn model(africa: &Data, rugged: &Data, log_gdp: Option<&Data>) -> PyroResult<Data> {
    let a = sample!("a", Normal::new(0.0, 10.0));
    let b_a = sample!("bA", Normal::new(0.0, 1.0));
    let b_r = sample!("bR", Normal::new(0.0, 1.0));
    let b_ar = sample!("bAR", Normal::new(0.0, 1.0));
    let sigma = sample!("sigma", Uniform::new(0.0, 10.0));
    let mean = a + b_a * africa + b_r * rugged + b_ar * africa * rugged;
    plate!("data", rugged.shape().0, {
        sample!("obs", Normal::new(&mean, &sigma), obs = log_gdp);
    });
    Ok(mean)
}

/// The tutorial's hand-written mean-field guide.
#[guide(model = model)]
pub fn custom_guide(_africa: &Data, _rugged: &Data, _log_gdp: Option<&Data>) -> PyroResult<()> {
    let a_loc = param!("a_loc", 0.0);
    let a_scale = param!("a_scale", 1.0, constraint = Constraint::Positive);
    let sigma_loc = param!("sigma_loc", 1.0, constraint = Constraint::Positive);
    let weights_loc = param!("weights_loc", [0.1f32, -0.2, 0.05]);
    let weights_scale = param!(
        "weights_scale",
        [1.0f32; 3],
        constraint = Constraint::Positive
    );
    sample!("a", Normal::new(&a_loc, &a_scale));
    sample!(
        "bA",
        Normal::new(weights_loc.at::<0>(), weights_scale.at::<0>())
    );
    sample!(
        "bR",
        Normal::new(weights_loc.at::<1>(), weights_scale.at::<1>())
    );
    sample!(
        "bAR",
        Normal::new(weights_loc.at::<2>(), weights_scale.at::<2>())
    );
    sample!("sigma", Normal::new(&sigma_loc, 0.05));
    Ok(())
}

/// Ordinary least squares on the four regressors (normal equations, f64).
pub fn ols(d: &Rugged) -> [f64; 4] {
    let (a, r, y) = (
        d.cont_africa.to_vec().expect("data"),
        d.rugged.to_vec().expect("data"),
        d.log_gdp.to_vec().expect("data"),
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
