"""Deletion: finalizers, deletionTimestamp, preconditions, namespaces."""

from __future__ import annotations

from blaxel_devkit.kube import KubeEmulator

from .helpers import AGENTS, JSON_PATCH, SECRETS, Api, agent


async def _watch_types(api: Api, since: str, count: int) -> list[str]:
    events = await api.watch(AGENTS, {"resourceVersion": since}, until=lambda e: len(e) >= count)
    return [e["type"] for e in events]


async def test_delete_without_finalizers_removes_the_object(api: Api) -> None:
    obj = await api.create(AGENTS, agent())
    rsp = await api.delete(f"{AGENTS}/agent-1")
    assert rsp.status == 200
    assert rsp.body["metadata"]["name"] == "agent-1"
    assert (await api.get(f"{AGENTS}/agent-1")).status == 404
    assert await _watch_types(api, obj["metadata"]["resourceVersion"], 1) == ["DELETED"]


async def test_delete_with_finalizers_sets_deletion_timestamp_and_keeps_the_object(api: Api) -> None:
    body = agent()
    body["metadata"]["finalizers"] = ["blaxel.ai/cleanup"]
    obj = await api.create(AGENTS, body)
    rsp = await api.delete(f"{AGENTS}/agent-1")
    assert rsp.status == 202
    meta = (await api.get(f"{AGENTS}/agent-1")).body["metadata"]
    assert meta["deletionTimestamp"]
    assert meta["deletionGracePeriodSeconds"] == 0
    assert meta["finalizers"] == ["blaxel.ai/cleanup"]
    assert await _watch_types(api, obj["metadata"]["resourceVersion"], 1) == ["MODIFIED"]


async def test_removing_the_last_finalizer_deletes_the_object(api: Api) -> None:
    body = agent()
    body["metadata"]["finalizers"] = ["blaxel.ai/a", "blaxel.ai/b"]
    await api.create(AGENTS, body)
    deleting = (await api.delete(f"{AGENTS}/agent-1")).body
    since = deleting["metadata"]["resourceVersion"]
    await api.patch(f"{AGENTS}/agent-1", [{"op": "remove", "path": "/metadata/finalizers/0"}], JSON_PATCH)
    assert (await api.get(f"{AGENTS}/agent-1")).status == 200
    rsp = await api.patch(f"{AGENTS}/agent-1", {"metadata": {"finalizers": None}})
    assert rsp.status == 200
    assert (await api.get(f"{AGENTS}/agent-1")).status == 404
    assert await _watch_types(api, since, 2) == ["MODIFIED", "DELETED"]


async def test_no_new_finalizers_on_an_object_being_deleted(api: Api) -> None:
    body = agent()
    body["metadata"]["finalizers"] = ["blaxel.ai/a"]
    await api.create(AGENTS, body)
    await api.delete(f"{AGENTS}/agent-1")
    rsp = await api.patch(f"{AGENTS}/agent-1", {"metadata": {"finalizers": ["blaxel.ai/a", "blaxel.ai/new"]}})
    assert rsp.status == 422
    assert (
        "metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted"
        in rsp.message
    )


async def test_deleting_an_object_being_deleted_changes_nothing(api: Api) -> None:
    body = agent()
    body["metadata"]["finalizers"] = ["blaxel.ai/a"]
    await api.create(AGENTS, body)
    first = await api.delete(f"{AGENTS}/agent-1")
    second = await api.delete(f"{AGENTS}/agent-1")
    assert second.status == 202
    assert second.body["metadata"]["resourceVersion"] == first.body["metadata"]["resourceVersion"]


async def test_delete_precondition_on_uid_is_a_conflict(api: Api) -> None:
    await api.create(AGENTS, agent())
    rsp = await api.delete(f"{AGENTS}/agent-1", {"preconditions": {"uid": "not-the-uid"}})
    assert rsp.status == 409
    assert "Precondition failed: UID in precondition: not-the-uid" in rsp.message


async def test_delete_of_a_builtin_returns_a_success_status(api: Api) -> None:
    await api.create(SECRETS, {"metadata": {"name": "s"}})
    rsp = await api.delete(f"{SECRETS}/s")
    assert rsp.status == 200
    assert rsp.body["kind"] == "Status" and rsp.body["status"] == "Success"


async def test_delete_collection_with_a_label_selector(api: Api) -> None:
    for name, team in (("a1", "x"), ("a2", "x"), ("a3", "y")):
        body = agent(name)
        body["metadata"]["labels"] = {"team": team}
        await api.create(AGENTS, body)
    rsp = await api.delete(AGENTS, params={"labelSelector": "team=x"})
    assert sorted(i["metadata"]["name"] for i in rsp.body["items"]) == ["a1", "a2"]
    left = await api.get(AGENTS)
    assert [i["metadata"]["name"] for i in left.body["items"]] == ["a3"]


async def test_deleting_a_namespace_deletes_its_content(api: Api, kube: KubeEmulator) -> None:
    await api.create("/api/v1/namespaces", {"metadata": {"name": "team"}})
    path = "/apis/blaxel.ai/v1alpha1/namespaces/team/blaxelagents"
    body = agent("held")
    body["metadata"]["finalizers"] = ["blaxel.ai/a"]
    await api.create(path, body)
    await api.create(path, agent("free"))
    rsp = await api.delete("/api/v1/namespaces/team")
    assert rsp.status == 202
    assert rsp.body["status"]["phase"] == "Terminating"
    assert (await api.get(f"{path}/free")).status == 404
    assert (await api.get(f"{path}/held")).body["metadata"]["deletionTimestamp"]
    refused = await api.post(path, agent("late"))
    assert refused.status == 403
    await api.patch(f"{path}/held", {"metadata": {"finalizers": None}})
    await kube.wait_for_absence("", "v1", "namespaces", None, "team", timeout=5)
