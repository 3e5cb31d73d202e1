"""The shard layout lease: which layout acts (a table, the path production runs), and the lease at work
against the Kubernetes API test bed over loopback (create, renew, wait, take, lose)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from blaxel_devkit.kube import KubeEmulator
from blaxel_operator.core.lease import LeaseAction, LeaseView, held_until, layout_of, lease_action
from blaxel_operator.kubeapi import KubeApi
from blaxel_operator.kubelogin import KubeLogin
from blaxel_operator.runtime.lease import LayoutLease, micro_time, view_of

OURS, OTHER = layout_of(3), layout_of(2)
NOW = 1_000_000.0


@pytest.mark.parametrize(
    ("view", "action"),
    [
        (None, LeaseAction.CREATE),
        (LeaseView(OURS, NOW - 100, 15), LeaseAction.RENEW),  # ours, even if long unrenewed
        (LeaseView(OTHER, NOW - 5, 15), LeaseAction.WAIT),  # another layout, alive
        (LeaseView(OTHER, NOW - 15, 15), LeaseAction.TAKE),  # unrenewed for its duration
        (LeaseView(OTHER, None, 15), LeaseAction.TAKE),  # never renewed
        (LeaseView(None, NOW, 15), LeaseAction.TAKE),  # released (no holder)
    ],
)
def test_which_layout_acts(view: LeaseView | None, action: LeaseAction) -> None:
    assert lease_action(view, OURS, NOW) is action


def test_a_holder_stops_acting_before_another_may_take_the_lease() -> None:
    assert layout_of(1) == "shards=1" and layout_of(0) == "shards=1"
    assert NOW < held_until(NOW, 15) < NOW + 15


def test_the_lease_object_is_read_as_written() -> None:
    lease = {"spec": {"holderIdentity": OURS, "renewTime": micro_time(NOW), "leaseDurationSeconds": 9}}
    assert view_of(lease) == LeaseView(OURS, NOW, 9.0)
    assert view_of({"spec": {"acquireTime": micro_time(NOW)}}) == LeaseView(None, NOW, 15.0)


@pytest.fixture
async def kube(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[KubeApi]:
    async with KubeEmulator() as emulator:
        monkeypatch.setenv("KUBECONFIG", str(emulator.write_kubeconfig(tmp_path / "kubeconfig")))
        api = KubeApi(KubeLogin())
        yield api
        await api.close()


class Events:
    def __init__(self) -> None:
        self.acquired = 0
        self.superseded: list[str] = []


def lease(kube: KubeApi, identity: str, events: Events, duration: float = 15) -> LayoutLease:
    return LayoutLease(
        kube,
        "default",
        "shards",
        identity,
        duration,
        on_acquired=lambda: setattr(events, "acquired", events.acquired + 1),
        superseded=events.superseded.append,
    )


async def test_one_layout_acts_and_another_waits_until_it_is_gone(kube: KubeApi) -> None:
    old_events, new_events = Events(), Events()
    old, new = lease(kube, OTHER, old_events), lease(kube, OURS, new_events)
    await old.step()  # created, held
    assert old.may_act() and not old.waiting and old_events.acquired == 1
    await new.step()
    assert new.waiting and not new.may_act() and new.holder == OTHER and new_events.acquired == 0
    await old.step()  # renewed
    assert old.may_act() and old_events.acquired == 1

    # the old layout is gone: its lease ages past its duration, and the new one takes it
    stored = await kube.get_lease("default", "shards")
    assert stored is not None
    stored["spec"]["renewTime"] = micro_time(NOW)  # long ago
    assert await kube.write_lease("default", stored) is not None
    await new.step()
    assert new.may_act() and not new.waiting and new_events.acquired == 1
    taken = await kube.get_lease("default", "shards")
    assert taken is not None and taken["spec"]["holderIdentity"] == OURS
    assert taken["spec"]["leaseTransitions"] == 1

    # should the old one come back, it learns it was superseded, and acts on nothing more
    await old.step()
    assert not old.may_act() and old_events.superseded == [OURS]


async def test_a_stale_write_loses_to_the_one_that_came_first(kube: KubeApi) -> None:
    events = Events()
    first = lease(kube, OURS, events)
    await first.step()
    stored = await kube.get_lease("default", "shards")
    assert stored is not None
    renewed = {**stored, "spec": {**stored["spec"], "renewTime": micro_time(NOW)}}
    assert await kube.write_lease("default", renewed) is not None  # someone renews meanwhile
    taken = {**stored, "spec": {**stored["spec"], "holderIdentity": OTHER}}
    assert await kube.write_lease("default", taken) is None  # written on the older resourceVersion: 409
