"""The recipe of a training run, and the command-line options every training command shares."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, fields
from pathlib import Path

from .decisions import COMMITTED


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
    sure: float = 0.99  # share of out-of-fold answers above the "not sure" line that are right, 95 % sure
    epochs: int = 0  # optional fine-tuning of the last stage after the probe; the three knobs below only
    lr: float = 3e-4  # act when epochs > 0: largest learning rate (the last stage gets a tenth),
    label_smoothing: float = 0.0
    min_scale: float = 0.5  # and RandomResizedCrop's augmentation

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        """One --option per field, defaulting to the field's value."""
        from .archs import ARCHS

        for f in fields(cls):
            flag = f"--{f.name.replace('_', '-')}"
            if f.type == "bool":
                parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=f.default)
            else:
                parser.add_argument(
                    flag, type=type(f.default), default=f.default, choices=list(ARCHS) if f.name == "arch" else None
                )

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Recipe:
        return cls(**{f.name: getattr(args, f.name) for f in fields(cls)})

    def seed_everything(self) -> None:
        from fastai.torch_core import set_seed

        set_seed(self.seed, reproducible=True)


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    """--data, --negatives, --decisions and --cache, declared once for every training command."""
    parser.add_argument(
        "--data",
        type=Path,
        default=Path("data/bears"),
        help="folder with one sub-folder of images per class (default: the published photos, fetched when missing)",
    )
    parser.add_argument(
        "--negatives", type=Path, help="folder of pictures showing none of the classes (learned as 'other')"
    )
    parser.add_argument(
        "--decisions",
        type=Path,
        help=f"cleaning decisions CSV (sha256, action, label; default: {COMMITTED} if present)",
    )
    parser.add_argument("--cache", type=Path, default=Path(".cache/train"), help="where verified, resized copies go")
