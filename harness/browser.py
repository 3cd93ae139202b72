"""Drive the app in Debian's chromium as a visitor does, with Playwright's async API (the only
module that imports Playwright): a desktop or a 360 px phone, on a shaped network, its websocket
frames recorded; choose a photo through the file chooser and read its answer, press Classify,
show where the model looked; read the watchdog's notice and press Reload; wait in line on the
waiting page of a full room.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import os
import re
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
PHONE = {"viewport": {"width": 360, "height": 740}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}
DESKTOP = {"viewport": {"width": 1280, "height": 900}}
# Phone networks for the DevTools protocol's Network.emulateNetworkConditions (latency in ms,
# throughput in bytes/s): Lighthouse's slow 4G (150 ms, 1.6 Mbps down, 750 kbps up) and 4G.
PROFILES = {
    "slow4g": {"latency": 150, "downloadThroughput": 1.6e6 / 8, "uploadThroughput": 750e3 / 8},
    "4g": {"latency": 60, "downloadThroughput": 9e6 / 8, "uploadThroughput": 3e6 / 8},
}
# What the page shows: the picker (its `data-photo`: the id of the photo chosen last), an answer
# (`data-photo`: the id of the photo it answers) and its line or one-line message, the watchdog's
# notice, the buttons.
PICKER = ".bear-picker"
ANSWER = ".bear-result, .bear-message"
LOST = ".bear-lost"
CHOOSE = "Choose photo"
CLASSIFY = "Classify"
WHERE = "Where did it look?"
RECORD_ANSWERS = """([selector]) => {
  window.answersSeen = [];
  const box = document.querySelector('.bear-answer');
  new MutationObserver(() => {
    const shown = box.querySelector(selector);
    if (shown) window.answersSeen.push([box.dataset.photo, shown.textContent.trim()]);
  }).observe(box, { childList: true, subtree: true, characterData: true });
}"""
# The waiting page of a full room (bear_classifier/app/waiting.html) and what it says.
WAITING = "main.bear-waiting"
WAITING_SAYS = {"heading": "h1", "place": ".bear-place", "wait": ".bear-wait"}


PICKER_ORIGIN = "http://picker.invalid"  # served by a route handler of the page: nothing leaves the machine
SHRINK = """async ([b64, name, side, quality]) => {
  const { shrink } = await import('/picker.js');
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const { jpeg } = await shrink(new File([bytes], name), side, quality);
  if (!jpeg) return null;
  const buf = new Uint8Array(await jpeg.arrayBuffer());
  let s = '';
  for (let i = 0; i < buf.length; i += 0x8000) s += String.fromCharCode(...buf.subarray(i, i + 0x8000));
  return btoa(s);
}"""


def available() -> bool:
    return Path(CHROMIUM).exists()


@asynccontextmanager
async def launch():
    """A headless chromium (Playwright's Browser)."""
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


@dataclass
class Answer:
    text: str
    seconds: float  # from choosing the photo to its answer on the page
    kind: str = ""  # "sure", "not sure" or "none of these"; "" for a message about the photo or the app
    label: str = ""  # the class the answer names ("other" for none of these)

    @property
    def ok(self) -> bool:
        """An answer of the model, sure, not sure or none of its classes (not a message about the photo or the app)."""
        return bool(self.kind)


class Visit:
    """One visitor: a browser context (a desktop, or a phone), its page, what it asks of the network."""

    def __init__(self, context, page, network: NetworkLog, sockets: list | None):
        self.context, self.page, self.network = context, page, network
        self.sockets = sockets  # (page side, server side) of each websocket, when relayed
        self.refusing = False  # websockets refused (offline)
        self.ready_s: float | None = None
        self.photo_id = ""  # the page's id of the photo chosen last ("" before any)
        self.chosen_at = 0.0  # time.perf_counter() when it was chosen

    @classmethod
    async def start(cls, browser, phone: bool = False, profile: str | None = None, relay_sockets: bool = False):
        """A new context and page: a 360 px touch phone or a desktop, its network shaped to one of
        PROFILES; with `relay_sockets`, every websocket goes through here, so that `sleep` and
        `offline` can cut them as a phone's network does."""
        context = await browser.new_context(**(PHONE if phone else DESKTOP))
        page = await context.new_page()
        network = await NetworkLog.attach(context, page, PROFILES[profile] if profile else None)
        visit = cls(context, page, network, [] if relay_sockets else None)
        if relay_sockets:
            await page.route_web_socket(lambda url: True, visit._relay)
        return visit

    async def _relay(self, ws):
        """Connect a websocket of the page to the server through here, or refuse it (`offline`)."""
        if self.refusing:
            await ws.close()
        else:
            self.sockets.append((ws, ws.connect_to_server()))

    async def open(self, url: str, timeout_s: float = 120, wait: bool = True) -> Visit:
        """Go to the app; with `wait`, until its photo buttons and Classify are shown (`ready_s`)."""
        t0 = time.perf_counter()
        await self.page.goto(url, timeout=timeout_s * 1000, wait_until="load" if wait else "commit")
        if wait:
            await self.ready(timeout_s - (time.perf_counter() - t0), since=t0)
        return self

    async def revisit(self, url: str, timeout_s: float = 120) -> Visit:
        """Close the page and open the app again in a new one, with the same browser cache."""
        await self.page.close()
        self.page = await self.context.new_page()
        self.network = await NetworkLog.attach(self.context, self.page, self.network.profile)
        return await self.open(url, timeout_s)

    async def ready(self, timeout_s: float = 120, since: float | None = None) -> float:
        """Wait until the app's buttons are shown; the seconds since `since` (or since now)."""
        t0 = since or time.perf_counter()
        for name in (CHOOSE, CLASSIFY):
            left = max(1.0, timeout_s - (time.perf_counter() - t0))
            await self.page.get_by_role("button", name=name).wait_for(timeout=left * 1000)
        self.ready_s = time.perf_counter() - t0
        return self.ready_s

    async def choose(self, photo: Path, timeout_s: float = 60):
        """Pick `photo` in the "Choose photo" file chooser, as a person would; the chooser. Then
        `photo_id` is the id the page gave the photo, which its answer carries."""
        picker = self.page.locator(PICKER)
        before = await picker.get_attribute("data-photo") or ""
        self.chosen_at = time.perf_counter()
        async with self.page.expect_file_chooser(timeout=timeout_s * 1000) as chooser:
            await self.page.get_by_role("button", name=CHOOSE).click()
        chosen = await chooser.value
        await chosen.set_files(str(photo))
        await self.page.wait_for_function(
            "([selector, before]) => (document.querySelector(selector).dataset.photo || '') !== before",
            arg=[PICKER, before],
            timeout=timeout_s * 1000,
        )
        self.photo_id = await picker.get_attribute("data-photo")
        return chosen

    async def classify(self, photo: Path, timeout_s: float = 60) -> Answer:
        """Choose `photo` and read its answer: the app answers a photo as soon as it has arrived,
        with nothing to press."""
        await self.choose(photo, timeout_s)
        return await self.answer(timeout_s)

    async def press_classify(self):
        await self.page.get_by_role("button", name=CLASSIFY).click()

    async def answer(self, timeout_s: float = 60) -> Answer:
        """The answer (or one-line message) the page shows for the photo chosen last, once there is
        one: never another photo's."""
        shown = self.page.locator(f'.bear-answer[data-photo="{self.photo_id}"]').locator(ANSWER)
        await shown.wait_for(timeout=timeout_s * 1000)
        seconds = time.perf_counter() - self.chosen_at
        kind, label = [await shown.get_attribute(a) or "" for a in ("data-kind", "data-label")]
        return Answer((await shown.inner_text()).strip(), seconds, kind, label)

    async def record_answers(self):
        """From now on, note every answer (or message) the page shows: `answers_seen` lists them."""
        await self.page.evaluate(RECORD_ANSWERS, [ANSWER])

    async def answers_seen(self) -> list[list[str]]:
        """[photo id, text] of each answer the page has shown since `record_answers`, in turn."""
        return await self.page.evaluate("window.answersSeen")

    async def sent(self, name: str, timeout_s: float = 60) -> int:
        """Wait until the page says the photo `name` has fully arrived; the KB it says it sent."""
        status = self.page.locator(".bear-picker-status", has_text=f"Sent {name} (")
        await status.wait_for(timeout=timeout_s * 1000)
        return int(re.search(r"\((\d+) KB\)", await status.inner_text()).group(1))

    async def toggle_map(self):
        """Press "Where did it look?"."""
        await self.page.get_by_role("button", name=WHERE).click()

    async def photo_and_map(self) -> dict:
        """Where the page shows the photo and its map (boxes in CSS pixels; the map's None while
        hidden), and the size of the picture shown (the phone's own copy, or the kernel's preview)."""
        photo, where = self.page.locator(".bear-photo img"), self.page.locator(".bear-map")
        return {
            "photo": await photo.bounding_box(),
            "map": await where.bounding_box() if await where.is_visible() else None,
            "natural": await photo.evaluate("img => [img.naturalWidth, img.naturalHeight]"),
        }

    async def notice(self, since: float, timeout_s: float = 60, saying: str | None = None) -> dict:
        """Wait for the watchdog's notice (once it says `saying`, where given): seconds since `since`,
        its words, and whether it fits the page's width."""
        notice = self.page.locator(LOST, has_text=saying)
        await notice.wait_for(state="visible", timeout=timeout_s * 1000)
        seconds = time.perf_counter() - since
        box = await notice.bounding_box()
        width = await self.page.evaluate("document.documentElement.clientWidth")
        return {
            "notice_s": round(seconds, 1),
            "notice": (await notice.inner_text()).strip().replace("\n", " "),
            "fits": box["x"] >= 0 and box["x"] + box["width"] <= width,
        }

    async def lost(self) -> bool:
        """Whether the watchdog's notice shows."""
        return await self.page.locator(LOST).is_visible()

    async def press_reload(self, timeout_s: float = 120, wait: bool = True):
        """Press the notice's Reload button; with `wait`, wait for the app again."""
        async with self.page.expect_navigation(timeout=timeout_s * 1000):
            await self.page.get_by_role("button", name="Reload").click()
        if wait:
            await self.ready(timeout_s)

    async def line(self, timeout_s: float = 120) -> dict | None:
        """Once the page's document has loaded: the waiting page's words (WAITING_SAYS: its heading,
        the place, the estimated wait) where the room was full, else None (the app's page)."""
        await self.page.wait_for_load_state("domcontentloaded", timeout=timeout_s * 1000)
        waiting = self.page.locator(WAITING)
        if not await waiting.count():
            return None
        return {name: (await waiting.locator(css).inner_text()).strip() for name, css in WAITING_SAYS.items()}

    async def moved_to(self, place: str, timeout_s: float = 30):
        """Wait until the waiting page says `place` ("You are next in line.")."""
        await self.page.locator(f"{WAITING} .bear-place", has_text=place).wait_for(timeout=timeout_s * 1000)

    async def let_in(self, timeout_s: float = 600) -> float:
        """Wait until the waiting page turns into the app (its request for the app leaves); the seconds it took."""
        t0 = time.perf_counter()
        await self.page.locator(WAITING).wait_for(state="detached", timeout=timeout_s * 1000)
        return time.perf_counter() - t0

    async def sleep(self, seconds: float):
        """As a phone asleep: the page frozen for `seconds`, its websockets cut at both ends (needs `relay_sockets`)."""
        cdp = self.network.cdp
        await cdp.send("Page.setWebLifecycleState", {"state": "frozen"})
        await self._cut()
        await asyncio.sleep(seconds)
        await cdp.send("Page.setWebLifecycleState", {"state": "active"})

    async def offline(self, seconds: float):
        """As a phone whose network dropped while its page runs on: its websockets cut at both ends and
        new ones refused for `seconds` (needs `relay_sockets`; plain requests still go through)."""
        self.refusing = True
        await self._cut()
        await asyncio.sleep(seconds)
        self.refusing = False

    async def _cut(self):
        for ws, server in self.sockets:
            await server.close()
            await ws.close()

    async def close(self):
        await self.context.close()


@dataclass
class Frame:
    """A websocket frame: when it was seen (time.perf_counter()), which way it went, its size, and the
    binary buffers of the kernel message it carries (a photo's chunk, an image)."""

    at: float
    sent: bool
    size: int
    buffers: list[bytes]


def buffers_of(payload: bytes) -> list[bytes]:
    """The binary buffers of a kernel message in Jupyter's websocket protocol v1 (what Jupyter Server 2
    and JupyterLab's client speak): the count of offsets, the offsets (8 bytes each, little-endian),
    then channel, header, parent header, metadata, content, and the buffers."""
    count = int.from_bytes(payload[:8], "little")
    offsets = [int.from_bytes(payload[8 * i : 8 * i + 8], "little") for i in range(1, count + 1)]
    return [payload[a:b] for a, b in itertools.pairwise(offsets[5:])]


class NetworkLog:
    """What a page asks of the network, seen through the DevTools protocol (Chrome's own record),
    throttled to one of PROFILES when given."""

    def __init__(self, cdp, profile: dict | None):
        self.cdp, self.profile = cdp, profile
        self.urls, self.bytes, self.blocked = {}, {}, {}
        self.frames: list[Frame] = []  # websocket frames, both ways

    @classmethod
    async def attach(cls, context, page, profile: dict | None = None) -> NetworkLog:
        log = cls(await context.new_cdp_session(page), profile)
        await log.cdp.send("Network.enable")
        if profile:
            await log.cdp.send("Network.emulateNetworkConditions", {"offline": False, **profile})
        log.cdp.on("Network.requestWillBeSent", lambda e: log.urls.__setitem__(e["requestId"], e["request"]["url"]))
        log.cdp.on("Network.loadingFinished", lambda e: log.bytes.__setitem__(e["requestId"], e["encodedDataLength"]))
        log.cdp.on("Network.loadingFailed", log._failed)
        log.cdp.on("Network.webSocketFrameSent", lambda e: log._frame(e, sent=True))
        log.cdp.on("Network.webSocketFrameReceived", lambda e: log._frame(e, sent=False))
        return log

    def _failed(self, e):
        if e.get("blockedReason"):  # stopped in the browser (the page's Content-Security-Policy): never sent
            self.blocked[e["requestId"]] = e["blockedReason"]

    def _frame(self, e, sent: bool):
        r = e["response"]
        if r["opcode"] == 2:  # binary: a kernel message in protocol v1
            payload = base64.b64decode(r["payloadData"])
            self.frames.append(Frame(time.perf_counter(), sent, len(payload), buffers_of(payload)))
        else:  # text: a message of the older JSON protocol, which carries no buffers
            self.frames.append(Frame(time.perf_counter(), sent, len(r["payloadData"].encode()), []))

    def ws_bytes(self, sent: bool, since: float = 0.0) -> int:
        """The bytes of the websocket frames sent (or received) since `since` (time.perf_counter())."""
        return sum(f.size for f in self.frames if f.sent == sent and f.at >= since)

    def ws_buffers(self, sent: bool, since: float = 0.0) -> list[bytes]:
        """The binary buffers of the kernel messages sent (or received) since `since`."""
        return [b for f in self.frames if f.sent == sent and f.at >= since for b in f.buffers]

    def summary(self, url: str) -> dict:
        """Transferred MB (compressed, headers included), HTTP requests, and the hosts other than
        `url`'s asked: those requests left for, and those the browser stopped before sending anything."""
        host = urlparse(url).netloc
        http = {i: u for i, u in self.urls.items() if urlparse(u).scheme in ("http", "https")}
        other = {i: urlparse(u).netloc for i, u in http.items() if urlparse(u).netloc != host}
        return {
            "transferred_mb": round(sum(self.bytes.values()) / 1e6, 3),
            "requests": len(http),
            "other_hosts": sorted({h for i, h in other.items() if i not in self.blocked}),
            "other_hosts_blocked_by_csp": sorted({h for i, h in other.items() if i in self.blocked}),
        }


async def picker_shrink(browser, files: list[Path], side: int, quality: float) -> dict[Path, bytes | None]:
    """What the picker's own `shrink` (bear_classifier/app/picker.js, in a page of `browser`) makes of
    each file: the JPEG it sends, or None where it sends the original."""
    from bear_classifier.app.picker import HERE

    js = (HERE / "picker.js").read_text()
    page = await browser.new_page()

    async def serve(route):
        script = route.request.url.endswith("/picker.js")
        body = js if script else "<!doctype html><title>picker</title>"
        await route.fulfill(body=body, content_type="text/javascript" if script else "text/html")

    await page.route(f"{PICKER_ORIGIN}/**", serve)
    await page.goto(f"{PICKER_ORIGIN}/")
    out = {}
    for f in files:
        b64 = await page.evaluate(SHRINK, [base64.b64encode(f.read_bytes()).decode(), f.name, side, quality])
        out[f] = base64.b64decode(b64) if b64 is not None else None
    await page.close()
    return out
