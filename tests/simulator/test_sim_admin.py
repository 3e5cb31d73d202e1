"""Out-of-band control: the ``/_sim/`` admin endpoints, their clients, and the call log."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from blaxel_operator.simulator import AdminError, AsyncSimulatorAdmin, BlaxelSimulator, FaultConfig

from .conftest import Poll, agent_body


@pytest.fixture
async def admin(sim: BlaxelSimulator) -> AsyncIterator[AsyncSimulatorAdmin]:
    async with AsyncSimulatorAdmin(sim.url) as client:
        yield client


async def test_health_and_state(admin: AsyncSimulatorAdmin, sim: BlaxelSimulator) -> None:
    health = await admin.wait_ready()
    assert health["ok"] is True and health["url"] == sim.url
    assert health["workspaces"] == ["sandbox", "team", "elsewhere"]
    state = await admin.state()
    assert state["workspaces"] == {"sandbox": 0, "team": 0, "elsewhere": 0}
    assert state["clock"]["step_seconds"] == 0.05


async def test_admin_needs_no_auth_and_is_not_logged(sim: BlaxelSimulator) -> None:
    async with httpx.AsyncClient(base_url=sim.root_url) as client:
        assert (await client.get("/_sim/health")).status_code == 200
    assert sim.calls() == []


async def test_seed_an_agent_the_operator_did_not_create(
    admin: AsyncSimulatorAdmin, api: httpx.AsyncClient, poll_status: Poll
) -> None:
    body = {"metadata": {"name": "foreign", "labels": {"owner": "someone-else"}}, "spec": {}}
    seeded = await admin.seed_agent(body, created_by="user:alice@example.com")
    assert seeded["status"] == "DEPLOYED"  # settled by default
    assert seeded["metadata"]["createdBy"] == "user:alice@example.com"
    got = (await api.get("/agents/foreign")).json()
    assert got["metadata"]["labels"] == {"owner": "someone-else"} and got["status"] == "DEPLOYED"
    unsettled = await admin.seed_agent(agent_body("young"), settled=False, workspace="team")
    assert unsettled["status"] == "UPLOADING" and unsettled["metadata"]["workspace"] == "team"
    with pytest.raises(AdminError) as conflict:
        await admin.seed_agent(body)
    assert conflict.value.status == 409
    with pytest.raises(AdminError) as invalid:
        await admin.seed_agent(agent_body("Bad_Name"))
    assert invalid.value.status == 400


async def test_edit_an_agent_out_of_band_is_drift(
    admin: AsyncSimulatorAdmin, api: httpx.AsyncClient, sim: BlaxelSimulator, poll_status: Poll
) -> None:
    envs = [{"name": "TOKEN", "value": "s3cr3t", "secret": True}]
    body = {
        "metadata": {"name": "drifty", "labels": {"a": "1"}},
        "spec": {"runtime": {"envs": envs, "memory": 1024}},
    }
    await api.post("/agents", json=body)
    before = await poll_status("drifty", "DEPLOYED")
    edited = await admin.edit_agent(
        "drifty", {"metadata": {"labels": {"a": None, "b": "2"}}, "spec": {"runtime": {"memory": 4096}}}
    )
    assert edited["spec"]["runtime"]["memory"] == 4096
    assert edited["spec"]["runtime"]["envs"] == envs  # merge patch keeps what it does not mention
    after = (await api.get("/agents/drifty")).json()
    assert after["metadata"]["labels"] == {"b": "2"}
    assert after["metadata"]["updatedAt"] > before["metadata"]["updatedAt"]
    assert after["metadata"]["updatedBy"] == "user:console@sim"
    assert after["status"] == "UPLOADING"  # redeployed, like a console edit
    quiet = await admin.edit_agent("drifty", {"spec": {"region": "eu-lon-1"}}, redeploy=False)
    assert quiet["status"] == "UPLOADING" and quiet["spec"]["region"] == "eu-lon-1"
    assert len(sim.calls(writes_only=True)) == 1  # out-of-band edits are not API calls
    with pytest.raises(AdminError) as invalid:
        await admin.edit_agent("drifty", {"spec": {"runtime": {"generation": "mk9"}}})
    assert invalid.value.status == 400
    with pytest.raises(AdminError) as missing:
        await admin.edit_agent("nobody", {"spec": {}})
    assert missing.value.status == 404


async def test_delete_an_agent_immediately(admin: AsyncSimulatorAdmin, api: httpx.AsyncClient) -> None:
    await api.post("/agents", json=agent_body("vanish"))
    await admin.delete_agent("vanish")
    assert (await api.get("/agents/vanish")).status_code == 404
    with pytest.raises(AdminError) as missing:
        await admin.delete_agent("vanish")
    assert missing.value.status == 404


async def test_fail_next_and_fail_now(
    admin: AsyncSimulatorAdmin, api: httpx.AsyncClient, poll_status: Poll
) -> None:
    await admin.fail_next_deployment("doomed", message="Build failed: exit 1")
    await api.post("/agents", json=agent_body("doomed"))
    failed = await poll_status("doomed", "FAILED")
    assert failed["events"][-1]["message"] == "Build failed: exit 1"
    await admin.fail_next_deployment("doomed", count=None)
    await api.put("/agents/doomed", json=agent_body("doomed"))
    await poll_status("doomed", "FAILED")
    await admin.clear_fail("doomed")
    await api.put("/agents/doomed", json=agent_body("doomed"))
    await poll_status("doomed", "DEPLOYED")
    crashed = await admin.fail_agent_now("doomed", message="OOMKilled")
    assert crashed["status"] == "FAILED" and crashed["events"][-1]["message"] == "OOMKilled"


async def test_list_agents_unmasked(admin: AsyncSimulatorAdmin, api: httpx.AsyncClient) -> None:
    envs = [{"name": "TOKEN", "value": "s3cr3t", "secret": True}]
    await api.post("/agents", json=agent_body("one", runtime={"envs": envs}))
    await api.post("/agents", json=agent_body("two"))
    agents = await admin.agents()
    assert [a["metadata"]["name"] for a in agents] == ["one", "two"]
    assert agents[0]["spec"]["runtime"]["envs"][0]["value"] == "s3cr3t"
    assert await admin.agents("team") == []
    assert (await admin.agent("one"))["metadata"]["name"] == "one"  # type: ignore[index]
    assert await admin.agent("nobody") is None
    with pytest.raises(AdminError) as unknown:
        await admin.agents("no-such-workspace")
    assert unknown.value.status == 404


async def test_faults_latency_clock_and_rate_limit_over_http(
    admin: AsyncSimulatorAdmin, api: httpx.AsyncClient, sim: BlaxelSimulator
) -> None:
    faults = await admin.set_faults(rate=1.0, kinds=["503"], retry_after_ms=20)
    assert faults["rate"] == 1.0 and faults["kinds"] == ["503"]
    assert (await api.get("/agents")).status_code == 503
    await admin.set_faults(FaultConfig(rate=1.0, kinds=("429",)))
    assert (await api.get("/agents")).status_code == 429
    await admin.clear_faults()
    assert (await api.get("/agents")).status_code == 200
    with pytest.raises(AdminError) as bad:
        await admin.set_faults(rate=2.0)
    assert bad.value.status == 400

    assert (await admin.set_latency(0.01, 0.0)) == {"seconds": 0.01, "jitter": 0.0}
    assert sim.config.latency == 0.01

    clock = await admin.set_clock(step_seconds=100, delete_seconds=5, stale_failed_seconds=1, advance=10)
    assert clock["step_seconds"] == 100 and clock["delete_seconds"] == 5 and clock["offset"] >= 10
    await api.post("/agents", json=agent_body("slow"))
    await admin.set_clock(advance=300)
    assert (await api.get("/agents/slow")).json()["status"] == "DEPLOYED"

    assert (await admin.set_rate_limit(100, burst=7)) == {"rate": 100.0, "burst": 7}
    assert (await admin.set_rate_limit(None)) == {"rate": None, "burst": 7}


async def test_call_log(admin: AsyncSimulatorAdmin, api: httpx.AsyncClient, sim: BlaxelSimulator) -> None:
    await api.post("/agents", json=agent_body("logged"))
    await api.get("/agents/logged")
    await api.put("/agents/logged", json=agent_body("logged"))
    await api.get("/agents/missing")
    await api.delete("/agents/logged", headers={"X-Blaxel-Workspace": "team"})

    calls = await admin.calls()
    assert [(c["method"], c["path"], c["status"]) for c in calls] == [
        ("POST", "/v0/agents", 200),
        ("GET", "/v0/agents/logged", 200),
        ("PUT", "/v0/agents/logged", 200),
        ("GET", "/v0/agents/missing", 404),
        ("DELETE", "/v0/agents/logged", 404),
    ]
    assert calls[0]["agent"] == "logged" and calls[0]["workspace"] == "sandbox"
    assert calls[-1]["workspace"] == "team"
    assert all(c["fault"] is None and c["at"].endswith("Z") for c in calls)
    writes = await admin.calls(writes_only=True, agent="logged", workspace="sandbox")
    assert [c["method"] for c in writes] == ["POST", "PUT"]
    assert len(await admin.calls(method="PUT")) == 1
    since = await admin.calls(since=calls[2]["seq"])
    assert [c["seq"] for c in since] == [calls[3]["seq"], calls[4]["seq"]]

    # the in-process view is the same
    assert len(sim.calls(method="PUT", agent="logged")) == 1
    assert [c.method for c in sim.calls(writes_only=True)] == ["POST", "PUT", "DELETE"]

    await admin.reset_calls()
    assert await admin.calls() == []
    await api.get("/agents")
    assert len(await admin.calls()) == 1


async def test_call_log_is_bounded(sim_config: object) -> None:
    from blaxel_operator.simulator import SimulatorConfig

    async with BlaxelSimulator(SimulatorConfig(max_calls=10)) as small:
        async with httpx.AsyncClient(base_url=small.url, headers=small.headers()) as client:
            for _ in range(25):
                await client.get("/agents")
        calls = small.calls()
        assert len(calls) == 10
        assert calls[-1].seq == 25 and small.last_seq == 25


async def test_reset_restores_the_start(
    admin: AsyncSimulatorAdmin, api: httpx.AsyncClient, sim: BlaxelSimulator
) -> None:
    await api.post("/agents", json=agent_body("temp"))
    await admin.set_faults(rate=1.0, kinds=["500"])
    await admin.set_clock(step_seconds=9)
    await admin.fail_next_deployment("later")
    await admin.reset()
    assert await admin.agents() == []
    assert await admin.calls() == []
    assert sim.config.faults.rate == 0 and sim.config.step_seconds == 0.05
    await api.post("/agents", json=agent_body("later"))
    assert sim.state.fail_markers == {}


async def test_admin_can_be_turned_off() -> None:
    from blaxel_operator.simulator import SimulatorConfig

    async with BlaxelSimulator(SimulatorConfig(admin=False)) as closed:
        async with httpx.AsyncClient(base_url=closed.root_url) as client:
            assert (await client.get("/_sim/health")).status_code == 404
