"""The app's classifier: bytes in, Prediction out, never an exception.

It runs `export.onnx` with ONNX Runtime and preprocesses with Pillow and numpy, so the app
imports neither torch nor fastai (docs/benchmarks.md: the app's start and memory, measured).
Training writes `export.onnx` beside `export.pkl`: the same model, with what inference needs in
its metadata (vocab, validation transform, the "none of these" and "not sure" thresholds and the
sha256 of the `export.pkl` it was made from) and, where the model's head allows it, the class
activation maps as a second output ("where it looked"). When that file is missing, unreadable or
made from another export, `Classifier.load` says so in one line, with the command that writes it.
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
from .wording import none_of_these, not_sure

METADATA_KEY = "bear_classifier"
LOGITS, CAM = "logits", "cam"  # the names of export.onnx's outputs (older copies: one output, the logits)
SURE, NOT_SURE, NONE_OF_THESE = "sure", "not sure", "none of these"  # the kinds of answer
# An answer is sure when its class has at least this share of the top two classes' probability
# (9 to 1) where training had no out-of-fold predictions to choose the share from (no negatives,
# fine-tuned, trained elsewhere); the shipped model's out-of-fold line is 0.886 (MODEL_CARD.md).
DEFAULT_SURE_THRESHOLD = 0.9


@dataclass
class Prediction:
    """An answer: `kind` SURE (the seed's line), NOT_SURE (`label` is the most probable class and
    `message` names the next) or NONE_OF_THESE (`label` is OTHER); or, with no label and no kind,
    a failure that `message` explains.

    `cam` is the class activation map of the class the answer names (none for "none of these", or
    where the model has no maps): rows top to bottom, at the model's feature resolution, in logits.
    It covers `region`, the part of the upright photo that the model read: (left, top, right,
    bottom) as fractions of the photo's width and height (Transform.region)."""

    label: str = ""
    probability: float = 0.0
    probs: dict[str, float] = field(default_factory=dict)
    message: str = ""
    kind: str = ""
    cam: list[list[float]] | None = None
    region: tuple[float, float, float, float] | None = None
    image: Image.Image | None = field(default=None, repr=False)  # the decoded, upright upload

    @property
    def ok(self) -> bool:
        return bool(self.label)

    def text(self) -> str:
        """The app's line: the seed's format for a sure answer, else the words of the answer or the problem."""
        if self.kind == SURE:
            return f"Prediction: {self.label}; Probability: {self.probability:.4f}"
        return self.message

    def peak(self) -> tuple[float, float] | None:
        """The centre of the map's highest cell, as fractions (x, y) of the photo's width and height."""
        if self.cam is None or self.region is None:
            return None
        cam = np.asarray(self.cam)
        row, col = np.unravel_index(cam.argmax(), cam.shape)
        left, top, right, bottom = self.region
        return (
            float(left + (col + 0.5) / cam.shape[1] * (right - left)),
            float(top + (row + 0.5) / cam.shape[0] * (bottom - top)),
        )


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

    @property
    def _edge(self) -> int:
        """What "squish" crops from each side of the squished photo, in its pixels."""
        return (self.resize_to - self.size) // 2

    def region(self, width: int, height: int) -> tuple[float, float, float, float]:
        """The part of a `width` x `height` photo that the model reads, in its pixels: (left, top,
        right, bottom). "squish" reads the central size / resize_to of each side (so the cells of a
        map are square only on a square photo); "crop" the largest centred square."""
        if self.method == "crop":
            side = min(width, height)
            left, top = (width - side) // 2, (height - side) // 2
            return left, top, left + side, top + side
        r, edge = self.resize_to, self._edge
        return width * edge / r, height * edge / r, width * (edge + self.size) / r, height * (edge + self.size) / r

    def _item(self, im: Image.Image) -> Image.Image:
        if self.method == "crop":
            return im.crop(self.region(*im.size)).resize((self.size, self.size), Image.BILINEAR)
        r, edge = self.resize_to, self._edge
        return im.resize((r, r), Image.BILINEAR).crop((edge, edge, edge + self.size, edge + self.size))

    def __call__(self, images: list[Image.Image]) -> np.ndarray:
        """A float32 batch (n, 3, size, size) of RGB images."""
        x = np.stack([np.asarray(self._item(im), dtype=np.float32) for im in images])
        x = (x / 255 - np.float32(self.mean)) / np.float32(self.std)
        return np.ascontiguousarray(x.transpose(0, 3, 1, 2))


# A model: a batch (n, 3, size, size) to its logits (n, classes) and its class activation maps
# (n, classes, rows, columns), or None for a model without maps.
Forward = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray | None]]


class Classifier:
    """A model (Forward) with its vocab, transform and decision rule."""

    def __init__(
        self,
        forward: Forward,
        vocab: list[str],
        transform: Transform = Transform(),
        other_threshold: float = 0.5,
        sure_threshold: float = DEFAULT_SURE_THRESHOLD,
        source_sha256: str | None = None,
    ):
        self.forward, self.vocab, self.transform = forward, list(vocab), transform
        self.other_threshold, self.sure_threshold, self.source_sha256 = other_threshold, sure_threshold, source_sha256
        self.notice = ""  # one line for the app when the fast path could not be used

    @property
    def metadata(self) -> dict:
        return {
            "vocab": self.vocab,
            "transform": asdict(self.transform),
            "other_threshold": self.other_threshold,
            "sure_threshold": self.sure_threshold,
            "source_sha256": self.source_sha256,
        }

    def logits(self, x: np.ndarray) -> np.ndarray:
        """The logits of a batch (n, 3, size, size)."""
        return self.forward(x)[0]

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
            sure = meta.get("sure_threshold", DEFAULT_SURE_THRESHOLD)  # older copies have none
        except (KeyError, TypeError, ValueError):
            raise ModelError(
                f"{Path(path).name} was not written by bear_classifier.training.export (no metadata)"
            ) from None
        name, outputs = session.get_inputs()[0].name, [o.name for o in session.get_outputs()]

        def forward(x: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
            out = session.run(None, {name: x})
            return out[0], out[outputs.index(CAM)] if CAM in outputs else None

        return cls(forward, vocab, transform, threshold, sure, source)

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
        return softmax(self.logits(self.transform(images)))

    def classify(self, data: bytes) -> Prediction:
        """Classify the bytes of one uploaded file. Never raises: problems come back as a message."""
        try:
            # Big JPEGs decode at reduced scale, never below the transform's first resize.
            im = open_image(data, min_side=self.transform.resize_to, shrink=False, capped=True)
            logits, cams = self.forward(self.transform([im]))
        except BadImage as e:
            return Prediction(message=str(e))
        except Exception as e:  # the app must survive anything a file can do to a decoder
            return Prediction(message=f"Sorry, this picture could not be classified ({type(e).__name__}).")
        pred = self.decide(dict(zip(self.vocab, softmax(logits)[0].tolist())))
        if cams is not None and pred.kind != NONE_OF_THESE:
            pred.cam = cams[0, self.vocab.index(pred.label)].tolist()
        left, top, right, bottom = self.transform.region(im.width, im.height)
        pred.region = (left / im.width, top / im.height, right / im.width, bottom / im.height)
        pred.image = im
        return pred

    def decide(self, probs: dict[str, float]) -> Prediction:
        """Bear or not first (OTHER when its probability reaches `other_threshold`), then which
        class, sure when it has at least `sure_threshold` of the top two classes' probability."""
        classes = [c for c in self.vocab if c != OTHER]
        if probs.get(OTHER, 0.0) >= self.other_threshold:
            return Prediction(OTHER, probs[OTHER], probs, none_of_these(classes), NONE_OF_THESE)
        label, runner_up, share = top_two(probs, classes)
        if share >= self.sure_threshold:
            return Prediction(label, probs[label], probs, kind=SURE)
        return Prediction(label, probs[label], probs, not_sure(label, runner_up, classes), NOT_SURE)


def top_two(probs: dict[str, float], classes: list[str]) -> tuple[str, str | None, float]:
    """The most probable of `classes`, the next (None when there is one class), and the first's
    share of the two's probability (1 for one class): how clearly the answer is ahead."""
    first, *rest = sorted(classes, key=probs.get, reverse=True)  # stable: ties keep the vocab's order
    if not rest:
        return first, None, 1.0
    return first, rest[0], probs[first] / (probs[first] + probs[rest[0]])


def softmax(logits: np.ndarray) -> np.ndarray:
    """Probabilities (float64) of a batch of logits, one row each."""
    z = logits.astype(np.float64)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)
