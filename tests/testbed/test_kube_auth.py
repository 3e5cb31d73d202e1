"""The test bed's opt-in token check: off by default; on, only tokens of its exec plugin (while young) and
static tokens pass, everything else gets the apiserver's 401 Status; kubectl logs in through the plugin."""

from __future__ import annotations

import asyncio
import datetime
import json
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from blaxel_devkit.kube import KubeEmulator
from blaxel_devkit.kube_auth import TokenCheck, issue

from .helpers import AGENTS, CRDS, KUBECTL, Api, Kubectl, agent

UNAUTHORIZED = {
    "kind": "Status",
    "apiVersion": "v1",
    "metadata": {},
    "status": "Failure",
    "message": "Unauthorized",
    "reason": "Unauthorized",
    "code": 401,
}


@pytest.fixture
def check() -> TokenCheck:
    return TokenCheck(ttl=30, static_tokens=["admin-token"])


@pytest.fixture
async def guarded(check: TokenCheck) -> AsyncIterator[KubeEmulator]:
    async with KubeEmulator(crds_dirs=[CRDS], token_check=check) as emulator:
        yield emulator


@pytest.fixture
async def anonymous(guarded: KubeEmulator) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession(guarded.url) as session:
        yield Api(session)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def run_plugin(exec_config: dict[str, Any]) -> dict[str, Any]:
    """Run a kubeconfig's exec plugin the way client-go does and return its ExecCredential."""
    env = {**os.environ, **{e["name"]: e["value"] for e in exec_config["env"]}}
    proc = await asyncio.create_subprocess_exec(
        exec_config["command"], *exec_config["args"], stdout=asyncio.subprocess.PIPE, env=env
    )
    out, _ = await proc.communicate()
    assert proc.returncode == 0
    result: dict[str, Any] = json.loads(out)
    return result


async def test_off_by_default(api: Api) -> None:
    rsp = await api.get(AGENTS)  # no Authorization header at all
    assert rsp.status == 200


async def test_no_or_unknown_token_is_401_with_the_apiservers_status(
    anonymous: Api, check: TokenCheck
) -> None:
    for headers in ({}, bearer("kube-emulator"), bearer("tb1.1.2.forged"), {"Authorization": "Basic YTpi"}):
        rsp = await anonymous.get(AGENTS, headers=headers)
        assert (rsp.status, rsp.body) == (401, UNAUTHORIZED), headers
    assert check.refused == 4 and check.expired == 0
    assert (await anonymous.get("/healthz")).status == 200  # probes need no token


async def test_plugin_and_static_tokens_pass_until_they_expire(anonymous: Api, check: TokenCheck) -> None:
    assert (await anonymous.post(AGENTS, agent(), headers=bearer(check.issue()))).status == 201
    assert (await anonymous.get(AGENTS, headers=bearer("admin-token"))).status == 200
    old, _ = issue(check.key, check.ttl, now=time.time() - check.ttl - 1)
    rsp = await anonymous.get(AGENTS, headers=bearer(old))
    assert (rsp.status, rsp.body) == (401, UNAUTHORIZED)
    assert check.expired == 1 and len(check.accepted) == 1


async def test_exec_plugin_prints_an_exec_credential(guarded: KubeEmulator) -> None:
    exec_config = guarded.kubeconfig()["users"][0]["user"]["exec"]
    started = datetime.datetime.now(datetime.UTC)
    credential = await run_plugin(exec_config)
    assert credential["apiVersion"] == "client.authentication.k8s.io/v1"
    assert credential["kind"] == "ExecCredential"
    status = credential["status"]
    expires = datetime.datetime.fromisoformat(status["expirationTimestamp"])
    assert started + datetime.timedelta(seconds=29) < expires < started + datetime.timedelta(seconds=31)
    async with aiohttp.ClientSession(guarded.url, headers=bearer(status["token"])) as session:
        assert (await Api(session).get(AGENTS)).status == 200


async def test_kubectl_logs_in_through_the_exec_plugin_over_tls(check: TokenCheck, tmp_path: Path) -> None:
    # kubectl sends credentials only over TLS (kubernetes/kubectl#744), hence tls=True
    if not KUBECTL.exists():
        pytest.skip("kubectl is not installed: run `python -m blaxel_devkit.binaries kubectl`")
    async with KubeEmulator(crds_dirs=[CRDS], token_check=check, tls=True) as kube:
        assert kube.url.startswith("https://")
        kubectl = Kubectl(kube.write_kubeconfig(tmp_path / "kubeconfig"), tmp_path / "kubectl-cache")
        out = await kubectl.ok("apply", "-f", "-", stdin=json.dumps(agent("via-exec")))
        assert "via-exec created" in out
        assert "via-exec" in await kubectl.ok("get", "blaxelagents")
        assert check.accepted and check.refused == 0
