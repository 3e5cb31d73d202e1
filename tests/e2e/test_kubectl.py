"""The user's path with the real kubectl 1.36: apply an example, wait for Ready, get, delete."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from blaxel_devkit.binaries import ensure_tools
from blaxel_operator.simulator import BlaxelSimulator

from .conftest import REPO, StartOperator


async def kubectl(kubeconfig: Path, *args: str, timeout: float = 60) -> tuple[int, str]:
    binary = ensure_tools(("kubectl",), quiet=True)["kubectl"]
    proc = await asyncio.create_subprocess_exec(
        str(binary),
        "--kubeconfig",
        str(kubeconfig),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), timeout)
    return proc.returncode or 0, out.decode()


@pytest.mark.timeout(180)
async def test_apply_wait_get_delete_with_kubectl(
    kubeconfig: Path, sim: BlaxelSimulator, start_operator: StartOperator
) -> None:
    await start_operator()
    code, out = await kubectl(kubeconfig, "apply", "-f", str(REPO / "examples" / "minimal-agent.yaml"))
    assert code == 0, out
    code, out = await kubectl(
        kubeconfig, "wait", "--for=condition=Ready", "blaxelagent/hello-agent", "--timeout=60s"
    )
    assert code == 0 and "condition met" in out, out
    code, out = await kubectl(kubeconfig, "get", "bla", "hello-agent")
    header, row = out.splitlines()[:2]
    assert header.split() == ["NAME", "READY", "SYNCED", "STATUS", "URL", "AGE"]
    assert row.split()[:4] == ["hello-agent", "True", "True", "DEPLOYED"]
    code, out = await kubectl(kubeconfig, "delete", "-f", str(REPO / "examples" / "minimal-agent.yaml"))
    assert code == 0, out  # kubectl delete waits for the finalizer by default
    assert sim.status_of("hello-agent") is None
