"""``show_secrets`` for workspace admins only, the key's workspaces, and calls that name no workspace."""

from __future__ import annotations

import httpx
import pytest

from blaxel_operator.simulator import SECRET_MASK, AsyncSimulatorAdmin, BlaxelSimulator, SimulatorConfig
from blaxel_operator.simulator.state import actor_of_key

from .bodies import full_body
from .conftest import KEY, OTHER_KEY, agent_body

ADMIN = "admin-key"
MEMBER = "member-key"


@pytest.fixture
def sim_config() -> SimulatorConfig:
    return SimulatorConfig(
        api_keys={ADMIN: ["sandbox", "team"], MEMBER: ["sandbox"], OTHER_KEY: ["elsewhere"]},
        admin_keys=(ADMIN,),
        step_seconds=0.05,
        delete_seconds=0.1,
        seed=3,
    )


def as_key(key: str, workspace: str = "sandbox") -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", "X-Blaxel-Workspace": workspace}


@pytest.mark.parametrize("path", ["agents", "functions", "jobs"])
async def test_only_an_admin_reads_secrets(raw: httpx.AsyncClient, path: str) -> None:
    spec = (
        full_body(path, "s")
        if path != "agents"
        else agent_body("s", runtime={"envs": [{"name": "S", "value": "s3cr3t", "secret": True}]})
    )
    assert (await raw.post(f"/{path}", json=spec, headers=as_key(MEMBER))).status_code == 200

    def secret(response: httpx.Response) -> str:
        envs = response.json()["spec"]["runtime"]["envs"]
        return str(next(env["value"] for env in envs if env.get("secret")))

    shown = await raw.get(f"/{path}/s", params={"show_secrets": "true"}, headers=as_key(ADMIN))
    assert shown.status_code == 200 and secret(shown) == "s3cr3t"
    refused = await raw.get(f"/{path}/s", params={"show_secrets": "true"}, headers=as_key(MEMBER))
    assert refused.status_code == 403
    assert refused.json()["error"] == "forbidden" and "admin" in refused.json()["message"]
    assert "s3cr3t" not in refused.text
    for key in (ADMIN, MEMBER):
        for params in ({}, {"show_secrets": "false"}):
            masked = await raw.get(f"/{path}/s", params=params, headers=as_key(key))
            assert masked.status_code == 200 and secret(masked) == SECRET_MASK


async def test_connections_never_show_their_secrets(raw: httpx.AsyncClient) -> None:
    await raw.post(
        "/integrations/connections", json=full_body("integrations/connections", "c"), headers=as_key(ADMIN)
    )
    for key in (ADMIN, MEMBER):
        got = await raw.get(
            "/integrations/connections/c", params={"show_secrets": "true"}, headers=as_key(key)
        )
        assert got.status_code == 200 and got.json()["spec"]["secret"] == {"apiKey": SECRET_MASK}


async def test_admin_keys_can_change_while_running(raw: httpx.AsyncClient, sim: BlaxelSimulator) -> None:
    await raw.post("/agents", json=agent_body("a"), headers=as_key(MEMBER))
    url = "/agents/a"
    async with AsyncSimulatorAdmin(sim.url) as admin:
        settings = await admin.settings()
        assert settings["admin_keys"] == [actor_of_key(ADMIN)]
        assert ADMIN not in str(settings)  # keys are credentials: shown as the actors they write as
        await admin.set_settings(admin_keys=[MEMBER])
        assert (
            await raw.get(url, params={"show_secrets": "true"}, headers=as_key(MEMBER))
        ).status_code == 200
        assert (await raw.get(url, params={"show_secrets": "true"}, headers=as_key(ADMIN))).status_code == 403
        await admin.set_settings(admin_keys=None)  # every key is an admin again
        assert (await raw.get(url, params={"show_secrets": "true"}, headers=as_key(ADMIN))).status_code == 200


def test_admin_keys_must_be_api_keys() -> None:
    with pytest.raises(ValueError, match="admin key"):
        SimulatorConfig(api_keys={KEY: ["sandbox"]}, admin_keys=("stranger",))
    assert SimulatorConfig().is_admin("anything")  # no admin_keys: everyone (the simulator's old behaviour)


async def test_the_keys_workspaces(raw: httpx.AsyncClient, sim: BlaxelSimulator) -> None:
    listed = await raw.get("/workspaces", headers={"Authorization": f"Bearer {ADMIN}"})
    assert listed.status_code == 200
    assert [(w["name"], w["status"]) for w in listed.json()] == [("sandbox", "ready"), ("team", "ready")]
    other = await raw.get("/workspaces", headers={"X-Blaxel-Authorization": f"Bearer {OTHER_KEY}"})
    assert [w["name"] for w in other.json()] == ["elsewhere"]
    assert (await raw.get("/workspaces")).status_code == 401
    # the workspace header plays no part in listing them
    assert (await raw.get("/workspaces", headers=as_key(MEMBER, "elsewhere"))).status_code == 200
    sim.seed_agent(agent_body("counted"), workspace="team")
    team = await raw.get("/workspaces/team", params={"countResources": "true"}, headers=as_key(ADMIN))
    assert team.status_code == 200 and team.json()["resourceCounts"]["agents"] == 1
    assert team.json()["resourceCounts"]["integrationconnections"] == 0
    assert "resourceCounts" not in (await raw.get("/workspaces/team", headers=as_key(ADMIN))).json()
    assert (await raw.get("/workspaces/team", headers=as_key(MEMBER))).status_code == 403
    assert (await raw.get("/workspaces/nowhere", headers=as_key(MEMBER))).status_code == 404
    assert (await raw.delete("/workspaces/team", headers=as_key(ADMIN))).status_code == 405


async def test_calls_without_a_workspace(raw: httpx.AsyncClient, sim: BlaxelSimulator) -> None:
    auth = {"Authorization": f"Bearer {ADMIN}"}
    assert (await raw.get("/agents", headers=auth)).status_code == 200  # default: the key's first one
    assert sim.calls()[-1].workspace_given is False and sim.calls()[-1].workspace == "sandbox"
    sim.set_require_workspace(True)
    refused = await raw.post("/functions", json=full_body("functions", "f"), headers=auth)
    assert refused.status_code == 400 and refused.json()["error"] == "workspace_required"
    assert "X-Blaxel-Workspace" in refused.json()["message"]
    assert sim.objects("functions") == []
    assert (await raw.get("/agents", headers=as_key(ADMIN))).status_code == 200
    assert (await raw.get("/agents", params={"workspace": "team"}, headers=auth)).status_code == 200
    assert sim.calls()[-1].workspace_given is True
    assert (await raw.get("/workspaces", headers=auth)).status_code == 200  # how to find one
    async with AsyncSimulatorAdmin(sim.url) as admin:
        assert (await admin.set_settings(require_workspace=False))["require_workspace"] is False
    assert (await raw.get("/agents", headers=auth)).status_code == 200
