"""Same answers from the photo the phone sends: every photo of bears-test and notbears-test is
shrunk by the picker's own code (picker.js `shrink`, run in chromium: decode, EXIF upright,
white under transparency, short side 640 px, JPEG quality 0.9) and classified by the shipped
model, next to the original file as the server classifies it today.

    python -m bench.downscale                        # the picker's settings; prints JSON
    python -m bench.downscale --side 768 --quality 0.85   # try others
    python -m bench.downscale --float32              # the float32 copy of the model instead of export.onnx

The floor, in the same run: the same photo re-encoded at its full size (JPEG, quality 95, no
shrinking), which moves the model's probabilities as far as any lossy copy of the photo may.

Photos the browser does not shrink (it cannot decode them, or they are already small) are sent
as they are, so their answer is the original's by construction; they are counted apart.
"""

import argparse
import base64
import io
import json
import sys
from pathlib import Path

from bear_classifier.app.classifier import Classifier
from bear_classifier.app.picker import HERE, PhotoPicker
from bear_classifier.images import IMAGE_EXTS, open_image
from harness.browser import browser
from harness.hosts import SHARED

ORIGIN = "http://picker.invalid"  # served by the page's route handler below; nothing leaves the machine
TOLERANCE = 0.02
PICKER_JS = HERE / "picker.js"


def shrink_in_browser(page, data: bytes, name: str, side: int, quality: float) -> bytes | None:
    """picker.js's shrink() on `data`, in the page: the bytes the picker would send, or None (the original)."""
    out = page.evaluate(
        """async ([b64, name, side, quality]) => {
             const { shrink } = await import('/picker.js');
             const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
             const blob = await shrink(new File([bytes], name), side, quality);
             if (!blob) return null;
             const buf = new Uint8Array(await blob.arrayBuffer());
             let s = '';
             for (let i = 0; i < buf.length; i += 0x8000) s += String.fromCharCode(...buf.subarray(i, i + 0x8000));
             return btoa(s);
           }""",
        [base64.b64encode(data).decode(), name, side, quality],
    )
    return base64.b64decode(out) if out is not None else None


def reencoded(data: bytes) -> bytes:
    """The photo upright at its full size, re-encoded as JPEG at quality 95: the floor of any lossy copy."""
    buf = io.BytesIO()
    open_image(data).save(buf, "JPEG", quality=95)
    return buf.getvalue()


def distance(a, b) -> float:
    """The largest difference of any class probability between two answers."""
    return max(abs(a.probs[c] - b.probs.get(c, 0.0)) for c in a.probs) if a.probs else 0.0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--side", type=int, default=PhotoPicker.short_side.default_value)
    parser.add_argument("--quality", type=float, default=PhotoPicker.quality.default_value)
    parser.add_argument("--float32", action="store_true", help="score with the float32 copy of export.pkl")
    args = parser.parse_args()
    photos = sorted(
        p
        for folder in ("bears-test", "notbears-test")
        for p in (SHARED / folder).rglob("*")
        if p.suffix.lower() in IMAGE_EXTS
    )
    if not photos:
        sys.exit(f"error: no photos in {SHARED}/bears-test or notbears-test (set BEAR_DATA)")
    if args.float32:
        from bear_classifier.training.export import float32_copy

        clf = float32_copy(Path("export.pkl"))
    else:
        clf = Classifier.load("export.onnx")
    js = PICKER_JS.read_text()
    differ, shrunk, as_is, max_dp, floor, sent = [], 0, 0, 0.0, [], []
    with browser() as chromium:
        page = chromium.new_page()
        page.route(
            f"{ORIGIN}/**",
            lambda route: route.fulfill(
                body=js if route.request.url.endswith("/picker.js") else "<!doctype html><title>picker</title>",
                content_type="text/javascript" if route.request.url.endswith(".js") else "text/html",
            ),
        )
        page.goto(f"{ORIGIN}/")
        for photo in photos:
            data = photo.read_bytes()
            small = shrink_in_browser(page, data, photo.name, args.side, args.quality)
            if small is None:
                as_is += 1
                continue
            shrunk += 1
            sent.append(len(small))
            full, phone, copy = clf.classify(data), clf.classify(small), clf.classify(reencoded(data))
            dp, floor_dp = distance(full, phone), distance(full, copy)
            max_dp = max(max_dp, dp)
            floor.append(floor_dp)
            if full.label != phone.label or dp > TOLERANCE:
                differ.append(
                    {
                        "photo": str(photo.relative_to(SHARED)),
                        "full": full.label,
                        "shrunk": phone.label,
                        "max_abs_dp": round(dp, 4),
                        "floor_abs_dp": round(floor_dp, 4),
                    }
                )
    print(
        json.dumps(
            {
                "short_side": args.side,
                "quality": args.quality,
                "photos": len(photos),
                "shrunk": shrunk,
                "sent_as_is": as_is,
                "label_changes": sum(d["full"] != d["shrunk"] for d in differ),
                "model": "float32 copy" if args.float32 else "export.onnx",
                "max_abs_dp": round(max_dp, 4),
                "tolerance": TOLERANCE,
                "floor_max_abs_dp": round(max(floor, default=0.0), 4),
                "floor_over_tolerance": sum(d > TOLERANCE for d in floor),
                "differ": differ,
                "shrunk_kb_max": round(max(sent, default=0) / 1024, 1),
                "shrunk_kb_median": round(sorted(sent)[len(sent) // 2] / 1024, 1) if sent else None,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
