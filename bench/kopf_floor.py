"""The framework's floor: a Kopf operator that watches BlaxelAgents and does nothing.

It registers one no-op ``@kopf.on.event`` handler, so Kopf keeps the same cluster-wide watch of the
same resources as blaxel-operator and runs its per-event machinery (parsing, per-object workers, the
handler call), but owns no finalizer, no daemon and makes no write: it never changes what the operator
under test sees. Its watch settings mirror blaxel-operator's (standalone, no scanning, no event posting,
the same watch timeouts, INFO logging with the per-event handler lines dropped); Kopf's queueing
settings are left at their defaults (blaxel-operator lets its per-object workers go after 1 s idle
instead of 5 s: one of its own memory savings, not the framework's floor).

``--mode daemon`` registers an idle per-object daemon instead (Kopf's cost of a daemon per object). A
daemon needs a finalizer, a write per object, so that mode is only for a run without the operator under
test (it is not used by ``make bench``; see BENCHMARKS.md).

    python bench/kopf_floor.py --kubeconfig PATH --liveness-port PORT [--mode event|daemon]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
from typing import Any

import kopf

RESOURCE = ("blaxel.ai", "v1alpha1", "blaxelagents")
HANDLER_ID = "noop"


class QuietHandlerFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.levelno <= logging.INFO and f"'{HANDLER_ID}'" in str(record.msg))


def build_registry(mode: str) -> kopf.OperatorRegistry:
    registry = kopf.OperatorRegistry()

    @kopf.on.startup(registry=registry)
    def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
        settings.posting.level = logging.CRITICAL
        settings.watching.server_timeout = 300
        settings.watching.client_timeout = 330
        settings.networking.request_timeout = 60
        settings.scanning.disabled = True
        settings.peering.standalone = True

    @kopf.on.login(registry=registry)
    def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
        return kopf.login_with_kubeconfig(**kwargs)

    if mode == "event":

        @kopf.on.event(*RESOURCE, registry=registry, id=HANDLER_ID)
        def noop(**_: Any) -> None:
            return None

    else:

        @kopf.daemon(*RESOURCE, registry=registry, id=HANDLER_ID)
        async def idle(stopped: kopf.DaemonStopped, **_: Any) -> None:
            await stopped.wait()

    return registry


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--liveness-port", type=int, required=True)
    parser.add_argument("--mode", choices=("event", "daemon"), default="event")
    args = parser.parse_args()
    os.environ["KUBECONFIG"] = args.kubeconfig
    kopf.configure(debug=False, verbose=False, quiet=False, log_format=kopf.LogFormat.FULL)
    logging.getLogger().setLevel(logging.INFO)
    logging.getLogger("kopf.objects").addFilter(QuietHandlerFilter())
    registry = build_registry(args.mode)
    try:
        asyncio.run(
            kopf.operator(
                registry=registry,
                clusterwide=True,
                standalone=True,
                liveness_endpoint=f"http://127.0.0.1:{args.liveness_port}/healthz",
            )
        )
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
