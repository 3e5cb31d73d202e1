"""The fault suite: 30% API faults of every kind while resources are created, updated and deleted, plus
SIGKILL restarts of the operator. Afterwards Blaxel holds exactly the resources, nothing twice, nothing
leaked, no finalizer stuck."""

from __future__ import annotations

import random
from collections import Counter

from blaxel_devkit.harness import KubeClient, is_ready, wait_for
from blaxel_operator.simulator import BlaxelSimulator

from .conftest import StartOperator

FAULT_KINDS = ("500", "502", "503", "429", "timeout", "reset")


def effective_posts(sim: BlaxelSimulator) -> Counter[str]:
    """POSTs that created something: answered 200, or answered with a fault injected after a write that
    succeeded."""
    return Counter(
        str(c.agent)
        for c in sim.calls(method="POST")
        if (c.status == 200 and not c.fault) or (c.fault_phase == "after" and c.effective_status == 200)
    )


async def test_faults_and_sigkill_restarts_lose_nothing(
    k: KubeClient, sim: BlaxelSimulator, start_operator: StartOperator
) -> None:
    rng = random.Random(7)
    sim.set_faults(rate=0.3, kinds=FAULT_KINDS, phase="random", timeout_seconds=1.5, retry_after=1)
    args = ("--request-timeout", "1", "--rate-limit", "0")
    op = await start_operator(*args)
    names = [f"agent-{i}" for i in range(20)]
    for name in names:
        await k.create_agent("default", name, {"runtime": {"image": f"acme/{name}:1", "memory": 2048}})

    async def some_created() -> bool:
        return len(sim.agents()) >= 4

    await wait_for(some_created, timeout=30, what="a few agents created")
    assert op.alive, op.logs()[-3000:]
    await op.kill()  # SIGKILL in the middle of creating
    op = await start_operator(*args)

    updated = rng.sample(names, 10)
    for name in updated:
        await k.patch_agent("default", name, {"spec": {"runtime": {"memory": 4096}}})
    deleted = rng.sample(names, 6)
    for name in deleted:
        await k.delete_agent("default", name)
    await wait_for(lambda: _any_put(sim), timeout=30, what="an update in flight")
    assert op.alive, op.logs()[-3000:]
    await op.kill()  # SIGKILL in the middle of updating and deleting
    op = await start_operator(*args)

    async def converged_under_faults() -> bool:
        return len(sim.agents()) <= len(names) - len(deleted) + 2

    await wait_for(converged_under_faults, timeout=60, what="deletions progressing under faults")
    injected = sim.faults_injected
    sim.clear_faults()
    remaining = sorted(set(names) - set(deleted))

    async def converged() -> bool:
        for name in remaining:
            obj = await k.get_agent("default", name)
            want = 2 if name in updated else 1
            if not is_ready(obj) or (obj or {})["metadata"]["generation"] != want:
                return False
        for name in deleted:
            if await k.get_agent("default", name) is not None:
                return False
        return sorted(a["metadata"]["name"] for a in sim.agents()) == remaining

    await wait_for(converged, timeout=90, interval=0.25, what="convergence after faults")
    assert op.alive, op.logs()[-3000:]
    assert injected > 10
    print(f"faults injected: {injected}; calls: {len(sim.calls())}")
    twice = {name: n for name, n in effective_posts(sim).items() if n > 1}
    detail = {n: [(c.method, c.status, c.fault, c.fault_phase) for c in sim.calls(agent=n)] for n in twice}
    assert not twice, f"agents created more than once: {twice}: {detail}"
    for name in remaining:
        agent = sim.get_agent(name) or {}
        assert agent["spec"]["runtime"]["memory"] == (4096 if name in updated else 2048)
        assert agent["metadata"]["labels"]["x-blaxel-operator-name"] == name


async def _any_put(sim: BlaxelSimulator) -> bool:
    return bool(sim.calls(method="PUT"))
