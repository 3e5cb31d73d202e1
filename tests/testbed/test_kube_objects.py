"""Object basics: server fields, resourceVersion, generation, namespaces, names, errors."""

from __future__ import annotations

import re

from blaxel_devkit.kube import KubeEmulator

from .helpers import AGENTS, JSON_PATCH, SECRETS, WIDGETS, Api, agent, widget


async def test_create_sets_uid_creation_timestamp_and_generation(api: Api) -> None:
    body = agent()
    body["metadata"].update(
        uid="forged", generation=7, resourceVersion="999", creationTimestamp="2000-01-01T00:00:00Z"
    )
    obj = await api.create(AGENTS, body)
    meta = obj["metadata"]
    assert re.fullmatch(r"[0-9a-f-]{36}", meta["uid"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", meta["creationTimestamp"])
    assert meta["creationTimestamp"] != "2000-01-01T00:00:00Z"
    assert meta["generation"] == 1
    assert meta["resourceVersion"] != "999"


async def test_resource_version_is_global_and_grows_on_every_change(api: Api) -> None:
    first = await api.create(AGENTS, agent("a1"))
    secret = await api.create(SECRETS, {"metadata": {"name": "s1"}, "data": {}})
    second = await api.create(AGENTS, agent("a2"))
    versions = [int(o["metadata"]["resourceVersion"]) for o in (first, secret, second)]
    assert versions == sorted(versions) and len(set(versions)) == 3
    listed = await api.get(AGENTS)
    assert int(listed.body["metadata"]["resourceVersion"]) >= versions[-1]


async def test_noop_patch_keeps_resource_version_and_emits_no_event(api: Api, kube: KubeEmulator) -> None:
    obj = await api.create(AGENTS, agent(displayName="same"))
    rv = obj["metadata"]["resourceVersion"]
    before = kube.resource_version
    rsp = await api.patch(f"{AGENTS}/agent-1", {"spec": {"displayName": "same"}})
    assert rsp.status == 200
    assert rsp.body["metadata"]["resourceVersion"] == rv
    assert kube.resource_version == before  # nothing stored, so no watch event either


async def test_generation_bumps_on_spec_change_only(api: Api) -> None:
    await api.create(AGENTS, agent())
    labeled = await api.patch(f"{AGENTS}/agent-1", {"metadata": {"labels": {"team": "a"}}})
    assert labeled.body["metadata"]["generation"] == 1
    status = await api.patch(f"{AGENTS}/agent-1/status", {"status": {"observedGeneration": 1}})
    assert status.body["metadata"]["generation"] == 1
    changed = await api.patch(f"{AGENTS}/agent-1", {"spec": {"displayName": "new"}})
    assert changed.body["metadata"]["generation"] == 2
    assert int(changed.body["metadata"]["resourceVersion"]) > int(labeled.body["metadata"]["resourceVersion"])


async def test_generation_counts_status_changes_without_status_subresource(api: Api) -> None:
    path = "/apis/test.blaxel.ai/v1/gadgets"
    await api.create(path, {"apiVersion": "test.blaxel.ai/v1", "kind": "Gadget", "metadata": {"name": "g"}})
    rsp = await api.patch(f"{path}/g", {"status": {"ok": True}})
    assert rsp.body["status"] == {"ok": True}
    assert rsp.body["metadata"]["generation"] == 2


async def test_namespace_is_taken_from_the_url(api: Api) -> None:
    obj = await api.create(AGENTS, agent())
    assert obj["metadata"]["namespace"] == "default"


async def test_namespace_mismatch_with_the_url_is_rejected(api: Api) -> None:
    body = agent()
    body["metadata"]["namespace"] = "other"
    rsp = await api.post(AGENTS, body)
    assert rsp.status == 400
    assert rsp.body["reason"] == "BadRequest"
    assert "does not match the namespace" in rsp.message


async def test_missing_namespace_is_not_found(api: Api) -> None:
    rsp = await api.post("/apis/blaxel.ai/v1alpha1/namespaces/nowhere/blaxelagents", agent())
    assert rsp.status == 404
    assert rsp.message == 'namespaces "nowhere" not found'


async def test_generate_name_gets_a_random_suffix(api: Api) -> None:
    body = {
        "metadata": {"generateName": "ev-"},
        "reason": "Test",
        "involvedObject": {"kind": "X", "name": "x"},
    }
    names = {
        (await api.create("/api/v1/namespaces/default/events", body))["metadata"]["name"] for _ in range(5)
    }
    assert len(names) == 5
    assert all(re.fullmatch(r"ev-[bcdfghjklmnpqrstvwxz2456789]{5}", n) for n in names)


async def test_name_or_generate_name_is_required(api: Api) -> None:
    body = agent()
    del body["metadata"]["name"]
    rsp = await api.post(AGENTS, body)
    assert rsp.status == 422
    assert "metadata.name: Required value: name or generateName is required" in rsp.message


async def test_invalid_object_name_is_rejected(api: Api) -> None:
    rsp = await api.post(WIDGETS, widget("Not_Valid"))
    assert rsp.status == 422
    assert 'metadata.name: Invalid value: "Not_Valid": a lowercase RFC 1123 subdomain' in rsp.message


async def test_not_found_has_an_apiserver_status_body(api: Api) -> None:
    rsp = await api.get(f"{AGENTS}/missing")
    assert rsp.status == 404
    assert rsp.body == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'blaxelagents.blaxel.ai "missing" not found',
        "reason": "NotFound",
        "details": {"name": "missing", "group": "blaxel.ai", "kind": "blaxelagents"},
        "code": 404,
    }


async def test_creating_an_existing_object_is_already_exists(api: Api) -> None:
    await api.create(AGENTS, agent())
    rsp = await api.post(AGENTS, agent())
    assert rsp.status == 409
    assert rsp.body["reason"] == "AlreadyExists"
    assert rsp.message == 'blaxelagents.blaxel.ai "agent-1" already exists'
    assert rsp.body["details"] == {"name": "agent-1", "group": "blaxel.ai", "kind": "blaxelagents"}


async def test_unknown_resource_is_not_found(api: Api) -> None:
    rsp = await api.get("/apis/blaxel.ai/v1alpha1/namespaces/default/nothings")
    assert rsp.status == 404
    assert rsp.body["reason"] == "NotFound"


async def test_secret_string_data_is_merged_into_data(api: Api) -> None:
    obj = await api.create(SECRETS, {"metadata": {"name": "s"}, "stringData": {"apiKey": "abc"}})
    assert obj["data"] == {"apiKey": "YWJj"}
    assert "stringData" not in obj
    assert obj["type"] == "Opaque"


async def test_dry_run_stores_nothing(api: Api, kube: KubeEmulator) -> None:
    rsp = await api.post(AGENTS, agent(), params={"dryRun": "All"})
    assert rsp.status == 201
    assert rsp.body["spec"]["deletionPolicy"] == "Delete"
    assert kube.get_object("blaxel.ai", "v1alpha1", "blaxelagents", "default", "agent-1") is None


async def test_write_counters_count_by_method_resource_and_subresource(api: Api, kube: KubeEmulator) -> None:
    kube.reset_counters()
    await api.create(AGENTS, agent())
    await api.patch(f"{AGENTS}/agent-1", {"spec": {"displayName": "x"}})
    await api.patch(f"{AGENTS}/agent-1/status", {"status": {"observedGeneration": 1}})
    await api.patch(f"{AGENTS}/agent-1", [{"op": "add", "path": "/metadata/labels", "value": {}}], JSON_PATCH)
    await api.get(f"{AGENTS}/agent-1")
    assert kube.write_counts[("POST", "blaxelagents", None)] == 1
    assert kube.write_counts[("PATCH", "blaxelagents", None)] == 2
    assert kube.write_counts[("PATCH", "blaxelagents", "status")] == 1
    assert kube.writes("blaxelagents") == 4
    assert kube.object_write_counts[("blaxelagents", "default", "agent-1")] == 4
    kube.reset_counters()
    assert kube.writes("blaxelagents") == 0


async def test_counters_as_json_for_the_counters_port(api: Api, kube: KubeEmulator) -> None:
    kube.reset_counters()
    await api.create(AGENTS, agent())
    counters = kube.counters()
    assert {"method": "POST", "plural": "blaxelagents", "subresource": None, "count": 1} in counters["writes"]
    assert {"plural": "blaxelagents", "namespace": "default", "name": "agent-1", "count": 1} in counters[
        "object_writes"
    ]
