"""What every layer shares, with the standard library only: the class names, the errors whose
str() is a one-line message for people, and file hashing."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path
from typing import NoReturn

BEARS = ("grizzly", "black", "teddy")  # the chapter's classes, in the order the app names them
OTHER = "other"  # label of the negatives: the "none of these" answer


class DataError(ValueError):
    """A dataset problem the user must fix; str() is a one-line message."""

    def _render_traceback_(self):  # IPython (train.ipynb) shows the line alone, without a traceback
        return [f"DataError: {self}"]


class ModelError(RuntimeError):
    """The model file cannot be used; str() is a one-line message for people."""


class BadImage(ValueError):
    """An input that is not a usable picture; str() is a one-line message for people."""


def one_line(e: Exception) -> str:
    """The first line of an exception's message, at most 120 characters."""
    msg = str(e).strip().splitlines()
    return (msg[0] if msg else type(e).__name__)[:120]


def sha256_file(path: Path) -> str:
    """The sha256 of a file's bytes, as hex."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fail(message: str) -> NoReturn:
    """End a command on bad input: one line on stderr, exit status 2 (as argparse does)."""
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)
