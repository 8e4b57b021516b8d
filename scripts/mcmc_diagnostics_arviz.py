"""Writes pyro-runtime/src/infer/mcmc/fixtures/mcmc_diagnostics.json: fixed draws (a seeded
numpy RNG) and ArviZ's diagnostics on them, the reference of `pyro::infer::mcmc::diagnostics`.

    /tmp/anchors/bin/pip install arviz numpyro
    /tmp/anchors/bin/python scripts/mcmc_diagnostics_arviz.py

Per case (draws: chains x draws): az.rhat(method="rank"), az.ess(method="bulk"),
az.ess(method="tail"), az.mcse(method="mean"), az.mcse(method="quantile", prob=p) for
p in QUANTILES. For a single chain az.rhat returns NaN (it wants two chains); the case also
stores `rhat_split`, ArviZ's own rank-normalized split R-hat on the two halves, computed with
its private helpers (the value `split_rhat` returns for one chain). Non-finite numbers are
written as the strings "NaN", "Infinity", "-Infinity"; finite ones with repr (round-trip).

The summary cases hold sites of shape (chains, draws, *shape) and the table NumPyro 0.22's
print_summary prints for them with its n_eff and r_hat columns replaced by ArviZ's bulk ESS and
rank R-hat (the columns `summary_table` prints), followed by the divergence line of
MCMC.print_summary.
"""

import contextlib
import io
import json
import math
import os
import sys
import warnings

import numpy as np

warnings.filterwarnings("ignore")
import arviz as az  # noqa: E402
from arviz.stats import diagnostics as azd  # noqa: E402
import numpyro  # noqa: E402
import numpyro.diagnostics as nd  # noqa: E402

QUANTILES = [0.05, 0.5, 0.95]
OUT = os.path.join(
    os.path.dirname(os.path.abspath(__file__)),
    "..",
    "pyro-runtime",
    "src",
    "infer",
    "mcmc",
    "fixtures",
    "mcmc_diagnostics.json",
)


def num(x):
    x = float(x)
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    return x


def ar1(rng, chains, draws, rho, loc=0.0, scale=1.0):
    x = np.empty((chains, draws))
    x[:, 0] = rng.normal(size=chains) / math.sqrt(max(1 - rho * rho, 1e-12))
    for t in range(1, draws):
        x[:, t] = rho * x[:, t - 1] + rng.normal(size=chains)
    return loc + scale * x


def cases():
    rng = np.random.default_rng(20261204)
    out = {}
    out["iid_normal"] = rng.normal(size=(4, 500))
    out["ar1_0.5"] = ar1(rng, 4, 500, 0.5)
    out["ar1_0.9"] = ar1(rng, 4, 500, 0.9)
    out["ar1_0.99"] = ar1(rng, 4, 300, 0.99)
    out["ar1_neg_0.3"] = ar1(rng, 4, 500, -0.3)
    shifted = ar1(rng, 4, 400, 0.3)
    shifted[3] += 1.5
    out["shifted_chain"] = shifted
    scaled = rng.normal(size=(4, 400))
    scaled[0] *= 4.0
    out["scaled_chain"] = scaled
    out["cauchy"] = rng.standard_cauchy(size=(4, 500))
    out["cauchy_ar"] = np.tan(np.pi * (_ar_uniform(rng, 4, 400, 0.7) - 0.5))
    out["poisson_ties"] = rng.poisson(3.0, size=(4, 200)).astype(float)
    out["rounded_ties_odd"] = np.round(rng.normal(size=(2, 7)), 1)
    out["constant"] = np.full((4, 100), 2.5)
    one_const = rng.normal(size=(4, 100))
    one_const[2] = 0.25
    out["one_constant_chain"] = one_const
    out["constant_per_chain"] = np.repeat(np.arange(3.0)[:, None], 50, axis=1)
    out["single_chain_odd"] = ar1(rng, 1, 501, 0.6)
    out["single_chain_short"] = rng.normal(size=(1, 9))
    out["two_chains_5"] = rng.normal(size=(2, 5))
    out["four_draws"] = rng.normal(size=(4, 4))
    out["three_draws"] = rng.normal(size=(4, 3))
    out["many_chains_short"] = ar1(rng, 16, 20, 0.4)
    return out


def _ar_uniform(rng, chains, draws, rho):
    from scipy.stats import norm

    return norm.cdf(ar1(rng, chains, draws, rho) * math.sqrt(1 - rho * rho))


def single_chain_split_rhat(x):
    split = azd._split_chains(x)
    bulk = azd._rhat(azd._z_scale(split))
    tail = azd._rhat(azd._z_scale(abs(split - np.median(split))))
    return max(bulk, tail)


def diagnostics(x):
    d = {
        "rhat": num(az.rhat(x, method="rank")),
        "ess_bulk": num(az.ess(x, method="bulk")),
        "ess_tail": num(az.ess(x, method="tail")),
        "mcse_mean": num(az.mcse(x, method="mean")),
        "mcse_quantile": [num(az.mcse(x, method="quantile", prob=p)) for p in QUANTILES],
    }
    if x.shape[0] == 1:
        d["rhat_split"] = num(single_chain_split_rhat(x))
    return d


def elementwise(f, value):
    shape = value.shape[2:]
    out = np.empty(shape)
    for idx in np.ndindex(*shape):
        out[idx] = f(np.ascontiguousarray(value[(slice(None), slice(None)) + idx]))
    return out


def summary_case(rng):
    sites = {
        "mu": ar1(rng, 4, 300, 0.5, loc=1.0),
        "sigma": np.exp(ar1(rng, 4, 300, 0.2, scale=0.3)),
        "theta": np.stack(
            [ar1(rng, 4, 300, r, loc=l) for r, l in [(0.0, -2.0), (0.8, 0.5), (0.3, 10.0)]],
            axis=-1,
        ),
        "w": rng.normal(size=(4, 300, 2, 2)) + np.array([[0.0, 1.0], [2.0, 3.0]]),
    }
    # NumPyro's table with ArviZ's bulk ESS and rank R-hat as its last two columns.
    nd.effective_sample_size = lambda v: elementwise(lambda e: az.ess(e, method="bulk"), v)
    nd.split_gelman_rubin = lambda v: elementwise(lambda e: az.rhat(e, method="rank"), v)
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        nd.print_summary(sites, prob=0.9, group_by_chain=True)
        print("Number of divergences: {}".format(3))
    table = buf.getvalue()
    assert table.startswith("\n")
    table = table[1:].rstrip("\n")
    stats = nd.summary(sites, prob=0.9, group_by_chain=True)
    out = []
    for name, v in sites.items():
        s = stats[name]
        out.append(
            {
                "name": name,
                "shape": list(v.shape[2:]),
                "num_chains": v.shape[0],
                "num_draws": v.shape[1],
                # [chain][draw][element], row-major
                "values": [num(a) for a in v.reshape(-1)],
                "mean": [num(a) for a in np.ravel(s["mean"])],
                "std": [num(a) for a in np.ravel(s["std"])],
                "median": [num(a) for a in np.ravel(s["median"])],
                "hpdi_lo": [num(a) for a in np.ravel(s["5.0%"])],
                "hpdi_hi": [num(a) for a in np.ravel(s["95.0%"])],
                "n_eff": [num(a) for a in np.ravel(s["n_eff"])],
                "r_hat": [num(a) for a in np.ravel(s["r_hat"])],
            }
        )
    return {"sites": out, "num_divergences": 3, "table": table}


def main():
    rng_summary = np.random.default_rng(7)
    data = {
        "generator": "scripts/mcmc_diagnostics_arviz.py",
        "arviz": az.__version__,
        "numpyro": numpyro.__version__,
        "numpy": np.__version__,
        "quantiles": QUANTILES,
        "cases": [],
    }
    for name, x in cases().items():
        x = np.asarray(x, dtype=float)
        entry = {"name": name, "draws": [[num(a) for a in c] for c in x]}
        entry.update(diagnostics(x))
        data["cases"].append(entry)
    data["summary"] = summary_case(rng_summary)
    with open(OUT, "w") as f:
        json.dump(data, f, allow_nan=False, separators=(",", ":"))
        f.write("\n")
    for c in data["cases"]:
        print(c["name"], c["rhat"], c.get("rhat_split", ""), c["ess_bulk"], c["ess_tail"], c["mcse_mean"], c["mcse_quantile"], file=sys.stderr)
    print(data["summary"]["table"], file=sys.stderr)


if __name__ == "__main__":
    main()
