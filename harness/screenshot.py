"""The README's picture: the real app on a 360 px phone (device scale 2) answering one photo of
bears-test, with where the model looked shown, served by `voila bears.ipynb`, saved as a small
palette PNG.

    python -m harness.screenshot [docs/app-on-a-phone.png]     # make screenshot
"""

from __future__ import annotations

import asyncio
import io
import sys
from pathlib import Path

from PIL import Image

from harness.browser import Visit, available, launch
from harness.photos import photo_folder
from harness.servers import ROOT, serve

OUT = ROOT / "docs" / "app-on-a-phone.png"
CLASS = "grizzly"  # the photo shown: the first landscape one of this class in bears-test (the answer fits the screen)
MAX_BYTES = 200_000


def landscape_photo(folder: Path) -> Path:
    for photo in sorted((folder / CLASS).glob("*.jpg")):
        with Image.open(photo) as im:
            if im.width >= 1.3 * im.height:
                return photo
    raise FileNotFoundError(f"no landscape photo in {folder / CLASS}")


async def shoot(photo: Path) -> bytes:
    """A PNG of one phone screen of the app, once it has answered `photo` and shows where it looked."""
    async with launch() as browser:
        with serve("voila") as server:
            visit = await (await Visit.start(browser, phone=True)).open(server.url)
            answer = await visit.classify(photo)
            if not answer.text.startswith(f"Prediction: {CLASS}"):
                raise RuntimeError(f"the app did not answer {photo.name} as {CLASS}: {answer.text}")
            await visit.toggle_map()
            await visit.page.evaluate("document.activeElement && document.activeElement.blur()")
            png = await visit.page.screenshot()  # the phone's screen: 720 x 1480 pixels
            await visit.close()
    return png


def small_png(png: bytes, colours: int = 64) -> bytes:
    """`png` with at most `colours` colours: a screen of flat colours and one photo."""
    im = Image.open(io.BytesIO(png)).convert("RGB").quantize(colours)
    buf = io.BytesIO()
    im.save(buf, "PNG", optimize=True)
    return buf.getvalue()


def main():
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else OUT
    folder = photo_folder("bears-test")
    if folder is None or not available():
        sys.exit("error: the screenshot needs the photos of bears-test (make data) and chromium")
    png = small_png(asyncio.run(shoot(landscape_photo(folder))))
    if len(png) > MAX_BYTES:
        sys.exit(f"error: the screenshot is {len(png) // 1000} KB, over {MAX_BYTES // 1000} KB")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(png)
    print(f"{out} ({len(png) // 1000} KB)")


if __name__ == "__main__":
    main()
