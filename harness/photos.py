"""Where tests and benchmarks find the real photos, and photos made from them at run time (never kept)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
# The real photos beside the repository (the team's machines and CI), or where BEAR_DATA says.
SHARED = Path(os.environ.get("BEAR_DATA", ROOT.parent / "shared" / "data"))


def photo_folder(name: str) -> Path | None:
    """The published photo folder `name` (bears, bears-test, notbears, notbears-test): data/<name>
    when `make data` brought any of its photos, else the shared photos beside the repository, else
    None. Callers use the photos that are there: a dead link in `make data` costs one photo, not a test."""
    from bear_classifier.photos import manifest

    fetched = ROOT / "data" / name
    if any((fetched / row["file"]).is_file() for row in manifest.read(name)):
        return fetched
    return SHARED / name if (SHARED / name).is_dir() else None


def camera_jpeg(source: Path, path: Path, size=(4032, 3024), quality: int = 92) -> Path:
    """A 12 MP JPEG as a phone camera writes one, at `path`: the photo `source` upscaled, with sensor-like noise."""
    im = Image.open(source).convert("RGB").resize(size, Image.BICUBIC)
    noisy = np.asarray(im).astype(np.int16) + np.random.default_rng(0).integers(-12, 13, (size[1], size[0], 3))
    Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)).save(path, "JPEG", quality=quality)
    return path


def photo_sets(folder: Path, visitors: int, k: int, classes=("grizzly", "black", "teddy")) -> list[list[Path]]:
    """K photos of `folder`'s class sub-folders for each visitor, classes interleaved, so that no two
    in a row share a name."""
    by_class = [sorted((folder / c).glob("*.jp*g")) for c in classes]
    interleaved = [p for group in zip(*by_class) for p in group]
    return [[interleaved[(v * k + j) % len(interleaved)] for j in range(k)] for v in range(visitors)]


def present(name: str) -> list[dict]:
    """The rows of the manifest `name` whose photo is in its photo_folder (none when there is no folder)."""
    from bear_classifier.photos import manifest

    folder = photo_folder(name)
    return [row for row in manifest.read(name) if folder and (folder / row["file"]).is_file()]
