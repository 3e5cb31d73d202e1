"""Decisions: what to do with a remote object, and the status that results. Pure functions.

Modelled on Crossplane's managed reconciler: an observation says whether the remote exists, who owns it
and whether it is up to date; `decide` turns that into one action; `status_for` turns the outcome into
the resource's status.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from .conditions import READY, RECONCILING, STALLED, SYNCED, Condition, find, merge_conditions
from .diff import stable_hash, subset_diff

# Label keys on remote objects, in Blaxel's own style (lowercase, hyphens, x-blaxel-*).
LABEL_CLUSTER = "x-blaxel-operator-cluster"
LABEL_NAMESPACE = "x-blaxel-operator-namespace"
LABEL_NAME = "x-blaxel-operator-name"
OWNER_LABELS = (LABEL_CLUSTER, LABEL_NAMESPACE, LABEL_NAME)

READY_STATUSES = {"DEPLOYED"}
FAILED_STATUSES = {"FAILED"}
DEACTIVATED_STATUSES = {"DEACTIVATED"}
SETTLED_NOT_READY = {"TERMINATED", "ARCHIVED"}
DELETING_STATUSES = {"DELETING"}
STALLED_STATUSES = {"TERMINATED"}  # settled and unusable: a human has to look
# Anything else (UPLOADING, BUILDING, BUILT, DEPLOYING, DEACTIVATING, ARCHIVING, UNARCHIVING and values
# this version does not know) is treated as in progress: Blaxel's status is an open set.

# Right after a PUT, Blaxel may still show the previous build's FAILED for a few seconds.
STALE_FAILED_GRACE = timedelta(seconds=20)  # documented: "a stale FAILED ... for a few seconds"
STALE_DEPLOYED_GRACE = timedelta(seconds=10)  # same idea, shorter: a fast deploy must not look slow
EVENTS_KEPT = 5


def owner_labels(cluster_id: str, namespace: str, name: str) -> dict[str, str]:
    return {LABEL_CLUSTER: cluster_id, LABEL_NAMESPACE: namespace, LABEL_NAME: name}


class Ownership(enum.Enum):
    OURS = "ours"
    FOREIGN = "foreign"  # labelled by another resource or cluster
    UNOWNED = "unowned"  # no owner labels: made by hand, by `bl`, or imported


def ownership(remote: Mapping[str, Any], owner: Mapping[str, str]) -> Ownership:
    labels = (remote.get("metadata") or {}).get("labels") or {}
    present = {k: labels.get(k) for k in OWNER_LABELS if k in labels}
    if not present:
        return Ownership.UNOWNED
    return Ownership.OURS if all(labels.get(k) == v for k, v in owner.items()) else Ownership.FOREIGN


class Action(enum.Enum):
    CREATE = "create"
    RECREATE = "recreate"  # existed before, deleted outside Kubernetes
    UPDATE = "update"  # the spec (or a referenced secret) changed
    CORRECT_DRIFT = "correct-drift"  # changed outside Kubernetes
    ADOPT = "adopt"  # take over an unowned agent (write only if it differs)
    NOTHING = "nothing"
    WAIT = "wait"  # the remote is being deleted; recreate once it is gone
    ALREADY_EXISTS = "already-exists"
    REJECTED = "rejected"  # this exact payload was refused as invalid: wait for a change
    WORKSPACE_CHANGED = "workspace-changed"  # the agent lives elsewhere: never leak it by recreating


@dataclass(frozen=True)
class Desired:
    name: str
    payload: dict[str, Any]
    comparable: dict[str, Any]  # payload minus secret values and owner labels
    hash: str  # covers secret values (the only place they influence status)
    has_secrets: bool


def make_desired(
    name: str,
    payload: dict[str, Any],
    comparable: dict[str, Any],
    has_secrets: bool,
    hash_key: str | None = None,
) -> Desired:
    labels = (comparable.get("metadata") or {}).get("labels")
    if isinstance(labels, dict):
        for label in OWNER_LABELS:
            labels.pop(label, None)
        if not labels:
            comparable["metadata"].pop("labels")
    # Keyed with the API key: the payload holds secret values, and the rest of it is public (the spec).
    return Desired(name, payload, comparable, stable_hash(payload, hash_key), has_secrets)


@dataclass(frozen=True)
class Decision:
    action: Action
    drift: list[str] = field(default_factory=list)
    write: bool = False  # whether the action writes to Blaxel
    message: str = ""
    first_adoption: bool = False  # ADOPT: the first time (announce it), not a later poll


def decide(
    desired: Desired,
    remote: Mapping[str, Any] | None,
    *,
    owner: Mapping[str, str],
    status: Mapping[str, Any],
    adopt: bool,
    comparable_observed: dict[str, Any] | None,
    workspace: str | None = None,
    retry_rejected: bool = False,
) -> Decision:
    """What to do, given the desired payload, the remote object (None: 404) and our last status.

    `workspace` is where the agent is looked for now; `retry_rejected` (a reconcile request) retries a
    payload Blaxel rejected before, since a 400 may depend on things outside the spec.
    """
    at_provider = status.get("atProvider") or {}
    applied = status.get("appliedHash")
    previously = bool(applied) and at_provider.get("name") == desired.name
    was_in = at_provider.get("workspace")
    if previously and workspace and was_in and was_in != workspace:
        return Decision(
            Action.WORKSPACE_CHANGED,
            message=(
                f"agent {desired.name!r} lives in workspace {was_in!r} but the resource now points at "
                f"{workspace!r}; moving agents between workspaces is not supported: restore the workspace, "
                "or delete this resource (the agent in the old workspace is deleted) and create a new one"
            ),
        )
    if status.get("rejectedHash") == desired.hash and not retry_rejected:
        return Decision(Action.REJECTED, message="the same spec was rejected by Blaxel; change it to retry")
    if remote is None:
        return Decision(Action.RECREATE if previously else Action.CREATE, write=True)
    remote_status = str(remote.get("status") or "")
    who = ownership(remote, owner)
    # An agent we adopted without writing carries no owner labels yet: our status remembers it.
    if who is Ownership.FOREIGN or (who is Ownership.UNOWNED and not adopt and not previously):
        labels = (remote.get("metadata") or {}).get("labels") or {}
        if who is Ownership.FOREIGN:
            holder = "/".join(str(labels.get(k, "?")) for k in OWNER_LABELS)
            msg = f"agent {desired.name!r} is managed by another resource ({holder})"
        else:
            msg = (
                f"agent {desired.name!r} already exists and was not created by this operator; "
                "annotate the resource with blaxel.ai/adoption-policy=adopt to take it over"
            )
        return Decision(Action.ALREADY_EXISTS, message=msg)
    if remote_status in DELETING_STATUSES:
        return Decision(
            Action.WAIT, message=f"agent {desired.name!r} is {remote_status}; recreating once gone"
        )
    drift = subset_diff(desired.comparable, comparable_observed or {})
    if who is Ownership.UNOWNED:
        # Adopting an agent that already matches writes nothing: a PUT would redeploy a running agent.
        # It gets the owner labels with its next update.
        write = bool(drift) or desired.has_secrets or (bool(applied) and applied != desired.hash)
        return Decision(Action.ADOPT, drift=drift, write=write, first_adoption=not previously)
    if applied and applied != desired.hash:
        return Decision(Action.UPDATE, drift=drift, write=True)
    if not applied and desired.has_secrets:
        # e.g. a crash between POST and the status write: secret values cannot be compared (masked)
        return Decision(Action.UPDATE, drift=drift, write=True)
    if drift:
        return Decision(Action.CORRECT_DRIFT, drift=drift, write=True)
    return Decision(Action.NOTHING)


class DeleteAction(enum.Enum):
    RELEASE = "release"  # nothing (more) to do remotely: remove the finalizer
    DELETE = "delete"
    WAIT = "wait"  # remote is DELETING


def decide_delete(
    remote: Mapping[str, Any] | None, *, owner: Mapping[str, str], adopted: bool
) -> DeleteAction:
    if remote is None:
        return DeleteAction.RELEASE
    who = ownership(remote, owner)
    if who is Ownership.FOREIGN or (who is Ownership.UNOWNED and not adopted):
        return DeleteAction.RELEASE  # never delete what is not ours
    if str(remote.get("status") or "") in DELETING_STATUSES:
        return DeleteAction.WAIT
    return DeleteAction.DELETE


# ---- status -------------------------------------------------------------------------------------------


class Problem(enum.Enum):
    """Why a reconcile did not complete; each maps to condition reasons."""

    INVALID_SPEC = "InvalidSpec"
    UNAUTHORIZED = "Unauthorized"
    SECRET_NOT_FOUND = "SecretNotFound"
    ALREADY_EXISTS = "AlreadyExists"
    TRANSIENT = "ReconcileError"
    PAUSED = "Paused"
    WORKSPACE_CHANGED = "WorkspaceChanged"


@dataclass(frozen=True)
class Outcome:
    """The result of one reconcile, as plain data."""

    generation: int
    now: datetime
    remote: Mapping[str, Any] | None = None  # last observation (None: unknown or absent)
    remote_known: bool = False  # whether `remote` reflects a fresh observation
    applied_hash: str | None = None  # hash of what Blaxel has now (after a write, or unchanged)
    applied_now: bool = False  # a write happened in this reconcile
    desired_hash: str | None = None
    desired_enabled: bool = True
    problem: Problem | None = None
    message: str = ""
    rejected_hash: str | None = None
    reconcile_requested: str | None = None
    workspace: str | None = None


def iso(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def at_provider(remote: Mapping[str, Any], workspace: str | None) -> dict[str, Any]:
    meta = remote.get("metadata") or {}
    events = [e for e in (remote.get("events") or []) if isinstance(e, dict)][-EVENTS_KEPT:]
    out: dict[str, Any] = {
        "name": meta.get("name"),
        "workspace": meta.get("workspace") or workspace,
        "status": remote.get("status"),
        "url": meta.get("url"),
        "createdAt": meta.get("createdAt"),
        "updatedAt": meta.get("updatedAt"),
        "createdBy": meta.get("createdBy"),
        "updatedBy": meta.get("updatedBy"),
        "plan": meta.get("plan"),
        "revision": _revision(remote),
        "events": [{k: str(v) for k, v in e.items() if k in _EVENT_KEYS and v is not None} for e in events],
    }
    return {k: v for k, v in out.items() if v not in (None, "")}


_EVENT_KEYS = ("type", "status", "message", "revision", "canaryRevision", "time")


def _revision(remote: Mapping[str, Any]) -> str | None:
    spec_rev = ((remote.get("spec") or {}).get("revision") or {}).get("active")
    if spec_rev:
        return str(spec_rev)
    for event in reversed(remote.get("events") or []):
        if isinstance(event, dict) and event.get("revision"):
            return str(event["revision"])
    return None


def _deploy_state(outcome: Outcome, previous: Mapping[str, Any]) -> tuple[Condition, bool, bool]:
    """Ready condition from the remote status, plus (reconciling, stalled)."""
    remote = outcome.remote or {}
    status = str(remote.get("status") or "")
    name = (remote.get("metadata") or {}).get("name", "")
    if status in READY_STATUSES or status in FAILED_STATUSES:
        # Right after a PUT Blaxel may still report the previous deployment's outcome (DEPLOYED or
        # FAILED) for a few seconds: until an event newer than our write shows up, it is deploying.
        applied_at = outcome.now if outcome.applied_now else parse_time(previous.get("appliedTime"))
        grace = STALE_DEPLOYED_GRACE if status in READY_STATUSES else STALE_FAILED_GRACE
        if applied_at is not None and outcome.now - applied_at < grace:
            events = [e for e in (remote.get("events") or []) if isinstance(e, dict)]
            latest = parse_time(events[-1].get("time")) if events else None
            if latest is not None and latest < applied_at:
                return Condition(READY, False, "Deploying", f"deployment of {name} starting"), True, False
    if status in READY_STATUSES:
        return Condition(READY, True, "Deployed", f"agent {name} is deployed"), False, False
    if status in DEACTIVATED_STATUSES and not outcome.desired_enabled:
        return (
            Condition(READY, True, "Deactivated", f"agent {name} is deactivated as requested"),
            False,
            False,
        )
    if status in FAILED_STATUSES:
        return Condition(READY, False, "DeployFailed", _failure_message(remote)), False, True
    if status in SETTLED_NOT_READY or status in DEACTIVATED_STATUSES:
        stalled = status in STALLED_STATUSES
        return Condition(READY, False, "Unavailable", f"agent {name} is {status}"), False, stalled
    return Condition(READY, False, "Deploying", f"agent {name} is {status or 'pending'}"), True, False


def _failure_message(remote: Mapping[str, Any]) -> str:
    name = (remote.get("metadata") or {}).get("name", "")
    for event in reversed(remote.get("events") or []):
        if isinstance(event, dict) and event.get("status") == "FAILED" and event.get("message"):
            return f"deployment of {name} failed: {event['message']}"
    return f"deployment of {name} failed"


def is_transitional(remote_status: str | None) -> bool:
    status = remote_status or ""
    return not (
        status in READY_STATUSES
        or status in FAILED_STATUSES
        or status in DEACTIVATED_STATUSES
        or status in SETTLED_NOT_READY
    )


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
        new["atProvider"] = at_provider(outcome.remote, outcome.workspace)
    elif outcome.remote_known:
        new["atProvider"] = {}
    else:
        new["atProvider"] = dict(previous.get("atProvider") or {})

    reconciling = stalled = False
    if problem in (None, Problem.PAUSED, Problem.TRANSIENT):
        if outcome.remote_known and outcome.remote is not None:
            ready, reconciling, stalled = _deploy_state(outcome, previous)
            if outcome.desired_hash and applied_hash != outcome.desired_hash and problem is not None:
                ready = Condition(
                    READY, False, ready.reason if not ready.status else "Pending", ready.message
                )
        elif outcome.remote_known:
            ready = Condition(READY, False, "NotFound", "the remote agent does not exist")
        else:
            old = find(prev_conditions, READY)
            ready = Condition(
                READY,
                bool(old and old.get("status") == "True"),
                str((old or {}).get("reason") or "Pending"),
                str((old or {}).get("message") or "waiting for the first reconcile"),
            )
        conditions.append(ready)
        if problem is None:
            conditions.append(
                Condition(SYNCED, True, "ReconcileSuccess", "the remote agent matches the spec")
            )
            observed_generation = outcome.generation
        elif problem is Problem.PAUSED:
            conditions.append(Condition(SYNCED, False, "Paused", outcome.message))
        else:
            conditions.append(Condition(SYNCED, False, "ReconcileError", outcome.message))
            reconciling = True
    else:
        stalled = problem in (
            Problem.INVALID_SPEC,
            Problem.ALREADY_EXISTS,
            Problem.UNAUTHORIZED,
            Problem.WORKSPACE_CHANGED,
        )
        conditions.append(Condition(READY, False, problem.value, outcome.message))
        conditions.append(Condition(SYNCED, False, "ReconcileError", outcome.message))
        if stalled:
            observed_generation = outcome.generation
        else:
            reconciling = True
    if reconciling:
        ready_reason = conditions[0].reason
        conditions.append(Condition(RECONCILING, True, ready_reason, conditions[0].message))
    if stalled:
        conditions.append(Condition(STALLED, True, conditions[0].reason, conditions[0].message))

    generation_for_conditions = outcome.generation
    new["conditions"] = merge_conditions(
        prev_conditions, conditions, generation=generation_for_conditions, now=now
    )
    if observed_generation is not None:
        new["observedGeneration"] = observed_generation
    if applied_hash:
        new["appliedHash"] = applied_hash
    new["appliedTime"] = now if outcome.applied_now else previous.get("appliedTime")
    rejected = outcome.rejected_hash if problem is Problem.INVALID_SPEC else None
    if rejected:
        new["rejectedHash"] = rejected
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
