"""The committed photo manifests: where each published photo comes from on GitHub.

bear_classifier/photos/manifests/<name>.csv has one row per photo: file (relative to the photo folder), label
(class, or kind for pictures of none of the classes), repo, commit, path (in that repo)
and sha256; bears-test.csv adds `reviewed`, the label after bears-test/REVIEW.csv.
They are derived from each shared folder's MANIFEST.csv; regenerate them with

    python -m bear_classifier.photos.manifest --shared ../shared/data
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from ..core import OTHER, DataError

MANIFESTS = Path(__file__).resolve().parent / "manifests"  # package data
NAMES = ["bears", "notbears", "bears-test", "notbears-test"]
FIELDS = ["file", "label", "repo", "commit", "path", "sha256"]
REVIEWED = {"exclude": "exclude", "not-a-bear": OTHER}  # REVIEW.csv verdict -> reviewed label

# Column names in the shared folders' MANIFEST.csv (bears*: label/repo/path_in_repo,
# notbears*: kind/repository/path_in_repository).
SOURCE_COLUMNS = {
    "label": ("label", "kind"),
    "repo": ("repo", "repository"),
    "path": ("path_in_repo", "path_in_repository"),
}


def _read_csv(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _pick(row: dict, names: tuple[str, ...]) -> str:
    return next(row[n] for n in names if n in row)


def derive(folder: Path) -> list[dict]:
    """Manifest rows for a shared photo folder, sorted by file, from its MANIFEST.csv
    (and REVIEW.csv, which adds the `reviewed` column)."""
    folder = Path(folder)
    rows = [
        {
            "file": r["file"],
            **{k: _pick(r, names) for k, names in SOURCE_COLUMNS.items()},
            "commit": r["commit"],
            "sha256": r["sha256"],
        }
        for r in _read_csv(folder / "MANIFEST.csv")
    ]
    review = folder / "REVIEW.csv"
    if review.exists():
        verdicts = {r["file"]: r["verdict"] for r in _read_csv(review)}
        unknown = set(verdicts.values()) - set(REVIEWED)
        if unknown:
            raise DataError(f"{review}: unknown verdicts {sorted(unknown)}; expected one of {sorted(REVIEWED)}")
        for r in rows:
            r["reviewed"] = REVIEWED[verdicts[r["file"]]] if r["file"] in verdicts else r["label"]
    return sorted(rows, key=lambda r: r["file"])


def write(rows: list[dict], path: Path) -> None:
    fields = FIELDS + (["reviewed"] if rows and "reviewed" in rows[0] else [])
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fields, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)


def read(name: str, manifests: Path = MANIFESTS) -> list[dict]:
    """The rows of manifests/<name>.csv; files must be relative paths inside the folder."""
    path = Path(manifests) / f"{name}.csv"
    if not path.exists():
        raise DataError(f"no manifest {path}; known names: {', '.join(NAMES)}")
    rows = _read_csv(path)
    for r in rows:
        if Path(r["file"]).is_absolute() or ".." in Path(r["file"]).parts:
            raise DataError(f"{path}: file {r['file']!r} is not a path inside the photo folder")
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description="Regenerate manifests/*.csv from the shared photo folders.")
    p.add_argument(
        "--shared",
        type=Path,
        default=Path("../shared/data"),
        help="folder holding bears/, notbears/, bears-test/, notbears-test/",
    )
    p.add_argument("--out", type=Path, default=MANIFESTS)
    a = p.parse_args(argv)
    a.out.mkdir(parents=True, exist_ok=True)
    for name in NAMES:
        if not (a.shared / name / "MANIFEST.csv").exists():
            raise SystemExit(f"error: {a.shared / name / 'MANIFEST.csv'} is absent")
        rows = derive(a.shared / name)
        write(rows, a.out / f"{name}.csv")
        print(f"{a.out / name}.csv: {len(rows)} rows")


if __name__ == "__main__":
    main()
