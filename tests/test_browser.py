"""The app in a real browser (Debian's chromium via Playwright), on both routes: served by
`voila bears.ipynb` and, as on Binder, by `jupyter server` at /voila/render/bears.ipynb."""

import io

import numpy as np
import pillow_heif
import pytest
from PIL import Image

from bear_classifier.app.classifier import Transform
from harness.browser import ANSWER, CHOOSE, CLASSIFY, WHERE, Visit
from harness.servers import ROUTES, serve
from helpers import ARTIFACTS, first_photo, published

SENT_SIDE = 352  # the short side the picker sends for the shipped model (picker.sent_side)


def big_jpeg(path):
    """A >15 MB JPEG: a real grizzly photo at 5200x3900 with sensor-like noise."""
    im = Image.open(first_photo("grizzly")).convert("RGB").resize((5200, 3900), Image.BICUBIC)
    a = np.asarray(im).astype(np.int16) + np.random.default_rng(0).integers(-24, 25, (3900, 5200, 3))
    Image.fromarray(np.clip(a, 0, 255).astype(np.uint8)).save(path, "JPEG", quality=97)
    assert path.stat().st_size > 15 * 2**20
    return path


@pytest.fixture(scope="module", params=ROUTES)
def served(request):
    """The app served on each route in turn, for the tests of this module that share it."""
    published("bears-test")
    ARTIFACTS.mkdir(exist_ok=True)
    with serve(request.param, ARTIFACTS / f"{request.param}-server.log") as server:
        yield server


async def phone(chromium, server) -> Visit:
    return await (await Visit.start(chromium, phone=True)).open(server.url)


async def test_app_in_the_browser(served, chromium, tmp_path):
    not_image = tmp_path / "notes.txt"
    not_image.write_text("this is not a photo")
    big = big_jpeg(tmp_path / "big.jpg")
    desktop = await Visit.start(chromium)
    page = desktop.page
    await desktop.open(served.url)
    assert "Traceback" not in await page.content()
    for cls in ("grizzly", "black", "teddy"):
        answer = await desktop.classify(first_photo(cls))
        assert answer.text.startswith(f"Prediction: {cls}; Probability: ") and answer.kind == "sure", answer
    assert await page.locator(".bear-photo img").is_visible()  # the uploaded photo is shown
    answer = await desktop.classify(not_image)
    assert "not an image" in answer.text and not answer.ok and "Traceback" not in await page.content()
    answer = await desktop.classify(big)
    assert answer.text.startswith("Prediction: grizzly"), answer
    await page.screenshot(path=str(ARTIFACTS / f"{served.route}-desktop.png"), full_page=True)
    assert desktop.network.summary(served.url)["other_hosts"] == []  # no request left the app's host
    await desktop.close()

    visit = await phone(chromium, served)
    page = visit.page
    chooser = await visit.choose(first_photo("black"))  # the picker a phone shows: images, camera included
    assert await chooser.element.get_attribute("accept") == "image/*" and not chooser.is_multiple()
    assert await page.locator("input[type=file][capture=environment][accept='image/*']").count() == 1
    answer = await visit.classify(first_photo("teddy"))
    assert answer.text.startswith("Prediction: teddy"), answer
    assert await page.evaluate("document.documentElement.scrollWidth") <= 360
    for name in (CLASSIFY, CHOOSE, "Take photo", WHERE):
        box = await page.get_by_role("button", name=name).bounding_box()
        assert box["height"] >= 44 and box["x"] >= 0 and box["x"] + box["width"] <= 360
    await page.screenshot(path=str(ARTIFACTS / f"{served.route}-phone.png"), full_page=True)
    await visit.close()


async def test_a_photo_is_answered_without_pressing_anything(served, chromium):
    """One tap: the photo is sent at the model's size, answered as soon as it has arrived, with one
    status line; the page shows the phone's own copy, so no image comes back."""
    photo = first_photo("grizzly")
    visit = await phone(chromium, served)
    await visit.record_answers()
    answer = await visit.classify(photo)  # choose, then read its answer: nothing pressed
    assert answer.text.startswith("Prediction: grizzly; Probability: "), answer
    sent = b"".join(visit.network.ws_buffers(sent=True, since=visit.chosen_at))
    with Image.open(io.BytesIO(sent)) as im:  # what the kernel got: an upright JPEG at the model's size
        assert im.format == "JPEG" and min(im.size) == SENT_SIDE and len(sent) <= 80 * 1024
        assert im.width < im.height  # portrait, as the photo is
    assert visit.network.ws_buffers(sent=False, since=visit.chosen_at) == []  # no image back
    assert await visit.sent(photo.name) == -(-len(sent) // 1024)
    status = await visit.page.locator(".bear-picker-status").inner_text()
    assert status == f"Sent {photo.name} ({-(-len(sent) // 1024)} KB)."  # the one status line
    shown = await visit.photo_and_map()
    assert shown["natural"] == list(Image.open(photo).size)  # the phone's own copy
    assert await visit.answers_seen() == [[visit.photo_id, answer.text]]
    assert "Press Classify" not in await visit.page.content()
    await visit.close()


async def test_classify_pressed_at_once_answers_that_photo_once(served, chromium):
    """As people do: Classify pressed right after choosing a photo (the first while the phone prepares
    it, the second while it is sent, on a slow upload): one answer each, for that photo."""
    visit = await phone(chromium, served)
    page = visit.page
    await visit.record_answers()
    await visit.network.cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 100, "downloadThroughput": 200_000, "uploadThroughput": 40_000},
    )
    await visit.choose(first_photo("grizzly"))
    await visit.press_classify()
    first = await visit.answer()
    assert first.text.startswith("Prediction: grizzly"), first
    grizzly = visit.photo_id

    await visit.choose(first_photo("teddy"))
    assert await page.locator(ANSWER).count() == 0  # the last photo's answer went at once
    await page.locator(".bear-picker-status", has_text=f"Sending {first_photo('teddy').name}").wait_for()
    await visit.press_classify()
    second = await visit.answer()
    assert second.text.startswith("Prediction: teddy"), second
    await page.wait_for_timeout(1000)  # anything late would show by now
    assert await visit.answers_seen() == [[grizzly, first.text], [visit.photo_id, second.text]]
    assert await page.locator(ANSWER).count() == 1
    await visit.press_classify()  # once the photo is there, Classify answers it again, as in the book
    assert (await visit.answer()).text == second.text
    await visit.close()


async def map_over_photo(visit: Visit):
    """The map, once shown, lies over the region of the photo the model read, and the photo keeps its aspect."""
    shown = await visit.photo_and_map()
    photo, where, (w, h) = shown["photo"], shown["map"], shown["natural"]
    assert photo["width"] / photo["height"] == pytest.approx(w / h, rel=0.01)
    left, top, right, bottom = Transform().region(w, h)
    assert where["x"] == pytest.approx(photo["x"] + photo["width"] * left / w, abs=1)
    assert where["y"] == pytest.approx(photo["y"] + photo["height"] * top / h, abs=1)
    assert where["width"] == pytest.approx(photo["width"] * (right - left) / w, abs=1)
    assert where["height"] == pytest.approx(photo["height"] * (bottom - top) / h, abs=1)


async def test_where_did_it_look(served, chromium, tmp_path):
    """Behind a toggle, off by default: the map of the answer's class over the photo, cells not square
    on a 4:3 photo; none for "none of these"."""
    landscape = tmp_path / "landscape.jpg"
    Image.open(first_photo("black")).convert("RGB").resize((1600, 1200)).save(landscape, quality=90)
    visit = await phone(chromium, served)
    toggle = visit.page.get_by_role("button", name=WHERE)
    assert not await toggle.is_visible()  # no answer, no map
    assert (await visit.classify(landscape)).text.startswith("Prediction: black")
    assert (await visit.photo_and_map())["map"] is None  # off by default
    box = await toggle.bounding_box()
    assert box["height"] >= 44 and box["x"] >= 0 and box["x"] + box["width"] <= 360
    await visit.toggle_map()
    assert await toggle.get_attribute("aria-pressed") == "true"
    await map_over_photo(visit)
    await visit.page.screenshot(path=str(ARTIFACTS / f"{served.route}-map.png"))
    await visit.toggle_map()
    assert (await visit.photo_and_map())["map"] is None
    await visit.toggle_map()
    assert (await visit.classify(first_photo("grizzly"))).ok  # on stays on for the next photo
    await map_over_photo(visit)
    nothing = sorted(published("notbears-test").glob("*.jp*g"))[0]
    assert (await visit.classify(nothing)).kind == "none of these"
    assert not await toggle.is_visible() and (await visit.photo_and_map())["map"] is None
    await visit.close()


async def test_a_heic_photo_gets_its_answer_and_map(served, chromium, tmp_path):
    """Chrome cannot decode HEIC: the original bytes go up, the kernel decodes them and sends a preview
    back, and the map lies over that."""
    heic = tmp_path / "teddy.heic"
    pillow_heif.from_pillow(Image.open(first_photo("teddy")).convert("RGB")).save(heic)
    visit = await phone(chromium, served)
    answer = await visit.classify(heic)
    assert answer.text.startswith("Prediction: teddy"), answer
    assert b"".join(visit.network.ws_buffers(sent=True, since=visit.chosen_at)) == heic.read_bytes()
    assert visit.network.ws_buffers(sent=False, since=visit.chosen_at) != []  # the preview
    assert max((await visit.photo_and_map())["natural"]) == 480
    await visit.toggle_map()
    await map_over_photo(visit)
    await visit.close()


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


async def test_the_picker_on_a_phone(chromium, tmp_path):
    """Through the file chooser, as a person does: what the browser shrinks, what it sends as is, and
    what the kernel refuses; Classify before any photo; two photos in a row."""
    published("bears-test")
    files = phone_photos(tmp_path)
    ARTIFACTS.mkdir(exist_ok=True)
    with serve("voila", ARTIFACTS / "picker-server.log") as server:
        visit = await phone(chromium, server)
        page = visit.page
        await visit.press_classify()
        assert await page.locator(ANSWER).first.inner_text() == "Choose a photo first."

        assert (await visit.classify(files / "rotated.jpg")).text.startswith("Prediction: grizzly")
        sent = b"".join(visit.network.ws_buffers(sent=True, since=visit.chosen_at))
        assert Image.open(io.BytesIO(sent)).size == (528, SENT_SIDE)  # upright, as it was taken, and shrunk
        assert await visit.sent("rotated.jpg") == -(-len(sent) // 1024)
        assert (await visit.photo_and_map())["natural"] == [2400, 1600]  # the phone's copy, upright

        assert (await visit.classify(files / "transparent.png")).text.startswith("Prediction: black")
        assert (await visit.classify(files / "teddy.heic")).text.startswith("Prediction: teddy")  # sent as is
        assert await visit.sent("teddy.heic") == -(-(files / "teddy.heic").stat().st_size // 1024)
        assert "not an image" in (await visit.classify(files / "notes.txt")).text
        assert (await visit.classify(files / "empty.jpg")).text == "The file is empty."

        refused = await visit.classify(files / "huge.jpg")
        assert refused.text == "huge.jpg is too large (51 MB); the limit is 50 MB." and not refused.ok

        await visit.choose(first_photo("grizzly"))  # two photos in a row: the second one counts
        assert (await visit.classify(first_photo("teddy"))).text.startswith("Prediction: teddy")
        assert await page.locator(ANSWER).count() == 1
        assert "Traceback" not in await page.content()
        assert visit.network.summary(server.url)["other_hosts"] == []
        await page.screenshot(path=str(ARTIFACTS / "picker-phone.png"), full_page=True)

        # a photo the browser cannot read (gone from the phone's storage, say): one line, no silent page
        await page.evaluate("() => { Blob.prototype.arrayBuffer = () => Promise.reject(new Error('gone')); }")
        await visit.choose(first_photo("black"))
        await page.locator(".bear-picker-status", has_text="could not be read; please choose it again.").wait_for()
        await visit.close()
