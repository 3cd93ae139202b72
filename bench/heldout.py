"""Held-out scores of export.pkl on the raw folder labels and the reviewed ones, with the
ImageNet-head baseline in the same run. The photos are the published held-out folders
(data/bears-test, data/notbears-test: fetched when missing) or any folders you name.

    .venv/bin/python bench/heldout.py [--model export.pkl] [--bears DIR] [--notbears DIR]     # prints JSON
"""
import argparse
import json
from pathlib import Path

from bear_classifier.data import DataError
from bear_classifier.evaluate import reviewed_labels, report
from bear_classifier.manifest import MANIFESTS
from bear_classifier.published import locate


def main():
    p = argparse.ArgumentParser()
    p.add_argument("model", nargs="?", type=Path, default=Path("export.pkl"))
    p.add_argument("--bears", type=Path, default=Path("data/bears-test"))
    p.add_argument("--notbears", type=Path, default=Path("data/notbears-test"))
    a = p.parse_args()
    try:
        bears, notbears = locate(a.bears), locate(a.notbears)
    except DataError as e:
        raise SystemExit(f"error: {e}")
    out = report(a.model, bears, notbears, reviewed_labels(MANIFESTS / "bears-test.csv"), baseline=True)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
