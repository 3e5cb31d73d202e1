"""End to end: the real `blaxel-operator run` process against the Kubernetes test bed and the Blaxel
simulator, both over loopback HTTP."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from blaxel_devkit.harness import PLURAL, KubeClient, OperatorProcess, is_ready, wait_for
from blaxel_devkit.kube import KubeEmulator
from blaxel_operator.simulator import BlaxelSimulator, SimulatorConfig

REPO = Path(__file__).resolve().parents[2]
# Fast clocks: a deployment takes ~4 steps.
STEP = 0.15
POLL = 1.0
DEPLOY_POLL = 0.2

StartOperator = Callable[..., Awaitable[OperatorProcess]]


@pytest.fixture
async def kube() -> AsyncIterator[KubeEmulator]:
    async with KubeEmulator(crds_dirs=[REPO / "crds"], bookmark_interval=1.0) as emulator:
        yield emulator


@pytest.fixture
async def sim() -> AsyncIterator[BlaxelSimulator]:
    config = SimulatorConfig(
        step_seconds=STEP,
        delete_seconds=0.3,
        api_keys={"sim-key": ["sandbox", "team-b"], "other-key": ["other"]},
    )
    async with BlaxelSimulator(config) as simulator:
        yield simulator


@pytest.fixture
async def k(kube: KubeEmulator) -> AsyncIterator[KubeClient]:
    client = KubeClient(kube.url)
    yield client
    await client.close()


@pytest.fixture
def kubeconfig(kube: KubeEmulator, tmp_path: Path) -> Path:
    path = tmp_path / "kubeconfig"
    kube.write_kubeconfig(path)
    return path


@pytest.fixture
async def start_operator(
    kubeconfig: Path, sim: BlaxelSimulator, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[StartOperator]:
    started: list[OperatorProcess] = []

    async def start(
        *args: str,
        api_key: str | None = "sim-key",
        workspace: str | None = "sandbox",
        env: dict[str, str] | None = None,
        poll: float = POLL,
    ) -> OperatorProcess:
        op = OperatorProcess(
            kubeconfig=kubeconfig,
            api_url=sim.url,
            api_key=api_key,
            workspace=workspace,
            log_path=tmp_path / f"operator-{len(started)}.log",
            args=[
                "--poll-interval",
                str(poll),
                "--deploy-poll-interval",
                str(DEPLOY_POLL),
                "--cluster-id",
                "e2e",
                *args,
            ],
            env=env,
        )
        await op.start()
        started.append(op)
        return op

    yield start
    for op in started:
        await op.stop()
    failed = getattr(request.node, "rep_call", None)
    if (failed is not None and failed.failed) or os.environ.get("E2E_SHOW_LOGS"):
        for op in started:
            print(f"---- {op.log_path} ----\n{op.logs()[-6000:]}")


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Any:
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


async def wait_ready(
    k: KubeClient,
    namespace: str,
    name: str,
    generation: int | None = None,
    timeout: float = 20,
    plural: str = PLURAL,
) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        obj = await k.get(plural, namespace, name)
        if is_ready(obj) and (generation is None or (obj or {})["metadata"]["generation"] == generation):
            return obj
        return None

    return await wait_for(probe, timeout=timeout, what=f"{namespace}/{name} Ready")


async def wait_reason(
    k: KubeClient, namespace: str, name: str, reason: str, timeout: float = 20, plural: str = PLURAL
) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        obj = await k.get(plural, namespace, name)
        for cond in ((obj or {}).get("status") or {}).get("conditions") or []:
            if cond["type"] == "Ready" and cond["reason"] == reason:
                return obj
        return None

    return await wait_for(probe, timeout=timeout, what=f"{namespace}/{name} Ready reason {reason}")


async def wait_gone(
    k: KubeClient, namespace: str, name: str, timeout: float = 20, plural: str = PLURAL
) -> None:
    async def probe() -> bool:
        return await k.get(plural, namespace, name) is None

    await wait_for(probe, timeout=timeout, what=f"{namespace}/{name} deleted")


def sweeps(sim: BlaxelSimulator, since: int, collection: str = "agents") -> list[Any]:
    """List calls (how settled objects are observed) since a point of the simulator's call log."""
    return [c for c in sim.calls(method="GET", since=since) if c.path.rstrip("/").endswith(f"/{collection}")]


def observations(sim: BlaxelSimulator, name: str, since: int) -> list[Any]:
    """Every look at one object since a point of the call log: its own calls and the list sweeps."""
    return [*sim.calls(agent=name, since=since), *sweeps(sim, since)]
