"""Write a resource's status only when it changed, and remember what was written until the watch
delivers it (the operator is the status's only writer: what it last wrote is the truth)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

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


class StatusWriter:
    def __init__(self, kind: Kind, patcher: StatusPatcher) -> None:
        self.kind = kind
        self.patcher = patcher

    async def write(
        self,
        body: Mapping[str, Any],
        state: ObjectState,
        previous: Mapping[str, Any],
        new: Mapping[str, Any],
    ) -> bool:
        """Patch the difference; returns whether anything was written."""
        if dict(new) == dict(previous):
            return False  # an idle poll costs no Kubernetes write
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
        return True
