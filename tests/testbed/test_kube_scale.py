"""Scale and resources: many objects stay fast (no per-request rescans) and memory stays bounded."""

from __future__ import annotations

import asyncio
import json
import time

from blaxel_devkit.kube import KubeEmulator

from .helpers import AGENTS, MERGE, Api, agent

N = 1000


async def test_a_thousand_objects_are_created_listed_and_watched_quickly(
    api: Api, kube: KubeEmulator
) -> None:
    since = str(kube.resource_version)
    started = time.monotonic()
    watching = asyncio.create_task(
        api.watch(
            "/apis/blaxel.ai/v1alpha1/blaxelagents",
            {"resourceVersion": since},
            until=lambda e: len(e) >= N,
            timeout=60,
        )
    )
    limit = asyncio.Semaphore(16)

    async def create(i: int) -> None:
        async with limit:
            rsp = await api.post(AGENTS, agent(f"agent-{i:04d}", displayName=f"agent {i}"))
            assert rsp.status == 201, rsp

    await asyncio.gather(*(create(i) for i in range(N)))
    listed = await api.get(AGENTS)
    events = await watching
    elapsed = time.monotonic() - started

    assert len(listed.body["items"]) == N
    assert [e["type"] for e in events] == ["ADDED"] * N
    assert elapsed < 30, f"{N} creates + list + watch took {elapsed:.1f}s"

    async def patch(i: int) -> None:
        async with limit:
            body = {"status": {"observedGeneration": 1}}
            rsp = await api.patch(f"{AGENTS}/agent-{i:04d}/status", body, MERGE)
            assert rsp.status == 200, rsp

    started = time.monotonic()
    await asyncio.gather(*(patch(i) for i in range(N)))
    assert time.monotonic() - started < 30


async def test_memory_is_bounded_by_the_history_size() -> None:
    async with KubeEmulator(history_size=100, bookmark_interval=0) as kube:
        for i in range(500):
            kube.create_object(
                "", "v1", "configmaps", {"metadata": {"name": f"c{i}"}, "data": {"k": "v" * 100}}
            )
        assert len(kube.state.history) == 100
        assert kube.state.history_floor == kube.resource_version - 100
        assert not hasattr(kube, "requests")  # no request log, only counters
        assert kube.write_counts == {}  # in-process writes are not HTTP requests


async def test_slow_watchers_are_disconnected_instead_of_buffering_forever() -> None:
    async with KubeEmulator(watch_queue_limit=10, bookmark_interval=0) as kube:
        rt = kube.resource("", "v1", "configmaps")
        watcher, _ = kube.state.watch(rt, None, None, None, None, initial=False)
        for i in range(50):
            kube.create_object("", "v1", "configmaps", {"metadata": {"name": f"c{i}"}})
        assert watcher.overflowed
        assert watcher.queue.qsize() == 11  # 10 changes and the end-of-stream marker
        kube.state.unwatch(watcher)


def test_events_serialize_to_json() -> None:
    # the watch event payloads are plain JSON (no custom types leak from the store)
    kube = KubeEmulator()
    obj = kube.create_object("", "v1", "configmaps", {"metadata": {"name": "c"}})
    assert json.loads(json.dumps(obj)) == obj
