"""The Kubernetes API emulator for the bench, in its own process, plus a request-counter endpoint.

Runs exactly what ``python -m blaxel_operator.devkit.kube`` runs (same class, same options), and serves
the emulator's write counters (``write_counts`` / ``object_write_counts`` / ``request_count``) as JSON on a
*separate* loopback port, ``GET /counters``. The emulator has no HTTP endpoint for them yet; this keeps the
bench's debug surface out of the emulator's API (nothing is added to the Kubernetes paths it serves).

    python bench/kube_server.py --port 0 --crds crds --kubeconfig /tmp/kc --counters-port 0 \
        --ready-file /tmp/ready.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
from pathlib import Path
from typing import Any

from aiohttp import web

from blaxel_operator.devkit.kube import KubeEmulator, add_arguments


def counters(emulator: KubeEmulator) -> dict[str, Any]:
    return {
        "request_count": emulator.request_count,
        "resource_version": emulator.resource_version,
        "writes": [
            {"method": m, "plural": p, "subresource": s, "count": c}
            for (m, p, s), c in emulator.write_counts.items()
        ],
        "object_writes": [
            {"plural": p, "namespace": ns, "name": n, "count": c}
            for (p, ns, n), c in emulator.object_write_counts.items()
        ],
    }


async def serve(args: argparse.Namespace) -> None:
    emulator = KubeEmulator(
        crds_dirs=args.crds,
        bookmark_interval=args.bookmark_interval,
        history_size=args.history_size,
        kopf_peering=not args.no_kopf_peering,
    )
    url = await emulator.start(args.host, args.port)
    if args.kubeconfig:
        emulator.write_kubeconfig(args.kubeconfig, args.namespace)

    async def get_counters(_: web.Request) -> web.Response:
        return web.json_response(counters(emulator))

    async def reset_counters(_: web.Request) -> web.Response:
        emulator.reset_counters()
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_get("/counters", get_counters)
    app.router.add_delete("/counters", reset_counters)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", args.counters_port)
    await site.start()
    counters_url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    if args.ready_file:
        target = Path(args.ready_file)
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_text(json.dumps({"url": url, "counters_url": counters_url}))
        tmp.replace(target)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
        await emulator.stop()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_arguments(parser)
    parser.add_argument("--counters-port", type=int, default=0, help="loopback port of GET /counters")
    parser.add_argument("--ready-file", help="write {url, counters_url} as JSON here once listening")
    asyncio.run(serve(parser.parse_args()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
