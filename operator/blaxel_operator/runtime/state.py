"""What the operator keeps in memory per object; lost on restart, by design (the status is the truth)."""

from __future__ import annotations

import json
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..blaxel.client import Credentials
from ..core.decide import FINALIZER, WATCHED_ANNOTATIONS
from ..core.schedule import Pacing

Key = tuple[str, str, str]  # (Kubernetes kind, namespace, name)

# "No observation at hand: read the remote" (a list sweep may hand one to the next reconcile instead).
OBSERVE: Any = object()


def key_of(kind: str, body: Mapping[str, Any]) -> Key:
    meta = body.get("metadata") or {}
    return (kind, str(meta.get("namespace") or ""), str(meta.get("name") or ""))


def compact(body: Mapping[str, Any]) -> dict[str, Any]:
    """The parts of an object a reconcile reads: less memory per object than the full body."""
    meta = body.get("metadata") or {}
    annotations = meta.get("annotations") or {}
    kept_meta = {
        k: meta[k]
        for k in ("name", "namespace", "uid", "generation", "deletionTimestamp", "finalizers")
        if meta.get(k) is not None
    }
    ours = {k: v for k, v in annotations.items() if k in WATCHED_ANNOTATIONS}
    if ours:
        kept_meta["annotations"] = ours
    return {"metadata": kept_meta, "spec": body.get("spec") or {}, "status": body.get("status") or {}}


def pack(body: Mapping[str, Any]) -> bytes:
    """A body as compressed JSON: ~1 KB instead of ~6 KB of dicts and strings. Most objects are settled
    and read only when they are reconciled, which unpacks it (tens of microseconds)."""
    return zlib.compress(json.dumps(body, separators=(",", ":")).encode(), 1)


def unpack(packed: bytes) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(zlib.decompress(packed)) if packed else {}
    return body


def trigger_of(body: Mapping[str, Any]) -> tuple[Any, ...]:
    """What makes a reconcile due now: the spec (generation), our annotations, the finalizer's arrival;
    not status changes (our own writes)."""
    meta = body.get("metadata") or {}
    annotations = meta.get("annotations") or {}
    return (
        meta.get("generation"),
        tuple(annotations.get(a) for a in WATCHED_ANNOTATIONS),
        FINALIZER in (meta.get("finalizers") or []),
        bool(meta.get("deletionTimestamp")),
    )


@dataclass(slots=True)
class ObjectState:
    packed: bytes = b""  # the compact latest body from the watch, packed (see `body`)
    trigger: tuple[Any, ...] | None = None
    pacing: Pacing = field(default_factory=Pacing)
    status_cache: bytes | None = None  # what we last wrote (packed), until the watch delivers it
    delete_requested: bool = False  # DELETE sent; the remote's 404 then means "deleted"
    last_credentials: Credentials | None = None  # to delete even once the credentials Secret is gone
    counted_status: str | None = None  # the remote status this object is counted under (metrics)
    backoff_reason: str | None = None
    sweep_group: tuple[str, str, str] | None = None  # (kind, key digest, workspace) when swept
    digest: str | None = None  # of the remote object as last seen (sweeps skip unchanged ones)
    remote_name: str | None = None
    prefetched: Any = OBSERVE  # (when the page was asked for, what it showed), for the next reconcile
    looked_at: float = 0.0  # when the last reconcile ended (monotonic): older observations are stale
    fresh: bool = True  # not reconciled yet by this process

    @property
    def body(self) -> dict[str, Any]:
        """The compact latest body (a fresh copy on each read: read it once per reconcile)."""
        return unpack(self.packed)

    @body.setter
    def body(self, body: Mapping[str, Any]) -> None:
        self.packed = pack(body)
