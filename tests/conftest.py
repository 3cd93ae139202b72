"""Shared fixtures: a network guard, the ImageNet-head baseline, and Debian's chromium."""

from __future__ import annotations

import os
import socket

import pytest


@pytest.fixture
def no_network(monkeypatch):
    """Fail any attempt to open a non-loopback connection."""
    real_connect = socket.socket.connect

    def guarded(self, address):
        host = address[0] if isinstance(address, tuple) else address
        if (
            isinstance(host, str)
            and not (host.startswith("127.") or host in ("localhost", "::1"))
            and self.family != socket.AF_UNIX
        ):
            raise OSError(f"network access blocked in this test: {address}")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)
    monkeypatch.setattr(
        socket, "getaddrinfo", lambda *a, **k: (_ for _ in ()).throw(OSError("DNS blocked in this test"))
    )
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    yield


@pytest.fixture(scope="session")
def shipped_onnx():
    """The shipped model as the app runs it (export.onnx through ONNX Runtime): no torch needed."""
    from bear_classifier.app.classifier import Classifier
    from helpers import ROOT

    return Classifier.load(ROOT / "export.onnx")


@pytest.fixture(scope="session")
def baseline():
    """The pretrained ImageNet head restricted to the bear rows: a real model with no training."""
    from bear_classifier.training.evaluate import imagenet_baseline

    return imagenet_baseline()


@pytest.fixture(scope="session")
async def chromium():
    """A headless chromium (Playwright's async Browser) for the session, or skip where it is absent;
    under CI it must be there."""
    from harness import browser

    if not browser.available():
        if os.environ.get("CI"):
            raise RuntimeError("CI needs /usr/bin/chromium (apt-get install chromium)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    async with browser.launch() as b:
        yield b
