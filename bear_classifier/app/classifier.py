"""The app's classifier: bytes in, Prediction out, never an exception.

It runs `export.onnx` with ONNX Runtime and preprocesses with Pillow and numpy, so the app
imports neither torch nor fastai (docs/benchmarks.md: the app's start and memory, measured).
Training writes `export.onnx` beside `export.pkl`: the same model, with what inference needs in
its metadata (vocab, validation transform, "none of these" threshold and the sha256 of the
`export.pkl` it was made from). When that file is missing, unreadable or made from another
export, `Classifier.load` says so in one line, with the command that writes it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from ..core import OTHER, BadImage, ModelError, one_line, sha256_file
from ..images import open_image
from .wording import none_of_these

METADATA_KEY = "bear_classifier"


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
        if self.label and self.label != OTHER:
            return f"Prediction: {self.label}; Probability: {self.probability:.4f}"
        return self.message


@dataclass(frozen=True)
class Transform:
    """fastai's validation item transform, then scale to [0, 1] and normalise.

    method "squish" is RandomResizedCrop's (squish to size + xtra, centre crop to size) and
    Resize(method="squish")'s (xtra 0); "crop" is Resize(method="crop")'s (the largest centred
    square, resized to size)."""

    size: int = 224
    val_xtra: float = 0.14
    mean: tuple[float, ...] = (0.5, 0.5, 0.5)
    std: tuple[float, ...] = (0.5, 0.5, 0.5)
    method: str = "squish"

    @property
    def resize_to(self) -> int:
        return self.size + math.ceil(self.size * self.val_xtra / 8) * 8

    def _item(self, im: Image.Image) -> Image.Image:
        if self.method == "crop":
            side = min(im.size)
            left, top = (im.width - side) // 2, (im.height - side) // 2
            return im.crop((left, top, left + side, top + side)).resize((self.size, self.size), Image.BILINEAR)
        r, edge = self.resize_to, (self.resize_to - self.size) // 2
        return im.resize((r, r), Image.BILINEAR).crop((edge, edge, edge + self.size, edge + self.size))

    def __call__(self, images: list[Image.Image]) -> np.ndarray:
        """A float32 batch (n, 3, size, size) of RGB images."""
        x = np.stack([np.asarray(self._item(im), dtype=np.float32) for im in images])
        x = (x / 255 - np.float32(self.mean)) / np.float32(self.std)
        return np.ascontiguousarray(x.transpose(0, 3, 1, 2))


class Classifier:
    """A model (any function from a batch to logits) with its vocab, transform and decision rule."""

    def __init__(
        self,
        logits: Callable[[np.ndarray], np.ndarray],
        vocab: list[str],
        transform: Transform = Transform(),
        other_threshold: float = 0.5,
        source_sha256: str | None = None,
    ):
        self.logits, self.vocab, self.transform = logits, list(vocab), transform
        self.other_threshold, self.source_sha256 = other_threshold, source_sha256
        self.notice = ""  # one line for the app when the fast path could not be used

    @property
    def metadata(self) -> dict:
        return {
            "vocab": self.vocab,
            "transform": asdict(self.transform),
            "other_threshold": self.other_threshold,
            "source_sha256": self.source_sha256,
        }

    @classmethod
    def from_onnx(cls, path: str | Path) -> Classifier:
        """Load an `export.onnx` written by `bear_classifier.training.export`; raises ModelError."""
        import onnxruntime as ort

        options = ort.SessionOptions()
        # One thread: many visitors' kernels share a few cores, and the forward pass is a few ms
        # next to decoding a photo (ONNX Runtime would start a busy-waiting thread per core in each).
        options.intra_op_num_threads = 1
        options.enable_cpu_mem_arena = False  # no arena kept between photos: 2 MB less at peak
        try:
            session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as e:  # onnxruntime raises its own exception types for unreadable files
            raise ModelError(f"{Path(path).name} is unreadable ({one_line(e)})") from None
        try:
            meta = json.loads(session.get_modelmeta().custom_metadata_map[METADATA_KEY])
            transform = Transform(**meta["transform"])
            vocab, threshold, source = meta["vocab"], meta["other_threshold"], meta["source_sha256"]
        except (KeyError, TypeError, ValueError):
            raise ModelError(
                f"{Path(path).name} was not written by bear_classifier.training.export (no metadata)"
            ) from None
        name = session.get_inputs()[0].name
        return cls(lambda x: session.run(None, {name: x})[0], vocab, transform, threshold, source)

    @classmethod
    def load(cls, path: str | Path = "export.onnx") -> Classifier:
        """The classifier of `export.onnx`; where the fastai export it is a copy of (`export.pkl`)
        lies beside it, it must be a copy of that very file. ModelError with one line, and the
        command that fixes it, when the file is missing, unreadable or stale."""
        path = Path(path)
        source = path.with_suffix(".pkl")
        if path.suffix != ".onnx":
            raise ModelError(f"the app runs the ONNX copy of a model (export.onnx), not {path.name}")
        if not path.exists() and not source.exists():
            raise ModelError(f"{path} not found: train a model first (train.ipynb or make train)")
        clf, problem = cls.checked(path)
        if clf is None:
            fix = f"run 'python -m bear_classifier.training.export {source}' where fastai is installed"
            raise ModelError(f"{problem}: {fix}" if source.exists() else problem)
        return clf

    @classmethod
    def checked(cls, path: Path) -> tuple[Classifier | None, str]:
        """The classifier of the `.onnx` file `path`, or None and why it won't do: missing,
        unreadable, or made from another export than the `.pkl` beside it."""
        source = path.with_suffix(".pkl")
        if not path.exists():
            return None, f"{path.name} is missing"
        try:
            clf = cls.from_onnx(path)
        except ModelError as e:
            return None, str(e)
        if source.exists() and clf.source_sha256 != sha256_file(source):
            return None, f"{path.name} was made from another {source.name}"
        return clf, ""

    def probabilities(self, images: list[Image.Image]) -> np.ndarray:
        """Softmax over the vocab, one row per RGB image."""
        z = self.logits(self.transform(images)).astype(np.float64)
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    def classify(self, data: bytes) -> Prediction:
        """Classify the bytes of one uploaded file. Never raises: problems come back as a message."""
        try:
            # Big JPEGs decode at reduced scale, never below the transform's first resize.
            im = open_image(data, min_side=self.transform.resize_to, shrink=False)
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
