"""The app in a real browser (Debian's chromium via Playwright), served by `voila bears.ipynb`
and, as on Binder, by `jupyter server` at /voila/render/bears.ipynb."""
import numpy as np
import pytest
from PIL import Image

from harness.browser import choose_file, classify_file, open_app, serve
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
        page = chromium.new_page(viewport={"width": 1280, "height": 900})
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
        page.close()

        phone = chromium.new_page(viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True,
                                  device_scale_factor=2)
        open_app(phone, url)
        chooser = choose_file(phone, first_photo("black"))  # the picker a phone shows: images, camera included
        assert chooser.element.get_attribute("accept") == "image/*" and not chooser.is_multiple()
        answer = classify_file(phone, first_photo("teddy"))
        assert answer.startswith("Prediction: teddy"), answer
        assert phone.evaluate("document.documentElement.scrollWidth") <= 360
        for name in ("Classify",):
            box = phone.get_by_role("button", name=name).bounding_box()
            assert box["height"] >= 44 and box["x"] >= 0 and box["x"] + box["width"] <= 360
        upload_box = phone.locator(".widget-upload").bounding_box()
        assert upload_box["height"] >= 44 and upload_box["x"] + upload_box["width"] <= 360
        phone.screenshot(path=str(ARTIFACTS / f"{kind}-phone.png"), full_page=True)
        phone.close()
