"""The automatic suspect finder and recording cleaner choices."""

import subprocess
import sys
from types import SimpleNamespace

import pytest

from bear_classifier.core import DataError, sha256_file
from bear_classifier.training import decisions as cleaning
from bear_classifier.training.cache import build_cache
from bear_classifier.training.clean import record_cleaner, suspects_in
from bear_classifier.training.recipe import Recipe
from helpers import BEAR_CLASSES, link_classes, published


def small_set(tmp_path, n=10):
    data = link_classes(tmp_path / "data", "bears-test", BEAR_CLASSES, n)
    planted = sorted((published("bears-test") / "teddy").glob("*.jpg"))[n]
    (data / "grizzly" / "planted.jpg").symlink_to(planted)  # a teddy bear filed as grizzly
    return data, planted


def test_a_mislabelled_photo_is_a_top_suspect(tmp_path):
    data, planted = small_set(tmp_path)
    suspects = suspects_in(data, tmp_path / "cache", verbose=False)
    assert str(data / "grizzly" / "planted.jpg") in [s["path"] for s in suspects[:3]]
    row = next(s for s in suspects if s["path"].endswith("planted.jpg"))
    assert row["label"] == "grizzly" and row["suggested"] == "teddy" and row["sha256"] == sha256_file(planted)


def test_a_class_of_one_photo_is_a_one_line_message_and_exit_2(tmp_path):
    data = link_classes(tmp_path / "data", "bears-test", {"black": "black", "grizzly": "grizzly"}, 6)
    link_classes(data, "bears-test", {"teddy": "teddy"}, 1)
    with pytest.raises(DataError, match="teddy: only 1 usable image; every class needs at least 2 images"):
        suspects_in(data, tmp_path / "cache", recipe=Recipe(size=64), verbose=False)
    for command in ("clean", "train"):
        r = subprocess.run(
            [
                sys.executable,
                "-m",
                f"bear_classifier.training.{command}",
                "--data",
                str(data),
                "--cache",
                str(tmp_path / "cache"),
                "--out",
                str(tmp_path / "out"),
                "--size",
                "64",
            ],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert r.returncode == 2, r.stderr[-2000:]
        assert r.stderr.strip().splitlines() == [
            "error: teddy: only 1 usable image; every class needs at least 2 "
            "images (one to learn from, one to check on)"
        ]


def test_a_class_of_two_photos_is_enough(tmp_path):
    data = link_classes(tmp_path / "data", "bears-test", {"black": "black", "grizzly": "grizzly"}, 6)
    link_classes(data, "bears-test", {"teddy": "teddy"}, 2)
    suspects = suspects_in(data, tmp_path / "cache", recipe=Recipe(size=64), verbose=False)
    assert all(s["label"] in ("black", "grizzly", "teddy") for s in suspects)


def test_cleaner_choices_become_decisions_without_touching_files(tmp_path):
    data, _ = small_set(tmp_path, n=3)
    cache, decisions = tmp_path / "cache", tmp_path / "cleaning.csv"
    build_cache(data, cache, verbose=False)
    files = sorted(cache.glob("grizzly/*.jpg"))
    cleaner = SimpleNamespace(fns=files, delete=lambda: [0], change=lambda: [(1, "teddy")])
    assert record_cleaner(cleaner, decisions, cache) == 2
    rules = cleaning.read(decisions)
    assert rules[files[0].stem]["action"] == "drop"
    assert rules[files[1].stem]["action"] == "relabel" and rules[files[1].stem]["label"] == "teddy"
    assert all(p.exists() for p in data.rglob("*.jpg"))
    report = build_cache(data, cache, decisions, verbose=False)
    assert (report.dropped, report.relabelled) == (1, 1)
