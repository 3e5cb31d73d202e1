"""Agents CRUD, deployments, deletion and secrets of the Blaxel API simulator, over loopback HTTP."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from blaxel_operator.simulator import CALLBACK_SECRET_MASK, SECRET_MASK, BlaxelSimulator

from .conftest import Poll, agent_body

DEPLOY_PHASES = ["UPLOADING", "BUILDING", "DEPLOYING", "DEPLOYED"]


def statuses(agent: dict[str, Any], revision: str | None = None) -> list[str]:
    return [e["status"] for e in agent["events"] if revision is None or e["revision"] == revision]


async def test_scripted_session_create_deployed_update_delete(
    api: httpx.AsyncClient, poll_status: Poll, poll_gone: Callable[..., Awaitable[None]]
) -> None:
    body = agent_body("session-agent", runtime={"generation": "mk3", "memory": 2048})
    created = await api.post("/agents", json=body)
    assert created.status_code == 200
    assert created.json()["status"] == "UPLOADING"

    again = await api.post("/agents", json=body)
    assert again.status_code == 409
    assert again.json()["error"] == "conflict" and again.json()["code"] == 409

    deployed = await poll_status("session-agent", "DEPLOYED")
    first_revision = deployed["events"][-1]["revision"]
    assert statuses(deployed) == DEPLOY_PHASES

    body["spec"]["runtime"]["memory"] = 4096
    updated = await api.put("/agents/session-agent", json=body)
    assert updated.status_code == 200
    assert updated.json()["spec"]["runtime"]["memory"] == 4096
    assert updated.json()["status"] == "UPLOADING"

    redeployed = await poll_status("session-agent", "DEPLOYED")
    second_revision = redeployed["events"][-1]["revision"]
    assert second_revision != first_revision
    assert statuses(redeployed, second_revision) == DEPLOY_PHASES

    deleted = await api.delete("/agents/session-agent")
    assert deleted.status_code == 200
    assert deleted.json()["status"] == "DELETING"
    await poll_gone("session-agent")
    assert (await api.get("/agents/session-agent")).status_code == 404
    assert (await api.delete("/agents/session-agent")).status_code == 404
    assert (await api.put("/agents/session-agent", json=body)).status_code == 404


async def test_missing_agent_is_404_with_error_body(api: httpx.AsyncClient) -> None:
    for response in (
        await api.get("/agents/nope"),
        await api.put("/agents/nope", json=agent_body("nope")),
        await api.delete("/agents/nope"),
        await api.get("/agents/nope/revisions"),
    ):
        assert response.status_code == 404
        assert response.json()["error"] == "not_found"
        assert response.json()["code"] == 404
        assert "nope" in response.json()["message"]


async def test_unknown_route_and_method(api: httpx.AsyncClient) -> None:
    assert (await api.get("/nothing")).status_code == 404
    assert (await api.patch("/agents/x", json={})).status_code == 405
    assert (await api.delete("/agents")).status_code == 405


async def test_server_set_fields(api: httpx.AsyncClient, sim: BlaxelSimulator) -> None:
    response = await api.post("/agents", json=agent_body("fields", runtime={"image": "repo/img:1"}))
    agent = response.json()
    metadata = agent["metadata"]
    assert metadata["workspace"] == "sandbox"
    assert metadata["url"] == "https://run.blaxel.ai/sandbox/agents/fields"
    assert metadata["plan"] == "free"
    assert metadata["createdAt"] == metadata["updatedAt"]
    assert metadata["createdAt"].endswith("Z") and "T" in metadata["createdAt"]
    assert metadata["createdBy"].startswith("apikey:")
    assert "sim-key" not in metadata["createdBy"]
    assert agent["spec"]["enabled"] is True
    assert agent["spec"]["public"] is False
    event = agent["events"][0]
    assert event["type"] == "deployment" and event["status"] == "UPLOADING"
    assert event["revision"].startswith("rev-") and event["time"].endswith("Z")

    updated = (await api.put("/agents/fields", json=agent_body("fields"))).json()["metadata"]
    assert updated["createdAt"] == metadata["createdAt"]
    assert updated["updatedAt"] > metadata["updatedAt"]


async def test_read_only_fields_in_requests_are_ignored(api: httpx.AsyncClient) -> None:
    body = {
        "metadata": {
            "name": "readonly",
            "createdAt": "2000-01-01T00:00:00Z",
            "updatedAt": "2000-01-01T00:00:00Z",
            "createdBy": "someone",
            "updatedBy": "someone",
            "plan": "enterprise",
            "url": "https://evil.example",
            "workspace": "other",
        },
        "spec": {
            "triggers": [{"type": "http-async", "configuration": {"callbackSecret": "mine", "path": "/x"}}]
        },
        "status": "DEPLOYED",
        "events": [{"type": "deployment", "status": "DEPLOYED"}],
    }
    response = await api.post("/agents", json=body)
    assert response.status_code == 200, response.text
    agent = response.json()
    assert agent["status"] == "UPLOADING"
    assert len(agent["events"]) == 1
    metadata = agent["metadata"]
    assert metadata["createdAt"] != "2000-01-01T00:00:00Z"
    assert metadata["createdBy"] != "someone"
    assert metadata["plan"] == "free" and metadata["workspace"] == "sandbox"
    assert metadata["url"].startswith("https://run.blaxel.ai/")
    shown = (await api.get("/agents/readonly", params={"show_secrets": "true"})).json()
    assert shown["spec"]["triggers"][0]["configuration"]["callbackSecret"] != "mine"


async def test_trigger_ids_and_callback_secrets(api: httpx.AsyncClient) -> None:
    body = agent_body(
        "triggers",
        triggers=[
            {"type": "http", "configuration": {"path": "/a"}},
            {"id": "mine", "type": "http-async", "enabled": False},
            {"id": "mine", "type": "cron", "configuration": {"schedule": "0 * * * *"}},
        ],
    )
    agent = (await api.post("/agents", json=body)).json()
    triggers = agent["spec"]["triggers"]
    assert triggers[0]["id"].startswith("trigger-")
    assert triggers[0]["enabled"] is True
    assert triggers[1]["id"] == "mine" and triggers[1]["enabled"] is False
    assert triggers[2]["id"] != "mine"  # duplicates are disambiguated
    assert triggers[1]["configuration"]["callbackSecret"] == CALLBACK_SECRET_MASK
    assert "callbackSecret" not in triggers[0].get("configuration", {})

    secret = (await api.get("/agents/triggers", params={"show_secrets": "true"})).json()["spec"]["triggers"][
        1
    ]
    secret_value = secret["configuration"]["callbackSecret"]
    assert secret_value != CALLBACK_SECRET_MASK and len(secret_value) >= 16
    # the secret of a kept trigger survives a PUT (the client cannot send it back: it is read-only)
    body["spec"]["triggers"][0]["id"] = triggers[0]["id"]
    await api.put("/agents/triggers", json=body)
    again = (await api.get("/agents/triggers", params={"show_secrets": "true"})).json()["spec"]["triggers"]
    assert again[1]["configuration"]["callbackSecret"] == secret_value
    assert again[0]["id"] == triggers[0]["id"]


async def test_secret_env_values_are_masked_unless_show_secrets(api: httpx.AsyncClient) -> None:
    envs = [{"name": "PLAIN", "value": "visible"}, {"name": "TOKEN", "value": "s3cr3t", "secret": True}]
    created = (await api.post("/agents", json=agent_body("secrets", runtime={"envs": envs}))).json()
    assert created["spec"]["runtime"]["envs"] == [
        {"name": "PLAIN", "value": "visible"},
        {"name": "TOKEN", "value": SECRET_MASK, "secret": True},
    ]
    for params in ({}, {"show_secrets": "false"}):
        got = (await api.get("/agents/secrets", params=params)).json()
        assert got["spec"]["runtime"]["envs"][1]["value"] == SECRET_MASK
    listed = (await api.get("/agents")).json()
    assert listed[0]["spec"]["runtime"]["envs"][1]["value"] == SECRET_MASK
    shown = (await api.get("/agents/secrets", params={"show_secrets": "true"})).json()
    assert shown["spec"]["runtime"]["envs"][1]["value"] == "s3cr3t"
    assert (await api.get("/agents/secrets", params={"show_secrets": "maybe"})).status_code == 400


async def test_put_name_must_match_path(api: httpx.AsyncClient) -> None:
    await api.post("/agents", json=agent_body("put-name"))
    mismatch = await api.put("/agents/put-name", json=agent_body("other-name"))
    assert mismatch.status_code == 400
    assert "metadata.name" in mismatch.json()["message"]
    no_name = await api.put("/agents/put-name", json={"spec": {"runtime": {"memory": 1024}}})
    assert no_name.status_code == 200
    assert no_name.json()["metadata"]["name"] == "put-name"
    assert no_name.json()["spec"]["runtime"]["memory"] == 1024


async def test_put_replaces_spec_and_labels(api: httpx.AsyncClient) -> None:
    body = {"metadata": {"name": "replace", "labels": {"a": "1"}}, "spec": {"region": "us-pdx-1"}}
    await api.post("/agents", json=body)
    replaced = (await api.put("/agents/replace", json={"metadata": {"name": "replace"}, "spec": {}})).json()
    assert "labels" not in replaced["metadata"]
    assert "region" not in replaced["spec"]


async def test_put_starts_a_new_deployment_and_revision(
    api: httpx.AsyncClient, poll_status: Poll, sim: BlaxelSimulator
) -> None:
    await api.post("/agents", json=agent_body("revs"))
    first = await poll_status("revs", "DEPLOYED")
    await api.put("/agents/revs", json=agent_body("revs", runtime={"memory": 512}))
    second = await poll_status("revs", "DEPLOYED")
    revisions = (await api.get("/agents/revs/revisions")).json()
    assert len(revisions) == 2
    newest, oldest = revisions
    assert newest["id"] == second["events"][-1]["revision"]
    assert oldest["id"] == first["events"][-1]["revision"]
    assert newest["active"] is True and newest["trafficPercent"] == 100 and newest["status"] == "DEPLOYED"
    assert oldest["active"] is False and oldest["previousActive"] is True and oldest["trafficPercent"] == 0
    assert newest["createdBy"].startswith("apikey:")
    assert statuses(second) == DEPLOY_PHASES * 2


async def test_put_while_deploying_supersedes_the_running_deployment(
    api: httpx.AsyncClient, sim: BlaxelSimulator
) -> None:
    sim.set_step(60)
    await api.post("/agents", json=agent_body("supersede"))
    sim.advance(60)
    await api.put("/agents/supersede", json=agent_body("supersede"))
    sim.advance(180)
    agent = (await api.get("/agents/supersede")).json()
    assert agent["status"] == "DEPLOYED"
    first, second = agent["events"][0]["revision"], agent["events"][-1]["revision"]
    assert statuses(agent, first) == ["UPLOADING", "BUILDING"]  # cut short by the PUT
    assert statuses(agent, second) == DEPLOY_PHASES
    revisions = (await api.get("/agents/supersede/revisions")).json()
    assert [r["status"] for r in revisions] == ["DEPLOYED", "BUILDING"]


async def test_fail_next_deployment_ends_failed(
    api: httpx.AsyncClient, poll_status: Poll, sim: BlaxelSimulator
) -> None:
    sim.fail_next_deployment("failing", message="Build failed: missing Dockerfile")
    await api.post("/agents", json=agent_body("failing"))
    failed = await poll_status("failing", "FAILED")
    assert statuses(failed) == ["UPLOADING", "BUILDING", "FAILED"]
    assert failed["events"][-1]["message"] == "Build failed: missing Dockerfile"
    assert (await api.get("/agents/failing/revisions")).json()[0]["active"] is False
    # only the next one: the following deployment succeeds
    await api.put("/agents/failing", json=agent_body("failing"))
    await poll_status("failing", "DEPLOYED")


async def test_fail_every_deployment_until_cleared(
    api: httpx.AsyncClient, poll_status: Poll, sim: BlaxelSimulator
) -> None:
    sim.fail_next_deployment("always", count=None)
    await api.post("/agents", json=agent_body("always"))
    await poll_status("always", "FAILED")
    await api.put("/agents/always", json=agent_body("always"))
    await poll_status("always", "FAILED")
    sim.clear_fail("always")
    await api.put("/agents/always", json=agent_body("always"))
    await poll_status("always", "DEPLOYED")


async def test_image_marker_makes_deployments_fail(api: httpx.AsyncClient, poll_status: Poll) -> None:
    await api.post("/agents", json=agent_body("marked", runtime={"image": "registry/agent:sim-fail"}))
    agent = await poll_status("marked", "FAILED")
    assert "sim-fail" in agent["events"][-1]["message"]


async def test_fail_agent_now_breaks_a_deployed_agent(
    api: httpx.AsyncClient, poll_status: Poll, sim: BlaxelSimulator
) -> None:
    await api.post("/agents", json=agent_body("crash"))
    await poll_status("crash", "DEPLOYED")
    sim.fail_agent_now("crash", message="container exited")
    agent = (await api.get("/agents/crash")).json()
    assert agent["status"] == "FAILED"
    assert agent["events"][-1]["message"] == "container exited"


async def test_disabled_agent_ends_deactivated(api: httpx.AsyncClient, poll_status: Poll) -> None:
    await api.post("/agents", json=agent_body("toggle"))
    await poll_status("toggle", "DEPLOYED")
    response = await api.put("/agents/toggle", json=agent_body("toggle", enabled=False))
    assert response.json()["status"] == "DEACTIVATING"
    agent = await poll_status("toggle", "DEACTIVATED")
    assert statuses(agent)[-2:] == ["DEACTIVATING", "DEACTIVATED"]
    assert agent["spec"]["enabled"] is False
    await api.put("/agents/toggle", json=agent_body("toggle", enabled=True))
    await poll_status("toggle", "DEPLOYED")


async def test_delete_is_deleting_then_gone_and_409_meanwhile(
    api: httpx.AsyncClient, sim: BlaxelSimulator, poll_gone: Callable[..., Awaitable[None]]
) -> None:
    sim.set_delete_seconds(60)
    await api.post("/agents", json=agent_body("going"))
    deleted = await api.delete("/agents/going")
    assert deleted.status_code == 200 and deleted.json()["status"] == "DELETING"
    assert deleted.json()["events"][-1]["status"] == "DELETING"
    assert (await api.get("/agents/going")).json()["status"] == "DELETING"
    assert (await api.post("/agents", json=agent_body("going"))).status_code == 409
    assert (await api.put("/agents/going", json=agent_body("going"))).status_code == 409
    again = await api.delete("/agents/going")
    assert again.status_code == 200 and again.json()["status"] == "DELETING"
    sim.advance(61)
    await poll_gone("going", within=1.0)
    recreated = await api.post("/agents", json=agent_body("going"))
    assert recreated.status_code == 200 and recreated.json()["status"] == "UPLOADING"


async def test_stale_failed_quirk_after_put(
    api: httpx.AsyncClient, poll_status: Poll, sim: BlaxelSimulator
) -> None:
    sim.set_stale_failed_seconds(30)
    sim.fail_next_deployment("stale")
    await api.post("/agents", json=agent_body("stale"))
    await poll_status("stale", "FAILED")
    put = await api.put("/agents/stale", json=agent_body("stale", runtime={"memory": 1024}))
    assert put.json()["status"] == "FAILED"  # the previous build's FAILED still shows
    assert (await api.get("/agents/stale")).json()["status"] == "FAILED"
    sim.advance(30)
    await poll_status("stale", "DEPLOYED")


async def test_stale_failed_quirk_is_off_by_default(
    api: httpx.AsyncClient, poll_status: Poll, sim: BlaxelSimulator
) -> None:
    sim.fail_next_deployment("fresh")
    await api.post("/agents", json=agent_body("fresh"))
    await poll_status("fresh", "FAILED")
    assert (await api.put("/agents/fresh", json=agent_body("fresh"))).json()["status"] == "UPLOADING"


async def test_clock_advance_settles_deployments(api: httpx.AsyncClient, sim: BlaxelSimulator) -> None:
    sim.set_step(3600)
    await api.post("/agents", json=agent_body("slow"))
    assert (await api.get("/agents/slow")).json()["status"] == "UPLOADING"
    sim.advance(3600)
    assert (await api.get("/agents/slow")).json()["status"] == "BUILDING"
    sim.advance(7200)
    assert (await api.get("/agents/slow")).json()["status"] == "DEPLOYED"


async def test_image_skips_build_when_configured(
    api: httpx.AsyncClient, sim: BlaxelSimulator, poll_status: Poll
) -> None:
    sim.config.image_skips_build = True
    await api.post("/agents", json=agent_body("image-only", runtime={"image": "registry/agent:1"}))
    agent = await poll_status("image-only", "DEPLOYED")
    assert statuses(agent) == ["DEPLOYING", "DEPLOYED"]


async def test_workspaces_are_isolated(api: httpx.AsyncClient) -> None:
    await api.post("/agents", json=agent_body("shared-name"))
    team = {"X-Blaxel-Workspace": "team"}
    assert (await api.get("/agents/shared-name", headers=team)).status_code == 404
    created = await api.post("/agents", json=agent_body("shared-name"), headers=team)
    assert created.status_code == 200
    assert created.json()["metadata"]["workspace"] == "team"
    assert len((await api.get("/agents", headers=team)).json()) == 1


async def test_events_and_revisions_are_bounded(api: httpx.AsyncClient, sim: BlaxelSimulator) -> None:
    sim.set_step(0)
    await api.post("/agents", json=agent_body("busy"))
    for _ in range(sim.config.max_revisions + 5):
        await api.put("/agents/busy", json=agent_body("busy"))
    agent = (await api.get("/agents/busy")).json()
    assert len(agent["events"]) <= sim.config.max_events
    assert agent["status"] == "DEPLOYED"
    assert len((await api.get("/agents/busy/revisions")).json()) == sim.config.max_revisions
