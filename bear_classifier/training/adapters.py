"""The app's Classifier over torch and fastai: the transform read from a Learner, a torch model
as a Classifier, and a loader that falls back to load_learner where the ONNX copy won't do."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from ..app.classifier import DEFAULT_SURE_THRESHOLD, Classifier, Transform
from ..core import ModelError, one_line
from .probe import sure_threshold, threshold


def transform_of(learn) -> Transform:
    """The validation transform of a fastai Learner's pipelines; ModelError for ones not supported."""
    items = learn.dls.after_item.fs
    crop = next((t for t in items if hasattr(t, "val_xtra")), None)  # RandomResizedCrop
    resize = next((t for t in items if type(t).__name__ == "Resize"), None)
    if crop is not None:
        size, xtra, method = crop.size, crop.val_xtra, "squish"
    elif resize is not None and resize.method in ("squish", "crop"):
        size, xtra, method = resize.size, 0.0, resize.method
    else:
        raise ModelError(
            "only exports whose item transform is RandomResizedCrop or Resize (squish or crop) "
            f"are supported, not {', '.join(type(t).__name__ for t in items)}"
        )
    if size[0] != size[1]:
        raise ModelError(f"only square inputs are supported, not {size[0]}x{size[1]}")
    norm = next((t for t in learn.dls.after_batch.fs if hasattr(t, "mean") and hasattr(t, "std")), None)
    mean, std = (norm.mean.flatten().tolist(), norm.std.flatten().tolist()) if norm else ((0.0,) * 3, (1.0,) * 3)
    return Transform(size[0], xtra, tuple(mean), tuple(std), method)


def torch_classifier(
    model,
    vocab: list[str],
    transform: Transform,
    other_threshold: float = 0.5,
    sure_threshold: float = DEFAULT_SURE_THRESHOLD,
) -> Classifier:
    """A torch model as a Classifier (for training, evaluation and the load_learner fallback), without
    maps: export.onnx has them (archs.WithMaps)."""
    import torch

    model = model.eval()
    device = next(model.parameters()).device  # a learner trained on a GPU stays there

    def forward(x: np.ndarray) -> tuple[np.ndarray, None]:
        with torch.inference_mode():
            return model(torch.from_numpy(x).to(device)).float().cpu().numpy(), None

    return Classifier(forward, vocab, transform, other_threshold, sure_threshold)


def learner_classifier(learn) -> Classifier:
    """A fastai Learner's model with its validation transform and thresholds."""
    return torch_classifier(
        learn.model, list(learn.dls.vocab), transform_of(learn), threshold(learn), sure_threshold(learn)
    )


def load_learner_quietly(path: str | Path):
    """fastai's load_learner, without its reminder that pickles can run code (these are ours)."""
    from fastai.learner import load_learner

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return load_learner(path)


def load_classifier(path: str | Path = "export.pkl") -> Classifier:
    """The app's classifier of the export at `path` (its `export.onnx` copy, Classifier.load), or,
    where that copy is missing, unreadable or stale, the export itself through load_learner, with
    `notice` (also warned) saying why; ModelError with one line when neither works."""
    path = Path(path)
    if not path.exists():
        return Classifier.load(path.with_suffix(".onnx"))
    clf, problem = Classifier.checked(path.with_suffix(".onnx"))
    if clf is not None:
        return clf
    try:
        clf = learner_classifier(load_learner_quietly(path))
    except ModelError as e:
        raise ModelError(f"{problem}, and {e}") from None
    except Exception as e:  # a damaged or foreign pickle
        raise ModelError(f"{problem}, and {path.name} could not be loaded ({one_line(e)})") from None
    clf.notice = (
        f"{problem}: loaded {path.name} with fastai instead (slower; "
        f"'python -m bear_classifier.training.export {path}' fixes it)"
    )
    warnings.warn(clf.notice, stacklevel=2)
    return clf
