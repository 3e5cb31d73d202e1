"""`GET /workspaces` (ListWorkspaces): the key's workspaces, whatever workspace header comes with it."""

from __future__ import annotations

import httpx

from blaxel_operator.simulator import BlaxelSimulator

from .conftest import KEY, OTHER_KEY, OpenApiContract


async def test_lists_the_keys_workspaces(sim: BlaxelSimulator, raw: httpx.AsyncClient) -> None:
    for key, expected in ((KEY, ["sandbox", "team"]), (OTHER_KEY, ["elsewhere"])):
        response = await raw.get("/workspaces", headers={"Authorization": f"Bearer {key}"})
        assert response.status_code == 200
        assert [w["name"] for w in response.json()] == expected
    assert [c.workspace_header for c in sim.calls()] == [None, None]


async def test_needs_a_key(raw: httpx.AsyncClient) -> None:
    assert (await raw.get("/workspaces")).status_code == 401


async def test_matches_the_contract(raw: httpx.AsyncClient, contract: OpenApiContract) -> None:
    response = await raw.get("/workspaces", headers={"Authorization": f"Bearer {KEY}"})
    assert contract.check_response("GET", "/v0/workspaces", response.status_code, response.json())
