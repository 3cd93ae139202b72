"""The room (bear_classifier/app/room.py): the memory the server may use, the places it holds, the line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bear_classifier.app import room
from bear_classifier.app.room import Line, Room, cgroup_limit, find_memory, minutes, places, visitor_memory
from helpers import ROOT

GB = 2**30
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
    visitor = 80 * room.MB
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


@pytest.mark.app
def test_the_reserve_covers_the_largest_decode_and_the_model_is_the_apps():
    from bear_classifier.images import MAX_PIXELS

    assert room.DECODE_MEMORY >= 20 * MAX_PIXELS  # a PNG with alpha peaks at about 19 bytes a pixel
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
    assert line.estimate(b, 2) is None and minutes(None).startswith("not known yet")
    line.stays.extend([100, 140])
    assert line.estimate(a, 2) == 60 and line.estimate(b, 2) == 120
    assert minutes(30) == "less than a minute" and minutes(60) == "about 1 minute" and minutes(61) == "about 2 minutes"
