"""Open any image a user may hand us and turn it into an upright RGB picture.

One place for the rules shared by the training cache, the downloader and the app:
EXIF orientation, every Pillow mode to RGB (transparency on white), reduced-scale
decoding of big JPEGs, and refusal of decompression bombs with a clear message.
"""

from __future__ import annotations

import fcntl
import io
import tempfile
import warnings
from contextlib import contextmanager, nullcontext
from pathlib import Path

import pillow_heif
from PIL import Image, ImageOps, UnidentifiedImageError

from .core import BadImage, one_line

pillow_heif.register_heif_opener()  # HEIC/HEIF from iPhones and macOS Safari (Pillow reads AVIF itself)

IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff", ".heic", ".heif", ".avif"}
MAX_PIXELS = 100_000_000  # 100 MP in the file's header: larger than any phone photo, far below a bomb.
# What the app decodes (`capped`): at most 25 MP, one such big decode at a time across its server's
# kernels; a PNG with alpha takes about 20 bytes a pixel at its peak (500 MB here), which the app's
# memory room keeps free for one decode (app/room.py DECODE_MEMORY). Bigger JPEGs decode at reduced scale.
MAX_DECODED_PIXELS = 25_000_000
DECODE_LOCK = Path(tempfile.gettempdir()) / "bear_classifier-decode.lock"
DRAFT_PIXELS = 4_000_000  # JPEGs above this decode at reduced scale; smaller ones exactly.
MAX_UPLOAD_BYTES = 50 * 2**20  # an upload's cap: far above any phone photo (HEIC 2-5 MB, JPEG 3-12 MB)
Image.MAX_IMAGE_PIXELS = MAX_PIXELS


def open_image(
    source: bytes | str | Path, min_side: int | None = None, shrink: bool = True, capped: bool = False
) -> Image.Image:
    """Decode `source` (bytes or a path) to an upright RGB image.

    With `min_side`, JPEGs over 4 MP are decoded at reduced scale (both sides stay >= min_side)
    and, if `shrink`, the result is resized so that its shorter side is `min_side`
    (smaller images are left as they are). `capped`, as the app decodes uploads: at most
    MAX_DECODED_PIXELS, and a decode over DRAFT_PIXELS waits for any other (big_decode). Raises
    BadImage with a one-line message.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        if not data:
            raise BadImage("The file is empty.")
        fp = io.BytesIO(data)
    else:
        fp = Path(source)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(fp)
            w, h = im.size
            if w * h > MAX_PIXELS:
                raise BadImage(
                    f"The picture is too large ({w}x{h} pixels); the limit is {MAX_PIXELS // 1_000_000} megapixels."
                )
            if w < 1 or h < 1:
                raise BadImage("The picture has no pixels.")
            if min_side and im.format == "JPEG" and w * h > DRAFT_PIXELS:
                # libjpeg decodes at 1/2, 1/4 or 1/8 scale, keeping both sides >= min_side.
                im.draft("RGB", (min_side, min_side))
            pixels = im.width * im.height
            if capped and pixels > MAX_DECODED_PIXELS:
                raise BadImage(
                    f"The picture is too large ({w}x{h} pixels); the limit is "
                    f"{MAX_DECODED_PIXELS // 1_000_000} megapixels ({MAX_PIXELS // 1_000_000} for a JPEG photo)."
                )
            with big_decode() if capped and pixels > DRAFT_PIXELS else nullcontext():
                im.seek(0)  # first frame of an animation
                im.load()
                im = ImageOps.exif_transpose(im)
                im = to_rgb(im)
    except BadImage:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise BadImage(f"The picture is too large; the limit is {MAX_PIXELS // 1_000_000} megapixels.") from None
    except UnidentifiedImageError:
        raise BadImage("This file is not an image we can read (try a JPEG, PNG, WebP or HEIC photo).") from None
    except (OSError, SyntaxError, ValueError, EOFError) as e:
        raise BadImage(f"The image could not be decoded; it may be damaged or incomplete ({one_line(e)}).") from None
    if min_side and shrink and min(im.size) > min_side:
        scale = min_side / min(im.size)
        im = im.resize((max(1, round(im.width * scale)), max(1, round(im.height * scale))), Image.BILINEAR)
    return im


@contextmanager
def big_decode():
    """Hold the machine's big-decode lock (a file lock, so kernels in other processes wait too)."""
    with open(DECODE_LOCK, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def check_upload_size(size: int, name: str = "The file"):
    """Raise BadImage (one line naming the file) when an upload of `size` bytes is over the cap."""
    if size > MAX_UPLOAD_BYTES:
        raise BadImage(f"{name} is too large ({size / 2**20:.0f} MB); the limit is {MAX_UPLOAD_BYTES // 2**20} MB.")


def to_rgb(im: Image.Image) -> Image.Image:
    """Convert any Pillow mode to RGB; transparent parts become white."""
    if im.mode == "RGB":
        return im
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16/32-bit greyscale: scale to 8 bits using the actual range of the data.
        lo, hi = im.getextrema()
        scale = 255 / max(hi - lo, 1)
        im = im.point(lambda v: (v - lo) * scale).convert("L")
    if im.mode == "P" and "transparency" in im.info:
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "LA", "PA", "La", "RGBa"):
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return im.convert("RGB")
