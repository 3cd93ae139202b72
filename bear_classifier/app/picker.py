"""The photo picker (an anywidget): "Choose photo" and "Take photo" (the rear camera), with progress.

The browser (picker.js) decodes the photo, turns it upright and sends a JPEG whose short side
is `short_side` px; where it cannot decode the file (HEIC in Chrome, a damaged or non-image
file) or the photo is already that small, it sends the original bytes. Either way they arrive
here in chunks, and the kernel trusts nothing the browser says: the size cap is checked here,
and the bytes go through the same decoding checks as any upload (images.open_image).
"""

from __future__ import annotations

from pathlib import Path

import anywidget
import traitlets

from ..core import BadImage
from ..images import MAX_UPLOAD_BYTES, check_upload_size

HERE = Path(__file__).parent


class PhotoPicker(anywidget.AnyWidget):
    """`photo` is (name, bytes) of the last upload that fully arrived, else None. `state` is ""
    (nothing chosen yet), "receiving", "received" or "refused" (`message` says why, in one line)."""

    _esm = HERE / "picker.js"
    _css = HERE / "picker.css"
    # Short side 640 px, JPEG quality 0.9: the same answers as the full photo (bench/downscale.py).
    short_side = traitlets.Int(640).tag(sync=True)
    quality = traitlets.Float(0.9).tag(sync=True)
    max_bytes = traitlets.Int(MAX_UPLOAD_BYTES).tag(sync=True)
    state = traitlets.Unicode("").tag(sync=True)
    name = traitlets.Unicode("").tag(sync=True)
    message = traitlets.Unicode("").tag(sync=True)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.photo: tuple[str, bytes] | None = None
        self._id, self._size, self._chunks, self._received = None, 0, [], 0
        self.on_msg(self._on_msg)

    def _on_msg(self, _, content: dict, buffers: list):
        kind, upload = content.get("type"), content.get("id")
        if kind == "begin":
            self.begin(upload, str(content.get("name") or "your photo"), content.get("size"))
        elif upload is not None and upload == self._id:
            if kind == "chunk" and buffers:
                self.chunk(bytes(buffers[0]))
            elif kind == "end":
                self.end()

    def begin(self, upload, name: str, size):
        """A new upload starts: forget the last photo; refuse this one at once if it is too large."""
        self.photo, self._id, self._chunks, self._received = None, upload, [], 0
        self.name, self.message, self.state = name[:200], "", "receiving"
        try:
            self._size = int(size)
            if self._size < 0:
                raise ValueError(size)
            check_upload_size(self._size, self.name)
        except BadImage as e:  # a ValueError: first
            self._refuse(str(e))
        except (TypeError, ValueError):
            self._refuse("The upload could not be read; please choose the photo again.")

    def chunk(self, data: bytes):
        self._received += len(data)
        if self._received > self._size:  # more than announced: the cap holds whatever the browser says
            self._refuse("The upload was larger than announced; please choose the photo again.")
            return
        self._chunks.append(data)
        self.send({"type": "ack", "id": self._id, "received": self._received})

    def end(self):
        if self._received != self._size:
            self._refuse("The photo did not fully arrive; please choose it again.")
            return
        self.photo, self._id, self._chunks = (self.name, b"".join(self._chunks)), None, []
        self.state = "received"

    def _refuse(self, message: str):
        self.photo, self._id, self._chunks = None, None, []
        self.message, self.state = message, "refused"
