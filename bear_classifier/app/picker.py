"""The photo picker (an anywidget): "Choose photo", "Take photo" (the rear camera) and Classify; the
photo, its answer and where the model looked, on the page.

The browser (picker.js) shows the phone's own copy of the photo at once, decodes it, turns it
upright and sends a JPEG whose short side is `short_side` px; where it cannot decode the file
(HEIC in Chrome, a damaged or non-image file) or the photo is already that small, it sends the
original bytes. Either way they arrive here in chunks, and the kernel trusts nothing the browser
says: the size cap is checked here, and the bytes go through the same decoding checks as any
upload (images.open_image). The app (widgets.BearApp) classifies a photo as soon as it has
arrived and sets `answer`, which the page shows only for the photo it belongs to.
"""

from __future__ import annotations

from pathlib import Path

import anywidget
import traitlets
from ipywidgets import CallbackDispatcher

from ..core import BadImage
from ..images import MAX_UPLOAD_BYTES, check_upload_size
from .classifier import Transform

HERE = Path(__file__).parent


def sent_side(first_resize: int) -> int:
    """The short side (px) of the photo the phone sends, for a model whose transform first resizes to
    `first_resize` px: 11/8 of it. At the first resize itself the browser's sharper resampling changed a
    borderline answer; 11 / 8 leaves the last step to the kernel's own resize, and then no answer of
    bears-test or notbears-test changes, within 80 KB at JPEG quality 0.8 (python -m bench downscale)."""
    return round(first_resize * 11 / 8)


class PhotoPicker(anywidget.AnyWidget):
    """`photo` is (name, bytes) of the last upload that fully arrived, else None. `state` is ""
    (nothing chosen yet), "receiving", "received" or "refused" (`message` says why, in one line).
    `upload` is the page's id of the last upload begun; `shown`, whether the page shows its own copy
    of it (else the app sends a preview in `answer`). `answer` is what the page shows for the upload
    `answer["id"]`: `html` (the answer's line and bars, or a one-line message), `map` (the map of
    where the model looked: `cells`, rows of values 0..1, over `region` of the photo, fractions; or
    None) and `preview` (JPEG bytes, or None)."""

    _esm = HERE / "picker.js"
    _css = HERE / "picker.css"
    short_side = traitlets.Int(sent_side(Transform().resize_to)).tag(sync=True)  # BearApp: its model's
    quality = traitlets.Float(0.8).tag(sync=True)
    max_bytes = traitlets.Int(MAX_UPLOAD_BYTES).tag(sync=True)
    state = traitlets.Unicode("").tag(sync=True)
    name = traitlets.Unicode("").tag(sync=True)
    message = traitlets.Unicode("").tag(sync=True)
    upload = traitlets.Unicode("").tag(sync=True)
    answer = traitlets.Dict().tag(sync=True)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.photo: tuple[str, bytes] | None = None
        self.shown = False
        self._size, self._chunks, self._received = 0, [], 0
        self._pressed = CallbackDispatcher()
        self.on_msg(self._on_msg)

    def on_classify(self, callback):
        """Call `callback()` when Classify is pressed on the page for the kernel's last upload (a press
        while the page has another photo on its way never reaches it: that photo is answered on arrival)."""
        self._pressed.register_callback(callback)

    def _on_msg(self, _, content: dict, buffers: list):
        kind, upload = content.get("type"), content.get("id")
        if kind == "begin":
            self.begin(str(upload), str(content.get("name") or "your photo"), content.get("size"), content.get("shown"))
        elif upload != self.upload:
            return  # another upload's: abandoned when the next photo was chosen
        elif kind == "classify":
            self._pressed()
        elif self.state == "receiving":
            if kind == "chunk" and buffers:
                self.chunk(bytes(buffers[0]))
            elif kind == "end":
                self.end()

    def begin(self, upload: str, name: str, size, shown=False):
        """A new upload starts: forget the last photo and its answer; refuse this one at once if it is too large."""
        self.photo, self.shown, self._chunks, self._received = None, shown is True, [], 0
        with self.hold_sync():
            self.upload, self.answer = upload, {}
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
        self.send({"type": "ack", "id": self.upload, "received": self._received})

    def end(self):
        if self._received != self._size:
            self._refuse("The photo did not fully arrive; please choose it again.")
            return
        self.photo, self._chunks = (self.name, b"".join(self._chunks)), []
        self.state = "received"

    def _refuse(self, message: str):
        self.photo, self._chunks = None, []
        self.message, self.state = message, "refused"
