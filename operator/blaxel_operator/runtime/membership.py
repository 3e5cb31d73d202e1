"""Which list sweep observes an object: its group (kind, API key, workspace), joined when it settles,
watched while it is in progress, left when it is observed alone or goes."""

from __future__ import annotations

import hashlib
import time

from ..blaxel.client import ExternalClient
from ..core.schedule import TRANSITIONAL_PATIENCE
from ..kinds.base import Kind
from .state import Key, ObjectState
from .sweep import GroupKey, Sweeper


class Membership:
    def __init__(self, sweeper: Sweeper) -> None:
        self.sweeper = sweeper
        self.group_keys: dict[tuple[str, str, str], GroupKey] = {}  # (kind, API key, workspace) -> key

    def group_of(self, kind: Kind, state: ObjectState) -> GroupKey:
        creds = state.last_credentials
        assert creds is not None and state.remote_name is not None
        found = (kind.kind, creds.api_key, creds.workspace or "")
        group = self.group_keys.get(found)
        if group is None:  # one tuple per group, shared by its objects
            group = (
                kind.kind,
                hashlib.sha256(creds.api_key.encode()).hexdigest()[:16],
                creds.workspace or "",
            )
            self.group_keys[found] = group
        if state.sweep_group != group:
            self.leave(state)
            state.sweep_group = group
        return group

    def join(
        self, kind: Kind, external: ExternalClient, state: ObjectState, key: Key, unobserved: bool = False
    ) -> None:
        """Settled: swept once per poll interval (`unobserved`: within seconds, e.g. after a restart)."""
        group = self.group_of(kind, state)
        assert state.last_credentials is not None and state.remote_name is not None
        self.sweeper.join(
            group,
            state.last_credentials,
            external,
            state.remote_name,
            key,
            unobserved=unobserved,
            shape=kind.list_shape,
        )

    def watch(self, kind: Kind, external: ExternalClient, state: ObjectState, key: Key) -> bool:
        """In progress: observed with the list sweeps while enough are, else alone (False)."""
        group = self.group_of(kind, state)
        assert state.last_credentials is not None and state.remote_name is not None
        pacing = state.pacing
        since = pacing.transitional_since if pacing.transitional is not None else time.monotonic()
        until = since + TRANSITIONAL_PATIENCE
        return self.sweeper.watch(
            group, state.last_credentials, external, state.remote_name, key, until, kind.list_shape
        )

    def leave(self, state: ObjectState) -> None:
        self.sweeper.leave(state.sweep_group, state.remote_name)
        state.sweep_group = None
