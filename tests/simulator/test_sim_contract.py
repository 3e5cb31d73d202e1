"""Contract: the simulator's requests and responses against Blaxel's published OpenAPI description.

The description (``../shared/blaxel/controlplane.yml`` beside the repository) is not part of the
project; these tests skip, saying so, where it is absent.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from blaxel_operator.simulator import BlaxelSimulator

from .conftest import PAGINATED, OpenApiContract

FULL_AGENT: dict[str, Any] = {
    "metadata": {
        "name": "contract",
        "displayName": "Contract Agent",
        "externalId": "c-1",
        "labels": {"a": "b"},
    },
    "spec": {
        "enabled": True,
        "policies": ["p1"],
        "public": False,
        "region": "us-pdx-1",
        "repository": {"type": "github", "url": "https://github.com/acme/agent"},
        "revision": {"canaryPercent": 0, "stickySessionTtl": 0, "traffic": 100},
        "runtime": {
            "envs": [{"name": "A", "value": "1"}, {"name": "S", "value": "x", "secret": True}],
            "generation": "mk3",
            "image": "registry/agent:1",
            "maxScale": 5,
            "memory": 2048,
            "minScale": 0,
        },
        "triggers": [
            {"type": "http", "configuration": {"path": "/invoke", "authenticationType": "blaxel"}},
            {
                "id": "async",
                "type": "http-async",
                "configuration": {"callbackUrl": "https://e.x/cb", "timeout": 300},
            },
            {
                "type": "cron",
                "enabled": False,
                "configuration": {"schedule": "0 * * * *", "tasks": [{"a": 1}]},
            },
        ],
        "volumes": [
            {"name": "data", "mountPath": "/data", "readOnly": False, "type": "persistent"},
            {"name": "scratch", "mountPath": "/tmp", "type": "ephemeral", "sizeMb": 256},
        ],
    },
}


def test_the_description_declares_what_the_simulator_serves(contract: OpenApiContract) -> None:
    for method, path in [
        ("GET", "/agents"),
        ("POST", "/agents"),
        ("GET", "/agents/x"),
        ("PUT", "/agents/x"),
        ("DELETE", "/agents/x"),
        ("GET", "/agents/x/revisions"),
    ]:
        contract.operation(method, path)
    assert "DEPLOYED" in contract.schemas["Status"]["enum"]


def test_the_contract_check_can_fail(contract: OpenApiContract) -> None:
    agent = contract.component("Agent", "response")
    with pytest.raises(AssertionError, match="violates"):
        contract.check({"metadata": {"name": "x"}, "spec": {"invented": 1}}, agent, "sample")
    with pytest.raises(AssertionError, match="violates"):
        contract.check({"metadata": {"name": "x"}, "spec": {}, "status": "RUNNING"}, agent, "sample")
    request = contract.component("Agent", "request")
    with pytest.raises(AssertionError, match="violates"):
        contract.check({"metadata": {"name": "x", "createdAt": "t"}, "spec": {}}, request, "sample")
    contract.check(FULL_AGENT, request, "the test's own request")


async def test_requests_and_responses_follow_the_description(
    contract: OpenApiContract, sim: BlaxelSimulator
) -> None:
    checked: list[tuple[str, str, int]] = []
    headers = {"Authorization": f"Bearer {sim.api_key}", "X-Blaxel-Workspace": sim.workspace}
    async with httpx.AsyncClient(base_url=sim.url, headers=headers, timeout=5) as api:

        async def expect(status: int, method: str, path: str, body: Any = None, **kwargs: Any) -> None:
            if body is not None:
                contract.check_request(method, "/v0" + path, body)
            response = await api.request(method, path, json=body, **kwargs)
            assert response.status_code == status, response.text
            if contract.check_response(method, "/v0" + path, response.status_code, response.json()):
                checked.append((method, path, response.status_code))

        nobody = {"metadata": {"name": "nobody"}, "spec": {}}
        await expect(200, "POST", "/agents", FULL_AGENT)
        await expect(409, "POST", "/agents", FULL_AGENT)
        await expect(400, "POST", "/agents", {"metadata": {"name": "Bad"}, "spec": {}})
        sim.advance(10)
        await expect(200, "GET", "/agents/contract")
        await expect(200, "GET", "/agents/contract", params={"show_secrets": "true"})
        await expect(200, "PUT", "/agents/contract", FULL_AGENT)
        sim.fail_next_deployment("contract")
        await expect(200, "PUT", "/agents/contract", FULL_AGENT)
        sim.advance(10)
        await expect(200, "GET", "/agents")
        await expect(200, "GET", "/agents", headers=PAGINATED, params={"limit": "1"})
        await expect(200, "GET", "/agents/contract/revisions")
        await expect(404, "GET", "/agents/nobody")
        await expect(404, "PUT", "/agents/nobody", nobody)
        await expect(200, "DELETE", "/agents/contract")
        await expect(401, "GET", "/agents", headers={"Authorization": "Bearer nope"})
        await expect(403, "GET", "/agents", headers={"X-Blaxel-Workspace": "elsewhere"})
        sim.set_faults(rate=1.0, kinds=("500",))
        await expect(500, "GET", "/agents/contract")

    assert {status for _, _, status in checked} >= {200, 400, 401, 403, 404, 409, 500}
    assert len(checked) == 16


async def test_a_paginated_list_with_every_kind_of_agent(
    contract: OpenApiContract, sim: BlaxelSimulator
) -> None:
    sim.set_step(3600)  # "young" stays UPLOADING however slow the machine is
    sim.seed_agent({"metadata": {"name": "ok"}, "spec": {}})
    sim.seed_agent({"metadata": {"name": "off"}, "spec": {"enabled": False}})
    sim.fail_next_deployment("broken")
    sim.seed_agent({"metadata": {"name": "broken"}, "spec": {}})
    sim.seed_agent({"metadata": {"name": "young"}, "spec": {}}, settled=False)
    headers = {**sim.headers(), **PAGINATED}
    async with httpx.AsyncClient(base_url=sim.url, headers=headers) as api:
        await api.delete("/agents/ok")
        page = await api.get("/agents", params={"limit": "2"})
        contract.check_response("GET", "/v0/agents", 200, page.json())
        everything = await api.get("/agents", params={"limit": "200"})
        contract.check_response("GET", "/v0/agents", 200, everything.json())
    statuses = {a["status"] for a in everything.json()["data"]}
    assert statuses == {"DELETING", "DEACTIVATED", "FAILED", "UPLOADING"}


def test_the_contract_skips_cleanly_without_the_description(openapi_contract: OpenApiContract | None) -> None:
    from .conftest import SPEC_MISSING_REASON, SPEC_PATH

    if openapi_contract is None:
        pytest.skip(SPEC_MISSING_REASON)
    assert SPEC_PATH.name == "controlplane.yml" and str(SPEC_PATH) in SPEC_MISSING_REASON
