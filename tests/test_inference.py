"""classify(): any bytes in, a Prediction out; EXIF-aware; matches learn.predict."""

import io
import subprocess
import sys
import time
import zipfile

import numpy as np
import pytest
from PIL import Image

from bear_classifier.app.classifier import Prediction
from bear_classifier.core import BadImage
from bear_classifier.images import big_decode, open_image
from helpers import ROOT, first_photo, jpeg_bytes, png_bytes
from helpers import encode as save

pytestmark = pytest.mark.app


def photo_with_orientation(orientation: int) -> tuple[bytes, Image.Image]:
    """A real photo stored rotated, with the EXIF tag that makes it upright."""
    upright = open_image(first_photo("grizzly"))
    stored = {3: upright.rotate(180), 6: upright.rotate(90, expand=True), 8: upright.rotate(-90, expand=True)}[
        orientation
    ]
    exif = Image.Exif()
    exif[0x0112] = orientation
    return save(stored, "JPEG", quality=92, exif=exif), upright


def bomb() -> bytes:
    return save(Image.new("1", (20000, 20000)), "PNG")


def animated_gif() -> bytes:
    frames = [Image.new("P", (64, 64), i) for i in (10, 200, 90)]
    return save(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)


def palette_transparent() -> bytes:
    im = Image.new("P", (64, 64), 3)
    return save(im, "PNG", transparency=3)


def heic() -> bytes:
    import pillow_heif

    buf = io.BytesIO()
    pillow_heif.from_pillow(Image.new("RGB", (96, 64), (120, 80, 40))).save(buf, format="HEIF", quality=80)
    return buf.getvalue()


def zip_bytes() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("bear.jpg", jpeg_bytes())
    return buf.getvalue()


GOOD = {
    "cmyk jpeg": lambda: save(Image.new("CMYK", (80, 60), (0, 60, 90, 10)), "JPEG"),
    "16-bit png": lambda: png_bytes("I;16", (80, 60), 50000),
    "palette with transparency": palette_transparent,
    "animated gif": animated_gif,
    "heic": heic,
    "webp": lambda: save(Image.new("RGB", (80, 60), "orange"), "WEBP"),
    "greyscale jpeg": lambda: save(Image.new("L", (80, 60), 90), "JPEG"),
    "wide panorama": lambda: save(Image.new("RGB", (8000, 300), "green"), "JPEG"),
    "progressive jpeg": lambda: jpeg_bytes((640, 480), progressive=True),
    "rgba png": lambda: png_bytes("RGBA", (80, 60), (10, 20, 30, 40)),
    "la png": lambda: png_bytes("LA", (80, 60), (100, 0)),
    "1-bit bmp": lambda: save(Image.new("1", (80, 60), 1), "BMP"),
    "tiff": lambda: save(Image.new("RGB", (80, 60), "blue"), "TIFF"),
    "1x1 png": lambda: png_bytes("RGB", (1, 1), (5, 5, 5)),
    "avif": lambda: save(Image.new("RGB", (80, 60), "red"), "AVIF"),
    "12 MP jpeg": lambda: jpeg_bytes((4000, 3000), quality=70),
}
BAD = {
    "0 bytes": lambda: b"",
    "truncated jpeg": lambda: jpeg_bytes((400, 300))[:300],
    "jpeg header only": lambda: b"\xff\xd8",
    "text": lambda: b"just some text, not a picture\n" * 10,
    "pdf": lambda: b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF",
    "svg": lambda: (
        b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>'
    ),
    "html": lambda: b"<!DOCTYPE html><html><body>Not found</body></html>",
    "zip": zip_bytes,
    "random bytes": lambda: bytes(range(256)) * 40,
    "20000x20000 bomb": bomb,
}


def test_corpus_is_large_enough():
    assert len(GOOD) + len(BAD) + 3 >= 25  # + the three EXIF orientations below


@pytest.mark.parametrize("name", sorted(GOOD))
def test_unusual_images_are_classified(shipped_onnx, name):
    pred = shipped_onnx.classify(GOOD[name]())
    assert isinstance(pred, Prediction)
    assert pred.ok, pred.message
    assert abs(sum(pred.probs.values()) - 1) < 1e-4
    assert pred.label in shipped_onnx.vocab  # a bear, or "none of these" for these plain pictures
    assert (
        pred.text().startswith("Prediction: ")
        or pred.text().startswith("Probably a")  # not sure
        or pred.text() == "This doesn't look like a grizzly, black or teddy bear."
    )


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_inputs_get_a_one_line_message(shipped_onnx, name):
    pred = shipped_onnx.classify(BAD[name]())
    assert not pred.ok and pred.probs == {}
    assert pred.message and "\n" not in pred.message and "Traceback" not in pred.message
    assert pred.text() == pred.message


def test_bomb_message_names_the_limit():
    with pytest.raises(BadImage, match="too large"):
        open_image(bomb())


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_exif_rotated_photo_is_read_upright(shipped_onnx, orientation):
    data, upright = photo_with_orientation(orientation)
    opened = open_image(data)
    assert opened.size == upright.size
    pixel_diff = np.abs(np.asarray(opened, dtype=float) - np.asarray(upright, dtype=float)).mean()
    assert pixel_diff < 6  # JPEG re-encoding noise only; a wrong orientation gives ~50
    a, b = shipped_onnx.classify(data), shipped_onnx.classify(save(upright, "JPEG", quality=92))
    assert a.label == b.label == "grizzly"
    assert abs(a.probability - b.probability) < 0.05


def test_big_jpeg_is_decoded_at_reduced_scale():
    im = open_image(jpeg_bytes((4000, 3000)), min_side=256, shrink=False)
    assert im.size == (500, 375)  # libjpeg's 1/8 scale: both sides still >= 256
    assert open_image(jpeg_bytes((2000, 1500)), min_side=256, shrink=False).size == (2000, 1500)  # under 4 MP: exact
    assert min(open_image(jpeg_bytes((4000, 3000)), min_side=256).size) == 256


def test_the_app_decodes_at_most_25_megapixels_but_a_big_jpeg_photo_passes(shipped_onnx):
    """The app's decoding memory stays bounded: over 25 MP only a JPEG passes, decoded at reduced scale."""
    png = save(Image.new("L", (6000, 5000)), "PNG")
    with pytest.raises(BadImage, match=r"too large \(6000x5000 pixels\); the limit is 25 megapixels"):
        open_image(png, capped=True)
    assert "too large" in shipped_onnx.classify(png).message
    assert open_image(png).size == (6000, 5000)  # training and downloads: the header's 100 MP only
    assert shipped_onnx.classify(jpeg_bytes((6000, 5000))).ok


def test_big_decodes_in_the_app_wait_for_each_other_across_processes(tmp_path):
    """A kernel's big decode waits while another process (another kernel) holds the lock."""
    (tmp_path / "big.png").write_bytes(save(Image.new("RGB", (3000, 2000)), "PNG"))
    code = (
        "import time; from bear_classifier.images import big_decode, open_image;"
        f"open_image({str(tmp_path / 'big.png')!r}, capped=True); print(time.time())"
    )
    with big_decode():
        decoder = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, text=True)
        time.sleep(3)
        released = time.time()
    out, _ = decoder.communicate(timeout=60)
    assert decoder.returncode == 0 and float(out) > released
