"""What the tests share: where the repository and the real photos are, image encoders, and
folders of symlinked photos."""

from __future__ import annotations

import gzip
import io
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

from bear_classifier.core import BEARS
from harness.photos import photo_folder

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "artifacts"  # screenshots and server logs of the browser tests (git-ignored)


def published(name: str) -> Path:
    """The published photo folder `name` (bears, bears-test, notbears, notbears-test) where
    harness.photos finds it (data/ after `make data`, else the shared photos), or skip the test
    saying why. Tests use the photos that are there."""
    folder = photo_folder(name)
    if folder is None:
        pytest.skip(f"no photos of {name}: run `make data` (or put the shared photos beside the repository)")
    return folder


def first_photo(cls: str, folder: str = "bears-test") -> Path:
    return sorted((published(folder) / cls).glob("*.jp*g"))[0]


def encode(im: Image.Image, fmt: str, **save) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **save)
    return buf.getvalue()


def jpeg_bytes(size=(64, 48), colour=(200, 120, 40), quality=90, **save) -> bytes:
    return encode(Image.new("RGB", size, colour), "JPEG", quality=quality, **save)


def png_bytes(mode="RGB", size=(64, 48), colour=None) -> bytes:
    return encode(Image.new(mode, size, colour if colour is not None else 128), "PNG")


def send_photo(picker, data: bytes, name="photo.jpg", chunk=64 * 1024, upload="u1", shown=True):
    """Send `data` to a PhotoPicker exactly as picker.js does: begin (`shown`: the page shows its own
    copy of the photo), chunks (memoryviews, as ipykernel hands them over), end."""
    begin = {"type": "begin", "id": upload, "name": name, "size": len(data), "shown": shown}
    picker._on_msg(picker, begin, [])
    for i in range(0, len(data), chunk):
        picker._on_msg(picker, {"type": "chunk", "id": upload}, [memoryview(data[i : i + chunk])])
    picker._on_msg(picker, {"type": "end", "id": upload}, [])


def link_photos(dest: Path, sources: list[Path]) -> Path:
    """`dest` holding symlinks to `sources` (real photos, never copied)."""
    dest.mkdir(parents=True, exist_ok=True)
    for p in sources:
        (dest / p.name).symlink_to(p)
    return dest


def link_classes(dest: Path, folder: str, classes: dict[str, str], n: int, skip: int = 0) -> Path:
    """dest/<class>/ with photos skip..skip+n of the published <folder>/<source> for each {class: source}."""
    for cls, source in classes.items():
        src = published(folder) / source
        link_photos(dest / cls, sorted(p for p in src.iterdir() if p.is_file())[skip : skip + n])
    return dest


BEAR_CLASSES = {c: c for c in BEARS}


def clean_copy(dest: Path) -> Path:
    """The repository's committed files (as a fresh clone has them), with nothing beside them."""
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    for name in filter(None, files.split("\0")):
        if (ROOT / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dest / name)
    return dest


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


@dataclass
class Response:
    status: int
    headers: dict
    raw: bytes  # as it came (gzipped where the server compressed it)
    body: bytes  # unzipped
    seconds: float


def http_get(url: str, headers: dict | None = None) -> Response:
    """A GET as a browser that accepts gzip sends it, redirects (to a login page, say) not followed."""
    start = time.perf_counter()
    request = urllib.request.Request(url, headers={"Accept-Encoding": "gzip", **(headers or {})})
    try:
        with urllib.request.build_opener(_NoRedirect).open(request, timeout=120) as r:
            status, got, raw = r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        status, got, raw = e.code, dict(e.headers), e.read()
    body = gzip.decompress(raw) if got.get("Content-Encoding") == "gzip" else raw
    return Response(status, got, raw, body, time.perf_counter() - start)
