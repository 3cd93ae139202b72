"""A connection watchdog: a one-line notice with a Reload button, shown while the kernel does not answer.

The page pings the kernel every `ping_ms`; this side answers each ping. When no answer has come for
`lost_ms` (the kernel died, the server restarted, or the network is gone), the notice shows; it hides
again as soon as answers resume (a phone that slept and reconnected). See watchdog.js.
"""

from pathlib import Path

import anywidget
import traitlets

NOTICE = "The app stopped answering: its server restarted or ran out of memory."


class Watchdog(anywidget.AnyWidget):
    """Invisible while the kernel answers; otherwise the notice and a Reload button."""

    _esm = Path(__file__).with_name("watchdog.js")
    ping_ms = traitlets.Int(2000).tag(sync=True)
    lost_ms = traitlets.Int(7000).tag(sync=True)
    notice = traitlets.Unicode(NOTICE).tag(sync=True)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.on_msg(self._answer)

    def _answer(self, _, content, buffers):
        if isinstance(content, dict) and "ping" in content:
            self.send({"pong": content["ping"]})
