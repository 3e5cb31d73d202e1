"""Observe objects through list pages: one call per page (200 objects) for a whole workspace, instead of
one GET per object.

Settled objects are swept once per poll interval. Objects Blaxel is working on (deploying, just written)
are swept once per deployment poll interval while there are enough of them in the workspace for a list to
cost fewer calls than their GETs (at least two, and at least one per page); fewer are observed alone, with
their own GETs. Objects whose remote changed (or is gone) are handed back to the work queue with what the
page showed; unchanged ones cost nothing more. An in-progress object that stays unchanged past its
patience is handed back too (its reconcile then slows its polls down, as for any stuck deployment).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import math
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..blaxel.client import Credentials, ExternalClient
from ..blaxel.errors import BlaxelError
from .state import Key

log = logging.getLogger(__name__)

GroupKey = tuple[str, str, str]  # (Kubernetes kind, digest of the API key, workspace)
PAGE = 200  # objects per list page (the client's page size)
INTAKE_QUIET = 1.0  # seconds without a restored member joining: a restart's intake is over


def digest(remote: Mapping[str, Any]) -> int:
    """A 64-bit fingerprint of a remote object (an int: 32 bytes kept per object, not an 88-byte string).
    Compared within this process only, never stored."""
    data = json.dumps(remote, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big")


# (key, what the page showed: None when the object is not listed, when the page was asked for) -> reconcile
# it with that (or look at it alone when None)
Deliver = Callable[[Key, Mapping[str, Any] | None, float], None]
# (key) -> the digest of the remote as the object's last reconcile saw it
LastSeen = Callable[[Key], int | None]


# (remote object) -> what a listing shows of it, for kinds listed as a projection (Kind.list_shape)
ListShape = Callable[[Mapping[str, Any]], Mapping[str, Any]]


@dataclass
class SweepGroup:
    creds: Credentials
    external: ExternalClient
    members: dict[str, Key] = field(default_factory=dict)  # remote name -> object, observed by the sweeps
    watching: dict[str, float] = field(default_factory=dict)  # in-progress members -> patience deadline
    alone: set[str] = field(default_factory=set)  # in progress, observed with their own GETs (too few)
    listed: int = 0  # objects in the group's last complete listing
    unobserved_since: float | None = None  # when a member that was never swept joined (a restart)
    unobserved_last: float = 0.0  # when the last of them joined
    task: asyncio.Task[None] | None = None
    # Listed as a projection: a change is noticed on it, and the object is then observed alone (a
    # projection is no observation: what it leaves out would look like drift).
    shape: ListShape | None = None
    wake: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.listed / PAGE))

    def list_pays(self, in_progress: int) -> bool:
        """Whether one list per deployment poll costs fewer calls than `in_progress` GETs."""
        return in_progress >= max(2, self.pages)


class Sweeper:
    def __init__(
        self,
        interval: float,
        deliver: Deliver,
        last_seen: LastSeen,
        first_delay: float,
        fast_interval: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.interval = interval
        self.fast_interval = min(interval, fast_interval if fast_interval is not None else interval)
        self.deliver = deliver
        self.last_seen = last_seen
        self.first_delay = first_delay
        self.clock = clock
        self.groups: dict[GroupKey, SweepGroup] = {}

    def _group(
        self, group: GroupKey, creds: Credentials, external: ExternalClient, shape: ListShape | None
    ) -> SweepGroup:
        entry = self.groups.get(group)
        if entry is None:
            entry = self.groups[group] = SweepGroup(creds, external, shape=shape)
        entry.creds = creds
        return entry

    def _member(self, group: GroupKey, entry: SweepGroup, name: str, key: Key) -> None:
        entry.members[name] = key
        if entry.task is None:
            entry.task = asyncio.get_running_loop().create_task(self._loop(group, entry))

    def join(
        self,
        group: GroupKey,
        creds: Credentials,
        external: ExternalClient,
        name: str,
        key: Key,
        unobserved: bool = False,
        shape: ListShape | None = None,
    ) -> None:
        """A settled object: swept once per poll interval. `unobserved` (its status says settled, but
        this process has not seen the remote yet, e.g. after a restart): swept within seconds."""
        entry = self._group(group, creds, external, shape)
        entry.watching.pop(name, None)
        entry.alone.discard(name)
        self._member(group, entry, name, key)
        if unobserved:
            entry.unobserved_last = self.clock()
            if entry.unobserved_since is None:
                entry.unobserved_since = entry.unobserved_last
                entry.wake.set()

    def watch(
        self,
        group: GroupKey,
        creds: Credentials,
        external: ExternalClient,
        name: str,
        key: Key,
        until: float,
        shape: ListShape | None = None,
    ) -> bool:
        """An object in progress: swept once per deployment poll interval (until `until` if it does not
        change) when enough are in progress for a list to pay; returns False when it is to be observed
        alone (with a GET) instead."""
        entry = self._group(group, creds, external, shape)
        in_progress = len(entry.watching) + len(entry.alone) + (name not in entry.alone)
        if name not in entry.watching and not entry.list_pays(in_progress):
            entry.members.pop(name, None)
            entry.alone.add(name)
            return False
        entry.alone.discard(name)
        first = not entry.watching
        entry.watching[name] = until
        self._member(group, entry, name, key)
        if first:
            entry.wake.set()  # sweep sooner than the settled rhythm
        return True

    def leave(self, group: GroupKey | None, name: str | None) -> None:
        entry = self.groups.get(group) if group else None
        if entry is None or name is None:
            return
        entry.members.pop(name, None)
        entry.watching.pop(name, None)
        entry.alone.discard(name)
        if not entry.members and entry.task is not None:
            entry.task.cancel()
            entry.task = None
        if not entry.members and not entry.alone:
            del self.groups[group]  # type: ignore[arg-type]

    async def close(self) -> None:
        for entry in list(self.groups.values()):
            if entry.task is not None:
                entry.task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await entry.task
        self.groups.clear()

    async def _loop(self, group: GroupKey, entry: SweepGroup) -> None:
        # The first sweep of a group comes soon (e.g. after a restart), the next ones one interval apart
        # (a deployment poll interval while objects are in progress); groups never sweep in step.
        last = self.clock()
        settled_delay = self.first_delay * random.uniform(1.0, 1.5)
        fast_delay = self.fast_interval * random.uniform(0.9, 1.1)
        first_delay = self.first_delay * random.uniform(1.0, 1.5)
        while True:
            entry.wake.clear()
            due = last + (min(settled_delay, fast_delay) if entry.watching else settled_delay)
            if entry.unobserved_since is not None:
                # Members never swept (e.g. restored after a restart) wait seconds, not an interval: once
                # none joined for a moment (a restart's intake, one burst of watch events, is over), or
                # at the latest four first-sweep delays after the first of them, so that they share one
                # sweep.
                quiet = entry.unobserved_last + min(first_delay, INTAKE_QUIET)
                due = min(due, quiet, entry.unobserved_since + 4 * first_delay)
            wait = due - self.clock()
            if wait > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(entry.wake.wait(), wait)
                continue  # due now, or objects in progress joined: the delay is worked out again
            last = self.clock()
            settled_delay = self.interval * random.uniform(0.9, 1.1)
            fast_delay = self.fast_interval * random.uniform(0.9, 1.1)
            entry.unobserved_since = None  # this sweep covers every member so far
            try:
                await self.sweep(entry)
            except BlaxelError as exc:
                log.warning(
                    "list sweep of %s failed (%s); each object is observed alone instead", group[0], exc
                )
                for key in list(entry.members.values()):
                    self.deliver(key, None, last)

    async def sweep(self, entry: SweepGroup) -> None:
        started = self.clock()
        remaining = dict(entry.members)
        listed = 0
        # In-progress members the page shows unchanged, kept only when they are few enough to be handed
        # back to their own GETs after this sweep: otherwise a fast sweep of thousands would hold every
        # page until its end.
        handing_back = bool(entry.watching) and not entry.list_pays(len(entry.watching) + len(entry.alone))
        unchanged: dict[str, tuple[Key, Mapping[str, Any] | None, float]] = {}
        pages = entry.external.list_pages(entry.creds).__aiter__()
        while True:
            asked = self.clock()  # a page shows the remote as it was at some point after this
            try:
                page = await pages.__anext__()
            except StopAsyncIteration:
                break
            for remote in page:
                listed += 1
                name = str((remote.get("metadata") or {}).get("name") or "")
                key = remaining.pop(name, None)
                if key is None:
                    continue
                deadline = entry.watching.get(name)
                # a projection (Kind.list_shape) shows a change but is no observation: then observed alone
                seen = remote if entry.shape is None else entry.shape(remote)
                shown = remote if entry.shape is None else None
                if (deadline is not None and deadline < asked) or self.last_seen(key) != digest(seen):
                    self.deliver(key, shown, asked)
                elif deadline is not None and handing_back:
                    unchanged[name] = (key, shown, asked)
        entry.listed = listed
        for key in remaining.values():  # not listed: deleted outside Kubernetes (or gone meanwhile)
            self.deliver(key, None, started)
        if handing_back and not entry.list_pays(len(entry.watching) + len(entry.alone)):
            # Too few left in progress for a list to pay: each is observed alone from now on. Those the
            # page showed unchanged are reconciled with that (no call); their next look is their own GET.
            for name, (key, view, when) in unchanged.items():
                entry.watching.pop(name, None)
                self.deliver(key, view, when)
