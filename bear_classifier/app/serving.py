"""The kernel manager of `voila bears.ipynb` (set in voila.json)."""
from datetime import datetime, timezone

from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager


class KernelManager(AsyncMappingKernelManager):
    """Culls idle kernels, but restarts the idle clock of a kernel that no page has connected to yet,
    the first time the culler sees it. Voila's culler spares its preheated pool only while the kernel
    is in it: a visitor handed a kernel that idled in the pool longer than the cull timeout would
    otherwise lose it to a cull pass before their page connects."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._clock_restarted = set()

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
