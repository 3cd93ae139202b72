"""`python -m bench [NAME ...]`: run benchmarks with their default arguments (all of them when no
NAME is given), each writing its results to bench/results/ (bench/runner.py)."""

import importlib
import sys

# In the order `make bench` runs them: the quick ones first.
BENCHMARKS = ["download", "data", "inference", "evaluate", "downscale", "train", "app", "phone", "load", "faults"]


def main(names: list[str]) -> None:
    from bench.runner import run

    unknown = sorted(set(names) - set(BENCHMARKS))
    if unknown:
        sys.exit(f"error: no benchmark named {', '.join(unknown)}; there are: {', '.join(BENCHMARKS)}")
    for name in names or BENCHMARKS:
        run(importlib.import_module(f"bench.{name}"), [])


if __name__ == "__main__":
    main(sys.argv[1:])
