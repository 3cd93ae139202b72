"""Download image URLs into a dataset folder: concurrent, sniffed, verified, de-duplicated,
atomic and resumable.

Each saved file is named by its content hash (<sha16>.<ext>), written to a hidden
temporary file and renamed, so a folder never holds a partial image. Every finished
URL is appended to <root>/downloads.csv (url, folder, status, file, detail); a rerun
skips those URLs, and content already anywhere in the dataset counts as a duplicate.
"""

from __future__ import annotations

import csv
import hashlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import requests

from ..core import BadImage
from ..images import open_image

USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"
MAX_BYTES = 20 * 1024 * 1024
LOG = "downloads.csv"  # one row per finished URL: what a rerun skips
LOG_FIELDS = ["url", "folder", "status", "file", "detail"]
PART_SUFFIX = ".part"

# Magic numbers of raster formats we accept, whatever the URL or Content-Type says.
SIGNATURES = [
    (b"\xff\xd8\xff", "jpg"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
    (b"BM", "bmp"),
    (b"II*\x00", "tif"),
    (b"MM\x00*", "tif"),
]


def sniff(data: bytes) -> str | None:
    """The image type of `data` from its first bytes ('jpg', 'png', ...), or None."""
    for magic, ext in SIGNATURES:
        if data.startswith(magic):
            return ext
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[4:8] == b"ftyp" and data[8:12] in (b"heic", b"heix", b"mif1", b"msf1", b"avif", b"hevc"):
        return "avif" if data[8:12] == b"avif" else "heic"
    return None


@dataclass
class Counts:
    saved: int = 0
    failed: int = 0
    duplicate: int = 0
    skipped: int = 0  # done in an earlier run
    failures: dict[str, int] = field(default_factory=dict)

    def __str__(self):
        return f"saved {self.saved}, failed {self.failed}, duplicate {self.duplicate}, already done {self.skipped}"


class DownloadLog:
    """Append-only record of finished URLs; tolerant of a torn last line after a kill."""

    def __init__(self, root: Path):
        self.path = Path(root) / LOG
        self.lock = threading.Lock()
        self.done: dict[tuple[str, str], dict] = {}
        if self.path.exists():
            with open(self.path, newline="", encoding="utf-8") as f:
                for row in csv.DictReader(f):
                    if row.get("status") in ("saved", "failed", "duplicate") and None not in row.values():
                        self.done[(row["folder"], row["url"])] = row
        new = not self.path.exists() or self.path.stat().st_size == 0
        self.file = open(self.path, "a", newline="", encoding="utf-8")
        self.writer = csv.DictWriter(self.file, LOG_FIELDS)
        if new:
            try:
                self.writer.writeheader()
            except OSError:
                self.file.close()
                raise

    def add(self, row: dict):
        with self.lock:
            self.writer.writerow(row)
            self.file.flush()
            self.done[(row["folder"], row["url"])] = row

    def close(self):
        self.file.close()


def new_session(workers: int) -> requests.Session:
    """A session with a browser User-Agent and a connection pool for `workers` threads."""
    session = requests.Session()
    session.headers.update({"User-Agent": USER_AGENT, "Accept": "image/avif,image/webp,image/*,*/*;q=0.8"})
    adapter = requests.adapters.HTTPAdapter(pool_connections=workers, pool_maxsize=workers)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def fetch(url: str, session: requests.Session, timeout: float, max_bytes: int) -> bytes:
    """GET `url` (following redirects) and return the body; raises ValueError with a short reason."""
    try:
        with session.get(url, timeout=timeout, stream=True, allow_redirects=True) as r:
            if r.status_code != 200:
                raise ValueError(f"HTTP {r.status_code}")
            if int(r.headers.get("Content-Length") or 0) > max_bytes:
                raise ValueError("too large")
            body = bytearray()
            for chunk in r.iter_content(64 * 1024):
                body += chunk
                if len(body) > max_bytes:
                    raise ValueError("too large")
            return bytes(body)
    except requests.Timeout:
        raise ValueError("timeout") from None
    except requests.TooManyRedirects:
        raise ValueError("redirect loop") from None
    except requests.exceptions.ChunkedEncodingError:
        raise ValueError("incomplete response") from None
    except requests.RequestException as e:
        raise ValueError(f"network error ({type(e).__name__})") from None


def write_atomic(dest: Path, data: bytes) -> None:
    """Write `data` to a hidden temporary file beside `dest`, then rename it: `dest` is
    either absent or complete, and remove_partials cleans up after a kill."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.parent / f".{dest.name}.{threading.get_ident()}{PART_SUFFIX}"
    try:
        tmp.write_bytes(data)
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def existing_hashes(root: Path) -> set[str]:
    """Content hashes of every image already in the dataset (all class folders)."""
    out = set()
    for p in Path(root).rglob("*"):
        if p.is_file() and not p.name.startswith(".") and p.name != LOG:
            data = p.read_bytes()
            if sniff(data):
                out.add(hashlib.sha256(data).hexdigest())
    return out


def remove_partials(root: Path) -> int:
    """Delete temporary files left by an interrupted run; returns how many."""
    parts = list(Path(root).rglob(f".*{PART_SUFFIX}"))
    for p in parts:
        p.unlink()
    return len(parts)


class Downloader:
    """Downloads into <root>/<folder>/, sharing one download log and one set of hashes per dataset."""

    def __init__(self, root: Path, workers: int = 16, timeout: float = 10.0, max_bytes: int = MAX_BYTES):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        remove_partials(self.root)
        self.workers, self.timeout, self.max_bytes = workers, timeout, max_bytes
        self.hashes = existing_hashes(self.root)
        self.lock = threading.Lock()
        self.log = DownloadLog(self.root)  # opens a file: last, so a failure above leaks nothing
        self.session = new_session(workers)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _one(self, url: str, folder: str) -> dict:
        row = {"url": url, "folder": folder, "status": "failed", "file": "", "detail": ""}
        try:
            data = fetch(url, self.session, self.timeout, self.max_bytes)
            ext = sniff(data)
            if ext is None:
                raise ValueError("not an image" + (" (HTML page)" if b"<html" in data[:512].lower() else ""))
            try:
                open_image(data)  # full decode: catches truncated and corrupt files
            except BadImage as e:
                raise ValueError(str(e)) from None
        except ValueError as e:
            row["detail"] = str(e)
            return row
        sha = hashlib.sha256(data).hexdigest()
        with self.lock:
            if sha in self.hashes:
                return {**row, "status": "duplicate", "detail": sha[:16]}
            self.hashes.add(sha)
        dest = self.root / folder / f"{sha[:16]}.{ext}"
        write_atomic(dest, data)
        return {**row, "status": "saved", "file": str(dest.relative_to(self.root))}

    def download(self, urls: list[str], folder: str, progress: bool = True) -> Counts:
        """Download `urls` into <root>/<folder>/; URLs finished in earlier runs are skipped."""
        counts = Counts()
        todo = []
        for u in dict.fromkeys(urls):
            if (folder, u) in self.log.done:
                counts.skipped += 1
            else:
                todo.append(u)
        bar = progress_steps(len(todo), progress)
        with ThreadPoolExecutor(self.workers) as pool:
            for fut in as_completed([pool.submit(self._one, u, folder) for u in todo]):
                row = fut.result()
                self.log.add(row)
                setattr(counts, row["status"], getattr(counts, row["status"]) + 1)
                if row["status"] == "failed":
                    counts.failures[row["detail"]] = counts.failures.get(row["detail"], 0) + 1
                bar(f"{folder}: {counts}")
        return counts

    def close(self):
        self.log.close()
        self.session.close()


def download_images(
    urls: list[str], dest: Path, workers: int = 16, timeout: float = 10.0, progress: bool = True
) -> Counts:
    """Download `urls` into the class folder `dest`; its parent folder is the dataset, whose
    log records what is done and whose images count for de-duplication."""
    dest = Path(dest)
    with Downloader(dest.parent, workers=workers, timeout=timeout) as dl:
        return dl.download(urls, dest.name, progress)


def progress_steps(total: int, enabled: bool):
    """A progress bar advanced one step per call of the returned function, whose argument
    is the bar's comment; a no-op when disabled or there is nothing to do."""
    if not enabled or not total:
        return lambda comment: None
    from fastprogress.fastprogress import progress_bar

    pb = progress_bar(range(total), leave=True)
    pb.update(0)
    done = 0

    def step(comment):
        nonlocal done
        done += 1
        pb.comment = comment
        pb.update(done)

    return step
