"""Fast inference for the app: bytes in, Prediction out, never an exception.

Unlike `learn.predict(PILImage.create(data))` it applies EXIF orientation, decodes big
JPEGs at reduced scale, and runs the model once on one tensor without building a
DataLoader. Preprocessing is the validation transform read from the exported learner
(squish to size+xtra, centre crop, normalise), so probabilities match learn.predict.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .data import OTHER
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
                 mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5)):
        self.model, self.vocab = model.eval(), list(vocab)
        xtra = math.ceil(size * val_xtra / 8) * 8  # as fastai's RandomResizedCrop on the validation set
        self.size, self.resize_to = size, size + xtra
        self.mean = torch.as_tensor(mean, dtype=torch.float32).reshape(1, 3, 1, 1)
        self.std = torch.as_tensor(std, dtype=torch.float32).reshape(1, 3, 1, 1)

    @classmethod
    def load(cls, path: str | Path = "export.pkl") -> "Classifier":
        """Load a fastai export and read its validation transform (crop size, normalisation)."""
        from fastai.learner import load_learner

        learn = load_learner(path)
        crop = next(t for t in learn.dls.after_item.fs if hasattr(t, "val_xtra"))
        norm = next(t for t in learn.dls.after_batch.fs if hasattr(t, "mean") and hasattr(t, "std"))
        if crop.size[0] != crop.size[1]:
            raise ValueError(f"{path}: only square crops are supported, got {crop.size}")
        return cls(learn.model, learn.dls.vocab, crop.size[0], crop.val_xtra,
                   norm.mean.flatten().cpu(), norm.std.flatten().cpu())

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
        return torch.softmax(self.model(torch.cat([self.tensor(im) for im in images])), dim=1)

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
        """Bear or not first (OTHER when its probability is at least one half), then which class."""
        classes = [c for c in self.vocab if c != OTHER]
        if probs.get(OTHER, 0.0) >= 0.5:
            return Prediction(OTHER, probs[OTHER], probs, none_of_these(classes))
        label = max(classes, key=probs.get)
        return Prediction(label, probs[label], probs)
