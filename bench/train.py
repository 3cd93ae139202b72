"""Full training from an empty cache: verify and cache every photo of the training folder, train
with the committed recipe and cleaning decisions, export export.pkl and its int8 export.onnx."""

import tempfile
import time
from pathlib import Path

from bench.runner import ROOT, Result, Target, main, photos, training_set

TARGETS = [Target("seconds", 300)]


def arguments(parser):
    parser.add_argument("--data", type=Path, help="folder of class sub-folders (default: the published bears)")
    parser.add_argument("--negatives", type=Path, help="pictures of none of the classes (default: notbears)")


def run(args):
    training_set()
    from bear_classifier.training.recipe import Recipe
    from bear_classifier.training.train import train

    data, negatives = args.data or photos("bears"), args.negatives or photos("notbears")
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
    yield Result(
        {
            "data": str(data),
            "negatives": str(negatives),
            "seconds": round(seconds, 1),
            "images": sum(facts["counts"].values()),
            "export_mb": round(size / 1e6, 2),
            **{k: facts[k] for k in ("cache_seconds", "train_seconds", "valid_accuracy", "valid_loss")},
            **{k: facts[k] for k in ("other_threshold", "device", "torch_threads")},
        },
        TARGETS,
    )


if __name__ == "__main__":
    main()
