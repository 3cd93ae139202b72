"""Train and export: the committed training recipe.

The pretrained Lite0 features already separate these bears; what the noisy web labels
can teach is the head. So the recipe is a linear probe: the frozen backbone embeds every
training image once (and its mirror image), and the head, started from ImageNet's own
bear rows, is fitted exactly (L-BFGS, cross-entropy with a pull towards that start).
The "none of these" threshold comes from out-of-fold predictions on the negatives.
Optional `epochs` then fine-tune the last stage gently, the book's way.

    python -m bear_classifier.train --data data/bears --negatives data/notbears --out export.pkl
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from .data import OTHER, build_cache, dataloaders
from .export import export_learner
from .published import locate


@dataclass
class Recipe:
    """Every knob of a training run: passed whole to the data loaders, the learner and `fit`,
    and saved in export.json."""
    arch: str = "lite0"
    pretrained: bool = True  # False: random weights (offline checks of an architecture)
    size: int = 224
    bs: int = 32
    seed: int = 42  # seeds the split, the folds and everything random
    head_l2: float = 1e-3  # pull of the head towards its ImageNet start
    reject: float = 0.95  # share of negatives answered "none of these" out-of-fold (sets the threshold)
    epochs: int = 0  # optional fine-tuning of the last stage after the probe; the three knobs below only
    lr: float = 3e-4  # act when epochs > 0: largest learning rate (the last stage gets a tenth),
    label_smoothing: float = 0.0
    min_scale: float = 0.5  # and RandomResizedCrop's augmentation

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        """One --option per field, defaulting to the field's value."""
        from .model import ARCHS

        for f in fields(cls):
            flag = f"--{f.name.replace('_', '-')}"
            if f.type == "bool":
                parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=f.default)
            else:
                parser.add_argument(flag, type=type(f.default), default=f.default,
                                    choices=list(ARCHS) if f.name == "arch" else None)

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> "Recipe":
        return cls(**{f.name: getattr(args, f.name) for f in fields(cls)})

    def seed_everything(self) -> None:
        from fastai.torch_core import set_seed

        set_seed(self.seed, reproducible=True)


def make_learner(dls, recipe: Recipe):
    """A fastai Learner over our classifier, body frozen and batch-norm statistics frozen."""
    from fastai.vision.all import BnFreeze, CrossEntropyLossFlat, Learner, accuracy

    from .model import create_classifier, split_params

    model = create_classifier(list(dls.vocab), recipe.arch, recipe.pretrained)
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


def embed(learn, items, mirror: bool = False, verbose: bool = True):
    """The head's inputs for `items` under the validation transform (and for their mirror
    images), with their labels; on the CPU: (x, x_mirrored or None, y)."""
    import torch
    from fastprogress.fastprogress import progress_bar

    from .model import embeddings

    dl = learn.dls.test_dl(items, with_labels=True)
    learn.model.eval()
    xs, xfs, ys = [], [], []
    with torch.no_grad():
        for xb, yb in (progress_bar(dl) if verbose else dl):
            f = embeddings(learn.model, torch.cat([xb, xb.flip(3)]) if mirror else xb)
            f = f.float().cpu().as_subclass(torch.Tensor)
            x, xf = f.chunk(2) if mirror else (f, None)
            xs.append(x)
            xfs.append(xf)
            ys.append(yb.cpu().as_subclass(torch.Tensor))
    return torch.cat(xs), torch.cat(xfs) if mirror else None, torch.cat(ys)


def fit_head(x, y, w0, b0, l2: float):
    """Multinomial logistic regression by L-BFGS: cross-entropy + l2 * |W - W0|^2. Returns (W, b)."""
    import torch

    x, w0, b0 = x.double(), w0.double(), b0.double()
    w, b = w0.clone().requires_grad_(), b0.clone().requires_grad_()
    opt = torch.optim.LBFGS([w, b], max_iter=500, tolerance_grad=1e-9, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(x @ w.T + b, y) + l2 * ((w - w0) ** 2).sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        opt.step(closure)
    return w.detach().float(), b.detach().float()


def pick_threshold(p_other, reject: float) -> float:
    """P(other) at and above which a picture is answered "none of these", so that `reject` of
    these negatives' probabilities reach it; never below 0.5 nor above 0.99."""
    import numpy as np

    if len(p_other) == 0:
        return 0.5
    return float(np.clip(np.quantile(np.asarray(p_other, dtype=float), 1 - reject), 0.5, 0.99))


def out_of_fold(x, y, w0, b0, recipe: Recipe, xf=None):
    """Class probabilities (n, classes) for every row of `x`, each from a head fitted (fit_head)
    on the other folds (with their mirror images `xf`); None when a class has under 2 rows."""
    import numpy as np
    import torch
    from sklearn.model_selection import StratifiedKFold

    folds = min(5, min(torch.bincount(y).tolist()))
    if folds < 2:
        return None
    probs = torch.zeros(len(y), len(w0))
    for tr, te in StratifiedKFold(folds, shuffle=True, random_state=recipe.seed).split(np.zeros(len(y)), y.numpy()):
        tr, te = torch.as_tensor(tr), torch.as_tensor(te)
        xs, ys = (x[tr], y[tr]) if xf is None else (torch.cat([x[tr], xf[tr]]), torch.cat([y[tr], y[tr]]))
        w, b = fit_head(xs, ys, w0, b0, recipe.head_l2)
        probs[te] = torch.softmax(x[te] @ w.T + b, 1)
    return probs


def fit(learn, recipe: Recipe, verbose: bool = True):
    """Linear probe of the head (and the "none of these" threshold), then optional gentle fine-tuning.
    The threshold is stored on the learner as `other_threshold` and travels in the export."""
    import torch

    vocab = list(learn.dls.vocab)
    head = learn.model.get_classifier()
    w0, b0 = head.weight.detach().float().cpu().clone(), head.bias.detach().float().cpu().clone()
    x, xf, y = embed(learn, learn.dls.train_ds.items, mirror=True, verbose=verbose)
    w, b = fit_head(torch.cat([x, xf]), torch.cat([y, y]), w0, b0, recipe.head_l2)
    with torch.no_grad():
        head.weight.copy_(w)
        head.bias.copy_(b)
    learn.other_threshold = 0.5
    probs = out_of_fold(x, y, w0, b0, recipe, xf) if OTHER in vocab else None
    if probs is not None:
        other = vocab.index(OTHER)
        learn.other_threshold = pick_threshold(probs[y == other, other].numpy(), recipe.reject)
    if recipe.epochs:
        learn.freeze_to(-2)
        freeze_batchnorm(learn.model)
        learn.fit_one_cycle(recipe.epochs, slice(recipe.lr / 10, recipe.lr))
        learn.freeze()
        if OTHER in vocab:  # the probe's threshold no longer applies: re-pick it on the validation negatives
            probs, targets = learn.get_preds()
            other = vocab.index(OTHER)
            learn.other_threshold = pick_threshold(probs[targets == other, other].numpy(), recipe.reject)
    return learn


def versions() -> dict[str, str]:
    import fastai
    import PIL
    import timm
    import torch
    return {"python": sys.version.split()[0], "torch": torch.__version__, "fastai": fastai.__version__,
            "timm": timm.__version__, "pillow": PIL.__version__}


def quiet(learn):
    """No progress bars or metric tables (tests, benchmarks)."""
    from fastai.callback.progress import ProgressCallback
    from fastcore.basics import noop

    learn.remove_cb(ProgressCallback)
    learn.logger = noop
    return learn


def train(data: Path, out: Path = Path("export.pkl"), negatives: Path | None = None, decisions: Path | None = None,
          cache: Path = Path(".cache/train"), recipe: Recipe = Recipe(), verbose: bool = True):
    """Verify and cache `data`, train with `recipe`, export to `out` (and its .onnx); returns (learner, facts)."""
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
    export_learner(learn, out)
    facts = {"recipe": asdict(recipe), "vocab": list(dls.vocab), "counts": report.counts,
             "train_images": len(dls.train_ds), "valid_images": len(dls.valid_ds),
             "valid_loss": round(float(loss), 4), "valid_accuracy": round(float(acc), 4),
             "other_threshold": round(learn.other_threshold, 4),
             "skipped": len(report.skipped), "dropped": report.dropped, "relabelled": report.relabelled,
             "cache_seconds": round(t_cache, 1), "train_seconds": round(t_train, 1),
             "device": str(dls.device), "torch_threads": torch.get_num_threads(), "versions": versions()}
    return learn, facts


def main(argv=None):
    p = argparse.ArgumentParser(description="Train the classifier on a folder of class sub-folders and export it.")
    p.add_argument("--data", type=Path, default=Path("data/bears"),
                   help="folder with one sub-folder of images per class (default: the published photos, fetched when missing)")
    p.add_argument("--negatives", type=Path, help=f"folder of pictures showing none of the classes (learned as {OTHER!r})")
    p.add_argument("--decisions", type=Path, help="cleaning decisions CSV (default: cleaning.csv if present)")
    p.add_argument("--out", type=Path, default=Path("export.pkl"))
    p.add_argument("--cache", type=Path, default=Path(".cache/train"))
    p.add_argument("--facts", type=Path, help="also write the run's facts (metrics, counts, recipe) as JSON here")
    Recipe.add_arguments(p)
    a = p.parse_args(argv)
    decisions = a.decisions or (Path("cleaning.csv") if Path("cleaning.csv").exists() else None)
    try:
        data, negatives = locate(a.data), a.negatives and locate(a.negatives)
        _, facts = train(data, a.out, negatives, decisions, a.cache, Recipe.from_args(a))
    except ValueError as e:  # DataError, and pretrained weights that could not be had
        sys.exit(f"error: {e}")
    print(json.dumps(facts, indent=1))
    if a.facts:
        a.facts.write_text(json.dumps(facts, indent=1) + "\n")


if __name__ == "__main__":
    main()
