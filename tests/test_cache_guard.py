"""build_cache never runs with a cache folder that overlaps the user's photos."""

import hashlib

import pytest

from bear_classifier.core import DataError
from bear_classifier.training.cache import build_cache
from helpers import jpeg_bytes


def photo_tree(root):
    for ci, c in enumerate(("grizzly", "black")):
        (root / "data" / c).mkdir(parents=True)
        for i in range(3):
            (root / "data" / c / f"{i}.jpg").write_bytes(jpeg_bytes((80 + i, 60), (60 * ci, 20 * i, 90)))
    (root / "negatives").mkdir()
    for i in range(2):
        (root / "negatives" / f"cat{i}.jpg").write_bytes(jpeg_bytes((70, 50), (10, 200, 10 + 50 * i)))
    return root / "data", root / "negatives"


def state(root):
    """Every path under root, with its content hash and modification time for files."""
    return {
        p: (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns) if p.is_file() else None
        for p in root.rglob("*")
    }


@pytest.mark.parametrize(
    "where,how",
    [
        ("data", "is"),
        (".", "contains"),
        ("data/grizzly/.cache", "is inside"),
        ("negatives", "is"),
        ("negatives/sub/cache", "is inside"),
    ],
)
def test_a_cache_overlapping_the_photos_is_refused_and_nothing_is_touched(tmp_path, monkeypatch, where, how):
    _, negatives = photo_tree(tmp_path)
    before = state(tmp_path)
    monkeypatch.chdir(tmp_path / "data")  # relative and absolute spellings of one folder must match
    cache = tmp_path / where
    with pytest.raises(DataError) as e:
        build_cache("../data", cache, negatives=negatives, verbose=False)
    assert "\n" not in str(e.value)
    assert f"the cache folder {cache} {how} the photo folder" in str(e.value)
    assert state(tmp_path) == before


def test_a_cache_beside_the_photos_is_fine(tmp_path):
    data, negatives = photo_tree(tmp_path)
    before = state(data)
    report = build_cache(data, tmp_path / "cache", negatives=negatives, verbose=False)
    assert report.counts == {"grizzly": 3, "black": 3, "other": 2}
    assert state(data) == before
