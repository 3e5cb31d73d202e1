"""Follow BlaxelAgents through a watch stream on the emulator: Ready times and effective writes.

Ready means `Ready=True` with `status.observedGeneration == metadata.generation`. Every MODIFIED event is
one effective write (a resourceVersion bump; no-op writes emit nothing); comparing an event with the
previous version of the object tells whether the status or the rest (metadata/spec) changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx

GROUP, VERSION, PLURAL = "blaxel.ai", "v1alpha1", "blaxelagents"


def is_ready(obj: dict[str, Any]) -> bool:
    status = obj.get("status") or {}
    meta = obj.get("metadata") or {}
    for cond in status.get("conditions") or []:
        if cond.get("type") == "Ready":
            return bool(
                cond.get("status") == "True" and status.get("observedGeneration") == meta.get("generation")
            )
    return False


def _rest(obj: dict[str, Any]) -> dict[str, Any]:
    meta = {
        k: v for k, v in (obj.get("metadata") or {}).items() if k not in ("resourceVersion", "managedFields")
    }
    return {"metadata": meta, "spec": obj.get("spec")}


class ReadyTracker:
    """Runs a cluster-wide watch of BlaxelAgents in the background."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self.objects: dict[str, dict[str, Any]] = {}
        self.ready_now: set[str] = set()
        self.first_ready_wall: dict[str, float] = {}  # time.time() of the first Ready event
        self.first_ready_mono: dict[str, float] = {}
        self.finalizer_wall: dict[str, float] = {}  # time.time() when the operator's finalizer showed up
        # effective writes seen before the object's first Ready (inclusive) and in total
        self.status_writes_to_ready: Counter[str] = Counter()
        self.other_writes_to_ready: Counter[str] = Counter()
        self.status_writes: Counter[str] = Counter()
        self.other_writes: Counter[str] = Counter()
        self.events = 0
        self._changed = asyncio.Event()
        self._connected = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run())
        await asyncio.wait_for(self._connected.wait(), 30)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, httpx.HTTPError):
                await self._task

    async def _run(self) -> None:
        path = f"{self.url}/apis/{GROUP}/{VERSION}/{PLURAL}"
        params = {"watch": "true", "allowWatchBookmarks": "true", "timeoutSeconds": "3600"}
        async with (
            httpx.AsyncClient(timeout=httpx.Timeout(10.0, read=None)) as http,
            http.stream("GET", path, params=params) as response,
        ):
            response.raise_for_status()
            self._connected.set()
            async for line in response.aiter_lines():
                if line.strip():
                    self._on_event(json.loads(line))

    def _on_event(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        obj = event.get("object") or {}
        if kind not in ("ADDED", "MODIFIED", "DELETED"):
            return
        self.events += 1
        meta = obj.get("metadata") or {}
        key = f"{meta.get('namespace')}/{meta.get('name')}"
        previous = self.objects.get(key)
        if kind == "DELETED":
            self.objects.pop(key, None)
            self.ready_now.discard(key)
            self._changed.set()
            return
        self.objects[key] = obj
        if key not in self.finalizer_wall and meta.get("finalizers"):
            self.finalizer_wall[key] = time.time()
        if kind == "MODIFIED" and previous is not None:
            status_changed = obj.get("status") != previous.get("status")
            other_changed = _rest(obj) != _rest(previous)
            before_ready = key not in self.first_ready_wall
            if status_changed:
                self.status_writes[key] += 1
                if before_ready:
                    self.status_writes_to_ready[key] += 1
            if other_changed or not status_changed:
                self.other_writes[key] += 1
                if before_ready:
                    self.other_writes_to_ready[key] += 1
        if is_ready(obj):
            if key not in self.first_ready_wall:
                self.first_ready_wall[key] = time.time()
                self.first_ready_mono[key] = time.monotonic()
            self.ready_now.add(key)
        else:
            self.ready_now.discard(key)
        self._changed.set()

    async def wait_until(self, predicate: Callable[[], bool], timeout: float, what: str) -> float:
        """Wait until `predicate()` holds (re-checked on every event); return time.monotonic() then."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if self._task is not None and self._task.done():
                self._task.result()
                raise RuntimeError("the watch stream ended")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"{what} not reached after {timeout:.0f}s ({len(self.ready_now)} Ready)")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(remaining, 1.0))
        return time.monotonic()

    async def wait_ready(self, count: int, timeout: float) -> float:
        """Wait until `count` objects are Ready at once; return time.monotonic() of that moment."""
        return await self.wait_until(lambda: len(self.ready_now) >= count, timeout, f"{count} Ready")
