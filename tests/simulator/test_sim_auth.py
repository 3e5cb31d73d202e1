"""Authentication, workspaces and API versions of the Blaxel API simulator."""

from __future__ import annotations

import httpx
import pytest

from blaxel_operator.simulator import BlaxelSimulator

from .conftest import KEY, OTHER_KEY, agent_body


@pytest.mark.parametrize("header", ["Authorization", "X-Blaxel-Authorization"])
async def test_both_auth_headers_are_accepted(raw: httpx.AsyncClient, header: str) -> None:
    response = await raw.get("/agents", headers={header: f"Bearer {KEY}"})
    assert response.status_code == 200
    assert response.json() == []


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-key"},
        {"X-Blaxel-Authorization": "Bearer wrong-key"},
        {"Authorization": f"Basic {KEY}"},
        {"Authorization": "Bearer"},
        {"Authorization": KEY},
    ],
    ids=["none", "wrong-key", "wrong-key-x-header", "basic", "empty-token", "no-scheme"],
)
async def test_missing_or_bad_credentials_are_401(raw: httpx.AsyncClient, headers: dict[str, str]) -> None:
    for response in (
        await raw.get("/agents", headers=headers),
        await raw.post("/agents", headers=headers, json=agent_body("x")),
        await raw.get("/agents/x", headers=headers),
    ):
        assert response.status_code == 401
        body = response.json()
        assert body["error"] == "unauthorized" and body["code"] == 401 and body["message"]
        assert "wrong-key" not in response.text


async def test_wrong_workspace_is_403(raw: httpx.AsyncClient) -> None:
    auth = {"Authorization": f"Bearer {KEY}"}
    denied = await raw.get("/agents", headers={**auth, "X-Blaxel-Workspace": "elsewhere"})
    assert denied.status_code == 403
    assert denied.json()["error"] == "forbidden" and denied.json()["code"] == 403
    assert (await raw.get("/agents", params={"workspace": "elsewhere"}, headers=auth)).status_code == 403
    other = {"Authorization": f"Bearer {OTHER_KEY}", "X-Blaxel-Workspace": "sandbox"}
    assert (await raw.post("/agents", headers=other, json=agent_body("x"))).status_code == 403


async def test_default_workspace_and_query_parameter(raw: httpx.AsyncClient, sim: BlaxelSimulator) -> None:
    auth = {"Authorization": f"Bearer {KEY}"}
    created = await raw.post("/agents", headers=auth, json=agent_body("default-ws"))
    assert created.json()["metadata"]["workspace"] == "sandbox"  # the key's first workspace
    by_query = await raw.post(
        "/agents", params={"workspace": "team"}, headers=auth, json=agent_body("by-query")
    )
    assert by_query.json()["metadata"]["workspace"] == "team"
    assert [a["metadata"]["name"] for a in sim.agents("team")] == ["by-query"]
    other = await raw.post("/agents", headers={"Authorization": f"Bearer {OTHER_KEY}"}, json=agent_body("x"))
    assert other.json()["metadata"]["workspace"] == "elsewhere"
    assert sim.calls(agent="by-query")[0].workspace == "team"


@pytest.mark.parametrize("version", ["2026-04-16", "2026-04-28"])
async def test_known_versions_are_accepted(api: httpx.AsyncClient, version: str) -> None:
    assert (await api.get("/agents", headers={"Blaxel-Version": version})).status_code == 200


@pytest.mark.parametrize(
    "version", ["2026-13-01", "2026-04-17", "latest", "20260428", "2020-01-01", "2026-02-30"]
)
async def test_unknown_versions_are_400(api: httpx.AsyncClient, version: str) -> None:
    response = await api.get("/agents", headers={"Blaxel-Version": version})
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid_api_version" and body["code"] == 400
    assert version in body["message"]
    assert (
        await api.post("/agents", json=agent_body("v"), headers={"Blaxel-Version": version})
    ).status_code == 400


async def test_the_call_log_records_version_and_never_the_key(
    api: httpx.AsyncClient, sim: BlaxelSimulator
) -> None:
    await api.get("/agents", headers={"Blaxel-Version": "2026-04-28"})
    await api.get("/agents")
    first, second = sim.calls()
    assert first.api_version == "2026-04-28" and second.api_version == "2026-04-16"
    assert KEY not in repr(first.to_dict())
