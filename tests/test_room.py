"""The room (bear_classifier/app/room.py) and its door (app/serving.py): the memory the server may use,
the places it holds, the line; and, against real servers over HTTP and websockets (no browser), on
both routes with the room set to one visitor: the waiting page, the line, a place given back."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import pytest

from bear_classifier.app import room, serving
from bear_classifier.app.room import Line, Room, cgroup_limit, find_memory, places, visitor_memory, wait_in_words
from bear_classifier.app.watchdog import kernel_fate_url
from harness.servers import ROUTES, Server, serve, settings
from helpers import ROOT, http_get

GB = 2**30
MB = 2**20
V1_UNLIMITED = "9223372036854771712\n"  # what cgroup v1 writes when no limit is set


def write(path: Path, text: str):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.mark.app
def test_cgroup_v1_limit_is_the_lowest_up_the_ancestors(tmp_path):
    write(tmp_path / "memory/memory.limit_in_bytes", V1_UNLIMITED)
    write(tmp_path / "memory/class/memory.limit_in_bytes", str(2 * GB))
    write(tmp_path / "memory/class/session/memory.limit_in_bytes", V1_UNLIMITED)
    proc = "4:memory:/class/session\n3:cpu,cpuacct:/class\n0::/\n"  # a hybrid machine: v1's memory first
    assert cgroup_limit(proc, tmp_path) == 2 * GB
    write(tmp_path / "memory/class/session/memory.limit_in_bytes", str(GB))
    assert cgroup_limit(proc, tmp_path) == GB
    assert cgroup_limit("4:memory:/class\n", tmp_path) == 2 * GB


@pytest.mark.app
def test_cgroup_v1_sentinel_means_no_limit_and_a_container_sees_its_cgroup_at_the_root(tmp_path):
    write(tmp_path / "memory/memory.limit_in_bytes", V1_UNLIMITED)
    assert cgroup_limit("9:memory:/docker/abc\n", tmp_path) is None
    write(tmp_path / "memory/memory.limit_in_bytes", str(GB))  # the container's own, mounted at the root
    assert cgroup_limit("9:memory:/docker/abc\n", tmp_path) == GB


@pytest.mark.app
def test_cgroup_v2_limit_reads_memory_max_and_its_literal_max(tmp_path):
    write(tmp_path / "user.slice/memory.max", "max\n")
    write(tmp_path / "user.slice/app/memory.max", "max\n")
    assert cgroup_limit("0::/user.slice/app\n", tmp_path) is None
    write(tmp_path / "user.slice/memory.max", f"{3 * GB}\n")
    assert cgroup_limit("0::/user.slice/app\n", tmp_path) == 3 * GB
    write(tmp_path / "memory.max", f"{GB}\n")  # cgroup namespace: the container's cgroup is "/"
    assert cgroup_limit("0::/\n", tmp_path) == GB
    assert cgroup_limit("", tmp_path) is None


@pytest.mark.app
def test_memory_is_the_cgroup_limit_else_the_machines_available_memory(tmp_path, monkeypatch):
    write(tmp_path / "cgroup", "0::/app\n")
    write(tmp_path / "root/app/memory.max", f"{2 * GB}\n")
    assert find_memory(tmp_path / "cgroup", tmp_path / "root") == (2 * GB, "the cgroup's limit")
    monkeypatch.setattr(room.psutil, "virtual_memory", lambda: type("vm", (), {"available": 5 * GB}))
    write(tmp_path / "root/app/memory.max", "max\n")
    assert find_memory(tmp_path / "cgroup", tmp_path / "root") == (5 * GB, "the machine's available memory")
    assert find_memory(tmp_path / "no-such-file", tmp_path / "root")[0] == 5 * GB  # not Linux


@pytest.mark.app
def test_places_leave_room_for_the_server_the_pool_and_a_decode(tmp_path, monkeypatch):
    visitor = 75 * room.MB
    assert places(2 * GB, visitor, 0) == (2 * GB - room.SERVER_MEMORY - room.DECODE_MEMORY) // visitor == 17
    assert places(2 * GB, visitor, 1) == 16
    assert places(room.SERVER_MEMORY, visitor, 1) == 1  # too small to hold anyone: still serves one
    model = tmp_path / "m.onnx"
    assert visitor_memory(model) == room.VISITOR_MEMORY  # no model: the app's message alone
    model.write_bytes(bytes(10 * room.MB))
    assert visitor_memory(model) == room.VISITOR_MEMORY + 33 * room.MB
    assert 70 * room.MB < visitor_memory(ROOT / room.MODEL) < 85 * room.MB  # measured: 71-78 MB with export.onnx

    monkeypatch.setattr(room, "find_memory", lambda: (2 * GB, "a 2 GB cgroup"))
    assert Room().size(0, model) == places(2 * GB, visitor_memory(model), 0)
    assert Room(memory=GB).size(1, model) == places(GB, visitor_memory(model), 1)
    assert Room(memory=GB, places=2).size(1, model) == 2  # the count wins over the memory


LARGEST_DECODE = """
import io, re
import numpy as np
from PIL import Image
from bear_classifier.app.classifier import Classifier
from bear_classifier.images import MAX_DECODED_PIXELS
side = int(MAX_DECODED_PIXELS ** 0.5)
buf = io.BytesIO()  # a photo-like PNG with transparency: noise, so that nothing is shared
rgba = np.random.default_rng(0).integers(0, 256, (side, side, 4), dtype=np.uint8)
Image.fromarray(rgba).save(buf, "PNG", compress_level=1)
data = buf.getvalue()
del rgba, buf
clf = Classifier.load({model!r})
def peak():
    return int(re.search(r"VmHWM:\\s+(\\d+)", open("/proc/self/status").read())[1]) * 1024
open("/proc/self/clear_refs", "w").write("5")  # peak RSS from here
before = peak()
assert clf.classify(data).ok
print(peak() - before)
"""


def test_the_reserve_covers_the_largest_decode_and_the_model_is_the_apps():
    r = subprocess.run(
        [sys.executable, "-c", LARGEST_DECODE.format(model=str(ROOT / room.MODEL))],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert 0 < int(r.stdout) <= room.DECODE_MEMORY, f"the largest decode took {int(r.stdout) / MB:.0f} MB"
    cells = json.loads((ROOT / "bears.ipynb").read_text())["cells"]
    assert any(f'BearApp.load("{room.MODEL}")' in "".join(c["source"]) for c in cells)


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


@pytest.mark.app
def test_the_line_is_first_come_first_served_and_nobody_jumps_it():
    line = Line(clock=Clock())
    a, b = line.join(), line.join()
    assert line.tickets() == [a, b] and line.place(a) == 1 and line.place(b) == 2
    assert line.join(b) == b and line.place(b) == 2  # a reload keeps its place
    stale = "0" * 32
    assert line.join(stale) != stale and len(line) == 3  # an unknown ticket joins at the back
    assert line.place(None) == 4
    assert not line.admits(None, 1) and not line.admits(b, 1)  # a place freed is the head's
    assert line.admits(a, 1) and line.admits(b, 2) and line.admits(None, 4)
    line.enter(a)
    assert line.tickets()[0] == b and line.place(b) == 1


@pytest.mark.app
def test_a_page_that_goes_leaves_the_line_and_a_held_place_passes_on():
    clock = Clock()
    line = Line(leave_s=10, hold_s=15, clock=clock)
    a, b, c = line.join(), line.join(), line.join()
    for t in (a, b, c):
        line.connect(t)
    clock.now = 5
    line.disconnect(b)  # b closed its page
    clock.now = 14
    assert line.sweep(0) == []  # within leave_s: a reload or a dropped connection keeps the place
    clock.now = 16
    assert line.sweep(0) == [b] and line.tickets() == [a, c]
    line.disconnect(c)
    line.connect(c)  # c reconnected
    clock.now = 100
    assert line.sweep(1) == [] and line.place(c) == 2
    clock.now = 114
    assert line.sweep(1) == []  # a's place is held for it
    clock.now = 116
    assert line.sweep(1) == [a]  # a did not come: the place passes to c at once
    assert line.tickets() == [c] and line.admits(c, 1)
    d = line.join()
    clock.now = 127
    assert line.sweep(1) == [d]  # a page that never connected


@pytest.mark.app
def test_the_wait_is_estimated_from_how_long_visitors_stayed():
    line = Line()
    a, b = line.join(), line.join()
    assert line.estimate(b, 2) is None and wait_in_words(None).startswith("not known yet")
    line.stays.extend([100, 140])
    assert line.estimate(a, 2) == 60 and line.estimate(b, 2) == 120
    assert wait_in_words(30) == "less than a minute" and wait_in_words(60) == "about 1 minute"
    assert wait_in_words(61) == "about 2 minutes"


@pytest.mark.app
def test_the_watchdog_asks_its_servers_door(monkeypatch):
    monkeypatch.delenv("VOILA_KERNEL_ID", raising=False)
    assert kernel_fate_url() == ""
    monkeypatch.setenv("VOILA_BASE_URL", "/user/x/")
    monkeypatch.setenv("VOILA_KERNEL_ID", "k-1")
    assert kernel_fate_url() == "/user/x/bear/kernels/k-1"


# Real servers, room set to one visitor; Binder's route under a base URL and with a token, as on Binder.

BINDER_BASE, TOKEN = "/user/bear-class", "binder-token"
AWAY_S = 5  # Room.away, shorter than the served 20 s


@dataclass
class Site:
    server: Server
    root: str  # http://127.0.0.1:PORT and the base URL
    url: str  # the app
    token: str

    def at(self, path: str, scheme: str = "http", **args) -> str:
        """`path` under the base URL, with the token and `args` as its query."""
        query = urlencode({**({"token": self.token} if self.token else {}), **args})
        return self.root.replace("http", scheme, 1) + path + (f"?{query}" if query else "")


@contextmanager
def room_of_one(route: str):
    token = TOKEN if route == "binder" else ""
    args = ["--Room.places=1", f"--Room.away={AWAY_S}"]
    args += [f"--ServerApp.base_url={BINDER_BASE}/"] if route == "binder" else []
    with serve(route, args=args, token=token) as server:
        root = server.base + (BINDER_BASE if route == "binder" else "")
        site = Site(server, root, "", token)
        site.url = site.at("/voila/render/bears.ipynb" if route == "binder" else "/")
        server.wait_for_kernels(settings(route)["pool_size"], idle=True)
        yield site


def get(url: str) -> tuple[int, dict, bytes, float]:
    """Status, headers (with the size that came, "bytes"), unzipped body and seconds of a GET."""
    r = http_get(url)
    return r.status, {**r.headers, "bytes": len(r.raw)}, r.body, r.seconds


def kernel_id(app_page: bytes) -> str:
    return re.search(rb'"kernelId": "([0-9a-f-]{36})"', app_page)[1].decode()


def ticket(waiting_page: bytes) -> str:
    return re.search(rb'data-socket="[^"]*/bear/line/([0-9a-f]{32})"', waiting_page)[1].decode()


@pytest.mark.parametrize("route", ROUTES)
def test_a_full_room_answers_at_once_with_the_waiting_page_and_starts_no_kernel(route):
    with room_of_one(route) as site:
        pool = settings(route)["pool_size"]
        status, app_headers, app, _ = get(site.url)
        assert status == 200 and kernel_id(app)
        site.server.wait_for_kernels(pool + 1, idle=True)  # the visitor's kernel, and the pool refilled

        status, headers, page, seconds = get(site.url)
        text = page.decode()
        assert status == 200 and 'class="bear-waiting"' in text
        assert "The app is full right now" in text and "You are next in line." in text
        assert "Estimated wait:" in text and "turns into the app by itself" in text
        assert headers["Content-Encoding"] == "gzip" and headers["bytes"] < len(page) <= 20_000
        assert headers["Content-Security-Policy"] == app_headers["Content-Security-Policy"]
        assert not re.search(r"(https?:)?//[a-z]", text)  # nothing from another host
        assert seconds < 2, f"the waiting page took {seconds:.2f} s"
        base = BINDER_BASE if route == "binder" else ""
        assert f'data-socket="{base}/bear/line/{ticket(page)}"' in text
        time.sleep(3)
        assert len(site.server.kernels()) == pool + 1, "the waiting page started a kernel"

        server_score = int(Path(f"/proc/{site.server.proc.pid}/oom_score_adj").read_text())
        scores = [int(Path(f"/proc/{k.pid}/oom_score_adj").read_text()) for k in site.server.kernels()]
        assert all(score > server_score for score in scores), (server_score, scores)

        if route == "binder":  # Binder's token is needed for the line as for the app
            assert get(site.url.replace(f"?token={TOKEN}", ""))[0] != 200
            assert get(site.at(f"/bear/kernels/{kernel_id(app)}").replace(f"?token={TOKEN}", ""))[0] != 200
            assert get(site.at(f"/bear/kernels/{kernel_id(app)}"))[0] == 200


async def next_told(socket, timeout: float) -> dict:
    message = await asyncio.wait_for(socket.read_message(), timeout)
    assert message is not None, "the line's socket closed"
    return json.loads(message)


async def told_until(socket, wanted, timeout: float) -> dict:
    """The first status `wanted(status)` accepts, within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        told = await next_told(socket, max(0.1, deadline - time.monotonic()))
        if wanted(told):
            return told


async def line_story(site: Site) -> tuple[float, float]:
    """Two wait behind the one visitor; the first waiter leaves, then the visitor's page goes: the
    second moves up, then is told to come in, ahead of a newcomer. Seconds each took."""
    from tornado.httpclient import AsyncHTTPClient
    from tornado.websocket import websocket_connect

    client = AsyncHTTPClient()

    async def page(url: str) -> bytes:
        return (await client.fetch(url, request_timeout=120)).body

    first = kernel_id(await page(site.url))  # the one place
    a, b = ticket(await page(site.url)), ticket(await page(site.url))
    line_a = await websocket_connect(site.at(f"/bear/line/{a}", "ws"))
    line_b = await websocket_connect(site.at(f"/bear/line/{b}", "ws"))
    assert (await next_told(line_a, 5))["place"] == 1
    assert (await next_told(line_b, 5))["line"] == "You are number 2 in line."

    line_a.close()  # a closed the waiting page: b moves up
    start = time.monotonic()
    await told_until(line_b, lambda told: told.get("place") == 1, room.LEAVE_S + 5)
    left_in = time.monotonic() - start

    # the visitor's page connects to its kernel, then goes: the kernel gives its place to b
    (await websocket_connect(site.at(f"/api/kernels/{first}/channels", "ws"))).close()
    start = time.monotonic()
    await told_until(line_b, lambda told: told.get("go"), AWAY_S + 8)
    given_in = time.monotonic() - start
    newcomer = await page(site.url)
    assert b'class="bear-waiting"' in newcomer and b"You are number 2 in line." in newcomer  # the place is b's

    admitted = await page(site.url + ("&" if "?" in site.url else "?") + f"{serving.TICKET}={b}")
    assert b'class="bear-waiting"' not in admitted and kernel_id(admitted) != first
    assert json.loads(await page(site.at(f"/bear/kernels/{first}"))) == {"given": True}
    client.close()
    return left_in, given_in


@pytest.mark.parametrize("route", ROUTES)
async def test_the_line_moves_up_when_a_waiter_leaves_and_a_gone_page_gives_its_place(route):
    with room_of_one(route) as site:
        left_in, given_in = await line_story(site)
        assert left_in <= room.LEAVE_S + 2 and given_in <= AWAY_S + 3
        print(f"{route}: a waiter's leaving seen in {left_in:.1f} s, a gone page's place given in {given_in:.1f} s")
