"""Lists and watches: selectors, pagination, resourceVersions, replay, 410, bookmarks, timeouts."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import pytest

from blaxel_devkit.kube import KubeEmulator

from .helpers import AGENTS, WIDGETS, Api, agent, widget

ALL_AGENTS = "/apis/blaxel.ai/v1alpha1/blaxelagents"


async def _labelled(api: Api) -> None:
    for name, labels in (
        ("a1", {"team": "x", "tier": "gold"}),
        ("a2", {"team": "y"}),
        ("a3", {"tier": "silver"}),
        ("a4", {}),
    ):
        body = agent(name)
        body["metadata"]["labels"] = labels
        await api.create(AGENTS, body)


async def _names(api: Api, path: str, **params: str) -> list[str]:
    rsp = await api.get(path, params=params)
    assert rsp.status == 200, rsp
    return [i["metadata"]["name"] for i in rsp.body["items"]]


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("team=x", ["a1"]),
        ("team==x", ["a1"]),
        ("team!=x", ["a2", "a3", "a4"]),
        ("team in (x,y)", ["a1", "a2"]),
        ("team notin (x)", ["a2", "a3", "a4"]),
        ("tier", ["a1", "a3"]),
        ("!tier", ["a2", "a4"]),
        ("team=x,tier=gold", ["a1"]),
        ("team,!tier", ["a2"]),
    ],
)
async def test_list_with_label_selector(api: Api, selector: str, expected: list[str]) -> None:
    await _labelled(api)
    assert await _names(api, AGENTS, labelSelector=selector) == expected


async def test_invalid_label_selector_is_a_bad_request(api: Api) -> None:
    rsp = await api.get(AGENTS, params={"labelSelector": "team in x"})
    assert rsp.status == 400


async def test_list_with_field_selectors(api: Api) -> None:
    await api.create("/api/v1/namespaces", {"metadata": {"name": "other"}})
    await api.create(AGENTS, agent("a1"))
    await api.create(AGENTS, agent("a2"))
    await api.create("/apis/blaxel.ai/v1alpha1/namespaces/other/blaxelagents", agent("a1"))
    assert await _names(api, AGENTS, fieldSelector="metadata.name=a1") == ["a1"]
    assert await _names(api, AGENTS, fieldSelector="metadata.name!=a1") == ["a2"]
    everywhere = await api.get(ALL_AGENTS, params={"fieldSelector": "metadata.namespace=other"})
    assert [(i["metadata"]["namespace"], i["metadata"]["name"]) for i in everywhere.body["items"]] == [
        ("other", "a1")
    ]
    unknown = await api.get(AGENTS, params={"fieldSelector": "spec.region=x"})
    assert unknown.status == 400


async def test_field_selector_on_a_crd_selectable_field(api: Api) -> None:
    await api.create(WIDGETS, widget("w1", color="red"))
    await api.create(WIDGETS, widget("w2"))
    assert await _names(api, WIDGETS, fieldSelector="spec.color=blue") == ["w2"]


async def test_list_across_namespaces_and_list_metadata(api: Api) -> None:
    await api.create("/api/v1/namespaces", {"metadata": {"name": "other"}})
    await api.create(AGENTS, agent("a1"))
    await api.create("/apis/blaxel.ai/v1alpha1/namespaces/other/blaxelagents", agent("a2"))
    rsp = await api.get(ALL_AGENTS)
    assert rsp.body["kind"] == "BlaxelAgentList"
    assert rsp.body["apiVersion"] == "blaxel.ai/v1alpha1"
    assert rsp.body["metadata"]["resourceVersion"].isdigit()
    assert [i["metadata"]["name"] for i in rsp.body["items"]] == ["a1", "a2"]


async def test_list_pagination_with_limit_and_continue(api: Api) -> None:
    for i in range(5):
        await api.create(AGENTS, agent(f"a{i}"))
    first = await api.get(AGENTS, params={"limit": "2"})
    assert [i["metadata"]["name"] for i in first.body["items"]] == ["a0", "a1"]
    assert first.body["metadata"]["remainingItemCount"] == 3
    token = first.body["metadata"]["continue"]
    second = await api.get(AGENTS, params={"limit": "2", "continue": token})
    assert [i["metadata"]["name"] for i in second.body["items"]] == ["a2", "a3"]
    assert second.body["metadata"]["resourceVersion"] == first.body["metadata"]["resourceVersion"]
    third = await api.get(AGENTS, params={"limit": "2", "continue": second.body["metadata"]["continue"]})
    assert [i["metadata"]["name"] for i in third.body["items"]] == ["a4"]
    assert "continue" not in third.body["metadata"]


async def test_watch_without_resource_version_starts_with_added_events(api: Api) -> None:
    await api.create(AGENTS, agent("a1"))
    await api.create(AGENTS, agent("a2"))
    events = await api.watch(AGENTS, until=lambda e: len(e) >= 2)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("ADDED", "a1"),
        ("ADDED", "a2"),
    ]


async def test_watch_from_list_resource_version_replays_later_changes(api: Api) -> None:
    await api.create(AGENTS, agent("a1"))
    listed = await api.get(AGENTS)
    await api.patch(f"{AGENTS}/a1", {"spec": {"displayName": "x"}})
    await api.create(AGENTS, agent("a2"))
    await api.delete(f"{AGENTS}/a1")
    since = listed.body["metadata"]["resourceVersion"]
    events = await api.watch(AGENTS, {"resourceVersion": since}, until=lambda e: len(e) >= 3)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("MODIFIED", "a1"),
        ("ADDED", "a2"),
        ("DELETED", "a1"),
    ]
    versions = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
    assert versions == sorted(versions) and versions[0] > int(since)


async def test_watch_delivers_live_events_per_namespace_only(api: Api) -> None:
    await api.create("/api/v1/namespaces", {"metadata": {"name": "other"}})
    since = (await api.get(AGENTS)).body["metadata"]["resourceVersion"]

    async def produce() -> None:
        await api.create("/apis/blaxel.ai/v1alpha1/namespaces/other/blaxelagents", agent("elsewhere"))
        await api.create(AGENTS, agent("here"))

    task = asyncio.create_task(produce())
    events = await api.watch(AGENTS, {"resourceVersion": since}, until=lambda e: len(e) >= 1)
    await task
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [("ADDED", "here")]


async def test_cluster_wide_watch_sees_all_namespaces(api: Api) -> None:
    await api.create("/api/v1/namespaces", {"metadata": {"name": "other"}})
    since = (await api.get(ALL_AGENTS)).body["metadata"]["resourceVersion"]
    await api.create("/apis/blaxel.ai/v1alpha1/namespaces/other/blaxelagents", agent("a1"))
    await api.create(AGENTS, agent("a2"))
    events = await api.watch(ALL_AGENTS, {"resourceVersion": since}, until=lambda e: len(e) >= 2)
    assert [e["object"]["metadata"]["namespace"] for e in events] == ["other", "default"]


async def test_watch_with_label_selector_sees_objects_leave_and_enter(api: Api) -> None:
    body = agent()
    body["metadata"]["labels"] = {"team": "x"}
    obj = await api.create(AGENTS, body)
    await api.patch(f"{AGENTS}/agent-1", {"metadata": {"labels": {"team": "y"}}})
    await api.patch(f"{AGENTS}/agent-1", {"spec": {"displayName": "unseen"}})
    await api.patch(f"{AGENTS}/agent-1", {"metadata": {"labels": {"team": "x"}}})
    params = {"resourceVersion": obj["metadata"]["resourceVersion"], "labelSelector": "team=x"}
    events = await api.watch(AGENTS, params, until=lambda e: len(e) >= 2)
    assert [e["type"] for e in events] == ["DELETED", "ADDED"]


async def test_watch_with_field_selector(api: Api) -> None:
    since = (await api.get(AGENTS)).body["metadata"]["resourceVersion"]
    await api.create(AGENTS, agent("a1"))
    await api.create(AGENTS, agent("a2"))
    params = {"resourceVersion": since, "fieldSelector": "metadata.name=a2"}
    events = await api.watch(AGENTS, params, until=lambda e: len(e) >= 1)
    assert [e["object"]["metadata"]["name"] for e in events] == ["a2"]


async def test_watch_from_a_too_old_resource_version_is_gone() -> None:
    async with KubeEmulator(history_size=5, bookmark_interval=0) as kube:
        for i in range(10):
            kube.create_object("", "v1", "configmaps", {"metadata": {"name": f"c{i}"}})
        async with aiohttp.ClientSession(kube.url) as session:
            client = Api(session)
            path = "/api/v1/namespaces/default/configmaps"
            events = await client.watch(path, {"resourceVersion": "2"}, until=lambda e: len(e) >= 1)
            assert len(events) == 1
            assert events[0]["type"] == "ERROR"
            status: dict[str, Any] = events[0]["object"]
            assert status["code"] == 410
            assert status["reason"] == "Expired"
            assert status["message"].startswith("too old resource version: 2 (")
            recent = str(kube.resource_version - 2)
            replay = await client.watch(path, {"resourceVersion": recent}, until=lambda e: len(e) >= 2)
            assert [e["type"] for e in replay] == ["ADDED", "ADDED"]


async def test_watch_bookmarks_are_sent_periodically(api: Api, kube: KubeEmulator) -> None:
    obj = await api.create(AGENTS, agent())
    params = {"resourceVersion": obj["metadata"]["resourceVersion"], "allowWatchBookmarks": "true"}
    events = await api.watch(AGENTS, params, until=lambda e: len(e) >= 2, timeout=5)
    assert [e["type"] for e in events] == ["BOOKMARK", "BOOKMARK"]
    assert events[0]["object"]["kind"] == "BlaxelAgent"
    assert int(events[0]["object"]["metadata"]["resourceVersion"]) == kube.resource_version


async def test_no_bookmarks_unless_allowed(api: Api) -> None:
    obj = await api.create(AGENTS, agent())
    params = {"resourceVersion": obj["metadata"]["resourceVersion"], "timeoutSeconds": "1"}
    events = await api.watch(AGENTS, params, until=lambda e: False, timeout=5)
    assert events == []


async def test_watch_timeout_seconds_ends_the_stream(api: Api) -> None:
    started = time.monotonic()
    events = await api.watch(AGENTS, {"timeoutSeconds": "1"}, until=lambda e: False, timeout=5)
    elapsed = time.monotonic() - started
    assert events == []
    assert 0.9 <= elapsed < 3


async def test_send_initial_events_ends_with_an_annotated_bookmark(api: Api) -> None:
    await api.create(AGENTS, agent("a1"))
    params = {
        "sendInitialEvents": "true",
        "resourceVersionMatch": "NotOlderThan",
        "allowWatchBookmarks": "true",
    }
    events = await api.watch(AGENTS, params, until=lambda e: e[-1]["type"] == "BOOKMARK")
    assert [e["type"] for e in events] == ["ADDED", "BOOKMARK"]
    assert events[1]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}


async def test_watch_ends_when_the_server_stops(api: Api, kube: KubeEmulator) -> None:
    task = asyncio.create_task(api.watch(AGENTS, {"resourceVersion": "1"}, until=lambda e: False, timeout=5))
    store = kube.state.store(kube.resource("blaxel.ai", "v1alpha1", "blaxelagents"))
    await kube.wait_for(lambda: store.watchers)  # the watch is registered
    await kube.stop()
    assert await task == []
