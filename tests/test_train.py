"""Tiny end-to-end training: probe + fine-tune, export, load_learner in a fresh process, the
ONNX copy for the app and its maps; resnet18 offline; your own classes; the probe's parts (and
the thresholds it picks) on synthetic data."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from bear_classifier.app.classifier import CAM, DEFAULT_SURE_THRESHOLD, LOGITS, METADATA_KEY, NOT_SURE, Classifier
from bear_classifier.app.widgets import BearApp
from bear_classifier.core import OTHER, ModelError
from bear_classifier.training.adapters import learner_classifier, load_classifier, load_learner_quietly
from bear_classifier.training.export import write_onnx
from bear_classifier.training.probe import (
    fit_head,
    out_of_fold,
    pick_sure_threshold,
    pick_threshold,
    sure_threshold,
)
from bear_classifier.training.recipe import Recipe
from bear_classifier.training.train import train
from helpers import BEAR_CLASSES, ROOT, link_classes, link_photos, published

TINY = Recipe(size=64, bs=8, epochs=1)  # exercises the optional fine-tuning too
VOCAB = ["black", "grizzly", OTHER, "teddy"]
TINY_INT8_TOLERANCE = 0.01  # the int8 copy's largest difference from the learner on these photos measured 0.0002


@pytest.fixture(scope="module")
def tiny_export(tmp_path_factory):
    """A 4-class model (3 bears + 'other') trained on 8 real photos per class."""
    tmp = tmp_path_factory.mktemp("tiny")
    data = link_classes(tmp / "data", "bears", BEAR_CLASSES, 8)
    neg = link_photos(tmp / "neg", sorted(published("notbears").glob("*.jpg"))[:8])
    out = tmp / "export.pkl"
    _, facts = train(data, out, neg, cache=tmp / "cache", recipe=TINY, verbose=False)
    return out, facts


def photos(cls="black", n=2):
    return [p.read_bytes() for p in sorted((published("bears-test") / cls).iterdir())[:n]]


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


def test_out_of_fold_predicts_unseen_rows_and_refuses_a_one_image_class():
    g = torch.Generator().manual_seed(1)
    y = torch.arange(3).repeat(10)
    x = torch.randn(30, 8, generator=g) * 0.3 + torch.eye(3, 8)[y] * 3
    probs = out_of_fold(x, y, torch.zeros(3, 8), torch.zeros(3), Recipe())
    assert probs.shape == (30, 3) and (probs.argmax(1) == y).all()
    assert out_of_fold(x, torch.cat([y[:-1], torch.tensor([3])]), torch.zeros(4, 8), torch.zeros(4), Recipe()) is None


def test_threshold_rejects_the_chosen_share_of_negatives_within_bounds():
    p = [i / 100 for i in range(100)]  # P(other) of 100 negatives: 0.00 .. 0.99
    t = pick_threshold(p, 0.3)
    assert sum(v >= t for v in p) == 30
    assert pick_threshold(p, 0.95) == 0.5  # would be 0.05: never below one half
    assert pick_threshold([0.999] * 10, 0.95) == 0.99 and pick_threshold([], 0.95) == 0.5


def test_the_sure_line_keeps_99_percent_of_the_answers_above_it_right_with_95_percent_confidence():
    from scipy.stats import binomtest

    vocab = ["a", "b", OTHER]
    # 1000 answers, all "a", whose share of the top two falls from 0.999 to 0.55; 12 are wrong:
    # two among the confident ones and ten near the bottom
    n = 1000
    share = np.linspace(0.999, 0.55, n)
    probs = np.stack([share * 0.9, (1 - share) * 0.9, np.full(n, 0.1)], 1)
    y = np.zeros(n, dtype=int)
    y[[100, 700, *range(950, 1000, 5)]] = 1
    line = pick_sure_threshold(torch.tensor(probs), torch.tensor(y), vocab, 0.5, 0.99)

    def low(k):  # the lower end of the 90 % two-sided (95 % one-sided) Wilson interval of the k first answers
        return binomtest(int((y[:k] == 0).sum()), k).proportion_ci(confidence_level=0.9, method="wilson").low

    k = int((share >= line).sum())
    assert 700 < k < n and low(k) >= 0.99 and all(low(j) < 0.99 for j in range(k + 1, n + 1))
    # pictures of none of the classes, and answers "none of these", do not count
    others = [[0.9999 * 0.9, 0.0001 * 0.9, 0.1]] * 30 + [[0.02, 0.03, 0.95]] * 30
    more = torch.tensor(np.concatenate([probs, others])), torch.tensor(np.concatenate([y, [2] * 30 + [0] * 30]))
    assert pick_sure_threshold(*more, vocab, 0.5, 0.99) == line
    right = torch.zeros(n, dtype=torch.long)
    assert pick_sure_threshold(torch.tensor(probs), right, vocab, 0.5, 0.99) == 0.5  # all right: all sure
    assert pick_sure_threshold(torch.tensor(probs[:100]), right[:100], vocab, 0.5, 0.99) == 0.99  # too few to tell


def test_recipe_owns_its_command_line():
    import argparse

    p = argparse.ArgumentParser()
    Recipe.add_arguments(p)
    r = Recipe.from_args(p.parse_args(["--arch", "resnet18", "--no-pretrained", "--head-l2", "0.5", "--epochs", "2"]))
    assert r == Recipe(arch="resnet18", pretrained=False, head_l2=0.5, epochs=2)
    assert Recipe.from_args(p.parse_args([])) == Recipe()


def test_training_reports_facts(tiny_export):
    out, facts = tiny_export
    assert out.exists() and facts["vocab"] == VOCAB
    assert facts["counts"] == {"black": 8, "grizzly": 8, "teddy": 8, OTHER: 8}
    assert facts["train_images"] + facts["valid_images"] == 32 and facts["valid_images"] == 6
    assert 0 <= facts["valid_accuracy"] <= 1 and 0.5 <= facts["other_threshold"] <= 0.99
    assert facts["sure_threshold"] == DEFAULT_SURE_THRESHOLD  # fine-tuned: no out-of-fold predictions apply


def export_cli(export, *args, cwd=ROOT, timeout=300):
    """`python -m bear_classifier.training.export export *args`, run as a user would in `cwd`."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    return subprocess.run(
        [sys.executable, "-m", "bear_classifier.training.export", str(export), *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_training_writes_an_int8_copy_close_to_the_learner(tiny_export):
    import onnx

    out, facts = tiny_export
    fast, slow = Classifier.load(out.with_suffix(".onnx")), learner_classifier(load_learner_quietly(out))
    assert not fast.notice and fast.vocab == slow.vocab == VOCAB
    assert fast.other_threshold == slow.other_threshold and abs(fast.other_threshold - facts["other_threshold"]) < 1e-4
    assert fast.sure_threshold == slow.sure_threshold == facts["sure_threshold"]
    graph = onnx.load(str(out.with_suffix(".onnx"))).graph
    assert [o.name for o in graph.output] == [LOGITS, CAM]
    stored = {t.name: t.data_type for t in graph.initializer}
    dequantized = {n.output[0]: n.input[0] for n in graph.node if n.op_type == "DequantizeLinear"}
    convs = [n for n in graph.node if n.op_type == "Conv"]
    assert convs and all(stored[dequantized[n.input[1]]] == onnx.TensorProto.INT8 for n in convs)  # int8 weights
    ims = [fast.classify(b).image for b in photos("black") + photos("teddy")]
    diff = np.abs(fast.probabilities(ims) - slow.probabilities(ims)).max()  # a batch of four
    assert diff < TINY_INT8_TOLERANCE, diff
    logits, cams = fast.forward(fast.transform(ims))
    assert cams.shape == (4, 4, 2, 2)  # 64 px in, 2 x 2 features
    # the maps' means are the logits, but each is quantized to 8 bits apart (measured: under 1 % of the largest)
    assert np.abs(cams.mean(axis=(2, 3)) - logits).max() <= 0.02 * np.abs(logits).max()


def test_the_float32_map_is_the_feature_map_times_the_heads_weights(tiny_export, tmp_path):
    out, _ = tiny_export
    learn = load_learner_quietly(out)
    clf = Classifier.from_onnx(write_onnx(learn, tmp_path / "export.onnx"))
    x = clf.transform([clf.classify(b).image for b in photos("grizzly", 3)])
    logits, cams = clf.forward(x)
    model, head = learn.model.eval(), learn.model.get_classifier()
    with torch.no_grad():
        features = model.forward_features(torch.from_numpy(x))
        expected = torch.einsum("nchw,kc->nkhw", features, head.weight) + head.bias[:, None, None]
    assert cams.shape == expected.shape == (3, 4, 2, 2)
    np.testing.assert_allclose(cams, expected.numpy(), atol=1e-4, rtol=1e-4)
    np.testing.assert_allclose(cams.mean(axis=(2, 3)), logits, atol=1e-4)  # spatial mean = logit


def test_an_older_export_with_one_output_and_no_sure_threshold_still_answers(tiny_export, tmp_path):
    import onnx

    out, _ = tiny_export
    older = onnx.load(str(out.with_suffix(".onnx")))
    del older.graph.output[1]  # the logits alone, as exports made before the maps
    meta = next(p for p in older.metadata_props if p.key == METADATA_KEY)
    meta.value = json.dumps({k: v for k, v in json.loads(meta.value).items() if k != "sure_threshold"})
    onnx.save(older, str(tmp_path / "export.onnx"))
    clf = Classifier.load(tmp_path / "export.onnx")
    assert clf.sure_threshold == DEFAULT_SURE_THRESHOLD
    pred = clf.classify(photos("grizzly", 1)[0])
    assert pred.ok and pred.label in VOCAB and pred.cam is None and pred.region is not None


def test_the_float32_copy_equals_the_learner(tiny_export, tmp_path):
    out, _ = tiny_export
    export = tmp_path / "export.pkl"
    export.write_bytes(out.read_bytes())
    r = export_cli(export, "--float32")
    assert r.returncode == 0, r.stderr[-2000:]
    fast, slow = Classifier.load(export.with_suffix(".onnx")), learner_classifier(load_learner_quietly(export))
    ims = [fast.classify(b).image for b in photos()]
    assert np.abs(fast.probabilities(ims) - slow.probabilities(ims)).max() < 1e-4  # a batch of two
    assert export.with_suffix(".onnx").stat().st_size > 3 * out.with_suffix(".onnx").stat().st_size


def test_a_fresh_process_classifies_with_onnx_alone(tiny_export):
    out, _ = tiny_export
    code = (
        "import sys; from bear_classifier.app.classifier import Classifier;"
        f"c = Classifier.load({str(out.with_suffix('.onnx'))!r});"
        f"p = c.classify(open({str(sorted((published('bears-test') / 'teddy').iterdir())[0])!r}, 'rb').read());"
        "print(p.label in c.vocab, [m for m in ('torch', 'fastai', 'timm', 'torchvision') if m in sys.modules])"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.split() == ["True", "[]"]


def stale_missing_and_unreadable(tiny_export, folder):
    """(why, export.pkl) for an export whose ONNX copy is missing, made from another export, or unreadable."""
    out, _ = tiny_export
    export, onnx = folder / "export.pkl", folder / "export.onnx"
    export.write_bytes(out.read_bytes())
    yield "export.onnx is missing", export
    onnx.write_bytes(out.with_suffix(".onnx").read_bytes())
    export.write_bytes(out.read_bytes() + b"\0")  # a different export.pkl
    yield "export.onnx was made from another export.pkl", export
    export.write_bytes(out.read_bytes())
    onnx.write_bytes(b"version https://git-lfs.github.com/spec/v1\n")  # a Git LFS pointer
    yield "export.onnx is unreadable", export


def test_the_app_names_a_stale_missing_or_unreadable_onnx_and_the_command_that_fixes_it(tiny_export, tmp_path):
    for why, export in stale_missing_and_unreadable(tiny_export, tmp_path):
        with pytest.raises(ModelError, match=why) as e:
            Classifier.load(export.with_suffix(".onnx"))
        assert "\n" not in str(e.value) and "python -m bear_classifier.training.export" in str(e.value)
        assert why in BearApp.load(str(export.with_suffix(".onnx"))).value  # the app says so, in one line


def test_training_falls_back_to_the_export_with_one_line(tiny_export, tmp_path):
    for why, export in stale_missing_and_unreadable(tiny_export, tmp_path):
        with pytest.warns(UserWarning, match=why):
            clf = load_classifier(export)
        assert why in clf.notice and "\n" not in clf.notice and clf.vocab == VOCAB
        assert why in BearApp(clf).header.value  # an app over this classifier says so


def test_damaged_exports_are_one_line_messages(tiny_export, tmp_path):
    out, _ = tiny_export
    (tmp_path / "export.pkl").write_bytes(out.read_bytes()[:5000])  # an interrupted copy
    with pytest.raises(ModelError, match=r"export\.onnx is missing, and export\.pkl could not be loaded") as e:
        load_classifier(tmp_path / "export.pkl")
    assert "\n" not in str(e.value)
    assert "bear-message" in BearApp.load(str(tmp_path / "export.onnx")).value
    r = export_cli(tmp_path / "export.pkl", "--float32")
    assert r.returncode == 2 and r.stderr.splitlines()[-1].startswith("error: ") and "Traceback" not in r.stderr
    assert "could not be loaded" in r.stderr
    import onnx

    foreign = onnx.load(str(out.with_suffix(".onnx")))
    del foreign.metadata_props[:]  # an ONNX model from elsewhere
    onnx.save(foreign, str(tmp_path / "foreign.onnx"))
    with pytest.raises(ModelError, match=r"not written by bear_classifier\.training\.export"):
        Classifier.load(tmp_path / "foreign.onnx")


def test_a_book_style_export_gets_its_onnx_copy(tmp_path):
    """Chapter 2's learner (vision_learner, resnet18, Resize) exported elsewhere: the CLI writes its
    int8 ONNX copy, calibrated on its photos, which answers like learn.predict."""
    from fastai.vision.all import (
        CategoryBlock,
        DataBlock,
        ImageBlock,
        PILImage,
        RandomSplitter,
        Resize,
        get_image_files,
        load_learner,
        parent_label,
        resnet18,
        vision_learner,
    )

    data = link_classes(tmp_path / "data", "bears", {"black": "black", "grizzly": "grizzly"}, 6)
    block = DataBlock(
        blocks=(ImageBlock, CategoryBlock),
        get_items=get_image_files,
        get_y=parent_label,
        splitter=RandomSplitter(seed=42),
        item_tfms=Resize(96),
    )
    vision_learner(block.dataloaders(data, bs=4), resnet18, pretrained=False).export(tmp_path / "export.pkl")
    r = export_cli(tmp_path / "export.pkl", "--calibration", data)
    assert r.returncode == 0, r.stderr[-2000:]
    clf, learn = Classifier.load(tmp_path / "export.onnx"), load_learner(tmp_path / "export.pkl")
    assert not clf.notice and clf.transform.method == "crop" and clf.transform.size == 96
    assert clf.sure_threshold == DEFAULT_SURE_THRESHOLD  # trained elsewhere: the default
    import onnx

    assert [o.name for o in onnx.load(str(tmp_path / "export.onnx")).graph.output] == [LOGITS]  # no maps
    for p in sorted((published("bears-test") / "grizzly").iterdir())[:3]:
        got = clf.classify(p.read_bytes())
        assert got.ok and got.cam is None
        with learn.no_bar():
            expected = learn.predict(PILImage.create(p))[2]
        assert max(abs(got.probs[c] - float(expected[i])) for i, c in enumerate(learn.dls.vocab)) <= 0.02


def test_cli_writes_the_onnx_copy_for_an_export_made_elsewhere(tiny_export, tmp_path):
    out, _ = tiny_export
    export = tmp_path / "export.pkl"  # as if trained on Colab: no export.onnx beside it
    export.write_bytes(out.read_bytes())
    r = export_cli(export, "--calibration", out.parent / "data", out.parent / "neg")
    assert r.returncode == 0, r.stderr[-2000:]
    clf = Classifier.load(export.with_suffix(".onnx"))
    assert not clf.notice and clf.vocab == VOCAB


def test_cli_wants_training_photos_to_calibrate_on(tmp_path):
    (tmp_path / "export.pkl").write_bytes(b"not read: the photos are checked first")
    (tmp_path / "empty").mkdir()
    held_out = link_classes(tmp_path / "bears-test", "bears-test", {"black": "black"}, 1)
    for args, message in [
        ([], "no calibration photos in data/bears, data/notbears: pass --calibration"),
        (["--calibration", tmp_path / "empty"], "no calibration photos in"),
        (["--calibration", held_out], "is a held-out photo folder"),
    ]:
        r = export_cli(tmp_path / "export.pkl", *args, cwd=tmp_path, timeout=60)  # no data/ here
        assert r.returncode == 2 and r.stderr.strip() == r.stderr.strip().splitlines()[-1], r.stderr
        assert r.stderr.startswith("error: ") and message in r.stderr


def test_export_loads_in_a_fresh_process_without_this_package(tiny_export, tmp_path):
    out, _ = tiny_export
    code = (
        "import json, sys; from fastai.learner import load_learner;"
        f"learn = load_learner({str(out)!r}); print(json.dumps(list(learn.dls.vocab)));"
        "print('bear_classifier' in sys.modules)"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    vocab, imported = r.stdout.strip().splitlines()[-2:]
    assert json.loads(vocab) == VOCAB and imported == "False"


def test_resnet18_trains_exports_and_classifies_offline(tmp_path, no_network):
    """The second architecture end to end with random weights (its ImageNet weights need the internet)."""
    data = link_classes(tmp_path / "data", "bears", {"black": "black", "grizzly": "grizzly"}, 6)
    recipe = Recipe(arch="resnet18", pretrained=False, size=64, bs=4)
    train(data, tmp_path / "export.pkl", cache=tmp_path / "cache", recipe=recipe, verbose=False)
    clf = Classifier.load(tmp_path / "export.onnx")
    assert not clf.notice and clf.vocab == ["black", "grizzly"]
    assert clf.transform.mean == pytest.approx((0.485, 0.456, 0.406))  # timm's statistics for resnet18
    assert clf.sure_threshold == DEFAULT_SURE_THRESHOLD  # no negatives: no out-of-fold predictions
    pred = clf.classify(photos("grizzly", 1)[0])
    assert pred.label in clf.vocab and abs(sum(pred.probs.values()) - 1) < 1e-5
    assert np.asarray(pred.cam).shape == (2, 2)  # resnet18 through timm has maps too


def test_your_own_classes_get_their_own_wording(tmp_path):
    """A tiny model of two non-bear classes (notbears' dogs and cats), served by the app."""
    notbears = sorted(published("notbears").glob("*.jpg"))
    data = tmp_path / "pets"
    for kind in ("dog", "cat"):
        link_photos(data / kind, [p for p in notbears if p.name.startswith(f"{kind}_")][:6])
    neg = link_photos(tmp_path / "neg", [p for p in notbears if p.name.startswith("building_")][:6])
    _, facts = train(
        data, tmp_path / "export.pkl", neg, cache=tmp_path / "cache", recipe=Recipe(size=64, bs=4), verbose=False
    )
    app = BearApp.load(str(tmp_path / "export.onnx"))
    assert "Cat or dog?" in app.header.value and "Choose or take a photo of a cat or dog" in app.header.value
    assert "bear" not in app.header.value.lower()
    pred = app.classifier.decide({"cat": 0.01, "dog": 0.01, OTHER: 0.98})
    assert pred.text() == "This doesn't look like a cat or dog."
    # the probe's out-of-fold line, stored in export.pkl and in export.onnx's metadata
    stored = sure_threshold(load_learner_quietly(tmp_path / "export.pkl"))
    assert app.classifier.sure_threshold == stored == pytest.approx(facts["sure_threshold"], abs=1e-4)
    app.classifier.sure_threshold = 0.9
    pred = app.classifier.decide({"cat": 0.3, "dog": 0.5, OTHER: 0.2})
    assert pred.kind == NOT_SURE and pred.text() == "Probably a dog, but it could be a cat."


def test_training_cli_gives_one_line_errors(tmp_path):
    (tmp_path / "only").mkdir()
    (tmp_path / "only" / "a.jpg").write_bytes(b"x")
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "bear_classifier.training.train",
            "--data",
            str(tmp_path),
            "--out",
            str(tmp_path / "e.pkl"),
            "--cache",
            str(tmp_path / "c"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert r.returncode != 0 and r.stderr.strip().startswith("error: ") and "Traceback" not in r.stderr
