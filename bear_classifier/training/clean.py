"""Find label suspects automatically (confident learning on out-of-fold predictions), and
record the cleaner's choices.

Every cached image is embedded once by the learner's frozen backbone; the training probe
(`probe.fit_head`, started from zero) is fitted on 4 folds and predicts the 5th, so every
image is judged by a model that never saw its label. Images whose own label gets a low
out-of-fold probability are the suspects: review them (train.ipynb shows them) and record
the decision, keyed by sha256, in cleaning.csv.

    python -m bear_classifier.training.clean --data data/bears --negatives data/notbears --out suspects.csv
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from ..core import DataError, fail
from ..images import open_image
from ..photos.published import download_if_published
from . import decisions as cleaning
from .cache import build_cache, source_files
from .datablock import dataloaders
from .probe import embed, out_of_fold
from .recipe import Recipe, add_data_arguments
from .train import make_learner, quiet

SUSPECT_FIELDS = ["sha256", "path", "label", "p_label", "suggested", "p_suggested"]


def find_suspects(
    learn, cache: Path, recipe: Recipe = Recipe(), threshold: float = 0.5, verbose: bool = True
) -> list[dict]:
    """Images of the learner's data (cached in `cache`) whose out-of-fold probability of their
    own label is below `threshold`, worst first."""
    import torch

    items = [*learn.dls.train_ds.items, *learn.dls.valid_ds.items]
    vocab = list(learn.dls.vocab)
    x, _, y = embed(learn, items, verbose=verbose)
    head = learn.model.get_classifier()
    probs = out_of_fold(x, y, torch.zeros_like(head.weight).cpu(), torch.zeros_like(head.bias).cpu(), recipe)
    if probs is None:
        raise DataError("every class needs at least 2 images to find suspects")
    origin = source_files(cache)
    out = []
    for path, label, p in zip(items, y.tolist(), probs.tolist()):
        if p[label] < threshold:
            best = max(range(len(vocab)), key=p.__getitem__)
            sha = Path(path).stem
            out.append(
                {
                    "sha256": sha,
                    "path": origin.get(sha, str(path)),
                    "label": vocab[label],
                    "p_label": round(p[label], 3),
                    "suggested": vocab[best],
                    "p_suggested": round(p[best], 3),
                }
            )
    return sorted(out, key=lambda r: r["p_label"])


def suspects_in(
    data: Path,
    cache: Path,
    negatives: Path | None = None,
    decisions: Path | None = None,
    recipe: Recipe = Recipe(),
    threshold: float = 0.5,
    verbose: bool = True,
) -> list[dict]:
    """find_suspects for a folder of class sub-folders (verified and cached first)."""
    build_cache(data, cache, decisions, negatives, verbose=verbose)
    learn = make_learner(dataloaders(cache, recipe), recipe)
    return find_suspects(learn if verbose else quiet(learn), cache, recipe, threshold, verbose)


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
        ax.imshow(open_image(s["path"], min_side=200))
        ax.set_title(f"{s['label']} -> {s['suggested']} ({s['p_suggested']:.2f})", fontsize=9)
    fig.tight_layout()
    return fig


def record_cleaner(cleaner, decisions: Path, cache: Path, reason: str = "ImageClassifierCleaner") -> int:
    """Turn fastai's ImageClassifierCleaner choices into decisions (never touching any file).

    Cache files are named by the sha256 of their source, so a choice made on the cache
    applies to the original photo. Returns how many decisions were added or changed.
    """
    origin = source_files(cache)
    rules = cleaning.read(decisions)
    changes = [(i, "drop", "") for i in cleaner.delete()] + [(i, "relabel", c) for i, c in cleaner.change()]
    for idx, action, label in changes:
        sha = Path(cleaner.fns[idx]).stem
        rules[sha] = {"sha256": sha, "action": action, "label": label, "path": origin.get(sha, ""), "reason": reason}
    cleaning.write(decisions, rules)
    return len(changes)


def main(argv=None):
    p = argparse.ArgumentParser(description="Rank likely label errors in a folder of class sub-folders.")
    add_data_arguments(p)
    p.add_argument("--threshold", type=float, default=0.5)
    p.add_argument("--out", type=Path, default=Path("suspects.csv"))
    Recipe.add_arguments(p)
    a = p.parse_args(argv)
    try:
        data, negatives = download_if_published(a.data), a.negatives and download_if_published(a.negatives)
        rows = suspects_in(data, a.cache, negatives, cleaning.from_args(a), Recipe.from_args(a), a.threshold)
    except ValueError as e:  # DataError, and pretrained weights that could not be had
        fail(str(e))
    with open(a.out, "w", newline="") as f:
        w = csv.DictWriter(f, SUSPECT_FIELDS)
        w.writeheader()
        w.writerows(rows)
    print(f"{len(rows)} suspects written to {a.out}")


if __name__ == "__main__":
    main()
