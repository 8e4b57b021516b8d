#!/usr/bin/env python3
"""Writes the scipy reference values the Rust tests check against.

Run from the repository root:  python3 scripts/gen_fixtures.py
Needs numpy and scipy (pip install numpy scipy). The output under pyro-runtime/fixtures/ is
committed; the tests themselves never need Python.

Distribution fixtures: one file per distribution, one line per case:
    p1 p2 ... ; x1 x2 ... ; log_prob
Parameters are in the order of the Rust constructor. Values are chosen to be exactly
representable in f32 (they are rounded through float32 before scipy sees them).
"""
import importlib
import os
import pkgutil
import sys

sys.path.insert(0, os.path.dirname(__file__))
import fixtures  # noqa: E402

if __name__ == "__main__":
    # Every module in scripts/fixtures/ with a generate() function writes its own files.
    for mod in sorted(m.name for m in pkgutil.iter_modules(fixtures.__path__)):
        m = importlib.import_module(f"fixtures.{mod}")
        if hasattr(m, "generate"):
            m.generate()
