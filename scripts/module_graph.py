#!/usr/bin/env python3
"""Prints the graph of `crate::` imports between the top-level modules of pyro-runtime/src.

Usage: python3 scripts/module_graph.py [path/to/pyro-runtime/src]

A quick look for humans (run it on any commit to compare): test modules are cut at their
`#[cfg(test)]` line and comments skipped, so it approximates what
`cargo test -p pyro-runtime --test layers` checks exactly (that test parses the sources and
fails on an import that points up the layer table).
"""
import collections
import os
import re
import sys

ROOT_ITEMS = {"PyroError": "error", "PyroResult": "error", "enable_validation": "validation",
              "is_validation_enabled": "validation", "set_rng_seed": "rng", "sample": "primitives",
              "observe": "primitives", "site_dist": "primitives"}


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..",
                                                             "pyro-runtime", "src")
    edges = collections.defaultdict(set)
    for root, _, files in os.walk(src):
        for f in files:
            if not f.endswith(".rs") or "test" in f:
                continue
            path = os.path.join(root, f)
            top = os.path.relpath(path, src).split(os.sep)[0].removesuffix(".rs")
            for line in open(path, encoding="utf-8"):
                if line.lstrip().startswith("#[cfg(test)]"):
                    break
                if line.lstrip().startswith("//"):
                    continue
                for m in re.finditer(r"crate::(\w+)", line):
                    target = ROOT_ITEMS.get(m.group(1), m.group(1))
                    if target != top and top != "lib":
                        edges[top].add(target)
    for module in sorted(edges):
        print(f"{module} -> {', '.join(sorted(edges[module]))}")


if __name__ == "__main__":
    main()
