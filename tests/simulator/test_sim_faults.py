"""Latency, rate limiting and fault injection of the Blaxel API simulator (rate 1.0 for determinism)."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from blaxel_operator.simulator import BlaxelSimulator, FaultConfig

from .conftest import agent_body


@pytest.mark.parametrize("kind", ["500", "502", "503", "429"])
async def test_status_faults_before_the_write(
    api: httpx.AsyncClient, sim: BlaxelSimulator, kind: str
) -> None:
    sim.set_faults(rate=1.0, kinds=(kind,), retry_after=2, retry_after_ms=150, error_shape="standard")
    response = await api.post("/agents", json=agent_body("faulty"))
    assert response.status_code == int(kind)
    assert response.json()["error"] and response.json()["code"] == int(kind)
    if kind in ("429", "503"):
        assert response.headers["Retry-After"] == "2"
        assert response.headers["Retry-After-Ms"] == "150"
    else:
        assert "Retry-After" not in response.headers
    sim.clear_faults()
    assert (await api.get("/agents/faulty")).status_code == 404  # nothing happened
    [call] = sim.calls(method="POST")
    assert call.fault == kind and call.fault_phase == "before" and call.status == int(kind)


async def test_fault_after_the_write_took_effect(api: httpx.AsyncClient, sim: BlaxelSimulator) -> None:
    sim.set_faults(rate=1.0, kinds=("500",), phase="after")
    response = await api.post("/agents", json=agent_body("ghost"))
    assert response.status_code == 500
    sim.clear_faults()
    assert (await api.get("/agents/ghost")).status_code == 200  # the write happened anyway
    assert (await api.post("/agents", json=agent_body("ghost"))).status_code == 409
    assert sim.calls(method="POST")[0].fault_phase == "after"


async def test_edge_shaped_error_bodies(api: httpx.AsyncClient, sim: BlaxelSimulator) -> None:
    sim.set_faults(rate=1.0, kinds=("502",), error_shape="edge")
    body = (await api.get("/agents")).json()
    assert body["error"]["code"] == "bad_gateway" and body["error"]["retryable"] is True


async def test_retry_after_headers_can_be_left_out(api: httpx.AsyncClient, sim: BlaxelSimulator) -> None:
    sim.set_faults(rate=1.0, kinds=("429",), retry_after=None, retry_after_ms=None)
    response = await api.get("/agents")
    assert response.status_code == 429
    assert "Retry-After" not in response.headers and "Retry-After-Ms" not in response.headers


async def test_connection_reset(api: httpx.AsyncClient, sim: BlaxelSimulator) -> None:
    sim.set_faults(rate=1.0, kinds=("reset",))
    with pytest.raises(httpx.TransportError):
        await api.get("/agents")
    sim.clear_faults()
    assert (await api.get("/agents")).status_code == 200  # the client reconnects
    assert sim.calls()[0].fault == "reset" and sim.calls()[0].status == 0


async def test_reset_after_the_write(api: httpx.AsyncClient, sim: BlaxelSimulator) -> None:
    sim.set_faults(rate=1.0, kinds=("reset",), phase="after", methods=("PUT",))
    await api.post("/agents", json=agent_body("reset-after"))
    with pytest.raises(httpx.TransportError):
        await api.put("/agents/reset-after", json=agent_body("reset-after", runtime={"memory": 1024}))
    sim.clear_faults()
    assert (await api.get("/agents/reset-after")).json()["spec"]["runtime"]["memory"] == 1024


async def test_timeout_holds_the_request_past_the_client_timeout(
    api: httpx.AsyncClient, sim: BlaxelSimulator
) -> None:
    sim.set_faults(rate=1.0, kinds=("timeout",), timeout_seconds=30)
    started = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        await api.get("/agents", timeout=0.3)
    assert time.monotonic() - started < 5
    assert sim.calls()[0].fault == "timeout"


async def test_a_short_timeout_fault_answers_504(api: httpx.AsyncClient, sim: BlaxelSimulator) -> None:
    sim.set_faults(rate=1.0, kinds=("timeout",), timeout_seconds=0.1)
    response = await api.get("/agents")
    assert response.status_code == 504
    assert response.json()["error"]["code"] == "gateway_timeout"


async def test_stop_releases_requests_held_by_timeouts(sim: BlaxelSimulator) -> None:
    sim.set_faults(rate=1.0, kinds=("timeout",), timeout_seconds=30)
    async with httpx.AsyncClient(base_url=sim.url, headers=sim.headers(), timeout=20) as client:
        pending = asyncio.create_task(client.get("/agents"))
        deadline = time.monotonic() + 5
        while not sim.calls():
            assert time.monotonic() < deadline, "the request never arrived"
            await asyncio.sleep(0.01)
        started = time.monotonic()
        await sim.stop()
        with pytest.raises(httpx.TransportError):
            await pending
        assert time.monotonic() - started < 5


async def test_fault_filters_and_max_count(api: httpx.AsyncClient, sim: BlaxelSimulator) -> None:
    sim.set_faults(FaultConfig(rate=1.0, kinds=("503",), methods=("PUT",), agents=("target",), max_count=2))
    await api.post("/agents", json=agent_body("target"))
    await api.post("/agents", json=agent_body("other"))
    assert (await api.put("/agents/other", json=agent_body("other"))).status_code == 200
    assert (await api.get("/agents/target")).status_code == 200
    codes = [(await api.put("/agents/target", json=agent_body("target"))).status_code for _ in range(3)]
    assert codes == [503, 503, 200]
    assert sim.faults_injected == 2


async def test_fault_rate_is_a_probability(api: httpx.AsyncClient, sim: BlaxelSimulator) -> None:
    sim.set_faults(rate=0.5, kinds=("500",))
    codes = [(await api.get("/agents")).status_code for _ in range(200)]
    assert 60 < codes.count(500) < 140
    assert set(codes) == {200, 500}


async def test_each_kind_is_drawn(api: httpx.AsyncClient, sim: BlaxelSimulator) -> None:
    sim.set_faults(rate=1.0, kinds=("500", "502", "503", "429", "reset"))
    outcomes: set[str] = set()
    for _ in range(60):
        try:
            outcomes.add(str((await api.get("/agents")).status_code))
        except httpx.TransportError:
            outcomes.add("reset")
    assert outcomes == {"500", "502", "503", "429", "reset"}


async def test_latency(api: httpx.AsyncClient, sim: BlaxelSimulator) -> None:
    sim.set_latency(0.2, jitter=0.05)
    started = time.monotonic()
    await api.get("/agents")
    elapsed = time.monotonic() - started
    assert 0.2 <= elapsed < 2


async def test_token_bucket_rate_limit(api: httpx.AsyncClient, sim: BlaxelSimulator) -> None:
    sim.set_rate_limit(1.0, burst=3)
    codes = [(await api.get("/agents")).status_code for _ in range(5)]
    assert codes[:3] == [200, 200, 200]
    assert 429 in codes[3:]
    limited = await api.get("/agents")
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) >= 1
    assert 0 < int(limited.headers["Retry-After-Ms"]) <= 1000
    assert sim.calls()[-1].fault == "rate_limit"
    # other keys have their own bucket; admin calls are never limited
    other = await api.get(
        "/agents", headers={"Authorization": "Bearer other-key", "X-Blaxel-Workspace": "elsewhere"}
    )
    assert other.status_code == 200
    # the bucket refills with time: a poll with a deadline gets through again
    deadline = time.monotonic() + 5
    while (await api.get("/agents")).status_code == 429:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)


def test_fault_config_validation() -> None:
    with pytest.raises(ValueError, match="rate"):
        FaultConfig(rate=1.5)
    with pytest.raises(ValueError, match="kinds"):
        FaultConfig(rate=0.1, kinds=("418",))
    with pytest.raises(ValueError, match="phase"):
        FaultConfig(phase="during")
    assert FaultConfig.from_dict({"rate": 1, "kinds": "500,reset"}).kinds == ("500", "reset")
    with pytest.raises(ValueError, match="unknown"):
        FaultConfig.from_dict({"rate": 1, "sometimes": True})
