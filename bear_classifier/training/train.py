"""Train and export: the committed training recipe.

The pretrained Lite0 features already separate these bears; what the noisy web labels
can teach is the head. So the recipe is a linear probe: the frozen backbone embeds every
training image once (and its mirror image), and the head, started from ImageNet's own
bear rows, is fitted exactly (L-BFGS, cross-entropy with a pull towards that start).
The "none of these" threshold comes from out-of-fold predictions on the negatives, and the
"not sure" threshold from those on the photos of the classes: the line above which the answers
are right 99 % of the time, with 95 % confidence. Optional `epochs` then fine-tune the last stage
gently, the book's way.

    python -m bear_classifier.training.train --data data/bears --negatives data/notbears --out export.pkl
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

from ..app.classifier import DEFAULT_SURE_THRESHOLD
from ..core import OTHER, DataError, fail
from ..photos.published import download_if_published
from . import decisions as cleaning
from .archs import create_classifier, split_params
from .cache import build_cache
from .datablock import dataloaders
from .export import calibration_photos, export_learner
from .probe import (
    embed,
    fit_head,
    out_of_fold,
    pick_sure_threshold,
    pick_threshold,
    set_sure_threshold,
    set_threshold,
    sure_threshold,
    threshold,
)
from .recipe import Recipe, add_data_arguments


def make_learner(dls, recipe: Recipe):
    """A fastai Learner over our classifier, body frozen and batch-norm statistics frozen."""
    from fastai.vision.all import BnFreeze, CrossEntropyLossFlat, Learner, accuracy

    model = create_classifier(list(dls.vocab), recipe.arch, recipe.pretrained)
    learn = Learner(
        dls,
        model,
        loss_func=CrossEntropyLossFlat(label_smoothing=recipe.label_smoothing),
        metrics=accuracy,
        splitter=split_params,
        train_bn=False,
        cbs=BnFreeze(),
    )
    learn.freeze()
    freeze_batchnorm(model)
    return learn


def freeze_batchnorm(model):
    """Stop every batch-norm layer from learning; fastai's BnFreeze then keeps their
    ImageNet running statistics (eval mode), which small noisy batches would spoil."""
    from torch import nn

    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.requires_grad_(False)


def fit(learn, recipe: Recipe, verbose: bool = True):
    """Linear probe of the head (and the "none of these" and "not sure" thresholds), then optional
    gentle fine-tuning. The thresholds are stored on the learner (probe.set_threshold,
    probe.set_sure_threshold) and travel in the export; where there are no out-of-fold predictions
    (no negatives, or fine-tuned) the "not sure" one is DEFAULT_SURE_THRESHOLD."""
    import torch

    vocab = list(learn.dls.vocab)
    head = learn.model.get_classifier()
    w0, b0 = head.weight.detach().float().cpu().clone(), head.bias.detach().float().cpu().clone()
    x, xf, y = embed(learn, learn.dls.train_ds.items, mirror=True, verbose=verbose)
    w, b = fit_head(torch.cat([x, xf]), torch.cat([y, y]), w0, b0, recipe.head_l2)
    with torch.no_grad():
        head.weight.copy_(w)
        head.bias.copy_(b)
    set_threshold(learn, 0.5)
    set_sure_threshold(learn, DEFAULT_SURE_THRESHOLD)
    probs = out_of_fold(x, y, w0, b0, recipe, xf) if OTHER in vocab else None
    if probs is not None:
        other = vocab.index(OTHER)
        set_threshold(learn, pick_threshold(probs[y == other, other].numpy(), recipe.reject))
        set_sure_threshold(learn, pick_sure_threshold(probs, y, vocab, threshold(learn), recipe.sure))
    if recipe.epochs:
        learn.freeze_to(-2)
        freeze_batchnorm(learn.model)
        learn.fit_one_cycle(recipe.epochs, slice(recipe.lr / 10, recipe.lr))
        learn.freeze()
        set_sure_threshold(learn, DEFAULT_SURE_THRESHOLD)  # the out-of-fold predictions no longer apply
        if OTHER in vocab:  # the probe's threshold no longer applies: re-pick it on the validation negatives
            probs, targets = learn.get_preds()
            other = vocab.index(OTHER)
            set_threshold(learn, pick_threshold(probs[targets == other, other].numpy(), recipe.reject))
    return learn


def versions() -> dict[str, str]:
    import fastai
    import PIL
    import timm
    import torch

    return {
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "fastai": fastai.__version__,
        "timm": timm.__version__,
        "pillow": PIL.__version__,
    }


def quiet(learn):
    """No progress bars or metric tables (tests, benchmarks)."""
    from fastai.callback.progress import ProgressCallback
    from fastcore.basics import noop

    learn.remove_cb(ProgressCallback)
    learn.logger = noop
    return learn


def train(
    data: Path,
    out: Path = Path("export.pkl"),
    negatives: Path | None = None,
    decisions: Path | None = None,
    cache: Path = Path(".cache/train"),
    recipe: Recipe = Recipe(),
    verbose: bool = True,
):
    """Verify and cache `data`, train with `recipe`, export to `out` (and its int8 .onnx, calibrated on
    the training split); returns (learner, facts)."""
    import torch

    t0 = time.time()
    report = build_cache(data, cache, decisions, negatives, verbose=verbose)
    t_cache = time.time() - t0
    dls = dataloaders(cache, recipe)
    learn = make_learner(dls, recipe)
    if not verbose:
        quiet(learn)
    fit(learn, recipe, verbose)
    loss, acc = learn.validate()
    t_train = time.time() - t0 - t_cache
    export_learner(learn, out, calibration=calibration_photos(dls.train_ds.items))
    facts = {
        "recipe": asdict(recipe),
        "vocab": list(dls.vocab),
        "counts": report.counts,
        "train_images": len(dls.train_ds),
        "valid_images": len(dls.valid_ds),
        "valid_loss": round(float(loss), 4),
        "valid_accuracy": round(float(acc), 4),
        "other_threshold": round(threshold(learn), 4),
        "sure_threshold": round(sure_threshold(learn), 4),
        "skipped": len(report.skipped),
        "dropped": report.dropped,
        "relabelled": report.relabelled,
        "cache_seconds": round(t_cache, 1),
        "train_seconds": round(t_train, 1),
        "device": str(dls.device),
        "torch_threads": torch.get_num_threads(),
        "versions": versions(),
    }
    return learn, facts


def main(argv=None):
    p = argparse.ArgumentParser(description="Train the classifier on a folder of class sub-folders and export it.")
    add_data_arguments(p)
    p.add_argument("--out", type=Path, default=Path("export.pkl"))
    p.add_argument("--facts", type=Path, help="also write the run's facts (metrics, counts, recipe) as JSON here")
    Recipe.add_arguments(p)
    a = p.parse_args(argv)
    try:
        data, negatives = download_if_published(a.data), a.negatives and download_if_published(a.negatives)
        _, facts = train(data, a.out, negatives, cleaning.from_args(a), a.cache, Recipe.from_args(a))
    except (DataError, ValueError) as e:  # ValueError: pretrained weights that could not be had
        fail(str(e))
    print(json.dumps(facts, indent=1))
    if a.facts:
        a.facts.write_text(json.dumps(facts, indent=1) + "\n")


if __name__ == "__main__":
    main()
