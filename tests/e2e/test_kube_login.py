"""Logging in to a cluster whose tokens expire, as on EKS (15 minutes) but every 2.5 seconds: the real
operator runs with an `exec`-plugin kubeconfig against the test bed over TLS, BlaxelAgents keep converging
through many expiries, and the operator never restarts. Also KubeApi on its own: a 401 leads to a new login.

The test drives the cluster through the test bed's in-process API (the token check is for the operator).
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import kopf
import pytest

from blaxel_devkit.harness import is_ready, wait_for
from blaxel_devkit.kube import KubeEmulator
from blaxel_devkit.kube_auth import TokenCheck
from blaxel_operator import kubelogin
from blaxel_operator.kubeapi import KubeApi
from blaxel_operator.simulator import BlaxelSimulator

from .conftest import REPO, StartOperator

GVR = ("blaxel.ai", "v1alpha1", "blaxelagents")
TTL = 2.5
SPEC = {"runtime": {"image": "acme/bot:1", "memory": 2048}}


@pytest.fixture(params=[True, False], ids=["expiry-reported", "401-only"])
def check(request: pytest.FixtureRequest) -> TokenCheck:
    # 401-only: the plugin does not say when its tokens expire; Kopf and KubeApi learn it from a 401
    return TokenCheck(ttl=TTL, report_expiry=request.param)


@pytest.fixture
async def kube(check: TokenCheck) -> AsyncIterator[KubeEmulator]:  # overrides conftest's: tokens and TLS
    async with KubeEmulator(
        crds_dirs=[REPO / "crds"], bookmark_interval=1.0, token_check=check, tls=True
    ) as e:
        yield e


def agent(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "blaxel.ai/v1alpha1",
        "kind": "BlaxelAgent",
        "metadata": {"name": name},
        "spec": SPEC,
    }


async def token_expiry(check: TokenCheck) -> None:
    """Wait until every token used so far has expired: the next request needs a new login."""
    await wait_for(_async(lambda: check.accepted), timeout=10, what="a first login")
    expires = max(check.expires_at(token) or 0.0 for token in check.accepted)
    await wait_for(_async(lambda: time.time() >= expires), timeout=TTL + 2, what="the tokens' expiry")


def _async(probe: Callable[[], Any]) -> Callable[[], Any]:
    async def run() -> Any:
        return probe()

    return run


@pytest.mark.timeout(150)
async def test_agents_converge_through_token_expiries(
    kube: KubeEmulator, check: TokenCheck, sim: BlaxelSimulator, start_operator: StartOperator
) -> None:
    op = await start_operator()
    names = ["exp-0", "exp-1", "exp-2", "exp-3"]
    for name in names:  # one new agent per token lifetime, each on an expired token
        await token_expiry(check)
        kube.create_object(*GVR, agent(name), "default")
        await kube.wait_for_object(*GVR, "default", name, is_ready, timeout=30)

    await token_expiry(check)
    kube.patch_object(*GVR, "default", "exp-0", {"spec": {"runtime": {"memory": 4096}}})
    await kube.wait_for_object(
        *GVR, "default", "exp-0", lambda o: is_ready(o) and o["metadata"]["generation"] == 2, timeout=30
    )
    await token_expiry(check)
    kube.delete_object(*GVR, "default", "exp-1")
    await kube.wait_for_absence(*GVR, "default", "exp-1", timeout=30)
    assert (sim.get_agent("exp-0") or {})["spec"]["runtime"]["memory"] == 4096
    assert sim.get_agent("exp-1") is None
    for name in ("exp-2", "exp-3"):
        assert is_ready(kube.get_object(*GVR, "default", name))

    assert op.alive and op.starts == 1  # no crash, no restart
    logs = op.logs()
    logins = re.findall(
        r"Logged in to Kubernetes at https://\S+ with the kubeconfig context '\S+' \(exec\)", logs
    )
    # 6 steps on expired tokens, each needing a login shared by Kopf and KubeApi: Kopf's own at each creation
    # (it adds the finalizer) and at the deletion (it removes it), KubeApi's at the update (a status patch).
    # One less when a token issued at the end of a step is first used in the next one.
    assert len(logins) >= 6, logs[-3000:]
    assert logs.count("Re-authentication has finished") >= 4, logs[-3000:]
    assert "Ran out of valid credentials" not in logs and "Traceback" not in logs, logs[-5000:]
    assert len(check.accepted) >= 6
    if not check.report_expiry:
        assert check.expired > 0  # the renewals were driven by 401s
    for token in check.accepted:
        assert token not in logs


async def test_kube_api_logs_in_again_after_a_401(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, kube: KubeEmulator, check: TokenCheck
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(kube.write_kubeconfig(tmp_path / "kubeconfig")))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    logins: list[kopf.ConnectionInfo] = []

    def counted_login() -> kopf.ConnectionInfo:
        logins.append(kubelogin.login())
        return logins[-1]

    kube.create_object(
        "", "v1", "secrets", {"metadata": {"name": "creds"}, "stringData": {"apiKey": "k"}}, "default"
    )
    api = KubeApi(kubelogin.KubeLogin(counted_login))
    try:
        assert await api.get_secret("default", "creds") == {"apiKey": "k"}
        refused = check.refused
        expires = check.expires_at(str(logins[0].token))
        assert expires is not None
        await wait_for(
            _async(lambda: time.time() >= expires), timeout=TTL + 2, what="the first token's expiry"
        )
        assert await api.get_secret("default", "creds") == {"apiKey": "k"}
        assert len(logins) == 2
        # with the expiry reported, the client renews before using an expired token; without, after a 401
        assert check.refused - refused == (0 if check.report_expiry else 1)
        status = await api.patch_status(*GVR, "default", "nope", {"observedGeneration": 1})
        assert status is None  # 404: a missing object is None, not an error
    finally:
        await api.close()
