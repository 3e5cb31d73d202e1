"""Issue 4's scenarios through the real operator process: drift, out-of-band deletion, ownership and
adoption, collisions, pause, deletion policy, secrets, credentials, reconcile requests."""

from __future__ import annotations

from blaxel_devkit.harness import KubeClient, condition, wait_for
from blaxel_operator.simulator import BlaxelSimulator

from .conftest import POLL, StartOperator, observations, wait_gone, wait_ready, wait_reason

SPEC = {"runtime": {"image": "acme/bot:1", "memory": 2048}}


def writes(sim: BlaxelSimulator, name: str, workspace: str | None = None) -> list[str]:
    return [c.method for c in sim.calls(agent=name, writes_only=True, workspace=workspace) if c.status == 200]


async def has_event(k: KubeClient, name: str, reason: str, namespace: str = "default") -> bool:
    return reason in await k.event_reasons(namespace, name)


async def test_drift_is_corrected_with_an_event_naming_the_fields(
    k: KubeClient, sim: BlaxelSimulator, start_operator: StartOperator
) -> None:
    await start_operator()
    await k.create_agent("default", "bot", SPEC)
    await wait_ready(k, "default", "bot")
    sim.edit_agent("bot", {"spec": {"runtime": {"memory": 8192}}})

    async def corrected() -> bool:
        agent = sim.get_agent("bot") or {}
        return agent.get("spec", {}).get("runtime", {}).get("memory") == 2048

    await wait_for(corrected, timeout=POLL * 6, what="drift corrected")
    await wait_for(lambda: has_event(k, "bot", "DriftCorrected"), timeout=10, what="DriftCorrected event")
    events = [e for e in await k.events("default") if e.get("reason") == "DriftCorrected"]
    assert "spec.runtime.memory" in events[0]["message"]
    assert writes(sim, "bot") == ["POST", "PUT"]


async def test_remote_deleted_outside_kubernetes_is_recreated(
    k: KubeClient, sim: BlaxelSimulator, start_operator: StartOperator
) -> None:
    await start_operator()
    await k.create_agent("default", "bot", SPEC)
    await wait_ready(k, "default", "bot")
    sim.delete_agent_now("bot")
    await wait_for(lambda: has_event(k, "bot", "Recreated"), timeout=POLL * 6, what="Recreated event")
    await wait_ready(k, "default", "bot")
    assert writes(sim, "bot") == ["POST", "POST"]


async def test_reconcile_requested_annotation_triggers_a_reconcile_now(
    k: KubeClient, sim: BlaxelSimulator, start_operator: StartOperator
) -> None:
    await start_operator(poll=300)  # no periodic poll during this test
    await k.create_agent("default", "bot", SPEC)
    await wait_ready(k, "default", "bot")
    sim.edit_agent("bot", {"spec": {"runtime": {"memory": 8192}}})
    await k.patch_agent(
        "default", "bot", {"metadata": {"annotations": {"blaxel.ai/reconcile-requested-at": "now-1"}}}
    )

    async def handled() -> bool:
        obj = await k.get_agent("default", "bot")
        return ((obj or {}).get("status") or {}).get("lastHandledReconcileAt") == "now-1"

    await wait_for(handled, timeout=10, what="lastHandledReconcileAt echoed")
    assert (sim.get_agent("bot") or {})["spec"]["runtime"]["memory"] == 2048


async def test_unowned_agent_is_refused_then_adopted_on_request(
    k: KubeClient, sim: BlaxelSimulator, start_operator: StartOperator
) -> None:
    sim.seed_agent(
        {"metadata": {"name": "legacy", "labels": {"team": "x"}}, "spec": {"runtime": {"image": "old:1"}}}
    )
    await start_operator()
    await k.create_agent("default", "legacy", SPEC)
    obj = await wait_reason(k, "default", "legacy", "AlreadyExists")
    assert condition(obj, "Stalled")["status"] == "True"  # type: ignore[index]
    assert "adoption-policy" in condition(obj, "Ready")["message"]  # type: ignore[index]
    assert writes(sim, "legacy") == []  # the 409'd POST is not a 200 write; nothing overwritten
    assert (sim.get_agent("legacy") or {})["spec"]["runtime"]["image"] == "old:1"
    await k.patch_agent(
        "default", "legacy", {"metadata": {"annotations": {"blaxel.ai/adoption-policy": "adopt"}}}
    )
    await wait_ready(k, "default", "legacy")
    remote = sim.get_agent("legacy") or {}
    assert remote["spec"]["runtime"]["image"] == "acme/bot:1"
    assert remote["metadata"]["labels"]["x-blaxel-operator-name"] == "legacy"
    await wait_for(lambda: has_event(k, "legacy", "Adopted"), timeout=10, what="Adopted event")


async def test_two_namespaces_naming_one_agent_have_exactly_one_owner(
    k: KubeClient, sim: BlaxelSimulator, start_operator: StartOperator
) -> None:
    await k.ensure_namespace("team-a")
    await k.ensure_namespace("team-b")
    await start_operator()
    await k.create_agent("team-a", "bot", {**SPEC, "agentName": "shared"})
    await wait_ready(k, "team-a", "bot")
    await k.create_agent(
        "team-b",
        "bot",
        {**SPEC, "agentName": "shared", "runtime": {"image": "other:2"}},
        annotations={"blaxel.ai/adoption-policy": "adopt"},
    )
    obj = await wait_reason(k, "team-b", "bot", "AlreadyExists")
    assert "team-a" in condition(obj, "Ready")["message"]  # type: ignore[index]
    start = sim.last_seq

    async def polled() -> bool:
        return len(observations(sim, "shared", start)) >= 6

    await wait_for(polled, timeout=POLL * 8, what="several polls of both")
    assert writes(sim, "shared") == ["POST"]  # no flapping between the two
    assert (sim.get_agent("shared") or {})["metadata"]["labels"]["x-blaxel-operator-namespace"] == "team-a"
    assert (await wait_ready(k, "team-a", "bot"))["status"]["atProvider"]["status"] == "DEPLOYED"


async def test_the_name_passes_to_the_other_namespace_once_its_owner_is_deleted(
    k: KubeClient, sim: BlaxelSimulator, start_operator: StartOperator
) -> None:
    """The process remembers which resource claimed a remote name; a deleted resource's claim goes with
    it, else the other one would stay refused until a restart."""
    await k.ensure_namespace("team-a")
    await k.ensure_namespace("team-b")
    await start_operator()
    await k.create_agent("team-a", "bot", {**SPEC, "agentName": "shared"})
    await wait_ready(k, "team-a", "bot")
    await k.create_agent("team-b", "bot", {**SPEC, "agentName": "shared"})
    await wait_reason(k, "team-b", "bot", "AlreadyExists")
    await k.delete_agent("team-a", "bot")
    await wait_gone(k, "team-a", "bot")
    await wait_ready(k, "team-b", "bot", timeout=POLL * 15)
    assert (sim.get_agent("shared") or {})["metadata"]["labels"]["x-blaxel-operator-namespace"] == "team-b"


async def test_pause_stops_writes_and_unpause_applies_changes(
    k: KubeClient, sim: BlaxelSimulator, start_operator: StartOperator
) -> None:
    await start_operator()
    await k.create_agent("default", "bot", SPEC)
    await wait_ready(k, "default", "bot")
    await k.patch_agent("default", "bot", {"metadata": {"annotations": {"blaxel.ai/paused": "true"}}})

    async def paused() -> bool:
        obj = await k.get_agent("default", "bot")
        return (condition(obj, "Synced") or {}).get("reason") == "Paused"

    await wait_for(paused, timeout=10, what="Synced=False Paused")
    await k.patch_agent("default", "bot", {"spec": {"runtime": {"memory": 4096}}})
    sim.edit_agent("bot", {"spec": {"runtime": {"minScale": 1}}})
    start = sim.last_seq

    async def polled() -> bool:
        return len(observations(sim, "bot", start)) >= 3

    await wait_for(polled, timeout=POLL * 8, what="polls while paused")
    assert writes(sim, "bot") == ["POST"]
    await k.patch_agent("default", "bot", {"metadata": {"annotations": {"blaxel.ai/paused": None}}})
    await wait_ready(k, "default", "bot", generation=2)
    assert (sim.get_agent("bot") or {})["spec"]["runtime"]["memory"] == 4096
    assert writes(sim, "bot") == ["POST", "PUT"]


async def test_orphan_policy_leaves_the_agent(
    k: KubeClient, sim: BlaxelSimulator, start_operator: StartOperator
) -> None:
    await start_operator()
    await k.create_agent("default", "keep", {**SPEC, "deletionPolicy": "Orphan"})
    await k.create_agent("default", "keep2", SPEC, annotations={"blaxel.ai/deletion-policy": "orphan"})
    await wait_ready(k, "default", "keep")
    await wait_ready(k, "default", "keep2")
    await k.delete_agent("default", "keep")
    await k.delete_agent("default", "keep2")
    await wait_gone(k, "default", "keep")
    await wait_gone(k, "default", "keep2")
    assert sim.status_of("keep") == "DEPLOYED" and sim.status_of("keep2") == "DEPLOYED"
    assert "DELETE" not in writes(sim, "keep") + writes(sim, "keep2")


async def test_resource_whose_remote_never_existed_is_released_promptly(
    k: KubeClient, sim: BlaxelSimulator, start_operator: StartOperator
) -> None:
    await start_operator()
    await k.create_agent("default", "ghost", {**SPEC, "credentialsRef": {"name": "missing"}})
    await wait_reason(k, "default", "ghost", "SecretNotFound")
    await k.delete_agent("default", "ghost")
    await wait_gone(k, "default", "ghost", timeout=10)


async def test_secret_missing_then_appearing_then_rotating(
    k: KubeClient, sim: BlaxelSimulator, start_operator: StartOperator
) -> None:
    await start_operator()
    spec = {
        "runtime": {
            "image": "acme/bot:1",
            "envs": [
                {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "bot-secrets", "key": "token"}}},
                {"name": "MODE", "value": "prod"},
            ],
        }
    }
    await k.create_agent("default", "bot", spec)
    obj = await wait_reason(k, "default", "bot", "SecretNotFound")
    assert "bot-secrets" in condition(obj, "Ready")["message"]  # type: ignore[index]
    assert writes(sim, "bot") == []
    await k.apply_secret("default", "bot-secrets", {"token": "first-value-123"})
    obj = await wait_ready(k, "default", "bot", timeout=30)
    assert (sim.get_agent("bot") or {})["spec"]["runtime"]["envs"][0]["value"] == "first-value-123"
    assert "first-value-123" not in str(obj)
    await k.apply_secret("default", "bot-secrets", {"token": "second-value-456"})

    async def rotated() -> bool:
        return (sim.get_agent("bot") or {})["spec"]["runtime"]["envs"][0]["value"] == "second-value-456"

    await wait_for(rotated, timeout=POLL * 6, what="rotated secret reaching Blaxel")
    assert writes(sim, "bot") == ["POST", "PUT"]


async def test_wrong_credentials_are_unauthorized_and_the_operator_stays_up(
    k: KubeClient, sim: BlaxelSimulator, start_operator: StartOperator
) -> None:
    op = await start_operator(api_key="not-a-key")
    await k.create_agent("default", "bot", SPEC)
    obj = await wait_reason(k, "default", "bot", "Unauthorized")
    message = condition(obj, "Ready")["message"]  # type: ignore[index]
    # retried with backoff, in words that do not change from try to try (no status write per retry)
    assert "retrying with backoff" in message and "not-a-key" not in message
    assert op.alive


async def test_per_resource_credentials_and_workspace(
    k: KubeClient, sim: BlaxelSimulator, start_operator: StartOperator
) -> None:
    await start_operator()
    await k.apply_secret("default", "other-creds", {"apiKey": "other-key", "workspace": "other"})
    await k.create_agent("default", "theirs", {**SPEC, "credentialsRef": {"name": "other-creds"}})
    await k.create_agent("default", "teamb", {**SPEC, "workspace": "team-b"})
    obj = await wait_ready(k, "default", "theirs")
    assert obj["status"]["atProvider"]["workspace"] == "other"
    assert (await wait_ready(k, "default", "teamb"))["status"]["atProvider"]["workspace"] == "team-b"
    assert sim.get_agent("theirs", workspace="other") is not None
    assert sim.get_agent("teamb", workspace="team-b") is not None
    assert sim.get_agent("theirs") is None
