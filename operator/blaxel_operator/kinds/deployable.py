"""Readiness of deployable kinds (agents, functions, models, jobs): Blaxel's deployment statuses; and the
comparison of their secret env values read with show_secrets.

Blaxel's `status` is an open set of strings: anything not named here counts as in progress.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .base import Phase, Readiness

DEPLOYED = "DEPLOYED"
FAILED = "FAILED"
DEACTIVATED = "DEACTIVATED"
DELETING = "DELETING"
TERMINATED = "TERMINATED"
ARCHIVED = "ARCHIVED"


def failure_message(remote: Mapping[str, Any], noun: str) -> str:
    name = (remote.get("metadata") or {}).get("name", "")
    for event in reversed(remote.get("events") or []):
        if isinstance(event, dict) and event.get("status") == FAILED and event.get("message"):
            return f"deployment of {noun} {name} failed: {event['message']}"
    return f"deployment of {noun} {name} failed"


def deployment_readiness(remote: Mapping[str, Any], desired: Mapping[str, Any], noun: str) -> Readiness:
    status = str(remote.get("status") or "")
    name = (remote.get("metadata") or {}).get("name", "")
    enabled = (desired.get("spec") or {}).get("enabled", True) is not False
    if status == DEPLOYED:
        return Readiness(Phase.READY, "Deployed", f"{noun} {name} is deployed")
    if status == DEACTIVATED and not enabled:
        return Readiness(Phase.READY, "Deactivated", f"{noun} {name} is deactivated as requested")
    if status == FAILED:
        return Readiness(Phase.FAILED, "DeployFailed", failure_message(remote, noun))
    if status == DELETING:
        return Readiness(Phase.DELETING, "Deleting", f"{noun} {name} is {status}")
    if status == TERMINATED:
        return Readiness(Phase.TERMINAL, "Unavailable", f"{noun} {name} is {status}")
    if status in (DEACTIVATED, ARCHIVED):
        return Readiness(Phase.UNAVAILABLE, "Unavailable", f"{noun} {name} is {status}")
    return Readiness(Phase.PROGRESSING, "Deploying", f"{noun} {name} is {status or 'pending'}")


def secret_envs_match(unmasked: Mapping[str, Any], desired: Mapping[str, Any]) -> bool:
    """Every secret env of the desired payload has the same value in the object read with show_secrets
    (compared in memory only, never logged or stored)."""

    def secret_envs(obj: Mapping[str, Any]) -> dict[Any, Any]:
        envs = ((obj.get("spec") or {}).get("runtime") or {}).get("envs") or []
        return {e.get("name"): e.get("value") for e in envs if isinstance(e, dict) and e.get("secret")}

    want = secret_envs(desired)
    return bool(want) and secret_envs(unmasked) == want
