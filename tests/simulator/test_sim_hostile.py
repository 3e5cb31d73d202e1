"""Hostile answers: served calls whose answers are not what the description promises.

These break the contract on purpose, so they use their own client (not the contract-checked ``api``).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from blaxel_operator.simulator import (
    HOSTILE_KINDS,
    UNKNOWN_STATUS,
    AsyncSimulatorAdmin,
    BlaxelSimulator,
    FaultConfig,
)

from .bodies import body
from .conftest import PAGINATED


@pytest.fixture
async def client(sim: BlaxelSimulator) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=sim.url, headers=sim.headers(), timeout=10) as api:
        yield api


@pytest.fixture
def fn(sim: BlaxelSimulator) -> str:
    sim.seed_object("functions", body("functions", "fn"))
    return "/functions/fn"


def hostile(sim: BlaxelSimulator, kind: str, **fields: object) -> None:
    sim.set_faults(FaultConfig(rate=1.0, kinds=(kind,), **fields))  # type: ignore[arg-type]


async def test_non_json(client: httpx.AsyncClient, sim: BlaxelSimulator, fn: str) -> None:
    hostile(sim, "non_json")
    response = await client.get(fn)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    with pytest.raises(ValueError):
        response.json()
    [call] = sim.calls()
    assert call.fault == "non_json" and call.fault_phase == "before"


async def test_non_json_after_a_write(client: httpx.AsyncClient, sim: BlaxelSimulator) -> None:
    hostile(sim, "non_json", phase="after")
    response = await client.post("/policies", json=body("policies", "p"))
    assert response.status_code == 200 and not response.text.startswith("{")
    sim.clear_faults()
    assert (await client.get("/policies/p")).status_code == 200  # the write happened


@pytest.mark.parametrize(
    ("kind", "check"),
    [
        ("wrong_status_type", lambda obj: obj["status"] == 3),
        ("wrong_metadata_type", lambda obj: obj["metadata"] == "x"),
        ("missing_metadata", lambda obj: "metadata" not in obj and "spec" in obj),
        ("unknown_status", lambda obj: obj["status"] == UNKNOWN_STATUS),
    ],
)
async def test_spoilt_objects(
    client: httpx.AsyncClient, sim: BlaxelSimulator, fn: str, kind: str, check: object
) -> None:
    hostile(sim, kind)
    response = await client.get(fn)
    assert response.status_code == 200
    assert check(response.json())  # type: ignore[operator]
    assert sim.calls()[-1].fault == kind and sim.calls()[-1].fault_phase == "after"


async def test_a_patched_answer(client: httpx.AsyncClient, sim: BlaxelSimulator, fn: str) -> None:
    hostile(
        sim, "patch", body_patch={"spec": {"runtime": None, "enabled": "yes"}, "events": {"not": "a list"}}
    )
    spoilt = (await client.get(fn)).json()
    assert "runtime" not in spoilt["spec"] and spoilt["spec"]["enabled"] == "yes"
    assert spoilt["events"] == {"not": "a list"}
    with pytest.raises(ValueError, match="body_patch"):
        FaultConfig(rate=1.0, kinds=("patch",))


async def test_a_five_megabyte_answer(client: httpx.AsyncClient, sim: BlaxelSimulator, fn: str) -> None:
    hostile(sim, "huge_body")
    response = await client.get(fn)
    assert len(response.content) > 5 * 1024 * 1024
    obj = response.json()
    assert obj["metadata"]["name"] == "fn" and len(obj["events"][-1]["message"]) == 5 * 1024 * 1024


async def test_lists_are_spoilt_item_by_item(client: httpx.AsyncClient, sim: BlaxelSimulator) -> None:
    for name in ("a", "b"):
        sim.seed_object("models", body("models", name))
    hostile(sim, "wrong_status_type")
    assert [m["status"] for m in (await client.get("/models")).json()] == [3, 3]
    assert [m["status"] for m in (await client.get("/models", headers=PAGINATED)).json()["data"]] == [3, 3]
    hostile(sim, "huge_body", huge_bytes=1000)
    items = (await client.get("/models")).json()
    assert [len(m["events"]) for m in items] == [3, 2]  # only the first is padded


async def test_errors_are_not_spoilt_and_do_not_count(
    client: httpx.AsyncClient, sim: BlaxelSimulator
) -> None:
    hostile(sim, "missing_metadata", max_count=1)
    missing = await client.get("/functions/nobody")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    assert sim.calls()[-1].fault is None and sim.faults_injected == 0
    sim.seed_object("functions", body("functions", "fn"))
    assert "metadata" not in (await client.get("/functions/fn")).json()
    assert "metadata" in (await client.get("/functions/fn")).json()  # max_count reached
    assert sim.faults_injected == 1


async def test_a_write_with_a_spoilt_answer_took_effect(
    client: httpx.AsyncClient, sim: BlaxelSimulator
) -> None:
    hostile(sim, "wrong_metadata_type", methods=("POST",))
    created = await client.post("/volumes", json=body("volumes", "vol"))
    assert created.status_code == 200 and created.json()["metadata"] == "x"
    got = await client.get("/volumes/vol")
    assert got.json()["metadata"]["name"] == "vol"
    assert sim.calls()[0].effective_status == 200


@pytest.mark.parametrize("phase", ["before", "after"])
async def test_slow_answers(client: httpx.AsyncClient, sim: BlaxelSimulator, phase: str) -> None:
    hostile(sim, "slow", delay_seconds=0.3, phase=phase)
    started = time.monotonic()
    created = await client.post("/jobs", json=body("jobs", "slowpoke"))
    assert created.status_code == 200 and time.monotonic() - started >= 0.3
    assert sim.calls()[0].fault == "slow" and sim.calls()[0].fault_phase == phase
    # a client that gives up before the answer: "after", the write happened; "before", it never will
    with pytest.raises(httpx.ReadTimeout):
        await client.put("/jobs/slowpoke", json=body("jobs", "slowpoke", region="eu-lon-1"), timeout=0.05)
    put = sim.calls(method="PUT")[0]
    deadline = time.monotonic() + 5
    while put.status is None:
        assert time.monotonic() < deadline, "the PUT was never answered"
        await asyncio.sleep(0.02)
    region = sim.get_object("jobs", "slowpoke")["spec"].get("region")  # type: ignore[index]
    assert region == ("eu-lon-1" if phase == "after" else None)
    assert put.status == (200 if phase == "after" else 0)


async def test_stop_releases_slow_answers(sim: BlaxelSimulator) -> None:
    hostile(sim, "slow", delay_seconds=30)
    async with httpx.AsyncClient(base_url=sim.url, headers=sim.headers(), timeout=20) as api:
        pending = asyncio.create_task(api.get("/agents"))
        deadline = time.monotonic() + 5
        while not sim.calls():
            assert time.monotonic() < deadline
            await asyncio.sleep(0.01)
        started = time.monotonic()
        await sim.stop()
        try:
            await pending
        except httpx.TransportError:
            pass
        assert time.monotonic() - started < 5


async def test_filters_by_collection_and_name_pattern(
    client: httpx.AsyncClient, sim: BlaxelSimulator
) -> None:
    for name in ("hostile-1", "hostile-2", "calm"):
        sim.seed_object("functions", body("functions", name))
        sim.seed_object("models", body("models", name))
    hostile(sim, "unknown_status", collections=("functions",), names=("hostile-*",))
    statuses = {
        (path, name): (await client.get(f"/{path}/{name}")).json()["status"]
        for path in ("functions", "models")
        for name in ("hostile-1", "hostile-2", "calm")
    }
    spoilt = {key for key, status in statuses.items() if status == UNKNOWN_STATUS}
    assert spoilt == {("functions", "hostile-1"), ("functions", "hostile-2")}
    # a list names no object: a name filter leaves it alone
    assert all(f["status"] == "DEPLOYED" for f in (await client.get("/functions")).json())


async def test_a_probability(client: httpx.AsyncClient, sim: BlaxelSimulator, fn: str) -> None:
    hostile(sim, "wrong_status_type")
    sim.set_faults(rate=0.5, kinds=("wrong_status_type",))
    statuses = [(await client.get(fn)).json()["status"] for _ in range(120)]
    assert 30 < statuses.count(3) < 90 and set(statuses) == {3, "DEPLOYED"}


async def test_rules_give_different_objects_different_answers(
    client: httpx.AsyncClient, sim: BlaxelSimulator
) -> None:
    for name in ("nonjson-a", "missing-a", "plain"):
        sim.seed_object("agents", {"metadata": {"name": name}, "spec": {}})
    sim.add_fault_rule(rate=1.0, kinds=("non_json",), names=("nonjson-*",))
    sim.add_fault_rule(FaultConfig(rate=1.0, kinds=("missing_metadata",), names=("missing-*",), max_count=1))
    sim.set_faults(rate=1.0, kinds=("503",), methods=("DELETE",))  # the main config still applies
    assert (await client.get("/agents/nonjson-a")).headers["content-type"].startswith("text/html")
    assert "metadata" not in (await client.get("/agents/missing-a")).json()
    assert "metadata" in (await client.get("/agents/missing-a")).json()  # its rule is used up
    assert (await client.get("/agents/plain")).json()["status"] == "DEPLOYED"
    assert (await client.delete("/agents/plain")).status_code == 503
    assert sim.fault_rule_counts == [1, 1] and sim.faults_injected == 1
    sim.clear_fault_rules()
    assert (await client.get("/agents/nonjson-a")).json()["metadata"]["name"] == "nonjson-a"


async def test_rules_over_the_admin_api(client: httpx.AsyncClient, sim: BlaxelSimulator, fn: str) -> None:
    async with AsyncSimulatorAdmin(sim.url) as admin:
        rules = await admin.set_fault_rules(
            [{"rate": 1, "kinds": ["wrong_status_type"], "collections": ["functions"]}]
        )
        assert rules[0]["collections"] == ["functions"] and rules[0]["injected"] == 0
        await admin.add_fault_rule(rate=1, kinds=["slow"], delay_seconds=0.01, collections=["connections"])
        assert (await client.get(fn)).json()["status"] == 3
        listed = await admin.fault_rules()
        assert [r["injected"] for r in listed] == [1, 0]
        assert listed[1]["collections"] == ["integrations/connections"]  # an alias is stored as the path
        state = await admin.state()
        assert len(state["fault_rules"]) == 2
        with pytest.raises(Exception, match="unknown collections"):
            await admin.add_fault_rule(rate=1, kinds=["slow"], collections=["gadgets"])
        with pytest.raises(Exception, match="unknown fault kinds"):
            await admin.set_fault_rules([{"rate": 1, "kinds": ["explode"]}])
        await admin.clear_fault_rules()
        assert await admin.fault_rules() == []
        assert (await client.get(fn)).json()["status"] == "DEPLOYED"
        await admin.set_faults(rate=1, kinds=["unknown_status"], names=["f*"])
        assert (await client.get(fn)).json()["status"] == UNKNOWN_STATUS


def test_hostile_kinds_from_the_command_line(tmp_path: Path) -> None:
    import argparse

    from blaxel_operator.simulator import add_arguments, config_from_args

    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps([{"rate": 1, "kinds": ["huge_body"], "names": ["big-*"], "huge_bytes": 100}]))
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(
        [
            "--fault-rate",
            "0.2",
            "--fault-kinds",
            ",".join(HOSTILE_KINDS[:-2]) + ",500",
            "--fault-collections",
            "functions,connections",
            "--fault-names",
            "hostile-*,evil",
            "--fault-max-count",
            "7",
            "--fault-delay-seconds",
            "1.5",
            "--fault-rules",
            str(rules),
            "--put-semantics",
            "merge",
            "--api-key",
            "k1:ws",
            "--api-key",
            "k2:ws",
            "--admin-key",
            "k1",
            "--require-workspace",
        ]
    )
    config = config_from_args(args)
    faults = config.faults
    assert faults.kinds[-1] == "500" and "non_json" in faults.kinds
    assert faults.collections == ("functions", "integrations/connections")
    assert faults.names == ("hostile-*", "evil") and faults.max_count == 7 and faults.delay_seconds == 1.5
    assert [r.kinds for r in config.fault_rules] == [("huge_body",)] and config.fault_rules[
        0
    ].huge_bytes == 100
    assert config.put_semantics == "merge" and config.admin_keys == ("k1",) and config.require_workspace
    defaults = config_from_args(parser.parse_args([]))
    assert (
        defaults.put_semantics == "replace" and defaults.admin_keys is None and not defaults.require_workspace
    )
    for bad in (["--fault-rules", str(tmp_path / "none.json")], ["--put-semantics", "upsert"]):
        with pytest.raises(SystemExit):
            parser.parse_args(bad)


async def test_a_rule_scoped_by_name_spoils_that_object_in_listings_too(
    client: httpx.AsyncClient, sim: BlaxelSimulator
) -> None:
    for name in ("plain", "odd-1"):
        sim.seed_object("functions", body("functions", name))
    sim.set_fault_rules([FaultConfig(rate=1.0, kinds=("unknown_status",), names=("odd-*",))])
    listed = (await client.get("/functions", headers=PAGINATED)).json()["data"]
    statuses = {f["metadata"]["name"]: f["status"] for f in listed}
    assert statuses["odd-1"] == UNKNOWN_STATUS and statuses["plain"] != UNKNOWN_STATUS
    # as a GET of it shows it; a GET of another object is left alone
    assert (await client.get("/functions/odd-1")).json()["status"] == UNKNOWN_STATUS
    assert (await client.get("/functions/plain")).json()["status"] != UNKNOWN_STATUS
