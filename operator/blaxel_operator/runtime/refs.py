"""Who references whom, across kinds, in memory: resolves references to remote names, wakes the
users of a resource when it turns Ready, and holds the deletion of a resource that is still used."""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from typing import Any

from ..core.conditions import READY, find
from ..kinds.base import Kind, Reference
from .state import Key

Target = tuple[str, str, str]  # (Kubernetes kind, namespace, name)

# "The spec did not change since the last observe": what the object references stays as it was.
UNCHANGED: Any = object()


def is_ready(body: Mapping[str, Any]) -> bool:
    status = body.get("status") or {}
    ready = find(status.get("conditions"), READY) or {}
    generation = (body.get("metadata") or {}).get("generation")
    return ready.get("status") == "True" and status.get("observedGeneration") == generation


class ReferenceIndex:
    def __init__(self, wake: Callable[[Key], None]) -> None:
        self.wake = wake
        self.ready: dict[Target, str] = {}  # Ready targets -> their remote name
        self.uses: dict[Key, frozenset[Target]] = {}
        self.users: dict[Target, set[Key]] = {}

    def observe(self, kind: Kind, key: Key, body: Mapping[str, Any], spec: Any | None) -> None:
        """Record what `body` is (Ready or not, under which remote name) and what it references."""
        target: Target = key
        remote = ((body.get("status") or {}).get("atProvider") or {}).get("name")
        now_ready = (
            bool(remote) and is_ready(body) and not (body.get("metadata") or {}).get("deletionTimestamp")
        )
        was = self.ready.get(target)
        if now_ready:
            self.ready[target] = sys.intern(str(remote))
        else:
            self.ready.pop(target, None)
        if (str(remote) if now_ready else None) != was:
            for user in self.users.get(target, ()):
                self.wake(user)
        if spec is UNCHANGED:
            return
        refs = (
            frozenset((r.kind, key[1], r.name) for r in kind.references(spec))
            if spec is not None
            else frozenset()
        )
        self._set_uses(key, refs)

    def forget(self, key: Key) -> None:
        self.ready.pop(key, None)
        self._set_uses(key, frozenset())
        for user in self.users.get(key, ()):
            self.wake(user)

    def _set_uses(self, key: Key, refs: frozenset[Target]) -> None:
        old = self.uses.get(key, frozenset())
        if old == refs:
            return
        for target in old - refs:
            users = self.users.get(target)
            if users is not None:
                users.discard(key)
                if not users:
                    del self.users[target]
        for target in refs - old:
            self.users.setdefault(target, set()).add(key)
        if refs:
            self.uses[key] = refs
        else:
            self.uses.pop(key, None)

    def resolve(self, namespace: str, ref: Reference) -> str | None:
        return self.ready.get((ref.kind, namespace, ref.name))

    def users_of(self, namespace: str, kind: str, name: str) -> list[str]:
        return [f"{k}/{n}" for k, _, n in self.users.get((kind, namespace, name), ())]
