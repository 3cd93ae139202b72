"""The verified cache: scan a folder of class sub-folders, apply the cleaning decisions, and
write an upright, resized copy of every usable image into a cache keyed by content.

Nothing in the user's folder is ever modified: every output goes to the cache.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from ..core import OTHER, BadImage, DataError, sha256_file
from ..images import IMAGE_EXTS, open_image
from . import decisions as cleaning

CACHE_SIDE = 320  # shorter side of cached images, px


@dataclass
class Item:
    path: Path
    label: str


@dataclass
class Report:
    """What build_cache did, for people and tests."""

    counts: dict[str, int] = field(default_factory=dict)
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    dropped: int = 0
    relabelled: int = 0
    duplicates: int = 0

    def summary(self) -> str:
        per_class = ", ".join(f"{k}: {v}" for k, v in sorted(self.counts.items()))
        return (
            f"{sum(self.counts.values())} images ({per_class}); {len(self.skipped)} unreadable skipped, "
            f"{self.duplicates} duplicates, {self.dropped} dropped and {self.relabelled} relabelled by decisions"
        )


def is_image_name(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTS and not path.name.startswith(".")


def scan(data: Path, negatives: Path | None = None, per_class: int | None = None) -> list[Item]:
    """List (path, label) for every image-named file; labels are the class folder names.

    `negatives` is a folder of pictures showing none of the classes (searched
    recursively); they get the label "other". `per_class` keeps only the first n files
    of each class, for quick runs. Raises DataError for unusable layouts.
    """
    data = Path(data)
    if not data.is_dir():
        raise DataError(f"{data} is not a folder; expected one sub-folder per class, e.g. {data}/grizzly/")
    items = []
    classes = sorted(d for d in data.iterdir() if d.is_dir() and not d.name.startswith("."))
    for d in classes:
        items += [Item(p, d.name) for p in sorted(d.rglob("*")) if p.is_file() and is_image_name(p)]
    labels = sorted({i.label for i in items})
    if not items:
        raise DataError(f"no images found in {data}; expected one sub-folder per class containing .jpg/.png/... files")
    empty = [d.name for d in classes if d.name not in labels]
    if empty:
        print(f"warning: ignoring class folders with no images: {', '.join(empty)}", file=sys.stderr)
    if negatives is not None:
        if OTHER in labels:
            raise DataError(f"a class folder is named {OTHER!r}, which is reserved for the negatives folder")
        neg = [Item(p, OTHER) for p in sorted(Path(negatives).rglob("*")) if p.is_file() and is_image_name(p)]
        if not neg:
            raise DataError(f"no images found in negatives folder {negatives}")
        items += neg
        labels.append(OTHER)
    if len(labels) < 2:
        raise DataError(f"found only one class ({labels[0]}) in {data}; a classifier needs at least two class folders")
    return _first_per_class(items, per_class) if per_class else items


def _first_per_class(items: list[Item], n: int) -> list[Item]:
    seen: dict[str, int] = {}
    kept = []
    for item in items:
        seen[item.label] = seen.get(item.label, 0) + 1
        if seen[item.label] <= n:
            kept.append(item)
    return kept


def _cache_one(job: tuple[str, str, int]) -> tuple[str, str | None]:
    """Resize one image into the cache; returns (sha256, error or None)."""
    src, dst, side = job
    try:
        sha = sha256_file(Path(src))
        out = Path(dst.format(sha=sha))
        if not out.exists():
            im = open_image(src, min_side=side)
            if min(im.size) < 16:
                raise BadImage(f"too small ({im.size[0]}x{im.size[1]} px)")
            tmp = out.with_suffix(".tmp")
            im.save(tmp, "JPEG", quality=90)
            os.replace(tmp, out)
        return sha, None
    except BadImage as e:
        return "", str(e)
    except OSError as e:
        return "", f"could not read ({e.strerror or e})"


def build_cache(
    data: Path,
    cache: Path,
    decisions: Path | None = None,
    negatives: Path | None = None,
    side: int = CACHE_SIDE,
    per_class: int | None = None,
    workers: int | None = None,
    verbose: bool = True,
) -> Report:
    """Verify every image and write an upright RGB JPEG (shorter side at most `side`) per usable
    image to cache/<label>/<sha256>.jpg, applying cleaning decisions.

    The cache is keyed by content, so reruns only decode new files; files in the cache
    that no longer belong (dropped, relabelled, deleted at the source) are removed.
    `per_class` keeps only the first n files of each class (see scan).
    cache/.sources.json maps each sha256 to the file it came from.
    """
    _check_cache_apart(cache, data, negatives)
    items = scan(data, negatives, per_class)
    rules = cleaning.read(decisions)
    cache = Path(cache)
    staging = cache / ".all"
    staging.mkdir(parents=True, exist_ok=True)
    jobs = [(str(i.path), str(staging / "{sha}.jpg"), side) for i in items]
    workers = workers or min(4, os.cpu_count() or 1)
    with ProcessPoolExecutor(workers) as pool:
        results = list(_progress(pool.map(_cache_one, jobs, chunksize=8), len(jobs), verbose))

    report, wanted, sources = Report(), {}, {}
    for item, (sha, error) in zip(items, results):
        if error:
            report.skipped.append((item.path, error))
            continue
        rule = rules.get(sha)
        label = item.label
        if rule and rule["action"] == "drop":
            report.dropped += 1
            continue
        if rule and rule["action"] == "relabel" and rule["label"] != label:
            label = rule["label"]
            report.relabelled += 1
        if sha in wanted:
            report.duplicates += 1
            continue
        wanted[sha] = label
        sources[sha] = str(item.path)
        report.counts[label] = report.counts.get(label, 0) + 1
    _sync_links(cache, staging, wanted)
    (cache / ".sources.json").write_text(json.dumps(sources, indent=0))
    if verbose:
        for path, error in report.skipped:
            print(f"skipped {path}: {error}", file=sys.stderr)
        print(report.summary())
    if len(report.counts) < 2:
        raise DataError(
            f"after verification only {len(report.counts)} class(es) have usable images: {report.summary()}"
        )
    alone = sorted(label for label, n in report.counts.items() if n < 2)
    if alone:
        raise DataError(
            f"{', '.join(alone)}: only 1 usable image; every class needs at least 2 images "
            f"(one to learn from, one to check on)"
        )
    return report


def source_files(cache: Path) -> dict[str, str]:
    """sha256 -> the user's file that each cached image came from."""
    return json.loads((Path(cache) / ".sources.json").read_text())


def _check_cache_apart(cache: Path, *photos: Path | None) -> None:
    """Refuse a cache folder that is, contains or sits inside a photo folder: build_cache
    deletes files in the cache that it did not write."""
    c = Path(cache).resolve()
    for folder in filter(None, photos):
        f = Path(folder).resolve()
        how = "is" if c == f else "contains" if c in f.parents else "is inside" if f in c.parents else None
        if how:
            raise DataError(
                f"the cache folder {cache} {how} the photo folder {folder}; choose a cache outside it, e.g. .cache/data"
            )


def _sync_links(cache: Path, staging: Path, wanted: dict[str, str]) -> None:
    """Make cache/<label>/ hold exactly the wanted images (hard links into staging)."""
    for d in cache.iterdir():
        if d.is_dir() and d != staging:
            for f in d.iterdir():
                if wanted.get(f.stem) != d.name:
                    f.unlink()
    for key, label in wanted.items():
        dst = cache / label / f"{key}.jpg"
        if not dst.exists():
            dst.parent.mkdir(exist_ok=True)
            try:
                os.link(staging / f"{key}.jpg", dst)
            except OSError:
                shutil.copyfile(staging / f"{key}.jpg", dst)
    for d in cache.iterdir():
        if d.is_dir() and d != staging and not any(d.iterdir()):
            d.rmdir()


def _progress(it, total, verbose):
    if not verbose:
        return it
    from fastprogress.fastprogress import progress_bar

    return progress_bar(it, total=total, leave=False)
