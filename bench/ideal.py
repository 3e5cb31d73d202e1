"""The bench's near-ideal client: what any controller must do to take BlaxelAgents to Ready, and no more.

It watches BlaxelAgents on the Kubernetes API, POSTs each new one to Blaxel at once (C calls in flight, as
the operator's --max-inflight), observes them with Blaxel's list pages (200 agents a call) every poll
interval until they are DEPLOYED, and writes each agent's status once (Ready=True). No Kopf, no
finalizer, no observation before the POST, no status write before Ready, no retries: the yardstick the
operator's convergence is measured against, side by side on the same emulator and simulator.

    python bench/ideal.py --kube-url URL --api-url URL --api-key KEY --workspace WS \
        [--max-inflight 10] [--poll-interval 1] [--ready-file PATH]

The ready file is written once the watch is connected (the bench waits for it before the apply).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import time
from pathlib import Path
from typing import Any

import aiohttp

GROUP, VERSION, PLURAL = "blaxel.ai", "v1alpha1", "blaxelagents"
PAGE = 200
BLAXEL_VERSION = "2026-04-28"  # the first API version with cursor paging of lists


class IdealClient:
    def __init__(self, args: argparse.Namespace) -> None:
        self.kube_url = args.kube_url.rstrip("/")
        self.api_url = args.api_url.rstrip("/")
        self.headers = {
            "Authorization": f"Bearer {args.api_key}",
            "X-Blaxel-Workspace": args.workspace,
            "Blaxel-Version": BLAXEL_VERSION,
        }
        self.slots = asyncio.Semaphore(args.max_inflight)
        self.poll_interval = args.poll_interval
        self.ready_file: Path | None = Path(args.ready_file) if args.ready_file else None
        # remote name -> (namespace, name, generation) of the agents POSTed and not yet written Ready
        self.waiting: dict[str, tuple[str, str, int]] = {}
        self.seen: set[tuple[str, str]] = set()
        self.tasks: set[asyncio.Task[None]] = set()
        self.wake = asyncio.Event()

    def spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def run(self) -> None:
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector) as self.http:
            self.spawn(self.observe())
            await self.watch()

    async def watch(self) -> None:
        url = f"{self.kube_url}/apis/{GROUP}/{VERSION}/{PLURAL}"
        params = {"watch": "true", "timeoutSeconds": "3600"}
        async with self.http.get(url, params=params, timeout=aiohttp.ClientTimeout(total=None)) as response:
            response.raise_for_status()
            if self.ready_file is not None:
                self.ready_file.write_text("watching\n")
            async for line in response.content:
                if line.strip():
                    self.on_event(json.loads(line))

    def on_event(self, event: dict[str, Any]) -> None:
        obj = event.get("object") or {}
        meta = obj.get("metadata") or {}
        key = (str(meta.get("namespace")), str(meta.get("name")))
        if event.get("type") != "ADDED" or key in self.seen:
            return
        self.seen.add(key)
        self.spawn(self.create(key[0], key[1], int(meta.get("generation") or 1), obj.get("spec") or {}))

    async def create(self, namespace: str, name: str, generation: int, spec: dict[str, Any]) -> None:
        payload = {
            "metadata": {"name": name, "labels": {"managed-by": "ideal-client"}},
            "spec": {"runtime": spec.get("runtime") or {}, "enabled": True, "public": False},
        }
        async with (
            self.slots,
            self.http.post(f"{self.api_url}/agents", json=payload, headers=self.headers) as r,
        ):
            if r.status >= 300:
                print(f"POST {name}: {r.status} {(await r.text())[:200]}", flush=True)
                return
            await r.read()
        self.waiting[name] = (namespace, name, generation)
        self.wake.set()

    async def observe(self) -> None:
        while True:
            if not self.waiting:
                self.wake.clear()
                await self.wake.wait()
            started = time.monotonic()
            for remote in await self.list_all():
                meta = remote.get("metadata") or {}
                name = str(meta.get("name") or "")
                if name in self.waiting and (remote.get("status") or "") == "DEPLOYED":
                    self.spawn(self.write_ready(*self.waiting.pop(name)))
            await asyncio.sleep(max(0.0, self.poll_interval - (time.monotonic() - started)))

    async def list_all(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            params = {"limit": str(PAGE), **({"cursor": cursor} if cursor else {})}
            async with (
                self.slots,
                self.http.get(f"{self.api_url}/agents", params=params, headers=self.headers) as response,
            ):
                body = await response.json()
            if isinstance(body, list):
                return items + body
            items += body.get("data") or []
            meta = body.get("meta") or {}
            cursor = meta.get("nextCursor")
            if not meta.get("hasMore") or not cursor:
                return items

    async def write_ready(self, namespace: str, name: str, generation: int) -> None:
        url = f"{self.kube_url}/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{PLURAL}/{name}/status"
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        ready = {
            "type": "Ready",
            "status": "True",
            "reason": "Deployed",
            "message": "deployed",
            "lastTransitionTime": now,
            "observedGeneration": generation,
        }
        patch = {"status": {"observedGeneration": generation, "conditions": [ready]}}
        headers = {"Content-Type": "application/merge-patch+json"}
        async with self.http.patch(url, data=json.dumps(patch), headers=headers) as response:
            if response.status >= 300:
                print(f"status of {name}: {response.status} {(await response.text())[:200]}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--kube-url", required=True)
    parser.add_argument("--api-url", required=True)
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--workspace", required=True)
    parser.add_argument("--max-inflight", type=int, default=10)
    parser.add_argument("--poll-interval", type=float, default=1.0)
    parser.add_argument("--ready-file")
    args = parser.parse_args()

    async def run() -> None:
        loop = asyncio.get_running_loop()
        main_task = asyncio.current_task()
        assert main_task is not None
        loop.add_signal_handler(signal.SIGTERM, main_task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await IdealClient(args).run()

    asyncio.run(run())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
