"""How many visitors the server's memory holds at once, and the line of those who wait for a place.

The memory: `Room.memory` when set, else the limit of the server's cgroup (the lowest up its
ancestors, cgroup v1 or v2), else the machine's available memory. The places: that memory, less a
reserve for the server, its preheated kernels and the largest photo decode the app allows, divided
by what a visitor costs; or `Room.places` when set. Both are settings of the serving configuration
(voila.json, binder/jupyter/jupyter_server_config.json) and of the command line (--Room.places=2).

The costs are what a cgroup charges (library pages shared by all kernels count once), measured by
putting the server in a memory cgroup and reading its charge as visitors open the app and classify
a photo; the model's share scales with the size of the `.onnx` file, measured with ONNX Runtime.
"""

from __future__ import annotations

import math
import secrets
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import psutil
from traitlets import Float, Int
from traitlets.config import LoggingConfigurable

MB = 2**20
MODEL = "export.onnx"  # the model bears.ipynb loads, beside it
VISITOR_MEMORY = 66 * MB  # a visitor's kernel with the app and a classified photo, less its model
# (with export.onnx 78 MB; 73-77 MB measured as the slope of bench/results/room-binder.json's charge)
MODEL_FACTOR = 3.3  # ONNX Runtime's memory per byte of the model file: weights, their prepacked copies, buffers
# The server once it has rendered the app, and the library files it and the kernels read, as a fresh
# container is charged for them: 127-239 MB over four runs of bench/room in a cold 2 GB cgroup
# (223 MB in bench/results/room-binder.json; how cold depends on the machine's other work).
SERVER_MEMORY = 240 * MB
DECODE_MEMORY = 500 * MB  # the largest decode images.MAX_DECODED_PIXELS allows: 20 bytes a pixel, a PNG with alpha
UNLIMITED = 2**60  # cgroup v1 says "no limit" with a huge number (9223372036854771712 with 4 KiB pages)

LEAVE_S = 10.0  # a waiting page whose connection is gone this long leaves the line
HOLD_S = 15.0  # a place freed for someone waiting is held this long for them to arrive


class Room(LoggingConfigurable):
    """The memory the app may use and the visitors it serves at once."""

    memory = Int(
        0,
        config=True,
        help="Bytes of memory the app may use; 0 finds them: the server's cgroup limit, else the machine's "
        "available memory at start.",
    )
    places = Int(0, config=True, help="Visitors served at once; 0 derives them from `memory` (at least 1).")
    away = Float(
        20.0,
        config=True,
        help="While anyone waits, seconds after a visitor's page has gone (its last connection closed) "
        "that their kernel gives its place back; with nobody waiting, the cull timeout holds.",
    )

    def size(self, pool: int, model: Path) -> int:
        """The places, with `pool` preheated kernels and the model file `model` (logged with why)."""
        if self.places > 0:
            self.log.info("Room: %d visitor(s) at once (Room.places)", self.places)
            return self.places
        memory, source = (self.memory, "Room.memory") if self.memory > 0 else find_memory()
        visitor = visitor_memory(model)
        count = places(memory, visitor, pool)
        self.log.info(
            "Room: %d visitor(s) at once: %.2f GB (%s) less %d MB for the server and a photo's decode and "
            "%d preheated kernel(s), at %d MB a visitor",
            count,
            memory / 2**30,
            source,
            (SERVER_MEMORY + DECODE_MEMORY) // MB,
            pool,
            visitor // MB,
        )
        return count


def cgroup_limit(proc_cgroup: str, root: Path = Path("/sys/fs/cgroup")) -> int | None:
    """The lowest memory limit of the cgroup that `proc_cgroup` (the text of /proc/self/cgroup) names
    and of its ancestors, read under `root`; None when none is set. cgroup v1's memory controller
    (memory/…/memory.limit_in_bytes) comes first; else v2's unified hierarchy (…/memory.max). Folders
    that are not there are skipped: in a container the mount shows its own cgroup at the root."""
    lines = [line.split(":", 2) for line in proc_cgroup.splitlines() if line.count(":") >= 2]
    v1 = [path for _, controllers, path in lines if "memory" in controllers.split(",")]
    v2 = [path for hierarchy, controllers, path in lines if hierarchy == "0" and not controllers]
    if v1:
        folder, name, path = root / "memory", "memory.limit_in_bytes", v1[0]
    elif v2:
        folder, name, path = root, "memory.max", v2[0]
    else:
        return None
    limits = []
    here = Path(path.lstrip("/"))
    for ancestor in (here, *here.parents):
        try:
            text = (folder / ancestor / name).read_text().strip()
        except OSError:
            continue
        if text != "max" and int(text) < UNLIMITED:
            limits.append(int(text))
    return min(limits, default=None)


def find_memory(proc_cgroup: Path = Path("/proc/self/cgroup"), root: Path = Path("/sys/fs/cgroup")) -> tuple[int, str]:
    """Bytes the server may use and where that comes from: its cgroup's limit, else the machine's
    available memory (MemAvailable on Linux)."""
    try:
        limit = cgroup_limit(proc_cgroup.read_text(), root)
    except OSError:  # not Linux
        limit = None
    if limit is not None:
        return limit, "the cgroup's limit"
    return psutil.virtual_memory().available, "the machine's available memory"


def visitor_memory(model: Path) -> int:
    """What a visitor costs with the model file `model` (none there: the app without a model)."""
    try:
        size = model.stat().st_size
    except OSError:
        size = 0
    return VISITOR_MEMORY + round(MODEL_FACTOR * size)


def places(memory: int, visitor: int, pool: int) -> int:
    """Visitors that `memory` holds at `visitor` bytes each, after the server, `pool` preheated
    kernels and the largest photo decode; at least 1."""
    return max(1, (memory - SERVER_MEMORY - DECODE_MEMORY - pool * visitor) // visitor)


def wait_estimate(place: int, places: int, stays: list[float]) -> float | None:
    """Seconds until the visitor at `place` in line gets in, from how long recent visitors kept
    their place (`stays`): the room frees a place every mean stay / places; None before anyone left."""
    if not stays:
        return None
    return place * (sum(stays) / len(stays)) / places


@dataclass
class Waiter:
    seen: float  # when its page was last connected (or joined)
    connections: int = 0
    ready: float | None = None  # since when a place is held for it


class Line:
    """First come, first served: a ticket a page keeps; `admits` lets a ticket (or a newcomer, None)
    in only if everyone ahead of it fits too, so a place freed is the head's and nobody jumps the line.
    `sweep` drops the waiters whose page has gone (no connection for `leave_s`) and those a place was
    held for who did not come within `hold_s`."""

    def __init__(self, leave_s: float = LEAVE_S, hold_s: float = HOLD_S, clock=time.monotonic):
        self.leave_s, self.hold_s, self.clock = leave_s, hold_s, clock
        self._waiters: dict[str, Waiter] = {}  # in order of arrival
        self.stays: deque[float] = deque(maxlen=50)  # how long recent visitors kept their place (s)

    def __len__(self) -> int:
        return len(self._waiters)

    def __contains__(self, ticket) -> bool:
        return ticket in self._waiters

    def tickets(self) -> list[str]:
        return list(self._waiters)

    def join(self, ticket: str | None = None) -> str:
        """`ticket` where it still is in line, else a new ticket at the back."""
        if ticket in self._waiters:
            return ticket
        ticket = secrets.token_hex(16)
        self._waiters[ticket] = Waiter(seen=self.clock())
        return ticket

    def place(self, ticket: str | None) -> int:
        """1 for the head of the line; a newcomer's (None or unknown) is after the last."""
        return self.tickets().index(ticket) + 1 if ticket in self._waiters else len(self._waiters) + 1

    def admits(self, ticket: str | None, free: int) -> bool:
        return self.place(ticket) <= free

    def enter(self, ticket: str | None):
        """The visitor holding `ticket` got in: out of the line."""
        self._waiters.pop(ticket, None)

    def connect(self, ticket: str):
        self._waiters[ticket].connections += 1

    def disconnect(self, ticket: str):
        if ticket in self._waiters:
            waiter = self._waiters[ticket]
            waiter.connections -= 1
            waiter.seen = self.clock()

    def sweep(self, free: int) -> list[str]:
        """Hold the first `free` places for the heads of the line; drop and return the tickets of
        pages gone and of heads that did not come."""
        now, gone, place = self.clock(), [], 0
        for ticket, waiter in list(self._waiters.items()):
            waiter.ready = (waiter.ready or now) if place < free else None
            away = not waiter.connections and now - waiter.seen > self.leave_s
            if away or (waiter.ready and now - waiter.ready > self.hold_s):
                del self._waiters[ticket]
                gone.append(ticket)
            else:
                place += 1
        return gone

    def estimate(self, ticket: str, places: int) -> float | None:
        return wait_estimate(self.place(ticket), places, list(self.stays))


def wait_in_words(seconds: float | None) -> str:
    """The estimated wait in words."""
    if seconds is None:
        return "not known yet: nobody has left since the server started"
    if seconds < 60:
        return "less than a minute"
    n = math.ceil(seconds / 60)
    return f"about {n} minute{'s' if n > 1 else ''}"
