"""The shard layout lease: which shard layout (shard count) acts, so that two layouts never act at once.

When the shard count changes, the processes of the old layout and of the new one may run side by side
for a while (helm replaces Deployments one after the other). Both would own some resources: a resource
created then could be POSTed by both. A Kubernetes Lease names the layout that acts; every process of
that layout renews it, and a process of another layout waits until it has gone unrenewed for its
duration (the old layout's processes are gone), then takes it. Pure: the caller reads and writes the
Lease (with its resourceVersion, so that two takers cannot both win) and keeps the time.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


def layout_of(shard_count: int) -> str:
    """The lease holder identity of a layout: every shard of one layout shares it."""
    return f"shards={max(1, shard_count)}"


@dataclass(frozen=True)
class LeaseView:
    """What the Lease says."""

    holder: str | None
    renewed_at: float | None  # its spec.renewTime (else acquireTime), seconds since the epoch
    duration: float  # its spec.leaseDurationSeconds


class LeaseAction(enum.Enum):
    CREATE = "create"  # there is none: create it, held by us
    RENEW = "renew"  # ours: renew it
    TAKE = "take"  # another layout's, unrenewed for its duration: take it
    WAIT = "wait"  # another layout's, alive: act on nothing


def lease_action(view: LeaseView | None, ours: str, now: float) -> LeaseAction:
    if view is None:
        return LeaseAction.CREATE
    if view.holder == ours:
        return LeaseAction.RENEW
    if not view.holder or view.renewed_at is None or now >= view.renewed_at + view.duration:
        return LeaseAction.TAKE
    return LeaseAction.WAIT


def held_until(written_at: float, duration: float) -> float:
    """Until when a process may act on a lease it wrote at `written_at` (its clock, taken before the
    write was sent): a margin short of the duration, so that it stops acting before another layout may
    take the lease, even if it cannot reach the API to learn it lost it."""
    return written_at + duration * 0.8
