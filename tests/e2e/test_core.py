"""Issue 3's end-to-end scenarios: create, update, idle, delete, failed deployment, invalid spec."""

from __future__ import annotations

from typing import Any

from blaxel_devkit.harness import KubeClient, condition, wait_for
from blaxel_devkit.kube import KubeEmulator
from blaxel_operator.simulator import BlaxelSimulator

from .conftest import POLL, StartOperator, observations, sweeps, wait_gone, wait_ready, wait_reason

SPEC = {"runtime": {"image": "acme/bot:1", "memory": 2048}, "labels": {"team": "a"}}


def writes(sim: BlaxelSimulator, name: str) -> list[str]:
    return [c.method for c in sim.calls(agent=name, writes_only=True)]


async def test_create_becomes_deployed_and_ready(
    k: KubeClient, sim: BlaxelSimulator, start_operator: StartOperator
) -> None:
    await start_operator()
    await k.create_agent("default", "bot", SPEC)
    obj = await wait_ready(k, "default", "bot")
    status = obj["status"]
    assert status["atProvider"]["status"] == "DEPLOYED"
    assert status["atProvider"]["name"] == "bot"
    assert status["atProvider"]["workspace"] == "sandbox"
    assert status["atProvider"]["url"]
    assert status["atProvider"]["events"][-1]["status"] == "DEPLOYED"
    assert status["observedGeneration"] == 1
    assert condition(obj, "Synced")["reason"] == "ReconcileSuccess"  # type: ignore[index]
    assert condition(obj, "Reconciling") is None and condition(obj, "Stalled") is None
    assert "blaxel.ai/finalizer" in obj["metadata"]["finalizers"]
    remote = sim.get_agent("bot") or {}
    assert remote["metadata"]["labels"]["team"] == "a"
    assert remote["metadata"]["labels"]["x-blaxel-operator-namespace"] == "default"
    assert writes(sim, "bot") == ["POST"]
    assert "Created" in await k.event_reasons("default", "bot")


async def test_spec_update_makes_exactly_one_put(
    k: KubeClient, sim: BlaxelSimulator, start_operator: StartOperator
) -> None:
    await start_operator()
    await k.create_agent("default", "bot", SPEC)
    await wait_ready(k, "default", "bot")
    await k.patch_agent("default", "bot", {"spec": {"runtime": {"memory": 4096}}})
    obj = await wait_ready(k, "default", "bot", generation=2)
    assert obj["status"]["observedGeneration"] == 2
    assert (sim.get_agent("bot") or {})["spec"]["runtime"]["memory"] == 4096
    assert writes(sim, "bot") == ["POST", "PUT"]
    assert "Updated" in await k.event_reasons("default", "bot")


async def test_idle_costs_one_list_page_per_poll_and_no_writes(
    k: KubeClient, kube: KubeEmulator, sim: BlaxelSimulator, start_operator: StartOperator
) -> None:
    await start_operator()
    await k.create_agent("default", "bot", SPEC)
    before = await wait_ready(k, "default", "bot")
    # let the deployment's last poll land, then watch several poll intervals
    start = sim.last_seq
    writes_before = kube.writes("blaxelagents")

    def list_calls() -> list[Any]:
        return sweeps(sim, start)

    async def listed_four_times() -> bool:
        return len(list_calls()) >= 4

    await wait_for(listed_four_times, timeout=POLL * 8, what="four list sweeps")
    # Settled agents are observed through their workspace's list pages: no call names the agent.
    assert [c.method for c in sim.calls(agent="bot", since=start)] == []
    assert len(list_calls()) <= 6  # about one page per poll interval, never one call per agent and poll
    after = await k.get_agent("default", "bot")
    assert after is not None
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    assert kube.writes("blaxelagents") == writes_before


async def test_delete_removes_remote_and_releases_finalizer(
    k: KubeClient, sim: BlaxelSimulator, start_operator: StartOperator
) -> None:
    await start_operator()
    await k.create_agent("default", "bot", SPEC)
    await wait_ready(k, "default", "bot")
    await k.delete_agent("default", "bot")
    await wait_gone(k, "default", "bot")
    assert sim.status_of("bot") is None
    assert writes(sim, "bot") == ["POST", "DELETE"]


async def test_failed_deployment_is_deploy_failed_and_stalled(
    k: KubeClient, sim: BlaxelSimulator, start_operator: StartOperator
) -> None:
    sim.fail_next_deployment("bot", message="build failed: missing Dockerfile")
    await start_operator()
    await k.create_agent("default", "bot", SPEC)
    obj = await wait_reason(k, "default", "bot", "DeployFailed")
    assert condition(obj, "Stalled")["status"] == "True"  # type: ignore[index]
    assert "missing Dockerfile" in condition(obj, "Ready")["message"]  # type: ignore[index]
    assert obj["status"]["atProvider"]["status"] == "FAILED"
    reasons = await wait_for(
        lambda: _has_reason(k, "bot", "DeployFailed"), timeout=10, what="DeployFailed event"
    )
    assert reasons


async def _has_reason(k: KubeClient, name: str, reason: str) -> bool:
    return reason in await k.event_reasons("default", name)


async def test_rejected_spec_is_invalid_spec_without_retry_storm(
    k: KubeClient, sim: BlaxelSimulator, start_operator: StartOperator
) -> None:
    await start_operator()
    await k.create_agent("default", "bot", {**SPEC, "region": "mars-north-1"})
    obj = await wait_reason(k, "default", "bot", "InvalidSpec")
    assert condition(obj, "Stalled")["status"] == "True"  # type: ignore[index]
    assert "mars-north-1" in condition(obj, "Ready")["message"]  # type: ignore[index]
    start = sim.last_seq

    async def polled() -> bool:
        return len(observations(sim, "bot", start)) >= 3

    await wait_for(polled, timeout=POLL * 8, what="a few polls")
    assert writes(sim, "bot") == ["POST"]  # the rejected POST, never retried
    await k.patch_agent("default", "bot", {"spec": {"region": "us-pdx-1"}})
    await wait_ready(k, "default", "bot", generation=2)
    assert writes(sim, "bot") == ["POST", "POST"]
