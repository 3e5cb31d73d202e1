"""The work queue: due times, one worker per key at a time, triggers during processing kept."""

from __future__ import annotations

import asyncio

from blaxel_operator.runtime.queue import WorkQueue


async def run_until(queue: WorkQueue[str], done: asyncio.Event, timeout: float = 5.0) -> None:
    runner = asyncio.create_task(queue.run())
    try:
        await asyncio.wait_for(done.wait(), timeout)
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)


async def test_due_order_and_rescheduling() -> None:
    seen: list[str] = []
    done = asyncio.Event()

    async def process(key: str) -> float | None:
        seen.append(key)
        if len(seen) == 4:
            done.set()
        return 0.01 if key == "a" and seen.count("a") < 3 else None

    queue: WorkQueue[str] = WorkQueue(process, workers=1)
    queue.add("b", 0.05)
    queue.add("a", 0.0)
    await run_until(queue, done)
    assert seen[0] == "a" and seen.count("a") == 3 and "b" in seen


async def test_earlier_due_time_wins_and_discard_drops() -> None:
    seen: list[str] = []
    done = asyncio.Event()

    async def process(key: str) -> float | None:
        seen.append(key)
        done.set()
        return None

    queue: WorkQueue[str] = WorkQueue(process, workers=2)
    queue.add("a", 60.0)
    queue.add("a", 0.0)  # a trigger makes it due now
    queue.add("gone", 0.0)
    queue.discard("gone")
    assert len(queue) == 1
    await run_until(queue, done)
    assert seen == ["a"]


async def test_a_key_is_never_processed_twice_at_once_and_a_trigger_meanwhile_is_kept() -> None:
    running = 0
    peak = 0
    calls = 0
    release = asyncio.Event()
    done = asyncio.Event()
    queue: WorkQueue[str]

    async def process(key: str) -> float | None:
        nonlocal running, peak, calls
        calls += 1
        running += 1
        peak = max(peak, running)
        if calls == 1:
            queue.add(key, 0.0)  # a new trigger arrives while it is processed
            await release.wait()
        running -= 1
        if calls == 2:
            done.set()
        return None

    queue = WorkQueue(process, workers=4)
    queue.add("a")
    runner = asyncio.create_task(queue.run())
    await asyncio.sleep(0)  # ok: lets the worker start; the assertions below wait for conditions
    release.set()
    await asyncio.wait_for(done.wait(), 5)
    runner.cancel()
    await asyncio.gather(runner, return_exceptions=True)
    assert peak == 1 and calls == 2


async def test_workers_bound_concurrency_and_errors_do_not_stop_the_queue() -> None:
    running = 0
    peak = 0
    finished = 0
    done = asyncio.Event()

    async def process(key: str) -> float | None:
        nonlocal running, peak, finished
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.01)  # ok: simulated work, not synchronisation
        running -= 1
        finished += 1
        if finished == 6:
            done.set()
        if key == "k0":
            raise RuntimeError("boom")
        return None

    queue: WorkQueue[str] = WorkQueue(process, workers=2)
    for i in range(6):
        queue.add(f"k{i}")
    await run_until(queue, done)
    assert peak == 2
