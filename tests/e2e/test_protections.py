"""Protective code that a test must guard (issue 14, item 6), through the real operator process."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from aiohttp import web

from blaxel_devkit.harness import KubeClient, OperatorProcess, condition, wait_for
from blaxel_devkit.kube import KubeEmulator
from blaxel_operator.simulator import BlaxelSimulator

from .conftest import StartOperator, wait_gone, wait_ready

SPEC = {"runtime": {"image": "acme/bot:1", "memory": 2048}}
FINALIZER = b"blaxel.ai/finalizer"
PAUSED = "blaxel.ai/paused"


async def absent(probe: Callable[[], Awaitable[object]], window: float, what: str) -> None:
    """`probe` stays falsy for `window` seconds (an absence can only be observed over a window)."""
    with pytest.raises(TimeoutError):
        await wait_for(probe, timeout=window, what=what)


async def synced_reason(k: KubeClient, reason: str) -> bool:
    return (condition(await k.get_agent("default", "bot"), "Synced") or {}).get("reason") == reason


async def test_no_remote_is_created_before_the_finalizer_is_on(
    k: KubeClient, kube: KubeEmulator, sim: BlaxelSimulator, start_operator: StartOperator
) -> None:
    release = asyncio.Event()
    held = asyncio.Event()

    async def hold_the_finalizer(request: web.Request) -> web.StreamResponse | None:
        if (
            request.method == "PATCH"
            and "/blaxelagents/" in request.path
            and not request.path.endswith("/status")
        ):
            if FINALIZER in await request.read():
                held.set()
                await release.wait()
        return None

    kube.intercept = hold_the_finalizer
    op = await start_operator("--log-level", "debug")  # debug: the reconcile says why it waits
    await k.create_agent("default", "bot", SPEC)
    await asyncio.wait_for(held.wait(), timeout=10)  # Kopf's patch adding the finalizer, held
    await wait_for(
        lambda: asyncio.sleep(0, "no finalizer yet: nothing is created" in op.logs()),
        timeout=10,
        what="a reconcile running while the finalizer is held",
    )
    # An absence needs a window: no POST while the finalizer is held.
    await absent(lambda: asyncio.sleep(0, sim.calls(method="POST")), 2.5, "a POST before the finalizer")
    stored = kube.get_object("blaxel.ai", "v1alpha1", "blaxelagents", "default", "bot") or {}
    assert not stored["metadata"].get("finalizers")  # still held
    release.set()
    await wait_ready(k, "default", "bot")
    (post,) = sim.calls(method="POST")
    assert post.agent == "bot"


async def paused_and_deleted(k: KubeClient, sim: BlaxelSimulator, op: OperatorProcess) -> None:
    """A Ready agent, paused, then deleted: the deletion must wait (finalizer kept, remote untouched)."""
    await k.create_agent("default", "bot", SPEC)
    await wait_ready(k, "default", "bot")
    await k.patch_agent("default", "bot", {"metadata": {"annotations": {PAUSED: "true"}}})
    await wait_for(lambda: synced_reason(k, "Paused"), timeout=10, what="Synced=False Paused")
    await k.delete_agent("default", "bot")
    await wait_for(
        lambda: asyncio.sleep(0, "Handler 'delete' is invoked" in op.logs()),
        timeout=10,
        what="the deletion handler running",
    )
    await absent(lambda: asyncio.sleep(0, sim.calls(method="DELETE")), 2.0, "a DELETE while paused")
    obj = await k.get_agent("default", "bot")
    assert obj is not None and obj["metadata"]["finalizers"] == ["blaxel.ai/finalizer"]
    assert sim.status_of("bot") == "DEPLOYED"


async def test_a_paused_resource_deletion_waits_until_unpaused(
    k: KubeClient, sim: BlaxelSimulator, start_operator: StartOperator
) -> None:
    # debug: Kopf logs the handler start; poll 20 s: a paused deletion is retried every 2 s (poll / 10)
    op = await start_operator("--log-level", "debug", poll=20)
    await paused_and_deleted(k, sim, op)
    await k.patch_agent("default", "bot", {"metadata": {"annotations": {PAUSED: None}}})
    await wait_gone(k, "default", "bot", timeout=20)
    assert sim.status_of("bot") is None
    assert [c.method for c in sim.calls(agent="bot", writes_only=True)] == ["POST", "DELETE"]


async def test_a_paused_resource_deletion_waits_until_orphaned(
    k: KubeClient, sim: BlaxelSimulator, start_operator: StartOperator
) -> None:
    op = await start_operator("--log-level", "debug", poll=20)
    await paused_and_deleted(k, sim, op)
    annotations = {"blaxel.ai/deletion-policy": "Orphan"}
    await k.patch_agent("default", "bot", {"metadata": {"annotations": annotations}})
    await wait_gone(k, "default", "bot", timeout=20)
    assert sim.status_of("bot") == "DEPLOYED"  # released, the agent left in place
    assert [c.method for c in sim.calls(agent="bot", writes_only=True)] == ["POST"]
