"""GET /agents in both Blaxel-Version behaviours: bare array, and ``{data, meta}`` with cursor paging."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from blaxel_operator.simulator import BlaxelSimulator

from .conftest import PAGINATED, agent_body


def names(items: list[dict[str, Any]]) -> list[str]:
    return [item["metadata"]["name"] for item in items]


async def create_many(sim: BlaxelSimulator, count: int, prefix: str = "agent") -> list[str]:
    created = []
    for index in range(count):
        name = f"{prefix}-{index:04d}"
        sim.seed_agent(agent_body(name), settled=True)
        created.append(name)
    return created


async def test_old_versions_answer_a_bare_array_of_everything(
    api: httpx.AsyncClient, sim: BlaxelSimulator
) -> None:
    created = await create_many(sim, 230)
    for headers in ({}, {"Blaxel-Version": "2026-04-16"}):
        response = await api.get("/agents", headers=headers, params={"limit": "10", "sort": "name:asc"})
        assert response.status_code == 200
        items = response.json()
        assert isinstance(items, list)
        assert sorted(names(items)) == created  # limit, sort are not honoured before 2026-04-28


async def test_paging_through_more_than_200_agents(api: httpx.AsyncClient, sim: BlaxelSimulator) -> None:
    created = await create_many(sim, 450)
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": "1000"} if cursor is None else {"limit": "1000", "cursor": cursor}
        response = await api.get("/agents", headers=PAGINATED, params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body) == {"data", "meta"}
        meta = body["meta"]
        assert meta["total"] == 450
        assert len(body["data"]) <= 200  # limit is clamped to 200
        seen.extend(names(body["data"]))
        pages += 1
        if not meta["hasMore"]:
            assert meta["nextCursor"] == ""
            break
        assert meta["nextCursor"]
        cursor = meta["nextCursor"]
    assert pages == 3
    assert sorted(seen) == created and len(seen) == len(set(seen))


async def test_default_limit_and_default_sort_newest_first(
    api: httpx.AsyncClient, sim: BlaxelSimulator
) -> None:
    created = await create_many(sim, 60)
    body = (await api.get("/agents", headers=PAGINATED)).json()
    assert len(body["data"]) == 50
    assert body["meta"]["hasMore"] is True
    assert names(body["data"]) == list(reversed(created))[:50]


@pytest.mark.parametrize("sort", ["createdAt:asc", "createdAt:desc", "name:asc", "name:desc"])
async def test_sorts_page_consistently(api: httpx.AsyncClient, sim: BlaxelSimulator, sort: str) -> None:
    created = await create_many(sim, 25)
    seen: list[str] = []
    params = {"limit": "7", "sort": sort}
    while True:
        body = (await api.get("/agents", headers=PAGINATED, params=params)).json()
        seen.extend(names(body["data"]))
        if not body["meta"]["hasMore"]:
            break
        params = {**params, "cursor": body["meta"]["nextCursor"]}
    assert seen == (list(reversed(created)) if sort.endswith("desc") else created)


async def test_paging_is_stable_while_agents_are_added_and_removed(
    api: httpx.AsyncClient, sim: BlaxelSimulator
) -> None:
    created = await create_many(sim, 30)
    first = (await api.get("/agents", headers=PAGINATED, params={"limit": "10", "sort": "name:asc"})).json()
    sim.seed_agent(agent_body("aaa-new-first"))  # sorts before the cursor: not seen
    sim.delete_agent_now(created[15])
    rest: list[str] = []
    cursor = first["meta"]["nextCursor"]
    while cursor:
        body = (
            await api.get("/agents", headers=PAGINATED, params={"sort": "name:asc", "cursor": cursor})
        ).json()
        rest.extend(names(body["data"]))
        cursor = body["meta"]["nextCursor"]
    assert names(first["data"]) + rest == [n for n in created if n != created[15]]


async def test_q_and_status_filters(api: httpx.AsyncClient, sim: BlaxelSimulator) -> None:
    sim.seed_agent({"metadata": {"name": "alpha", "labels": {"team": "payments"}}, "spec": {}})
    sim.seed_agent({"metadata": {"name": "beta", "displayName": "Payments Bot"}, "spec": {}})
    sim.seed_agent({"metadata": {"name": "gamma"}, "spec": {"enabled": False}})
    sim.fail_next_deployment("delta")
    sim.seed_agent({"metadata": {"name": "delta"}, "spec": {}})

    async def listed(**params: str) -> tuple[list[str], dict[str, Any]]:
        body = (await api.get("/agents", headers=PAGINATED, params=params)).json()
        return sorted(names(body["data"])), body["meta"]

    assert (await listed(q="  PAYMENTS "))[0] == ["alpha", "beta"]
    found, meta = await listed(q="gam")
    assert found == ["gamma"] and meta["total"] == 4  # total ignores the filters
    assert (await listed(q="a"))[0] == ["alpha", "beta", "delta", "gamma"]  # < 2 chars: unfiltered
    assert (await listed(status="deployed"))[0] == ["alpha", "beta"]
    assert (await listed(status="FAILED,DEACTIVATED"))[0] == ["delta", "gamma"]
    assert (await listed(status="FAILED", q="del"))[0] == ["delta"]
    bad = await api.get("/agents", headers=PAGINATED, params={"status": "DEPLOYED,NOPE"})
    assert bad.status_code == 400 and "NOPE" in bad.json()["message"]
    # older versions validate the status but do not filter
    assert (await api.get("/agents", params={"status": "NOPE"})).status_code == 400
    assert len((await api.get("/agents", params={"status": "FAILED"})).json()) == 4


@pytest.mark.parametrize(
    "params",
    [
        {"limit": "0"},
        {"limit": "ten"},
        {"sort": "name"},
        {"q": "x" * 201},
        {"anchor": "start"},
        {"cursor": "%%%"},
    ],
    ids=["limit-0", "limit-nan", "bad-sort", "long-q", "bad-anchor", "garbage-cursor"],
)
async def test_bad_list_parameters_are_400(api: httpx.AsyncClient, params: dict[str, str]) -> None:
    response = await api.get("/agents", headers=PAGINATED, params=params)
    assert response.status_code == 400
    assert response.json()["code"] == 400


async def test_cursor_is_bound_to_its_query(api: httpx.AsyncClient, sim: BlaxelSimulator) -> None:
    await create_many(sim, 5)
    body = (await api.get("/agents", headers=PAGINATED, params={"limit": "2", "sort": "name:asc"})).json()
    cursor = body["meta"]["nextCursor"]
    other_sort = await api.get("/agents", headers=PAGINATED, params={"cursor": cursor, "sort": "name:desc"})
    assert other_sort.status_code == 400 and other_sort.json()["error"] == "invalid_cursor"
    other_ws = await api.get(
        "/agents",
        headers={**PAGINATED, "X-Blaxel-Workspace": "team"},
        params={"cursor": cursor, "sort": "name:asc"},
    )
    assert other_ws.status_code == 400
    sim.advance(25 * 3600)
    expired = await api.get("/agents", headers=PAGINATED, params={"cursor": cursor, "sort": "name:asc"})
    assert expired.status_code == 400 and "expired" in expired.json()["message"]


async def test_anchor_end_returns_the_tail(api: httpx.AsyncClient, sim: BlaxelSimulator) -> None:
    created = await create_many(sim, 12)
    body = (await api.get("/agents", headers=PAGINATED, params={"anchor": "end", "limit": "5"})).json()
    assert names(body["data"]) == list(reversed(created))[-5:]
    assert body["meta"]["hasMore"] is False
    by_name = await api.get("/agents", headers=PAGINATED, params={"anchor": "end", "sort": "name:asc"})
    assert by_name.status_code == 400


async def test_deleting_agents_are_listed_until_gone(api: httpx.AsyncClient, sim: BlaxelSimulator) -> None:
    sim.set_delete_seconds(60)
    await create_many(sim, 2)
    await api.delete("/agents/agent-0000")
    items = (await api.get("/agents")).json()
    assert {i["metadata"]["name"]: i["status"] for i in items} == {
        "agent-0000": "DELETING",
        "agent-0001": "DEPLOYED",
    }
    deleting = (await api.get("/agents", headers=PAGINATED, params={"status": "DELETING"})).json()
    assert names(deleting["data"]) == ["agent-0000"]
    sim.advance(60)
    assert names((await api.get("/agents")).json()) == ["agent-0001"]
