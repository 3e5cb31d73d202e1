"""Which Kubernetes Events a reconcile posts. Pure: what happened in, Events out."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .conditions import READY, find
from .decide import Action, Decision

WARNING_REASONS = {
    "DeployFailed",
    "InvalidSpec",
    "AlreadyExists",
    "SecretNotFound",
    "Unauthorized",
    "ReferenceNotReady",
    "MalformedResponse",
}


@dataclass(frozen=True)
class Event:
    type: str  # Normal | Warning
    reason: str
    message: str


def events_for_write(decision: Decision, noun: str, name: str, how: str = "") -> list[Event]:
    """After a successful write to Blaxel; `how`: what a check of the secret values found."""
    fields = ", ".join(decision.drift[:10]) or "secret values"
    if decision.action is Action.CREATE:
        return [Event("Normal", "Created", f"created {noun} {name}")]
    if decision.action is Action.RECREATE:
        return [Event("Normal", "Recreated", f"recreated {noun} {name}, deleted outside Kubernetes")]
    if decision.action is Action.ADOPT:
        return [Event("Normal", "Adopted", f"adopted existing {noun} {name}; {how or f'updated {fields}'}")]
    if decision.action is Action.CORRECT_DRIFT:
        return [Event("Normal", "DriftCorrected", f"{noun} {name} changed outside Kubernetes: {fields}")]
    return [Event("Normal", "Updated", f"updated {noun} {name}" + (f"; {how}" if how else ""))]


def events_for_settled(decision: Decision, noun: str, name: str, how: str = "") -> list[Event]:
    """After a decision that wrote nothing; `how`: what a check of the secret values found."""
    if decision.action is Action.ADOPT and decision.first_adoption:
        why = how or "it already matches the spec: not redeployed"
        return [Event("Normal", "Adopted", f"adopted existing {noun} {name} ({why})")]
    if how:  # e.g. found again after a restart between its creation and the status write
        return [Event("Normal", "SecretsCompared", f"{noun} {name}: {how}")]
    return []


def events_for_status(previous: Mapping[str, Any], new: Mapping[str, Any]) -> list[Event]:
    """A Warning when Ready turns to a reason a human should see (once per transition, not per poll)."""
    old_ready = find(previous.get("conditions"), READY) or {}
    new_ready = find(new.get("conditions"), READY) or {}
    reason = new_ready.get("reason")
    if reason != old_ready.get("reason") and reason in WARNING_REASONS:
        return [Event("Warning", str(reason), str(new_ready.get("message", "")))]
    return []
