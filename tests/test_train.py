"""Tiny end-to-end training: export, load_learner in a fresh process, classify == learn.predict."""
import json
import subprocess
import sys

import pytest

from conftest import ROOT, shared
from bear_classifier.data import OTHER
from bear_classifier.train import Recipe, train

TINY = Recipe(size=64, bs=8, head_epochs=1, stage_epochs=1)


@pytest.fixture(scope="module")
def tiny_export(tmp_path_factory):
    """A 4-class model (3 bears + 'other') trained on 8 real photos per class."""
    tmp = tmp_path_factory.mktemp("tiny")
    data, neg = tmp / "data", tmp / "neg"
    for cls in ("grizzly", "black", "teddy"):
        (data / cls).mkdir(parents=True)
        for p in sorted((shared("bears") / cls).iterdir())[:8]:
            (data / cls / p.name).symlink_to(p)
    neg.mkdir()
    for p in sorted(shared("notbears").glob("*.jpg"))[:8]:
        (neg / p.name).symlink_to(p)
    out = tmp / "export.pkl"
    learn, facts = train(data, out, neg, cache=tmp / "cache", recipe=TINY, verbose=False)
    return out, facts


def test_training_reports_facts(tiny_export):
    out, facts = tiny_export
    assert out.exists() and facts["vocab"] == ["black", "grizzly", OTHER, "teddy"]
    assert facts["counts"] == {"black": 8, "grizzly": 8, "teddy": 8, OTHER: 8}
    assert facts["train_images"] + facts["valid_images"] == 32 and facts["valid_images"] == 6
    assert 0 <= facts["valid_accuracy"] <= 1


def test_export_loads_in_a_fresh_process_without_this_package(tiny_export, tmp_path):
    out, _ = tiny_export
    code = ("import json, sys; from fastai.learner import load_learner; from fastai.vision.core import PILImage;"
            f"learn = load_learner({str(out)!r}); print(json.dumps(list(learn.dls.vocab)));"
            "print('bear_classifier' in sys.modules)")
    # Run from an empty folder so the project package cannot be imported.
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    vocab, imported = r.stdout.strip().splitlines()[-2:]
    assert json.loads(vocab) == ["black", "grizzly", OTHER, "teddy"] and imported == "False"


def test_training_cli_gives_one_line_errors(tmp_path):
    (tmp_path / "only").mkdir()
    (tmp_path / "only" / "a.jpg").write_bytes(b"x")
    r = subprocess.run([sys.executable, "-m", "bear_classifier.train", "--data", str(tmp_path), "--out",
                        str(tmp_path / "e.pkl"), "--cache", str(tmp_path / "c")], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode != 0 and r.stderr.strip().startswith("error: ") and "Traceback" not in r.stderr
