"""Tiny end-to-end training: probe + fine-tune, export, load_learner in a fresh process,
the TorchScript copy for the app; and the probe's parts on synthetic data."""
import json
import subprocess
import sys

import pytest
import torch

from conftest import ROOT, shared
from bear_classifier.data import OTHER
from bear_classifier.inference import Classifier
from bear_classifier.train import Recipe, fit_head, pick_threshold, train

TINY = Recipe(size=64, bs=8, epochs=1)  # exercises the optional fine-tuning too


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


def test_probe_fits_separable_classes_and_l2_keeps_the_start():
    g = torch.Generator().manual_seed(0)
    y = torch.arange(3).repeat(40)
    x = torch.randn(120, 16, generator=g) * 0.3 + torch.eye(3, 16)[y] * 3
    w0, b0 = torch.zeros(3, 16), torch.zeros(3)
    w, b = fit_head(x, y, w0, b0, l2=1e-3)
    assert ((x @ w.T + b).argmax(1) == y).all()
    start = torch.randn(3, 16, generator=g)
    w, _ = fit_head(x, y, start, b0, l2=1e3)  # an overwhelming pull stays (almost) where it started
    assert (w - start).abs().max() < 1e-2


def test_threshold_rejects_the_chosen_share_of_negatives_within_bounds():
    p = [i / 100 for i in range(100)]  # P(other) of 100 negatives: 0.00 .. 0.99
    t = pick_threshold(p, 0.3)
    assert sum(v >= t for v in p) == 30
    assert pick_threshold(p, 0.95) == 0.5  # would be 0.05: never below one half
    assert pick_threshold([0.999] * 10, 0.95) == 0.99 and pick_threshold([], 0.95) == 0.5


def test_training_reports_facts(tiny_export):
    out, facts = tiny_export
    assert out.exists() and facts["vocab"] == ["black", "grizzly", OTHER, "teddy"]
    assert facts["counts"] == {"black": 8, "grizzly": 8, "teddy": 8, OTHER: 8}
    assert facts["train_images"] + facts["valid_images"] == 32 and facts["valid_images"] == 6
    assert 0 <= facts["valid_accuracy"] <= 1 and 0.5 <= facts["other_threshold"] <= 0.99


def test_torchscript_copy_matches_the_learner_and_loads_without_fastai(tiny_export, tmp_path):
    out, facts = tiny_export
    assert out.with_suffix(".pt").exists()
    fast, slow = Classifier.load(out), Classifier.from_export(out)
    assert isinstance(fast.model, torch.jit.ScriptModule) and not isinstance(slow.model, torch.jit.ScriptModule)
    assert fast.vocab == slow.vocab and fast.other_threshold == slow.other_threshold
    assert abs(fast.other_threshold - facts["other_threshold"]) < 1e-4
    photos = [p.read_bytes() for p in sorted((shared("bears-test") / "black").iterdir())[:2]]
    ims = [fast.classify(b).image for b in photos]
    assert torch.allclose(fast.probabilities(ims), slow.probabilities(ims), atol=1e-4)  # a batch of two
    code = (f"import sys; from bear_classifier.inference import Classifier; c = Classifier.load({str(out)!r});"
            "print(type(c.model).__name__, [m for m in ('fastai', 'timm', 'torchvision') if m in sys.modules])")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.split()[-1] == "[]"


def test_a_torchscript_copy_of_another_export_is_ignored(tiny_export, tmp_path):
    out, _ = tiny_export
    export = tmp_path / "export.pkl"
    export.write_bytes(out.read_bytes())
    (tmp_path / "export.pt").write_bytes(out.with_suffix(".pt").read_bytes())
    assert isinstance(Classifier.load(export).model, torch.jit.ScriptModule)
    Classifier.load(export).save(tmp_path / "export.pt", source=ROOT / "cleaning.csv")  # made from another file
    with pytest.warns(UserWarning, match="another export"):
        clf = Classifier.load(export)
    assert not isinstance(clf.model, torch.jit.ScriptModule)
    (tmp_path / "export.pt").write_bytes(b"version https://git-lfs.github.com/spec/v1\n")  # e.g. an LFS pointer
    with pytest.warns(UserWarning, match="unreadable"):
        assert Classifier.load(export).vocab == clf.vocab


def test_cli_writes_the_torchscript_copy_for_an_export_made_elsewhere(tiny_export, tmp_path):
    out, _ = tiny_export
    export = tmp_path / "export.pkl"  # as if trained on Colab: no export.pt beside it
    export.write_bytes(out.read_bytes())
    r = subprocess.run([sys.executable, "-m", "bear_classifier.inference", str(export)], cwd=ROOT,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    clf = Classifier.load(export)
    assert isinstance(clf.model, torch.jit.ScriptModule) and clf.vocab == ["black", "grizzly", OTHER, "teddy"]


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
