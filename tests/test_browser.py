"""The app in a real browser (Debian's chromium via Playwright), on both routes: served by
`voila bears.ipynb` and, as on Binder, by `jupyter server` at /voila/render/bears.ipynb."""

import re

import numpy as np
import pillow_heif
import pytest
from PIL import Image

from harness.browser import ANSWER, CHOOSE, Visit
from harness.servers import ROUTES, serve
from helpers import ARTIFACTS, first_photo, published


def big_jpeg(path):
    """A >15 MB JPEG: a real grizzly photo at 5200x3900 with sensor-like noise."""
    im = Image.open(first_photo("grizzly")).convert("RGB").resize((5200, 3900), Image.BICUBIC)
    a = np.asarray(im).astype(np.int16) + np.random.default_rng(0).integers(-24, 25, (3900, 5200, 3))
    Image.fromarray(np.clip(a, 0, 255).astype(np.uint8)).save(path, "JPEG", quality=97)
    assert path.stat().st_size > 15 * 2**20
    return path


@pytest.mark.parametrize("route", ROUTES)
async def test_app_in_the_browser(route, chromium, tmp_path):
    published("bears-test")
    ARTIFACTS.mkdir(exist_ok=True)
    not_image = tmp_path / "notes.txt"
    not_image.write_text("this is not a photo")
    big = big_jpeg(tmp_path / "big.jpg")
    with serve(route, ARTIFACTS / f"{route}-server.log") as server:
        desktop = await Visit.start(chromium)
        page = desktop.page
        await desktop.open(server.url)
        assert "Traceback" not in await page.content()
        for cls in ("grizzly", "black", "teddy"):
            answer = await desktop.classify(first_photo(cls))
            assert answer.text.startswith(f"Prediction: {cls}; Probability: "), answer
        assert await page.locator("img").count() >= 1  # the uploaded photo is shown
        answer = await desktop.classify(not_image)
        assert "not an image" in answer.text and "Traceback" not in await page.content()
        answer = await desktop.classify(big)
        assert answer.text.startswith("Prediction: grizzly"), answer
        await page.screenshot(path=str(ARTIFACTS / f"{route}-desktop.png"), full_page=True)
        assert desktop.network.summary(server.url)["other_hosts"] == []  # no request left the app's host
        await desktop.close()

        phone = await Visit.start(chromium, phone=True)
        page = phone.page
        await phone.open(server.url)
        chooser = await phone.choose(first_photo("black"))  # the picker a phone shows: images, camera included
        assert await chooser.element.get_attribute("accept") == "image/*" and not chooser.is_multiple()
        assert await page.locator("input[type=file][capture=environment][accept='image/*']").count() == 1
        answer = await phone.classify(first_photo("teddy"))
        assert answer.text.startswith("Prediction: teddy"), answer
        assert await page.evaluate("document.documentElement.scrollWidth") <= 360
        for name in ("Classify", CHOOSE, "Take photo"):
            box = await page.get_by_role("button", name=name).bounding_box()
            assert box["height"] >= 44 and box["x"] >= 0 and box["x"] + box["width"] <= 360
        await page.screenshot(path=str(ARTIFACTS / f"{route}-phone.png"), full_page=True)
        await phone.close()


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


async def sent_kb(page, name: str) -> int:
    """The KB the picker says it sent for `name`."""
    status = page.locator(".bear-picker-status", has_text=f"Sent {name}")
    await status.wait_for(timeout=30_000)
    return int(re.search(r"\((\d+) KB\)", await status.inner_text()).group(1))


async def test_the_picker_on_a_phone(chromium, tmp_path):
    """Through the file chooser, as a person does: what the browser shrinks, what it sends as is, and
    what the kernel refuses; Classify before a photo has arrived; two photos in a row."""
    published("bears-test")
    files = phone_photos(tmp_path)
    ARTIFACTS.mkdir(exist_ok=True)
    with serve("voila", ARTIFACTS / "picker-server.log") as server:
        phone = await Visit.start(chromium, phone=True)
        page = phone.page
        await phone.open(server.url)
        await page.get_by_role("button", name="Classify").click()
        assert await page.locator(ANSWER).first.inner_text() == "Choose a photo first."

        assert (await phone.classify(files / "rotated.jpg")).text.startswith("Prediction: grizzly")
        assert await sent_kb(page, "rotated.jpg") < 300 < (files / "rotated.jpg").stat().st_size / 1024  # shrunk
        size = await page.locator(".widget-image").evaluate("img => [img.naturalWidth, img.naturalHeight]")
        assert size[0] > size[1], f"the photo arrived sideways: {size}"  # upright, as it was taken

        assert (await phone.classify(files / "transparent.png")).text.startswith("Prediction: black")
        assert (await phone.classify(files / "teddy.heic")).text.startswith("Prediction: teddy")  # sent as is
        assert await sent_kb(page, "teddy.heic") == -(-(files / "teddy.heic").stat().st_size // 1024)
        assert "not an image" in (await phone.classify(files / "notes.txt")).text
        assert (await phone.classify(files / "empty.jpg")).text == "The file is empty."

        await phone.choose(files / "huge.jpg")
        refused = page.locator(".bear-message", has_text="huge.jpg is too large (51 MB); the limit is 50 MB.")
        await refused.wait_for(timeout=30_000)
        assert "\n" not in await refused.inner_text()

        await phone.choose(first_photo("grizzly"))  # two photos in a row: the second one counts
        assert (await phone.classify(first_photo("teddy"))).text.startswith("Prediction: teddy")

        assert (await phone.classify(first_photo("grizzly"))).text.startswith("Prediction: grizzly")
        # a slow upload, to press Classify while the photo is on its way
        await phone.network.cdp.send(
            "Network.emulateNetworkConditions",
            {"offline": False, "latency": 100, "downloadThroughput": 200_000, "uploadThroughput": 40_000},
        )
        await phone.choose(files / "teddy.heic")
        await page.locator(".bear-picker-status", has_text="Sending teddy.heic:").wait_for(timeout=30_000)
        await page.get_by_role("button", name="Classify").click()  # queued behind the photo's last chunks
        answer = await phone.answer(60)  # the answer is the photo's once it has fully arrived: never the last one's
        assert answer.startswith("Prediction: teddy"), answer
        assert "Traceback" not in await page.content()
        assert phone.network.summary(server.url)["other_hosts"] == []
        await page.screenshot(path=str(ARTIFACTS / "picker-phone.png"), full_page=True)
        await phone.close()
