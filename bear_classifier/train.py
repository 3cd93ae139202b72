"""Fine-tune gently and export: the committed training recipe.

The labels are noisy web scrapes and the pretrained head already knows these bears,
so the recipe starts the head from the ImageNet rows, keeps batch-norm statistics
frozen, trains the head, then the last stage with a small learning rate.

    python -m bear_classifier.train --data ../shared/data/bears --negatives ../shared/data/notbears --out export.pkl
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from .data import OTHER, DataError, build_cache, dataloaders


@dataclass
class Recipe:
    """Every knob of a training run, saved in the model card."""
    arch: str = "lite0"
    size: int = 224
    bs: int = 32
    seed: int = 42
    head_epochs: int = 2
    head_lr: float = 3e-3
    stage_epochs: int = 1
    stage_lr: float = 3e-4
    label_smoothing: float = 0.1
    min_scale: float = 0.5


def make_learner(dls, recipe: Recipe):
    """A fastai Learner over our classifier, with batch-norm statistics frozen."""
    from fastai.vision.all import BnFreeze, CrossEntropyLossFlat, Learner, accuracy

    from .model import create_classifier, split_params

    model = create_classifier(list(dls.vocab), recipe.arch)
    learn = Learner(dls, model, loss_func=CrossEntropyLossFlat(label_smoothing=recipe.label_smoothing),
                    metrics=accuracy, splitter=split_params, train_bn=False, cbs=BnFreeze())
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


def fit(learn, recipe: Recipe):
    """Head first, then the last stage: gentle enough to keep what ImageNet taught."""
    if recipe.head_epochs:
        learn.fit_one_cycle(recipe.head_epochs, recipe.head_lr)
    if recipe.stage_epochs:
        learn.freeze_to(-2)
        freeze_batchnorm(learn.model)
        learn.fit_one_cycle(recipe.stage_epochs, slice(recipe.stage_lr / 10, recipe.stage_lr))
        learn.freeze()
    return learn


def export_learner(learn, out: Path) -> Path:
    """Export for load_learner; the pickle references only fastai, timm and torch, not this package."""
    from fastai.vision.all import trainable_params

    learn.opt, learn.splitter = None, trainable_params  # optimizer state is not exported anyway
    out = Path(out).absolute()
    learn.export(out)
    return out


def versions() -> dict[str, str]:
    import fastai
    import PIL
    import timm
    import torch
    return {"python": sys.version.split()[0], "torch": torch.__version__, "fastai": fastai.__version__,
            "timm": timm.__version__, "pillow": PIL.__version__}


def train(data: Path, out: Path = Path("export.pkl"), negatives: Path | None = None, decisions: Path | None = None,
          cache: Path = Path(".cache/train"), recipe: Recipe = Recipe(), verbose: bool = True):
    """Verify and cache `data`, train with `recipe`, export to `out`; returns (learner, facts)."""
    import torch
    from fastai.torch_core import set_seed

    t0 = time.time()
    report = build_cache(data, cache, decisions, negatives, verbose=verbose)
    t_cache = time.time() - t0
    set_seed(recipe.seed, reproducible=True)
    dls = dataloaders(cache, recipe.arch, recipe.size, recipe.bs, recipe.seed, min_scale=recipe.min_scale)
    learn = make_learner(dls, recipe)
    if not verbose:
        from fastai.callback.progress import ProgressCallback
        from fastcore.basics import noop
        learn.remove_cb(ProgressCallback)
        learn.logger = noop
    fit(learn, recipe)
    loss, acc = learn.validate()
    t_train = time.time() - t0 - t_cache
    export_learner(learn, out)
    facts = {"recipe": asdict(recipe), "vocab": list(dls.vocab), "counts": report.counts,
             "train_images": len(dls.train_ds), "valid_images": len(dls.valid_ds),
             "valid_loss": round(float(loss), 4), "valid_accuracy": round(float(acc), 4),
             "skipped": len(report.skipped), "dropped": report.dropped, "relabelled": report.relabelled,
             "cache_seconds": round(t_cache, 1), "train_seconds": round(t_train, 1),
             "torch_threads": torch.get_num_threads(), "versions": versions()}
    return learn, facts


def main(argv=None):
    p = argparse.ArgumentParser(description="Train the classifier on a folder of class sub-folders and export it.")
    p.add_argument("--data", required=True, type=Path, help="folder with one sub-folder of images per class")
    p.add_argument("--negatives", type=Path, help=f"folder of pictures showing none of the classes (learned as {OTHER!r})")
    p.add_argument("--decisions", type=Path, help="cleaning decisions CSV (default: cleaning.csv if present)")
    p.add_argument("--out", type=Path, default=Path("export.pkl"))
    p.add_argument("--cache", type=Path, default=Path(".cache/train"))
    p.add_argument("--facts", type=Path, help="also write the run's facts (metrics, counts, recipe) as JSON here")
    for name, value in asdict(Recipe()).items():
        p.add_argument(f"--{name.replace('_', '-')}", type=type(value), default=value)
    a = p.parse_args(argv)
    recipe = Recipe(**{k: getattr(a, k) for k in asdict(Recipe())})
    decisions = a.decisions or (Path("cleaning.csv") if Path("cleaning.csv").exists() else None)
    try:
        _, facts = train(a.data, a.out, a.negatives, decisions, a.cache, recipe)
    except DataError as e:
        sys.exit(f"error: {e}")
    print(json.dumps(facts, indent=1))
    if a.facts:
        a.facts.write_text(json.dumps(facts, indent=1) + "\n")


if __name__ == "__main__":
    main()
