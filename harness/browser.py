"""Start the app the two ways users get it, watch the server's kernels, and drive the app in
Debian's chromium with Playwright (imported only by the functions that drive the browser).

Used by the browser tests and the app benchmarks.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
ANSWER = ".bear-result, .bear-message"
LOST = ".bear-lost"  # the watchdog's notice: the app stopped answering
PHONE = {"viewport": {"width": 360, "height": 740}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}
CHOOSE = "Choose photo"  # the picker's button that opens the file chooser (the other: "Take photo")
KERNEL = "ipykernel_launcher"


# Phone networks for the DevTools protocol's Network.emulateNetworkConditions (latency in ms,
# throughput in bytes/s): Lighthouse's slow 4G (150 ms, 1.6 Mbps down, 750 kbps up) and 4G.
PROFILES = {
    "slow4g": {"latency": 150, "downloadThroughput": 1.6e6 / 8, "uploadThroughput": 750e3 / 8},
    "4g": {"latency": 60, "downloadThroughput": 9e6 / 8, "uploadThroughput": 3e6 / 8},
}


@dataclass
class Server:
    url: str  # the app
    base: str  # http://127.0.0.1:PORT, for other paths of the same server
    proc: subprocess.Popen


def settings(kind: str, root: Path = ROOT) -> dict:
    """The committed cull timeout and interval (seconds) and preheated pool size of a kind of server."""
    voila = json.loads((root / "voila.json").read_text())
    if kind == "voila":
        config, pool = voila, voila["VoilaConfiguration"]
        pool_size = pool.get("default_pool_size", 1) if pool.get("preheat_kernel") else 0
    else:  # Voila as a Jupyter server extension has no preheated pool
        config, pool_size = json.loads((root / "binder/jupyter/jupyter_server_config.json").read_text()), 0
    cull = config["MappingKernelManager"]
    return {
        "cull_idle_timeout": cull["cull_idle_timeout"],
        "cull_interval": cull["cull_interval"],
        "pool_size": pool_size,
    }


def cull_args(timeout: int, interval: int) -> list[str]:
    """Command-line options that override the cull timeout and interval."""
    return [f"--MappingKernelManager.cull_idle_timeout={timeout}", f"--MappingKernelManager.cull_interval={interval}"]


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
def serve(
    kind: str,
    log: Path | None = None,
    args: list[str] = (),
    root: Path = ROOT,
    token: str = "",
    port: int | None = None,
):
    """Yield a Server for the app in `root`, served by `voila bears.ipynb` ("voila") or, as on
    Binder, by `jupyter server` through binder/start at /voila/render/bears.ipynb ("jupyter").
    `args` are extra command-line options (config such as a short cull timeout); `token`, for
    "jupyter", is the token a visitor needs (Binder sets one; empty means none); `port`, a free one
    unless given (to restart a server where its pages are)."""
    port = port or free_port()
    base = f"http://127.0.0.1:{port}"
    if kind == "voila":
        cmd = [str(BIN / "voila"), "bears.ipynb", f"--port={port}", "--no-browser", "--Voila.ip=127.0.0.1"]
        url = f"{base}/"
    elif kind == "jupyter":
        cmd = [
            "bash",
            "binder/start",
            str(BIN / "jupyter"),
            "server",
            f"--port={port}",
            "--no-browser",
            "--ip=127.0.0.1",
            "--allow-root",
            f"--IdentityProvider.token={token}",
            "--ServerApp.password=",
            f"--ServerApp.root_dir={root}",
        ]
        url = f"{base}/voila/render/bears.ipynb" + (f"?token={token}" if token else "")
    else:
        raise ValueError(f"unknown kind {kind!r}: voila or jupyter")
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "JUPYTER_PLATFORM_DIRS": "1",
        "PYTHONPATH": str(root),
    }  # voila.json names bear_classifier.app.serving
    out = open(log, "w") if log else subprocess.DEVNULL
    proc = subprocess.Popen(
        [*cmd, *args], cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        wait_port(port, proc)
        yield Server(url, base, proc)
    finally:
        import psutil

        children = psutil.Process(proc.pid).children(recursive=True)
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        for child in children:  # kernels a killed server left behind
            try:
                child.kill()
            except psutil.NoSuchProcess:
                pass
        if log:
            out.close()


def kernels(proc: subprocess.Popen) -> list:
    """The server's kernel processes (psutil.Process), oldest first."""
    import psutil

    found = []
    for p in psutil.Process(proc.pid).children(recursive=True):
        try:
            if KERNEL in " ".join(p.cmdline()):
                found.append(p)
        except psutil.NoSuchProcess:
            pass
    return sorted(found, key=lambda p: p.create_time())


def idle_kernels(proc: subprocess.Popen, count: int, timeout: float = 120) -> list:
    """The server's kernels once there are `count` of them and they have stopped using CPU (a
    preheated kernel has rendered its page)."""
    import psutil

    deadline, last = time.time() + timeout, None
    while time.time() < deadline:
        found = kernels(proc)
        try:
            cpu = sum(sum(k.cpu_times()[:2]) for k in found) if len(found) == count else None
        except psutil.NoSuchProcess:
            cpu = None
        if cpu is not None and last is not None and cpu - last < 0.05:
            return found
        last = cpu
        time.sleep(1)
    raise TimeoutError(f"{count} idle kernel(s) not there in {timeout} s")


FLOOR_CELL = (
    'import ipywidgets as w\nw.VBox([w.FileUpload(description="Choose photo"), w.Button(description="Classify")])'
)


def floor_app(folder: Path) -> Path:
    """`folder` set up as the app's root with the committed serving settings, but a bears.ipynb that
    only shows the upload and Classify buttons: what Voila and the browser cost before any app code."""
    import nbformat

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(FLOOR_CELL)])
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, folder / "bears.ipynb")
    shutil.copy(ROOT / "voila.json", folder)
    shutil.copytree(ROOT / "binder", folder / "binder")
    return folder


def rss(processes) -> int:
    """Total resident memory of `processes` in bytes (those that have exited count 0)."""
    import psutil

    total = 0
    for p in processes:
        try:
            total += p.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total


def tree(proc: subprocess.Popen) -> list:
    """The server process and all its descendants."""
    import psutil

    server = psutil.Process(proc.pid)
    return [server, *server.children(recursive=True)]


def chromium_available() -> bool:
    return Path(CHROMIUM).exists()


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
    page.get_by_role("button", name=CHOOSE).wait_for(timeout=timeout_ms)
    page.get_by_role("button", name="Classify").wait_for(timeout=timeout_ms)


def choose_file(page, path: Path):
    """Pick `path` in the "Choose photo" file chooser, as a person would; returns the chooser."""
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name=CHOOSE).click()
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


class NetworkLog:
    """What a page asks of the network, seen through the DevTools protocol (Chrome's own record),
    throttled to `profile` (one of PROFILES) when given."""

    def __init__(self, context, page, profile: dict | None = None):
        self.urls, self.bytes, self.blocked, self.ws_sent, self.ws_received = {}, {}, {}, 0, 0
        self.ws_sent_at: list[float] = []  # time.perf_counter() of each websocket frame the page sent
        cdp = context.new_cdp_session(page)
        cdp.send("Network.enable")
        if profile:
            cdp.send("Network.emulateNetworkConditions", {"offline": False, **profile})
        cdp.on("Network.requestWillBeSent", lambda e: self.urls.__setitem__(e["requestId"], e["request"]["url"]))
        cdp.on("Network.loadingFinished", lambda e: self.bytes.__setitem__(e["requestId"], e["encodedDataLength"]))
        cdp.on("Network.loadingFailed", self._failed)
        cdp.on("Network.webSocketFrameSent", lambda e: self._frame(e, "ws_sent", self.ws_sent_at))
        cdp.on("Network.webSocketFrameReceived", lambda e: self._frame(e, "ws_received"))

    def _failed(self, e):
        if e.get("blockedReason"):  # stopped in the browser (the page's Content-Security-Policy): never sent
            self.blocked[e["requestId"]] = e["blockedReason"]

    def _frame(self, e, counter: str, times: list | None = None):
        if times is not None:
            times.append(time.perf_counter())
        r = e["response"]
        size = len(base64.b64decode(r["payloadData"])) if r["opcode"] == 2 else len(r["payloadData"].encode())
        setattr(self, counter, getattr(self, counter) + size)

    def summary(self, host: str) -> dict:
        """Transferred MB (compressed, headers included), HTTP requests, and the other hosts asked:
        those that requests left for, and those the browser stopped before sending anything."""
        http = {i: u for i, u in self.urls.items() if urlparse(u).scheme in ("http", "https")}
        other = {i: urlparse(u).netloc for i, u in http.items() if urlparse(u).netloc != host}
        return {
            "transferred_mb": round(sum(self.bytes.values()) / 1e6, 3),
            "requests": len(http),
            "other_hosts": sorted({h for i, h in other.items() if i not in self.blocked}),
            "other_hosts_blocked_by_csp": sorted({h for i, h in other.items() if i in self.blocked}),
        }
