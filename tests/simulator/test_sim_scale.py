"""The simulator stays fast with the 1000 agents the benchmarks run through it."""

from __future__ import annotations

import asyncio
import time

import httpx

from blaxel_operator.simulator import BlaxelSimulator

from .conftest import PAGINATED, agent_body

COUNT = 1000


async def test_a_thousand_agents_over_http(sim: BlaxelSimulator) -> None:
    sim.set_step(0.01)
    limits = httpx.Limits(max_connections=20)
    async with httpx.AsyncClient(base_url=sim.url, headers=sim.headers(), limits=limits, timeout=30) as api:
        started = time.monotonic()
        semaphore = asyncio.Semaphore(20)

        async def create(index: int) -> int:
            body = agent_body(
                f"bench-{index:04d}", runtime={"envs": [{"name": "K", "value": "v", "secret": True}]}
            )
            async with semaphore:
                return (await api.post("/agents", json=body)).status_code

        codes = await asyncio.gather(*(create(i) for i in range(COUNT)))
        assert set(codes) == {200}
        bare = await api.get("/agents")
        assert len(bare.json()) == COUNT
        seen = 0
        params: dict[str, str] = {"limit": "200"}
        while True:
            body = (await api.get("/agents", headers=PAGINATED, params=params)).json()
            seen += len(body["data"])
            if not body["meta"]["hasMore"]:
                break
            params["cursor"] = body["meta"]["nextCursor"]
        assert seen == COUNT
        elapsed = time.monotonic() - started
    assert elapsed < 20, f"1000 creates and listings took {elapsed:.1f}s"
    sim.advance(1)
    assert {sim.status_of(f"bench-{i:04d}") for i in range(COUNT)} == {"DEPLOYED"}
