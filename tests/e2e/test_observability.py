"""Metrics, readiness and liveness of the operator process, scraped while agents reconcile."""

from __future__ import annotations

import re

import httpx

from blaxel_devkit.harness import KubeClient, wait_for
from blaxel_operator.simulator import BlaxelSimulator

from .conftest import StartOperator, wait_ready


def sample(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(re.search(rf'{k}="{re.escape(v)}"', line) for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


async def test_metrics_move_while_agents_reconcile(
    k: KubeClient, sim: BlaxelSimulator, start_operator: StartOperator
) -> None:
    op = await start_operator()
    before = await op.metrics()
    await k.create_agent("default", "m1", {"runtime": {"image": "a/b:1"}})
    await k.create_agent("default", "m2", {"runtime": {"image": "a/b:1"}})
    await wait_ready(k, "default", "m1")
    await wait_ready(k, "default", "m2")
    after = await op.metrics()
    assert sample(after, "blaxel_operator_api_requests_total", method="POST", code="200") == 2
    assert sample(after, "blaxel_operator_api_requests_total", method="GET") > sample(
        before, "blaxel_operator_api_requests_total", method="GET"
    )
    assert sample(after, "blaxel_operator_reconciles_total", result="success") >= 2
    assert sample(after, "blaxel_operator_api_request_duration_seconds_count", method="POST") == 2
    assert sample(after, "blaxel_operator_resources", status="DEPLOYED") == 2
    assert sample(after, "blaxel_operator_kube_status_writes_total") >= 2
    async with httpx.AsyncClient() as http:
        ready = await http.get(f"http://127.0.0.1:{op.metrics_port}/readyz")
        live = await http.get(f"http://127.0.0.1:{op.health_port}/healthz")
    assert ready.status_code == 200 and live.status_code == 200


async def test_readiness_needs_a_reachable_blaxel(start_operator: StartOperator) -> None:
    unreachable = await start_operator(env={"BL_API_URL": "http://127.0.0.1:9/v0"})
    reachable = await start_operator()
    async with httpx.AsyncClient() as http:
        down = await http.get(f"http://127.0.0.1:{unreachable.metrics_port}/readyz")

        async def up() -> bool:
            response = await http.get(f"http://127.0.0.1:{reachable.metrics_port}/readyz")
            return response.status_code == 200

        await wait_for(up, timeout=10, what="readiness of the operator that reaches Blaxel")
    assert down.status_code == 503
