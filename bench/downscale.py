"""The photo the phone sends answers as the full photo does: every photo of bears-test and
notbears-test is shrunk by the picker's own code (picker.js `shrink`, run in chromium: decode,
EXIF upright, white under transparency, short side and JPEG quality as the picker sets them for the
shipped model) and classified by the model, next to the original file: the labels that change (0
wanted), the kinds of answer that change (sure, not sure, none of these), and how far the
probabilities move. The baseline, in the same run: the same photo re-encoded at its full size (JPEG,
quality 95, no shrinking), which moves the model's probabilities as far as any lossy copy of the
photo may. Photos the browser does not shrink (it cannot decode them, or they are already small)
are sent as they are, so their answer is the original's; they are counted apart."""

import io
from pathlib import Path

from bear_classifier.app.classifier import Classifier
from bear_classifier.app.picker import PhotoPicker, sent_side
from bear_classifier.images import IMAGE_EXTS, open_image
from bench.runner import ROOT, Result, Target, chromium, main, photos, spread, training_set

TOLERANCE = 0.02  # a probability move worth listing
TARGETS = [Target("label_changes", 0), Target("shrunk_kb_max", 80)]


def arguments(parser):
    parser.add_argument(
        "--side", type=int, help="short side in px (default: what the picker sends for the shipped model)"
    )
    parser.add_argument("--quality", type=float, default=PhotoPicker.quality.default_value)
    parser.add_argument("--models", default="int8,float32", help="int8 (export.onnx), float32 (its copy), or both")


def reencoded(data: bytes) -> bytes:
    """The photo upright at its full size, re-encoded as JPEG at quality 95: the baseline of any lossy copy."""
    buf = io.BytesIO()
    open_image(data).save(buf, "JPEG", quality=95)
    return buf.getvalue()


def distance(a, b) -> float:
    """The largest difference of any class probability between two answers."""
    return max(abs(a.probs[c] - b.probs.get(c, 0.0)) for c in a.probs) if a.probs else 0.0


def compare(clf: Classifier, sent: dict[Path, bytes | None]) -> dict:
    """The model's answers to the full photos, to what the picker sends, and to the re-encoded baseline."""
    differ, moves, baseline, kinds, baseline_labels = [], [], [], 0, 0
    for photo, small in sent.items():
        if small is None:
            continue
        data = photo.read_bytes()
        full, phone, copy = clf.classify(data), clf.classify(small), clf.classify(reencoded(data))
        moves.append(distance(full, phone))
        baseline.append(distance(full, copy))
        kinds += full.kind != phone.kind
        baseline_labels += full.label != copy.label
        if full.label != phone.label or full.kind != phone.kind or moves[-1] > TOLERANCE:
            differ.append(
                {
                    "photo": f"{photo.parent.parent.name}/{photo.parent.name}/{photo.name}",
                    "full": f"{full.label} ({full.kind})",
                    "shrunk": f"{phone.label} ({phone.kind})",
                    "label_changed": full.label != phone.label,
                    "max_abs_dp": round(moves[-1], 4),
                    "reencoded_max_abs_dp": round(baseline[-1], 4),
                }
            )
    return {
        "label_changes": sum(d["label_changed"] for d in differ),
        "reencoded_label_changes": baseline_labels,
        "kind_changes": kinds,
        "max_abs_dp": round(max(moves, default=0.0), 4),
        "reencoded_max_abs_dp": round(max(baseline, default=0.0), 4),
        "p95_abs_dp": (spread(moves, 4) or {"p95": 0.0})["p95"],
        "reencoded_p95_abs_dp": (spread(baseline, 4) or {"p95": 0.0})["p95"],
        "over_tolerance": sum(d > TOLERANCE for d in moves),
        "reencoded_over_tolerance": sum(d > TOLERANCE for d in baseline),
        "tolerance": TOLERANCE,
        "differ": differ,
    }


async def run(args):
    from bear_classifier.training.export import model_copy
    from harness.browser import launch, picker_shrink

    chromium()
    folders = [photos("bears-test"), photos("notbears-test")]
    paths = sorted(p for folder in folders for p in folder.rglob("*") if p.suffix.lower() in IMAGE_EXTS)
    args.side = args.side or sent_side(Classifier.load(ROOT / "export.onnx").transform.resize_to)
    async with launch() as browser:
        sent = await picker_shrink(browser, paths, args.side, args.quality)
    sizes = sorted(len(b) for b in sent.values() if b is not None)
    common = {
        "short_side": args.side,
        "quality": args.quality,
        "photos": len(paths),
        "shrunk": len(sizes),
        "sent_as_is": len(paths) - len(sizes),
        "shrunk_kb_max": round(sizes[-1] / 1024, 1) if sizes else None,
        "shrunk_kb_median": round(sizes[len(sizes) // 2] / 1024, 1) if sizes else None,
    }
    if "float32" in args.models:
        training_set()
    copies = {name: model_copy(name, ROOT / "export.pkl") for name in args.models.split(",")}
    return [Result(common | compare(clf, sent), TARGETS, name) for name, clf in copies.items()]


if __name__ == "__main__":
    main()
