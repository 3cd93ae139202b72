"""Score a classifier on held-out folders, through the same `classify` path the app uses, on the
folder labels and the reviewed ones, next to the ImageNet-head baseline (`make evaluate`).

    python -m bear_classifier.training.evaluate [--model export.pkl] [--bears data/bears-test] [--notbears data/notbears-test] [--baseline]
"""
from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

from ..app.classifier import Classifier, Transform
from ..core import BEARS, OTHER, DataError, ModelError, fail
from ..photos.manifest import MANIFESTS
from ..photos.published import locate
from .adapters import load_classifier, torch_classifier
from .cache import is_image_name, scan

EXCLUDE = "exclude"  # a reviewed label: the photo shows both classes, or its species can't be told


def reviewed_labels(manifest: Path) -> dict[str, str]:
    """file -> label after review (a class, OTHER, or EXCLUDE) from a manifest's `reviewed` column."""
    with open(manifest, newline="", encoding="utf-8") as f:
        return {row["file"]: row["reviewed"] for row in csv.DictReader(f) if row.get("reviewed")}


def score_bears(clf: Classifier, folder: Path, reviewed: dict[str, str] | None = None) -> dict:
    """Accuracy on class sub-folders ("none of these" counts as wrong), and, given `reviewed`
    labels, the accuracy on those too (EXCLUDE rows left out; OTHER is then the right answer)."""
    items = scan(folder)
    answers = {f"{it.path.parent.name}/{it.path.name}": clf.classify(it.path.read_bytes()) for it in items}
    out = _score(answers, {name: name.split("/")[0] for name in answers})
    if reviewed is not None:
        truth = {name: reviewed.get(name, name.split("/")[0]) for name in answers}
        out["reviewed"] = _score({n: p for n, p in answers.items() if truth[n] != EXCLUDE}, truth)
    return out


def _score(answers: dict, truth: dict[str, str]) -> dict:
    wrong = [f"{name} -> {pred.label or pred.message}" for name, pred in answers.items() if pred.label != truth[name]]
    return {"images": len(answers), "correct": len(answers) - len(wrong),
            "accuracy": round(1 - len(wrong) / len(answers), 4), "errors": wrong}


def score_negatives(clf: Classifier, folder: Path) -> dict:
    """Share of pictures answered "none of these" (only for models that have that class)."""
    paths = sorted(p for p in Path(folder).rglob("*") if p.is_file() and is_image_name(p))
    if not paths:
        raise DataError(f"no images found in {folder}")
    misses = []
    for p in paths:
        pred = clf.classify(p.read_bytes())
        if pred.label != OTHER:
            misses.append(f"{p.name} -> {pred.label or pred.message}")
    return {"images": len(paths), "rejected": len(paths) - len(misses),
            "rejection_rate": round(1 - len(misses) / len(paths), 4), "misses": misses}


def imagenet_baseline(classes=tuple(sorted(BEARS)), arch: str = "lite0") -> Classifier:
    """The pretrained ImageNet head restricted to the bear rows (294, 295, 850): the bar to beat."""
    from .archs import create_classifier, mean_std

    mean, std = mean_std(arch)
    return torch_classifier(create_classifier(list(classes), arch), list(classes), Transform(mean=mean, std=std))


def report(model: Path, bears: Path, notbears: Path | None = None, reviewed: dict[str, str] | None = None,
           baseline: bool = False) -> dict:
    """Scores of `model` (and optionally of the ImageNet-head baseline) on held-out folders."""
    clf = load_classifier(model)
    out = {"model": str(model), "bears": score_bears(clf, bears, reviewed)}
    if notbears:
        out["notbears"] = score_negatives(clf, notbears)
    if baseline:
        out["baseline_imagenet_head"] = score_bears(imagenet_baseline(), bears, reviewed)
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description="Score export.pkl (and the ImageNet-head baseline) on held-out folders.")
    p.add_argument("--model", type=Path, default=Path("export.pkl"))
    p.add_argument("--bears", type=Path, default=Path("data/bears-test"),
                   help="folder of class sub-folders (default: the published held-out photos, fetched when missing)")
    p.add_argument("--notbears", type=Path, default=Path("data/notbears-test"),
                   help="folder of pictures showing none of the classes")
    p.add_argument("--reviewed", type=Path, default=MANIFESTS / "bears-test.csv",
                   help="manifest with a 'reviewed' label column")
    p.add_argument("--baseline", action="store_true", help="also score the ImageNet-head baseline in this run")
    a = p.parse_args(argv)
    try:
        bears, notbears = locate(a.bears), locate(a.notbears)
        out = report(a.model, bears, notbears, reviewed_labels(a.reviewed), a.baseline)
    except (DataError, ModelError, OSError) as e:
        fail(str(e))
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
