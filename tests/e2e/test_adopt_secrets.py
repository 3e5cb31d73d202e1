"""Adopting an agent with secret envs: `import -> kubectl apply -> no Blaxel write` holds where the key may
read secret values (`GET ...?show_secrets=true`, workspace admins) and they match; where Blaxel refuses
(403) the agent is written once. The status and an Event say which happened; the values are compared in
memory only and appear in no log, status or Event. A kind whose secret values Blaxel never shows is written
once without asking."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from blaxel_devkit.harness import KubeClient, wait_for
from blaxel_devkit.kube import KubeEmulator
from blaxel_operator import cli
from blaxel_operator.simulator import BlaxelSimulator

from .conftest import StartOperator, sweeps, wait_ready

NS = "default"
SECRET_VALUE = "sk-live-4d1c0ffee5ecret"
AGENT: dict[str, Any] = {
    "metadata": {"name": "bot", "labels": {"team": "sec"}, "externalId": "crm-42"},
    "spec": {
        "runtime": {
            "image": "acme/bot:1",
            "memory": 1024,
            "envs": [
                {"name": "MODE", "value": "prod"},
                {"name": "OPENAI_API_KEY", "value": SECRET_VALUE, "secret": True},
            ],
        }
    },
}


def show_secrets_reads(sim: BlaxelSimulator, since: int = 0) -> list[Any]:
    return [c for c in sim.calls(agent="bot", method="GET", since=since) if "show_secrets=true" in c.query]


async def import_and_apply(
    sim: BlaxelSimulator, kube: KubeEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`blaxel-operator import`, the Secret skeleton filled in with the value the agent has, then every
    document created through the test bed (schema, CEL, defaults), as `kubectl apply` does."""
    monkeypatch.setenv("BL_API_URL", sim.url)
    monkeypatch.setenv("BL_API_KEY", "sim-key")
    monkeypatch.setenv("BL_WORKSPACE", "sandbox")
    out = tmp_path / "imported"
    code = await asyncio.to_thread(cli.main, ["import", "-o", str(out), "--namespace", NS])
    assert code == 0
    for path in sorted(out.iterdir()):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc["kind"] == "Secret":
                assert "stringData" not in doc and "data" not in doc  # a skeleton: the user fills it in
                kube.create_object(
                    "", "v1", "secrets", {**doc, "stringData": {"OPENAI_API_KEY": SECRET_VALUE}}
                )
            else:
                kube.create_object("blaxel.ai", "v1alpha1", "blaxelagents", doc)


async def adopted_event(k: KubeClient) -> dict[str, Any]:
    async def find() -> dict[str, Any] | None:
        return next((e for e in await k.events(NS) if e.get("reason") == "Adopted"), None)

    return await wait_for(find, timeout=20, what="an Adopted event")


async def idle(sim: BlaxelSimulator, polls: int = 3, collection: str = "agents") -> None:
    """Several poll intervals pass (list sweeps of the collection)."""
    since = sim.last_seq

    async def swept() -> bool:
        return len(sweeps(sim, since, collection)) >= polls

    await wait_for(swept, timeout=15, what=f"{polls} list sweeps")


async def assert_no_secret_anywhere(k: KubeClient, kube: KubeEmulator, logs: str) -> None:
    status = json.dumps(
        [
            kube.list_objects("blaxel.ai", "v1alpha1", p, None)
            for p in ("blaxelagents", "blaxelintegrationconnections")
        ]
    )
    events = json.dumps(await k.events(NS))
    for where, text in (("log", logs), ("status", status), ("events", events)):
        assert SECRET_VALUE not in text, f"the secret value is in the operator's {where}"


async def test_import_apply_of_an_agent_with_secrets_writes_nothing_where_the_key_reads_them(
    k: KubeClient,
    kube: KubeEmulator,
    sim: BlaxelSimulator,
    start_operator: StartOperator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sim.set_admin_keys(["sim-key"])
    sim.seed_agent(AGENT)
    await import_and_apply(sim, kube, tmp_path, monkeypatch)
    op = await start_operator("--log-level", "debug")

    obj = await wait_ready(k, NS, "bot")
    event = await adopted_event(k)
    assert "secret values compared: they match, not redeployed" in event["message"]
    check = (await k.get_agent(NS, "bot") or obj)["status"].get("secretsCheck") or {}
    assert check.get("result") == "Match", obj["status"]
    assert "match" in check.get("message", "")

    await idle(sim)
    assert sim.calls(writes_only=True) == []  # not a single write to Blaxel
    assert len(show_secrets_reads(sim)) == 1  # compared once: the status remembers it, polls do not ask again
    assert (await k.get_agent(NS, "bot") or {})["status"]["secretsCheck"] == check  # stable: no status write
    await op.stop()
    await assert_no_secret_anywhere(k, kube, op.logs())


async def test_where_blaxel_refuses_to_show_secrets_the_agent_is_written_once(
    k: KubeClient,
    kube: KubeEmulator,
    sim: BlaxelSimulator,
    start_operator: StartOperator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sim.set_admin_keys(["other-key"])  # sim-key is a member: show_secrets=true is a 403
    sim.seed_agent(AGENT)
    await import_and_apply(sim, kube, tmp_path, monkeypatch)
    op = await start_operator("--log-level", "debug")

    event = await adopted_event(k)
    assert "could not be read" in event["message"] and "written once" in event["message"], event["message"]
    await wait_ready(k, NS, "bot")
    await idle(sim)
    assert [(c.method, c.name) for c in sim.calls(writes_only=True)] == [("PUT", "bot")]
    assert len(show_secrets_reads(sim)) == 1
    assert [c.status for c in show_secrets_reads(sim)] == [403]
    check = (await k.get_agent(NS, "bot") or {})["status"].get("secretsCheck") or {}
    assert check.get("result") == "Unreadable", check
    assert "could not be read" in check.get("message", "")
    remote = sim.get_agent("bot") or {}
    assert remote["spec"]["runtime"]["envs"][1]["value"] == SECRET_VALUE
    assert remote["metadata"]["externalId"] == "crm-42"  # carried by import: the (replacing) PUT keeps it
    await op.stop()
    await assert_no_secret_anywhere(k, kube, op.logs())


async def test_a_kind_whose_secrets_blaxel_never_shows_is_written_once_without_asking(
    k: KubeClient, kube: KubeEmulator, sim: BlaxelSimulator, start_operator: StartOperator
) -> None:
    # Blaxel documents no show_secrets for integration connections: asking would be a wasted call
    sim.seed_object(
        "integrations/connections",
        {
            "metadata": {"name": "openai"},
            "spec": {"integration": "openai", "secret": {"apiKey": SECRET_VALUE}},
        },
    )
    await k.apply_secret(NS, "openai-creds", {"api-key": SECRET_VALUE})
    plural = "blaxelintegrationconnections"
    kube.create_object(
        "blaxel.ai",
        "v1alpha1",
        plural,
        {
            "apiVersion": "blaxel.ai/v1alpha1",
            "kind": "BlaxelIntegrationConnection",
            "metadata": {
                "name": "openai",
                "namespace": NS,
                "annotations": {"blaxel.ai/adoption-policy": "adopt"},
            },
            "spec": {
                "integration": "openai",
                "secret": {
                    "apiKey": {"valueFrom": {"secretKeyRef": {"name": "openai-creds", "key": "api-key"}}}
                },
            },
        },
    )
    op = await start_operator()

    async def checked() -> dict[str, Any] | None:
        obj = kube.get_object("blaxel.ai", "v1alpha1", plural, NS, "openai") or {}
        return (obj.get("status") or {}).get("secretsCheck")

    check = await wait_for(checked, timeout=20, what="the connection's secretsCheck")
    assert check["result"] == "Unreadable" and "does not show" in check["message"], check
    event = await adopted_event(k)
    assert "could not be read" in event["message"], event["message"]
    await idle(sim, collection="integrations/connections")
    calls = sim.calls(collection="integrations/connections")
    assert [(c.method, c.name) for c in calls if c.is_write] == [("PUT", "openai")]
    assert not [c for c in calls if "show_secrets" in c.query]
    await op.stop()
    await assert_no_secret_anywhere(k, kube, op.logs())


async def test_found_again_after_a_crash_before_the_status_write_matching_secrets_are_not_redeployed(
    k: KubeClient, kube: KubeEmulator, sim: BlaxelSimulator, start_operator: StartOperator
) -> None:
    # An operator created the agent (owner labels) and stopped before writing the status.
    owner = {
        "x-blaxel-operator-cluster": "e2e",
        "x-blaxel-operator-namespace": NS,
        "x-blaxel-operator-name": "bot",
    }
    sim.seed_agent({**AGENT, "metadata": {**AGENT["metadata"], "labels": {"team": "sec", **owner}}})
    await k.apply_secret(NS, "bot-env", {"OPENAI_API_KEY": SECRET_VALUE})
    env_ref = {"secretKeyRef": {"name": "bot-env", "key": "OPENAI_API_KEY"}}
    spec = {
        "labels": {"team": "sec"},
        "externalId": "crm-42",
        "runtime": {
            "image": "acme/bot:1",
            "memory": 1024,
            "envs": [{"name": "MODE", "value": "prod"}, {"name": "OPENAI_API_KEY", "valueFrom": env_ref}],
        },
    }
    await k.create_agent(NS, "bot", spec)
    op = await start_operator()

    async def compared() -> dict[str, Any] | None:
        return next((e for e in await k.events(NS) if e.get("reason") == "SecretsCompared"), None)

    event = await wait_for(compared, timeout=20, what="a SecretsCompared event")
    assert event["message"] == "agent bot: secret values compared: they match, not redeployed"
    obj = await wait_ready(k, NS, "bot")
    assert obj["status"]["secretsCheck"]["result"] == "Match"
    await idle(sim)
    # the first reconcile POSTs (as `bl apply` does): the 409 leads to the comparison, not to a PUT
    assert [(c.method, c.status) for c in sim.calls(writes_only=True)] == [("POST", 409)]
    assert len(show_secrets_reads(sim)) == 1
    await op.stop()
    await assert_no_secret_anywhere(k, kube, op.logs())
