"""`python -m bench [NAME ...]`: run benchmarks with their default arguments (all of them when no
NAME is given), each writing its results to bench/results/ (bench/runner.py).
`python -m bench --table` rewrites the table of every target in docs/benchmarks.md from those files."""

import importlib
import sys

from bench.runner import ROOT, run, table

# In the order `make bench` runs them: the quick ones first.
BENCHMARKS = ["download", "data", "inference", "evaluate", "pointing", "downscale", "train"]
BENCHMARKS += ["app", "phone", "load", "faults", "room"]  # the browser's
DOCS = ROOT / "docs" / "benchmarks.md"
BEGIN, END = "<!-- the targets: python -m bench --table -->\n", "<!-- end of the targets -->\n"


def write_table() -> None:
    text = DOCS.read_text()
    head, rest = text.split(BEGIN)
    _, tail = rest.split(END)
    DOCS.write_text(head + BEGIN + table() + END + tail)


def main(names: list[str]) -> None:
    if names == ["--table"]:
        return write_table()
    unknown = sorted(set(names) - set(BENCHMARKS))
    if unknown:
        sys.exit(f"error: no benchmark named {', '.join(unknown)}; there are: {', '.join(BENCHMARKS)}")
    for name in names or BENCHMARKS:
        run(importlib.import_module(f"bench.{name}"), [])


if __name__ == "__main__":
    main(sys.argv[1:])
