"""The app's classifier: its int8 `export.onnx` and the float32 copy (made here from `export.pkl`),
in one run: file size, session memory and a fresh process's peak RSS; forward passes of both,
interleaved; `classify` on a 12 MP JPEG against the book's `learn.predict(PILImage.create(bytes))`
on a resnet18 learner as chapter 2 ships it, and against two baselines measured in the same run:
a bare process with numpy, Pillow and ONNX Runtime imported, and decoding at 1/8 scale + one
forward pass (the least any single-photo path can do). The cost of the maps (issue 23): forward
passes of the same int8 model before it had them (bench.runner.BEFORE), interleaved with the rest.
"""

import io
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

from bear_classifier.app.classifier import Classifier
from bench.runner import BEFORE, ROOT, Result, Target, main, photos, timings, training_set
from harness.servers import code_at

TARGETS = {
    "int8": [
        Target("onnx_mb", 4),
        Target("process_peak_over_bare_process_mb", 46),  # was <= 95 MB over a 49 MB bare process
        Target("forward_over_float32", 0.6),
        Target("classify_12mp.p50_ms", 35),
        Target("classify_12mp_over_decode_plus_forward", 1.3),
        Target("speedup_over_the_book_12mp", 5, at_least=True),
    ],
    "float32": [],
}

# A fresh process as the app's kernel starts: import, load the classifier (`kind` "classifier"),
# or the widgets that hold it ("widgets"), classify one photo. onnxruntime is imported first so
# that the session's own memory shows apart.
PROCESS = """
import json, re, sys, time
def mb(key):
    return int(re.search(key + r":\\s+(\\d+)", open("/proc/self/status").read()).group(1)) / 1024
t0 = time.perf_counter()
import onnxruntime
if {kind!r} == "widgets":
    from bear_classifier.app.widgets import BearApp
    load = lambda path: BearApp.load(path).classifier
else:
    from bear_classifier.app.classifier import Classifier
    load = Classifier.load
t1, before = time.perf_counter(), mb("VmRSS")
clf = load({model!r}.removesuffix(".pkl") + ".onnx")
t2, loaded = time.perf_counter(), mb("VmRSS")
pred = clf.classify(open({photo!r}, "rb").read())
t3 = time.perf_counter()
print(json.dumps({{"import_s": round(t1 - t0, 2), "load_s": round(t2 - t1, 2),
                   "first_12mp_classify_s": round(t3 - t2, 3), "session_mb": round(loaded - before, 1),
                   "peak_rss_mb": round(mb("VmHWM"), 1), "answer": pred.label,
                   "heavy_modules_imported": [m for m in ("torch", "fastai", "timm", "onnx") if m in sys.modules]}}))
"""
BARE_PROCESS = """
import re, numpy, PIL.Image, onnxruntime
print(int(re.search(r"VmHWM:\\s+(\\d+)", open("/proc/self/status").read()).group(1)) / 1024)
"""


def photo(source: Path, size, fmt="JPEG") -> bytes:
    """A real bear photo scaled to `size`, encoded as `fmt`."""
    buf = io.BytesIO()
    Image.open(source).convert("RGB").resize(size).save(buf, fmt, quality=90)
    return buf.getvalue()


def fresh_process(kind: str, model: Path, photo_path: Path) -> dict:
    """What a new process that imports the app (`kind`), loads `model` and classifies one photo costs."""
    code = PROCESS.format(kind=kind, model=str(model), photo=str(photo_path))
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return json.loads(out.splitlines()[-1])


def book_learner(tmp: Path):
    """Chapter 2's learner: DataBlock + vision_learner(resnet18), exported and loaded back
    (random weights: no download; the speed is the same)."""
    from fastai.vision.all import (
        CategoryBlock,
        DataBlock,
        ImageBlock,
        RandomResizedCrop,
        RandomSplitter,
        aug_transforms,
        get_image_files,
        parent_label,
        resnet18,
        vision_learner,
    )

    from bear_classifier.training.adapters import load_learner_quietly

    for cls in ("grizzly", "black", "teddy"):
        (tmp / cls).mkdir()
        for i in range(4):
            Image.new("RGB", (320, 240), (60 * i, 40, 90)).save(tmp / cls / f"{i}.jpg")
    bears = DataBlock(
        blocks=(ImageBlock, CategoryBlock),
        get_items=get_image_files,
        splitter=RandomSplitter(valid_pct=0.2, seed=42),
        get_y=parent_label,
        item_tfms=RandomResizedCrop(224, min_scale=0.5),
        batch_tfms=aug_transforms(),
    )
    learn = vision_learner(bears.dataloaders(tmp, bs=4), resnet18, pretrained=False)
    learn.export(tmp / "book.pkl")
    return load_learner_quietly(tmp / "book.pkl")


def decode_at_one_eighth(data: bytes):
    im = Image.open(io.BytesIO(data))
    im.draft("RGB", (im.width // 8, im.height // 8))
    im.load()
    return im


def copies(tmp: Path) -> dict[str, Path]:
    """The shipped export.pkl (its int8 export.onnx beside it) and its float32 copy, made here."""
    from bear_classifier.training.adapters import load_learner_quietly
    from bear_classifier.training.export import write_onnx

    model = ROOT / "export.pkl"
    (tmp / "float32").mkdir()
    float32 = tmp / "float32" / model.name  # the same export, with the float32 copy beside it
    float32.symlink_to(model)
    write_onnx(load_learner_quietly(model), float32.with_suffix(".onnx"), source=model)
    return {"int8": model, "float32": float32}


def against_the_book(app: Classifier, inputs: dict[str, bytes], learn, known: dict) -> dict:
    """`classify` of the app and the book's `learn.predict` on each input; `known`: timings already made."""
    from fastai.vision.core import PILImage

    out = {}
    for name, data in inputs.items():
        ours = known.get(name) or timings({"app": lambda d=data: app.classify(d)}, 30)["app"]
        with learn.no_bar():  # as in an app: no progress bar per call
            book = timings({"book": lambda d=data: learn.predict(PILImage.create(d))}, 10 if "12mp" in name else 20)
        out[name] = {"bytes": len(data), "classify": ours, "book_learn_predict_resnet18": book["book"]}
        out[name]["speedup"] = round(book["book"]["p50_ms"] / ours["p50_ms"], 1)
    return out


def run(args):
    training_set()
    source = sorted((photos("bears-test") / "grizzly").glob("*.jpg"))[0]
    inputs = {
        "jpeg_12mp": photo(source, (4000, 3000)),
        "jpeg_1mp": photo(source, (1152, 864)),
        "png_1mp": photo(source, (1152, 864), "PNG"),
    }
    bare = subprocess.run([sys.executable, "-c", BARE_PROCESS], capture_output=True, text=True, check=True).stdout
    figures = {name: {} for name in TARGETS}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "12mp.jpg").write_bytes(inputs["jpeg_12mp"])
        models = copies(tmp)
        for name, path in models.items():
            figures[name] = {
                "onnx_mb": round(path.with_suffix(".onnx").stat().st_size / 1e6, 2),
                "process": fresh_process("classifier", path, tmp / "12mp.jpg"),
                "process_with_widgets": fresh_process("widgets", path, tmp / "12mp.jpg"),
                "bare_process_peak_rss_mb": float(bare),
            }
            peak = figures[name]["process"]["peak_rss_mb"]
            figures[name]["process_peak_over_bare_process_mb"] = round(peak - float(bare), 1)
        clfs = {name: Classifier.load(path.with_suffix(".onnx")) for name, path in models.items()}
        with code_at(BEFORE) as before:  # the same int8 model before it had maps (issue 23)
            without_maps = Classifier.from_onnx(before / "export.onnx")
        x = clfs["int8"].transform([decode_at_one_eighth(inputs["jpeg_12mp"]).convert("RGB")])
        forward = timings(
            {name: (lambda c=c: c.logits(x)) for name, c in {**clfs, "without_maps": without_maps}.items()}, 100
        )
        data = inputs["jpeg_12mp"]
        classify = timings({name: (lambda c=c: c.classify(data)) for name, c in clfs.items()}, 30)
        decode = timings({"decode": lambda: decode_at_one_eighth(data)}, 30)["decode"]
        for name in models:
            least = decode["p50_ms"] + forward[name]["p50_ms"]
            figures[name] |= {
                "forward": forward[name],
                "classify_12mp": classify[name],
                "decode_at_1_8_scale_12mp": decode,
                "classify_12mp_over_decode_plus_forward": round(classify[name]["p50_ms"] / least, 2),
            }
        figures["int8"]["forward_over_float32"] = round(forward["int8"]["p50_ms"] / forward["float32"]["p50_ms"], 2)
        figures["int8"]["forward_without_maps"] = forward["without_maps"]  # the copy of commit BEFORE
        figures["int8"]["forward_over_without_maps"] = round(
            forward["int8"]["p50_ms"] / forward["without_maps"]["p50_ms"], 2
        )
        book = against_the_book(clfs["int8"], inputs, book_learner(tmp), {"jpeg_12mp": classify["int8"]})
    figures["int8"]["against_the_book"] = book
    figures["int8"]["speedup_over_the_book_12mp"] = book["jpeg_12mp"]["speedup"]
    for name, targets in TARGETS.items():
        yield Result(figures[name], targets, name)


if __name__ == "__main__":
    main()
