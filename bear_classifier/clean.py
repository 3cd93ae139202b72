"""Find label suspects automatically (confident learning on out-of-fold predictions).

Each image is embedded once by the frozen pretrained backbone; a logistic
regression is fitted on 4 folds and predicts the 5th, so every image is judged by
a model that never saw its label. Images whose own label gets a low out-of-fold
probability are the suspects: review them (train.ipynb shows them) and record the
decision, keyed by sha256, in cleaning.csv.

    python -m bear_classifier.clean --data ../shared/data/bears --out suspects.csv
"""
from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np
import torch

from .data import DataError, read_decisions, scan, sha256_file
from .images import BadImage, open_image


@torch.inference_mode()
def embed(paths: list[Path], arch: str = "lite0", bs: int = 32) -> tuple[np.ndarray, list[int]]:
    """Pooled backbone features (validation transform, no head) of every readable image,
    and the indices of the images that could be read."""
    from .inference import Classifier
    from .model import STATS, backbone

    clf = Classifier(backbone(arch), [], mean=STATS[arch][0], std=STATS[arch][1])
    feats, kept = [], []
    for start in range(0, len(paths), bs):
        batch = []
        for i in range(start, min(start + bs, len(paths))):
            try:
                batch.append(clf.tensor(open_image(paths[i], min_side=2 * clf.resize_to, shrink=False)))
                kept.append(i)
            except BadImage:  # unreadable files are reported by build_cache, not judged here
                pass
        if batch:
            feats.append(clf.model(torch.cat(batch)).float().numpy())
    return np.concatenate(feats), kept


def out_of_fold(features: np.ndarray, labels: list[str], folds: int = 5, seed: int = 42):
    """Out-of-fold class probabilities (n, classes) and the sorted class list."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    classes = sorted(set(labels))
    y = np.array([classes.index(l) for l in labels])
    probs = np.zeros((len(y), len(classes)))
    for train, test in StratifiedKFold(folds, shuffle=True, random_state=seed).split(features, y):
        clf = LogisticRegression(C=0.5, max_iter=2000).fit(features[train], y[train])
        probs[test] = clf.predict_proba(features[test])
    return probs, classes


def find_suspects(data: Path, negatives: Path | None = None, decisions: Path | None = None,
                  threshold: float = 0.5, arch: str = "lite0", per_class: int | None = None) -> list[dict]:
    """Images whose out-of-fold probability of their own label is below `threshold`, worst first."""
    items = scan(data, negatives, per_class)
    rules = read_decisions(decisions)
    rows = []
    for it in items:
        sha = sha256_file(it.path)
        rule = rules.get(sha, {})
        if rule.get("action") != "drop":
            rows.append({"sha256": sha, "path": str(it.path), "label": rule.get("label") or it.label})
    features, kept = embed([Path(r["path"]) for r in rows], arch)
    rows = [rows[i] for i in kept]
    labels = [r["label"] for r in rows]
    probs, classes = out_of_fold(features, labels, folds=min(5, min(labels.count(c) for c in set(labels))))
    out = []
    for row, p in zip(rows, probs):
        own = p[classes.index(row["label"])]
        if own < threshold:
            best = int(p.argmax())
            out.append({**row, "p_label": round(float(own), 3), "suggested": classes[best],
                        "p_suggested": round(float(p[best]), 3)})
    return sorted(out, key=lambda r: r["p_label"])


def main(argv=None):
    p = argparse.ArgumentParser(description="Rank likely label errors in a folder of class sub-folders.")
    p.add_argument("--data", required=True, type=Path)
    p.add_argument("--negatives", type=Path)
    p.add_argument("--decisions", type=Path, help="decisions already taken (dropped images are left out)")
    p.add_argument("--threshold", type=float, default=0.5)
    p.add_argument("--out", type=Path, default=Path("suspects.csv"))
    a = p.parse_args(argv)
    try:
        rows = find_suspects(a.data, a.negatives, a.decisions, a.threshold)
    except DataError as e:
        sys.exit(f"error: {e}")
    with open(a.out, "w", newline="") as f:
        w = csv.DictWriter(f, ["sha256", "path", "label", "p_label", "suggested", "p_suggested"])
        w.writeheader()
        w.writerows(rows)
    print(f"{len(rows)} suspects written to {a.out}")


if __name__ == "__main__":
    main()


def show_suspects(suspects: list[dict], ncols: int = 4):
    """A grid of suspect images titled 'label -> suggested (p)', for review in the notebook."""
    import matplotlib.pyplot as plt

    if not suspects:
        return None
    nrows = (len(suspects) + ncols - 1) // ncols
    fig, axes = plt.subplots(nrows, ncols, figsize=(3 * ncols, 3.2 * nrows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, s in zip(axes.flat, suspects):
        im = open_image(s["path"], min_side=200)
        ax.imshow(im)
        ax.set_title(f"{s['label']} -> {s['suggested']} ({s['p_suggested']:.2f})", fontsize=9)
    fig.tight_layout()
    return fig


def record_cleaner(cleaner, decisions: Path, cache: Path, reason: str = "ImageClassifierCleaner") -> int:
    """Turn fastai's ImageClassifierCleaner choices into decisions (never touching any file).

    Cache files are named by the sha256 of their source, so a choice made on the cache
    applies to the original photo. Returns how many decisions were added or changed.
    """
    import json

    from .data import write_decisions

    sources = json.loads((Path(cache) / ".sources.json").read_text())
    rules = read_decisions(decisions)
    changes = [(i, "drop", "") for i in cleaner.delete()] + [(i, "relabel", c) for i, c in cleaner.change()]
    for idx, action, label in changes:
        sha = Path(cleaner.fns[idx]).stem
        rules[sha] = {"sha256": sha, "action": action, "label": label, "path": sources.get(sha, ""), "reason": reason}
    write_decisions(decisions, rules)
    return len(changes)
