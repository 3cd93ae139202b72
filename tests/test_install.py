"""Real installs into fresh virtual environments: the app's set has no torch and still classifies;
the package installs and imports from any folder, with its manifests."""

import subprocess
import sys

import pytest

from helpers import ROOT, clean_copy, first_photo

CHECK = """
import importlib.util, sys
from bear_classifier.photos import manifest
from bear_classifier.app.widgets import BearApp
app = BearApp.load({model!r})
pred = app.classifier.classify(open({photo!r}, 'rb').read())
print(pred.text())
print(len(manifest.read('bears')), [m for m in ('torch', 'fastai', 'timm') if importlib.util.find_spec(m)])
print(manifest.__file__.startswith({venv!r}))
"""


@pytest.fixture(scope="module")
def app_venv(tmp_path_factory):
    """`pip install <repository>` (its committed files) into a new venv: the package and the app's pinned set."""
    tmp = tmp_path_factory.mktemp("appenv")
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    r = subprocess.run(
        [str(venv / "bin/python"), "-m", "pip", "install", "-q", str(clean_copy(tmp / "repo"))],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    return venv


def test_the_app_environment_has_no_torch_and_classifies_from_another_folder(app_venv, tmp_path):
    photo = first_photo("grizzly")
    code = CHECK.format(model=str(ROOT / "export.onnx"), photo=str(photo), venv=str(app_venv))
    r = subprocess.run(
        [str(app_venv / "bin/python"), "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0, r.stderr[-2000:]
    text, counts, installed = r.stdout.strip().splitlines()[-3:]
    assert text.startswith("Prediction: grizzly; Probability: ")
    assert counts == "1200 []"  # the manifests ship as package data; torch, fastai and timm are not installed
    assert installed == "True"  # imported from the venv, not from the repository


def test_the_app_environment_is_small(app_venv):
    size = sum(p.stat().st_size for p in app_venv.rglob("*") if p.is_file() and not p.is_symlink())
    assert size <= 600e6, f"{size / 1e6:.0f} MB"
