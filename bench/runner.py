"""The one runner every benchmark uses: its arguments, its prerequisites, its targets, and its
results kept as files.

A benchmark is a module of `bench/` with a docstring (its first paragraph says what it measures),
`arguments(parser)` (optional) and `run(args)`, which yields one `Result` per variant (int8 and
float32 apart, say), or is a coroutine function that returns them (the browser's benchmarks).
The runner judges each result's targets, adds the machine it ran on, and writes it to
`bench/results/NAME.json` (`NAME-VARIANT.json`), which is committed: a figure in the docs names
the file it comes from, and a re-measure is a new file.

    python -m bench                 # every benchmark with its default arguments (make bench)
    python -m bench phone faults    # some of them (make bench NAME=phone)
    python -m bench.phone --routes voila    # one, with its own arguments
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import inspect
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
# "Today's code" of the same-run comparisons: main before issues 22-24 (the phone's page ready), and the
# app before the room of issue 24 (with issue 23's one tap, which the harness drives: answer times).
BEFORE = "b4c499d"
BEFORE_ROOM = "d579a11"


class Skip(Exception):
    """A prerequisite is missing (photos, chromium, the training set): the benchmark is skipped,
    and str() says why in one line."""


@dataclass(frozen=True)
class Target:
    """`figure` (a key of the result's figures; dots reach into nested ones) at most `limit`,
    or at least it when `at_least`."""

    figure: str
    limit: float
    at_least: bool = False

    def value(self, figures: dict):
        for key in self.figure.split("."):
            figures = figures.get(key) if isinstance(figures, dict) else None
        return figures

    def judge(self, figures: dict) -> dict:
        value = self.value(figures)
        met = (
            None
            if not isinstance(value, (int, float))
            else value >= self.limit
            if self.at_least
            else value <= self.limit
        )
        return {
            "figure": self.figure,
            "limit": f"{'>=' if self.at_least else '<='} {self.limit}",
            "value": value,
            "met": met,
        }


@dataclass
class Result:
    """One variant's figures (None: the benchmark's only result) and the targets they are judged on."""

    figures: dict
    targets: list[Target] = field(default_factory=list)
    variant: str | None = None


def machine() -> dict:
    """What the figures depend on: cores, CPU, memory, Python, the load when the run began, date, commit."""
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in _read("/proc/cpuinfo").splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory = next(
        (int(line.split()[1]) for line in _read("/proc/meminfo").splitlines() if line.startswith("MemTotal")), 0
    )
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "memory_gb": round(memory / 2**20, 1),
        "python": platform.python_version(),
        "load_1min": round(os.getloadavg()[0], 1),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "commit": _commit(),
    }


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def _commit() -> str | None:
    def git(*args):
        r = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
        return r.stdout.strip() if r.returncode == 0 else None

    commit = git("rev-parse", "--short", "HEAD")
    if commit and git("status", "--porcelain", "--untracked-files=no"):
        commit += " (with uncommitted changes)"
    return commit


def timings(fns: dict[str, Callable[[], object]], n: int) -> dict[str, dict]:
    """p50 and p95 in ms of each function, called in turn after one warm-up call each
    (interleaved: a busy machine slows them all alike)."""
    times = {name: [] for name in fns}
    for fn in fns.values():
        fn()
    for _ in range(n):
        for name, fn in fns.items():
            t = time.perf_counter()
            fn()
            times[name].append((time.perf_counter() - t) * 1000)
    return {
        name: {"p50_ms": round(statistics.median(v), 2), "p95_ms": round(sorted(v)[int(0.95 * (n - 1))], 2), "n": n}
        for name, v in times.items()
    }


def spread(values: Iterable[float], digits: int = 2) -> dict | None:
    """p50, p95 and max of some seconds (or any figures), or None when there are none."""
    values = sorted(values)
    if not values:
        return None
    p95 = values[int(0.95 * (len(values) - 1))]
    return {k: round(v, digits) for k, v in (("p50", statistics.median(values)), ("p95", p95), ("max", values[-1]))}


def photos(name: str) -> Path:
    """The published photo folder `name` where the tests find it (harness.photos), or Skip."""
    from harness.photos import photo_folder

    folder = photo_folder(name)
    if folder is None:
        raise Skip(f"no photos of {name}: run `make data` (or put the shared photos beside the repository)")
    return folder


def chromium() -> None:
    """Skip unless Debian's chromium is there."""
    from harness.browser import CHROMIUM

    if not Path(CHROMIUM).exists():
        raise Skip(f"no chromium at {CHROMIUM} (apt-get install chromium)")


def training_set() -> None:
    """Skip unless torch and fastai (the training set: `make install-train`) are installed."""
    import importlib.util

    missing = [m for m in ("torch", "fastai", "timm") if importlib.util.find_spec(m) is None]
    if missing:
        raise Skip(f"the training set is not installed ({', '.join(missing)}): make install-train")


def write(name: str, result: Result, args: dict, out: Path = RESULTS) -> tuple[Path, list[dict]]:
    """Judge `result` and write it, with the machine and the arguments, to OUT/NAME[-VARIANT].json;
    the file and the judged targets."""
    judged = [t.judge(result.figures) for t in result.targets]
    record = {
        "benchmark": name,
        "variant": result.variant,
        "args": args,
        "machine": machine(),
        "targets": judged,
        "targets_met": all(t["met"] for t in judged),
        "figures": result.figures,
    }
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}{'-' + result.variant if result.variant else ''}.json"
    path.write_text(json.dumps(record, indent=1, default=str) + "\n")
    return path, judged


def table(results: Path = RESULTS) -> str:
    """A markdown table of every target of every result file: the figure, its value, the target, met
    or not, and when and where it was measured (docs/benchmarks.md holds it: `python -m bench --table`)."""
    rows = ["| result file | figure | value | target | met | measured |", "| --- | --- | --- | --- | --- | --- |"]
    for path in sorted(results.glob("*.json")):
        record = json.loads(path.read_text())
        m = record["machine"]
        when = f"{m['date'][:10]}, {m['cores']} cores, load {m['load_1min']}"
        for t in record["targets"]:
            met = {True: "yes", False: "**no**", None: "no figure"}[t["met"]]
            rows.append(
                f"| `{path.relative_to(ROOT)}` | {t['figure']} | {t['value']} | {t['limit']} | {met} | {when} |"
            )
    return "\n".join(rows) + "\n"


def run(module: ModuleType, argv: list[str] | None = None, out: Path = RESULTS) -> list[Path]:
    """Run the benchmark `module` with `argv` (its defaults when None); the result files written.
    A missing prerequisite prints one line and writes nothing."""
    name = Path(module.__file__).stem
    parser = argparse.ArgumentParser(prog=f"python -m bench.{name}", description=module.__doc__.split("\n\n")[0])
    if hasattr(module, "arguments"):
        module.arguments(parser)
    args = parser.parse_args(argv)
    written = []
    try:
        results = module.run(args)
        for result in asyncio.run(results) if inspect.iscoroutine(results) else results:
            path, judged = write(name, result, vars(args), out)
            unmet = [t["figure"] for t in judged if not t["met"]]
            verdict = f"targets not met: {', '.join(unmet)}" if unmet else "every target met" if result.targets else ""
            shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
            print(
                f"{name}{' ' + result.variant if result.variant else ''}: {shown}" + (f"; {verdict}" if verdict else "")
            )
            written.append(path)
    except Skip as e:
        print(f"{name}: skipped: {e}")
    return written


def main() -> None:
    """`python -m bench.NAME [args]`: run the module run as __main__, with the command's arguments."""
    run(sys.modules["__main__"], sys.argv[1:])
