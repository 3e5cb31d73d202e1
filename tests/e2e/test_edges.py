"""Edge cases found in review, through the real operator process."""

from __future__ import annotations

from blaxel_devkit.harness import KubeClient, condition, wait_for
from blaxel_operator.simulator import BlaxelSimulator

from .conftest import POLL, StartOperator, sweeps, wait_gone, wait_ready, wait_reason

SPEC = {"runtime": {"image": "acme/bot:1", "memory": 2048}}


async def test_wrong_key_and_nothing_created_releases_promptly(
    k: KubeClient, start_operator: StartOperator
) -> None:
    await start_operator()
    await k.apply_secret("default", "bad", {"apiKey": "tok-not-valid-123"})
    await k.create_agent("default", "bot", {**SPEC, "credentialsRef": {"name": "bad"}})
    await wait_reason(k, "default", "bot", "Unauthorized")
    await k.delete_agent("default", "bot")
    await wait_gone(k, "default", "bot", timeout=10)


async def test_deletion_does_not_need_the_env_secrets(
    k: KubeClient, sim: BlaxelSimulator, start_operator: StartOperator
) -> None:
    await start_operator()
    await k.apply_secret("default", "env", {"token": "v-123456"})
    spec = {
        "runtime": {
            "image": "a/b:1",
            "envs": [{"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "env", "key": "token"}}}],
        }
    }
    await k.create_agent("default", "bot", spec)
    await wait_ready(k, "default", "bot")
    await k.http.delete("/api/v1/namespaces/default/secrets/env")  # e.g. a namespace being deleted
    await k.delete_agent("default", "bot")
    await wait_gone(k, "default", "bot")
    assert sim.status_of("bot") is None


async def test_adopting_a_matching_agent_writes_nothing_and_announces_once(
    k: KubeClient, sim: BlaxelSimulator, start_operator: StartOperator
) -> None:
    sim.seed_agent(
        {"metadata": {"name": "legacy"}, "spec": {"runtime": {"image": "acme/bot:1", "memory": 2048}}}
    )
    await start_operator()
    await k.create_agent("default", "legacy", SPEC, annotations={"blaxel.ai/adoption-policy": "adopt"})
    await wait_ready(k, "default", "legacy")
    start = sim.last_seq

    async def polled() -> bool:
        return len(sweeps(sim, start)) >= 3

    await wait_for(polled, timeout=POLL * 8, what="several polls (list sweeps)")
    assert [c.method for c in sim.calls(agent="legacy", writes_only=True)] == []
    assert (await k.event_reasons("default", "legacy")).count("Adopted") == 1
    # a second resource cannot claim the same unlabelled agent
    await k.create_agent(
        "default",
        "legacy-2",
        {**SPEC, "agentName": "legacy"},
        annotations={"blaxel.ai/adoption-policy": "adopt"},
    )
    obj = await wait_reason(k, "default", "legacy-2", "AlreadyExists")
    assert "default/legacy" in condition(obj, "Ready")["message"]  # type: ignore[index]


async def test_workspace_change_is_refused_and_deletion_cleans_the_original(
    k: KubeClient, sim: BlaxelSimulator, start_operator: StartOperator
) -> None:
    await start_operator()
    await k.create_agent("default", "bot", SPEC)
    await wait_ready(k, "default", "bot")
    await k.patch_agent("default", "bot", {"spec": {"workspace": "team-b"}})
    obj = await wait_reason(k, "default", "bot", "WorkspaceChanged")
    assert condition(obj, "Stalled")["status"] == "True"  # type: ignore[index]
    assert sim.get_agent("bot", workspace="team-b") is None
    await k.delete_agent("default", "bot")
    await wait_gone(k, "default", "bot")
    assert sim.get_agent("bot") is None  # deleted where it lived, nothing leaked


async def test_agent_switched_off_outside_kubernetes_is_switched_back_on(
    k: KubeClient, sim: BlaxelSimulator, start_operator: StartOperator
) -> None:
    await start_operator()
    await k.create_agent("default", "bot", SPEC)
    await wait_ready(k, "default", "bot")
    sim.edit_agent("bot", {"spec": {"enabled": False}})

    async def back_on() -> bool:
        return (sim.get_agent("bot") or {}).get("spec", {}).get("enabled") is True

    await wait_for(back_on, timeout=POLL * 6, what="enabled again")
    await wait_ready(k, "default", "bot")
