"""Hostile answers: a served call's answer spoilt the way a broken or changed API might spoil it.

Pure functions on the JSON the simulator was about to send; :mod:`.server` decides when to use them
(:class:`~.config.FaultConfig` with one of :data:`~.config.HOSTILE_KINDS`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .config import UNKNOWN_STATUS, FaultConfig
from .state import merge_patch

#: What a ``non_json`` answer carries: a proxy's error page, served as if it were the answer.
NON_JSON_BODY = (
    "<html><head><title>Blaxel</title></head>"
    "<body><h1>Something went wrong</h1><p>Please try again later.</p></body></html>"
)
#: Kinds that spoil the objects of an answer (the rest, ``non_json`` and ``slow``, act on the call).
OBJECT_KINDS: frozenset[str] = frozenset(
    {"wrong_status_type", "wrong_metadata_type", "missing_metadata", "unknown_status", "huge_body", "patch"}
)

Spoiler = Callable[[dict[str, Any], FaultConfig], dict[str, Any]]


def _set(key: str, value: Any) -> Spoiler:
    def spoil(obj: dict[str, Any], faults: FaultConfig) -> dict[str, Any]:
        return {**obj, key: value}

    return spoil


def _without_metadata(obj: dict[str, Any], faults: FaultConfig) -> dict[str, Any]:
    return {key: value for key, value in obj.items() if key != "metadata"}


def _patched(obj: dict[str, Any], faults: FaultConfig) -> dict[str, Any]:
    result = merge_patch(obj, faults.body_patch or {})
    return result if isinstance(result, dict) else obj


def _padded(obj: dict[str, Any], faults: FaultConfig) -> dict[str, Any]:
    events = obj.get("events")
    padding = {"type": "simulator", "status": "PADDING", "message": "x" * faults.huge_bytes}
    return {**obj, "events": [*(events if isinstance(events, list) else []), padding]}


SPOILERS: dict[str, Spoiler] = {
    "wrong_status_type": _set("status", 3),
    "wrong_metadata_type": _set("metadata", "x"),
    "missing_metadata": _without_metadata,
    "unknown_status": _set("status", UNKNOWN_STATUS),
    "huge_body": _padded,
    "patch": _patched,
}


def spoil(kind: str, body: Any, faults: FaultConfig) -> Any | None:
    """``body`` with its objects spoilt by ``kind``; None when it carries no object to spoil.

    An object is the answer itself when it is a JSON object, else each object of a list answer
    (bare, or ``data`` of a paginated one). ``huge_body`` pads only the first one.
    """
    spoiler = SPOILERS[kind]
    only_first = kind == "huge_body"
    if isinstance(body, dict) and isinstance(body.get("data"), list):
        data = _spoil_items(spoiler, body["data"], faults, only_first)
        return None if data is None else {**body, "data": data}
    if isinstance(body, list):
        return _spoil_items(spoiler, body, faults, only_first)
    if isinstance(body, dict):
        return spoiler(body, faults)
    return None


def _spoil_items(
    spoiler: Spoiler, items: list[Any], faults: FaultConfig, only_first: bool
) -> list[Any] | None:
    result: list[Any] = []
    spoilt = False
    for item in items:
        if isinstance(item, dict) and not (only_first and spoilt):
            result.append(spoiler(item, faults))
            spoilt = True
        else:
            result.append(item)
    return result if spoilt else None
