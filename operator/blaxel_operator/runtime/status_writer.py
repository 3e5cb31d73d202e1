"""Write a resource's status only when it changed (a deployment's progress at most once per interval),
and remember what was written until the watch delivers it (the operator is the status's only writer:
what it last wrote is the truth)."""

from __future__ import annotations

import enum
import time
from collections.abc import Mapping
from typing import Any, Protocol

from ..core.conditions import RECONCILING, find
from ..core.status import status_write_due
from ..kinds.base import Kind
from ..kubeapi import merge_patch
from ..metrics import KUBE_WRITES
from .state import ObjectState, pack, unpack


class StatusPatcher(Protocol):
    async def patch_status(
        self, group: str, version: str, plural: str, namespace: str, name: str, patch: Mapping[str, Any]
    ) -> dict[str, Any] | None: ...


def previous_status(body: Mapping[str, Any], state: ObjectState) -> dict[str, Any]:
    observed = dict(body.get("status") or {})
    if state.status_cache is not None:
        written = unpack(state.status_cache)
        if observed == written:
            state.status_cache = None  # delivered: the body is the truth again (and memory is freed)
            return observed
        return written
    return observed


class Written(enum.Enum):
    UNCHANGED = "unchanged"
    WRITTEN = "written"
    DEFERRED = "deferred"  # only progress moved, and it was shown lately: a later reconcile writes it


class StatusWriter:
    def __init__(self, kind: Kind, patcher: StatusPatcher, progress_interval: float = 0.0) -> None:
        self.kind = kind
        self.patcher = patcher
        self.progress_interval = progress_interval

    def due_in(self, state: ObjectState) -> float:
        """Seconds until a held-back progress status may be written."""
        return max(0.0, self.progress_interval - (time.monotonic() - state.status_written_at))

    async def write(
        self,
        body: Mapping[str, Any],
        state: ObjectState,
        previous: Mapping[str, Any],
        new: Mapping[str, Any],
    ) -> Written:
        """Patch the difference, unless there is none (an idle poll costs no Kubernetes write) or it
        only shows progress that was shown less than the progress interval ago."""
        if dict(new) == dict(previous):
            return Written.UNCHANGED  # the common case (an idle poll): one comparison
        now = time.monotonic()
        since = now - state.status_written_at if state.status_written_at else None
        if not status_write_due(previous, new, since, self.progress_interval):
            return Written.DEFERRED
        meta = body.get("metadata") or {}
        result = await self.patcher.patch_status(
            self.kind.group,
            self.kind.version,
            self.kind.plural,
            str(meta.get("namespace") or ""),
            str(meta.get("name") or ""),
            merge_patch(previous, new),
        )
        KUBE_WRITES.labels(self.kind.kind).inc()
        if result is not None:
            state.status_cache = pack(result.get("status") or {})
        # remembered while in progress only (where it matters): settled objects keep no float each
        state.status_written_at = now if find(new.get("conditions") or [], RECONCILING) else 0.0
        return Written.WRITTEN
