"""Decisions: what to do with a remote object. Pure functions of plain data, one table test each.

Modelled on Crossplane's managed reconciler: an observation says whether the remote exists, who owns it
and whether it is up to date; `decide` turns that into one action. The policies around it (observe
first or POST straight away, pause, a 409 on create, deletion with its policies) are functions here too,
so the table tests run the path production runs.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from .diff import stable_hash, subset_diff

# Label keys on remote objects, in Blaxel's own style (lowercase, hyphens, x-blaxel-*).
LABEL_CLUSTER = "x-blaxel-operator-cluster"
LABEL_NAMESPACE = "x-blaxel-operator-namespace"
LABEL_NAME = "x-blaxel-operator-name"
OWNER_LABELS = (LABEL_CLUSTER, LABEL_NAMESPACE, LABEL_NAME)

ANNOTATION_PREFIX = "blaxel.ai"
PAUSED = f"{ANNOTATION_PREFIX}/paused"
ADOPTION_POLICY = f"{ANNOTATION_PREFIX}/adoption-policy"
DELETION_POLICY = f"{ANNOTATION_PREFIX}/deletion-policy"
RECONCILE_REQUESTED_AT = f"{ANNOTATION_PREFIX}/reconcile-requested-at"
FINALIZER = f"{ANNOTATION_PREFIX}/finalizer"
WATCHED_ANNOTATIONS = (PAUSED, ADOPTION_POLICY, DELETION_POLICY, RECONCILE_REQUESTED_AT)


def shard_finalizer(index: int, count: int) -> str:
    """The finalizer shard `index` of `count` holds. Kopf removes its finalizer from objects none of
    its handlers match (kopf#1055), so processes sharing one would strip each other's objects of it
    (forever, between shards; at a handover, between layouts): each shard of each layout has its own,
    and one replica keeps the plain name."""
    return FINALIZER if count <= 1 else f"{FINALIZER}-{index}-of-{count}"


def stale_finalizers(finalizers: Iterable[str], ours: str) -> list[str]:
    """The operator's finalizers other than `ours`: held for another shard layout (the shard count
    changed, the object moved to this shard)."""
    return [f for f in finalizers if f != ours and (f == FINALIZER or f.startswith(f"{FINALIZER}-"))]


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


# ---- the resource's own policies (annotations and spec) ----------------------------------------------


@dataclass(frozen=True)
class Policies:
    """What the resource's annotations (and deletionPolicy) ask of the operator."""

    paused: bool = False
    adopt: bool = False
    deletion: str = "Delete"  # Delete | Orphan
    reconcile_requested: str | None = None


def policies_of(annotations: Mapping[str, str], spec: Mapping[str, Any]) -> Policies:
    override = str(annotations.get(DELETION_POLICY, "")).strip().capitalize()
    deletion = override if override in ("Delete", "Orphan") else str(spec.get("deletionPolicy") or "Delete")
    return Policies(
        paused=str(annotations.get(PAUSED, "")).lower() == "true",
        adopt=str(annotations.get(ADOPTION_POLICY, "")).lower() == "adopt",
        deletion=deletion,
        reconcile_requested=annotations.get(RECONCILE_REQUESTED_AT) or None,
    )


def never_reconciled(status: Mapping[str, Any]) -> bool:
    return not (status.get("atProvider") or status.get("appliedHash") or status.get("rejectedHash"))


def observe_first(status: Mapping[str, Any], policies: Policies) -> bool:
    """Whether to read the remote before deciding. A never-reconciled resource POSTs straight away
    (like `bl apply`), saving a GET per new object: a 409 leads to the same ownership check as an
    observation. Paused resources and adoptions read first: they must not write / their object exists."""
    return not never_reconciled(status) or policies.paused or policies.adopt


class Action(enum.Enum):
    CREATE = "create"
    RECREATE = "recreate"  # existed before, deleted outside Kubernetes
    UPDATE = "update"  # the spec (or a referenced secret) changed
    CORRECT_DRIFT = "correct-drift"  # changed outside Kubernetes
    ADOPT = "adopt"  # take over an unowned object (write only if it differs)
    NOTHING = "nothing"
    WAIT = "wait"  # the remote is being deleted; recreate once it is gone
    ALREADY_EXISTS = "already-exists"
    REJECTED = "rejected"  # this exact payload was refused as invalid: wait for a change
    WORKSPACE_CHANGED = "workspace-changed"  # the object lives elsewhere: never leak it by recreating
    PAUSED = "paused"  # a write was due but the resource is paused
    CLAIMED = "claimed"  # another resource of this process manages the same remote object


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
    # The write is due only because the remote's secret values are unknown (masked): reading them
    # (show_secrets) may show that nothing needs writing.
    secrets_unknown_only: bool = False

    @property
    def creates(self) -> bool:
        return self.action in (Action.CREATE, Action.RECREATE)


CREATE = Decision(Action.CREATE, write=True)


@dataclass(frozen=True)
class SecretsCheck:
    """What reading the remote's secret values found, before a write due only to them. Said in the status
    (`secretsCheck`) and an Event; never holds a value."""

    result: str  # Match | Differ | Unreadable
    message: str


SECRETS_MATCH = SecretsCheck("Match", "secret values compared: they match, not redeployed")
SECRETS_DIFFER = SecretsCheck("Differ", "secret values compared: they differ from the spec, written")


def secrets_unreadable(why: str) -> SecretsCheck:
    return SecretsCheck(
        "Unreadable", f"secret values could not be read ({why}): written once, as they cannot be compared"
    )


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
    noun: str = "object",
    deleting: bool = False,
    secrets_match: bool = False,
) -> Decision:
    """What to do, given the desired payload, the remote object (None: 404) and our last status.

    `workspace` is where the object is looked for now; `deleting`: the kind says the remote is being
    deleted; `retry_rejected` (a reconcile request) retries a
    payload Blaxel rejected before, since a 400 may depend on things outside the spec; `secrets_match`:
    the remote's real secret values were read (show_secrets) and equal the desired ones.
    """
    at_provider = status.get("atProvider") or {}
    applied = status.get("appliedHash")
    previously = bool(applied) and at_provider.get("name") == desired.name
    was_in = at_provider.get("workspace")
    if previously and workspace and was_in and was_in != workspace:
        return Decision(
            Action.WORKSPACE_CHANGED,
            message=(
                f"{noun} {desired.name!r} lives in workspace {was_in!r} but the resource now points at "
                f"{workspace!r}; moving objects between workspaces is not supported: restore the "
                f"workspace, or delete this resource (the {noun} in the old workspace is deleted) and "
                "create a new one"
            ),
        )
    if status.get("rejectedHash") == desired.hash and not retry_rejected:
        return Decision(Action.REJECTED, message="the same spec was rejected by Blaxel; change it to retry")
    if remote is None:
        return Decision(Action.RECREATE if previously else Action.CREATE, write=True)
    who = ownership(remote, owner)
    # An object we adopted without writing carries no owner labels yet: our status remembers it.
    if who is Ownership.FOREIGN or (who is Ownership.UNOWNED and not adopt and not previously):
        labels = (remote.get("metadata") or {}).get("labels") or {}
        if who is Ownership.FOREIGN:
            holder = "/".join(str(labels.get(k, "?")) for k in OWNER_LABELS)
            msg = f"{noun} {desired.name!r} is managed by another resource ({holder})"
        else:
            msg = (
                f"{noun} {desired.name!r} already exists and was not created by this operator; "
                "annotate the resource with blaxel.ai/adoption-policy=adopt to take it over"
            )
        return Decision(Action.ALREADY_EXISTS, message=msg)
    if deleting:
        return Decision(Action.WAIT, message=f"{noun} {desired.name!r} is DELETING; recreating once gone")
    drift = subset_diff(desired.comparable, comparable_observed or {})
    # Secret values are masked: unknown, unless our status says Blaxel has this very payload (its hash
    # covers them) or they were read and compared.
    unknown_secrets = desired.has_secrets and not secrets_match and not applied
    only_secrets = unknown_secrets and not drift
    if who is Ownership.UNOWNED:
        # Adopting an object that already matches writes nothing: a PUT would redeploy it.
        # It gets the owner labels with its next update.
        write = bool(drift) or unknown_secrets or (bool(applied) and applied != desired.hash)
        return Decision(
            Action.ADOPT,
            drift=drift,
            write=write,
            first_adoption=not previously,
            secrets_unknown_only=only_secrets,
        )
    if applied and applied != desired.hash:
        return Decision(Action.UPDATE, drift=drift, write=True)
    if unknown_secrets:
        # e.g. a crash between POST and the status write: secret values cannot be compared (masked)
        return Decision(Action.UPDATE, drift=drift, write=True, secrets_unknown_only=only_secrets)
    if drift:
        return Decision(Action.CORRECT_DRIFT, drift=drift, write=True)
    return Decision(Action.NOTHING)


def gate(decision: Decision, policies: Policies) -> Decision:
    """Pause: no writes, but a foreign object is still reported and everything else is refreshed."""
    if not policies.paused or decision.action in (Action.ALREADY_EXISTS, Action.WORKSPACE_CHANGED):
        return decision
    return Decision(
        Action.PAUSED,
        message="reconciliation is paused by the blaxel.ai/paused annotation; no writes to Blaxel",
    )


def after_conflict(redecided: Decision) -> Decision | None:
    """A 409 on create, decided again on what is there now. Deterministic names: the 409 (e.g. our own
    POST before a crash) means "check ownership", never "make another". None: it is gone again in
    between, so this reconcile fails and the next one retries."""
    return None if redecided.creates else redecided


def claim_conflict(claimant: str | None, me: str, noun: str, name: str) -> Decision | None:
    """Two resources of this process naming one remote object: the first one keeps it."""
    if claimant is None or claimant == me:
        return None
    return Decision(Action.CLAIMED, message=f"{noun} {name!r} is managed by another resource ({claimant})")


def with_rejection_message(decision: Decision, previous_message: str | None) -> Decision:
    """Keep Blaxel's own words from a rejection rather than a generic message."""
    if decision.action is Action.REJECTED and previous_message:
        return replace(decision, message=previous_message)
    return decision


# ---- deletion -----------------------------------------------------------------------------------------


class DeleteAction(enum.Enum):
    ORPHAN = "orphan"  # deletion policy Orphan: release, leave the remote in place
    HOLD = "hold"  # paused: keep the finalizer, touch nothing
    RELEASE = "release"  # nothing (more) to do remotely: remove the finalizer
    DONE = "done"  # we deleted it and it is gone
    DELETE = "delete"
    WAIT = "wait"  # remote is DELETING


def decide_delete_policy(policies: Policies) -> DeleteAction | None:
    """What the policies alone decide, before anything is read. None: look at the remote."""
    if policies.deletion == "Orphan":
        return DeleteAction.ORPHAN
    if policies.paused:
        return DeleteAction.HOLD
    return None


def decide_delete(
    remote: Mapping[str, Any] | None,
    *,
    owner: Mapping[str, str],
    adopted: bool,
    deleting: bool = False,
    delete_requested: bool = False,
) -> DeleteAction:
    if remote is None:
        return DeleteAction.DONE if delete_requested else DeleteAction.RELEASE
    who = ownership(remote, owner)
    if who is Ownership.FOREIGN or (who is Ownership.UNOWNED and not adopted):
        return DeleteAction.RELEASE  # never delete what is not ours
    if deleting:
        return DeleteAction.WAIT
    return DeleteAction.DELETE
