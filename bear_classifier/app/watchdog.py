"""A connection watchdog: a one-line notice with a Reload button, shown while the kernel does not answer.

The page pings the kernel every `ping_ms`; this side answers each ping. When no answer has come for
`lost_ms` (the kernel died, the server restarted, or the network is gone), the notice shows; it hides
again as soon as answers resume (a phone that slept and reconnected). When it shows, the page asks the
server (`fate_url`, serving.KernelFate) whether the kernel was shut down to give its place to someone
waiting, and if so says that instead. See watchdog.js.
"""

import os
from pathlib import Path

import anywidget
import traitlets

NOTICE = "The app stopped answering: its server restarted or ran out of memory."
GIVEN = "The app gave your place to someone waiting while this page was away."


def kernel_fate_url() -> str:
    """Where the page asks whether this kernel's place was given away; "" outside Voila."""
    base, kernel = os.environ.get("VOILA_BASE_URL"), os.environ.get("VOILA_KERNEL_ID")
    return f"{base.rstrip('/')}/bear/kernels/{kernel}" if base and kernel else ""


class Watchdog(anywidget.AnyWidget):
    """Invisible while the kernel answers; otherwise the notice and a Reload button."""

    _esm = Path(__file__).with_name("watchdog.js")
    ping_ms = traitlets.Int(2000).tag(sync=True)
    lost_ms = traitlets.Int(7000).tag(sync=True)
    notice = traitlets.Unicode(NOTICE).tag(sync=True)
    given = traitlets.Unicode(GIVEN).tag(sync=True)
    fate_url = traitlets.Unicode().tag(sync=True)

    @traitlets.default("fate_url")
    def _fate_url(self):
        return kernel_fate_url()

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.on_msg(self._answer)

    def _answer(self, _, content, buffers):
        if isinstance(content, dict) and "ping" in content:
            self.send({"pong": content["ping"]})
