"""The operator's runtime for every registered kind: the objects seen, the work queue that reconciles
them, the list sweeps that observe settled ones, the reference index and the deletion flow."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from ..blaxel.client import BlaxelApi, ExternalClient
from ..config import OperatorConfig
from ..core.conditions import READY, Condition, set_condition
from ..core.decide import FINALIZER
from ..core.events import Event
from ..core.status import iso
from ..kinds.base import Kind
from ..kubeapi import KubeApi
from ..kubelogin import KubeLogin
from .deleter import Deleter, Deletion
from .gauges import forget
from .inputs import InputProblem, InputResolver, parse
from .queue import WorkQueue
from .reconciler import Reconciler, utcnow
from .refs import ReferenceIndex
from .state import OBSERVE, Key, ObjectState, compact, key_of, trigger_of
from .status_writer import StatusWriter, previous_status
from .sweep import GroupKey, Sweeper

log = logging.getLogger(__name__)


class EventPoster(Protocol):
    def __call__(self, body: Mapping[str, Any], *, type: str, reason: str, message: str) -> None: ...


def shard_of(namespace: str, name: str, count: int) -> int:
    """A stable shard for an object: the same on every replica and every restart."""
    digest_ = hashlib.sha256(f"{namespace}/{name}".encode()).digest()
    return int.from_bytes(digest_[:8], "big") % max(1, count)


@dataclass(frozen=True)
class KindParts:
    kind: Kind
    external: ExternalClient
    inputs: InputResolver
    reconciler: Reconciler
    deleter: Deleter
    status: StatusWriter


class Runtime:
    def __init__(
        self, config: OperatorConfig, kinds: tuple[Kind, ...] | list[Kind], post: EventPoster
    ) -> None:
        self.config = config
        self.post = post
        self.api = BlaxelApi(
            config.api_url,
            timeout=config.request_timeout,
            max_inflight=config.max_inflight,
            rate=config.rate_limit,
            burst=config.rate_burst,
            api_version=config.api_version,
        )
        self.kube_login = KubeLogin()  # Kopf's login handler and KubeApi share it
        self.kube = KubeApi(self.kube_login)
        self.states: dict[Key, ObjectState] = {}
        self.index = ReferenceIndex(wake=lambda key: self.queue.add(key, 0))
        self.queue: WorkQueue[Key] = WorkQueue(self.process, workers=max(4, 2 * config.max_inflight))
        self.sweeper = Sweeper(
            config.poll_interval, self.deliver, self.last_seen, first_delay=min(config.poll_interval, 5.0)
        )
        self.parts = {kind.kind: self._parts(kind) for kind in kinds}
        self._tasks: set[asyncio.Task[None]] = set()
        self.started = False

    def start(self) -> None:
        if not self.started:
            self.started = True
            self.spawn(self.queue.run())

    def _parts(self, kind: Kind) -> KindParts:
        external = ExternalClient(self.api, kind.api_collection)
        inputs = InputResolver(kind, self.config, self, self.index, self.api)
        status = StatusWriter(kind, self)
        reconciler = Reconciler(kind, self.config, inputs, external, status, self.post_event)
        deleter = Deleter(kind, self.config, inputs, external, self.post_event, self.index.users_of)
        return KindParts(kind, external, inputs, reconciler, deleter, status)

    # ---- edges the units see (Kubernetes through the current login) ----------------------------------

    async def get_secret(self, namespace: str, name: str) -> Mapping[str, str] | None:
        return await self.kube.get_secret(namespace, name)

    async def patch_status(
        self, group: str, version: str, plural: str, namespace: str, name: str, patch: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        return await self.kube.patch_status(group, version, plural, namespace, name, patch)

    def post_event(self, body: Mapping[str, Any], event: Event) -> None:
        self.post(body, type=event.type, reason=event.reason, message=event.message)

    def spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ---- the watch: every event of every object ------------------------------------------------------

    def observe(self, kind: Kind, body: Mapping[str, Any]) -> None:
        """Record what an object (of any shard) is and what it references, before any handler sees it."""
        try:
            spec = parse(kind, body)
        except InputProblem:
            spec = None  # reported by its reconcile
        self.index.observe(kind, key_of(kind.kind, body), body, spec)

    def forget(self, kind: Kind, body: Mapping[str, Any]) -> None:
        self.index.forget(key_of(kind.kind, body))

    def seen(self, kind: Kind, event_type: str | None, body: Mapping[str, Any]) -> None:
        key = key_of(kind.kind, body)
        if event_type == "DELETED":
            self.drop(key)
            return
        state = self.states.get(key)
        if state is None:
            state = self.states[key] = ObjectState()
        state.body = compact(body)
        trigger = trigger_of(body)
        if trigger != state.trigger:
            state.trigger = trigger
            self.queue.add(key, 0)

    def drop(self, key: Key) -> None:
        state = self.states.pop(key, None)
        self.queue.discard(key)
        self.index.forget(key)
        if state is not None:
            self.sweeper.leave(state.sweep_group, state.remote_name)
            forget(key[0], state)

    # ---- reconciles, scheduled by the queue and the sweeps -------------------------------------------

    async def process(self, key: Key) -> float | None:
        state = self.states.get(key)
        if state is None:
            return None
        parts = self.parts[key[0]]
        observed, state.prefetched = state.prefetched, OBSERVE
        if observed is OBSERVE and state.fresh and restorable(state.body):
            # After a restart, settled objects are observed with their workspace's list pages rather
            # than one GET each; the first sweep comes within seconds.
            state.fresh = False
            if await self.rejoin(parts, state):
                return None
        state.fresh = False
        nxt = await parts.reconciler.reconcile(state.body, state, observed)
        if nxt.settled and state.remote_name and state.last_credentials is not None:
            self.join(parts, state, key)
            return None
        self.sweeper.leave(state.sweep_group, state.remote_name)
        state.sweep_group = None
        return nxt.delay

    async def rejoin(self, parts: KindParts, state: ObjectState) -> bool:
        try:
            resolved, creds = await parts.inputs.resolve(state.body, self.config.cluster_id)
        except Exception:
            return False  # the reconcile reports it
        state.last_credentials, state.remote_name = creds, resolved.desired.name
        self.join(parts, state, key_of(parts.kind.kind, state.body))
        return True

    def join(self, parts: KindParts, state: ObjectState, key: Key) -> None:
        creds = state.last_credentials
        assert creds is not None and state.remote_name is not None
        group: GroupKey = (
            parts.kind.kind,
            hashlib.sha256(creds.api_key.encode()).hexdigest()[:16],
            creds.workspace or "",
        )
        if state.sweep_group != group:
            self.sweeper.leave(state.sweep_group, state.remote_name)
            state.sweep_group = group
        self.sweeper.join(group, creds, parts.external, state.remote_name, key, parts.kind.list_shape)

    def deliver(self, key: Key, remote: Mapping[str, Any] | None) -> None:
        state = self.states.get(key)
        if state is None:
            return
        state.prefetched = dict(remote) if remote is not None else OBSERVE
        self.queue.add(key, 0)

    def last_seen(self, key: Key) -> str | None:
        state = self.states.get(key)
        return state.digest if state is not None else None

    # ---- deletion (Kopf's finalizer handler calls this) ----------------------------------------------

    async def delete(self, kind: Kind, body: Mapping[str, Any]) -> Deletion:
        key = key_of(kind.kind, body)
        state = self.states.get(key) or ObjectState(body=compact(body))
        parts = self.parts[kind.kind]
        result = await parts.deleter.delete(body, state)
        if result.in_use:
            await self.report_in_use(parts, body, state, result.message)
        return result

    async def report_in_use(
        self, parts: KindParts, body: Mapping[str, Any], state: ObjectState, message: str
    ) -> None:
        previous = previous_status(body, state)
        conditions = set_condition(
            previous.get("conditions") or [],
            Condition(READY, False, "InUse", message),
            generation=int((body.get("metadata") or {}).get("generation") or 1),
            now=iso(utcnow()),
        )
        new = {**previous, "conditions": conditions}
        if await parts.status.write(body, state, previous, new):
            self.post_event(body, Event("Warning", "InUse", message))

    async def close(self) -> None:
        # Kopf waits for every task of the loop on shutdown: ours end here, not after its timeout.
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.sweeper.close()
        await self.api.close()
        await self.kube.close()


def restorable(body: Mapping[str, Any]) -> bool:
    """Whether an object's status says it was settled and in sync with its spec when last reconciled."""
    meta = body.get("metadata") or {}
    status = body.get("status") or {}
    if FINALIZER not in (meta.get("finalizers") or []) or meta.get("deletionTimestamp"):
        return False
    if status.get("observedGeneration") != meta.get("generation") or not status.get("appliedHash"):
        return False
    kinds = {c.get("type"): c for c in status.get("conditions") or [] if isinstance(c, dict)}
    synced = (kinds.get("Synced") or {}).get("status") == "True"
    return synced and "Reconciling" not in kinds and "Stalled" not in kinds
