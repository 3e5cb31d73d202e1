"""Kubernetes conditions the way kstatus (Flux), Argo CD and `kubectl wait` read them.

`Ready` and `Synced` are always present; `Reconciling` and `Stalled` only while True (kstatus's
"abnormal-true" convention), so their absence means "not reconciling" / "not stalled".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

READY = "Ready"
SYNCED = "Synced"
RECONCILING = "Reconciling"
STALLED = "Stalled"

ALWAYS_PRESENT = (READY, SYNCED)
ORDER = (READY, SYNCED, RECONCILING, STALLED)


@dataclass(frozen=True)
class Condition:
    type: str
    status: bool
    reason: str
    message: str = ""


def merge_conditions(
    previous: list[dict[str, Any]] | None,
    wanted: list[Condition],
    *,
    generation: int,
    now: str,
) -> list[dict[str, Any]]:
    """The new conditions list: lastTransitionTime kept unless the status flips."""
    old = {c.get("type"): c for c in previous or [] if isinstance(c, dict)}
    by_type = {c.type: c for c in wanted}
    result: list[dict[str, Any]] = []
    for ctype in ORDER:
        cond = by_type.get(ctype)
        if cond is None:
            continue
        if ctype not in ALWAYS_PRESENT and not cond.status:
            continue  # abnormal-true conditions are removed rather than set to False
        status = "True" if cond.status else "False"
        prior = old.get(ctype)
        transition = now
        if prior is not None and prior.get("status") == status and prior.get("lastTransitionTime"):
            transition = prior["lastTransitionTime"]
        result.append(
            {
                "type": ctype,
                "status": status,
                "reason": cond.reason,
                "message": cond.message,
                "lastTransitionTime": transition,
                "observedGeneration": generation,
            }
        )
    return result


def set_condition(
    previous: list[dict[str, Any]] | None, condition: Condition, *, generation: int, now: str
) -> list[dict[str, Any]]:
    """`previous` with one condition set and every other one left as it was (e.g. a deletion held while
    the resource is in use says so in Ready; Synced still tells how the last reconcile went)."""
    merged = merge_conditions(previous, [condition], generation=generation, now=now)
    others = [c for c in previous or [] if isinstance(c, dict) and c.get("type") != condition.type]
    return sorted(
        [*others, *merged], key=lambda c: ORDER.index(c["type"]) if c.get("type") in ORDER else len(ORDER)
    )


def find(conditions: list[dict[str, Any]] | None, ctype: str) -> dict[str, Any] | None:
    for cond in conditions or []:
        if isinstance(cond, dict) and cond.get("type") == ctype:
            return cond
    return None
