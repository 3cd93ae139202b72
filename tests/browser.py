"""Start the app the two ways users get it, and drive it in Debian's chromium with Playwright.

Used by tests/test_browser.py and bench/app.py.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
ANSWER = ".bear-result, .bear-message"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen, timeout: float = 120):
    """Wait until the server listens (without requesting a page, which would start a kernel)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"port {port} did not open in {timeout}s")


@contextmanager
def serve(kind: str, log: Path | None = None):
    """Yield the app's URL, served by `voila bears.ipynb` ("voila") or, as on Binder, by
    `jupyter server` through binder/start at /voila/render/bears.ipynb ("jupyter")."""
    port = free_port()
    if kind == "voila":
        cmd = [str(BIN / "voila"), "bears.ipynb", f"--port={port}", "--no-browser", "--Voila.ip=127.0.0.1"]
        url = f"http://127.0.0.1:{port}/"
    else:
        cmd = ["bash", "binder/start", str(BIN / "jupyter"), "server", f"--port={port}", "--no-browser",
               "--ip=127.0.0.1", "--allow-root", "--IdentityProvider.token=", "--ServerApp.password=", f"--ServerApp.root_dir={ROOT}"]
        url = f"http://127.0.0.1:{port}/voila/render/bears.ipynb"
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "JUPYTER_PLATFORM_DIRS": "1"}
    out = open(log, "w") if log else subprocess.DEVNULL
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_port(port, proc)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        if log:
            out.close()


def chromium_available() -> bool:
    return Path(CHROMIUM).exists() or shutil.which("chromium") is not None


@contextmanager
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def open_app(page, url: str, timeout_ms: int = 120_000):
    page.goto(url, timeout=timeout_ms)
    page.locator(".widget-upload").wait_for(timeout=timeout_ms)
    page.get_by_role("button", name="Classify").wait_for(timeout=timeout_ms)


def choose_file(page, path: Path):
    """Pick `path` in the upload button's file chooser, as a person would; returns the chooser."""
    with page.expect_file_chooser() as chooser:
        page.locator(".widget-upload").click()
    chooser.value.set_files(str(path))
    return chooser.value


def classify_file(page, path: Path, timeout_ms: int = 60_000) -> str:
    """Upload `path`, wait until the app has received it, press Classify, and return the answer."""
    choose_file(page, path)
    page.locator(".bear-ready", has_text=path.name).wait_for(timeout=timeout_ms)
    page.get_by_role("button", name="Classify").click()
    answer = page.locator(ANSWER).first
    answer.wait_for(timeout=timeout_ms)
    return answer.inner_text().strip()
