"""Serve the app the two ways visitors get it, and watch the server: its kernels, its memory.

Routes: "voila" is `voila bears.ipynb` (`make app`: a preheated kernel waits for the next visitor);
"binder" is Binder's, `jupyter server` started through binder/start, the app at
/voila/render/bears.ipynb (no preheated kernel). Used by the tests and the benchmarks alike.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from harness.cgroup import MemoryCgroup

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
ROUTES = ("voila", "binder")
KERNEL = "ipykernel_launcher"
MB = 2**20


@dataclass
class Server:
    route: str
    url: str  # the app
    base: str  # http://127.0.0.1:PORT, for other paths of the same server
    proc: subprocess.Popen
    cgroup: MemoryCgroup | None = None

    def processes(self) -> list[psutil.Process]:
        """The server process and all its descendants (its kernels among them)."""
        server = psutil.Process(self.proc.pid)
        return [server, *server.children(recursive=True)]

    def kernels(self) -> list[psutil.Process]:
        """The server's kernel processes, oldest first."""
        found = []
        for p in self.processes()[1:]:
            try:
                if KERNEL in " ".join(p.cmdline()):
                    found.append(p)
            except psutil.NoSuchProcess:
                pass
        return sorted(found, key=lambda p: p.create_time())

    def mapped_files(self) -> int:
        """Bytes of file pages (libraries) resident in the server's processes' mappings, each mapping of
        a file counted once (its most resident copy), less the pages a process copied to write them
        (anonymous): what a fresh container is charged for them."""
        most: dict[tuple[str, str], int] = {}
        for p in self.processes():
            try:
                smaps = Path(f"/proc/{p.pid}/smaps").read_text()
            except OSError:
                continue
            for block in re.split(r"^(?=[0-9a-f]+-)", smaps, flags=re.MULTILINE)[1:]:
                header = block.split("\n", 1)[0].split()  # range perms offset dev inode [path]
                if len(header) > 5 and header[5].startswith("/"):
                    kb = dict(re.findall(r"^(Rss|Anonymous):\s+(\d+)", block, re.MULTILINE))
                    key = (header[5], header[2])
                    most[key] = max(most.get(key, 0), (int(kb["Rss"]) - int(kb["Anonymous"])) * 1024)
        return sum(most.values())

    def wait_for_kernels(self, count: int, idle: bool = False, at_most: bool = False, timeout: float = 120) -> list:
        """The kernels once there are `count` of them (at most `count` with `at_most`), and, with
        `idle`, once they have stopped using CPU (a preheated kernel has rendered its page);
        TimeoutError when that does not happen in `timeout` seconds."""
        deadline, last = time.time() + timeout, None
        while time.time() < deadline:
            found = self.kernels()
            if (len(found) <= count) if at_most else (len(found) == count):
                if not idle:
                    return found
                try:
                    cpu = sum(sum(k.cpu_times()[:2]) for k in found)
                except psutil.NoSuchProcess:
                    cpu = None
                if cpu is not None and last is not None and cpu - last < 0.05:
                    return found
                last = cpu
            else:
                last = None
            time.sleep(0.5 if not idle else 1)
        wanted = f"{'at most ' if at_most else ''}{count} {'idle ' if idle else ''}kernel(s)"
        raise TimeoutError(f"{wanted} not there in {timeout} s")


def settings(route: str, root: Path = ROOT) -> dict:
    """The committed cull timeout and interval (seconds) and preheated pool size of a route."""
    if route == "voila":
        config = json.loads((root / "voila.json").read_text())
        pool = config["VoilaConfiguration"]
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


def _wait_port(port: int, proc: subprocess.Popen, timeout: float = 120):
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


def _command(route: str, port: int, root: Path, token: str) -> tuple[list[str], str]:
    base = f"http://127.0.0.1:{port}"
    if route == "voila":
        return [str(BIN / "voila"), "bears.ipynb", f"--port={port}", "--no-browser", "--Voila.ip=127.0.0.1"], f"{base}/"
    if route == "binder":
        cmd = ["bash", "binder/start", str(BIN / "jupyter"), "server", f"--port={port}", "--no-browser"]
        cmd += ["--ip=127.0.0.1", "--allow-root", f"--IdentityProvider.token={token}", "--ServerApp.password="]
        cmd += [f"--ServerApp.root_dir={root}"]
        return cmd, f"{base}/voila/render/bears.ipynb" + (f"?token={token}" if token else "")
    raise ValueError(f"unknown route {route!r}: one of {', '.join(ROUTES)}")


@contextmanager
def serve(
    route: str,
    log: Path | None = None,
    args: list[str] = (),
    root: Path = ROOT,
    token: str = "",
    port: int | None = None,
    memory_limit_mb: int | None = None,
):
    """Yield a Server for the app in `root` on `route` ("voila" or "binder"). `args`: extra
    command-line options (config such as a short cull timeout); `token`, on Binder's route, the
    token a visitor needs (Binder sets one; empty means none); `port`, a free one unless given (to
    restart a server where its pages are); `memory_limit_mb`, the server and its kernels in a
    memory cgroup of that size, as Binder's container is (harness.cgroup)."""
    port = port or free_port()
    cmd, url = _command(route, port, root, token)
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "JUPYTER_PLATFORM_DIRS": "1"}
    env["PYTHONPATH"] = str(root)  # voila.json names bear_classifier.app.serving
    cgroup = MemoryCgroup(memory_limit_mb * MB) if memory_limit_mb else None
    out = open(log, "w") if log else subprocess.DEVNULL
    try:
        proc = subprocess.Popen(
            [*cmd, *args],
            cwd=root,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=cgroup.enter if cgroup else None,
        )
        try:
            _wait_port(port, proc)
            yield Server(route, url, f"http://127.0.0.1:{port}", proc, cgroup)
        finally:
            _stop(proc)
    finally:
        if cgroup:
            cgroup.remove()
        if log:
            out.close()


def _stop(proc: subprocess.Popen):
    """Stop the server, and the kernels a killed server leaves behind."""
    try:
        children = psutil.Process(proc.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        children = []
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    for child in children:
        try:
            child.kill()
        except psutil.NoSuchProcess:
            pass


def rss(processes) -> int:
    """Total resident memory of `processes` in bytes (those that have exited count 0); shared pages
    count once per process, so this overstates what a cgroup charges (MemoryCgroup.usage)."""
    total = 0
    for p in processes:
        try:
            total += p.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total


@dataclass
class Peaks:
    """What MemorySampler saw: peaks in MB, and CPU seconds used meanwhile by the server's processes
    and by every other descendant of this process (the browser)."""

    kernels: int = 0
    server_mb: float = 0  # the server process alone
    kernel_mb: float = 0  # the largest kernel
    server_and_kernels_mb: float = 0  # summed RSS
    cgroup_mb: float | None = None  # what the cgroup charged (memory.max_usage_in_bytes)
    cgroup_by_kernels: dict = field(default_factory=dict)  # the highest charge sampled with each count of kernels
    cpu: dict = field(default_factory=lambda: {"server": {}, "browser": {}})

    def cpu_seconds(self) -> dict:
        return {g: round(sum(last - first for first, last in pids.values()), 1) for g, pids in self.cpu.items()}

    def figures(self) -> dict:
        out = {k: round(v) for k, v in vars(self).items() if isinstance(v, (int, float))}
        if self.cgroup_by_kernels:
            out["cgroup_by_kernels"] = {n: round(mb) for n, mb in sorted(self.cgroup_by_kernels.items())}
        return out | {"cpu_s": self.cpu_seconds()}


class MemorySampler:
    """Samples a server's memory (and CPU) every `every` seconds in a thread, until the `with` ends."""

    def __init__(self, server: Server, every: float = 0.5):
        self.server, self.every, self.peaks = server, every, Peaks()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Peaks:
        self.sample()
        self._thread.start()
        return self.peaks

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.sample()

    def _run(self):
        while not self._stop.wait(self.every):
            self.sample()

    def sample(self):
        p = self.peaks
        try:
            processes = self.server.processes()
        except psutil.NoSuchProcess:
            return
        kernels = self.server.kernels()
        p.kernels = max(p.kernels, len(kernels))
        p.server_mb = max(p.server_mb, rss(processes[:1]) / MB)
        p.kernel_mb = max([p.kernel_mb, *(rss([k]) / MB for k in kernels)])
        p.server_and_kernels_mb = max(p.server_and_kernels_mb, rss(processes) / MB)
        if self.server.cgroup:
            p.cgroup_mb = self.server.cgroup.peak() / MB
            usage, count = self.server.cgroup.usage() / MB, len(kernels)
            p.cgroup_by_kernels[count] = max(p.cgroup_by_kernels.get(count, 0), usage)
        ours = {q.pid for q in processes}
        browser = [q for q in psutil.Process().children(recursive=True) if q.pid not in ours]
        for group, procs in (("server", processes), ("browser", browser)):
            for q in procs:
                try:
                    t = q.cpu_times()
                except psutil.NoSuchProcess:
                    continue
                first, _ = p.cpu[group].get(q.pid, (t.user + t.system, 0))
                p.cpu[group][q.pid] = (first, t.user + t.system)


@contextmanager
def code_at(commit: str):
    """Yield a temporary folder holding the committed files of `commit` (the app, its model and its
    settings as they were): serve(route, root=folder) serves that code, a baseline measured in the same run."""
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(["git", "archive", commit], cwd=ROOT, capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        yield Path(tmp)


TWO_BUTTON_CELL = (
    'import ipywidgets as w\nw.VBox([w.FileUpload(description="Choose photo"), w.Button(description="Classify")])'
)


def two_button_app(folder: Path) -> Path:
    """`folder` set up as the app's root with the committed serving settings, but a bears.ipynb that
    only shows an upload button and a Classify button: what Voila and the browser cost before any
    app code runs (the baseline of the page-ready figures)."""
    import nbformat

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(TWO_BUTTON_CELL)])
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, folder / "bears.ipynb")
    shutil.copy(ROOT / "voila.json", folder)
    shutil.copytree(ROOT / "binder", folder / "binder")
    return folder
