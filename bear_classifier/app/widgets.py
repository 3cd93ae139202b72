"""The app's widgets: choose or take a photo, press Classify, read the answer.

Phone-first (full-width controls, 48 px touch targets, the photo shrunk on the phone before
it is sent: picker.py) and unbreakable: every upload ends in a prediction or a one-line message.
"""

from __future__ import annotations

import html
import io

import ipywidgets as widgets
from PIL import Image

from ..core import OTHER, ModelError
from .classifier import Classifier, Prediction
from .picker import PhotoPicker
from .watchdog import Watchdog
from .wording import instruction, title

TOUCH = "48px"
PREVIEW_SIDE = 480
BAR_COLOURS = {OTHER: "#9e9e9e"}


def preview_jpeg(im: Image.Image) -> bytes:
    """A small JPEG of the (already upright) upload for display."""
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


class BearApp:
    """Photo picker + Classify button + photo + answer + bars, wired to a Classifier.
    The wording comes from the classifier's classes."""

    def __init__(self, classifier: Classifier):
        full = widgets.Layout(width="100%")
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
        self.picker = PhotoPicker(layout=full)
        self.button = widgets.Button(
            description="Classify", button_style="primary", layout=widgets.Layout(width="100%", height=TOUCH)
        )
        self.image = widgets.Image(format="jpeg", layout=widgets.Layout(max_width="100%", height="auto"))
        self.image.layout.display = "none"
        self.answer = widgets.HTML(layout=full)
        self.bars = widgets.HTML(layout=full)
        self.button.on_click(lambda _: self.classify())
        self.picker.observe(lambda _: self._picked(), names="state")
        self.widget = widgets.VBox(
            [self.header, Watchdog(), self.picker, self.button, self.image, self.answer, self.bars],
            layout=widgets.Layout(width="100%", max_width="640px", padding="0 8px"),
        )

    @staticmethod
    def load(path: str = "export.onnx"):
        """The app for the model in `path` (Classifier.load), or a one-line message saying why there is none."""
        try:
            return BearApp(Classifier.load(path))
        except ModelError as e:
            return widgets.HTML(f"<p class='bear-message'>{html.escape(str(e))}</p>")

    def _picked(self):
        """A photo started to arrive, arrived or was refused: drop the last answer and say so, so that
        nobody (on a slow phone connection, say) reads or classifies the previous photo by mistake."""
        self.bars.value = ""
        self.image.layout.display = "none"
        state = self.picker.state
        if state == "receiving":
            self.answer.value = ""
        elif state == "received":
            self._say(f"Received {self.picker.name}. Press Classify.", "ready")
        elif state == "refused":
            self._say(self.picker.message, "message")

    def _say(self, text: str, kind: str = "result"):
        self.answer.value = f"<p class='bear-{kind}' style='font-size:1.15em;margin:0.5em 0'>{html.escape(text)}</p>"

    def classify(self) -> Prediction | None:
        """Classify the current upload and show the result; never raises."""
        self.button.disabled, self.button.description = True, "Classifying…"
        try:
            if self.picker.state == "receiving":
                self._say(f"{self.picker.name} is still arriving; press Classify once the page names it.", "message")
                return None
            if self.picker.photo is None:
                self._say("Choose a photo first.", "message")
                return None
            _, data = self.picker.photo
            pred = self.classifier.classify(data)
            if pred.image is not None:
                self.image.value = preview_jpeg(pred.image)
            self.image.layout.display = "" if pred.image is not None else "none"
            self._say(pred.text(), "result" if pred.ok else "message")
            self.bars.value = bars_html(pred.probs) if pred.probs else ""
            return pred
        except Exception as e:  # the app must keep working whatever happens
            self._say(f"Sorry, something went wrong ({type(e).__name__}). Please try another photo.", "message")
            return None
        finally:
            self.button.disabled, self.button.description = False, "Classify"

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)
