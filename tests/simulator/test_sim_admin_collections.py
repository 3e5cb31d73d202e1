"""The admin API for every collection: seed, read, edit and delete out of band, over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from blaxel_operator.simulator import AdminError, AsyncSimulatorAdmin, BlaxelSimulator

from .bodies import COLLECTION_PATHS, FACTS, body


@pytest.fixture
async def admin(sim: BlaxelSimulator) -> AsyncIterator[AsyncSimulatorAdmin]:
    async with AsyncSimulatorAdmin(sim.url) as client:
        yield client


@pytest.mark.parametrize("path", COLLECTION_PATHS)
async def test_seed_read_edit_delete(
    admin: AsyncSimulatorAdmin, api: httpx.AsyncClient, sim: BlaxelSimulator, path: str
) -> None:
    facts = FACTS[path]
    seeded = await admin.seed_object(path, body(path, "foreign"), created_by="user:alice@example.com")
    assert seeded["metadata"]["createdBy"] == "user:alice@example.com"
    if facts.phases:
        assert seeded["status"] == facts.phases[-1]  # settled by default
    got = await api.get(f"/{path}/foreign")
    assert got.status_code == 200 and got.json()["metadata"]["createdBy"] == "user:alice@example.com"
    assert [o["metadata"]["name"] for o in await admin.objects(path)] == ["foreign"]
    assert (await admin.object(path, "foreign"))["metadata"]["name"] == "foreign"  # type: ignore[index]
    assert await admin.object(path, "nobody") is None
    assert await admin.objects(path, workspace="team") == []

    edited = await admin.edit_object(path, "foreign", {"metadata": {"labels": {"drift": "yes"}}})
    assert (
        edited["metadata"]["labels"] == {"drift": "yes"}
        and edited["metadata"]["updatedBy"] == "user:console@sim"
    )
    assert (await api.get(f"/{path}/foreign")).json()["metadata"]["labels"] == {"drift": "yes"}
    if path in ("functions", "models", "jobs"):
        assert edited["status"] == facts.phases[0]  # a console edit redeploys
        quiet = await admin.edit_object(path, "foreign", {"metadata": {"displayName": "Q"}}, redeploy=False)
        assert quiet["status"] == facts.phases[0]

    with pytest.raises(AdminError) as conflict:
        await admin.seed_object(path, body(path, "foreign"))
    assert conflict.value.status == 409
    with pytest.raises(AdminError) as invalid:
        await admin.edit_object(path, "foreign", {"spec": {"invented": True}})
    assert invalid.value.status == 400
    with pytest.raises(AdminError) as missing:
        await admin.edit_object(path, "nobody", {"spec": {}})
    assert missing.value.status == 404

    unsettled = await admin.seed_object(path, body(path, "young"), settled=False, workspace="team")
    assert unsettled["metadata"]["workspace"] == "team"
    if facts.phases:
        assert unsettled["status"] == facts.phases[0]

    await admin.delete_object(path, "foreign")
    assert (await api.get(f"/{path}/foreign")).status_code == 404
    with pytest.raises(AdminError) as gone:
        await admin.delete_object(path, "foreign")
    assert gone.value.status == 404
    assert len(sim.calls(writes_only=True)) == 0  # out-of-band calls are not API calls


async def test_admin_shows_secrets(admin: AsyncSimulatorAdmin) -> None:
    await admin.seed_object("connections", body("integrations/connections", "conn"))
    conn = await admin.object("integrations/connections", "conn")
    assert conn is not None and conn["spec"]["secret"] == {"apiKey": "sk-123"}
    fn = await admin.seed_object(
        "functions",
        body("functions", "fn", runtime={"envs": [{"name": "T", "value": "s3cr3t", "secret": True}]}),
    )
    assert fn["spec"]["runtime"]["envs"][0]["value"] == "s3cr3t"


async def test_fail_next_and_fail_now_for_any_deployable(
    admin: AsyncSimulatorAdmin, api: httpx.AsyncClient, sim: BlaxelSimulator
) -> None:
    await admin.fail_next_deployment("job", collection="jobs", message="Build failed: oops")
    await api.post("/jobs", json=body("jobs", "job"))
    sim.advance(10)
    failed = (await api.get("/jobs/job")).json()
    assert failed["status"] == "FAILED" and failed["events"][-1]["message"] == "Build failed: oops"
    await admin.fail_next_deployment("job", collection="jobs", count=None)
    await admin.clear_fail("job", collection="jobs")
    await api.put("/jobs/job", json=body("jobs", "job"))
    sim.advance(10)
    assert (await api.get("/jobs/job")).json()["status"] == "DEPLOYED"
    crashed = await admin.fail_now("jobs", "job", message="OOMKilled")
    assert crashed["status"] == "FAILED" and crashed["events"][-1]["message"] == "OOMKilled"
    await admin.seed_object("policies", body("policies", "p"))
    with pytest.raises(AdminError) as no_status:
        await admin.fail_now("policies", "p")
    assert no_status.value.status == 400


async def test_a_volume_state_is_set_out_of_band(admin: AsyncSimulatorAdmin, api: httpx.AsyncClient) -> None:
    await admin.seed_object("volumes", body("volumes", "vol"))
    attached = await admin.edit_object("volumes", "vol", {"state": {"attachedTo": "sandbox:box"}})
    assert attached["state"] == {"attachedTo": "sandbox:box"}
    assert (await api.get("/volumes/vol")).json()["state"] == {"attachedTo": "sandbox:box"}
    with pytest.raises(AdminError) as not_volumes:
        await admin.edit_object("functions", "x", {"state": {}})
    assert not_volumes.value.status == 400
    with pytest.raises(AdminError) as bad_state:
        await admin.edit_object("volumes", "vol", {"state": {"attachedTo": 1}})
    assert bad_state.value.status == 400


async def test_state_calls_and_unknown_collections(
    admin: AsyncSimulatorAdmin, api: httpx.AsyncClient, sim: BlaxelSimulator
) -> None:
    await admin.seed_object("models", body("models", "m"))
    await api.get("/models/m")
    await api.post("/agents", json={"metadata": {"name": "a"}, "spec": {}})
    state = await admin.state()
    assert state["objects"]["sandbox"]["models"] == 1 and state["objects"]["team"]["models"] == 0
    assert state["workspaces"]["sandbox"] == 1  # agents, as before
    calls = await admin.calls(collection="models")
    assert [(c["method"], c["collection"], c["name"]) for c in calls] == [("GET", "models", "m")]
    assert [c["name"] for c in await admin.calls(name="a")] == ["a"]
    async with httpx.AsyncClient(base_url=sim.root_url) as raw:
        assert (await raw.get("/_sim/workspaces/sandbox/gadgets")).status_code == 404
        assert (await raw.get("/_sim/workspaces/nowhere/models")).status_code == 404
