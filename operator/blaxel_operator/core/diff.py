"""Comparison of desired and observed remote objects, and stable hashing.

Desired is compared as a *subset* of observed: fields the user did not set are left to the server
(defaults, generated trigger ids, labels added by Blaxel). Removals are detected elsewhere, by the hash of
the last applied payload, because a subset comparison cannot see them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any


def stable_hash(value: Any, key: str | None = None) -> str:
    """A short, stable digest of a JSON-able value (keys sorted); an HMAC when a key is given, so that
    values inside it cannot be guessed offline from the digest."""
    data = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    if key:
        return "hmac-sha256:" + hmac.new(key.encode(), data, hashlib.sha256).hexdigest()[:32]
    return "sha256:" + hashlib.sha256(data).hexdigest()[:32]


def subset_diff(desired: Any, observed: Any, path: str = "") -> list[str]:
    """Paths where `desired` is not contained in `observed` (dicts: subset; lists: same length)."""
    if isinstance(desired, dict):
        if not isinstance(observed, dict):
            return [path or "."]
        paths: list[str] = []
        for key, value in desired.items():
            sub = f"{path}.{key}" if path else key
            if key not in observed or observed[key] is None:
                if value not in (None, {}, []):
                    paths.append(sub)
                continue
            paths.extend(subset_diff(value, observed[key], sub))
        return paths
    if isinstance(desired, list):
        if not isinstance(observed, list) or len(observed) != len(desired):
            return [path or "."]
        paths = []
        for index, (want, have) in enumerate(zip(desired, observed, strict=True)):
            paths.extend(subset_diff(want, have, f"{path}[{index}]"))
        return paths
    if desired != observed:
        return [path or "."]
    return []
