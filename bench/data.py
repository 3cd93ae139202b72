"""Photo download benchmark: bears + notbears (about 1,786 files) from a local host shaped like
GitHub's raw file host, serving ../shared/data, then a rerun that should fetch nothing.

    .venv/bin/python -m bench.data     # prints JSON; targets: seconds <= 120, rerun_seconds <= 5
"""

import contextlib
import json
import sys
import tempfile
import time
from pathlib import Path

from bear_classifier.photos import manifest
from bear_classifier.photos.published import fetch_photos
from harness.hosts import SHARED, RawHost

NAMES = ["bears", "notbears"]


def fetch_all(out: Path, base_url: str) -> tuple[float, list]:
    t = time.perf_counter()
    with contextlib.redirect_stdout(sys.stderr):  # summaries to stderr: stdout is the JSON
        results = [fetch_photos(name, out, base_url, progress=False) for name in NAMES]
    return time.perf_counter() - t, results


def main():
    if not SHARED.is_dir():
        sys.exit(f"error: {SHARED} is absent; the benchmark serves the photos from there")
    with RawHost(SHARED, {n: manifest.read(n) for n in NAMES}) as host, tempfile.TemporaryDirectory() as tmp:
        seconds, first = fetch_all(Path(tmp), host.base_url)
        partial = [p for p in Path(tmp).rglob(".*") if p.is_file()]
        requests = host.requests
        rerun_seconds, again = fetch_all(Path(tmp), host.base_url)
        rerun_requests = host.requests - requests
    print(
        json.dumps(
            {
                "files": sum(r.total for r in first),
                "seconds": round(seconds, 2),
                "arrived": sum(r.arrived for r in first),
                "failed": sum(len(r.failed) for r in first),
                "partial_files_left": len(partial),
                "rerun_seconds": round(rerun_seconds, 2),
                "rerun_downloaded": sum(r.downloaded for r in again),
                "rerun_requests": rerun_requests,
                "targets": {"seconds": 120, "rerun_seconds": 5},
                "meets_targets": seconds <= 120 and rerun_seconds <= 5,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
