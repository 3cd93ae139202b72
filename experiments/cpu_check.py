"""Whether an ONNX copy answers alike on another CPU: its logits on every 30th photo of a folder
(the app's decoding, transform and session options), saved; then two saved runs compared.

    .venv/bin/python -m experiments.cpu_check export.onnx ../shared/data/bears native.npy
    qemu-x86_64 -cpu Haswell .venv/bin/python3 -m experiments.cpu_check export.onnx ../shared/data/bears haswell.npy
    .venv/bin/python -m experiments.cpu_check --compare native.npy haswell.npy      # prints JSON

qemu-x86_64 (Debian's qemu-user) emulates a CPU without AVX-512 and VNNI on any x86 machine.
Only the app's modules are imported, so the emulated run takes a minute or two.
"""

import json
import sys
from pathlib import Path

import numpy as np

from bear_classifier.app.classifier import Classifier
from bear_classifier.images import IMAGE_EXTS, open_image


def logits(model: Path, folder: Path, every: int = 30) -> np.ndarray:
    clf = Classifier.from_onnx(model)
    photos = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_EXTS)[::every]
    return np.concatenate(
        [clf.logits(clf.transform([open_image(p, min_side=clf.transform.resize_to, shrink=False)])) for p in photos]
    )


def main():
    if sys.argv[1] == "--compare":
        a, b = np.load(sys.argv[2]), np.load(sys.argv[3])
        print(
            json.dumps(
                {
                    "photos": len(a),
                    "largest_logit_difference": float(np.abs(a - b).max()),
                    "same_arg_max": bool((a.argmax(1) == b.argmax(1)).all()),
                },
                indent=1,
            )
        )
    else:
        np.save(sys.argv[3], logits(Path(sys.argv[1]), Path(sys.argv[2])))


if __name__ == "__main__":
    main()
