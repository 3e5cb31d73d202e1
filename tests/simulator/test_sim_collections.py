"""Functions, models, jobs, policies, volumes and integration connections over loopback HTTP.

The same behaviour as agents where the description says so (CRUD, 409, 404, paging, masking), and
each collection's own: deployments, a volume's provisioning and immutable fields, policies and
connections without status. Responses are contract-checked by the ``api`` fixture.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from blaxel_operator.simulator import SECRET_MASK, BlaxelSimulator

from .bodies import COLLECTION_PATHS, DEPLOYABLES, FACTS, WITH_STATUS, body, full_body
from .conftest import PAGINATED

PollObject = Callable[..., Awaitable[dict[str, Any]]]


def names(items: list[dict[str, Any]]) -> list[str]:
    return [item["metadata"]["name"] for item in items]


async def gone(api: httpx.AsyncClient, sim: BlaxelSimulator, url: str) -> None:
    sim.advance(sim.config.delete_seconds + 1)
    assert (await api.get(url)).status_code == 404


@pytest.mark.parametrize("path", COLLECTION_PATHS)
async def test_create_read_update_delete(api: httpx.AsyncClient, sim: BlaxelSimulator, path: str) -> None:
    facts = FACTS[path]
    created = await api.post(f"/{path}", json=body(path, "thing"))
    assert created.status_code == 200, created.text
    obj = created.json()
    assert obj["metadata"]["name"] == "thing" and obj["metadata"]["workspace"] == "sandbox"
    assert obj["metadata"]["createdBy"].startswith("apikey:")
    assert ("status" in obj) == bool(facts.phases)
    if facts.phases:
        assert obj["status"] == facts.phases[0]

    again = await api.post(f"/{path}", json=body(path, "thing"))
    assert again.status_code == 409 and again.json()["error"] == "conflict"
    assert "thing" in again.json()["message"]

    updated = await api.put(f"/{path}/thing", json=body(path, "thing", **facts.change))
    assert updated.status_code == 200, updated.text
    got = (await api.get(f"/{path}/thing")).json()
    for key, value in facts.change.items():
        if key != "secret":
            assert got["spec"][key] == value
    assert got["metadata"]["updatedAt"] > got["metadata"]["createdAt"]
    assert names((await api.get(f"/{path}")).json()) == ["thing"]

    deleted = await api.delete(f"/{path}/thing")
    assert deleted.status_code == 200 and deleted.json()["metadata"]["name"] == "thing"
    if facts.deletes_slowly:
        assert deleted.json()["status"] == "DELETING"
        assert (await api.get(f"/{path}/thing")).json()["status"] == "DELETING"
        assert (await api.post(f"/{path}", json=body(path, "thing"))).status_code == 409
        await gone(api, sim, f"/{path}/thing")
    else:
        assert (await api.get(f"/{path}/thing")).status_code == 404
    for response in (
        await api.get(f"/{path}/thing"),
        await api.put(f"/{path}/thing", json=body(path, "thing")),
        await api.delete(f"/{path}/thing"),
    ):
        assert response.status_code == 404
        assert response.json()["error"] == "not_found" and "thing" in response.json()["message"]


@pytest.mark.parametrize("path", COLLECTION_PATHS)
async def test_invalid_bodies_are_400_naming_the_field(api: httpx.AsyncClient, path: str) -> None:
    for bad, field in [
        (body(path, "Bad_Name"), "metadata.name"),
        ({**body(path, "ok"), "spec": {**body(path, "ok")["spec"], "invented": 1}}, "spec.invented"),
        (
            {"metadata": {"name": "ok", "labels": {"a": 1}}, "spec": body(path, "ok")["spec"]},
            "metadata.labels.a",
        ),
        ({"spec": {}}, "metadata"),
    ]:
        response = await api.post(f"/{path}", json=bad)
        assert response.status_code == 400, response.text
        assert field in response.json()["message"]
    assert (await api.get(f"/{path}")).json() == []
    await api.post(f"/{path}", json=body(path, "ok"))
    mismatch = await api.put(f"/{path}/ok", json=body(path, "other"))
    assert mismatch.status_code == 400 and "metadata.name" in mismatch.json()["message"]


@pytest.mark.parametrize(
    ("path", "spec", "field"),
    [
        ("functions", {"runtime": {"transport": "grpc"}}, "spec.runtime.transport"),
        ("functions", {"runtime": {"ports": [{"name": "http"}]}}, "spec.runtime.ports[0].target"),
        ("functions", {"public": True, "runtime": {"generation": "mk2"}}, "spec.public"),
        ("functions", {"region": "mars-1"}, "spec.region"),
        ("models", {"runtime": {"type": "skynet"}}, "spec.runtime.type"),
        ("models", {"flavors": [{"name": "t4", "type": "tpu"}]}, "spec.flavors[0].type"),
        ("jobs", {"runtime": {"diskPercent": 5}}, "spec.runtime.diskPercent"),
        ("jobs", {"runtime": {"diskPercent": 96}}, "spec.runtime.diskPercent"),
        ("jobs", {"volumes": [{"name": "v", "mountPath": "/v", "type": "persistent", "sizeMb": 1}]}, "type"),
        ("jobs", {"volumes": [{"name": "v", "type": "ephemeral"}]}, "spec.volumes[0].mountPath"),
        ("policies", {"type": "budget"}, "spec.type"),
        ("policies", {"resourceTypes": ["database"]}, "spec.resourceTypes[0]"),
        ("policies", {"maxTokens": {"total": "many"}}, "spec.maxTokens.total"),
        ("volumes", {"region": None}, "spec.region"),
        ("volumes", {"size": None}, "spec.size"),
        ("volumes", {"size": "1Gi"}, "spec.size"),
        ("integrations/connections", {"secret": {"apiKey": 42}}, "spec.secret.apiKey"),
        ("integrations/connections", {"config": ["x"]}, "spec.config"),
    ],
)
async def test_each_schema_is_enforced(
    api: httpx.AsyncClient, path: str, spec: dict[str, Any], field: str
) -> None:
    response = await api.post(f"/{path}", json=body(path, "bad", **spec))
    assert response.status_code == 400, response.text
    assert field in response.json()["message"]


@pytest.mark.parametrize("path", DEPLOYABLES)
async def test_deployments_run_on_the_clock(api: httpx.AsyncClient, sim: BlaxelSimulator, path: str) -> None:
    phases = list(FACTS[path].phases)
    sim.set_step(60)
    await api.post(f"/{path}", json=body(path, "dep"))
    seen = []
    for _ in phases:
        seen.append((await api.get(f"/{path}/dep")).json()["status"])
        sim.advance(60)
    assert seen == phases
    first = (await api.get(f"/{path}/dep")).json()
    assert [e["status"] for e in first["events"]] == phases
    assert all(e["type"] == "deployment" and e["revision"].startswith("rev-") for e in first["events"])
    await api.put(f"/{path}/dep", json=body(path, "dep", **FACTS[path].change))
    assert (await api.get(f"/{path}/dep")).json()["status"] == phases[0]
    sim.advance(60 * len(phases))
    revisions = (await api.get(f"/{path}/dep/revisions")).json()
    assert [r["status"] for r in revisions] == ["DEPLOYED", "DEPLOYED"]
    assert revisions[0]["active"] is True and revisions[1]["previousActive"] is True


@pytest.mark.parametrize("path", DEPLOYABLES)
async def test_failures_and_deactivation(
    api: httpx.AsyncClient, sim: BlaxelSimulator, poll_object: PollObject, path: str
) -> None:
    sim.fail_next_deployment("broken", collection=path, message="Build failed: exit 1")
    await api.post(f"/{path}", json=body(path, "broken"))
    failed = await poll_object(path, "broken", "FAILED")
    assert failed["events"][-1]["message"] == "Build failed: exit 1"
    await api.put(f"/{path}/broken", json=body(path, "broken"))
    await poll_object(path, "broken", "DEPLOYED")
    sim.fail_now(path, "broken", message="crashed")
    assert (await api.get(f"/{path}/broken")).json()["status"] == "FAILED"
    off = await api.put(f"/{path}/broken", json=body(path, "broken", enabled=False))
    assert off.json()["status"] == "DEACTIVATING"
    await poll_object(path, "broken", "DEACTIVATED")


async def test_a_model_deploys_without_a_build(api: httpx.AsyncClient, sim: BlaxelSimulator) -> None:
    created = (await api.post("/models", json=body("models", "gpt"))).json()
    assert created["status"] == "DEPLOYING"
    assert created["metadata"]["url"] == "https://run.blaxel.ai/sandbox/models/gpt"
    assert created["spec"]["enabled"] is True  # the schema's default


async def test_function_and_job_defaults_urls_and_triggers(api: httpx.AsyncClient) -> None:
    function = (await api.post("/functions", json=full_body("functions", "fn"))).json()
    assert function["metadata"]["url"] == "https://run.blaxel.ai/sandbox/functions/fn"
    triggers = function["spec"]["triggers"]
    assert triggers[0]["id"].startswith("trigger-") and triggers[0]["enabled"] is True
    assert triggers[1]["configuration"]["callbackSecret"] == "****"
    job = (await api.post("/jobs", json=body("jobs", "job"))).json()
    assert "url" not in job["metadata"]  # the description gives URLs to agents, functions, models
    assert job["spec"]["enabled"] is True
    bare = (await api.post("/functions", json=body("functions", "bare"))).json()
    assert bare["spec"]["enabled"] is True and bare["spec"]["public"] is False


@pytest.mark.parametrize("path", ["functions", "jobs"])
async def test_secret_envs_are_masked(api: httpx.AsyncClient, path: str) -> None:
    await api.post(f"/{path}", json=full_body(path, "secretive"))
    for response in (
        await api.get(f"/{path}/secretive"),
        await api.get(f"/{path}/secretive", params={"show_secrets": "false"}),
    ):
        envs = response.json()["spec"]["runtime"]["envs"]
        assert envs == [{"name": "A", "value": "1"}, {"name": "S", "value": SECRET_MASK, "secret": True}]
    assert (await api.get(f"/{path}")).json()[0]["spec"]["runtime"]["envs"][1]["value"] == SECRET_MASK
    shown = (await api.get(f"/{path}/secretive", params={"show_secrets": "true"})).json()
    assert shown["spec"]["runtime"]["envs"][1]["value"] == "s3cr3t"
    assert (await api.get(f"/{path}/secretive", params={"show_secrets": "maybe"})).status_code == 400


async def test_connection_secrets_are_always_masked(api: httpx.AsyncClient, sim: BlaxelSimulator) -> None:
    created = await api.post(
        "/integrations/connections", json=full_body("integrations/connections", "openai")
    )
    assert created.json()["spec"]["secret"] == {"apiKey": SECRET_MASK}
    assert created.json()["spec"]["config"] == {"organization": "org-abc"}
    # GET of a connection documents no show_secrets: "configuration (secrets are masked)"
    shown = await api.get("/integrations/connections/openai", params={"show_secrets": "true"})
    assert shown.status_code == 200 and shown.json()["spec"]["secret"] == {"apiKey": SECRET_MASK}
    assert (await api.get("/integrations/connections")).json()[0]["spec"]["secret"] == {"apiKey": SECRET_MASK}
    assert sim.get_object("connections", "openai")["spec"]["secret"] == {"apiKey": "sk-123"}  # type: ignore[index]
    # a client that writes the mask back stores the mask: it must never do that
    await api.put("/integrations/connections/openai", json=created.json())
    assert sim.get_object("connections", "openai")["spec"]["secret"] == {"apiKey": SECRET_MASK}  # type: ignore[index]


@pytest.mark.parametrize("path", ["models", "policies", "volumes"])
async def test_show_secrets_is_not_a_parameter_of_these(api: httpx.AsyncClient, path: str) -> None:
    await api.post(f"/{path}", json=body(path, "plain"))
    assert (await api.get(f"/{path}/plain", params={"show_secrets": "maybe"})).status_code == 200


async def test_policies_and_connections_have_no_status(api: httpx.AsyncClient) -> None:
    for path in ("policies", "integrations/connections"):
        obj = (await api.post(f"/{path}", json=body(path, "still"))).json()
        assert "status" not in obj and "events" not in obj
        assert "url" not in obj["metadata"]


async def test_a_volume_is_provisioned_then_usable(api: httpx.AsyncClient, sim: BlaxelSimulator) -> None:
    sim.set_step(30)
    created = (await api.post("/volumes", json=body("volumes", "data"))).json()
    assert created["status"] == "DEPLOYING" and created["state"] == {}
    sim.advance(30)
    ready = (await api.get("/volumes/data")).json()
    assert ready["status"] == "DEPLOYED"
    assert [(e["type"], e["status"]) for e in ready["events"]] == [
        ("deployment", "DEPLOYING"),
        ("deployment", "DEPLOYED"),
    ]
    # a PUT changes the volume in place: no new provisioning
    grown = (await api.put("/volumes/data", json=body("volumes", "data", size=2048))).json()
    assert grown["status"] == "DEPLOYED" and grown["spec"]["size"] == 2048
    deleted = (await api.delete("/volumes/data")).json()
    assert deleted["status"] == "DELETING" and deleted["terminatedAt"].endswith("Z")
    await gone(api, sim, "/volumes/data")


async def test_a_volume_region_and_template_are_immutable_and_it_never_shrinks(
    api: httpx.AsyncClient,
) -> None:
    await api.post("/volumes", json=body("volumes", "disk", size=2048, template="tpl:1"))
    changes: list[tuple[dict[str, Any], str]] = [
        ({"region": "eu-lon-1"}, "spec.region"),
        ({"template": "tpl:2"}, "spec.template"),
        ({"size": 1024}, "spec.size"),
    ]
    for change, field in changes:
        spec = {"size": 2048, "template": "tpl:1", **change}
        response = await api.put("/volumes/disk", json=body("volumes", "disk", **spec))
        assert response.status_code == 400, response.text
        assert field in response.json()["message"]
    assert (await api.get("/volumes/disk")).json()["spec"] == {
        "region": "us-pdx-1",
        "size": 2048,
        "template": "tpl:1",
    }
    grown = await api.put("/volumes/disk", json=body("volumes", "disk", size=4096, template="tpl:1"))
    assert grown.status_code == 200 and grown.json()["spec"]["size"] == 4096


async def test_an_attached_volume_cannot_be_deleted(api: httpx.AsyncClient, sim: BlaxelSimulator) -> None:
    await api.post("/volumes", json=body("volumes", "busy"))
    attached = sim.edit_object("volumes", "busy", {"state": {"attachedTo": "sandbox:box"}})
    assert attached["state"] == {"attachedTo": "sandbox:box"}
    refused = await api.delete("/volumes/busy")
    assert refused.status_code == 409 and "sandbox:box" in refused.json()["message"]
    sim.edit_object("volumes", "busy", {"state": {"attachedTo": None}})
    assert (await api.delete("/volumes/busy")).status_code == 200


async def test_volumes_by_external_id_and_their_lite_listing(api: httpx.AsyncClient) -> None:
    await api.post("/volumes", json=full_body("volumes", "one"))
    await api.post("/volumes", json=body("volumes", "two"))
    found = await api.get("/volumes/by-external-id/c-1")
    assert found.status_code == 200 and found.json()["metadata"]["name"] == "one"
    assert (await api.get("/volumes/by-external-id/nope")).status_code == 404
    page = (await api.get("/volumes", headers=PAGINATED)).json()
    assert names(page["data"]) == ["two", "one"]
    lite = page["data"][1]
    assert set(lite) == {"metadata", "spec", "state", "status"}
    assert set(lite["metadata"]) == {"name", "displayName", "externalId", "createdAt", "updatedAt"}
    assert lite["spec"] == {"region": "us-pdx-1", "size": 1024}
    assert "events" in (await api.get("/volumes")).json()[0]  # older versions: full volumes
    filtered = (await api.get("/volumes", headers=PAGINATED, params={"externalId": "c-1"})).json()
    assert names(filtered["data"]) == ["one"]


async def test_policy_usage(api: httpx.AsyncClient) -> None:
    await api.post("/policies", json=body("policies", "eu-only"))
    await api.post("/policies", json=body("policies", "unused"))
    await api.post("/agents", json={"metadata": {"name": "bot"}, "spec": {"policies": ["eu-only"]}})
    await api.post("/functions", json=body("functions", "fn", policies=["eu-only", "unused"]))
    await api.post("/models", json=body("models", "gpt", policies=["eu-only"]))
    listed = {p["metadata"]["name"]: p["usage"] for p in (await api.get("/policies")).json()}
    assert listed["eu-only"] == {"agents": 1, "functions": 1, "jobs": 0, "models": 1, "sandboxes": 0}
    assert listed["unused"]["functions"] == 1 and listed["unused"]["agents"] == 0
    usages = (await api.get("/policies/eu-only/usages")).json()
    assert usages["agents"] == [{"name": "bot"}] and usages["models"] == [{"name": "gpt"}]
    assert usages["jobs"] == [] and usages["sandboxes"] == []
    assert (await api.get("/policies/nope/usages")).status_code == 404


@pytest.mark.parametrize("path", [p for p in COLLECTION_PATHS if FACTS[p].paginated])
async def test_paging_in_both_versions(api: httpx.AsyncClient, sim: BlaxelSimulator, path: str) -> None:
    created = [f"obj-{index:02d}" for index in range(7)]
    for name in created:
        sim.seed_object(path, body(path, name))
    assert sorted(names((await api.get(f"/{path}", params={"limit": "2"})).json())) == created
    seen: list[str] = []
    params = {"limit": "3", "sort": "name:asc"}
    while True:
        page = (await api.get(f"/{path}", headers=PAGINATED, params=params)).json()
        assert page["meta"]["total"] == 7
        seen.extend(names(page["data"]))
        if not page["meta"]["hasMore"]:
            break
        params["cursor"] = page["meta"]["nextCursor"]
    assert seen == created
    # a cursor of one collection is not one of another
    cursor = (await api.get(f"/{path}", headers=PAGINATED, params={"limit": "1"})).json()["meta"][
        "nextCursor"
    ]
    other = "agents" if path != "agents" else "functions"
    assert (await api.get(f"/{other}", headers=PAGINATED, params={"cursor": cursor})).status_code == 400


async def test_connections_are_listed_whole_in_every_version(
    api: httpx.AsyncClient, sim: BlaxelSimulator
) -> None:
    for index in range(3):
        sim.seed_object("integrations/connections", body("integrations/connections", f"conn-{index}"))
    for headers in ({}, PAGINATED):
        listed = (await api.get("/integrations/connections", headers=headers, params={"limit": "1"})).json()
        assert names(listed) == ["conn-2", "conn-1", "conn-0"]


@pytest.mark.parametrize("path", WITH_STATUS)
async def test_status_filter(api: httpx.AsyncClient, sim: BlaxelSimulator, path: str) -> None:
    sim.seed_object(path, body(path, "ready"))
    sim.seed_object(path, body(path, "young"), settled=False)
    sim.set_step(3600)  # not needed for seeds; keeps "young" young on a slow machine
    found = (await api.get(f"/{path}", headers=PAGINATED, params={"status": "deployed"})).json()
    assert names(found["data"]) == ["ready"]
    assert (await api.get(f"/{path}", headers=PAGINATED, params={"status": "NOPE"})).status_code == 400


async def test_policies_have_no_status_filter(api: httpx.AsyncClient, sim: BlaxelSimulator) -> None:
    sim.seed_object("policies", body("policies", "p"))
    listed = await api.get("/policies", headers=PAGINATED, params={"status": "NOPE"})
    assert listed.status_code == 200 and names(listed.json()["data"]) == ["p"]


@pytest.mark.parametrize("path", COLLECTION_PATHS)
async def test_workspaces_are_isolated(api: httpx.AsyncClient, path: str) -> None:
    await api.post(f"/{path}", json=body(path, "shared"))
    team = {"X-Blaxel-Workspace": "team"}
    assert (await api.get(f"/{path}/shared", headers=team)).status_code == 404
    created = await api.post(f"/{path}", json=body(path, "shared"), headers=team)
    assert created.status_code == 200 and created.json()["metadata"]["workspace"] == "team"
    denied = await api.get(f"/{path}", headers={"X-Blaxel-Workspace": "elsewhere"})
    assert denied.status_code == 403


async def test_unknown_sub_paths_and_methods(api: httpx.AsyncClient) -> None:
    await api.post("/policies", json=body("policies", "p"))
    assert (await api.get("/policies/p/revisions")).status_code == 404  # no revisions for policies
    assert (await api.get("/integrations")).status_code == 404
    assert (await api.patch("/functions/x", json={})).status_code == 405
    assert (await api.delete("/volumes")).status_code == 405
    assert (await api.post("/policies/p/usages")).status_code == 405


async def test_the_call_log_names_collection_and_object(api: httpx.AsyncClient, sim: BlaxelSimulator) -> None:
    await api.post("/integrations/connections", json=body("integrations/connections", "conn"))
    await api.get("/functions/fn")
    await api.post("/agents", json={"metadata": {"name": "bot"}, "spec": {}})
    post, get, agent = sim.calls()
    assert (post.collection, post.name, post.agent) == ("integrations/connections", "conn", None)
    assert (get.collection, get.name) == ("functions", "fn")
    assert (agent.collection, agent.name, agent.agent) == ("agents", "bot", "bot")
    assert [c.seq for c in sim.calls(collection="connections")] == [post.seq]
    assert [c.seq for c in sim.calls(name="fn")] == [get.seq]
