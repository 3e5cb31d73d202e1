"""Per-object gauges: each object counted once, under its current remote status and backoff reason."""

from __future__ import annotations

import sys

from ..metrics import BACKOFF, REMOTE_STATUS
from .state import ObjectState


def count_status(kind: str, state: ObjectState, remote_status: str | None) -> None:
    if state.counted_status == remote_status:
        return
    if state.counted_status is not None:
        REMOTE_STATUS.labels(kind, state.counted_status).dec()
    if remote_status is not None:
        REMOTE_STATUS.labels(kind, remote_status).inc()
        remote_status = sys.intern(remote_status)  # a few distinct values, kept by every object
    state.counted_status = remote_status


def count_backoff(state: ObjectState, reason: str | None) -> None:
    if state.backoff_reason == reason:
        return
    if state.backoff_reason is not None:
        BACKOFF.labels(state.backoff_reason).dec()
    if reason is not None:
        BACKOFF.labels(reason).inc()
    state.backoff_reason = reason


def forget(kind: str, state: ObjectState) -> None:
    """The resource is gone: drop it from the gauges."""
    count_status(kind, state, None)
    count_backoff(state, None)
