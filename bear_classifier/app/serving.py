"""Serving a class, on both routes: `voila bears.ipynb` (voila.json names this KernelManager) and,
as on Binder, Voila's server extension under `jupyter server` (binder/jupyter/jupyter_server_config.json
names it as ServerApp.kernel_manager_class).

The kernel manager opens a Door when the server starts: Gate, put in front of Voila's page handler,
lets a visitor in while the room (room.py) has a free place and nobody waits ahead; anyone else gets
the waiting page (waiting.html) at once, without a kernel. That page keeps its place in line over a
websocket (LineSocket) and turns into the app when told. While anyone waits, the kernel of a visitor
whose page is gone gives its place back; when that visitor returns, the watchdog asks KernelFate why
its kernel went. Kernels get a higher oom_score_adj than the server: the out-of-memory killer takes a
visitor's kernel, never the server.
"""

from __future__ import annotations

import asyncio
import functools
import json
import time
import uuid
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from string import Template

from jupyter_server.auth.decorator import ws_authenticated
from jupyter_server.base.handlers import APIHandler, JupyterHandler
from jupyter_server.base.websocket import WebSocketMixin
from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from jupyter_server.utils import url_path_join
from tornado import web
from tornado.ioloop import IOLoop, PeriodicCallback
from tornado.routing import PathMatches, Rule, RuleRouter
from tornado.web import Application, GZipContentEncoding
from tornado.websocket import WebSocketClosedError, WebSocketHandler
from voila.tornado.handler import TornadoVoilaHandler
from voila.utils import ENV_VARIABLE

from .room import MODEL, Line, Room, wait_in_words

LOADING_S = 60.0  # while anyone waits, a visitor's kernel whose page never connected gives its place back
KERNEL_OOM_SCORE_ADJ = 500  # the server keeps its own (0): the out-of-memory killer takes a kernel first
TICKET = "bear-ticket"  # the query argument a waiting page comes back with
GIVEN_KEPT = 1000  # kernels whose place was given away, remembered for their pages' watchdogs
WAITING = Template(Path(__file__).with_name("waiting.html").read_text())


@dataclass(eq=False)
class Arrival:
    """A visitor let in, during their page request; `kernel` once the request has one."""

    kernel: str | None = None


ARRIVING: ContextVar[Arrival | None] = ContextVar("arriving", default=None)


def compress_responses(app: Application):
    """Gzip the responses of `app`. `compress_response` in Voila.tornado_settings does nothing: Voila
    copies those settings into its app after building it, and tornado reads them while building. On
    Binder's route, ServerApp.tornado_settings sets it (binder/jupyter/jupyter_server_config.json)."""
    if GZipContentEncoding not in app.transforms:
        app.transforms.append(GZipContentEncoding)


def handler_rules(router: RuleRouter):
    """The rules of `router` and of the routers under it that lead to a handler."""
    for rule in router.rules:
        if isinstance(rule.target, RuleRouter):
            yield from handler_rules(rule.target)
        else:
            yield rule


class Door:
    """The room's door: the places, the line, the visitors let in whose kernel is still starting,
    and the waiting pages' sockets, told each second their place, the wait, or to come in."""

    def __init__(self, kernels: KernelManager):
        self.kernels = kernels
        self.room = Room(parent=kernels.parent)
        self.line = Line()
        self.places = 1
        self.arriving: set[Arrival] = set()
        self.sockets: dict[str, set[LineSocket]] = {}

    def open(self):
        """Once the server's tornado app is built (the IOLoop has started): size the room, put Gate
        in front of Voila's page handler and the line's handlers in front of all (Voila's own app
        sends every path to its page handler), and start telling the line."""
        parent = self.kernels.parent
        app = getattr(parent, "web_app", None) or getattr(parent, "app", None)
        if not isinstance(app, Application):
            return
        compress_responses(app)
        pool = sum(c.get("pool_size", 0) for c in getattr(self.kernels, "kernel_pools_config", {}).values())
        self.places = self.room.size(pool, Path(self.kernels.root_dir, MODEL))
        for rule in handler_rules(app.default_router):
            if rule.target is TornadoVoilaHandler:
                rule.target = Gate
        prefix = app.settings.get("server_url") or app.settings["base_url"]
        routes = [(r"/bear/line/([0-9a-f]{32})", LineSocket), (r"/bear/kernels/([\w-]+)", KernelFate)]
        router = app.default_router
        router.rules[:0] = [router.process_rule(Rule(PathMatches(url_path_join(prefix, p)), h)) for p, h in routes]
        PeriodicCallback(self.tick, 1000).start()

    def free(self) -> int:
        """Places free: the room less the kernels holding one and the visitors whose kernel is starting."""
        taken = self.kernels.taken()
        return self.places - len(taken) - sum(1 for a in self.arriving if a.kernel not in taken)

    def admit(self, ticket: str | None) -> Arrival | None:
        """An Arrival for the visitor with `ticket` (None: a newcomer) if a place is theirs, else None."""
        if not self.line.admits(ticket, self.free()):
            return None
        self.line.enter(ticket)
        arrival = Arrival()
        self.arriving.add(arrival)
        return arrival

    def status(self, ticket: str, free: int) -> dict:
        """What the waiting page of `ticket` shows, or that it may come in."""
        if ticket not in self.line:
            return {"gone": True}
        place = self.line.place(ticket)
        if place <= free:
            return {"go": True}
        said = "You are next in line." if place == 1 else f"You are number {place} in line."
        wait = wait_in_words(self.line.estimate(ticket, self.places))
        return {"place": place, "line": said, "wait": f"Estimated wait: {wait}."}

    def page(self, ticket: str, base_url: str) -> str:
        """The waiting page of `ticket`."""
        status = self.status(ticket, self.free())
        return WAITING.substitute(
            socket=escape(url_path_join(base_url, "bear/line", ticket)),
            ticket=ticket,
            ticket_arg=TICKET,
            line=escape(status.get("line", "")),
            wait=escape(status.get("wait", "")),
        )

    def tick(self):
        """Drop the waiters whose page has gone, take places back for those left, tell every waiting page."""
        free = self.free()
        gone = self.line.sweep(free)
        short = len(self.line) - max(free, 0)
        if short > 0:
            self.kernels.give_places(short)
        for ticket in [*gone, *self.line.tickets()]:
            self.tell(ticket, self.status(ticket, free))

    def tell(self, ticket: str, status: dict):
        for socket in list(self.sockets.get(ticket, ())):
            if socket.told != status:
                socket.told = status
                try:
                    socket.write_message(json.dumps(status))
                except WebSocketClosedError:  # closed, on_close not run yet
                    continue
                if "gone" in status:
                    socket.close()

    def watch(self, ticket: str, socket: LineSocket):
        self.sockets.setdefault(ticket, set()).add(socket)
        if ticket in self.line:
            self.line.connect(ticket)
        self.tell(ticket, self.status(ticket, self.free()))

    def unwatch(self, ticket: str, socket: LineSocket):
        sockets = self.sockets.get(ticket, set())
        if socket in sockets:
            sockets.discard(socket)
            self.line.disconnect(ticket)
        if not sockets:
            self.sockets.pop(ticket, None)


class KernelManager(AsyncMappingKernelManager):
    """Kernels for a class, with a Door (above) that keeps the room.

    Kernels holding a place: all but the preheated pool's and those being shut down to give their
    place away. A visitor's kernel (started or handed out from the pool in their page request) whose
    page has gone gives its place back while anyone waits: Room.away after its last websocket closed,
    LOADING_S after it was handed out if no page ever connected. Every kernel gets
    KERNEL_OOM_SCORE_ADJ.

    Culls idle kernels, but restarts the idle clock of a kernel that no page has connected to yet,
    the first time the culler sees it. Voila's culler spares its preheated pool only while the kernel
    is in it: a visitor handed a kernel that idled in the pool longer than the cull timeout would
    otherwise lose it to a cull pass before their page connects.

    Never hands a visitor a dead preheated kernel: Voila's pool (the subclass of this class that
    `voila_kernel_manager_factory` builds) keeps a kernel's rendered page however the kernel fares,
    so a pooled kernel that died is dropped and replaced when its restarter reports it dead (with
    `KernelRestarter.restart_limit` 0, as in voila.json: a restarted kernel lacks the page's widgets)
    and, for a death not yet noticed, before each hand-out."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._clock_restarted = set()
        self._pooled: set[str] = set()  # preheated, not handed out yet
        self._visits: dict[str, float] = {}  # visitors' kernels: when each was handed out (time.monotonic)
        self._away: dict[str, float] = {}  # visitors' kernels with no page: when they may give their place
        self.given: dict[str, None] = {}  # kernels shut down to give their place to someone waiting
        self.door = Door(self)
        # Voila and Jupyter Server build their tornado app after this manager, then start the loop: this runs first.
        IOLoop.current().add_callback(self.door.open)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "get_rendered_notebook" in vars(cls):  # Voila's pool: hands out a kernel and its rendered page
            hand_out = cls.get_rendered_notebook

            @functools.wraps(hand_out)
            async def get_rendered_notebook(self, *args, **kw):
                await self._replace_dead_pooled()
                render_task, rendered, kernel_id = await hand_out(self, *args, **kw)
                self._pooled.discard(kernel_id)
                self._seat(kernel_id)
                return render_task, rendered, kernel_id

            cls.get_rendered_notebook = get_rendered_notebook

    def taken(self) -> set[str]:
        """The kernels that hold a place."""
        return set(self._kernels) - self._pooled - self.given.keys()

    async def start_kernel(self, **kwargs):
        kernel_id = kwargs.setdefault("kernel_id", str(uuid.uuid4()))  # known before it holds a place
        if (kwargs.get("env") or {}).get(ENV_VARIABLE.VOILA_PREHEAT) == "True":
            self._pooled.add(kernel_id)
        else:
            self._seat(kernel_id)
        try:
            await super().start_kernel(**kwargs)
        except Exception:
            self._forget(kernel_id)
            raise
        self.add_restart_callback(kernel_id, lambda: asyncio.ensure_future(self._replace_dead_pooled()), "dead")
        self._raise_oom_score(kernel_id)
        return kernel_id

    def _seat(self, kernel_id: str):
        """`kernel_id` is the kernel of the visitor arriving in this page request, if there is one."""
        arrival = ARRIVING.get()
        if arrival is not None and arrival.kernel is None:
            arrival.kernel = kernel_id
            self._visits[kernel_id] = time.monotonic()
            self._away[kernel_id] = time.monotonic() + LOADING_S

    def _raise_oom_score(self, kernel_id: str):
        """Make the kernel the out-of-memory killer's choice before the server (raising needs no privilege)."""
        pid = getattr(self.get_kernel(kernel_id).provisioner, "pid", None)
        try:
            Path(f"/proc/{pid}/oom_score_adj").write_text(str(KERNEL_OOM_SCORE_ADJ))
        except OSError as e:  # not Linux, or the kernel has exited
            self.log.debug("oom_score_adj of kernel %s not set: %s", kernel_id, e)

    def give_places(self, count: int):
        """Shut down up to `count` visitors' kernels whose page has gone, longest gone first."""
        now = time.monotonic()
        due = sorted((at, k) for k, at in self._away.items() if at < now and k in self._kernels)
        for _, kernel_id in due[:count]:
            del self._away[kernel_id]
            self.given[kernel_id] = None
            if len(self.given) > GIVEN_KEPT:
                del self.given[next(iter(self.given))]
            self.log.info("Giving the place of kernel %s, whose page has gone, to someone waiting", kernel_id)
            IOLoop.current().add_callback(self.shutdown_kernel, kernel_id, now=True)

    def remove_kernel(self, kernel_id):
        since = self._visits.get(kernel_id)
        if since is not None:
            self.door.line.stays.append(time.monotonic() - since)
        self._forget(kernel_id)
        return super().remove_kernel(kernel_id)

    def _forget(self, kernel_id: str):
        self._pooled.discard(kernel_id)
        self._visits.pop(kernel_id, None)
        self._away.pop(kernel_id, None)

    async def _replace_dead_pooled(self):
        """Drop the pooled kernels that died or failed to start from the pool, and refill it."""
        for name, pool in getattr(self, "_pools", {}).items():
            dead = [task for task in list(pool) if task.done() and not await self._alive(task)]
            for task in dead:  # the restarter removes a dead kernel from the map within time_to_dead (3 s)
                if task in pool:
                    pool.remove(task)
            if dead:
                self.log.warning("Replacing %d dead preheated kernel(s) of %s", len(dead), name)
                self.fill_if_needed(delay=0, notebook_name=name)

    async def _alive(self, task: asyncio.Task) -> bool:
        if task.cancelled() or task.exception():
            return False
        kernel_id = task.result()["kernel_id"]
        return kernel_id in self and await self.get_kernel(kernel_id).is_alive()

    def notify_connect(self, kernel_id):
        self._clock_restarted.add(kernel_id)
        self._away.pop(kernel_id, None)
        super().notify_connect(kernel_id)

    def notify_disconnect(self, kernel_id):
        super().notify_disconnect(kernel_id)
        if kernel_id in self._visits and not self._kernel_connections.get(kernel_id):
            self._away[kernel_id] = time.monotonic() + self.door.room.away

    async def cull_kernel_if_idle(self, kernel_id):
        if kernel_id not in self._clock_restarted:
            self._clock_restarted.add(kernel_id)
            self._kernels[kernel_id].last_activity = datetime.now(UTC)
            return
        await super().cull_kernel_if_idle(kernel_id)

    async def cull_kernels(self):
        self._clock_restarted &= set(self._kernels)
        await super().cull_kernels()


class Gate(TornadoVoilaHandler):
    """Voila's page handler behind the door: a visitor who may not come in yet gets the waiting page
    at once, and no kernel. A waiting page comes back with its ticket (?bear-ticket=)."""

    @web.authenticated
    async def get(self, path=None):
        if self.notebook_path and path:  # Voila redirects to a file: no kernel
            return await super().get(path)
        start, door = time.perf_counter(), self.kernel_manager.door
        ticket = self.get_argument(TICKET, None)
        arrival = door.admit(ticket)
        if arrival is None:
            ticket = door.line.join(ticket)
            self.set_header("Content-Type", "text/html; charset=UTF-8")
            self.set_header("Cache-Control", "no-store")
            self.finish(door.page(ticket, self.base_url))
            self.log.info(
                "Room full: a visitor waits at place %d (the waiting page in %.1f ms, %.1f ms of them at the door)",
                door.line.place(ticket),
                1000 * self.request.request_time(),  # since tornado read the request, as its access log says
                1000 * (time.perf_counter() - start),
            )
            return
        token = ARRIVING.set(arrival)
        try:
            await super().get(path)
        finally:
            ARRIVING.reset(token)
            door.arriving.discard(arrival)


class LineSocket(WebSocketMixin, WebSocketHandler, JupyterHandler):
    """A waiting page's connection: its place in line holds while one is open (Line's leave_s after the
    last closes), and it is told its place, the wait and when to come in (Door.status)."""

    told: dict | None = None
    ticket = ""

    def set_default_headers(self):
        """None of JupyterHandler's page headers: as Jupyter Server's kernel websocket."""

    @ws_authenticated
    async def get(self, ticket):
        await super().get(ticket)

    def open(self, ticket):
        super().open()
        self.ticket = ticket
        self.kernel_manager.door.watch(ticket, self)

    def on_close(self):
        self.kernel_manager.door.unwatch(self.ticket, self)


class KernelFate(APIHandler):
    """Whether a kernel was shut down to give its place to someone waiting: asked by the watchdog of a
    page whose kernel stopped answering (watchdog.js)."""

    @web.authenticated
    def get(self, kernel_id):
        self.set_header("Cache-Control", "no-store")
        self.finish({"given": kernel_id in self.kernel_manager.given})
