"""The app's widget logic, driven from Python as the browser would drive it."""

import numpy as np
import pytest

from bear_classifier.app.classifier import NOT_SURE, Classifier, Prediction, Transform
from bear_classifier.app.widgets import BearApp, answer_html, bars_html, heat_map
from bear_classifier.core import OTHER
from helpers import first_photo, jpeg_bytes, send_photo

pytestmark = pytest.mark.app


def upload(app: BearApp, data: bytes, name="photo.jpg", upload="u1", shown=True):
    """Send `data` through the app's picker exactly as picker.js does: begin, 64 KB chunks, end;
    `shown`: whether the page shows its own copy of the photo."""
    send_photo(app.picker, data, name, upload=upload, shown=shown)


def press(app: BearApp):
    """Classify pressed on the page, for the photo it has."""
    app.picker._on_msg(app.picker, {"type": "classify", "id": app.picker.upload}, [])


@pytest.fixture
def app(shipped_onnx):
    return BearApp(shipped_onnx)


def test_a_photo_is_answered_as_soon_as_it_arrives_in_the_seed_format(app):
    upload(app, first_photo("grizzly").read_bytes(), upload="g1")
    answer = app.picker.answer
    assert answer["id"] == "g1" and "Prediction: grizzly; Probability: 0." in answer["html"]
    assert answer["html"].count("bear-bar") == len(app.classifier.vocab) == 4  # three bears and "none of these"
    assert answer["preview"] is None  # the page shows its own copy: no image goes back
    assert np.asarray(answer["map"]["cells"]).shape == (7, 7)
    assert answer["map"]["region"] == [0.0625, 0.0625, 0.9375, 0.9375]  # what the shipped transform reads


def test_a_photo_the_page_cannot_show_gets_a_preview(app):
    upload(app, first_photo("teddy").read_bytes(), shown=False)  # HEIC in Chrome, say: sent as is
    assert "Prediction: teddy" in app.picker.answer["html"]
    assert app.picker.answer["preview"][:3] == b"\xff\xd8\xff" and app.picker.answer["map"] is not None


def test_classify_answers_the_photo_again(app):
    upload(app, first_photo("black").read_bytes(), upload="b1")
    first = app.picker.answer
    app.picker.answer = {}
    press(app)
    assert app.picker.answer == first


def test_bad_uploads_get_a_message_and_the_app_keeps_working(app):
    press(app)
    assert "Choose a photo first" in app.picker.answer["html"] and app.picker.answer["id"] == ""
    for i, bad in enumerate((b"", b"%PDF-1.4 not a picture", jpeg_bytes((300, 300))[:200])):
        upload(app, bad, "x.pdf", upload=f"bad{i}")
        answer = app.picker.answer
        assert answer["id"] == f"bad{i}" and "bear-message" in answer["html"] and "Traceback" not in answer["html"]
        assert "bear-bar" not in answer["html"] and answer["map"] is None and answer["preview"] is None
    upload(app, first_photo("teddy").read_bytes(), upload="t1")
    assert "Prediction: teddy" in app.picker.answer["html"]


def test_a_new_photo_drops_the_previous_answer(app):
    upload(app, first_photo("black").read_bytes())
    assert "Prediction: " in app.picker.answer["html"]
    app.picker._on_msg(app.picker, {"type": "begin", "id": "next", "name": "next.jpg", "size": 10}, [])
    assert app.picker.answer == {}


def test_a_press_while_a_photo_arrives_waits_for_it_and_never_asks_again(app, monkeypatch):
    upload(app, first_photo("grizzly").read_bytes(), upload="g1")
    data = first_photo("black").read_bytes()
    app.picker._on_msg(app.picker, {"type": "begin", "id": "b1", "name": "black.jpg", "size": len(data)}, [])
    app.picker._on_msg(app.picker, {"type": "chunk", "id": "b1"}, [memoryview(data[:1000])])
    real = app.classifier.classify
    monkeypatch.setattr(app.classifier, "classify", lambda data: pytest.fail("classified a partial photo"))
    press(app)
    app.picker._on_msg(app.picker, {"type": "classify", "id": "g1"}, [])  # pressed for the last photo
    assert app.picker.answer == {}  # no answer, no message: this photo's answer comes when it arrives
    monkeypatch.setattr(app.classifier, "classify", real)
    app.picker._on_msg(app.picker, {"type": "chunk", "id": "b1"}, [memoryview(data[1000:])])
    app.picker._on_msg(app.picker, {"type": "end", "id": "b1"}, [])
    assert app.picker.answer["id"] == "b1" and "Prediction: black" in app.picker.answer["html"]


def test_a_crashing_classifier_never_reaches_the_user(app, monkeypatch):
    monkeypatch.setattr(app.classifier, "classify", lambda data: 1 / 0)
    upload(app, jpeg_bytes())
    assert "something went wrong" in app.picker.answer["html"]
    assert app.classify() is None


def test_a_refused_upload_is_one_line_and_the_next_photo_works(app):
    app.picker._on_msg(app.picker, {"type": "begin", "id": "big", "name": "huge.jpg", "size": 60 * 2**20}, [])
    answer = app.picker.answer
    assert answer["id"] == "big" and "huge.jpg is too large (60 MB); the limit is 50 MB." in answer["html"]
    assert app.picker.photo is None and "\n" not in answer["html"]
    upload(app, first_photo("teddy").read_bytes(), "teddy.jpg", upload="t1")
    assert "Prediction: teddy" in app.picker.answer["html"]


def test_the_picker_sends_the_models_size():
    def app(size):
        return BearApp(Classifier(lambda x: (np.zeros((len(x), 2)), None), ["cat", "dog"], Transform(size=size)))

    assert app(224).picker.short_side == 352  # 11/8 of the shipped transform's first resize (256)
    assert app(160).picker.short_side == 253  # own classes: 11/8 of 184


def test_the_app_spans_a_phone_and_stays_readable_on_a_desktop(app):  # touch sizes: test_browser
    assert app.picker.layout.width == "100%" and app.widget.layout.max_width == "640px"
    assert app.picker in app.widget.children


def test_the_kinds_of_answer_are_worded_and_styled_apart():
    probs = {"black": 0.25, "grizzly": 0.7454, OTHER: 0.0036, "teddy": 0.001}
    words = "Probably a grizzly, but it could be a black bear."
    not_sure = answer_html(Prediction("grizzly", 0.7454, probs, words, NOT_SURE))
    assert f"class='bear-result bear-not-sure' data-kind='not sure' data-label='grizzly'>{words}<" in not_sure
    assert not_sure.count("bear-bar") == 4
    sure = answer_html(Prediction("black", 0.9987, probs, kind="sure"))
    assert (
        "class='bear-result bear-sure' data-kind='sure' data-label='black'>Prediction: black; Probability: 0.9987<"
        in sure
    )
    none = answer_html(Prediction(OTHER, 0.9, probs, "This doesn't look like a bear.", "none of these"))
    assert (
        "class='bear-result bear-none-of-these' data-kind='none of these' data-label='other'>This doesn&#x27;t" in none
    )
    assert answer_html(Prediction(message="The file is empty.")) == "<p class='bear-message'>The file is empty.</p>"


def test_the_map_goes_to_the_page_as_numbers_from_0_to_1():
    cam = [[-2.0, 0.0], [2.0, 6.0]]
    where = heat_map(Prediction("black", 0.9, cam=cam, region=(0.0625, 0.1, 0.9375, 0.9)))
    assert where == {"cells": [[0.0, 0.25], [0.5, 1.0]], "region": [0.0625, 0.1, 0.9375, 0.9]}
    assert heat_map(Prediction("black", 0.9, cam=[[1.0, 1.0]], region=(0, 0, 1, 1)))["cells"] == [[0.0, 0.0]]
    assert heat_map(Prediction(OTHER, 0.9, region=(0, 0, 1, 1))) is None  # "none of these": no map


def test_helpers():
    html = bars_html({"grizzly": 0.9, "other": 0.1})
    assert html.index("grizzly") < html.index("none of these") and "90.0%" in html
