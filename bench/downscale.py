"""Same answers from the photo the phone sends: every photo of bears-test and notbears-test is
shrunk by the picker's own code (picker.js `shrink`, run in chromium: decode, EXIF upright,
white under transparency, short side 640 px, JPEG quality 0.9) and classified by the shipped
model, next to the original file as the server classifies it today.

    python -m bench.downscale                        # the picker's settings; prints JSON
    python -m bench.downscale --side 768 --quality 0.85   # try others

Photos the browser does not shrink (it cannot decode them, or they are already small) are sent
as they are, so their answer is the original's by construction; they are counted apart.
"""

import argparse
import base64
import json
import sys

from bear_classifier.app.classifier import Classifier
from bear_classifier.app.images import IMAGE_EXTS
from bear_classifier.app.picker import HERE, PhotoPicker
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--side", type=int, default=PhotoPicker.short_side.default_value)
    parser.add_argument("--quality", type=float, default=PhotoPicker.quality.default_value)
    args = parser.parse_args()
    photos = sorted(
        p
        for folder in ("bears-test", "notbears-test")
        for p in (SHARED / folder).rglob("*")
        if p.suffix.lower() in IMAGE_EXTS
    )
    if not photos:
        sys.exit(f"error: no photos in {SHARED}/bears-test or notbears-test (set BEAR_DATA)")
    clf = Classifier.load("export.pkl")
    js = PICKER_JS.read_text()
    differ, shrunk, as_is, max_dp, sent = [], 0, 0, 0.0, []
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
            full, phone = clf.classify(data), clf.classify(small)
            dp = max(abs(full.probs[c] - phone.probs.get(c, 0.0)) for c in full.probs) if full.probs else 0.0
            max_dp = max(max_dp, dp)
            if full.label != phone.label or dp > TOLERANCE:
                differ.append(
                    {
                        "photo": str(photo.relative_to(SHARED)),
                        "full": full.label,
                        "shrunk": phone.label,
                        "max_abs_dp": round(dp, 4),
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
                "max_abs_dp": round(max_dp, 4),
                "tolerance": TOLERANCE,
                "differ": differ,
                "shrunk_kb_max": round(max(sent, default=0) / 1024, 1),
                "shrunk_kb_median": round(sorted(sent)[len(sent) // 2] / 1024, 1) if sent else None,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
