"""The layers hold: import contracts (lint-imports), the app's module loads no heavy library in a
fresh process, and the code is clean under ruff."""

import subprocess
import sys
from pathlib import Path

import pytest

from helpers import ROOT

pytestmark = pytest.mark.app
BIN = Path(sys.executable).parent
HEAVY = ("torch", "torchvision", "fastai", "timm", "sklearn", "onnx", "requests", "ddgs", "matplotlib", "pandas")


def test_import_contracts_are_kept():
    r = subprocess.run([str(BIN / "lint-imports"), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout[-3000:]
    assert "4 kept, 0 broken" in r.stdout


@pytest.mark.parametrize(
    "module, loaded",
    [("bear_classifier.app.widgets", "sys"), ("bear_classifier.app.serving", "voila.app")],  # a kernel, a server
)
def test_the_apps_module_loads_no_heavy_library(module, loaded):
    """Beyond what its process has loaded anyway: the kernel nothing, the server Voila (which loads requests)."""
    code = (
        f"import sys, {loaded}; before = set(sys.modules); import {module};"
        f"print([m for m in {HEAVY!r} if m in sys.modules and m not in before])"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip() == "[]"


def test_code_is_clean_under_ruff():
    for args in (["check"], ["format", "--check"]):
        r = subprocess.run([str(BIN / "ruff"), *args, "."], cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stdout[-3000:]
