"""The operator's pacing toward Blaxel, measured at the simulator (issue 14, item 6): the reconciler
waits for a 429's Retry-After, and `--rate-limit`/`--rate-burst` and `--max-inflight` hold."""

from __future__ import annotations

import asyncio

from blaxel_devkit.harness import KubeClient, wait_for
from blaxel_operator.simulator import BlaxelSimulator
from blaxel_operator.simulator.measure import max_in_flight, rate_violations

from .conftest import StartOperator, wait_ready

SPEC = {"runtime": {"image": "acme/bot:1", "memory": 2048}}


async def calls_at_least(sim: BlaxelSimulator, count: int, timeout: float = 30) -> None:
    def enough() -> bool:
        return len([c for c in sim.calls() if c.status is not None]) >= count

    await wait_for(lambda: asyncio.sleep(0, enough()), timeout=timeout, what=f"{count} calls answered")


async def test_the_reconciler_waits_for_retry_after_on_a_429(
    k: KubeClient, sim: BlaxelSimulator, start_operator: StartOperator
) -> None:
    # A POST is not retried inside the client: the reconciler's backoff decides, ~1 s without the
    # header (base 1 s, jitter 0.8-1.2), so a gap of 3 s shows that Retry-After was honoured.
    sim.set_faults(
        rate=1.0, kinds=("429",), methods=("POST",), max_count=1, retry_after=3, retry_after_ms=None
    )
    await start_operator()
    await k.create_agent("default", "bot", SPEC)
    await wait_ready(k, "default", "bot")
    first, second = sim.calls(method="POST")
    assert (first.status, second.status) == (429, 200)
    assert second.time - (first.time + first.duration) >= 3.0


async def test_rate_limit_holds_at_the_simulator(
    k: KubeClient, sim: BlaxelSimulator, start_operator: StartOperator
) -> None:
    rate, burst = 8.0, 2
    await start_operator("--rate-limit", str(rate), "--rate-burst", str(burst))
    for i in range(10):  # ten POSTs at once, then their polls: far more than 8 per second unpaced
        await k.create_agent("default", f"bot-{i}", SPEC)
    await calls_at_least(sim, 24)
    calls = sim.calls()
    assert rate_violations(calls, rate, burst) == []
    assert len(sim.calls(method="POST")) >= 10  # the burst of creations was part of what was measured


async def test_max_inflight_holds_at_the_simulator(
    k: KubeClient, sim: BlaxelSimulator, start_operator: StartOperator
) -> None:
    sim.set_latency(0.3)  # each call is held, so that unbounded calls would overlap
    await start_operator("--max-inflight", "2", "--rate-limit", "0")
    for i in range(8):
        await k.create_agent("default", f"bot-{i}", SPEC)
    await calls_at_least(sim, 12)
    assert max_in_flight(sim.calls()) == 2  # reached, never exceeded
