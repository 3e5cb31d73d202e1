"""Writes: status subresource isolation, PUT, merge/JSON/strategic patches, apply, preconditions."""

from __future__ import annotations

from typing import Any

from blaxel_devkit.kube import KubeEmulator

from .helpers import AGENTS, CRDS, JSON_PATCH, MERGE, SECRETS, STRATEGIC, Api, agent

STATUS = {"observedGeneration": 1, "conditions": [{"type": "Ready", "status": "True"}]}


async def test_create_drops_status(api: Api) -> None:
    body = agent()
    body["status"] = STATUS
    obj = await api.create(AGENTS, body)
    assert "status" not in obj


async def test_status_write_changes_only_status(api: Api) -> None:
    await api.create(AGENTS, agent(displayName="before"))
    patch: dict[str, Any] = {
        "metadata": {"labels": {"sneaky": "yes"}},
        "spec": {"displayName": "after"},
        "status": STATUS,
    }
    rsp = await api.patch(f"{AGENTS}/agent-1/status", patch)
    assert rsp.status == 200
    assert rsp.body["status"] == STATUS
    assert rsp.body["spec"]["displayName"] == "before"
    assert "labels" not in rsp.body["metadata"]


async def test_status_put_changes_only_status(api: Api) -> None:
    obj = await api.create(AGENTS, agent(displayName="before"))
    obj["spec"]["displayName"] = "after"
    obj["status"] = STATUS
    rsp = await api.put(f"{AGENTS}/agent-1/status", obj)
    assert rsp.status == 200
    assert rsp.body["status"] == STATUS
    assert rsp.body["spec"]["displayName"] == "before"


async def test_main_endpoint_ignores_status(api: Api) -> None:
    await api.create(AGENTS, agent())
    await api.patch(f"{AGENTS}/agent-1/status", {"status": STATUS})
    rsp = await api.patch(
        f"{AGENTS}/agent-1", {"status": {"observedGeneration": 99}, "spec": {"displayName": "x"}}
    )
    assert rsp.body["status"] == STATUS
    assert rsp.body["spec"]["displayName"] == "x"


async def test_put_replaces_the_object(api: Api) -> None:
    obj = await api.create(AGENTS, agent(displayName="x", region="us-pdx-1"))
    obj["spec"] = {"displayName": "y"}
    rsp = await api.put(f"{AGENTS}/agent-1", obj)
    assert rsp.status == 200
    assert rsp.body["spec"] == {"displayName": "y", "deletionPolicy": "Delete"}
    assert rsp.body["metadata"]["generation"] == 2


async def test_put_with_stale_resource_version_is_a_conflict(api: Api) -> None:
    obj = await api.create(AGENTS, agent())
    await api.patch(f"{AGENTS}/agent-1", {"spec": {"displayName": "newer"}})
    obj["spec"]["displayName"] = "stale"
    rsp = await api.put(f"{AGENTS}/agent-1", obj)
    assert rsp.status == 409
    assert rsp.body["reason"] == "Conflict"
    assert rsp.message == (
        'Operation cannot be fulfilled on blaxelagents.blaxel.ai "agent-1": the object has been modified; '
        "please apply your changes to the latest version and try again"
    )


async def test_put_of_a_custom_resource_requires_a_resource_version(api: Api) -> None:
    obj = await api.create(AGENTS, agent())
    del obj["metadata"]["resourceVersion"]
    rsp = await api.put(f"{AGENTS}/agent-1", obj)
    assert rsp.status == 422
    assert "metadata.resourceVersion: Invalid value: 0: must be specified for an update" in rsp.message


async def test_patch_with_stale_resource_version_is_a_conflict(api: Api) -> None:
    obj = await api.create(AGENTS, agent())
    await api.patch(f"{AGENTS}/agent-1", {"spec": {"displayName": "newer"}})
    patch = {
        "metadata": {"resourceVersion": obj["metadata"]["resourceVersion"]},
        "spec": {"displayName": "x"},
    }
    rsp = await api.patch(f"{AGENTS}/agent-1", patch)
    assert rsp.status == 409


async def test_merge_patch_follows_rfc7386(api: Api) -> None:
    await api.create(AGENTS, agent(displayName="x", policies=["a", "b"], labels={"k1": "v1", "k2": "v2"}))
    patch = {"spec": {"displayName": None, "policies": ["c"], "labels": {"k1": None, "k3": "v3"}}}
    rsp = await api.patch(f"{AGENTS}/agent-1", patch, MERGE)
    spec = rsp.body["spec"]
    assert "displayName" not in spec
    assert spec["policies"] == ["c"]  # lists are replaced
    assert spec["labels"] == {"k2": "v2", "k3": "v3"}


async def test_json_patch_applies_operations_in_order(api: Api) -> None:
    await api.create(AGENTS, agent(policies=["a", "b"]))
    ops = [
        {"op": "add", "path": "/spec/policies/1", "value": "x"},
        {"op": "remove", "path": "/spec/policies/0"},
        {"op": "copy", "from": "/spec/policies/0", "path": "/spec/displayName"},
        {"op": "move", "from": "/spec/policies/1", "path": "/spec/region"},
        {"op": "replace", "path": "/spec/runtime/memory", "value": 4096},
        {"op": "test", "path": "/spec/displayName", "value": "x"},
    ]
    rsp = await api.patch(f"{AGENTS}/agent-1", ops, JSON_PATCH)
    assert rsp.status == 200, rsp
    spec = rsp.body["spec"]
    assert spec["policies"] == ["x"]
    assert spec["displayName"] == "x"
    assert spec["region"] == "b"
    assert spec["runtime"]["memory"] == 4096


async def test_json_patch_failed_test_is_unprocessable(api: Api) -> None:
    await api.create(AGENTS, agent())
    ops = [
        {"op": "test", "path": "/metadata/resourceVersion", "value": "1"},
        {"op": "add", "path": "/metadata/finalizers", "value": ["x.io/f"]},
    ]
    rsp = await api.patch(f"{AGENTS}/agent-1", ops, JSON_PATCH)
    assert rsp.status == 422
    assert (
        rsp.body["details"]["causes"][0]["message"]
        == "testing value /metadata/resourceVersion failed: test failed"
    )
    assert "finalizers" not in (await api.get(f"{AGENTS}/agent-1")).body["metadata"]


async def test_json_patch_on_a_missing_path_is_unprocessable(api: Api) -> None:
    await api.create(AGENTS, agent())
    rsp = await api.patch(
        f"{AGENTS}/agent-1", [{"op": "replace", "path": "/spec/nope/x", "value": 1}], JSON_PATCH
    )
    assert rsp.status == 422


async def test_strategic_merge_patch_is_unsupported_for_custom_resources(api: Api) -> None:
    await api.create(AGENTS, agent())
    rsp = await api.patch(f"{AGENTS}/agent-1", {"spec": {"displayName": "x"}}, STRATEGIC)
    assert rsp.status == 415
    assert rsp.body["reason"] == "UnsupportedMediaType"


async def test_strategic_merge_patch_on_a_secret(api: Api) -> None:
    await api.create(SECRETS, {"metadata": {"name": "s", "finalizers": ["a.io/x"]}, "data": {"a": "YQ=="}})
    patch = {"metadata": {"finalizers": ["b.io/y"]}, "data": {"b": "Yg=="}}
    rsp = await api.patch(f"{SECRETS}/s", patch, STRATEGIC)
    assert rsp.status == 200
    assert rsp.body["metadata"]["finalizers"] == ["a.io/x", "b.io/y"]  # merged, not replaced
    assert rsp.body["data"] == {"a": "YQ==", "b": "Yg=="}


async def test_server_side_apply_creates_then_merges(api: Api) -> None:
    ctype = "application/apply-patch+yaml"
    params = {"fieldManager": "test"}
    created = await api.patch(f"{AGENTS}/agent-1", agent(displayName="x"), ctype, params=params)
    assert created.status == 201
    updated = await api.patch(f"{AGENTS}/agent-1", agent(region="eu-1"), ctype, params=params)
    assert updated.status == 200
    assert updated.body["spec"]["region"] == "eu-1"
    missing_manager = await api.patch(f"{AGENTS}/agent-1", agent(), ctype)
    assert missing_manager.status == 422


async def test_unknown_fields_warn_by_default_and_fail_in_strict_mode(api: Api) -> None:
    body = agent()
    body["spec"]["bogus"] = 1
    rsp = await api.post(AGENTS, body)
    assert rsp.status == 201
    assert rsp.headers["warning"] == ['299 - "unknown field \\"spec.bogus\\""']
    strict = await api.post(
        AGENTS, {**agent("agent-2"), "spec": {"bogus": 1}}, params={"fieldValidation": "Strict"}
    )
    assert strict.status == 400
    assert 'strict decoding error: unknown field "spec.bogus"' in strict.message


async def test_strategic_merge_patch_of_custom_resources_can_be_allowed() -> None:
    async with KubeEmulator(crds_dirs=[CRDS], strategic_merge_on_custom_resources=True) as kube:
        kube.create_object("blaxel.ai", "v1alpha1", "blaxelagents", agent(policies=["a"]))
        patched = kube.patch_object(
            "blaxel.ai",
            "v1alpha1",
            "blaxelagents",
            "default",
            "agent-1",
            {"spec": {"policies": ["b"]}},
            patch_type="strategic",
        )
        assert patched["spec"]["policies"] == ["b"]
