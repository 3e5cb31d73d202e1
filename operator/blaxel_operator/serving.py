"""/metrics and /readyz on one small aiohttp server (Kopf serves /healthz on its own port)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from .blaxel.client import BlaxelApi, Credentials
from .blaxel.errors import BlaxelError
from .metrics import READINESS

log = logging.getLogger(__name__)


async def start_metrics_server(port: int, host: str = "0.0.0.0") -> web.AppRunner:
    async def metrics(_: web.Request) -> web.Response:
        return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def readyz(_: web.Request) -> web.Response:
        if READINESS.ready():
            return web.Response(text="ok\n")
        return web.Response(status=503, text="no successful Blaxel call recently\n")

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/readyz", readyz)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner


async def keep_readiness(
    api: BlaxelApi, creds: Credentials | None, collection: str, every: float = 300.0
) -> None:
    """Probe Blaxel cheaply (one object of `collection`) when no reconcile has called it for a while
    (e.g. no resources yet). It goes through the client like any call: same workspace resolution."""
    if creds is None:
        READINESS.mark()  # per-resource credentials only: nothing to probe with
        return
    while True:
        last = READINESS.last_success
        idle = last is None or time.monotonic() - last > every  # the clock Readiness uses
        if idle:
            with contextlib.suppress(BlaxelError):
                await api.request("GET", f"/{collection}", creds, params={"limit": 1})
        await asyncio.sleep(every / 5 if READINESS.last_success is None else every)
