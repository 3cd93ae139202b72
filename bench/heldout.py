"""Held-out scores of export.pkl, with the ImageNet-head baseline in the same run.

    .venv/bin/python bench/heldout.py [export.pkl]     # prints JSON
Targets: notbears-test answered "none of these" >= 90 %; bears-test accuracy >= 97.5 % (issue 6)
and >= 98 % (issue 2).
"""
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bear_classifier.evaluate import report  # noqa: E402


def main():
    model = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "export.pkl"
    data = ROOT.parent / "shared" / "data"
    out = report(model, data / "bears-test", data / "notbears-test", baseline=True)
    bears, rejection = out["bears"]["accuracy"], out["notbears"]["rejection_rate"]
    out["meets"] = {"notbears_rejection_ge_0.90": rejection >= 0.90, "bears_accuracy_ge_0.975": bears >= 0.975,
                    "bears_accuracy_ge_0.98": bears >= 0.98}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
