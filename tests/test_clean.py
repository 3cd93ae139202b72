"""The automatic suspect finder and recording cleaner choices."""
from types import SimpleNamespace

import pytest

from helpers import BEAR_CLASSES, link_classes, shared
from bear_classifier.clean import record_cleaner, suspects_in
from bear_classifier.data import DataError, build_cache, read_decisions, sha256_file
from bear_classifier.train import Recipe


def small_set(tmp_path, n=10):
    data = link_classes(tmp_path / "data", "bears-test", BEAR_CLASSES, n)
    planted = sorted((shared("bears-test") / "teddy").glob("*.jpg"))[n]
    (data / "grizzly" / "planted.jpg").symlink_to(planted)  # a teddy bear filed as grizzly
    return data, planted


def test_a_mislabelled_photo_is_a_top_suspect(tmp_path):
    data, planted = small_set(tmp_path)
    suspects = suspects_in(data, tmp_path / "cache", verbose=False)
    assert str(data / "grizzly" / "planted.jpg") in [s["path"] for s in suspects[:3]]
    row = next(s for s in suspects if s["path"].endswith("planted.jpg"))
    assert row["label"] == "grizzly" and row["suggested"] == "teddy" and row["sha256"] == sha256_file(planted)


def test_a_class_too_small_for_folds_is_a_one_line_message(tmp_path):
    data = link_classes(tmp_path / "data", "bears-test", {"black": "black", "grizzly": "grizzly"}, 6)
    link_classes(data, "bears-test", {"teddy": "teddy"}, 1)
    with pytest.raises(DataError, match="at least 2 images"):
        suspects_in(data, tmp_path / "cache", recipe=Recipe(size=64), verbose=False)


def test_cleaner_choices_become_decisions_without_touching_files(tmp_path):
    data, planted = small_set(tmp_path, n=3)
    cache, decisions = tmp_path / "cache", tmp_path / "cleaning.csv"
    build_cache(data, cache, verbose=False)
    files = sorted(cache.glob("grizzly/*.jpg"))
    cleaner = SimpleNamespace(fns=files, delete=lambda: [0], change=lambda: [(1, "teddy")])
    assert record_cleaner(cleaner, decisions, cache) == 2
    rules = read_decisions(decisions)
    assert rules[files[0].stem]["action"] == "drop"
    assert rules[files[1].stem]["action"] == "relabel" and rules[files[1].stem]["label"] == "teddy"
    assert all(p.exists() for p in data.rglob("*.jpg"))
    report = build_cache(data, cache, decisions, verbose=False)
    assert (report.dropped, report.relabelled) == (1, 1)
