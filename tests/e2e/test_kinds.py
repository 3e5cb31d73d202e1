"""Issue 11's scenarios against the real operator process: every kind beyond agents created, updated
(drift included), adopted, paused and deleted; references resolved, waited on, and deletion held while a
resource is in use; a folder of every kind applied and deleted at once with kubectl."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from blaxel_devkit.harness import KubeClient, condition, wait_for
from blaxel_devkit.kube import KubeEmulator
from blaxel_operator.kinds import function, integration_connection, job, model, policy, volume
from blaxel_operator.kinds.base import Kind
from blaxel_operator.kinds.registry import KINDS
from blaxel_operator.simulator import BlaxelSimulator
from blaxel_operator.tools.mapping import MAPPINGS

from .conftest import REPO, StartOperator, sweeps, wait_gone, wait_ready, wait_reason
from .test_kubectl import kubectl

NS = "default"
by_kind = {kind.kind: kind for kind in KINDS}
PAUSED = "blaxel.ai/paused"
ADOPT = {"blaxel.ai/adoption-policy": "adopt"}
SECRET = {"valueFrom": {"secretKeyRef": {"name": "openai", "key": "api-key"}}}


@dataclass(frozen=True)
class Case:
    """One kind: a spec, a change to it, where the change shows on the remote object, and the spec of
    an object made outside Kubernetes (for adoption)."""

    kind: Kind
    spec: dict[str, Any]
    update: dict[str, Any]
    path: Sequence[str | int]
    updated: Any
    remote_spec: dict[str, Any]

    @property
    def id(self) -> str:
        return self.kind.kind


CASES = [
    Case(
        function.KIND,
        {"runtime": {"image": "acme/tools:1", "memory": 1024}},
        {"runtime": {"memory": 2048}},
        ("spec", "runtime", "memory"),
        2048,
        {"runtime": {"image": "acme/tools:1", "memory": 1024}},
    ),
    Case(
        model.KIND,
        {"runtime": {"type": "openai", "model": "gpt-4.1"}},
        {"runtime": {"model": "gpt-4.1-mini"}},
        ("spec", "runtime", "model"),
        "gpt-4.1-mini",
        {"runtime": {"type": "openai", "model": "gpt-4.1"}},
    ),
    Case(
        job.KIND,
        {"runtime": {"image": "acme/nightly:1", "memory": 1024}},
        {"runtime": {"memory": 2048}},
        ("spec", "runtime", "memory"),
        2048,
        {"runtime": {"image": "acme/nightly:1", "memory": 1024}},
    ),
    Case(
        policy.KIND,
        {"type": "location", "locations": [{"type": "continent", "name": "EU"}]},
        {"locations": [{"type": "continent", "name": "NA"}]},
        ("spec", "locations", 0, "name"),
        "NA",
        {"type": "location", "locations": [{"type": "continent", "name": "EU"}]},
    ),
    Case(
        volume.KIND,
        {"region": "us-pdx-1", "size": 1024},
        {"size": 2048},
        ("spec", "size"),
        2048,
        {"region": "us-pdx-1", "size": 1024},
    ),
    Case(
        integration_connection.KIND,
        {"integration": "openai", "config": {"organization": "org-a"}, "secret": {"apiKey": SECRET}},
        {"config": {"organization": "org-b"}},
        ("spec", "config", "organization"),
        "org-b",
        {"integration": "openai", "config": {"organization": "org-a"}, "secret": {"apiKey": "sk-old"}},
    ),
]


def dig(obj: Any, path: Sequence[str | int]) -> Any:
    for part in path:
        obj = obj[part]
    return obj


def remote(sim: BlaxelSimulator, kind: Kind, name: str) -> dict[str, Any] | None:
    return sim.get_object(kind.api_collection, name)


def remote_labels(sim: BlaxelSimulator, kind: Kind, name: str) -> dict[str, str]:
    labels: dict[str, str] = ((remote(sim, kind, name) or {}).get("metadata") or {}).get("labels") or {}
    return labels


def writes(sim: BlaxelSimulator, kind: Kind, name: str) -> list[str]:
    return [c.method for c in sim.calls(collection=kind.api_collection, name=name, writes_only=True)]


async def event_seen(k: KubeClient, name: str, reason: str) -> None:
    async def probe() -> bool:
        return reason in await k.event_reasons(NS, name)

    await wait_for(probe, timeout=10, what=f"Event {reason} of {name}")


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
async def test_each_kind_is_created_updated_corrected_paused_and_deleted(
    case: Case, k: KubeClient, sim: BlaxelSimulator, start_operator: StartOperator
) -> None:
    kind, plural, name = case.kind, case.kind.plural, "thing"
    await k.apply_secret(NS, "openai", {"api-key": "sk-1"})
    await start_operator()

    # created
    await k.create(plural, NS, name, {**case.spec, "labels": {"team": "a"}})
    obj = await wait_ready(k, NS, name, plural=plural)
    assert obj["status"]["atProvider"]["name"] == name
    assert obj["status"]["atProvider"]["workspace"] == "sandbox"
    assert remote_labels(sim, kind, name)["x-blaxel-operator-name"] == name
    assert writes(sim, kind, name) == ["POST"]
    await event_seen(k, name, "Created")

    # updated
    await k.patch(plural, NS, name, {"spec": case.update})
    await wait_ready(k, NS, name, generation=2, plural=plural)
    assert dig(remote(sim, kind, name), case.path) == case.updated
    assert writes(sim, kind, name) == ["POST", "PUT"]
    if kind is integration_connection.KIND:
        # a rotated Secret reaches Blaxel (its values are masked there, never compared)
        await k.apply_secret(NS, "openai", {"api-key": "sk-2"})

        async def rotated() -> bool:
            return dig(remote(sim, kind, name), ("spec", "secret", "apiKey")) == "sk-2"

        await wait_for(rotated, timeout=10, what="the new secret value on Blaxel")
        assert writes(sim, kind, name) == ["POST", "PUT", "PUT"]

    # drift: changed outside Kubernetes, corrected
    before = writes(sim, kind, name)
    sim.edit_object(kind.api_collection, name, {"metadata": {"labels": {"team": "b"}}}, redeploy=False)

    async def corrected() -> bool:
        return remote_labels(sim, kind, name).get("team") == "a"

    await wait_for(corrected, timeout=10, what="drift corrected")
    await event_seen(k, name, "DriftCorrected")
    assert writes(sim, kind, name) == [*before, "PUT"]

    # paused: the change waits, nothing is written; unpaused: applied
    await k.patch(
        plural, NS, name, {"metadata": {"annotations": {PAUSED: "true"}}, "spec": {"labels": {"team": "c"}}}
    )

    async def paused() -> bool:
        synced = condition(await k.get(plural, NS, name), "Synced") or {}
        return synced.get("reason") == "Paused" and synced.get("observedGeneration") == 3

    await wait_for(paused, timeout=10, what="Synced=False Paused")
    assert remote_labels(sim, kind, name)["team"] == "a"
    assert writes(sim, kind, name) == [*before, "PUT"]
    await k.patch(plural, NS, name, {"metadata": {"annotations": {PAUSED: None}}})
    await wait_ready(k, NS, name, generation=3, plural=plural)
    assert remote_labels(sim, kind, name)["team"] == "c"

    # deleted
    await k.delete(plural, NS, name)
    await wait_gone(k, NS, name, plural=plural)
    assert remote(sim, kind, name) is None
    assert writes(sim, kind, name)[-1] == "DELETE"


async def test_every_kind_adopts_an_object_made_outside_kubernetes(
    k: KubeClient, sim: BlaxelSimulator, start_operator: StartOperator
) -> None:
    await k.apply_secret(NS, "openai", {"api-key": "sk-1"})
    for case in CASES:
        body = {"metadata": {"name": f"old-{case.kind.singular}", "labels": {"team": "z"}}}
        sim.seed_object(case.kind.api_collection, {**body, "spec": case.remote_spec})
    await start_operator()
    for case in CASES:
        spec = {**case.spec, "labels": {"team": "a"}}
        await k.create(case.kind.plural, NS, f"old-{case.kind.singular}", spec, annotations=ADOPT)
    for case in CASES:
        name = f"old-{case.kind.singular}"
        await wait_ready(k, NS, name, plural=case.kind.plural)
        labels = remote_labels(sim, case.kind, name)
        assert labels["team"] == "a" and labels["x-blaxel-operator-name"] == name, case.id
        assert writes(sim, case.kind, name) == ["PUT"], case.id  # it differed: adopted with one write
        await event_seen(k, name, "Adopted")


async def test_references_are_waited_for_resolved_and_hold_deletion(
    k: KubeClient, sim: BlaxelSimulator, start_operator: StartOperator
) -> None:
    # A long poll interval: what follows must be driven by events, not by polling.
    await start_operator(poll=60)
    agent_spec = {
        "region": "us-pdx-1",
        "policyRefs": [{"name": "eu"}],
        "volumes": [{"volumeRef": {"name": "data"}, "mountPath": "/data"}],
        "runtime": {"image": "acme/bot:1"},
    }
    await k.create_agent(NS, "bot", agent_spec)
    tools_spec = {"policyRefs": [{"name": "eu"}], "integrationConnectionRefs": [{"name": "openai"}]}
    await k.create(function.KIND.plural, NS, "tools", tools_spec)

    # waited for: Ready=False ReferenceNotReady naming what is missing, nothing written to Blaxel
    waiting = await wait_reason(k, NS, "bot", "ReferenceNotReady")
    message = condition(waiting, "Ready")["message"]  # type: ignore[index]
    assert "BlaxelPolicy/eu (policyRefs)" in message and "BlaxelVolume/data (volumes[0].volumeRef)" in message
    tools = await wait_reason(k, NS, "tools", "ReferenceNotReady", plural=function.KIND.plural)
    assert "BlaxelIntegrationConnection/openai" in condition(tools, "Ready")["message"]  # type: ignore[index]
    assert sim.calls(writes_only=True) == []

    # the referenced resources come: the users proceed by themselves, soon after
    await k.create(policy.KIND.plural, NS, "eu", {"policyName": "eu-remote", "type": "location"})
    await k.create(volume.KIND.plural, NS, "data", {"region": "us-pdx-1", "size": 1024})
    await k.apply_secret(NS, "openai", {"api-key": "sk-1"})
    await k.create(
        integration_connection.KIND.plural,
        NS,
        "openai",
        {"integration": "openai", "secret": {"apiKey": SECRET}},
    )
    await wait_ready(k, NS, "data", plural=volume.KIND.plural)
    started = time.monotonic()
    await wait_ready(k, NS, "bot", timeout=10)
    await wait_ready(k, NS, "tools", timeout=10, plural=function.KIND.plural)
    assert time.monotonic() - started < 8  # not a poll interval (60 s) later
    bot = sim.get_agent("bot") or {}
    assert bot["spec"]["policies"] == ["eu-remote"]  # the policy's remote name
    assert bot["spec"]["volumes"] == [{"name": "data", "mountPath": "/data"}]
    assert "policyRefs" not in bot["spec"]
    tools_remote = remote(sim, function.KIND, "tools") or {}
    assert tools_remote["spec"]["policies"] == ["eu-remote"]
    assert tools_remote["spec"]["integrationConnections"] == ["openai"]

    # deletion of a resource in use waits: finalizer kept, Ready=False InUse naming the users
    await k.delete(policy.KIND.plural, NS, "eu")
    held = await wait_reason(k, NS, "eu", "InUse", plural=policy.KIND.plural)
    message = condition(held, "Ready")["message"]  # type: ignore[index]
    assert "BlaxelAgent/bot" in message and "BlaxelFunction/tools" in message
    assert "blaxel.ai/finalizer" in held["metadata"]["finalizers"]
    assert (condition(held, "Synced") or {}).get("reason") == "ReconcileSuccess"  # kept as it was
    assert remote(sim, policy.KIND, "eu-remote") is not None
    await event_seen(k, "eu", "InUse")

    # released once the users are gone (the first gone, the message says so)
    await k.delete_agent(NS, "bot")

    async def one_user_left() -> bool:
        ready = condition(await k.get(policy.KIND.plural, NS, "eu"), "Ready") or {}
        return "BlaxelAgent/bot" not in ready.get("message", "BlaxelAgent/bot")

    await wait_for(one_user_left, timeout=10, what="InUse naming the function alone")
    await k.delete(function.KIND.plural, NS, "tools")
    await wait_gone(k, NS, "eu", plural=policy.KIND.plural)
    assert (await k.event_reasons(NS, "eu")).count("InUse") <= 2  # once per change of users, not per try
    assert remote(sim, policy.KIND, "eu-remote") is None
    assert sim.get_agent("bot") is None and remote(sim, function.KIND, "tools") is None
    await k.delete(volume.KIND.plural, NS, "data")
    await k.delete(integration_connection.KIND.plural, NS, "openai")
    await wait_gone(k, NS, "data", plural=volume.KIND.plural)
    await wait_gone(k, NS, "openai", plural=integration_connection.KIND.plural)
    assert remote(sim, volume.KIND, "data") is None


STACK = REPO / "examples" / "stack"


def first_write(sim: BlaxelSimulator, kind: Kind, name: str, method: str) -> int:
    calls = sim.calls(collection=kind.api_collection, name=name, method=method)
    assert calls, f"no {method} of {kind.noun} {name}"
    return calls[0].seq


@pytest.mark.timeout(180)
async def test_a_folder_of_every_kind_is_applied_and_deleted_at_once(
    kubeconfig: Path, k: KubeClient, sim: BlaxelSimulator, start_operator: StartOperator
) -> None:
    await start_operator()
    code, out = await kubectl(kubeconfig, "apply", "-f", str(STACK))
    assert code == 0, out
    docs = await stack_resources()
    assert {kind.kind for kind, _ in docs} == {kind.kind for kind in KINDS}
    for kind, name in docs:
        await wait_ready(k, NS, name, plural=kind.plural, timeout=30)
    code, out = await kubectl(kubeconfig, "get", "blaxel")  # the category lists every kind
    assert code == 0 and all(name in out for _, name in docs), out
    # created in dependency order, whatever the order of the files (agent.yaml comes first)
    by = {kind.kind: (kind, name) for kind, name in docs}
    agent, pol, vol = by["BlaxelAgent"], by["BlaxelPolicy"], by["BlaxelVolume"]
    mdl, conn = by["BlaxelModel"], by["BlaxelIntegrationConnection"]
    assert first_write(sim, *agent, "POST") > max(
        first_write(sim, *pol, "POST"), first_write(sim, *vol, "POST")
    )
    assert first_write(sim, *mdl, "POST") > first_write(sim, *conn, "POST")

    code, out = await kubectl(kubeconfig, "delete", "-f", str(STACK), "--timeout=90s")
    assert code == 0, out  # kubectl waits for every finalizer
    for kind in KINDS:
        assert await k.list_all(kind.plural) == [], kind.kind
        assert sim.objects(kind.api_collection) == [], kind.kind
    # deleted in dependency order: users first
    assert first_write(sim, *agent, "DELETE") < first_write(sim, *pol, "DELETE")
    assert first_write(sim, *agent, "DELETE") < first_write(sim, *vol, "DELETE")
    assert first_write(sim, *mdl, "DELETE") < first_write(sim, *conn, "DELETE")


async def stack_resources() -> list[tuple[Kind, str]]:
    import yaml

    kinds = {kind.kind: kind for kind in KINDS}
    found = []
    for path in sorted(STACK.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc["kind"] in kinds:
                found.append((kinds[doc["kind"]], doc["metadata"]["name"]))
    return found


async def test_after_a_restart_references_hold_deletion_and_disturb_no_user(
    k: KubeClient, kube: KubeEmulator, sim: BlaxelSimulator, start_operator: StartOperator
) -> None:
    """The operator learns every resource of every kind before it acts on any: restarted, it neither
    reports users ReferenceNotReady before it has listed what they reference, nor deletes a policy whose
    users it has not listed yet."""
    op = await start_operator()
    await k.create(policy.KIND.plural, NS, "eu", {"type": "location"})
    users = [f"bot-{i}" for i in range(6)]
    for name in users:
        await k.create_agent(NS, name, {"policyRefs": [{"name": "eu"}], "runtime": {"image": "acme/bot:1"}})
    for name in users:
        await wait_ready(k, NS, name)
    await op.stop()

    status_writes = kube.writes("blaxelagents", subresource="status")
    since = sim.last_seq
    op = await start_operator()

    async def swept() -> bool:
        return bool(sweeps(sim, since))

    await wait_for(swept, timeout=15, what="the restarted operator's first list sweep of agents")
    assert kube.writes("blaxelagents", subresource="status") == status_writes  # nobody disturbed
    await op.stop()

    await k.delete(policy.KIND.plural, NS, "eu")  # the finalizer keeps it while nobody runs
    await start_operator()
    held = await wait_reason(k, NS, "eu", "InUse", plural=policy.KIND.plural)
    message = condition(held, "Ready")["message"]  # type: ignore[index]
    assert all(f"BlaxelAgent/{name}" in message for name in users), message
    assert remote(sim, policy.KIND, "eu") is not None
    assert sim.calls(since=since, writes_only=True) == []


BL_FOLDER = {
    "policy.yaml": "kind: Policy\nmetadata: {name: eu-only}\nspec: {type: location, locations: [{type: continent, name: EU}]}\n",
    "volume.yaml": "kind: Volume\nmetadata: {name: data}\nspec: {region: us-pdx-1, size: 1024}\n",
    "connection.yaml": (
        "apiVersion: blaxel.ai/v1alpha1\nkind: IntegrationConnection\nmetadata: {name: openai}\n"
        "spec: {integration: openai, secret: {apiKey: '${secrets.OPENAI_KEY}'}}\n"
    ),
    "model.yaml": (
        "kind: Model\nmetadata: {name: gpt}\n"
        "spec: {integrationConnections: [openai], runtime: {type: openai, model: gpt-4.1}}\n"
    ),
    "function.yaml": (
        "apiVersion: beamlit.com/v1alpha1\nkind: Function\nmetadata: {name: tools}\n"
        "spec: {policies: [eu-only], integrationConnections: [openai], runtime: {image: acme/tools:1}}\n"
    ),
    "job.yaml": "kind: Job\nmetadata: {name: nightly}\nspec: {policies: [eu-only], runtime: {image: acme/nightly:1}}\n",
    "agent.yaml": (
        "kind: Agent\nmetadata: {name: bot}\nspec:\n  region: us-pdx-1\n  policies: [eu-only]\n"
        "  volumes: [{name: data, mountPath: /data}]\n  runtime: {image: acme/bot:1}\n"
    ),
}


async def test_a_converted_bl_folder_of_every_kind_adopts_what_bl_made(
    k: KubeClient,
    sim: BlaxelSimulator,
    start_operator: StartOperator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import yaml

    from blaxel_operator import cli

    folder = tmp_path / "bl"
    folder.mkdir()
    for name, text in BL_FOLDER.items():
        (folder / name).write_text(text)
        # what `bl apply` made of it on Blaxel (the connection's secret as `bl` resolved it)
        doc = yaml.safe_load(text.replace("${secrets.OPENAI_KEY}", "sk-from-bl"))
        kind = next(m.kind for m in MAPPINGS.values() if m.bl_kind == doc["kind"])
        sim.seed_object(kind.api_collection, {"metadata": doc["metadata"], "spec": doc["spec"]})
    monkeypatch.chdir(tmp_path)  # no stray .env
    out = tmp_path / "converted"
    code = await asyncio.to_thread(cli.main, ["convert", "-f", str(folder), "-o", str(out)])
    assert code == 0

    since = sim.last_seq
    await start_operator()
    docs = [yaml.safe_load(p.read_text()) for p in sorted(out.iterdir())]
    for doc in docs:
        await k.create_from(doc)
    await k.apply_secret(NS, "openai-secret", {"apiKey": "sk-from-bl"})  # the skeleton, filled in
    resources = [(by_kind[d["kind"]], d["metadata"]["name"]) for d in docs if d["kind"] in by_kind]
    assert {kind.kind for kind, _ in resources} == {kind.kind for kind in KINDS}
    for kind, name in resources:
        await wait_ready(k, NS, name, plural=kind.plural, timeout=30)
    agent = await k.get_agent(NS, "bot") or {}
    assert agent["spec"]["policyRefs"] == [{"name": "eu-only"}]
    assert agent["spec"]["volumes"] == [{"volumeRef": {"name": "data"}, "mountPath": "/data"}]
    # adopted as they are: only the connection is written, once (its secret value cannot be compared)
    writes_now = [(c.collection, c.method) for c in sim.calls(since=since, writes_only=True)]
    assert writes_now == [("integrations/connections", "PUT")]
    assert (
        dig(remote(sim, integration_connection.KIND, "openai"), ("spec", "secret", "apiKey")) == "sk-from-bl"
    )
