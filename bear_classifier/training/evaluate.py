"""Score a model on held-out folders, through the same `classify` path the app uses, on the
folder labels and the reviewed ones: its int8 copy (the app's export.onnx) and its float32 copy
side by side, how many answers of each kind (sure, not sure, none of these) each gives and how
many of those are right, every photo whose answer differs between them, and the ImageNet-head
baseline (`make evaluate`).

    python -m bear_classifier.training.evaluate [--model export.pkl] [--bears data/bears-test]
        [--notbears data/notbears-test] [--baseline]
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

from ..app.classifier import NONE_OF_THESE, NOT_SURE, SURE, Classifier, Prediction, Transform
from ..core import BEARS, OTHER, DataError, ModelError, fail
from ..photos.manifest import MANIFESTS
from ..photos.published import download_if_published
from .adapters import load_classifier, torch_classifier
from .cache import is_image_name, scan
from .export import float32_copy

EXCLUDE = "exclude"  # a reviewed label: the photo shows both classes, or its species can't be told


def reviewed_labels(manifest: Path) -> dict[str, str]:
    """file -> label after review (a class, OTHER, or EXCLUDE) from a manifest's `reviewed` column."""
    with open(manifest, newline="", encoding="utf-8") as f:
        return {row["file"]: row["reviewed"] for row in csv.DictReader(f) if row.get("reviewed")}


def bear_answers(clf: Classifier, folder: Path) -> dict[str, Prediction]:
    """The app's answer to every photo of a folder of class sub-folders, keyed `class/file`."""
    return {f"{it.path.parent.name}/{it.path.name}": clf.classify(it.path.read_bytes()) for it in scan(folder)}


def negative_answers(clf: Classifier, folder: Path) -> dict[str, Prediction]:
    """The app's answer to every picture of a folder of pictures that show none of the classes."""
    paths = sorted(p for p in Path(folder).rglob("*") if p.is_file() and is_image_name(p))
    if not paths:
        raise DataError(f"no images found in {folder}")
    return {p.name: clf.classify(p.read_bytes()) for p in paths}


def score_bears(answers: dict[str, Prediction], reviewed: dict[str, str] | None = None) -> dict:
    """Accuracy of `bear_answers` on their folder labels ("none of these" counts as wrong), and,
    given `reviewed` labels, on those too (EXCLUDE rows left out; OTHER is then the right answer)."""
    out = _score(answers, {name: name.split("/")[0] for name in answers})
    if reviewed is not None:
        truth = {name: reviewed.get(name, name.split("/")[0]) for name in answers}
        out["reviewed"] = _score({n: p for n, p in answers.items() if truth[n] != EXCLUDE}, truth)
    return out


def _score(answers: dict, truth: dict[str, str]) -> dict:
    wrong = [f"{name} -> {pred.label or pred.message}" for name, pred in answers.items() if pred.label != truth[name]]
    return {
        "images": len(answers),
        "correct": len(answers) - len(wrong),
        "accuracy": round(1 - len(wrong) / len(answers), 4),
        "errors": wrong,
        "kinds": kinds(answers, truth),
        "not_sure": [f"{name}: {pred.message}" for name, pred in answers.items() if pred.kind == NOT_SURE],
    }


def kinds(answers: dict[str, Prediction], truth: dict[str, str]) -> dict:
    """How many answers are of each kind (sure, not sure, none of these) and how many of those name
    the `truth` (a not-sure answer names its most probable class)."""
    return {
        kind: {
            "answers": sum(p.kind == kind for p in answers.values()),
            "right": sum(p.kind == kind and p.label == truth[name] for name, p in answers.items()),
        }
        for kind in (SURE, NOT_SURE, NONE_OF_THESE)
    }


def score_negatives(answers: dict[str, Prediction]) -> dict:
    """Share of `negative_answers` that are "none of these" (only for models that have that class)."""
    misses = [f"{name} -> {p.label or p.message}" for name, p in answers.items() if p.label != OTHER]
    return {
        "images": len(answers),
        "rejected": len(answers) - len(misses),
        "rejection_rate": round(1 - len(misses) / len(answers), 4),
        "misses": misses,
        "kinds": kinds(answers, dict.fromkeys(answers, OTHER)),
    }


def differences(a: dict[str, Prediction], b: dict[str, Prediction], names: tuple[str, str]) -> dict:
    """Where two copies of a model answer the same photos differently: every photo whose label
    differs, every photo whose kind of answer differs, and the largest difference of any probability."""

    def changed(attr: str) -> list[str]:
        return [
            f"{k}: {names[0]} {a[k].label} {a[k].kind} ({a[k].probability:.3f}), "
            f"{names[1]} {b[k].label} {b[k].kind} ({b[k].probability:.3f})"
            for k in a
            if getattr(a[k], attr) != getattr(b[k], attr)
        ]

    largest = max((abs(a[k].probs[c] - b[k].probs[c]) for k in a if a[k].ok for c in a[k].probs), default=0.0)
    return {
        "labels_changed": changed("label"),
        "kinds_changed": changed("kind"),
        "largest_probability_difference": round(largest, 4),
    }


def imagenet_baseline(classes=tuple(sorted(BEARS)), arch: str = "lite0") -> Classifier:
    """The pretrained ImageNet head restricted to the bear rows (294, 295, 850): the bar to beat."""
    from .archs import create_classifier, mean_std

    mean, std = mean_std(arch)
    return torch_classifier(create_classifier(list(classes), arch), list(classes), Transform(mean=mean, std=std))


def report(
    model: Path,
    bears: Path,
    notbears: Path | None = None,
    reviewed: dict[str, str] | None = None,
    baseline: bool = False,
) -> dict:
    """Scores of the app's copy of `model` (export.onnx: int8) and of its float32 copy (made here
    from the export) side by side, every photo they answer differently, and optionally the scores
    of the ImageNet-head baseline."""
    copies = {"int8": load_classifier(model), "float32": float32_copy(model.with_suffix(".pkl"))}
    out = {"model": str(model), **{f"{name}_notice": c.notice for name, c in copies.items() if c.notice}}
    answers = {}
    for name, clf in copies.items():
        answers[name] = {"bears": bear_answers(clf, bears)}
        out[name] = {"bears": score_bears(answers[name]["bears"], reviewed)}
        if notbears:
            answers[name]["notbears"] = negative_answers(clf, notbears)
            out[name]["notbears"] = score_negatives(answers[name]["notbears"])
    out["int8_vs_float32"] = {
        part: differences(answers["int8"][part], answers["float32"][part], ("int8", "float32"))
        for part in answers["int8"]
    }
    if baseline:
        out["baseline_imagenet_head"] = score_bears(bear_answers(imagenet_baseline(), bears), reviewed)
    return out


def main(argv=None):
    p = argparse.ArgumentParser(
        description="Score export.pkl's int8 and float32 copies (and the ImageNet-head baseline) on held-out folders."
    )
    p.add_argument("--model", type=Path, default=Path("export.pkl"))
    p.add_argument(
        "--bears",
        type=Path,
        default=Path("data/bears-test"),
        help="folder of class sub-folders (default: the published held-out photos, fetched when missing)",
    )
    p.add_argument(
        "--notbears",
        type=Path,
        default=Path("data/notbears-test"),
        help="folder of pictures showing none of the classes",
    )
    p.add_argument(
        "--reviewed", type=Path, default=MANIFESTS / "bears-test.csv", help="manifest with a 'reviewed' label column"
    )
    p.add_argument("--baseline", action="store_true", help="also score the ImageNet-head baseline in this run")
    a = p.parse_args(argv)
    try:
        bears, notbears = download_if_published(a.bears), download_if_published(a.notbears)
        out = report(a.model, bears, notbears, reviewed_labels(a.reviewed), a.baseline)
    except (DataError, ModelError, OSError) as e:
        fail(str(e))
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
