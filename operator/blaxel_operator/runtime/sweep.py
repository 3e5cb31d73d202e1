"""Observe settled objects through list pages: one call per page (200 objects) per poll interval for a
workspace, instead of one GET per object. Objects whose remote changed (or is gone) are handed back to
the work queue with what the page showed; unchanged ones cost nothing more.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..blaxel.client import Credentials, ExternalClient
from ..blaxel.errors import BlaxelError
from ..core.diff import stable_hash
from .state import Key

log = logging.getLogger(__name__)

GroupKey = tuple[str, str, str]  # (Kubernetes kind, digest of the API key, workspace)


def digest(remote: Mapping[str, Any]) -> str:
    return stable_hash(dict(remote))


# (key, what the page showed; None: observe it alone) -> reconcile it with that
Deliver = Callable[[Key, Mapping[str, Any] | None], None]
# (key) -> the digest of the remote as the object's last reconcile saw it settled
LastSeen = Callable[[Key], str | None]


# (remote object) -> what a listing shows of it, for kinds listed as a projection (Kind.list_shape)
ListShape = Callable[[Mapping[str, Any]], Mapping[str, Any]]


@dataclass
class SweepGroup:
    creds: Credentials
    external: ExternalClient
    members: dict[str, Key] = field(default_factory=dict)  # remote name -> object
    task: asyncio.Task[None] | None = None
    # Listed as a projection: a change is noticed on it, and the object is then observed alone (a
    # projection is no observation: what it leaves out would look like drift).
    shape: ListShape | None = None


class Sweeper:
    def __init__(self, interval: float, deliver: Deliver, last_seen: LastSeen, first_delay: float) -> None:
        self.interval = interval
        self.deliver = deliver
        self.last_seen = last_seen
        self.first_delay = first_delay
        self.groups: dict[GroupKey, SweepGroup] = {}

    def join(
        self,
        group: GroupKey,
        creds: Credentials,
        external: ExternalClient,
        name: str,
        key: Key,
        shape: ListShape | None = None,
    ) -> None:
        entry = self.groups.get(group)
        if entry is None:
            entry = self.groups[group] = SweepGroup(creds, external, shape=shape)
            entry.task = asyncio.get_running_loop().create_task(self._loop(group, entry))
        entry.creds = creds
        entry.members[name] = key

    def leave(self, group: GroupKey | None, name: str | None) -> None:
        entry = self.groups.get(group) if group else None
        if entry is None or name is None:
            return
        entry.members.pop(name, None)
        if not entry.members:
            del self.groups[group]  # type: ignore[arg-type]
            if entry.task is not None:
                entry.task.cancel()

    async def close(self) -> None:
        for entry in list(self.groups.values()):
            if entry.task is not None:
                entry.task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await entry.task
        self.groups.clear()

    async def _loop(self, group: GroupKey, entry: SweepGroup) -> None:
        # The first sweep of a group comes soon (e.g. after a restart), the next ones one interval
        # apart; groups never sweep in step.
        delay = self.first_delay * random.uniform(1.0, 1.5)
        while True:
            await asyncio.sleep(delay)
            delay = self.interval * random.uniform(0.9, 1.1)
            try:
                await self.sweep(entry)
            except BlaxelError as exc:
                log.warning(
                    "list sweep of %s failed (%s); each object is observed alone instead", group[0], exc
                )
                for key in list(entry.members.values()):
                    self.deliver(key, None)

    async def sweep(self, entry: SweepGroup) -> None:
        remaining = dict(entry.members)
        async for page in entry.external.list_pages(entry.creds):
            for remote in page:
                name = str((remote.get("metadata") or {}).get("name") or "")
                key = remaining.pop(name, None)
                seen = remote if entry.shape is None else entry.shape(remote)
                if key is not None and self.last_seen(key) != digest(seen):
                    self.deliver(key, remote if entry.shape is None else None)
        for key in remaining.values():  # not listed: deleted outside Kubernetes (or gone meanwhile)
            self.deliver(key, None)
