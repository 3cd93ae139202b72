"""The automatic suspect finder and recording cleaner choices."""
from types import SimpleNamespace

from helpers import shared
from bear_classifier.clean import find_suspects, record_cleaner
from bear_classifier.data import build_cache, read_decisions, sha256_file


def small_set(tmp_path, n=10):
    data = tmp_path / "data"
    for cls in ("grizzly", "black", "teddy"):
        (data / cls).mkdir(parents=True)
        for p in sorted((shared("bears-test") / cls).glob("*.jpg"))[:n]:
            (data / cls / p.name).symlink_to(p)
    planted = sorted((shared("bears-test") / "teddy").glob("*.jpg"))[n]
    (data / "grizzly" / "planted.jpg").symlink_to(planted)  # a teddy bear filed as grizzly
    return data, planted


def test_a_mislabelled_photo_is_a_top_suspect(tmp_path):
    data, planted = small_set(tmp_path)
    suspects = find_suspects(data)
    top = [s["path"] for s in suspects[:3]]
    assert str(data / "grizzly" / "planted.jpg") in top
    planted_row = next(s for s in suspects if s["path"].endswith("planted.jpg"))
    assert planted_row["suggested"] == "teddy" and planted_row["sha256"] == sha256_file(planted)


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
