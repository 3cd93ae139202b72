"""The app's widgets: choose or take a photo and read its answer, with where the model looked.

Phone-first (full-width controls, 48 px touch targets, the photo shrunk on the phone before it is
sent: picker.py) and unbreakable: every upload ends in an answer or a one-line message. A photo is
classified as soon as it has arrived; Classify classifies it again, as in the book.
"""

from __future__ import annotations

import html
import io

import ipywidgets as widgets
import numpy as np
from PIL import Image

from ..core import OTHER, ModelError
from .classifier import Classifier, Prediction
from .picker import PhotoPicker, sent_side
from .watchdog import Watchdog
from .wording import instruction, title

PREVIEW_SIDE = 480
BAR_COLOURS = {OTHER: "#9e9e9e"}


def preview_jpeg(im: Image.Image) -> bytes:
    """A small JPEG of the (already upright) upload, for a page that cannot show the photo itself."""
    im = im.copy()
    im.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE))
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=85)
    return buf.getvalue()


def bars_html(probs: dict[str, float]) -> str:
    """Horizontal probability bars for every class, largest first."""
    rows = []
    for name, p in sorted(probs.items(), key=lambda kv: -kv[1]):
        label = "none of these" if name == OTHER else name
        colour = BAR_COLOURS.get(name, "#ef6c00")
        rows.append(
            f'<div class="bear-bar" style="display:flex;align-items:center;gap:8px;margin:4px 0">'
            f'<span style="flex:0 0 7.5em;overflow:hidden;text-overflow:ellipsis;white-space:nowrap">'
            f"{html.escape(label)}</span>"
            f'<span style="flex:1 1 auto;background:#eee;border-radius:4px;height:14px;min-width:0">'
            f'<span style="display:block;height:14px;border-radius:4px;background:{colour};width:{100 * p:.1f}%">'
            "</span></span>"
            f'<span style="flex:0 0 4em;text-align:right">{p:.4f}</span></div>'
        )
    return "".join(rows)


def message_html(text: str) -> str:
    """A one-line message about the photo or the app."""
    return f"<p class='bear-message'>{html.escape(text)}</p>"


def answer_html(pred: Prediction) -> str:
    """The answer's line, its kind in `data-kind` and in its class (bear-sure, bear-not-sure,
    bear-none-of-these: styled apart), the class it names in `data-label`, and every class's bar;
    a message where there is no answer."""
    if not pred.ok:
        return message_html(pred.text())
    kind, label = html.escape(pred.kind), html.escape(pred.label)
    line = (
        f"<p class='bear-result bear-{kind.replace(' ', '-')}' data-kind='{kind}' data-label='{label}'>"
        f"{html.escape(pred.text())}</p>"
    )
    return line + bars_html(pred.probs)


def heat_map(pred: Prediction) -> dict | None:
    """Where the model looked, as the page draws it: the answer's map scaled from 0 (its lowest cell) to
    1 (its highest), rows top to bottom, and the region of the photo it covers (fractions); None when
    the answer has no map ("none of these", a model without maps, a failure)."""
    if pred.cam is None or pred.region is None:
        return None
    cam = np.asarray(pred.cam, dtype=np.float64)
    span = cam.max() - cam.min()
    cells = (cam - cam.min()) / span if span > 0 else np.zeros_like(cam)
    return {"cells": np.round(cells, 3).tolist(), "region": [round(f, 5) for f in pred.region]}


class BearApp:
    """The photo picker (with Classify, the photo, its answer and bars, and its map) wired to a
    Classifier. The wording, and the size the phone sends, come from the classifier."""

    def __init__(self, classifier: Classifier):
        self.classifier = classifier
        classes = [c for c in classifier.vocab if c != OTHER]
        notice = (
            f"<p class='bear-notice' style='color:#8a6d00'>{html.escape(classifier.notice)}</p>"
            if classifier.notice
            else ""
        )
        self.header = widgets.HTML(
            f"<h2 style='margin:0.3em 0'>{html.escape(title(classes))}</h2>"
            f"<p>{html.escape(instruction(classes))}</p>{notice}"
        )
        self.picker = PhotoPicker(
            short_side=sent_side(classifier.transform.resize_to), layout=widgets.Layout(width="100%")
        )
        self.picker.on_classify(self.classify)
        self.picker.observe(lambda _: self._picked(), names="state")
        self.widget = widgets.VBox(
            [self.header, Watchdog(), self.picker],
            layout=widgets.Layout(width="100%", max_width="640px", padding="0 8px"),
        )

    @staticmethod
    def load(path: str = "export.onnx"):
        """The app for the model in `path` (Classifier.load), or a one-line message saying why there is none."""
        try:
            return BearApp(Classifier.load(path))
        except ModelError as e:
            return widgets.HTML(message_html(str(e)))

    def _picked(self):
        """A photo has arrived (answer it at once) or was refused (say why, in one line)."""
        if self.picker.state == "received":
            self.classify()
        elif self.picker.state == "refused":
            self._show(message_html(self.picker.message))

    def _show(self, content: str, where: dict | None = None, preview: bytes | None = None):
        """Show an answer on the page, for the photo the picker has now."""
        self.picker.answer = {"id": self.picker.upload, "html": content, "map": where, "preview": preview}

    def classify(self) -> Prediction | None:
        """Classify the photo that last arrived and show its answer, with a preview where the page
        cannot show the photo itself; never raises. Nothing while a photo is on its way: it is
        answered as soon as it arrives."""
        if self.picker.state == "receiving":
            return None
        if self.picker.photo is None:
            self._show(message_html("Choose a photo first."))
            return None
        try:
            pred = self.classifier.classify(self.picker.photo[1])
            shown = self.picker.shown or pred.image is None
            self._show(answer_html(pred), heat_map(pred), None if shown else preview_jpeg(pred.image))
            return pred
        except Exception as e:  # the app must keep working whatever happens
            self._show(message_html(f"Sorry, something went wrong ({type(e).__name__}). Please try another photo."))
            return None

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)
