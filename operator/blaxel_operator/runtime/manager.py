"""The operator's runtime for every registered kind: the objects seen, the work queue that reconciles
them, the list sweeps that observe settled ones, the reference index and the deletion flow."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from .. import __version__
from ..blaxel.client import BlaxelApi, ExternalClient
from ..config import OperatorConfig
from ..core.conditions import READY, Condition, set_condition
from ..core.decide import FINALIZER, stale_finalizers
from ..core.events import Event
from ..core.schedule import TRANSITIONAL_PATIENCE
from ..core.status import iso
from ..kinds.base import Kind
from ..kubeapi import KubeApi
from ..kubelogin import KubeLogin
from .deleter import Deleter, Deletion
from .gauges import forget
from .inputs import InputProblem, InputResolver, parse
from .queue import WorkQueue
from .reconciler import Reconciler, utcnow
from .refs import UNCHANGED, ReferenceIndex
from .state import OBSERVE, Key, ObjectState, compact, key_of, pack, trigger_of, unpack
from .status_writer import StatusWriter, previous_status
from .sweep import GroupKey, Sweeper

log = logging.getLogger(__name__)


class EventPoster(Protocol):
    def __call__(self, body: Mapping[str, Any], *, type: str, reason: str, message: str) -> None: ...


def shard_of(namespace: str, name: str, count: int) -> int:
    """A stable shard for an object: the same on every replica and every restart."""
    digest_ = hashlib.sha256(f"{namespace}/{name}".encode()).digest()
    return int.from_bytes(digest_[:8], "big") % max(1, count)


def user_agent(config: OperatorConfig) -> str:
    """Says which shard made a call (in Blaxel's request logs, and the simulator's call log)."""
    agent = f"blaxel-operator/{__version__}"
    if config.shard_count > 1:
        agent += f" shard/{config.shard_index}-of-{config.shard_count}"
    return agent


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
            user_agent=user_agent(config),
        )
        self.kube_login = KubeLogin()  # Kopf's login handler and KubeApi share it
        self.kube = KubeApi(self.kube_login)
        self.finalizer = config.finalizer
        self.states: dict[Key, ObjectState] = {}
        self.group_keys: dict[tuple[str, str, str], GroupKey] = {}  # (kind, API key, workspace) -> key
        self.index = ReferenceIndex(wake=lambda key: self.queue.add(key, 0))
        self.queue: WorkQueue[Key] = WorkQueue(self.process, workers=max(4, 2 * config.max_inflight))
        self.sweeper = Sweeper(
            config.poll_interval,
            self.deliver,
            self.last_seen,
            first_delay=min(config.poll_interval, 5.0),
            fast_interval=config.deploy_poll_interval,
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
        key = key_of(kind.kind, body)
        state = self.states.get(key)
        generation = (body.get("metadata") or {}).get("generation")
        spec: Any = UNCHANGED
        # what it references changes only with its spec (its generation): parsed again only then
        if state is None or state.trigger is None or state.trigger[0] != generation:
            try:
                spec = parse(kind, body)
            except InputProblem:
                spec = None  # reported by its reconcile
        self.index.observe(kind, key, body, spec)

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
        kept = compact(body)
        state.body = kept
        if state.status_cache is not None and kept["status"] == unpack(state.status_cache):
            state.status_cache = None  # our write is delivered: the body is the truth again
        trigger = trigger_of(body, self.finalizer)
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
        observed = self.take_observation(state)
        body = state.body
        finalizers = (body.get("metadata") or {}).get("finalizers") or []
        stale = stale_finalizers(finalizers, self.finalizer)
        if stale:
            delay = await self.release_stale(parts, body, stale)
            if delay is not None or self.finalizer not in finalizers:
                return delay  # to try again; or nothing to reconcile before (or after) ours
        if observed is OBSERVE and state.fresh and restorable(body, self.finalizer):
            # After a restart, settled objects are observed with their workspace's list pages rather
            # than one GET each; the first sweep comes within seconds.
            state.fresh = False
            if await self.rejoin(parts, state, body):
                return None
        state.fresh = False
        try:
            nxt = await parts.reconciler.reconcile(body, state, observed)
        finally:
            state.looked_at = time.monotonic()
        if state.remote_name and state.last_credentials is not None:
            if nxt.settled:
                self.join(parts, state, key)
                return None
            if nxt.in_progress:
                # swept while enough are in progress; else observed alone, yet counted in its group
                return None if self.watch(parts, state, key) else nxt.delay
        self.sweeper.leave(state.sweep_group, state.remote_name)
        state.sweep_group = None
        return nxt.delay

    async def release_stale(
        self, parts: KindParts, body: Mapping[str, Any], stale: list[str]
    ) -> float | None:
        """The object moved here from another shard layout (the shard count changed) and still carries
        that layout's finalizer: once it has ours, the old one goes. Being deleted without ours (Kopf
        adds no finalizer then), its deletion runs here first. Returns a delay to try again after, or
        None when the reconcile may go on."""
        meta = body.get("metadata") or {}
        finalizers = list(meta.get("finalizers") or [])
        if self.finalizer not in finalizers:
            if not meta.get("deletionTimestamp"):
                return None  # Kopf adds ours first; its arrival brings the object back here
            result = await self.delete(parts.kind, body)
            if not result.done:
                return max(1.0, result.delay)
        kept = [f for f in finalizers if f not in stale]
        kind = parts.kind
        released = await self.kube.replace_finalizers(
            kind.group,
            kind.version,
            kind.plural,
            str(meta.get("namespace") or ""),
            str(meta.get("name") or ""),
            finalizers,
            kept,
        )
        if not released:
            return 1.0  # changed meanwhile: its next event (or this retry) tells
        log.info(
            "%s/%s: released the finalizer(s) of another shard layout: %s",
            meta.get("namespace"),
            meta.get("name"),
            ", ".join(stale),
        )
        return None

    @staticmethod
    def take_observation(state: ObjectState) -> Any:
        """What a list page showed for the next reconcile, unless a reconcile ended after it was asked
        for (it may have written since: the page is stale)."""
        prefetched, state.prefetched = state.prefetched, OBSERVE
        if prefetched is OBSERVE or prefetched[0] < state.looked_at:
            return OBSERVE
        return unpack(prefetched[1])

    async def rejoin(self, parts: KindParts, state: ObjectState, body: Mapping[str, Any]) -> bool:
        try:
            resolved, creds = await parts.inputs.resolve(body, self.config.cluster_id)
        except Exception:
            return False  # the reconcile reports it
        state.last_credentials, state.remote_name = creds, sys.intern(resolved.desired.name)
        self.join(parts, state, key_of(parts.kind.kind, body), unobserved=True)
        return True

    def group_of(self, parts: KindParts, state: ObjectState) -> GroupKey:
        creds = state.last_credentials
        assert creds is not None and state.remote_name is not None
        group = self.group_keys.get((parts.kind.kind, creds.api_key, creds.workspace or ""))
        if group is None:  # one tuple per group, shared by its objects
            group = (
                parts.kind.kind,
                hashlib.sha256(creds.api_key.encode()).hexdigest()[:16],
                creds.workspace or "",
            )
            self.group_keys[(parts.kind.kind, creds.api_key, creds.workspace or "")] = group
        if state.sweep_group != group:
            self.sweeper.leave(state.sweep_group, state.remote_name)
            state.sweep_group = group
        return group

    def join(self, parts: KindParts, state: ObjectState, key: Key, unobserved: bool = False) -> None:
        group = self.group_of(parts, state)
        assert state.last_credentials is not None and state.remote_name is not None
        self.sweeper.join(
            group,
            state.last_credentials,
            parts.external,
            state.remote_name,
            key,
            unobserved=unobserved,
            shape=parts.kind.list_shape,
        )

    def watch(self, parts: KindParts, state: ObjectState, key: Key) -> bool:
        """In progress: observed with the list sweeps while enough are, else alone (False)."""
        group = self.group_of(parts, state)
        assert state.last_credentials is not None and state.remote_name is not None
        pacing = state.pacing
        since = pacing.transitional_since if pacing.transitional is not None else time.monotonic()
        until = since + TRANSITIONAL_PATIENCE
        return self.sweeper.watch(
            group,
            state.last_credentials,
            parts.external,
            state.remote_name,
            key,
            until,
            parts.kind.list_shape,
        )

    def deliver(self, key: Key, remote: Mapping[str, Any] | None, asked: float) -> None:
        state = self.states.get(key)
        if state is None or asked < state.looked_at:
            return  # reconciled since the page was asked for: the next sweep compares again
        # packed while it waits for a worker: thousands may wait during a large apply, and a page's
        # objects would otherwise stay in memory, whole, until the last of them is reconciled
        state.prefetched = (asked, pack(remote)) if remote is not None else OBSERVE
        self.queue.add(key, 0)

    def last_seen(self, key: Key) -> int | None:
        state = self.states.get(key)
        return state.digest if state is not None else None

    # ---- deletion (Kopf's finalizer handler calls this) ----------------------------------------------

    async def delete(self, kind: Kind, body: Mapping[str, Any]) -> Deletion:
        key = key_of(kind.kind, body)
        state = self.states.get(key) or ObjectState(packed=pack(compact(body)))
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


def restorable(body: Mapping[str, Any], finalizer: str = FINALIZER) -> bool:
    """Whether an object's status says it was settled and in sync with its spec when last reconciled."""
    meta = body.get("metadata") or {}
    status = body.get("status") or {}
    if finalizer not in (meta.get("finalizers") or []) or meta.get("deletionTimestamp"):
        return False
    if status.get("observedGeneration") != meta.get("generation") or not status.get("appliedHash"):
        return False
    kinds = {c.get("type"): c for c in status.get("conditions") or [] if isinstance(c, dict)}
    synced = (kinds.get("Synced") or {}).get("status") == "True"
    return synced and "Reconciling" not in kinds and "Stalled" not in kinds
