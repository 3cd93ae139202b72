"""Export a trained learner: `export.pkl` for fastai's load_learner, and `export.onnx` beside it
for the app (the same model for ONNX Runtime, with vocab, transform, threshold and the
sha256 of the `.pkl` in its metadata).

    python -m bear_classifier.training.export export.pkl     # writes export.onnx for an export made elsewhere
"""
from __future__ import annotations

import argparse
import copy
import json
import warnings
from pathlib import Path

from ..app.classifier import METADATA_KEY
from ..core import ModelError, fail, one_line, sha256_file
from .adapters import learner_classifier, load_learner_quietly


def export_learner(learn, out: Path) -> Path:
    """Write `out` (the pickle references only fastai, timm and torch, not this package)
    and its ONNX copy beside it."""
    from fastai.vision.all import trainable_params

    learn.opt, learn.splitter = None, trainable_params  # optimizer state is not exported anyway
    out = Path(out).absolute()
    learn.export(out)
    write_onnx(learn, out.with_suffix(".onnx"), source=out)
    return out


def write_onnx(learn, path: Path, source: Path | None = None) -> Path:
    """The learner's model as ONNX (batch size free), with the metadata the app needs."""
    import onnx
    import torch

    clf = learner_classifier(learn)
    clf.source_sha256 = sha256_file(source) if source else None
    model = copy.deepcopy(learn.model).float().cpu().eval()
    example = torch.zeros(2, 3, clf.transform.size, clf.transform.size)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.export's notes about the traced graph
        program = torch.onnx.export(model, (example,), dynamo=True, verbose=False,
                                    dynamic_shapes=({0: torch.export.Dim("batch", max=1024)},))
    program.optimize()
    proto = program.model_proto
    proto.metadata_props.add(key=METADATA_KEY, value=json.dumps(clf.metadata))
    onnx.save(proto, str(path))
    return Path(path)


def main(argv=None):
    p = argparse.ArgumentParser(description="Write the ONNX copy (export.onnx) of a fastai export for the app.")
    p.add_argument("export", type=Path, nargs="?", default=Path("export.pkl"))
    a = p.parse_args(argv)
    if not a.export.is_file():
        fail(f"{a.export} not found")
    try:
        learn = load_learner_quietly(a.export)
    except Exception as e:  # a damaged or foreign pickle
        fail(f"{a.export} could not be loaded ({one_line(e)})")
    try:
        print(write_onnx(learn, a.export.with_suffix(".onnx"), source=a.export))
    except ModelError as e:
        fail(str(e))


if __name__ == "__main__":
    main()
