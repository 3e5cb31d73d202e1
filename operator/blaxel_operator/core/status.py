"""The resource's status from the outcome of one reconcile. Pure: equal inputs, equal status, so an
idle poll produces the previous status and writes nothing."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from .conditions import READY, RECONCILING, STALLED, SYNCED, Condition, find, merge_conditions
from .decide import SecretsCheck
from .readiness import Phase, Readiness

# Right after a write, Blaxel may still show the previous deployment's outcome for a few seconds.
STALE_FAILED_GRACE = timedelta(seconds=20)  # documented: "a stale FAILED ... for a few seconds"
STALE_DEPLOYED_GRACE = timedelta(seconds=10)  # same idea, shorter: a fast deploy must not look slow
EVENTS_KEPT = 5
# What Blaxel says is copied into the status, cut to these lengths: an answer may carry megabytes (a build
# log in an event message), and an object's status must stay far below the apiserver's ~1.5 MB limit.
EVENT_MESSAGE_MAX = 512
AT_PROVIDER_TEXT_MAX = 1024
CONDITION_MESSAGE_MAX = 1024


class Problem(enum.Enum):
    """Why a reconcile did not complete; each value is a condition reason."""

    INVALID_SPEC = "InvalidSpec"
    UNAUTHORIZED = "Unauthorized"
    SECRET_NOT_FOUND = "SecretNotFound"
    ALREADY_EXISTS = "AlreadyExists"
    TRANSIENT = "ReconcileError"
    PAUSED = "Paused"
    WORKSPACE_CHANGED = "WorkspaceChanged"
    REFERENCE_NOT_READY = "ReferenceNotReady"
    MALFORMED_RESPONSE = "MalformedResponse"

    @property
    def retried(self) -> bool:
        """Retried with backoff (as opposed to waiting for a change of the spec or of the world)."""
        return self in RETRIED

    @property
    def stalled(self) -> bool:
        """A human has to act: kstatus's Stalled."""
        return self in STALLED_PROBLEMS


RETRIED = {Problem.TRANSIENT, Problem.UNAUTHORIZED, Problem.SECRET_NOT_FOUND, Problem.MALFORMED_RESPONSE}
STALLED_PROBLEMS = {
    Problem.INVALID_SPEC,
    Problem.ALREADY_EXISTS,
    Problem.UNAUTHORIZED,
    Problem.WORKSPACE_CHANGED,
}
# Problems that keep the Ready condition as Blaxel reports it (only Synced says what went wrong).
KEEPS_READY = {None, Problem.PAUSED, Problem.TRANSIENT, Problem.MALFORMED_RESPONSE}
# Ready reasons that say nothing about the remote (no observation, or a problem before any): replaced by the
# current problem rather than kept.
UNOBSERVED_READY = {"Pending", *(p.value for p in Problem)}


@dataclass(frozen=True)
class Outcome:
    """The result of one reconcile, as plain data."""

    generation: int
    now: datetime
    remote: Mapping[str, Any] | None = None  # last observation (None: unknown or absent)
    remote_known: bool = False  # whether `remote` reflects a fresh observation
    readiness: Readiness | None = None  # the kind's verdict on `remote`
    applied_hash: str | None = None  # hash of what Blaxel has now (after a write, or unchanged)
    applied_now: bool = False  # a write happened in this reconcile
    desired_hash: str | None = None
    problem: Problem | None = None
    message: str = ""
    rejected_hash: str | None = None
    reconcile_requested: str | None = None
    workspace: str | None = None
    noun: str = "object"
    at_provider_extra: Mapping[str, Any] = field(default_factory=dict)
    stale_guard: bool = True  # the kind redeploys on write: a settled status right after one may be stale
    secrets_check: SecretsCheck | None = None  # what reading the remote's secret values found, if done


def iso(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


_EVENT_KEYS = ("type", "status", "message", "revision", "canaryRevision", "time")


def bounded(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, saying so."""
    if len(text) <= limit:
        return text
    note = f"... ({len(text)} characters in all)"
    return text[: max(0, limit - len(note))] + note


def _event(event: Mapping[str, Any]) -> dict[str, str]:
    kept = {k: str(v) for k, v in event.items() if k in _EVENT_KEYS and v is not None}
    return {
        k: bounded(v, EVENT_MESSAGE_MAX if k == "message" else AT_PROVIDER_TEXT_MAX) for k, v in kept.items()
    }


def at_provider(
    remote: Mapping[str, Any], workspace: str | None, extra: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    meta = remote.get("metadata") or {}
    events = [e for e in (remote.get("events") or []) if isinstance(e, dict)][-EVENTS_KEPT:]
    out: dict[str, Any] = {
        "name": meta.get("name"),
        "workspace": meta.get("workspace") or workspace,
        "status": remote.get("status"),
        "createdAt": meta.get("createdAt"),
        "updatedAt": meta.get("updatedAt"),
        "createdBy": meta.get("createdBy"),
        "updatedBy": meta.get("updatedBy"),
        "plan": meta.get("plan"),
        "revision": _revision(remote),
        "events": [_event(e) for e in events],
        **(extra or {}),
    }
    return {
        k: bounded(v, AT_PROVIDER_TEXT_MAX) if isinstance(v, str) else v
        for k, v in out.items()
        if v not in (None, "")
    }


def _revision(remote: Mapping[str, Any]) -> str | None:
    spec_rev = ((remote.get("spec") or {}).get("revision") or {}).get("active")
    if spec_rev:
        return str(spec_rev)
    for event in reversed(remote.get("events") or []):
        if isinstance(event, dict) and event.get("revision"):
            return str(event["revision"])
    return None


def stale_after_write(outcome: Outcome, previous: Mapping[str, Any]) -> bool:
    """Right after a write Blaxel may still report the previous deployment's outcome (ready or failed)
    for a few seconds: until an event newer than our write shows up, it is deploying."""
    readiness = outcome.readiness
    if not outcome.stale_guard or readiness is None:
        return False
    if readiness.phase not in (Phase.READY, Phase.FAILED):
        return False
    applied_at = outcome.now if outcome.applied_now else parse_time(previous.get("appliedTime"))
    grace = STALE_DEPLOYED_GRACE if readiness.phase is Phase.READY else STALE_FAILED_GRACE
    if applied_at is None or outcome.now - applied_at >= grace:
        return False
    events = [e for e in ((outcome.remote or {}).get("events") or []) if isinstance(e, dict)]
    latest = parse_time(events[-1].get("time")) if events else None
    return latest is not None and latest < applied_at


def effective_phase(outcome: Outcome, previous: Mapping[str, Any]) -> Phase | None:
    """The remote's phase as the operator acts on it (a stale verdict right after a write is progress)."""
    if outcome.readiness is None:
        return None
    if stale_after_write(outcome, previous):
        return Phase.PROGRESSING
    return outcome.readiness.phase


def _deploy_state(outcome: Outcome, previous: Mapping[str, Any]) -> tuple[Condition, bool, bool]:
    """Ready condition from the kind's verdict, plus (reconciling, stalled)."""
    name = ((outcome.remote or {}).get("metadata") or {}).get("name", "")
    readiness = outcome.readiness or Readiness(Phase.PROGRESSING, "Deploying", f"{outcome.noun} {name}")
    if stale_after_write(outcome, previous):
        return Condition(READY, False, "Deploying", f"deployment of {name} starting"), True, False
    phase = readiness.phase
    ready = Condition(READY, phase is Phase.READY, readiness.reason, readiness.message)
    return ready, phase in (Phase.PROGRESSING, Phase.DELETING), phase in (Phase.FAILED, Phase.TERMINAL)


def status_for(outcome: Outcome, previous: Mapping[str, Any]) -> dict[str, Any]:
    """The complete new status; equal to `previous` when nothing changed (so no write is needed)."""
    new: dict[str, Any] = {}
    now = iso(outcome.now)
    prev_conditions = previous.get("conditions") or []
    conditions: list[Condition] = []
    observed_generation = previous.get("observedGeneration")
    applied_hash = outcome.applied_hash or previous.get("appliedHash")
    problem = outcome.problem

    if outcome.remote_known and outcome.remote is not None:
        new["atProvider"] = at_provider(outcome.remote, outcome.workspace, outcome.at_provider_extra)
    elif outcome.remote_known:
        new["atProvider"] = {}
    else:
        new["atProvider"] = dict(previous.get("atProvider") or {})

    reconciling = stalled = False
    if problem in KEEPS_READY:
        if outcome.remote_known and outcome.remote is not None:
            ready, reconciling, stalled = _deploy_state(outcome, previous)
            if outcome.desired_hash and applied_hash != outcome.desired_hash and problem is not None:
                ready = Condition(
                    READY, False, ready.reason if not ready.status else "Pending", ready.message
                )
        elif outcome.remote_known:
            ready = Condition(READY, False, "NotFound", f"the remote {outcome.noun} does not exist")
        else:
            old = find(prev_conditions, READY)
            if problem is not None and str((old or {}).get("reason") or "Pending") in UNOBSERVED_READY:
                # Ready told nothing of the remote yet: it says what stands in the way, not "waiting".
                ready = Condition(READY, False, problem.value, outcome.message)
            else:
                ready = Condition(
                    READY,
                    bool(old and old.get("status") == "True"),
                    str((old or {}).get("reason") or "Pending"),
                    str((old or {}).get("message") or "waiting for the first reconcile"),
                )
        conditions.append(ready)
        if problem is None:
            conditions.append(
                Condition(SYNCED, True, "ReconcileSuccess", f"the remote {outcome.noun} matches the spec")
            )
            observed_generation = outcome.generation
        elif problem is Problem.PAUSED:
            conditions.append(Condition(SYNCED, False, "Paused", outcome.message))
        else:
            conditions.append(Condition(SYNCED, False, problem.value, outcome.message))
            reconciling = True
    else:
        assert problem is not None
        stalled = problem.stalled
        conditions.append(Condition(READY, False, problem.value, outcome.message))
        conditions.append(Condition(SYNCED, False, "ReconcileError", outcome.message))
        if stalled:
            observed_generation = outcome.generation
        else:
            reconciling = True
    conditions = [replace(c, message=bounded(c.message, CONDITION_MESSAGE_MAX)) for c in conditions]
    if reconciling:
        conditions.append(Condition(RECONCILING, True, conditions[0].reason, conditions[0].message))
    if stalled:
        conditions.append(Condition(STALLED, True, conditions[0].reason, conditions[0].message))

    new["conditions"] = merge_conditions(prev_conditions, conditions, generation=outcome.generation, now=now)
    if observed_generation is not None:
        new["observedGeneration"] = observed_generation
    if applied_hash:
        new["appliedHash"] = applied_hash
    new["appliedTime"] = now if outcome.applied_now else previous.get("appliedTime")
    rejected = outcome.rejected_hash if problem is Problem.INVALID_SPEC else None
    if rejected:
        new["rejectedHash"] = rejected
    # kept until the next check: it says how the secret values Blaxel holds were established
    check = outcome.secrets_check
    if check is not None:
        new["secretsCheck"] = {"result": check.result, "message": check.message, "time": now}
    elif previous.get("secretsCheck"):
        new["secretsCheck"] = previous["secretsCheck"]
    handled = outcome.reconcile_requested or previous.get("lastHandledReconcileAt")
    if handled:
        new["lastHandledReconcileAt"] = handled
    new = {k: v for k, v in new.items() if v is not None}
    # lastSyncTime moves only when something else changed: an idle poll writes nothing.
    comparable_prev = {k: v for k, v in previous.items() if k != "lastSyncTime"}
    if new != comparable_prev or not previous.get("lastSyncTime"):
        new["lastSyncTime"] = now
    else:
        new["lastSyncTime"] = previous["lastSyncTime"]
    return new


def _without_progress(status: Mapping[str, Any]) -> dict[str, Any]:
    """A status without what a deployment's progress moves: Blaxel's status and events, the conditions'
    messages ("agent a is BUILDING"), the sync time."""
    out = {k: v for k, v in status.items() if k != "lastSyncTime"}
    at = out.get("atProvider")
    if isinstance(at, Mapping):
        out["atProvider"] = {k: v for k, v in at.items() if k not in ("status", "events")}
    out["conditions"] = [
        {k: v for k, v in c.items() if k != "message"} if isinstance(c, Mapping) else c
        for c in out.get("conditions") or []
    ]
    return out


def status_write_due(
    previous: Mapping[str, Any], new: Mapping[str, Any], since_write: float | None, interval: float
) -> bool:
    """Whether a new status is written now. A change that only shows a deployment's progress (every
    condition keeps its status and reason) waits until `interval` seconds have passed since this
    process last wrote the object's status: a fast deployment costs no write between the one after
    Blaxel's write and Ready, rather than one per phase (each is a watch event for every watcher). `since_write` is None when nothing was written lately."""
    if dict(new) == dict(previous):
        return False
    if interval <= 0 or since_write is None or since_write >= interval:
        return True
    return _without_progress(previous) != _without_progress(new)
