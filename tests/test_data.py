"""Scanning, verifying and caching a folder of class sub-folders; cleaning decisions."""

import csv
import hashlib

import pytest
from PIL import Image

from bear_classifier.core import OTHER, DataError, sha256_file
from bear_classifier.training import decisions as cleaning
from bear_classifier.training.cache import build_cache, scan
from bear_classifier.training.datablock import dataloaders
from bear_classifier.training.recipe import Recipe
from helpers import jpeg_bytes, png_bytes


def make_folder(root, per_class=6, classes=("grizzly", "black", "teddy")):
    for ci, c in enumerate(classes):
        (root / c).mkdir(parents=True)
        for i in range(per_class):
            (root / c / f"{i}.jpg").write_bytes(jpeg_bytes((80 + i, 60), (40 * ci, 10 * i, 200 - 30 * ci)))
    return root


def snapshot(root):
    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in root.rglob("*") if p.is_file()}


def test_labels_come_from_parent_folder_and_non_images_are_ignored(tmp_path):
    data = make_folder(tmp_path / "bears ñ space")  # spaces and non-ASCII in the path
    (data / "MANIFEST.csv").write_text("file,label\n")
    (data / "grizzly" / "notes.txt").write_text("hello")
    items = scan(data)
    assert len(items) == 18
    assert {i.label for i in items} == {"grizzly", "black", "teddy"}
    assert all(i.path.parent.name == i.label for i in items)


@pytest.mark.parametrize(
    "layout,message",
    [
        ("missing", "is not a folder"),
        ("empty", "no images found"),
        ("single", "only one class"),
    ],
)
def test_unusable_layouts_get_one_line_messages(tmp_path, layout, message):
    data = tmp_path / "d"
    if layout == "empty":
        (data / "grizzly").mkdir(parents=True)
    if layout == "single":
        make_folder(data, classes=("grizzly",))
    with pytest.raises(DataError, match=message) as e:
        scan(data)
    assert "\n" not in str(e.value)


def test_cache_skips_broken_files_reports_them_and_never_touches_the_source(tmp_path):
    data = make_folder(tmp_path / "data")
    (data / "black" / "truncated.jpg").write_bytes(jpeg_bytes((300, 200))[:400])
    (data / "black" / "html.jpg").write_bytes(b"<!DOCTYPE html><html>nope</html>")
    (data / "teddy" / "empty.png").write_bytes(b"")
    (data / "empty class").mkdir()
    # unusual modes: RGBA, palette with transparency, CMYK, 16-bit, a huge-ish image
    Image.new("RGBA", (64, 64), (255, 0, 0, 0)).save(data / "teddy" / "rgba.png")
    p = Image.new("P", (64, 64))
    p.info["transparency"] = 0
    p.save(data / "teddy" / "p.png", transparency=0)
    Image.new("CMYK", (64, 64), (0, 50, 100, 0)).save(data / "grizzly" / "cmyk.jpg")
    (data / "grizzly" / "16bit.png").write_bytes(png_bytes("I;16", (64, 64), 40000))
    Image.new("RGB", (4000, 3000), (9, 9, 9)).save(data / "grizzly" / "big.jpg", quality=50)
    before = snapshot(data)
    report = build_cache(data, tmp_path / "cache", verbose=False)
    assert snapshot(data) == before  # nothing the user owns changed
    assert {p.name for p, _ in report.skipped} == {"truncated.jpg", "html.jpg", "empty.png"}
    assert all("\n" not in msg for _, msg in report.skipped)
    assert report.counts == {"grizzly": 9, "black": 6, "teddy": 8}
    for f in (tmp_path / "cache").glob("*/*.jpg"):
        with Image.open(f) as im:
            assert im.mode == "RGB" and min(im.size) <= 320
    with Image.open(next((tmp_path / "cache" / "teddy").glob("*.jpg"))) as im:
        assert im.mode == "RGB"


def test_cache_is_incremental_and_follows_decisions(tmp_path):
    data = make_folder(tmp_path / "data")
    cache = tmp_path / "cache"
    build_cache(data, cache, verbose=False)
    victim, moved = data / "black" / "0.jpg", data / "black" / "1.jpg"
    decisions = tmp_path / "cleaning.csv"
    with open(decisions, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["sha256", "action", "label", "path", "reason"])
        w.writerow([sha256_file(victim), "drop", "", "black/0.jpg", "not a bear"])
        w.writerow([sha256_file(moved), "relabel", "grizzly", "black/1.jpg", "brown bear"])
    report = build_cache(data, cache, decisions, verbose=False)
    assert (report.dropped, report.relabelled) == (1, 1)
    assert report.counts == {"grizzly": 7, "black": 4, "teddy": 6}
    assert not (cache / "black" / f"{sha256_file(victim)}.jpg").exists()
    assert (cache / "grizzly" / f"{sha256_file(moved)}.jpg").exists()
    # Dropping the decisions restores the original labels.
    report = build_cache(data, cache, verbose=False)
    assert report.counts == {"grizzly": 6, "black": 6, "teddy": 6}
    assert len(list(cache.glob("[!.]*/*.jpg"))) == 18


def test_bad_decision_file_is_reported(tmp_path):
    bad = tmp_path / "c.csv"
    bad.write_text("sha256,action,label\nabc,delete,\n")
    with pytest.raises(DataError, match="must be 'drop' or 'relabel'"):
        cleaning.read(bad)


def test_negatives_become_the_other_class(tmp_path):
    data = make_folder(tmp_path / "data", classes=("a", "b"))
    neg = tmp_path / "neg"
    neg.mkdir()
    for i in range(3):
        (neg / f"n{i}.png").write_bytes(png_bytes("RGB", (50 + i, 50), (i, 2 * i, 3 * i)))
    report = build_cache(data, tmp_path / "cache", negatives=neg, verbose=False)
    assert report.counts[OTHER] == 3
    (data / OTHER).mkdir()
    (data / OTHER / "x.jpg").write_bytes(jpeg_bytes())
    with pytest.raises(DataError, match="reserved"):
        scan(data, neg)


def test_datablock_split_is_seeded_and_labels_are_folders(tmp_path):
    data = make_folder(tmp_path / "data", per_class=10)
    build_cache(data, tmp_path / "cache", verbose=False)
    a = dataloaders(tmp_path / "cache", Recipe(size=64, bs=4))
    b = dataloaders(tmp_path / "cache", Recipe(size=64, bs=4))
    assert list(a.vocab) == ["black", "grizzly", "teddy"]
    assert [str(p) for p in a.valid_ds.items] == [str(p) for p in b.valid_ds.items]
    assert len(a.valid_ds) == 6
    x, _ = a.one_batch()
    assert tuple(x.shape[1:]) == (3, 64, 64)
    assert all(a.vocab[int(t)] == p.parent.name for t, p in zip(a.valid_ds.tls[1], a.valid_ds.items))
