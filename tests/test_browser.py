"""The app in a real browser (Debian's chromium via Playwright), served by `voila bears.ipynb`
and, as on Binder, by `jupyter server` at /voila/render/bears.ipynb."""

import re
from urllib.parse import urlparse

import numpy as np
import pillow_heif
import pytest
from PIL import Image

from harness.browser import ANSWER, CHOOSE, PHONE, NetworkLog, choose_file, classify_file, open_app, serve
from helpers import ARTIFACTS, first_photo, shared


def big_jpeg(path):
    """A >15 MB JPEG: a real grizzly photo at 5200x3900 with sensor-like noise."""
    im = Image.open(first_photo("grizzly")).convert("RGB").resize((5200, 3900), Image.BICUBIC)
    a = np.asarray(im).astype(np.int16) + np.random.default_rng(0).integers(-24, 25, (3900, 5200, 3))
    Image.fromarray(np.clip(a, 0, 255).astype(np.uint8)).save(path, "JPEG", quality=97)
    assert path.stat().st_size > 15 * 2**20
    return path


@pytest.mark.parametrize("kind", ["voila", "jupyter"])
def test_app_in_the_browser(kind, chromium, tmp_path):
    shared("bears-test")
    ARTIFACTS.mkdir(exist_ok=True)
    not_image = tmp_path / "notes.txt"
    not_image.write_text("this is not a photo")
    big = big_jpeg(tmp_path / "big.jpg")
    with serve(kind, ARTIFACTS / f"{kind}-server.log") as server:
        url = server.url
        context = chromium.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        network = NetworkLog(context, page)
        open_app(page, url)
        assert "Traceback" not in page.content()
        for cls in ("grizzly", "black", "teddy"):
            answer = classify_file(page, first_photo(cls))
            assert answer.startswith(f"Prediction: {cls}; Probability: "), answer
        assert page.locator("img").count() >= 1  # the uploaded photo is shown
        answer = classify_file(page, not_image)
        assert "not an image" in answer and "Traceback" not in page.content()
        answer = classify_file(page, big)
        assert answer.startswith("Prediction: grizzly"), answer
        page.screenshot(path=str(ARTIFACTS / f"{kind}-desktop.png"), full_page=True)
        assert network.summary(urlparse(server.base).netloc)["other_hosts"] == []  # no request left the app's host
        context.close()

        phone = chromium.new_page(**PHONE)
        open_app(phone, url)
        chooser = choose_file(phone, first_photo("black"))  # the picker a phone shows: images, camera included
        assert chooser.element.get_attribute("accept") == "image/*" and not chooser.is_multiple()
        assert phone.locator("input[type=file][capture=environment][accept='image/*']").count() == 1  # Take photo
        answer = classify_file(phone, first_photo("teddy"))
        assert answer.startswith("Prediction: teddy"), answer
        assert phone.evaluate("document.documentElement.scrollWidth") <= 360
        for name in ("Classify", CHOOSE, "Take photo"):
            box = phone.get_by_role("button", name=name).bounding_box()
            assert box["height"] >= 44 and box["x"] >= 0 and box["x"] + box["width"] <= 360
        phone.screenshot(path=str(ARTIFACTS / f"{kind}-phone.png"), full_page=True)
        phone.close()


def phone_photos(folder):
    """Files a phone visitor may pick, made from real photos in a temporary folder (never kept)."""
    landscape = Image.open(first_photo("grizzly")).convert("RGB").resize((2400, 1600), Image.BICUBIC)
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways, as a phone held upright writes it: "rotate 90 degrees clockwise to show"
    landscape.transpose(Image.Transpose.ROTATE_90).save(folder / "rotated.jpg", "JPEG", quality=90, exif=exif)
    rgba = np.asarray(Image.open(first_photo("black")).convert("RGBA").resize((1400, 1050))).copy()
    rgba[: rgba.shape[0] // 3, :, 3] = 0
    Image.fromarray(rgba).save(folder / "transparent.png")
    pillow_heif.from_pillow(Image.open(first_photo("teddy")).convert("RGB")).save(folder / "teddy.heic")
    (folder / "notes.txt").write_text("this is not a photo")
    (folder / "empty.jpg").write_bytes(b"")
    with open(folder / "huge.jpg", "wb") as f:  # over the 50 MB cap (sparse: no disk used)
        f.truncate(51 * 2**20)
    return folder


def sent_kb(page, name: str) -> int:
    """The KB the picker says it sent for `name`."""
    status = page.locator(".bear-picker-status", has_text=f"Sent {name}")
    status.wait_for(timeout=30_000)
    return int(re.search(r"\((\d+) KB\)", status.inner_text()).group(1))


def test_the_picker_on_a_phone(chromium, tmp_path):
    """Through the file chooser, as a person does: what the browser shrinks, what it sends as is, and
    what the kernel refuses; Classify before a photo has arrived; two photos in a row."""
    shared("bears-test")
    files = phone_photos(tmp_path)
    ARTIFACTS.mkdir(exist_ok=True)
    with serve("voila", ARTIFACTS / "picker-server.log") as server:
        context = chromium.new_context(**PHONE)
        page = context.new_page()
        network = NetworkLog(context, page)
        open_app(page, server.url)
        page.get_by_role("button", name="Classify").click()
        assert page.locator(ANSWER).first.inner_text() == "Choose a photo first."

        assert classify_file(page, files / "rotated.jpg").startswith("Prediction: grizzly")
        assert sent_kb(page, "rotated.jpg") < 300 < (files / "rotated.jpg").stat().st_size / 1024  # shrunk
        size = page.locator(".widget-image").evaluate("img => [img.naturalWidth, img.naturalHeight]")
        assert size[0] > size[1], f"the photo arrived sideways: {size}"  # upright, as it was taken

        assert classify_file(page, files / "transparent.png").startswith("Prediction: black")
        assert classify_file(page, files / "teddy.heic").startswith("Prediction: teddy")  # Chrome can't: sent as is
        assert sent_kb(page, "teddy.heic") == -(-(files / "teddy.heic").stat().st_size // 1024)
        assert "not an image" in classify_file(page, files / "notes.txt")
        assert classify_file(page, files / "empty.jpg") == "The file is empty."

        choose_file(page, files / "huge.jpg")
        refused = page.locator(".bear-message", has_text="huge.jpg is too large (51 MB); the limit is 50 MB.")
        refused.wait_for(timeout=30_000)
        assert "\n" not in refused.inner_text()

        choose_file(page, first_photo("grizzly"))  # two photos in a row: the second one counts
        assert classify_file(page, first_photo("teddy")).startswith("Prediction: teddy")

        assert classify_file(page, first_photo("grizzly")).startswith("Prediction: grizzly")
        cdp = context.new_cdp_session(page)  # a slow upload, to press Classify while the photo is on its way
        cdp.send(
            "Network.emulateNetworkConditions",
            {"offline": False, "latency": 100, "downloadThroughput": 200_000, "uploadThroughput": 40_000},
        )
        choose_file(page, files / "teddy.heic")
        page.locator(".bear-picker-status", has_text="Sending teddy.heic:").wait_for(timeout=30_000)
        page.get_by_role("button", name="Classify").click()  # queued behind the photo's last chunks
        answer = page.locator(ANSWER).first
        answer.wait_for(timeout=60_000)  # the answer is the photo's once it has fully arrived: never the last one's
        assert answer.inner_text().startswith("Prediction: teddy"), answer.inner_text()
        assert "Traceback" not in page.content()
        assert network.summary(urlparse(server.base).netloc)["other_hosts"] == []
        page.screenshot(path=str(ARTIFACTS / "picker-phone.png"), full_page=True)
        context.close()
