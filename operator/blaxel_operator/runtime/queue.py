"""A work queue of object keys with due times, drained by a bounded pool of workers (as
controller-runtime does), instead of a daemon per object: idle objects cost a heap entry, not a task.

A key is never processed twice at once; a key added while it is being processed is processed again
right after (its newer trigger must not be lost).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)

# Processes one key; returns the delay until it is due again, or None to leave it unscheduled.
Process = Callable[[K], Awaitable[float | None]]


class WorkQueue(Generic[K]):
    def __init__(
        self, process: Process[K], workers: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.process = process
        self.clock = clock
        self.due: dict[K, float] = {}
        self.heap: list[tuple[float, int, K]] = []
        self.seq = itertools.count()
        self.active: set[K] = set()
        self.dirty: set[K] = set()
        self.changed = asyncio.Event()
        self.slots = asyncio.Semaphore(max(1, workers))
        self.tasks: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        return len(self.due)

    def add(self, key: K, delay: float = 0.0) -> None:
        """Due in `delay` seconds, or earlier if it already is."""
        if key in self.active and delay <= 0:
            self.dirty.add(key)
            return
        when = self.clock() + max(0.0, delay)
        current = self.due.get(key)
        if current is not None and current <= when:
            return
        self.due[key] = when
        heapq.heappush(self.heap, (when, next(self.seq), key))
        if self.heap[0][2] == key:
            self.changed.set()

    def discard(self, key: K) -> None:
        self.due.pop(key, None)  # its heap entry goes stale and is skipped
        self.dirty.discard(key)

    def _pop_due(self) -> tuple[K | None, float | None]:
        """The next due key, or (None, seconds until the next one is due)."""
        while self.heap:
            when, _, key = self.heap[0]
            if self.due.get(key) != when:
                heapq.heappop(self.heap)  # stale: rescheduled or discarded
                continue
            wait = when - self.clock()
            if wait > 0:
                return None, wait
            heapq.heappop(self.heap)
            del self.due[key]
            if key in self.active:
                self.dirty.add(key)
                continue
            return key, None
        return None, None

    async def run(self) -> None:
        try:
            while True:
                key, wait = self._pop_due()
                if key is None:
                    self.changed.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.changed.wait(), timeout=wait)
                    continue
                await self.slots.acquire()
                self.active.add(key)
                task = asyncio.create_task(self._work(key))
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)
        finally:
            for task in list(self.tasks):
                task.cancel()
            for task in list(self.tasks):
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _work(self, key: K) -> None:
        delay: float | None = None
        try:
            delay = await self.process(key)
        except asyncio.CancelledError:
            raise
        except Exception:  # the queue must survive anything; the processor reports its own errors
            log.exception("processing %s failed", key)
            delay = 5.0
        finally:
            self.active.discard(key)
            self.slots.release()
        if key in self.dirty:
            self.dirty.discard(key)
            delay = 0.0
        if delay is not None:
            self.add(key, delay)
