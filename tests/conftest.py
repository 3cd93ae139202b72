"""Shared fixtures: where the real photos are, synthetic images, a network guard."""
from __future__ import annotations

import io
import os
import socket
import sys
from pathlib import Path

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("BEAR_DATA", ROOT.parent / "shared" / "data"))
sys.path.insert(0, str(ROOT))


def shared(name: str) -> Path:
    """A folder of ../shared/data, or skip the test saying why."""
    path = SHARED / name
    if not path.is_dir():
        pytest.skip(f"real photos not available: {path} is absent (set BEAR_DATA to the shared data folder)")
    return path


def first_photo(cls: str, folder: str = "bears-test") -> Path:
    return sorted((shared(folder) / cls).glob("*.jp*g"))[0]


def jpeg_bytes(size=(64, 48), colour=(200, 120, 40), quality=90, **save) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, "JPEG", quality=quality, **save)
    return buf.getvalue()


def png_bytes(mode="RGB", size=(64, 48), colour=None) -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size, colour if colour is not None else 128).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture
def no_network(monkeypatch):
    """Fail any attempt to open a non-loopback connection."""
    real_connect = socket.socket.connect

    def guarded(self, address):
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and not (host.startswith("127.") or host in ("localhost", "::1")) and self.family != socket.AF_UNIX:
            raise OSError(f"network access blocked in this test: {address}")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: (_ for _ in ()).throw(OSError("DNS blocked in this test")))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    yield


@pytest.fixture(scope="session")
def baseline():
    """The pretrained ImageNet head restricted to the bear rows: a real model with no training."""
    from bear_classifier.evaluate import imagenet_baseline
    return imagenet_baseline()
