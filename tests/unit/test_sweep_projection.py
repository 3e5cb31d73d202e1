"""List sweeps against the simulator over loopback: a kind listed as a projection (volumes: LiteVolume,
without labels) is noticed changed on that projection and then observed alone, never reconciled with
the projection (whose missing labels would look like drift and cause a PUT on every sweep)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

import pytest

from blaxel_operator.blaxel.client import BlaxelApi, Credentials, ExternalClient
from blaxel_operator.kinds import agent, volume
from blaxel_operator.runtime.state import Key
from blaxel_operator.runtime.sweep import Sweeper, SweepGroup, digest
from blaxel_operator.simulator import BlaxelSimulator, SimulatorConfig

CREDS = Credentials("solo-key", "solo")
KEY: Key = ("BlaxelVolume", "ns", "data")
LABELS = {"team": "a", "x-blaxel-operator-name": "data"}


@pytest.fixture
async def sim() -> AsyncIterator[BlaxelSimulator]:
    async with BlaxelSimulator(SimulatorConfig(api_keys={"solo-key": ["solo"]})) as simulator:
        yield simulator


@pytest.fixture
async def api(sim: BlaxelSimulator) -> AsyncIterator[BlaxelApi]:
    client = BlaxelApi(sim.url, rate=0)
    yield client
    await client.close()


class Sweep:
    """One sweep of one group, and what it handed back."""

    def __init__(self, external: ExternalClient, shape: Any, last_seen: int | None) -> None:
        self.delivered: list[tuple[Key, Mapping[str, Any] | None]] = []
        self.sweeper = Sweeper(60.0, self.deliver, lambda key: last_seen, first_delay=60.0)
        self.group = SweepGroup(CREDS, external, members={KEY[2]: KEY}, shape=shape)

    def deliver(self, key: Key, remote: Mapping[str, Any] | None, asked: float) -> None:
        self.delivered.append((key, remote))

    async def run(self) -> list[tuple[Key, Mapping[str, Any] | None]]:
        await self.sweeper.sweep(self.group)
        return self.delivered


async def test_a_volume_listed_as_a_projection_is_compared_on_it_and_observed_alone(
    sim: BlaxelSimulator, api: BlaxelApi
) -> None:
    sim.seed_object(
        "volumes",
        {"metadata": {"name": "data", "labels": LABELS}, "spec": {"size": 1024, "region": "us-pdx-1"}},
        workspace="solo",
    )
    external = ExternalClient(api, "volumes")
    full = await external.observe(CREDS, "data")
    assert full is not None and full["metadata"]["labels"] == LABELS
    # what the reconcile remembers of a settled volume: its listing shape
    seen = digest(volume.list_shape(full))

    assert await Sweep(external, volume.KIND.list_shape, seen).run() == []  # unchanged: nothing to do

    sim.edit_object("volumes", "data", {"spec": {"size": 2048}}, workspace="solo")
    # changed: observed alone (None), never reconciled with the listed projection
    assert await Sweep(external, volume.KIND.list_shape, seen).run() == [(KEY, None)]
    # without a remembered digest (Secrets feed it), the same
    assert await Sweep(external, volume.KIND.list_shape, None).run() == [(KEY, None)]


async def test_complete_listings_hand_the_listed_object_over(sim: BlaxelSimulator, api: BlaxelApi) -> None:
    assert agent.KIND.list_shape is None
    sim.seed_agent({"metadata": {"name": "data", "labels": LABELS}, "spec": {}}, workspace="solo")
    external = ExternalClient(api, "agents")
    delivered = await Sweep(external, None, 0).run()
    assert [(key, (remote or {})["metadata"]["labels"]) for key, remote in delivered] == [(KEY, LABELS)]
