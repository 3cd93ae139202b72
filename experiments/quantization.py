"""How the int8 copy's settings were chosen, on training photos only (never the held-out folders):
each setting quantizes the float32 copy of `export.pkl`, calibrated on photos of the training
split as `train` does, and is judged against the float32 copy on the validation split: labels
changed, largest and mean probability difference, accuracy, size and forward time (interleaved
with the float32 copy's, the app's session options). The committed export.onnx is judged too.

    .venv/bin/python -m experiments.quantization [--data data/bears --negatives data/notbears]    # prints JSON
"""

import argparse
import contextlib
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType

from bear_classifier.app.classifier import Classifier
from bear_classifier.images import open_image
from bear_classifier.photos.published import download_if_published
from bear_classifier.training import decisions as cleaning
from bear_classifier.training.adapters import load_learner_quietly
from bear_classifier.training.cache import build_cache
from bear_classifier.training.datablock import dataloaders
from bear_classifier.training.export import CALIBRATION_PHOTOS, calibration_photos, quantize, write_onnx
from bear_classifier.training.recipe import Recipe, add_data_arguments

SETTINGS = {  # changes from the shipped setting (the first); "photos": how many to calibrate on
    "shipped: QDQ, per-channel 7-bit weights, uint8 activations, MinMax, 200 photos": {},
    "8-bit weights": {"reduce_range": False},
    "per-tensor weights": {"per_channel": False},
    "Entropy ranges": {"calibrate_method": CalibrationMethod.Entropy},
    "Percentile ranges (99.999)": {
        "calibrate_method": CalibrationMethod.Percentile,
        "extra_options": {"CalibPercentile": 99.999},
    },
    "int8 activations": {"activation_type": QuantType.QInt8},
    "QOperator format": {"quant_format": QuantFormat.QOperator},
    "100 photos": {"photos": 100},
    "500 photos": {"photos": 500},
}


def probabilities(clf: Classifier, x: np.ndarray) -> np.ndarray:
    z = np.concatenate([clf.logits(x[i : i + 25]) for i in range(0, len(x), 25)]).astype(np.float64)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def forward_p50(clfs: list[Classifier], x: np.ndarray, n: int = 60) -> list[float]:
    """p50 ms of one forward pass of each, called in turn."""
    times = [[] for _ in clfs]
    for _ in range(n):
        for t, clf in zip(times, clfs, strict=True):
            start = time.perf_counter()
            clf.logits(x)
            t.append((time.perf_counter() - start) * 1000)
    return [round(statistics.median(t), 2) for t in times]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_data_arguments(p)
    p.add_argument("--model", type=Path, default=Path("export.pkl"))
    a = p.parse_args()
    negatives = a.negatives or Path("data/notbears")
    data, negatives = download_if_published(a.data), download_if_published(negatives)
    build_cache(data, a.cache, cleaning.from_args(a), negatives, verbose=False)
    dls = dataloaders(a.cache, Recipe())
    train, valid = sorted(dls.train_ds.items), sorted(dls.valid_ds.items)
    with tempfile.TemporaryDirectory() as tmp:
        path = write_onnx(load_learner_quietly(a.model), Path(tmp) / "float32.onnx", source=a.model)
        float32, model = Classifier.from_onnx(path), onnx.load(str(path))
        tf = float32.transform
        x = np.concatenate([tf([open_image(v, min_side=tf.resize_to, shrink=False)]) for v in valid])
        truth = [v.parent.name for v in valid]

        def labels(probs):
            return [float32.decide(dict(zip(float32.vocab, row, strict=True))).label for row in probs]

        reference = probabilities(float32, x)
        expected = labels(reference)

        def judged(int8: Classifier, size: int) -> dict:
            probs = probabilities(int8, x)
            got = labels(probs)
            largest = np.abs(probs - reference).max(axis=1)
            fwd_int8, fwd_float32 = forward_p50([int8, float32], x[:1])
            return {
                "labels_changed": [
                    f"{v.parent.name}/{v.name[:12]}: {b} -> {c}"
                    for v, b, c in zip(valid, expected, got, strict=True)
                    if b != c
                ],
                "largest_probability_difference": round(float(largest.max()), 4),
                "mean_largest_difference": round(float(largest.mean()), 4),
                "correct": sum(map(str.__eq__, got, truth)),
                "onnx_mb": round(size / 1e6, 2),
                "forward_p50_ms": fwd_int8,
                "float32_forward_p50_ms": fwd_float32,
            }

        shipped = a.model.with_suffix(".onnx")
        out = {
            "model": str(a.model),
            "calibration": f"evenly spaced photos of the {len(train)}-photo training split",
            "validation_photos": len(valid),
            "float32_correct": sum(map(str.__eq__, expected, truth)),
            # the committed copy, for the record: its calibration photos (the CLI's, from the training
            # folders) include about a fifth of the validation split
            "shipped_export_onnx": judged(Classifier.load(shipped), shipped.stat().st_size),
            "settings": {},
        }
        for name, change in SETTINGS.items():
            change = dict(change)
            photos = calibration_photos(train, change.pop("photos", CALIBRATION_PHOTOS))
            int8_path = Path(tmp) / "int8.onnx"
            start = time.perf_counter()
            with contextlib.redirect_stdout(sys.stderr):  # the histogram calibrators print their progress
                onnx.save(quantize(model, tf, photos, **change), str(int8_path))
            seconds = time.perf_counter() - start
            out["settings"][name] = judged(Classifier.from_onnx(int8_path), int8_path.stat().st_size)
            out["settings"][name]["quantize_s"] = round(seconds, 1)
            print(name, json.dumps(out["settings"][name]), file=sys.stderr, flush=True)  # progress
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
