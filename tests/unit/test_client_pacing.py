"""The client's pacing toward Blaxel, measured where it matters: at the simulator (issue 14, item 6).

Retry-After on a 429 is honoured by the client's own retry; the token bucket keeps calls within rate
plus burst; at most `max_inflight` calls are in flight."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from blaxel_operator.blaxel.client import BlaxelApi, Credentials, ExternalClient
from blaxel_operator.blaxel.errors import RateLimited
from blaxel_operator.simulator import BlaxelSimulator, SimulatorConfig
from blaxel_operator.simulator.measure import max_in_flight, rate_violations

SLACK = 0.03  # clock reads at the simulator


@pytest.fixture
async def sim() -> AsyncIterator[BlaxelSimulator]:
    async with BlaxelSimulator(SimulatorConfig(step_seconds=0.1)) as simulator:
        yield simulator


def creds(sim: BlaxelSimulator) -> Credentials:
    return Credentials(sim.api_key, sim.workspace)


@pytest.mark.parametrize(
    ("retry_after", "retry_after_ms", "wait"), [(None, 900, 0.9), (1, None, 1.0)], ids=["ms", "seconds"]
)
async def test_the_client_retry_waits_for_retry_after(
    sim: BlaxelSimulator, retry_after: int | None, retry_after_ms: int | None, wait: float
) -> None:
    # Without the header the retry would come after 0.25-0.5 s: below `wait`, so the gap tells.
    sim.set_faults(
        rate=1.0,
        kinds=("429",),
        methods=("GET",),
        max_count=1,
        retry_after=retry_after,
        retry_after_ms=retry_after_ms,
    )
    api = BlaxelApi(sim.url, rate=0)
    try:
        assert await ExternalClient(api, "agents").observe(creds(sim), "nobody") is None
    finally:
        await api.close()
    first, second = sim.calls(method="GET")
    assert (first.status, first.fault, second.status) == (429, "429", 404)
    assert second.time - (first.time + first.duration) >= wait - SLACK


async def test_a_long_retry_after_is_left_to_the_reconciler(sim: BlaxelSimulator) -> None:
    sim.set_faults(
        rate=1.0, kinds=("429",), methods=("GET",), max_count=1, retry_after=30, retry_after_ms=None
    )
    api = BlaxelApi(sim.url, rate=0)
    try:
        with pytest.raises(RateLimited) as caught:
            await ExternalClient(api, "agents").observe(creds(sim), "nobody")
    finally:
        await api.close()
    assert caught.value.retry_after == 30
    assert len(sim.calls()) == 1  # not held for 30 s inside one request


async def test_the_token_bucket_keeps_calls_within_rate_and_burst(sim: BlaxelSimulator) -> None:
    rate, burst, count = 20.0, 3, 15
    api = BlaxelApi(sim.url, rate=rate, burst=burst, max_inflight=count)
    external = ExternalClient(api, "agents")
    try:
        await asyncio.gather(*(external.observe(creds(sim), f"a{i}") for i in range(count)))
    finally:
        await api.close()
    calls = sim.calls()
    assert len(calls) == count
    assert rate_violations(calls, rate, burst) == []
    times = sorted(c.time for c in calls)
    assert times[-1] - times[0] >= (count - burst) / rate - 0.1  # ~0.6 s: the bucket did the pacing


async def test_calls_in_flight_never_exceed_max_inflight(sim: BlaxelSimulator) -> None:
    sim.set_latency(0.15)
    api = BlaxelApi(sim.url, rate=0, max_inflight=3)
    external = ExternalClient(api, "agents")
    try:
        await asyncio.gather(*(external.observe(creds(sim), f"a{i}") for i in range(12)))
    finally:
        await api.close()
    calls = sim.calls()
    assert len(calls) == 12
    assert max_in_flight(calls) == 3  # reached, never exceeded
