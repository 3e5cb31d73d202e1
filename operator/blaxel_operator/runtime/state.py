"""What the operator keeps in memory per object; lost on restart, by design (the status is the truth)."""

from __future__ import annotations

import json
import sys
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..blaxel.client import Credentials
from ..core.decide import FINALIZER, WATCHED_ANNOTATIONS, stale_finalizers
from ..core.schedule import Pacing

Key = tuple[str, str, str]  # (Kubernetes kind, namespace, name)

NO_ANNOTATIONS = (None,) * len(WATCHED_ANNOTATIONS)  # shared by every object without any of ours

# "No observation at hand: read the remote" (a list sweep may hand one to the next reconcile instead).
OBSERVE: Any = object()


def key_of(kind: str, body: Mapping[str, Any]) -> Key:
    """Interned: every event brings new copies of these strings, and several maps of the runtime keep
    them (the state, its sweep group, the reference index); with thousands of objects one copy each."""
    meta = body.get("metadata") or {}
    return (kind, sys.intern(str(meta.get("namespace") or "")), sys.intern(str(meta.get("name") or "")))


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


# What compact bodies are made of, as a preset zlib dictionary: a body of a few hundred bytes compresses
# poorly on its own; against these strings, about twice as well. In memory only (never stored), so it may
# change freely between versions.
_ZDICT = json.dumps(
    {
        "metadata": {
            "name": "",
            "namespace": "default",
            "uid": "00000000-0000-0000-0000-000000000000",
            "generation": 1,
            "finalizers": [FINALIZER],
        },
        "spec": {"runtime": {"image": "", "memory": 2048, "envs": []}, "deletionPolicy": "Delete"},
        "status": {
            "conditions": [
                {
                    "type": t,
                    "status": "True",
                    "reason": "ReconcileSuccess",
                    "message": "agent  is DEPLOYED",
                    "lastTransitionTime": "2026-01-01T00:00:00Z",
                    "observedGeneration": 1,
                }
                for t in ("Ready", "Synced")
            ],
            "observedGeneration": 1,
            "appliedHash": "sha256:",
            "atProvider": {
                "name": "",
                "workspace": "",
                "status": "DEPLOYED",
                "url": "https://",
                "events": [{"type": "", "status": "DEPLOYING", "message": "", "time": ""}],
            },
        },
    },
    separators=(",", ":"),
).encode()


def pack(body: Mapping[str, Any]) -> bytes:
    """A body as compressed JSON: ~0.4 KB instead of ~6 KB of dicts and strings. Most objects are settled
    and read only when they are reconciled, which unpacks it (tens of microseconds)."""
    packer = zlib.compressobj(1, zdict=_ZDICT)
    return packer.compress(json.dumps(body, separators=(",", ":")).encode()) + packer.flush()


def unpack(packed: bytes) -> dict[str, Any]:
    if not packed:
        return {}
    unpacker = zlib.decompressobj(zdict=_ZDICT)
    body: dict[str, Any] = json.loads(unpacker.decompress(packed) + unpacker.flush())
    return body


# Triggers without any of our annotations, one tuple each: most objects share a handful of them (the
# generation and three flags), and each would otherwise keep a tuple of its own. Bounded: a generation
# in the thousands is not kept here.
_SHARED_TRIGGERS: dict[tuple[Any, ...], tuple[Any, ...]] = {}
_SHARED_GENERATIONS = 64


def trigger_of(body: Mapping[str, Any], finalizer: str = FINALIZER) -> tuple[Any, ...]:
    """What makes a reconcile due now: the spec (generation), our annotations, the arrival of the
    finalizer (this shard's) and of other layouts' ones; not status changes (our own writes)."""
    meta = body.get("metadata") or {}
    annotations = meta.get("annotations") or {}
    finalizers = meta.get("finalizers") or []
    generation = meta.get("generation")
    ours = tuple(annotations.get(a) for a in WATCHED_ANNOTATIONS) if annotations else NO_ANNOTATIONS
    trigger = (
        generation,
        NO_ANNOTATIONS if ours == NO_ANNOTATIONS else ours,
        finalizer in finalizers,
        bool(meta.get("deletionTimestamp")),
        bool(stale_finalizers(finalizers, finalizer)),
    )
    if trigger[1] is NO_ANNOTATIONS and isinstance(generation, int) and 0 < generation <= _SHARED_GENERATIONS:
        return _SHARED_TRIGGERS.setdefault(trigger, trigger)
    return trigger


@dataclass(slots=True)
class ObjectState:
    packed: bytes = b""  # the compact latest body from the watch, packed (see `body`)
    trigger: tuple[Any, ...] | None = None
    pacing: Pacing = field(default_factory=Pacing)
    status_cache: bytes | None = None  # what we last wrote (packed), until the watch delivers it
    status_written_at: float = 0.0  # when we last wrote it (monotonic), while it shows progress
    delete_requested: bool = False  # DELETE sent; the remote's 404 then means "deleted"
    last_credentials: Credentials | None = None  # to delete even once the credentials Secret is gone
    counted_status: str | None = None  # the remote status this object is counted under (metrics)
    backoff_reason: str | None = None
    sweep_group: tuple[str, str, str] | None = None  # (kind, key digest, workspace) when swept
    digest: int | None = None  # of the remote object as last seen (sweeps skip unchanged ones)
    remote_name: str | None = None
    prefetched: Any = OBSERVE  # (when the page was asked for, what it showed, packed): next reconcile
    looked_at: float = 0.0  # when the last reconcile ended (monotonic): older observations are stale
    fresh: bool = True  # not reconciled yet by this process

    @property
    def body(self) -> dict[str, Any]:
        """The compact latest body (a fresh copy on each read: read it once per reconcile)."""
        return unpack(self.packed)

    @body.setter
    def body(self, body: Mapping[str, Any]) -> None:
        self.packed = pack(body)
