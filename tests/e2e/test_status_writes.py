"""What the status shows while Blaxel deploys, and what it costs: condition changes are written at once,
a deployment's progress (Blaxel's status and events) at most once per `--status-progress-interval`.
Every status a watcher could see is read from the test bed's change history."""

from __future__ import annotations

from typing import Any

import pytest

from blaxel_devkit.harness import KubeClient
from blaxel_devkit.kube import KubeEmulator
from blaxel_operator.simulator import BlaxelSimulator

from .conftest import StartOperator, wait_ready

SPEC = {"runtime": {"image": "acme/bot:1", "memory": 2048}}
NAMES = ("bot-a", "bot-b", "bot-c")  # several in progress at once: observed through list pages


def shown(kube: KubeEmulator, name: str) -> list[str]:
    """Blaxel's status as each write of the object's status showed it to watchers, in order."""
    seen: list[str] = []
    for change in kube.state.history:
        obj: dict[str, Any] = change.obj
        meta = obj.get("metadata") or {}
        if obj.get("kind") != "BlaxelAgent" or meta.get("name") != name or change.type != "MODIFIED":
            continue
        old_status = (change.old or {}).get("status")
        if obj.get("status") != old_status:
            seen.append(str(((obj.get("status") or {}).get("atProvider") or {}).get("status")))
    return seen


async def deploy_all(k: KubeClient) -> None:
    for name in NAMES:
        await k.create_agent("default", name, SPEC)
    for name in NAMES:
        await wait_ready(k, "default", name)


async def test_a_quick_deployment_costs_two_status_writes(
    k: KubeClient, kube: KubeEmulator, start_operator: StartOperator
) -> None:
    """Each phase lasts 0.15 s, polled every 0.2 s: with the default interval (10 s) the status is
    written after the POST and at Ready, nothing in between."""
    await start_operator()
    await deploy_all(k)
    for name in NAMES:
        assert shown(kube, name) == ["UPLOADING", "DEPLOYED"], name


async def test_every_phase_is_shown_with_interval_0(
    k: KubeClient, kube: KubeEmulator, sim: BlaxelSimulator, start_operator: StartOperator
) -> None:
    sim.set_step(0.6)  # each phase outlasts several polls: each is seen
    await start_operator("--status-progress-interval", "0")
    await deploy_all(k)
    for name in NAMES:
        assert shown(kube, name) == ["UPLOADING", "BUILDING", "DEPLOYING", "DEPLOYED"], name


@pytest.mark.timeout(60)
async def test_held_back_progress_is_shown_once_the_interval_has_passed(
    k: KubeClient, kube: KubeEmulator, sim: BlaxelSimulator, start_operator: StartOperator
) -> None:
    """BUILDING comes 1 s after the POST's write (too soon: held back) and lasts 1 s; the list pages
    show nothing new meanwhile, yet it is written once 1.2 s have passed since the last write."""
    sim.set_step(1.0)
    await start_operator("--status-progress-interval", "1.2")
    await deploy_all(k)
    for name in NAMES:
        phases = shown(kube, name)
        assert phases[0] == "UPLOADING" and phases[-1] == "DEPLOYED", (name, phases)
        assert "BUILDING" in phases, (name, phases)
