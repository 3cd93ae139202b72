"""Score a classifier on held-out folders, through the same `classify` path the app uses.

    python -m bear_classifier.evaluate --model export.pkl --bears ../shared/data/bears-test --notbears ../shared/data/notbears-test
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from .data import OTHER, is_image_name, scan
from .inference import Classifier


def score_bears(clf: Classifier, folder: Path) -> dict:
    """Accuracy on class sub-folders; answering "none of these" counts as wrong."""
    items = scan(folder)
    wrong = []
    for it in items:
        pred = clf.classify(it.path.read_bytes())
        if pred.label != it.label:
            wrong.append(f"{it.path.parent.name}/{it.path.name} -> {pred.label or pred.message}")
    return {"images": len(items), "correct": len(items) - len(wrong),
            "accuracy": round(1 - len(wrong) / len(items), 4), "errors": wrong}


def score_negatives(clf: Classifier, folder: Path) -> dict:
    """Share of pictures answered "none of these" (only for models that have that class)."""
    paths = sorted(p for p in Path(folder).rglob("*") if p.is_file() and is_image_name(p))
    misses = []
    for p in paths:
        pred = clf.classify(p.read_bytes())
        if pred.label != OTHER:
            misses.append(f"{p.name} -> {pred.label or pred.message}")
    return {"images": len(paths), "rejected": len(paths) - len(misses),
            "rejection_rate": round(1 - len(misses) / len(paths), 4), "misses": misses}


def imagenet_baseline(classes=("black", "grizzly", "teddy"), arch: str = "lite0") -> Classifier:
    """The pretrained ImageNet head restricted to the bear rows (294, 295, 850): the bar to beat."""
    from .model import STATS, create_classifier

    return Classifier(create_classifier(list(classes), arch), list(classes), mean=STATS[arch][0], std=STATS[arch][1])


def report(model: Path, bears: Path, notbears: Path | None = None, baseline: bool = False) -> dict:
    """Scores of `model` (and optionally of the ImageNet-head baseline) on held-out folders."""
    clf = Classifier.load(model)
    out = {"model": str(model), "bears": score_bears(clf, bears)}
    if notbears:
        out["notbears"] = score_negatives(clf, notbears)
    if baseline:
        out["baseline_imagenet_head"] = score_bears(imagenet_baseline(), bears)
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description="Score export.pkl (and the ImageNet-head baseline) on held-out folders.")
    p.add_argument("--model", type=Path, default=Path("export.pkl"))
    p.add_argument("--bears", type=Path, required=True, help="folder of class sub-folders")
    p.add_argument("--notbears", type=Path, help="folder of pictures showing none of the classes")
    p.add_argument("--baseline", action="store_true", help="also score the ImageNet-head baseline in this run")
    a = p.parse_args(argv)
    print(json.dumps(report(a.model, a.bears, a.notbears, a.baseline), indent=1))


if __name__ == "__main__":
    main()
