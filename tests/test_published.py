"""Photos fetched from manifests against a local GitHub-raw host: faults, atomicity, reruns,
the offline message, and the committed manifests against their derivation."""

import hashlib
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from bear_classifier.core import DataError
from bear_classifier.photos import manifest
from bear_classifier.photos.published import HOWTO, fetch_photos, photos
from harness.hosts import RawHost
from harness.photos import SHARED, present
from helpers import ROOT, published


def sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def visible(folder):
    return sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))


def test_committed_manifests_equal_their_derivation(tmp_path):
    if not all((SHARED / name / "MANIFEST.csv").is_file() for name in manifest.NAMES):
        pytest.skip(f"the shared photo folders' MANIFEST.csv files are not in {SHARED}")
    for name in manifest.NAMES:
        manifest.write(manifest.derive(SHARED / name), tmp_path / f"{name}.csv")
        assert (tmp_path / f"{name}.csv").read_text() == (manifest.MANIFESTS / f"{name}.csv").read_text(), name


def test_reviewed_labels_follow_the_review():
    reviewed = {r["file"]: r["reviewed"] for r in manifest.read("bears-test")}
    assert reviewed["black/jeffridgeway_0016.jpg"] == "exclude"
    assert reviewed["teddy/poziki_0017.jpg"] == "other"
    assert sum(v == r["label"] for v, r in zip(reviewed.values(), manifest.read("bears-test"))) == 118


@pytest.fixture
def subset(tmp_path):
    """manifests/bears.csv cut to 36 photos (12 per class), in a temporary manifest folder."""
    published("bears")
    rows = present("bears")
    rows = [r for c in ("black", "grizzly", "teddy") for r in [r for r in rows if r["label"] == c][:12]]
    folder = tmp_path / "manifests"
    folder.mkdir()
    manifest.write(rows, folder / "bears.csv")
    return folder, rows


def test_bad_photos_are_named_never_saved_and_a_rerun_fetches_only_what_is_missing(subset, tmp_path, capsys):
    manifest_dir, rows = subset
    bad = {rows[0]["file"]: "missing", rows[13]["file"]: "corrupt", rows[30]["file"]: "truncated"}
    out, folder = tmp_path / "data", tmp_path / "data" / "bears"
    expected = {r["file"]: r["sha256"] for r in rows}
    seen_wrong, done = set(), threading.Event()

    def watch():  # every file that is ever visible must be complete
        while not done.is_set():
            for p in visible(folder) if folder.exists() else []:
                try:
                    if sha(p) != expected[p.relative_to(folder).as_posix()]:
                        seen_wrong.add(p.name)
                except FileNotFoundError:
                    pass

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        with RawHost({"bears": rows}, {f"bears/{f}": fault for f, fault in bad.items()}) as host:
            first = fetch_photos("bears", out, host.base_url, workers=4, progress=False, manifest_dir=manifest_dir)
    finally:
        done.set()
        watcher.join()
    assert not seen_wrong
    assert (first.downloaded, first.present, sorted(first.failed)) == (33, 0, sorted(bad))
    assert first.failed[rows[0]["file"]] == "HTTP 404"
    assert first.failed[rows[13]["file"]].startswith("sha256 ")
    assert first.failed[rows[30]["file"]] == "incomplete response"
    err = capsys.readouterr().err.splitlines()
    assert sorted(err) == sorted(f"failed bears/{f}: {first.failed[f]}" for f in bad)
    assert [p.relative_to(folder).as_posix() for p in visible(folder)] == sorted(set(expected) - set(bad))
    assert all(sha(p) == expected[p.relative_to(folder).as_posix()] for p in visible(folder))
    assert not [p for p in folder.rglob(".*")]

    with RawHost({"bears": rows}) as host:
        second = fetch_photos("bears", out, host.base_url, progress=False, manifest_dir=manifest_dir)
        assert host.requests == 3
        third = fetch_photos("bears", out, host.base_url, progress=False, manifest_dir=manifest_dir)
        assert host.requests == 3
    assert (second.downloaded, second.present, second.failed) == (3, 33, {})
    assert (third.downloaded, third.present, third.arrived) == (0, 36, 36)
    assert "bears: 36 of 36 photos arrived (0 downloaded, 36 already there), 0 failed" in capsys.readouterr().out


def test_a_photo_changed_on_disk_is_fetched_again(subset, tmp_path):
    manifest_dir, rows = subset
    with RawHost({"bears": rows}) as host:
        fetch_photos("bears", tmp_path, host.base_url, progress=False, manifest_dir=manifest_dir)
        (tmp_path / "bears" / rows[5]["file"]).write_bytes(b"edited")
        again = fetch_photos("bears", tmp_path, host.base_url, progress=False, manifest_dir=manifest_dir)
        assert host.requests == 37
    assert (again.downloaded, again.present) == (1, 35)
    assert sha(tmp_path / "bears" / rows[5]["file"]) == rows[5]["sha256"]


def test_killed_cli_resumes_and_failures_give_a_nonzero_exit(tmp_path, no_network):
    published("notbears-test")
    rows = manifest.read("notbears-test")
    if len(present("notbears-test")) < len(rows):  # the command fetches the whole published manifest
        pytest.skip("needs every photo of notbears-test: rerun `make data`")
    slow = {f"notbears-test/{r['file']}": "slow" for r in rows}
    out = tmp_path / "data"
    cmd = [
        sys.executable,
        "-m",
        "bear_classifier.photos.published",
        "--out",
        str(out),
        "--workers",
        "4",
        "notbears-test",
    ]
    with RawHost({"notbears-test": rows}, slow, slow=0.2) as host:
        proc = subprocess.Popen(
            cmd + ["--base-url", host.base_url], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.time() + 60
        while len(visible(out)) < 5 and time.time() < deadline:
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    partway = visible(out)
    assert 5 <= len(partway) < len(rows), "the kill should land mid-run"
    expected = {r["file"]: r["sha256"] for r in rows}
    assert all(sha(p) == expected[p.name] for p in partway)

    lost = next(r["file"] for r in reversed(rows) if r["file"] not in {p.name for p in partway})
    with RawHost({"notbears-test": rows}, {f"notbears-test/{lost}": "missing"}) as host:
        failed = subprocess.run(
            cmd + ["--base-url", host.base_url], cwd=ROOT, capture_output=True, text=True, timeout=120
        )
    assert failed.returncode != 0
    assert failed.stderr.splitlines() == [
        f"failed notbears-test/{lost}: HTTP 404",
        "error: 1 photo(s) failed; rerun to retry them",
    ]
    assert f"77 of 78 photos arrived ({77 - len(partway)} downloaded, {len(partway)} already there)" in failed.stdout

    with RawHost({"notbears-test": rows}) as host:
        done = subprocess.run(
            cmd + ["--base-url", host.base_url], cwd=ROOT, capture_output=True, text=True, timeout=120
        )
        assert host.requests == 1
    assert done.returncode == 0, done.stderr
    assert len(visible(out)) == 78 and all(sha(p) == expected[p.name] for p in visible(out))
    assert not list(out.rglob(".*"))
    assert photos("notbears-test", out, fetch=False) == out / "notbears-test"


def test_offline_without_photos_says_what_to_do_in_one_line(tmp_path, no_network):
    messages = {}
    for fetch in (True, False):
        with pytest.raises(DataError) as e:
            photos("bears", tmp_path, fetch=fetch)
        messages[fetch] = str(e.value)
    folder = tmp_path / "bears"
    assert messages[False] == f"no photos in {folder}: {HOWTO}"
    assert (
        messages[True]
        == f"no photos in {folder} (cannot reach https://raw.githubusercontent.com (ConnectionError)): {HOWTO}"
    )
    assert "make data" in HOWTO and "DATA" in HOWTO and "SEARCH = True" in HOWTO and "\n" not in HOWTO
    assert not visible(tmp_path)


def test_cli_without_network_exits_with_one_line(tmp_path):
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "bear_classifier.photos.published",
            "--out",
            str(tmp_path),
            "--base-url",
            "http://127.0.0.1:9",
            "notbears-test",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode != 0
    assert r.stderr.strip() == "error: cannot reach http://127.0.0.1:9 (ConnectionError)"
