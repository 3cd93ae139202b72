"""The three kinds of answer, their words, and the map with the region of the photo it covers,
with a stand-in model (no ONNX file): what the app shows is decided here."""

import numpy as np
import pytest

from bear_classifier.app.classifier import (
    NONE_OF_THESE,
    NOT_SURE,
    SURE,
    Classifier,
    Prediction,
    Transform,
    top_two,
)
from bear_classifier.app.wording import not_sure, one
from bear_classifier.core import OTHER
from helpers import jpeg_bytes

pytestmark = pytest.mark.app

BEARS = ["black", "grizzly", OTHER, "teddy"]


def bears(sure=0.9) -> Classifier:
    return Classifier(lambda x: (np.zeros((len(x), 4)), None), BEARS, other_threshold=0.8, sure_threshold=sure)


def test_an_answer_clearly_ahead_is_sure_and_keeps_the_seeds_line():
    pred = bears().decide({"black": 0.95, "grizzly": 0.03, OTHER: 0.01, "teddy": 0.01})
    assert (pred.kind, pred.label) == (SURE, "black")
    assert pred.text() == "Prediction: black; Probability: 0.9500"


def test_an_answer_not_clearly_ahead_is_not_sure_and_names_the_next_class():
    pred = bears().decide({"black": 0.25, "grizzly": 0.7454, OTHER: 0.0036, "teddy": 0.001})
    assert (pred.kind, pred.label, pred.probability) == (NOT_SURE, "grizzly", 0.7454)
    assert pred.ok and pred.text() == "Probably a grizzly, but it could be a black bear."


def test_not_sure_compares_the_top_two_classes_only():
    # "other" below its threshold does not count: 0.45 against 0.04 is clearly ahead, 0.3 against 0.25 is not
    assert bears().decide({"black": 0.45, "grizzly": 0.04, OTHER: 0.5, "teddy": 0.01}).kind == SURE
    assert bears().decide({"black": 0.3, "grizzly": 0.25, OTHER: 0.4, "teddy": 0.05}).kind == NOT_SURE
    assert top_two({"a": 0.25, "b": 0.75, "c": 0.0}, ["a", "b", "c"]) == ("b", "a", 0.75)
    assert top_two({"a": 0.3, OTHER: 0.7}, ["a"]) == ("a", None, 1.0)  # one class: always sure


def test_none_of_these_is_decided_first():
    pred = bears().decide({"black": 0.05, "grizzly": 0.05, OTHER: 0.85, "teddy": 0.05})
    assert (pred.kind, pred.label) == (NONE_OF_THESE, OTHER)
    assert pred.text() == "This doesn't look like a grizzly, black or teddy bear."


def test_the_line_is_the_classifiers():
    probs = {"black": 0.8, "grizzly": 0.2, OTHER: 0.0, "teddy": 0.0}  # a share of 0.8
    assert bears(0.75).decide(probs).kind == SURE and bears(0.85).decide(probs).kind == NOT_SURE


def test_own_classes_are_worded_from_their_names():
    assert not_sure("cat", "dog", ["cat", "dog"]) == "Probably a cat, but it could be a dog."
    assert not_sure("owl", "emu", ["owl", "emu", "cat"]) == "Probably an owl, but it could be an emu."
    assert [one(c, ["grizzly", "black", "teddy"]) for c in ("grizzly", "black", "teddy")] == [
        "a grizzly",
        "a black bear",
        "a teddy bear",
    ]
    clf = Classifier(lambda x: (np.zeros((len(x), 3)), None), ["cat", "dog", OTHER], sure_threshold=0.9)
    assert clf.decide({"cat": 0.3, "dog": 0.5, OTHER: 0.2}).text() == "Probably a dog, but it could be a cat."


def test_the_region_is_what_the_transform_reads():
    squish = Transform(size=224, val_xtra=0.14)  # squish to 256, read the central 224
    assert squish.region(400, 300) == (25.0, 18.75, 375.0, 281.25)  # 1/16 off each side: cells 50 x 37.5 px
    crop = Transform(size=96, val_xtra=0.0, method="crop")
    assert crop.region(400, 300) == (50, 0, 350, 300) and crop.region(300, 401) == (0, 50, 300, 350)


def maps_forward(peak=(1, 5)):
    """A stand-in model: grizzly far ahead, and maps of 7 x 7 cells whose highest cell is `peak` in
    the grizzly's map (row, column) and the opposite corner in the others'."""

    def forward(x):
        cams = np.zeros((len(x), 4, 7, 7), dtype=np.float32)
        cams[:, :, 6, 0] = 5.0
        cams[:, 1] = 0.0
        cams[:, 1][:, peak[0], peak[1]] = 9.0
        return np.array([[0.0, 9.0, -5.0, 0.0]] * len(x), dtype=np.float32), cams

    return forward


def test_the_map_of_the_named_class_covers_the_region_read():
    clf = Classifier(maps_forward(), BEARS, other_threshold=0.8, sure_threshold=0.9)
    pred = clf.classify(jpeg_bytes((400, 300)))
    assert (pred.kind, pred.label) == (SURE, "grizzly")
    assert np.asarray(pred.cam).shape == (7, 7) and pred.cam[1][5] == 9.0 and pred.cam[6][0] == 0.0
    assert pred.region == (0.0625, 0.0625, 0.9375, 0.9375)
    x, y = pred.peak()  # the centre of cell (1, 5): 5.5 and 1.5 sevenths of the region read
    assert x == pytest.approx(0.0625 + 5.5 / 7 * 0.875) and y == pytest.approx(0.0625 + 1.5 / 7 * 0.875)


def test_a_not_sure_answer_has_its_top_classs_map_and_none_of_these_has_none():
    clf = Classifier(maps_forward(), BEARS, other_threshold=0.8, sure_threshold=0.99999)
    pred = clf.classify(jpeg_bytes())
    assert pred.kind == NOT_SURE and pred.cam[1][5] == 9.0
    clf.other_threshold = 0.0  # every picture is "none of these"
    pred = clf.classify(jpeg_bytes())
    assert pred.kind == NONE_OF_THESE and pred.cam is None and pred.peak() is None


def test_a_model_without_maps_still_answers():
    pred = bears().classify(jpeg_bytes())
    assert pred.ok and pred.kind in (SURE, NOT_SURE) and pred.cam is None and pred.peak() is None


def test_a_failure_has_no_kind():
    pred = bears().classify(b"not a picture")
    assert not pred.ok and pred.kind == "" and pred.text() == pred.message and pred.cam is None
    assert Prediction(message="x").text() == "x"
