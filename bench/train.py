"""Full-training benchmark: verify + cache + train on every photo of the training folder,
from an empty cache, with the committed recipe and cleaning decisions.

    .venv/bin/python -m bench.train [--data DIR] [--negatives [DIR]]    # prints JSON; target: seconds <= 300
"""

import argparse
import json
import tempfile
import time
from pathlib import Path

from bear_classifier.photos.published import download_if_published
from bear_classifier.training.recipe import Recipe
from bear_classifier.training.train import train

ROOT = Path(__file__).resolve().parents[1]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", type=Path, default=Path("data/bears"))
    p.add_argument("--negatives", nargs="?", type=Path, const=Path("data/notbears"))
    a = p.parse_args()
    data, negatives = download_if_published(a.data), a.negatives and download_if_published(a.negatives)
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        _, facts = train(
            data,
            Path(tmp) / "export.pkl",
            negatives,
            ROOT / "cleaning.csv",
            Path(tmp) / "cache",
            Recipe(),
            verbose=False,
        )
        seconds = time.perf_counter() - t
        size = (Path(tmp) / "export.pkl").stat().st_size
    print(
        json.dumps(
            {
                "data": str(data),
                "negatives": str(negatives),
                "seconds": round(seconds, 1),
                "cache_seconds": facts["cache_seconds"],
                "train_seconds": facts["train_seconds"],
                "images": sum(facts["counts"].values()),
                "valid_accuracy": facts["valid_accuracy"],
                "valid_loss": facts["valid_loss"],
                "other_threshold": facts["other_threshold"],
                "export_mb": round(size / 1e6, 2),
                "device": facts["device"],
                "torch_threads": facts["torch_threads"],
                "target_seconds": 300,
                "meets_target": seconds <= 300,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
