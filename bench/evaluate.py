"""Held-out scores (`make evaluate`): the app's int8 export.onnx and its float32 copy on bears-test
(folder and reviewed labels) and notbears-test, through the app's own `classify`, and the
ImageNet head restricted to the bear rows (the baseline), each written apart."""

from bench.runner import ROOT, Result, main, photos, training_set


def run(args):
    training_set()
    from bear_classifier.photos.manifest import MANIFESTS
    from bear_classifier.training.evaluate import report, reviewed_labels

    bears, notbears = photos("bears-test"), photos("notbears-test")
    out = report(ROOT / "export.pkl", bears, notbears, reviewed_labels(MANIFESTS / "bears-test.csv"), baseline=True)
    for name in ("int8", "float32"):
        yield Result({**out[name], "int8_vs_float32": out["int8_vs_float32"]}, [], name)
    yield Result(out["baseline_imagenet_head"], [], "imagenet-head")


if __name__ == "__main__":
    main()
