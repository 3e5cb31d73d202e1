"""The client's limits toward Blaxel: writes go first for an in-flight slot; Retry-After parsing."""

from __future__ import annotations

import asyncio

import pytest

from blaxel_devkit.harness import wait_for
from blaxel_operator.blaxel.client import PrioritySlots, parse_retry_after


async def queued(slots: PrioritySlots, count: int) -> None:
    async def enough() -> bool:
        return len(slots.waiters) >= count

    await wait_for(enough, timeout=5, interval=0, what=f"{count} waiters")


async def test_waiting_writes_are_served_before_waiting_reads() -> None:
    slots = PrioritySlots(1)
    await slots.acquire(1)  # held by a read
    order: list[str] = []

    async def take(name: str, priority: int) -> None:
        await slots.acquire(priority)
        order.append(name)
        slots.release()

    tasks = [asyncio.create_task(take("read-1", 1)), asyncio.create_task(take("read-2", 1))]
    await queued(slots, 2)
    tasks.append(asyncio.create_task(take("write", 0)))
    await queued(slots, 3)
    slots.release()
    await asyncio.gather(*tasks)
    assert order == ["write", "read-1", "read-2"]


async def test_a_cancelled_waiter_does_not_leak_its_slot() -> None:
    slots = PrioritySlots(1)
    await slots.acquire(0)
    waiter = asyncio.create_task(slots.acquire(0))
    await queued(slots, 1)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    slots.release()
    await asyncio.wait_for(slots.acquire(0), 1)  # the slot is free again


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after-ms": "1500", "retry-after": "9"}, 1.5),
        ({"retry-after": "3"}, 3.0),
        ({"retry-after": "soon"}, None),
        ({}, None),
    ],
)
def test_retry_after(headers: dict[str, str], expected: float | None) -> None:
    assert parse_retry_after(headers) == expected
