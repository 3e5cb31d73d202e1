"""Hands freed heap memory back to the system now and then (glibc's malloc_trim).

Large allocations (watch event lines, HTTP answers: beyond Python's small-object allocator) go to glibc,
whose heaps keep freed chunks mapped between long-lived objects: after a burst of thousands of reconciles
the resident size stays at its peak. malloc_trim returns those pages (madvise), in a few milliseconds.
A no-op where the C library is not glibc."""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import logging
from collections.abc import Callable

log = logging.getLogger(__name__)

INTERVAL = 10.0  # seconds between trims


def malloc_trim() -> Callable[[], object] | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        trim: Callable[[int], object] = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    return lambda: trim(0)


async def keep_trimming(every: float = INTERVAL) -> None:
    trim = malloc_trim()
    if trim is None:
        log.debug("malloc_trim is not available: freed heap memory stays with the process")
        return
    while True:
        await asyncio.sleep(every)
        trim()
