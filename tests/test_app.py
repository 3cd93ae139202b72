"""The app's widget logic, driven from Python as the browser would drive it."""

import pytest

from bear_classifier.app.widgets import BearApp, bars_html
from helpers import first_photo, jpeg_bytes, send_photo

pytestmark = pytest.mark.app


def upload(app: BearApp, data: bytes, name="photo.jpg", mime=None):
    """Send `data` through the app's picker exactly as picker.js does: begin, 64 KB chunks, end."""
    send_photo(app.picker, data, name)


@pytest.fixture
def app(shipped_onnx):
    return BearApp(shipped_onnx)


def test_classifies_a_real_upload_in_the_seed_format(app):
    upload(app, first_photo("grizzly").read_bytes())
    app.button.click()
    assert "Prediction: grizzly; Probability: 0." in app.answer.value
    assert app.image.value[:3] == b"\xff\xd8\xff" and app.image.layout.display == ""
    assert app.bars.value.count("bear-bar") == len(app.classifier.vocab) == 4  # three bears and "none of these"
    assert not app.button.disabled and app.button.description == "Classify"


def test_bad_uploads_get_a_message_and_the_app_keeps_working(app):
    app.button.click()
    assert "Choose a photo first" in app.answer.value
    for bad in (b"", b"%PDF-1.4 not a picture", jpeg_bytes((300, 300))[:200]):
        upload(app, bad, "x.pdf", "application/pdf")
        app.button.click()
        assert "bear-message" in app.answer.value and "Traceback" not in app.answer.value
        assert app.bars.value == "" and app.image.layout.display == "none"
    upload(app, first_photo("teddy").read_bytes())
    app.button.click()
    assert "Prediction: teddy" in app.answer.value


def test_a_new_upload_replaces_the_previous_answer_with_a_receipt(app):
    upload(app, first_photo("black").read_bytes())
    app.button.click()
    assert "Prediction: " in app.answer.value
    upload(app, jpeg_bytes(), name="next.jpg")
    assert "bear-ready" in app.answer.value and "Received next.jpg" in app.answer.value
    assert "Prediction" not in app.answer.value and app.bars.value == "" and app.image.layout.display == "none"


def test_a_crashing_classifier_never_reaches_the_user(app, monkeypatch):
    monkeypatch.setattr(app.classifier, "classify", lambda data: 1 / 0)
    upload(app, jpeg_bytes())
    assert app.classify() is None
    assert "something went wrong" in app.answer.value


def test_classify_never_runs_on_a_photo_still_arriving(app, monkeypatch):
    upload(app, first_photo("grizzly").read_bytes())
    data = first_photo("black").read_bytes()
    app.picker._on_msg(app.picker, {"type": "begin", "id": "next", "name": "black.jpg", "size": len(data)}, [])
    app.picker._on_msg(app.picker, {"type": "chunk", "id": "next"}, [memoryview(data[:1000])])
    monkeypatch.setattr(app.classifier, "classify", lambda data: pytest.fail("classified a partial photo"))
    assert app.classify() is None
    assert "black.jpg is still arriving" in app.answer.value and "bear-message" in app.answer.value


def test_a_refused_upload_is_one_line_and_the_next_photo_works(app):
    app.picker._on_msg(app.picker, {"type": "begin", "id": "big", "name": "huge.jpg", "size": 60 * 2**20}, [])
    assert "huge.jpg is too large (60 MB); the limit is 50 MB." in app.answer.value
    assert app.picker.photo is None and "\n" not in app.answer.value
    upload(app, first_photo("teddy").read_bytes(), "teddy.jpg")
    assert "Received teddy.jpg" in app.answer.value
    app.button.click()
    assert "Prediction: teddy" in app.answer.value


def test_controls_are_thumb_sized(app):
    assert app.button.layout.height == "48px" and app.picker.layout.width == "100%"
    assert app.widget.layout.max_width == "640px" and app.picker in app.widget.children


def test_helpers():
    html = bars_html({"grizzly": 0.9, "other": 0.1})
    assert html.index("grizzly") < html.index("none of these") and "90.0%" in html
