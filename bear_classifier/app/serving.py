"""The kernel manager of `voila bears.ipynb` (set in voila.json)."""

import asyncio
import functools
from datetime import UTC, datetime

from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from tornado.ioloop import IOLoop
from tornado.web import Application, GZipContentEncoding


def compress_responses(voila):
    """Gzip the responses of the tornado app that `voila` (the Voila application) has built.

    `compress_response` in Voila.tornado_settings does nothing: Voila copies those settings into
    its app after building it, and tornado reads that one while building. On Binder's route,
    ServerApp.tornado_settings sets it (binder/jupyter/jupyter_server_config.json)."""
    app = getattr(voila, "app", None)
    if isinstance(app, Application) and GZipContentEncoding not in app.transforms:
        app.transforms.append(GZipContentEncoding)


class KernelManager(AsyncMappingKernelManager):
    """Culls idle kernels, but restarts the idle clock of a kernel that no page has connected to yet,
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
        # Voila builds its tornado app after this manager and then starts the loop: this runs first.
        IOLoop.current().add_callback(compress_responses, self.parent)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "get_rendered_notebook" in vars(cls):  # Voila's pool: hands out a kernel and its rendered page
            hand_out = cls.get_rendered_notebook

            @functools.wraps(hand_out)
            async def get_rendered_notebook(self, *args, **kw):
                await self._replace_dead_pooled()
                return await hand_out(self, *args, **kw)

            cls.get_rendered_notebook = get_rendered_notebook

    async def start_kernel(self, **kwargs):
        kernel_id = await super().start_kernel(**kwargs)
        self.add_restart_callback(kernel_id, lambda: asyncio.ensure_future(self._replace_dead_pooled()), "dead")
        return kernel_id

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
        super().notify_connect(kernel_id)

    async def cull_kernel_if_idle(self, kernel_id):
        if kernel_id not in self._clock_restarted:
            self._clock_restarted.add(kernel_id)
            self._kernels[kernel_id].last_activity = datetime.now(UTC)
            return
        await super().cull_kernel_if_idle(kernel_id)

    async def cull_kernels(self):
        self._clock_restarted &= set(self._kernels)
        await super().cull_kernels()
