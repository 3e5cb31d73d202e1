"""The issue's round trip: import 250 seeded agents -> apply the manifests to the Kubernetes test bed -> the
real operator process adopts every one of them without a single write to Blaxel; an agent with a secret
env waits for its Secret, then gets exactly one PUT (its secret values cannot be compared)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from blaxel_devkit.harness import KubeClient, OperatorProcess, condition, wait_for
from blaxel_devkit.kube import KubeEmulator
from blaxel_operator.simulator import BlaxelSimulator

from .conftest import REPO, SECRET_VALUE, RunCli, agent_body, secret_agent_body

NS = "blaxel"
COUNT = 250
GROUP, VERSION, PLURAL = "blaxel.ai", "v1alpha1", "blaxelagents"


@pytest.fixture
async def kube() -> AsyncIterator[KubeEmulator]:
    async with KubeEmulator(crds_dirs=[REPO / "crds"], bookmark_interval=1.0) as emulator:
        yield emulator


def ready_reason(obj: dict[str, Any]) -> str | None:
    """`status/reason` of the Ready condition (written once the first reconcile is done), or None."""
    cond = condition(obj, "Ready")
    return None if cond is None else f"{cond['status']}/{cond['reason']}"


@pytest.mark.timeout(120)
async def test_import_apply_adopts_every_agent_without_a_write(
    bl_env: BlaxelSimulator, run_cli: RunCli, kube: KubeEmulator, tmp_path: Path
) -> None:
    sim = bl_env
    for i in range(COUNT):
        sim.seed_agent(agent_body(i))
    sim.seed_agent(secret_agent_body())
    out = tmp_path / "imported"
    result = await run_cli("import", "-o", out, "--namespace", NS)
    assert result.code == 0, result.err

    # apply: every document through the test bed's create path (schema, CEL, defaults), like kubectl apply
    kube.create_object(
        "", "v1", "namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}
    )
    applied = 0
    for path in sorted(out.iterdir()):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc["kind"] == "Secret":
                kube.create_object("", "v1", "secrets", doc)
            else:
                kube.create_object(GROUP, VERSION, PLURAL, doc)
                applied += 1
    assert applied == COUNT + 1

    kubeconfig = kube.write_kubeconfig(tmp_path / "kubeconfig")
    operator = OperatorProcess(
        kubeconfig=kubeconfig,
        api_url=sim.url,
        api_key=sim.api_key,
        workspace=sim.workspace,
        log_path=tmp_path / "operator.log",
        args=[
            "--poll-interval", "5",
            "--deploy-poll-interval", "0.2",
            "--rate-limit", "0",
            "--max-inflight", "20",
            "--cluster-id", "roundtrip",
        ],
    )  # fmt: skip
    await operator.start()
    try:

        async def settled() -> dict[str, str]:
            reasons = {
                o["metadata"]["name"]: ready_reason(o) for o in kube.list_objects(GROUP, VERSION, PLURAL, NS)
            }
            done = all(r is not None for r in reasons.values())
            return {k: str(v) for k, v in reasons.items()} if done else {}

        reasons = await wait_for(settled, timeout=60, interval=0.25, what="every BlaxelAgent reconciled")
        waiting = {name: reason for name, reason in reasons.items() if reason != "True/Deployed"}
        deactivated = {f"agent-{i:03d}" for i in range(COUNT) if i % 11 == 0}
        assert waiting == {
            "secret-bot": "False/SecretNotFound",
            **{name: "True/Deactivated" for name in deactivated},
        }
        assert sim.calls(writes_only=True) == [], [(c.method, c.path) for c in sim.calls(writes_only=True)]
        reasons_seen = {e.get("reason") for e in kube.list_objects("", "v1", "events", NS)}
        assert "Adopted" in reasons_seen

        # the user fills in the Secret skeleton: exactly one PUT, with the value
        k = KubeClient(kube.url)
        try:
            await k.apply_secret(NS, "secret-bot-env", {"OPENAI_API_KEY": "new-" + SECRET_VALUE})
        finally:
            await k.close()

        async def secret_bot_ready() -> bool:
            obj = kube.get_object(GROUP, VERSION, PLURAL, NS, "secret-bot")
            return obj is not None and ready_reason(obj) == "True/Deployed"

        await wait_for(
            secret_bot_ready, timeout=30, interval=0.1, what="secret-bot adopted once its Secret is set"
        )
        remote = sim.get_agent("secret-bot")
        assert remote is not None
        assert remote["spec"]["runtime"]["envs"][1] == {
            "name": "OPENAI_API_KEY",
            "value": "new-" + SECRET_VALUE,
            "secret": True,
        }
        since = sim.last_seq

        async def polled_again() -> bool:  # a few more looks at it: still nothing else written
            own = sim.calls(agent="secret-bot", method="GET", since=since)
            listed = [
                c for c in sim.calls(method="GET", since=since) if c.path.rstrip("/").endswith("/agents")
            ]
            return len(own) + len(listed) >= 3

        await wait_for(polled_again, timeout=30, interval=0.05, what="more polls of secret-bot")
        writes = [(c.method, c.agent) for c in sim.calls(writes_only=True)]
        assert writes == [("PUT", "secret-bot")]
    except BaseException:
        print(operator.logs()[-6000:])
        raise
    finally:
        await operator.stop()
