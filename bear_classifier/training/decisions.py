"""The cleaning decisions: drop or relabel a photo, keyed by the sha256 of its bytes.

Their file (the committed `cleaning.csv`, or `--decisions`) is written by the cleaner
(`clean.record_cleaner`, train.ipynb) and applied by the cache (`cache.build_cache`); the
photos themselves are never touched.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from ..core import DataError

COMMITTED = Path("cleaning.csv")  # the decisions behind the shipped model, used when present
FIELDS = ["sha256", "action", "label", "path", "reason"]


def read(path: Path | None) -> dict[str, dict]:
    """Decisions keyed by sha256: {'action': 'drop'|'relabel', 'label': ...}; {} without a file."""
    if path is None or not Path(path).exists():
        return {}
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(r for r in f if not r.startswith("#")))
    out = {}
    for n, row in enumerate(rows, 2):
        action = row.get("action", "").strip()
        if action not in ("drop", "relabel") or (action == "relabel" and not row.get("label")):
            raise DataError(f"{path}:{n}: action must be 'drop' or 'relabel' (with a label), got {action!r}")
        out[row["sha256"].strip()] = row
    return out


def write(path: Path, decisions: dict[str, dict]) -> None:
    """Write decisions sorted by path, so diffs stay readable."""
    rows = sorted(decisions.values(), key=lambda r: (r.get("path", ""), r["sha256"]))
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, FIELDS, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)


def from_args(args: argparse.Namespace) -> Path | None:
    """--decisions, else the committed cleaning.csv where there is one."""
    return args.decisions or (COMMITTED if COMMITTED.exists() else None)
