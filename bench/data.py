"""`make data` of the training photos: bears + notbears (about 1,786 files) from a local host shaped
like GitHub's raw file host, then a rerun, which should fetch nothing."""

import contextlib
import sys
import tempfile
import time
from pathlib import Path

from bear_classifier.photos import manifest
from bear_classifier.photos.published import fetch_photos
from bench.runner import Result, Target, main, photos
from harness.hosts import RawHost
from harness.photos import present

NAMES = ["bears", "notbears"]
TARGETS = [Target("seconds", 120), Target("rerun_seconds", 5), Target("partial_files_left", 0)]


def fetch_all(out: Path, base_url: str, manifest_dir: Path) -> tuple[float, list]:
    t = time.perf_counter()
    with contextlib.redirect_stdout(sys.stderr):  # the downloader's summaries
        results = [fetch_photos(name, out, base_url, progress=False, manifest_dir=manifest_dir) for name in NAMES]
    return time.perf_counter() - t, results


def run(args):
    for name in NAMES:
        photos(name)
    rows = {name: present(name) for name in NAMES}
    with RawHost(rows) as host, tempfile.TemporaryDirectory() as tmp:
        manifests = Path(tmp) / "manifests"  # the photos that are here
        manifests.mkdir()
        for name in NAMES:
            manifest.write(rows[name], manifests / f"{name}.csv")
        out = Path(tmp) / "data"
        seconds, first = fetch_all(out, host.base_url, manifests)
        partial = [p for p in out.rglob(".*") if p.is_file()]
        requests = host.requests
        rerun_seconds, again = fetch_all(out, host.base_url, manifests)
    yield Result(
        {
            "files": sum(r.total for r in first),
            "seconds": round(seconds, 2),
            "arrived": sum(r.arrived for r in first),
            "failed": sum(len(r.failed) for r in first),
            "partial_files_left": len(partial),
            "rerun_seconds": round(rerun_seconds, 2),
            "rerun_downloaded": sum(r.downloaded for r in again),
            "rerun_requests": host.requests - requests,
        },
        TARGETS,
    )


if __name__ == "__main__":
    main()
