"""List sweeps against the simulator over loopback: what they hand back to the work queue, when objects in
progress are observed with list pages rather than their own GETs, and stale pages."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from typing import Any

import pytest

from blaxel_devkit.harness import wait_for
from blaxel_operator.blaxel.client import BlaxelApi, Credentials, ExternalClient
from blaxel_operator.runtime.manager import Runtime
from blaxel_operator.runtime.state import OBSERVE, Key, ObjectState, pack
from blaxel_operator.runtime.sweep import PAGE, GroupKey, Sweeper, SweepGroup, digest
from blaxel_operator.simulator import BlaxelSimulator, SimulatorConfig

CREDS = Credentials("sim-key", "sandbox")
GROUP: GroupKey = ("BlaxelAgent", "digest", "sandbox")


def key(name: str) -> Key:
    return ("BlaxelAgent", "default", name)


@pytest.fixture
async def sim() -> AsyncIterator[BlaxelSimulator]:
    async with BlaxelSimulator(SimulatorConfig(step_seconds=60)) as simulator:
        for name in ("a", "b", "c"):
            simulator.seed_agent({"metadata": {"name": name}, "spec": {"runtime": {"image": "x/y:1"}}})
        yield simulator


@pytest.fixture
async def external(sim: BlaxelSimulator) -> AsyncIterator[ExternalClient]:
    api = BlaxelApi(sim.url, rate=0)
    yield ExternalClient(api, "agents")
    await api.close()


class Recorder:
    """Stands for the runtime: what each object looked like when last reconciled, what was handed back."""

    def __init__(self) -> None:
        self.seen: dict[Key, int | None] = {}
        self.delivered: list[tuple[Key, Mapping[str, Any] | None]] = []

    def deliver(self, k: Key, remote: Mapping[str, Any] | None, asked: float) -> None:
        self.delivered.append((k, remote))

    def last_seen(self, k: Key) -> int | None:
        return self.seen.get(k)

    def names(self) -> list[str]:
        return sorted(k[2] for k, _ in self.delivered)


def test_a_list_pays_from_two_objects_in_progress_and_one_per_page() -> None:
    group = SweepGroup(CREDS, ExternalClient(BlaxelApi("http://127.0.0.1:9", rate=0), "agents"))
    assert not group.list_pays(1)
    assert group.list_pays(2)
    group.listed = 5 * PAGE  # five pages per sweep: five GETs cost as much
    assert not group.list_pays(4) and group.list_pays(5)


async def test_only_changed_or_unlisted_members_are_handed_back(
    sim: BlaxelSimulator, external: ExternalClient
) -> None:
    rec = Recorder()
    sweeper = Sweeper(600, rec.deliver, rec.last_seen, first_delay=600)
    for name in ("a", "b", "gone"):
        sweeper.join(GROUP, CREDS, external, name, key(name))
    rec.seen[key("a")] = digest(sim.get_agent("a") or {})  # unchanged since its last reconcile
    await sweeper.sweep(sweeper.groups[GROUP])
    assert rec.names() == ["b", "gone"]
    assert dict(rec.delivered)[key("gone")] is None  # observed alone (a GET) by its reconcile
    assert sweeper.groups[GROUP].listed == 3
    await sweeper.close()


async def test_objects_in_progress_are_swept_only_when_enough_of_them(
    sim: BlaxelSimulator, external: ExternalClient
) -> None:
    rec = Recorder()
    sweeper = Sweeper(600, rec.deliver, rec.last_seen, first_delay=600, fast_interval=1)
    assert not sweeper.watch(GROUP, CREDS, external, "a", key("a"), until=1e12)  # alone: its own GET
    assert sweeper.watch(GROUP, CREDS, external, "b", key("b"), until=1e12)  # two: a list pays
    group = sweeper.groups[GROUP]
    assert "b" in group.watching and "a" in group.alone and "a" not in group.members
    for name in ("a", "b"):
        rec.seen[key(name)] = digest(sim.get_agent(name) or {})
    # The one observed alone settles and leaves the count: one left in progress, a list no longer
    # pays, so the page's unchanged view goes back to it (no call), and its next look is its own GET.
    sweeper.join(GROUP, CREDS, external, "a", key("a"))
    await sweeper.sweep(group)
    assert rec.names() == ["b"] and dict(rec.delivered)[key("b")] is not None
    assert not group.watching
    await sweeper.close()


async def test_an_unchanged_object_in_progress_comes_back_when_its_patience_ends(
    sim: BlaxelSimulator, external: ExternalClient
) -> None:
    rec = Recorder()
    sweeper = Sweeper(600, rec.deliver, rec.last_seen, first_delay=600, fast_interval=1)
    sweeper.join(GROUP, CREDS, external, "c", key("c"))
    sweeper.watch(GROUP, CREDS, external, "a", key("a"), until=1e12)
    sweeper.watch(GROUP, CREDS, external, "b", key("b"), until=0.0)  # past its patience
    for name in ("a", "b", "c"):
        rec.seen[key(name)] = digest(sim.get_agent(name) or {})
    await sweeper.sweep(sweeper.groups[GROUP])
    assert rec.names() == ["b"]  # reconciled with the page's view: its schedule slows down
    await sweeper.close()


def test_a_page_asked_for_before_the_last_reconcile_ended_is_not_used() -> None:
    state = ObjectState(looked_at=10.0)
    state.prefetched = (9.5, pack({"metadata": {"name": "a"}}))  # may predate a write of that reconcile
    assert Runtime.take_observation(state) is OBSERVE
    state.prefetched = (10.5, pack({"metadata": {"name": "a"}}))
    assert Runtime.take_observation(state) == {"metadata": {"name": "a"}}
    assert state.prefetched is OBSERVE  # used once


async def test_members_never_swept_are_swept_within_seconds_not_an_interval(
    sim: BlaxelSimulator, external: ExternalClient
) -> None:
    rec = Recorder()
    sweeper = Sweeper(600, rec.deliver, rec.last_seen, first_delay=0.05)
    sweeper.join(GROUP, CREDS, external, "a", key("a"))
    group = sweeper.groups[GROUP]
    await wait_for(lambda: asyncio.sleep(0, group.listed == 3), timeout=5, what="the group's first sweep")
    listed = sim.last_seq
    sweeper.join(GROUP, CREDS, external, "b", key("b"), unobserved=True)  # e.g. restored after a restart
    await wait_for(lambda: asyncio.sleep(0, key("b") in dict(rec.delivered)), timeout=5, what="b swept")
    assert len(sweeps_since(sim, listed)) == 1  # one more sweep, long before the 600 s interval
    await sweeper.close()


def sweeps_since(sim: BlaxelSimulator, since: int) -> list[Any]:
    return [c for c in sim.calls(method="GET", since=since) if c.path.rstrip("/").endswith("/agents")]
