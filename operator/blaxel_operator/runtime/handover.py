"""Finalizers across shard layouts: the finalizer this process holds, the move of resources from another
layout (its finalizer replaced by ours), and the layout lease that keeps two layouts from acting at once."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..config import OperatorConfig
from ..core.decide import stale_finalizers
from ..core.lease import layout_of
from ..kinds.base import Kind
from ..kubeapi import KubeApi
from .deleter import Deletion
from .lease import LayoutLease
from .state import Key

log = logging.getLogger(__name__)

LEASE_RECHECK = 1.0  # seconds before an object is looked at again while the lease is not held

Delete = Callable[[Kind, Mapping[str, Any]], Awaitable[Deletion]]


@dataclass(frozen=True)
class Gate:
    """Whether the reconcile may go on; when not, the delay before the object is looked at again
    (None: when its next event comes)."""

    proceed: bool
    delay: float | None = None


GO = Gate(True)


class Handover:
    def __init__(
        self,
        config: OperatorConfig,
        kube: KubeApi,
        delete: Delete,
        on_acquired: Callable[[], None],
        superseded: Callable[[str], None],
    ) -> None:
        self.finalizer = config.finalizer
        self.kube = kube
        self.delete = delete
        # objects that came while another layout held the lease: Kopf added no finalizer to them then
        self.unfinalized: set[Key] = set()
        self.lease = (
            LayoutLease(
                kube,
                *config.shard_lease,
                identity=layout_of(config.shard_count),
                duration=config.shard_lease_seconds,
                on_acquired=on_acquired,
                superseded=superseded,
            )
            if config.shard_lease is not None
            else None
        )

    @property
    def waiting(self) -> bool:
        """Another layout holds the lease and this process never held it: keep no finalizer."""
        return self.lease is not None and self.lease.waiting

    def may_act(self) -> bool:
        return self.lease is None or self.lease.may_act()

    def gate(self) -> Gate:
        if self.may_act():
            return GO
        return Gate(False, None if self.waiting else LEASE_RECHECK)  # waiting: all requeued once held

    async def settle(self, kind: Kind, key: Key, body: Mapping[str, Any]) -> Gate:
        """Ours on, other layouts' off, before anything else; a resource deleted while it carried
        another layout's finalizer (Kopf adds none to a deleting object) is deleted here first."""
        meta = body.get("metadata") or {}
        finalizers = list(meta.get("finalizers") or [])
        stale = stale_finalizers(finalizers, self.finalizer)
        add = (
            key in self.unfinalized and self.finalizer not in finalizers and not meta.get("deletionTimestamp")
        )
        if not stale and not add:
            self.unfinalized.discard(key)
            return GO
        if self.finalizer not in finalizers and not add:
            if not meta.get("deletionTimestamp"):
                return Gate(False)  # Kopf adds ours first; its arrival brings the object back here
            result = await self.delete(kind, body)
            if not result.done:
                return Gate(False, max(1.0, result.delay))
        wanted = [f for f in finalizers if f not in stale] + ([self.finalizer] if add else [])
        written = await self.kube.replace_finalizers(
            kind.group,
            kind.version,
            kind.plural,
            str(meta.get("namespace") or ""),
            str(meta.get("name") or ""),
            finalizers,
            wanted,
        )
        if not written:
            return Gate(False, 1.0)  # changed meanwhile: its next event (or this retry) tells
        self.unfinalized.discard(key)
        log.info(
            "%s/%s: finalizers handed over from another shard layout: %s -> %s",
            meta.get("namespace"),
            meta.get("name"),
            ", ".join(stale) or "none",
            self.finalizer if add or self.finalizer in finalizers else "none",
        )
        return GO if self.finalizer in finalizers else Gate(False)
