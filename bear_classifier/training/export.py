"""Export a trained learner: `export.pkl` for fastai's load_learner, and `export.onnx` beside it
for the app: the same model for ONNX Runtime, quantized to int8 (ONNX Runtime's static
quantization, calibrated on training photos), with vocab, transform, thresholds and the sha256 of
the `.pkl` in its metadata, and two outputs, "logits" and, where the head allows it
(archs.has_maps), "cam", the class activation maps. `--float32` writes the unquantized copy
instead (4x larger).

    python -m bear_classifier.training.export export.pkl [--calibration data/bears data/notbears] [--float32]
"""

from __future__ import annotations

import argparse
import copy
import json
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path

from ..app.classifier import CAM, LOGITS, METADATA_KEY, Classifier, Transform
from ..core import BadImage, DataError, ModelError, fail, one_line, sha256_file
from ..images import open_image
from .adapters import learner_classifier, load_learner_quietly
from .archs import WithMaps, has_maps
from .cache import is_image_name

CALIBRATION_PHOTOS = 200  # evenly spaced over the training photos; MODEL_CARD.md says how this was chosen


def export_learner(learn, out: Path, calibration: Sequence[Path] | None) -> Path:
    """Write `out` (the pickle references only fastai, timm and torch, not this package)
    and its ONNX copy beside it: int8, calibrated on `calibration` photos (`calibration_photos`
    of the training split), or float32 when None."""
    from fastai.vision.all import trainable_params

    learn.opt, learn.splitter = None, trainable_params  # optimizer state is not exported anyway
    out = Path(out).absolute()
    learn.export(out)
    write_onnx(learn, out.with_suffix(".onnx"), source=out, calibration=calibration)
    return out


def write_onnx(learn, path: Path, source: Path | None = None, calibration: Sequence[Path] | None = None) -> Path:
    """The learner's model as ONNX (batch size free), with the metadata the app needs and the
    outputs LOGITS and, where the model has them (archs.has_maps), CAM; int8 when given
    `calibration` photos (see `calibration_photos`), else float32."""
    import onnx
    import torch

    clf = learner_classifier(learn)
    clf.source_sha256 = sha256_file(source) if source else None
    model = copy.deepcopy(learn.model).float().cpu().eval()
    model, outputs = (WithMaps(model), [LOGITS, CAM]) if has_maps(model) else (model, [LOGITS])
    example = torch.zeros(2, 3, clf.transform.size, clf.transform.size)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.export's notes about the traced graph
        program = torch.onnx.export(
            model,
            (example,),
            dynamo=True,
            verbose=False,
            output_names=outputs,
            dynamic_shapes=({0: torch.export.Dim("batch", max=1024)},),
        )
    program.optimize()
    proto = program.model_proto
    if calibration is not None:
        proto = quantize(proto, clf.transform, calibration)
    proto.metadata_props.add(key=METADATA_KEY, value=json.dumps(clf.metadata))
    onnx.save(proto, str(path))
    return Path(path)


def quantize(model, transform: Transform, photos: Sequence[Path], **settings):
    """`model` (an onnx.ModelProto) with int8 weights (per output channel, 7 bits used) and uint8
    activations whose ranges are the min and max over `photos`, preprocessed as the app does (QDQ
    format); `settings` replace quantize_static's (experiments.quantization compares some).

    7-bit weights: with 8, x86 CPUs without VNNI (AVX2) saturate uint8 x int8 sums and answer
    differently from those with it (MODEL_CARD.md, "The int8 copy")."""
    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    name = model.graph.input[0].name

    class Photos(CalibrationDataReader):
        def __init__(self):
            self.batches = (transform([im]) for im in _decodable(photos, transform.resize_to))

        def get_next(self):
            x = next(self.batches, None)
            return None if x is None else {name: x}

    with tempfile.TemporaryDirectory() as tmp:
        onnx.save(model, str(Path(tmp) / "float32.onnx"))
        # ONNX's shape inference and ORT's graph optimizations (the symbolic shape inference, for
        # transformers, fails on fastai's concat-pooling heads)
        quant_pre_process(Path(tmp) / "float32.onnx", Path(tmp) / "prepared.onnx", skip_symbolic_shape=True)
        settings = (
            dict(
                quant_format=QuantFormat.QDQ,
                per_channel=True,
                reduce_range=True,
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
                calibrate_method=CalibrationMethod.MinMax,
            )
            | settings
        )
        quantize_static(Path(tmp) / "prepared.onnx", Path(tmp) / "int8.onnx", Photos(), **settings)
        return onnx.load(str(Path(tmp) / "int8.onnx"))


def _decodable(photos: Sequence[Path], min_side: int):
    """The photos that decode, as the app decodes an upload; DataError when none does."""
    decoded = 0
    for p in photos:
        try:
            im = open_image(p, min_side=min_side, shrink=False)
        except BadImage:
            continue
        decoded += 1
        yield im
    if not decoded:
        raise DataError(f"none of the {len(photos)} calibration photos could be decoded")


def calibration_photos(sources: Sequence[Path], n: int = CALIBRATION_PHOTOS) -> list[Path]:
    """`n` image files evenly spaced over the sorted image files among `sources` (files, or folders
    searched recursively), all of them when fewer; DataError when there are none, or when a source
    lies in a held-out folder (`*-test`)."""
    sources = [Path(s) for s in sources]
    held_out = [str(s) for s in sources if any(part.endswith("-test") for part in s.resolve().parts)]
    if held_out:
        raise DataError(f"{held_out[0]} is a held-out photo folder: calibrate on training photos")
    files = (p for s in sources for p in (s.rglob("*") if s.is_dir() else [s]))
    paths = sorted(p for p in files if p.is_file() and is_image_name(p))
    if not paths:
        raise DataError(
            f"no calibration photos in {', '.join(map(str, sources))}: pass --calibration with "
            "folders of the model's training photos (make data fetches the bears'), or --float32"
        )
    return paths if len(paths) <= n else [paths[i * len(paths) // n] for i in range(n)]


def model_copy(name: str, export: Path) -> Classifier:
    """A copy of the fastai export `export`: "int8", the app's export.onnx beside it, or "float32",
    made here (float32_copy)."""
    if name == "int8":
        return Classifier.load(Path(export).with_suffix(".onnx"))
    if name == "float32":
        return float32_copy(export)
    raise ValueError(f"no copy named {name!r}: int8 or float32")


def float32_copy(export: Path) -> Classifier:
    """The float32 ONNX copy of a fastai export, made on the fly (for comparisons with the int8 one)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = write_onnx(load_learner_quietly(export), Path(tmp) / "export.onnx", source=export)
        return Classifier.from_onnx(path)  # the session holds the model: the file may go


def main(argv=None):
    p = argparse.ArgumentParser(description="Write the ONNX copy (export.onnx) of a fastai export for the app.")
    p.add_argument("export", type=Path, nargs="?", default=Path("export.pkl"))
    p.add_argument(
        "--calibration",
        type=Path,
        nargs="+",
        default=[Path("data/bears"), Path("data/notbears")],
        metavar="FOLDER",
        help=f"folders of the model's training photos (never held-out ones): the int8 "
        f"copy is calibrated on {CALIBRATION_PHOTOS} of them, evenly spaced (default: data/bears "
        "data/notbears)",
    )
    p.add_argument(
        "--float32", action="store_true", help="write the float32 copy instead (4x larger, no photos needed)"
    )
    a = p.parse_args(argv)
    if not a.export.is_file():
        fail(f"{a.export} not found")
    try:
        photos = None if a.float32 else calibration_photos(a.calibration)
    except DataError as e:
        fail(str(e))
    try:
        learn = load_learner_quietly(a.export)
    except Exception as e:  # a damaged or foreign pickle
        fail(f"{a.export} could not be loaded ({one_line(e)})")
    try:
        print(write_onnx(learn, a.export.with_suffix(".onnx"), source=a.export, calibration=photos))
    except (ModelError, DataError) as e:
        fail(str(e))


if __name__ == "__main__":
    main()
