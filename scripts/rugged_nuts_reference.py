#!/usr/bin/env python3
"""A long NumPyro NUTS run on the rugged regression of Pyro's intro tutorial, the reference of
tests/mcmc_rugged.rs: 4 chains x 25,000 draws after 2,000 warmup, float64, seed 0.

    python3 -m venv /tmp/anchors && /tmp/anchors/bin/pip install numpyro jax jaxlib numpy
    /tmp/anchors/bin/python scripts/rugged_nuts_reference.py

Reads examples/data/rugged_data.csv; writes tests/fixtures/rugged_nuts.json (committed; the
tests never need Python): per latent site the posterior mean and sd, the bulk ESS of the run
and its Monte Carlo standard error of the mean (sd / sqrt(ESS)).
"""
import csv
import json
import math
import os

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import numpyro  # noqa: E402
import numpyro.distributions as dist  # noqa: E402
from numpyro.diagnostics import effective_sample_size, split_gelman_rubin  # noqa: E402
from numpyro.infer import MCMC, NUTS  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
CHAINS, WARMUP, DRAWS = 4, 2000, 25000


def load():
    rows = []
    path = os.path.join(HERE, "..", "examples", "data", "rugged_data.csv")
    with open(path, encoding="ISO-8859-1") as f:
        for r in csv.DictReader(f, delimiter="\t"):
            g = r["rgdppc_2000"].strip()
            if g and g.upper() != "NA":
                rows.append((float(r["cont_africa"]), float(r["rugged"]), math.log(float(g))))
    return np.array(rows)


def model(africa, rugged, log_gdp=None):
    a = numpyro.sample("a", dist.Normal(0.0, 10.0))
    b_a = numpyro.sample("bA", dist.Normal(0.0, 1.0))
    b_r = numpyro.sample("bR", dist.Normal(0.0, 1.0))
    b_ar = numpyro.sample("bAR", dist.Normal(0.0, 1.0))
    sigma = numpyro.sample("sigma", dist.Uniform(0.0, 10.0))
    mean = a + b_a * africa + b_r * rugged + b_ar * africa * rugged
    with numpyro.plate("data", len(rugged)):
        numpyro.sample("obs", dist.Normal(mean, sigma), obs=log_gdp)


def main():
    d = jnp.array(load())
    mcmc = MCMC(NUTS(model), num_warmup=WARMUP, num_samples=DRAWS, num_chains=CHAINS,
                chain_method="sequential", progress_bar=False)
    mcmc.run(jax.random.PRNGKey(0), d[:, 0], d[:, 1], d[:, 2])
    s = mcmc.get_samples(group_by_chain=True)
    sites = {}
    for k in ["a", "bA", "bR", "bAR", "sigma"]:
        x = np.asarray(s[k])
        ess = float(effective_sample_size(x))
        sd = float(x.std(ddof=1))
        sites[k] = {"mean": float(x.mean()), "sd": sd, "ess": ess, "mcse_mean": sd / math.sqrt(ess),
                    "r_hat": float(split_gelman_rubin(x))}
    out = {
        "generator": "scripts/rugged_nuts_reference.py (run: /tmp/anchors/bin/python scripts/rugged_nuts_reference.py)",
        "versions": {"numpyro": numpyro.__version__, "jax": jax.__version__, "numpy": np.__version__},
        "method": f"numpyro NUTS (float64), {CHAINS} chains x {DRAWS} draws after {WARMUP} warmup, "
                  "target_accept 0.8, PRNGKey(0), chain_method sequential",
        "num_divergences": int(mcmc.get_extra_fields()["diverging"].sum()),
        "sites": sites,
    }
    path = os.path.join(HERE, "..", "tests", "fixtures", "rugged_nuts.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
