"""Fast inference for the app: bytes in, Prediction out, never an exception.

Unlike `learn.predict(PILImage.create(data))` it applies EXIF orientation, decodes big
JPEGs at reduced scale, and runs the model once on one tensor without building a
DataLoader. Preprocessing is the validation transform read from the exported learner
(squish to size+xtra, centre crop, normalise), so probabilities match learn.predict.

Next to `export.pkl`, training also writes `export.pt`: the same model frozen with
TorchScript plus what inference needs (vocab, transform, "none of these" threshold, and
the sha256 of the export it came from). Loading it needs only torch, not fastai, timm or
torchvision, so the app starts in about 1.5 s instead of 7, and the frozen graph (batch norm
folded into the convolutions) runs in 14 ms instead of 24. TorchScript is deprecated in
favour of torch.export, but loading a torch.export file imports torch._dynamo and sympy
(2.4 s here), which is what this file avoids. When export.pt is missing, unreadable or
belongs to another export, `Classifier.load` falls back to `load_learner`. Make it for any
fastai export with

    python -m bear_classifier.inference export.pkl
"""
from __future__ import annotations

import argparse
import json
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .data import OTHER, sha256_file
from .images import BadImage, open_image

BEARS = {"black", "grizzly", "teddy"}


@dataclass
class Prediction:
    """label is a class name, OTHER ("none of these"), or "" when `message` explains a failure."""
    label: str = ""
    probability: float = 0.0
    probs: dict[str, float] = field(default_factory=dict)
    message: str = ""
    image: Image.Image | None = field(default=None, repr=False)  # the decoded, upright upload

    @property
    def ok(self) -> bool:
        return bool(self.label)

    def text(self) -> str:
        """The app's line: the seed's format, the 'none of these' answer, or the problem."""
        if not self.label:
            return self.message
        if self.label == OTHER:
            return self.message
        return f"Prediction: {self.label}; Probability: {self.probability:.4f}"


def none_of_these(classes: list[str]) -> str:
    """The sentence shown when a picture shows none of `classes`."""
    if set(classes) == BEARS:
        return "This doesn't look like a grizzly, black or teddy bear."
    names = sorted(classes)
    return "This doesn't look like " + (", ".join(names[:-1]) + " or " + names[-1] if len(names) > 1 else names[0]) + "."


class Classifier:
    """The exported learner's model with its validation preprocessing, ready for single images."""

    def __init__(self, model: torch.nn.Module, vocab: list[str], size: int = 224, val_xtra: float = 0.14,
                 mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5), other_threshold: float = 0.5):
        self.model, self.vocab = model.eval(), list(vocab)
        self.val_xtra, self.other_threshold = val_xtra, other_threshold
        xtra = math.ceil(size * val_xtra / 8) * 8  # as fastai's RandomResizedCrop on the validation set
        self.size, self.resize_to = size, size + xtra
        self.mean = torch.as_tensor(mean, dtype=torch.float32).reshape(1, 3, 1, 1)
        self.std = torch.as_tensor(std, dtype=torch.float32).reshape(1, 3, 1, 1)
        self.source_sha256: str | None = None  # of the export.pkl a TorchScript copy was made from

    @classmethod
    def from_learner(cls, learn) -> "Classifier":
        """Wrap a fastai Learner's model with its validation transform and threshold."""
        crop = next(t for t in learn.dls.after_item.fs if hasattr(t, "val_xtra"))
        norm = next(t for t in learn.dls.after_batch.fs if hasattr(t, "mean") and hasattr(t, "std"))
        if crop.size[0] != crop.size[1]:
            raise ValueError(f"only square crops are supported, got {crop.size}")
        return cls(learn.model, learn.dls.vocab, crop.size[0], crop.val_xtra, norm.mean.flatten().cpu(),
                   norm.std.flatten().cpu(), getattr(learn, "other_threshold", 0.5))

    @classmethod
    def load(cls, path: str | Path = "export.pkl") -> "Classifier":
        """Load a fastai export, through its TorchScript copy (`.pt` beside it) when that matches."""
        path = Path(path)
        if path.suffix == ".pt":
            return cls._load_torchscript(path)
        fast = path.with_suffix(".pt")
        if fast.exists():
            try:
                clf = cls._load_torchscript(fast)
            except (RuntimeError, ValueError, KeyError) as e:
                warnings.warn(f"{fast} is unreadable ({e}); loading {path} with load_learner")
            else:
                if clf.source_sha256 == sha256_file(path):
                    return clf
                warnings.warn(f"{fast} was made from another export; loading {path} with load_learner")
        return cls.from_export(path)

    @classmethod
    def from_export(cls, path: str | Path) -> "Classifier":
        """Load a fastai export with load_learner (imports fastai: ~4 s slower than the .pt copy)."""
        from fastai.learner import load_learner

        with warnings.catch_warnings():  # fastai's reminder that pickles can run code: this one is ours
            warnings.simplefilter("ignore", UserWarning)
            return cls.from_learner(load_learner(path))

    def save(self, path: str | Path, source: str | Path | None = None) -> Path:
        """Freeze the model with TorchScript into `path`, with the metadata inference needs;
        `source` is the export.pkl it came from (its sha256 ties the two files together)."""
        import copy

        model = copy.deepcopy(self.model).float().cpu().eval()
        example = torch.zeros(1, 3, self.size, self.size)
        meta = {"vocab": self.vocab, "size": self.size, "val_xtra": self.val_xtra,
                "mean": self.mean.flatten().tolist(), "std": self.std.flatten().tolist(),
                "other_threshold": self.other_threshold, "source_sha256": sha256_file(source) if source else None}
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore", FutureWarning)  # TorchScript's deprecation: see the module docstring
            frozen = torch.jit.freeze(torch.jit.trace(model, example, check_trace=False))
            torch.jit.save(frozen, str(path), _extra_files={"meta.json": json.dumps(meta)})
        return Path(path)

    @classmethod
    def _load_torchscript(cls, path: Path) -> "Classifier":
        files = {"meta.json": ""}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            model = torch.jit.load(str(path), map_location="cpu", _extra_files=files)
        meta = json.loads(files["meta.json"])
        clf = cls(model, meta["vocab"], meta["size"], meta["val_xtra"], meta["mean"], meta["std"],
                  meta["other_threshold"])
        clf.source_sha256 = meta["source_sha256"]
        return clf

    def tensor(self, im: Image.Image) -> torch.Tensor:
        """Validation transform of one RGB image: squish, centre crop, scale, normalise."""
        im = im.resize((self.resize_to, self.resize_to), Image.BILINEAR)
        edge = (self.resize_to - self.size) // 2
        im = im.crop((edge, edge, edge + self.size, edge + self.size))
        x = torch.from_numpy(np.asarray(im, dtype=np.uint8).copy()).permute(2, 0, 1)[None].float() / 255
        return (x - self.mean) / self.std

    @torch.inference_mode()
    def probabilities(self, images: list[Image.Image]) -> torch.Tensor:
        """Softmax over the vocab for a list of RGB images."""
        x = torch.cat([self.tensor(im) for im in images])
        # A frozen TorchScript graph is already optimised; the profiling executor would only
        # make the first calls slow (~1 s) while it re-optimises.
        with torch.jit.optimized_execution(False):
            return torch.softmax(self.model(x), dim=1)

    def classify(self, data: bytes) -> Prediction:
        """Classify the bytes of one uploaded file. Never raises: problems come back as a message."""
        try:
            # Decode JPEGs over 4 MP at reduced scale but keep 2x the final size, so that tensor()'s
            # single antialiased resize stays close to learn.predict (which decodes in full).
            im = open_image(data, min_side=2 * self.resize_to, shrink=False)
            probs = self.probabilities([im])[0].tolist()
        except BadImage as e:
            return Prediction(message=str(e))
        except Exception as e:  # the app must survive anything a file can do to a decoder
            return Prediction(message=f"Sorry, this picture could not be classified ({type(e).__name__}).")
        pred = self.decide(dict(zip(self.vocab, probs)))
        pred.image = im
        return pred

    def decide(self, probs: dict[str, float]) -> Prediction:
        """Bear or not first (OTHER when its probability reaches `other_threshold`), then which class."""
        classes = [c for c in self.vocab if c != OTHER]
        if probs.get(OTHER, 0.0) >= self.other_threshold:
            return Prediction(OTHER, probs[OTHER], probs, none_of_these(classes))
        label = max(classes, key=probs.get)
        return Prediction(label, probs[label], probs)


def main(argv=None):
    p = argparse.ArgumentParser(description="Write the TorchScript copy (export.pt) of a fastai export for the app.")
    p.add_argument("export", type=Path, nargs="?", default=Path("export.pkl"))
    a = p.parse_args(argv)
    if not a.export.is_file():
        raise SystemExit(f"error: {a.export} not found")
    print(Classifier.from_export(a.export).save(a.export.with_suffix(".pt"), source=a.export))


if __name__ == "__main__":
    main()
