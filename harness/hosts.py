"""Local hosts on 127.0.0.1 for the download tests and benchmarks.

ImageServer routes: /img/<n>.<jpg|png|webp> (distinct images), /same/<k>.jpg (one image
under many URLs), /slow/<n>.jpg (answers after `slow` seconds), /drip/<n>.jpg (image sent
slowly), /status/<code>, /redirect/<n>.jpg, /html.jpg, /svg.jpg, /truncated.jpg, /huge.jpg.

RawHost serves photo folders at GitHub's raw URLs, /<repo>/<commit>/<path>, with faults.
"""

from __future__ import annotations

import io
import random
import threading
import time
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

from PIL import Image

from harness.photos import photo_folder

FORMATS = {"jpg": ("JPEG", "image/jpeg"), "png": ("PNG", "image/png"), "webp": ("WEBP", "image/webp")}


@cache
def image(n: int, ext: str = "jpg", size=(160, 120)) -> bytes:
    """A distinct, valid image for each n (random noise seeded by n)."""
    rng = random.Random(n)
    im = Image.frombytes("RGB", size, bytes(rng.getrandbits(8) for _ in range(size[0] * size[1] * 3)))
    buf = io.BytesIO()
    im.save(buf, FORMATS[ext][0])
    return buf.getvalue()


class QuietHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send(self, code: int, body: bytes, ctype: str = "image/jpeg", headers: dict | None = None):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass


class Handler(QuietHandler):
    """The ImageServer routes."""

    def do_GET(self):
        parts = self.path.split("?")[0].strip("/").split("/")
        name = parts[-1]
        stem, _, ext = name.partition(".")
        if parts[0] == "img":
            return self.send(200, image(int(stem), ext), FORMATS[ext][1])
        if parts[0] == "same":
            return self.send(200, image(10**6), "image/jpeg")
        if parts[0] == "slow":
            time.sleep(self.server.host.slow)
            return self.send(200, image(int(stem)))
        if parts[0] == "drip":
            body = image(int(stem))
            time.sleep(0.3)
            return self.send(200, body)
        if parts[0] == "status":
            return self.send(int(stem), b"error", "text/plain", {"Retry-After": "1"} if stem == "429" else None)
        if parts[0] == "redirect":
            return self.send(302, b"", "text/plain", {"Location": f"/img/{stem}.jpg"})
        if name == "html.jpg":
            return self.send(200, b"<!DOCTYPE html><html><body>Image not found</body></html>", "image/jpeg")
        if name == "svg.jpg":
            return self.send(
                200, b'<svg xmlns="http://www.w3.org/2000/svg"><rect width="9" height="9"/></svg>', "image/jpeg"
            )
        if name == "truncated.jpg":
            return self.send(200, image(424242)[:600])
        if name == "huge.jpg":
            return self.send(200, b"\xff\xd8\xff" + b"\0" * (25 * 1024 * 1024))
        return self.send(404, b"not found", "text/plain")


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # clients that hang up (timeouts, size caps) are part of the tests


class LocalHost:
    """Context manager serving `handler` on a free port; .url(path) builds URLs and handlers
    reach this object as self.server.host."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]):
        self.httpd = QuietServer(("127.0.0.1", 0), handler)
        self.httpd.host = self
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{path.lstrip('/')}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


class ImageServer(LocalHost):
    """Synthetic images and assorted failures (see the module docstring)."""

    def __init__(self, slow: float = 30.0):
        self.slow = slow
        super().__init__(Handler)


def mixed_urls(server: ImageServer, n: int = 300, failing: float = 0.1) -> list[str]:
    """n URLs of which a `failing` share fails in assorted ways (the rest are distinct images)."""
    bad = ["status/404", "status/500", "status/429", "html.jpg", "svg.jpg", "truncated.jpg", "huge.jpg", "slow/1.jpg"]
    n_bad = int(n * failing)
    urls = [server.url(f"{bad[i % len(bad)]}?{i}") for i in range(n_bad)]
    exts = ["jpg", "png", "webp"]
    urls += [server.url(f"img/{i}.{exts[i % 3]}") for i in range(n - n_bad)]
    random.Random(0).shuffle(urls)
    return urls


FAULTS = ("missing", "corrupt", "truncated", "slow")


class RawHandler(QuietHandler):
    """GitHub-raw-shaped routes of a RawHost, with its faults."""

    def do_GET(self):
        host = self.server.host
        with host.lock:
            host.requests += 1
        file, fault = host.routes.get(unquote(self.path), (None, None))
        if file is None or fault == "missing":
            return self.send(404, b"404: Not Found", "text/plain")
        body = file.read_bytes()
        if fault == "slow":
            time.sleep(host.slow)
        if fault == "corrupt":
            body = body[:-1] + bytes([body[-1] ^ 0xFF])
        if fault == "truncated":  # promise the whole body, send half, hang up
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.close_connection = True
            return
        self.send(200, body, "application/octet-stream")


class RawHost(LocalHost):
    """Serves the photos of manifests {name: rows} (from harness.photos.photo_folder(name)) at
    /<repo>/<commit>/<path>, as raw.githubusercontent.com serves the originals.

    `faults` maps "<name>/<file>" to one of FAULTS: missing (404), corrupt (one byte
    changed), truncated (Content-Length larger than the body, then the connection closes),
    slow (answers after `slow` seconds). `requests` counts the requests answered.
    """

    def __init__(self, manifests: dict[str, list[dict]], faults: dict[str, str] | None = None, slow: float = 5.0):
        faults = faults or {}
        if set(faults.values()) - set(FAULTS):
            raise ValueError(f"unknown faults {sorted(set(faults.values()) - set(FAULTS))}; known: {FAULTS}")
        self.routes = {
            f"/{r['repo']}/{r['commit']}/{r['path']}": (
                photo_folder(name) / r["file"],
                faults.get(f"{name}/{r['file']}"),
            )
            for name, rows in manifests.items()
            for r in rows
        }
        self.slow = slow
        self.requests = 0
        self.lock = threading.Lock()
        super().__init__(RawHandler)

    @property
    def base_url(self) -> str:
        return self.url("").rstrip("/")
