"""Fetch the photos listed in manifests/ from GitHub into data/<name>/<file>.

    python -m bear_classifier.photos.published [--out data] [--base-url URL] [NAME ...]

Each photo comes from <base-url>/<repo>/<commit>/<path> (GitHub's raw file host by
default) and is saved only when its sha256 matches the manifest, atomically and
concurrently with the downloader's code; photos already there with the right sha256
are not fetched again, so a rerun resumes an interrupted one.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import requests

from ..core import DataError, sha256_file
from . import manifest
from .download import MAX_BYTES, fetch, new_session, progress_steps, remove_partials, write_atomic

BASE_URL = os.environ.get("BEAR_DATA_URL", "https://raw.githubusercontent.com")  # `make ... DATA_URL=` sets it
DEFAULT_NAMES = ["bears", "notbears"]
HOWTO = (
    "fetch them with `make data` (needs the internet), point DATA at a folder of class sub-folders, "
    "or use image search (SEARCH = True in train.ipynb, or `make dataset`)"
)


@dataclass
class Fetched:
    """What fetch_photos did for one manifest."""

    name: str
    total: int
    present: int = 0  # already there with the right sha256
    downloaded: int = 0
    failed: dict[str, str] = field(default_factory=dict)  # file -> reason

    @property
    def arrived(self) -> int:
        return self.present + self.downloaded

    def summary(self) -> str:
        return (
            f"{self.name}: {self.arrived} of {self.total} photos arrived ({self.downloaded} downloaded, "
            f"{self.present} already there), {len(self.failed)} failed"
        )


def raw_url(row: dict, base_url: str = BASE_URL) -> str:
    return f"{base_url.rstrip('/')}/{row['repo']}/{row['commit']}/{quote(row['path'])}"


def _has(path: Path, sha256: str) -> bool:
    return path.is_file() and sha256_file(path) == sha256


def _check_reachable(session: requests.Session, base_url: str, timeout: float) -> None:
    """Raise DataError when `base_url` gives no HTTP answer at all (offline, wrong host)."""
    try:
        session.head(base_url, timeout=timeout, allow_redirects=False).close()
    except requests.RequestException as e:
        raise DataError(f"cannot reach {base_url} ({type(e).__name__})") from None


def fetch_photos(
    name: str,
    root: Path = Path("data"),
    base_url: str = BASE_URL,
    workers: int = 16,
    timeout: float = 30.0,
    progress: bool = True,
    manifest_dir: Path = manifest.MANIFESTS,
) -> Fetched:
    """Download the photos of manifests/<name>.csv into <root>/<name>/<file>.

    A photo is saved only if its sha256 matches; failures (HTTP errors, wrong bytes, cut
    connections) are printed one line each and listed in .failed. Raises DataError when
    photos are missing and `base_url` cannot be reached.
    """
    rows = manifest.read(name, manifest_dir)
    folder = Path(root) / name
    folder.mkdir(parents=True, exist_ok=True)
    remove_partials(folder)
    result = Fetched(name, len(rows))
    session = new_session(workers)

    def download(row: dict) -> str | None:
        """Fetch and save one photo; returns why it failed, or None."""
        try:
            data = fetch(raw_url(row, base_url), session, timeout, MAX_BYTES)
        except ValueError as e:
            return str(e)
        sha = hashlib.sha256(data).hexdigest()
        if sha != row["sha256"]:
            return f"sha256 {sha[:12]}... differs from the manifest's {row['sha256'][:12]}... ({len(data)} bytes)"
        write_atomic(folder / row["file"], data)
        return None

    try:
        with ThreadPoolExecutor(workers) as pool:
            todo = [r for r, ok in zip(rows, pool.map(lambda r: _has(folder / r["file"], r["sha256"]), rows)) if not ok]
            result.present = len(rows) - len(todo)
            if todo:
                _check_reachable(session, base_url, timeout)
            bar = progress_steps(len(todo), progress)
            futures = {pool.submit(download, r): r for r in todo}
            for fut in as_completed(futures):
                error = fut.result()
                if error:
                    result.failed[futures[fut]["file"]] = error
                else:
                    result.downloaded += 1
                bar(f"{name}: {result.downloaded} downloaded, {len(result.failed)} failed")
    finally:
        session.close()
    for file, error in sorted(result.failed.items()):
        print(f"failed {name}/{file}: {error}", file=sys.stderr)
    print(result.summary())
    return result


def photos(name: str, root: Path = Path("data"), fetch: bool = True, base_url: str = BASE_URL) -> Path:
    """The folder <root>/<name> holding the photos of manifests/<name>.csv, fetched first when
    some are missing and `fetch` is true. Warns when some are still missing; raises
    DataError with what to do when it holds none."""
    folder = Path(root) / name
    rows = manifest.read(name)

    def missing() -> int:
        return sum(not (folder / r["file"]).is_file() for r in rows)

    reason = ""
    if missing() and fetch:
        try:
            fetch_photos(name, root, base_url)
        except DataError as e:
            reason = f" ({e})"
    if missing() == len(rows):
        raise DataError(f"no photos in {folder}{reason}: {HOWTO}")
    if missing():
        print(f"warning: {missing()} of {len(rows)} photos of {name} are missing from {folder}", file=sys.stderr)
    return folder


def download_if_published(folder: Path, base_url: str = BASE_URL) -> Path:
    """`folder`, after downloading the photos missing from it when it is data/<name> of a published
    manifest (data/bears, say: about 100 MB; see `photos`). A folder that holds files of its own
    is the user's, and is never touched."""
    folder = Path(folder)
    if folder.name not in manifest.NAMES or folder.resolve().parent != Path("data").resolve():
        return folder
    if folder.is_dir():
        published = {r["file"] for r in manifest.read(folder.name)}
        if any(
            p.is_file() and not p.name.startswith(".") and p.relative_to(folder).as_posix() not in published
            for p in folder.rglob("*")
        ):
            return folder
    return photos(folder.name, folder.parent, base_url=base_url)


def main(argv=None):
    p = argparse.ArgumentParser(description="Download the photos listed in manifests/ from GitHub, checked by sha256.")
    p.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        default=DEFAULT_NAMES,
        help=f"manifests to fetch: {', '.join(manifest.NAMES)}, or all (default: bears notbears)",
    )
    p.add_argument("--out", type=Path, default=Path("data"), help="photos go to OUT/NAME/")
    p.add_argument("--base-url", default=BASE_URL, help="where <repo>/<commit>/<path> is served")
    p.add_argument("--workers", type=int, default=16)
    a = p.parse_args(argv)
    names = manifest.NAMES if "all" in a.names else a.names
    failed = 0
    try:
        for name in names:
            failed += len(fetch_photos(name, a.out, a.base_url, a.workers).failed)
    except DataError as e:
        sys.exit(f"error: {e}")
    if failed:
        sys.exit(f"error: {failed} photo(s) failed; rerun to retry them")


if __name__ == "__main__":
    main()
