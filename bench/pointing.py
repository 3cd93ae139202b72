"""The pointing game: does the map of the answer point at the bear? Held-out bear photos (bears-test)
are shrunk to half their side and pasted at random places on neutral backgrounds of the photo's own
size, made here (plain colours, blurred noise, gradients); a composite is a hit when the centre of
the highest cell of the answer's map, mapped back through the transform (Prediction.peak), falls
inside the pasted photo. An answer without a map ("none of these") is a miss.

    python -m bench.pointing                          # 60 composites, the int8 export.onnx and its float32 copy
    python -m bench.pointing --composites 120 --seed 1 --no-float32

A photo at half the side covers the middle of the picture wherever it lies, so pointing at the
middle always wins this game (`middle_hit_rate`, same composites). The same game with photos at a
third of their side (`third_side`), where the middle wins about a quarter of the time, tells a map
that finds the bear from one that looks at the middle.

Each photo is read with its short side at 512 px (the model reads 224), and each composite is sent to
`Classifier.classify` as a JPEG (quality 95), as the app gets a photo.
"""

from __future__ import annotations

import argparse
import io
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from bear_classifier.app.classifier import Classifier
from bear_classifier.images import IMAGE_EXTS, open_image
from bench.runner import ROOT, Result, Target, main, photos, training_set

TARGETS = [Target("composites", 50, at_least=True), Target("int8.hit_rate", 0.9, at_least=True)]
BACKGROUNDS = ("plain", "noise", "gradient")
SIDE = 512  # the short side photos are read at


def arguments(parser):
    parser.add_argument("--composites", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0, help="seeds the photos, backgrounds and places")
    parser.add_argument(
        "--float32",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also play with the float32 copy of export.pkl (needs the training set)",
    )


def background(ground: str, size: tuple[int, int], rng: np.random.Generator) -> Image.Image:
    """A neutral RGB picture of `size`: one plain colour, blurred noise, or a linear gradient
    between two colours in a random direction."""
    w, h = size
    if ground == "plain":
        return Image.new("RGB", size, tuple(int(c) for c in rng.integers(0, 256, 3)))
    if ground == "noise":
        noise = Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
        return noise.filter(ImageFilter.GaussianBlur(min(size) / 50))
    if ground == "gradient":
        angle = rng.uniform(0, 2 * np.pi)
        y, x = np.mgrid[0:h, 0:w]
        t = x * np.cos(angle) + y * np.sin(angle)
        t = ((t - t.min()) / max(np.ptp(t), 1))[..., None]
        a, b = rng.integers(0, 256, (2, 3))
        return Image.fromarray((a + (b - a) * t).astype(np.uint8))
    raise ValueError(f"no background {ground!r}")


def composite(
    photo: Image.Image, ground: str, rng: np.random.Generator, scale: float = 0.5
) -> tuple[Image.Image, tuple[int, int, int, int]]:
    """`photo` at `scale` of its side, pasted at a random place on a `ground` background of its own
    size; and the box it lies in, (left, top, right, bottom) in pixels."""
    small = photo.resize((round(photo.width * scale), round(photo.height * scale)), Image.BILINEAR)
    left = int(rng.integers(0, photo.width - small.width + 1))
    top = int(rng.integers(0, photo.height - small.height + 1))
    out = background(ground, photo.size, rng)
    out.paste(small, (left, top))
    return out, (left, top, left + small.width, top + small.height)


def jpeg(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=95)
    return buf.getvalue()


def inside(point: tuple[float, float] | None, box: tuple[int, int, int, int], size: tuple[int, int]) -> bool:
    """Whether `point` (fractions of a picture of `size`; None: no point) lies inside `box` (pixels)."""
    if point is None:
        return False
    x, y = point[0] * size[0], point[1] * size[1]
    return box[0] <= x < box[2] and box[1] <= y < box[3]


def composites(folder: Path, n: int, seed: int, scale: float = 0.5):
    """`n` composites (name, background, JPEG bytes, size, box) of the photos of `folder`'s class
    sub-folders at `scale` of their side, in a seeded random order, taking the backgrounds in turn."""
    rng = np.random.default_rng(seed)
    paths = sorted(p for p in folder.glob("*/*") if p.suffix.lower() in IMAGE_EXTS)
    for i, j in enumerate(rng.permutation(max(n, len(paths)))[:n] % len(paths)):
        ground = BACKGROUNDS[i % len(BACKGROUNDS)]
        im, box = composite(open_image(paths[j], min_side=SIDE), ground, rng, scale)
        yield f"{paths[j].parent.name}/{paths[j].name}", ground, jpeg(im), im.size, box


def play(clf: Classifier, games: list) -> tuple[dict, list]:
    """The pointing game's figures for one copy of the model over `games` (from `composites`), and
    the peaks."""
    by_ground = {ground: {"composites": 0, "hits": 0} for ground in BACKGROUNDS}
    kinds, misses, peaks = Counter(), [], []
    for name, ground, data, size, box in games:
        pred = clf.classify(data)
        peak = pred.peak()
        kinds[pred.kind] += 1
        by_ground[ground]["composites"] += 1
        peaks.append(peak)
        if inside(peak, box, size):
            by_ground[ground]["hits"] += 1
        else:
            where = "no map" if peak is None else f"peak at {np.round(peak, 2).tolist()}"
            misses.append(f"{name} on {ground}: {pred.label} ({pred.kind}), {where}, photo at {box} of {size}")
    hits, with_map = sum(k["hits"] for k in by_ground.values()), sum(p is not None for p in peaks)
    figures = {"hits": hits, "hit_rate": round(hits / len(games), 4), "answers_with_a_map": with_map}
    return figures | {"by_background": by_ground, "kinds": dict(kinds), "misses": misses}, peaks


def game(copies: dict[str, Classifier], games: list) -> dict:
    """Every copy's figures over the same `games`, how often their peaks are the same cell, and the
    hit rate of pointing at the middle of the picture."""
    figures, peaks = {}, {}
    for name, clf in copies.items():
        figures[name], peaks[name] = play(clf, games)
    if len(peaks) == 2:
        figures["same_peak"] = sum(a == b for a, b in zip(*peaks.values()))
    middle = sum(inside((0.5, 0.5), box, size) for *_, size, box in games)
    return figures | {"middle_hit_rate": round(middle / len(games), 4)}


def run(args):
    folder = photos("bears-test")
    names = ["int8", "float32"] if args.float32 else ["int8"]
    if args.float32:
        training_set()
    from bear_classifier.training.export import model_copy

    copies = {name: model_copy(name, ROOT / "export.pkl") for name in names}
    figures = {"composites": args.composites, "photos": folder.name, "side": SIDE}
    figures |= game(copies, list(composites(folder, args.composites, args.seed)))
    figures["third_side"] = game(copies, list(composites(folder, args.composites, args.seed, scale=1 / 3)))
    yield Result(figures, TARGETS)


if __name__ == "__main__":
    main()
