"""The operator process: Kopf plus the metrics server."""

from __future__ import annotations

import asyncio
import contextlib

import kopf

from .config import OperatorConfig
from .handlers import register
from .kinds.registry import KINDS
from .logs import configure
from .memtrim import keep_trimming
from .serving import keep_readiness, start_metrics_server


async def run_operator(config: OperatorConfig) -> int:
    configure(config.log_format, config.log_level)
    registry = kopf.OperatorRegistry()
    runtime = register(registry, config, list(KINDS))
    runner = await start_metrics_server(config.metrics_port) if config.metrics_port else None
    keeper = asyncio.create_task(
        keep_readiness(runtime.api, config.default_credentials, KINDS[0].api_collection)
    )
    trimmer = asyncio.create_task(keep_trimming())
    try:
        await kopf.operator(
            registry=registry,
            clusterwide=config.all_namespaces,
            namespaces=config.namespaces,
            standalone=config.peering is None,
            peering_name=config.peering,
            liveness_endpoint=f"http://0.0.0.0:{config.health_port}/healthz" if config.health_port else None,
        )
    finally:
        for task in (keeper, trimmer):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if runner is not None:
            await runner.cleanup()
    return runtime.exit_code
