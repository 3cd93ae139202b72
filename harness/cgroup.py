"""A cgroup v1 memory controller group, as Binder's container is: a limit that the kernel's
out-of-memory killer enforces, what the group charges (shared pages once, unlike summed RSS),
and how many processes the killer took. Needs root and /sys/fs/cgroup/memory."""

from __future__ import annotations

import itertools
import os
import signal
import time
from pathlib import Path

CONTROLLER = Path("/sys/fs/cgroup/memory")
_names = itertools.count()


def evict(folders) -> None:
    """Drop the files under `folders` from the page cache (all but the pages a running process maps):
    a new cgroup that reads them is then charged for them, as a fresh container is for its libraries."""
    for folder in folders:
        for parent, _, names in os.walk(folder):
            for path in (os.path.join(parent, name) for name in names):
                if not os.path.isfile(path):  # a dangling link, a socket
                    continue
                try:
                    fd = os.open(path, os.O_RDONLY)
                except OSError:
                    continue
                try:
                    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
                finally:
                    os.close(fd)


def unavailable() -> str | None:
    """Why no memory cgroup can be made here (one line), or None when one can."""
    if not (CONTROLLER / "cgroup.procs").is_file():
        return f"no cgroup v1 memory controller at {CONTROLLER}"
    if not os.access(CONTROLLER, os.W_OK):
        return f"{CONTROLLER} is not writable (run as root)"
    return None


class MemoryCgroup:
    """A new memory cgroup limited to `limit` bytes; `enter` (a Popen preexec_fn) moves the calling
    process into it, and its children follow."""

    def __init__(self, limit: int):
        why = unavailable()
        if why:
            raise RuntimeError(why)
        self.path = CONTROLLER / f"bear-harness-{os.getpid()}-{next(_names)}"
        self.path.mkdir()
        (self.path / "memory.limit_in_bytes").write_text(str(limit))

    def enter(self):
        (self.path / "cgroup.procs").write_text(str(os.getpid()))

    def _read(self, name: str) -> str:
        return (self.path / name).read_text()

    def usage(self) -> int:
        """Bytes charged now (page cache included: what the limit is enforced on)."""
        return int(self._read("memory.usage_in_bytes"))

    def peak(self) -> int:
        return int(self._read("memory.max_usage_in_bytes"))

    def limit(self) -> int:
        return int(self._read("memory.limit_in_bytes"))

    def stat(self) -> dict[str, int]:
        """memory.stat: bytes by kind (total_rss: anonymous; total_mapped_file: file pages mapped; ...)."""
        return {name: int(value) for name, value in (line.split() for line in self._read("memory.stat").splitlines())}

    def oom_kills(self) -> int:
        """Processes the out-of-memory killer has taken in this group."""
        fields = dict(line.split() for line in self._read("memory.oom_control").splitlines())
        return int(fields.get("oom_kill", 0))

    def remove(self):
        """Kill what is left in the group, then remove it."""
        for pid in self._read("cgroup.procs").split():
            try:
                os.kill(int(pid), signal.SIGKILL)
            except ProcessLookupError:
                pass
        for _ in range(100):
            try:
                self.path.rmdir()
                return
            except OSError:  # busy until the killed processes are reaped
                time.sleep(0.1)
