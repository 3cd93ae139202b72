"""The photo picker's kernel side: an upload arrives in chunks, and nothing the browser says is trusted."""

import pytest

from bear_classifier.app.picker import PhotoPicker
from bear_classifier.images import MAX_UPLOAD_BYTES
from helpers import jpeg_bytes, send_photo

pytestmark = pytest.mark.app


@pytest.fixture
def picker(monkeypatch):
    p = PhotoPicker()
    p.sent = []
    monkeypatch.setattr(p, "send", lambda content, buffers=None: p.sent.append(content))
    return p


def begin(picker, size, upload="u1", name="photo.jpg"):
    picker._on_msg(picker, {"type": "begin", "id": upload, "name": name, "size": size}, [])


def chunk(picker, data, upload="u1"):
    picker._on_msg(picker, {"type": "chunk", "id": upload}, [memoryview(data)])


def test_a_photo_arrives_in_chunks_with_progress(picker):
    data = jpeg_bytes((900, 700)) * 3
    send_photo(picker, data, "bear.jpg", chunk=10_000)
    assert picker.state == "received" and picker.photo == ("bear.jpg", data) and picker.name == "bear.jpg"
    received = [m["received"] for m in picker.sent if m["type"] == "ack"]
    assert received == sorted(received) and received[-1] == len(data) and len(received) > 1


def test_the_cap_holds_whatever_the_browser_announces(picker):
    begin(picker, MAX_UPLOAD_BYTES + 1, name="huge.mov")
    assert picker.state == "refused" and picker.photo is None
    assert picker.message == "huge.mov is too large (50 MB); the limit is 50 MB."
    begin(picker, 10, upload="u2")
    chunk(picker, b"x" * 11, upload="u2")  # more than announced
    assert picker.state == "refused" and "larger than announced" in picker.message
    for bad in (None, "a lot", -1):
        begin(picker, bad, upload="u3")
        assert picker.state == "refused" and "could not be read" in picker.message


def test_an_incomplete_upload_is_never_a_photo(picker):
    begin(picker, 100)
    chunk(picker, b"x" * 50)
    assert picker.state == "receiving" and picker.photo is None
    picker._on_msg(picker, {"type": "end", "id": "u1"}, [])
    assert picker.state == "refused" and picker.photo is None and "did not fully arrive" in picker.message


def test_a_new_photo_abandons_the_one_in_flight(picker):
    begin(picker, 100, upload="old")
    chunk(picker, b"o" * 50, upload="old")
    data = jpeg_bytes()
    begin(picker, len(data), upload="new", name="new.jpg")
    chunk(picker, b"o" * 50, upload="old")  # still on the wire when the new photo was chosen
    chunk(picker, data, upload="new")
    picker._on_msg(picker, {"type": "end", "id": "old"}, [])
    picker._on_msg(picker, {"type": "end", "id": "new"}, [])
    assert picker.state == "received" and picker.photo == ("new.jpg", data)


def test_an_empty_file_arrives_and_the_app_says_so_on_classify(picker):
    send_photo(picker, b"", "empty.jpg")
    assert picker.state == "received" and picker.photo == ("empty.jpg", b"")


def test_a_new_upload_says_whether_the_page_shows_it_and_drops_the_answer(picker):
    picker.answer = {"id": "old", "html": "<p>an answer</p>"}
    picker._on_msg(picker, {"type": "begin", "id": "heic", "name": "a.heic", "size": 10, "shown": False}, [])
    assert picker.upload == "heic" and not picker.shown and picker.answer == {}
    begin(picker, 10, upload="jpg")
    assert picker.upload == "jpg" and not picker.shown  # anything but true is false
    picker._on_msg(picker, {"type": "begin", "id": "png", "name": "b.png", "size": 10, "shown": True}, [])
    assert picker.shown


def test_classify_reaches_the_app_only_for_the_kernels_last_upload(picker):
    pressed = []
    picker.on_classify(lambda: pressed.append(picker.upload))
    picker._on_msg(picker, {"type": "classify", "id": ""}, [])  # nothing chosen yet: the app says so
    send_photo(picker, jpeg_bytes(), upload="u1")
    picker._on_msg(picker, {"type": "classify", "id": "u1"}, [])
    picker._on_msg(picker, {"type": "classify", "id": "u0"}, [])  # a photo the page has since replaced
    assert pressed == ["", "u1"]


def test_nothing_more_arrives_once_a_photo_has(picker):
    data = jpeg_bytes()
    send_photo(picker, data, upload="u1")
    chunk(picker, b"late")
    picker._on_msg(picker, {"type": "end", "id": "u1"}, [])
    assert picker.state == "received" and picker.photo == ("photo.jpg", data)
