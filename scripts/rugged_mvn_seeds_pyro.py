#!/usr/bin/env python3
"""Pyro 1.9's AutoMultivariateNormal on the intro tutorial's rugged model: 1000 steps of
Adam(lr 0.02), Trace_ELBO, from seeds 0-7; prints the final loss and the posterior mean of each
latent (4000 guide draws), one line per seed, as examples/mvn_seed_sweep.rs does.

    python3 -m venv /tmp/anchors && /tmp/anchors/bin/pip install pyro-ppl torch
    /tmp/anchors/bin/python scripts/rugged_mvn_seeds_pyro.py

Reads examples/data/rugged_data.csv. Not needed by any test.
"""
import csv
import math
import os

import pyro
import pyro.distributions as dist
import torch

torch.set_num_threads(1)
HERE = os.path.dirname(os.path.abspath(__file__))


def load():
    rows = []
    path = os.path.join(HERE, "..", "examples", "data", "rugged_data.csv")
    with open(path, encoding="ISO-8859-1") as f:
        for r in csv.DictReader(f, delimiter="\t"):
            g = r["rgdppc_2000"].strip()
            if g and g.upper() != "NA":
                rows.append((float(r["cont_africa"]), float(r["rugged"]), math.log(float(g))))
    return torch.tensor(rows)


def model(is_cont_africa, ruggedness, log_gdp=None):
    a = pyro.sample("a", dist.Normal(0.0, 10.0))
    b_a = pyro.sample("bA", dist.Normal(0.0, 1.0))
    b_r = pyro.sample("bR", dist.Normal(0.0, 1.0))
    b_ar = pyro.sample("bAR", dist.Normal(0.0, 1.0))
    sigma = pyro.sample("sigma", dist.Uniform(0.0, 10.0))
    mean = a + b_a * is_cont_africa + b_r * ruggedness + b_ar * is_cont_africa * ruggedness
    with pyro.plate("data", len(ruggedness)):
        return pyro.sample("obs", dist.Normal(mean, sigma), obs=log_gdp)


def main():
    d = load()
    args = (d[:, 0], d[:, 1], d[:, 2])
    for seed in range(8):
        pyro.set_rng_seed(seed)
        pyro.clear_param_store()
        guide = pyro.infer.autoguide.AutoMultivariateNormal(model)
        svi = pyro.infer.SVI(model, guide, pyro.optim.Adam({"lr": 0.02}), pyro.infer.Trace_ELBO())
        for _ in range(1000):
            loss = svi.step(*args)
        with pyro.plate("samples", 4000, dim=-1):
            s = guide(d[:, 0], d[:, 1])
        means = "  ".join(f"{k} {s[k].mean():>7.4f}" for k in ["a", "bA", "bR", "bAR", "sigma"])
        print(f"seed {seed}: loss {loss:>7.2f}  {means}")


if __name__ == "__main__":
    main()
