"""Shards: operator processes with --shard-index/--shard-count split the resources by a stable hash, never
touch each other's, and hand them over when the count changes (no double POST, no flapping)."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

from blaxel_devkit.harness import KubeClient, OperatorProcess, is_ready, wait_for
from blaxel_devkit.kube import KubeEmulator
from blaxel_operator.core.decide import shard_finalizer
from blaxel_operator.runtime.manager import shard_of
from blaxel_operator.simulator import BlaxelSimulator

from .conftest import StartOperator, sweeps, wait_gone, wait_ready

SPEC = {"runtime": {"image": "acme/bot:1", "memory": 2048}}
NAMES = [f"bot-{i:02d}" for i in range(20)]
PLURAL = "blaxelagents"


def shard_in(user_agent: str | None) -> str:
    """'i-of-n' from the operator's User-Agent (blaxel-operator/<version> shard/<i>-of-<n>)."""
    for part in (user_agent or "").split():
        if part.startswith("shard/"):
            return part.removeprefix("shard/")
    return "unsharded"


async def start_shards(
    start_operator: StartOperator, kube: KubeEmulator, tmp_path: Path, count: int, *args: str
) -> list[OperatorProcess]:
    """`count` operators, each with its own token: the test bed records who wrote what."""
    ops = []
    for i in range(count):
        kubeconfig = kube.write_kubeconfig(tmp_path / f"kubeconfig-{i}-of-{count}", token=f"{i}-of-{count}")
        ops.append(
            await start_operator(
                "--shard-index",
                str(i),
                "--shard-count",
                str(count),
                *args,
                env={"KUBECONFIG": str(kubeconfig)},
            )
        )
    return ops


def writers(kube: KubeEmulator) -> dict[str, set[str]]:
    """BlaxelAgent -> the operator processes (tokens) that wrote it; the test's own writes left out."""
    found: dict[str, set[str]] = {}
    for (plural, _, name, user), _count in kube.object_writers.items():
        if plural == PLURAL and user not in ("", "kube-emulator"):
            found.setdefault(name, set()).add(user)
    return found


def callers(sim: BlaxelSimulator, since: int = 0) -> dict[str, set[str]]:
    """Agent -> the shards that made a call naming it."""
    found: dict[str, set[str]] = {}
    for call in sim.calls(since=since):
        if call.agent is not None:
            found.setdefault(call.agent, set()).add(shard_in(call.user_agent))
    return found


async def all_ready(k: KubeClient) -> list[dict[str, Any]] | None:
    agents = await k.list_agents("default")
    return agents if len(agents) == len(NAMES) and all(is_ready(a) for a in agents) else None


async def test_two_shards_split_the_work_and_three_take_it_over(
    k: KubeClient, kube: KubeEmulator, sim: BlaxelSimulator, start_operator: StartOperator, tmp_path: Path
) -> None:
    two = await start_shards(start_operator, kube, tmp_path, 2)
    for name in NAMES:
        await k.create_agent("default", name, SPEC)
    ready = await wait_for(lambda: all_ready(k), timeout=60, what="every agent Ready under two shards")

    # each agent POSTed exactly once, and only ever called and written by the shard its hash names,
    # which holds the finalizer of its own
    assert Counter(c.agent for c in sim.calls(method="POST")) == Counter(NAMES)
    expected = {name: f"{shard_of('default', name, 2)}-of-2" for name in NAMES}
    assert callers(sim) == {name: {shard} for name, shard in expected.items()}
    assert writers(kube) == {name: {shard} for name, shard in expected.items()}
    assert len(set(expected.values())) == 2  # both shards had work
    for agent in ready:
        name = agent["metadata"]["name"]
        assert agent["metadata"]["finalizers"] == [shard_finalizer(shard_of("default", name, 2), 2)]

    # a new count: stop both, start three. Each resource ends with its new shard's finalizer alone,
    # written by that shard only, with no Blaxel write and its status untouched (Ready throughout).
    for op in two:
        await op.stop()
    since = sim.last_seq
    statuses = {a["metadata"]["name"]: a["status"] for a in ready}
    kube.reset_counters()
    three = await start_shards(start_operator, kube, tmp_path, 3)
    owner = {name: shard_of("default", name, 3) for name in NAMES}

    async def handed_over() -> bool:
        agents = await k.list_agents("default")
        return all(
            a["metadata"].get("finalizers") == [shard_finalizer(owner[a["metadata"]["name"]], 3)]
            for a in agents
        )

    def swept_by_all(times: int) -> bool:
        counts = Counter(shard_in(c.user_agent) for c in sweeps(sim, since))
        return all(counts[f"{i}-of-3"] >= times for i in range(3))

    await wait_for(handed_over, timeout=30, what="each agent holding its new shard's finalizer alone")
    # two list sweeps by each new shard: what the first handed back was reconciled before the second
    await wait_for(
        lambda: asyncio.sleep(0, swept_by_all(2)), timeout=30, what="two list sweeps by each new shard"
    )
    settled = {
        a["metadata"]["name"]: a["metadata"]["resourceVersion"] for a in await k.list_agents("default")
    }
    assert [c for c in sim.calls(since=since) if c.is_write] == []  # no POST (nor any other write)
    after = await k.list_agents("default")
    assert {a["metadata"]["name"]: a["status"] for a in after} == statuses  # no status write: no flap
    # each agent written by its new shard alone (its finalizer added, the old layout's removed)
    assert writers(kube) == {name: {f"{owner[name]}-of-3"} for name in NAMES}
    assert all(len(shards) == 1 for shards in callers(sim, since).values())
    # and nothing more happens over two more sweeps of each: no finalizer flapping between shards
    await wait_for(
        lambda: asyncio.sleep(0, swept_by_all(4)), timeout=30, what="two more list sweeps by each shard"
    )
    assert {
        a["metadata"]["name"]: a["metadata"]["resourceVersion"] for a in await k.list_agents("default")
    } == settled

    # the new shards own their resources: a new agent and an edit go to the shard its hash names
    await k.create_agent("default", "bot-new", SPEC)
    await k.patch_agent("default", NAMES[0], {"spec": {"runtime": {"memory": 4096}}})
    await wait_ready(k, "default", "bot-new", timeout=30)
    await wait_ready(k, "default", NAMES[0], generation=2, timeout=30)
    writes = [(c.agent, c.method, shard_in(c.user_agent)) for c in sim.calls(since=since) if c.is_write]
    assert sorted(writes) == sorted(
        [
            ("bot-new", "POST", f"{shard_of('default', 'bot-new', 3)}-of-3"),
            (NAMES[0], "PUT", f"{shard_of('default', NAMES[0], 3)}-of-3"),
        ]
    )
    for op in three:
        assert op.alive


async def test_a_resource_deleted_between_layouts_is_deleted_by_its_new_shard(
    k: KubeClient, kube: KubeEmulator, sim: BlaxelSimulator, start_operator: StartOperator, tmp_path: Path
) -> None:
    two = await start_shards(start_operator, kube, tmp_path, 2)
    names = NAMES[:4]
    for name in names:
        await k.create_agent("default", name, SPEC)
    for name in names:
        await wait_ready(k, "default", name, timeout=30)
    for op in two:
        await op.stop()
    # deleted while no shard runs: it keeps the old layout's finalizer, which no new shard holds
    await k.delete_agent("default", names[0])
    assert (await k.get_agent("default", names[0]) or {})["metadata"]["deletionTimestamp"]
    await start_shards(start_operator, kube, tmp_path, 3)
    await wait_gone(k, "default", names[0], timeout=30)
    assert sim.status_of(names[0]) is None  # its remote agent deleted first
    (delete,) = [c for c in sim.calls(method="DELETE")]
    assert delete.agent == names[0]
    assert shard_in(delete.user_agent) == f"{shard_of('default', names[0], 3)}-of-3"
    for name in names[1:]:
        await wait_ready(k, "default", name, timeout=10)


LEASE = ("--shard-lease", "default/blaxel-operator-shards", "--shard-lease-seconds", "2")


async def test_two_layouts_running_side_by_side_never_both_act(
    k: KubeClient, kube: KubeEmulator, sim: BlaxelSimulator, start_operator: StartOperator, tmp_path: Path
) -> None:
    names = NAMES[:8]
    two = await start_shards(start_operator, kube, tmp_path, 2, *LEASE)
    for name in names:
        await k.create_agent("default", name, SPEC)
    for name in names:
        await wait_ready(k, "default", name, timeout=30)

    # a new layout starts while the old one still runs (as when helm replaces Deployments one by one):
    # it waits for the lease, keeps no finalizer and reconciles nothing; a resource created meanwhile is
    # POSTed once, by the old layout
    since = sim.last_seq
    kube.reset_counters()
    three = await start_shards(start_operator, kube, tmp_path, 3, *LEASE)

    async def all_waiting() -> bool:
        return all("held by shards=2" in op.logs() for op in three)

    await wait_for(all_waiting, timeout=30, what="the new layout waiting for the lease")
    await k.create_agent("default", "bot-window", SPEC)
    await wait_ready(k, "default", "bot-window", timeout=30)
    # (the new layout's only calls: its readiness probe, one listing of one object)
    acting = [
        c for c in sim.calls(since=since) if c.agent is not None or c.is_write or "limit=1" not in c.query
    ]
    assert {shard_in(c.user_agent) for c in acting} <= {"0-of-2", "1-of-2"}
    assert not any(user.endswith("-of-3") for (_, _, _, user) in kube.object_writers)
    window = await k.get_agent("default", "bot-window") or {}
    assert window["metadata"]["finalizers"] == [shard_finalizer(shard_of("default", "bot-window", 2), 2)]

    # the old layout stops: the lease goes unrenewed, the new layout takes it and every resource over
    statuses = {a["metadata"]["name"]: a["status"] for a in await k.list_agents("default")}
    for op in two:
        await op.stop()
    owner = {name: shard_of("default", name, 3) for name in [*names, "bot-window"]}

    async def handed_over() -> bool:
        agents = await k.list_agents("default")
        return all(
            a["metadata"].get("finalizers") == [shard_finalizer(owner[a["metadata"]["name"]], 3)]
            for a in agents
        )

    await wait_for(handed_over, timeout=30, what="each agent holding its new shard's finalizer alone")
    lease = await k.http.get("/apis/coordination.k8s.io/v1/namespaces/default/leases/blaxel-operator-shards")
    assert lease.json()["spec"]["holderIdentity"] == "shards=3"
    assert Counter(c.agent for c in sim.calls(method="POST")) == Counter([*names, "bot-window"])
    assert [c for c in sim.calls(since=since) if c.is_write] == [
        c for c in sim.calls(since=since, method="POST") if c.agent == "bot-window"
    ]
    after = {a["metadata"]["name"]: a["status"] for a in await k.list_agents("default")}
    assert after == statuses  # handed over without a status write
    for op in three:
        assert op.alive
