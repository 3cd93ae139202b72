"""The kernel manager of `voila bears.ipynb` (set in voila.json)."""
from datetime import datetime, timezone

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
    otherwise lose it to a cull pass before their page connects."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._clock_restarted = set()
        # Voila builds its tornado app after this manager and then starts the loop: this runs first.
        IOLoop.current().add_callback(compress_responses, self.parent)

    def notify_connect(self, kernel_id):
        self._clock_restarted.add(kernel_id)
        super().notify_connect(kernel_id)

    async def cull_kernel_if_idle(self, kernel_id):
        if kernel_id not in self._clock_restarted:
            self._clock_restarted.add(kernel_id)
            self._kernels[kernel_id].last_activity = datetime.now(timezone.utc)
            return
        await super().cull_kernel_if_idle(kernel_id)

    async def cull_kernels(self):
        self._clock_restarted &= set(self._kernels)
        await super().cull_kernels()
