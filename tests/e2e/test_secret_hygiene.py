"""Secret values (API keys, secret env values) never appear in logs, status, events or exceptions."""

from __future__ import annotations

import json

from blaxel_devkit.harness import KubeClient, wait_for
from blaxel_devkit.kube import KubeEmulator
from blaxel_operator.simulator import BlaxelSimulator

from .conftest import POLL, StartOperator, wait_gone, wait_ready, wait_reason

SECRETS = ("tok-FIRST-9f8e7d", "tok-SECOND-1a2b3c", "sim-key", "other-key")


async def test_full_secret_lifecycle_leaks_nothing(
    k: KubeClient, kube: KubeEmulator, sim: BlaxelSimulator, start_operator: StartOperator
) -> None:
    op = await start_operator("--log-level", "debug", "--log-format", "json")
    await k.apply_secret("default", "creds", {"apiKey": "other-key", "workspace": "other"})
    spec = {
        "credentialsRef": {"name": "creds"},
        "runtime": {
            "image": "a/b:1",
            "envs": [
                {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "app", "key": "token"}}},
            ],
        },
    }
    await k.create_agent("default", "bot", spec)
    await wait_reason(k, "default", "bot", "SecretNotFound")
    await k.apply_secret("default", "app", {"token": SECRETS[0]})
    await wait_ready(k, "default", "bot", timeout=30)
    await k.apply_secret("default", "app", {"token": SECRETS[1]})

    async def rotated() -> bool:
        agent = sim.get_agent("bot", workspace="other") or {}
        return agent.get("spec", {}).get("runtime", {}).get("envs", [{}])[0].get("value") == SECRETS[1]

    await wait_for(rotated, timeout=POLL * 6, what="rotation")
    objects = json.dumps(kube.list_objects("blaxel.ai", "v1alpha1", "blaxelagents", None))
    # a failure path too: wrong key in the Secret, then deletion
    await k.apply_secret("default", "creds", {"apiKey": "tok-WRONG-000000", "workspace": "other"})
    await k.patch_agent("default", "bot", {"spec": {"runtime": {"memory": 4096}}})
    await wait_reason(k, "default", "bot", "Unauthorized")
    await k.apply_secret("default", "creds", {"apiKey": "other-key", "workspace": "other"})
    await k.delete_agent("default", "bot")
    await wait_gone(k, "default", "bot", timeout=30)
    await op.stop()

    logs = op.logs()
    assert '"message"' in logs  # JSON logs were produced, at debug level
    events = json.dumps(await k.events("default"))
    for secret in (*SECRETS, "tok-WRONG-000000"):
        assert secret not in logs, f"{secret} in the operator log"
        assert secret not in events, f"{secret} in an event"
    for secret in SECRETS:
        assert secret not in objects
