"""Full-training benchmark: verify + cache + train on every photo of the training folder,
from an empty cache, with the committed recipe and cleaning decisions.

    .venv/bin/python bench/train.py [--negatives]    # prints JSON; target: seconds <= 300
"""
import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bear_classifier.train import Recipe, train  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", type=Path, default=ROOT.parent / "shared/data/bears")
    p.add_argument("--negatives", nargs="?", type=Path, const=ROOT.parent / "shared/data/notbears")
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        _, facts = train(a.data, Path(tmp) / "export.pkl", a.negatives, ROOT / "cleaning.csv", Path(tmp) / "cache",
                         Recipe(), verbose=False)
        seconds = time.perf_counter() - t
        size = (Path(tmp) / "export.pkl").stat().st_size
    print(json.dumps({"data": str(a.data), "negatives": str(a.negatives), "seconds": round(seconds, 1),
                      "cache_seconds": facts["cache_seconds"], "train_seconds": facts["train_seconds"],
                      "images": sum(facts["counts"].values()), "valid_accuracy": facts["valid_accuracy"],
                      "export_mb": round(size / 1e6, 2), "torch_threads": facts["torch_threads"],
                      "target_seconds": 300, "meets_target": seconds <= 300}, indent=1))


if __name__ == "__main__":
    main()
