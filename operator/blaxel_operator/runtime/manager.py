"""The operator's runtime for every registered kind: the objects seen, the work queue that reconciles
them, the list sweeps that observe settled ones, the reference index and the deletion flow."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import signal
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from .. import __version__
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
from .handover import LEASE_RECHECK, Handover
from .inputs import InputProblem, InputResolver, parse
from .membership import Membership
from .priming import list_every_object
from .queue import WorkQueue
from .reconciler import Reconciler, utcnow
from .refs import UNCHANGED, ReferenceIndex
from .state import OBSERVE, Key, ObjectState, compact, key_of, pack, trigger_of, unpack
from .status_writer import StatusWriter, Written, previous_status
from .sweep import Sweeper

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
        self.handover = Handover(config, self.kube, self.delete, self.lease_acquired, self.superseded)
        self.exit_code = 0
        self.states: dict[Key, ObjectState] = {}
        self.index = ReferenceIndex(wake=lambda key: self.queue.add(key, 0))
        self.queue: WorkQueue[Key] = WorkQueue(self.process, workers=max(4, 2 * config.max_inflight))
        self.sweeper = Sweeper(
            config.poll_interval,
            self.deliver,
            self.last_seen,
            first_delay=min(config.poll_interval, 5.0),
            fast_interval=config.deploy_poll_interval,
        )
        self.membership = Membership(self.sweeper)
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
        status = StatusWriter(kind, self, self.config.status_progress_interval)
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

    async def prime(self) -> None:
        """Record every object of every kind (of every shard) before the first event is handled:
        references are then never resolved, nor deletions allowed, on a partial view."""
        scopes: list[str | None] = [None] if self.config.all_namespaces else list(self.config.namespaces)
        kinds = [parts.kind for parts in self.parts.values()]
        count = await list_every_object(self.kube, kinds, scopes, self.observe)
        log.info("references recorded from %d objects", count)

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
            self.membership.leave(state)
            forget(key[0], state)
            if state.remote_name is not None:
                self.parts[key[0]].reconciler.converger.release(key[1], key[2], state.remote_name)

    # ---- reconciles, scheduled by the queue and the sweeps -------------------------------------------

    async def process(self, key: Key) -> float | None:
        state = self.states.get(key)
        if state is None:
            return None
        gate = self.handover.gate()
        if not gate.proceed:
            return gate.delay
        parts = self.parts[key[0]]
        observed = self.take_observation(state)
        body = state.body
        gate = await self.handover.settle(parts.kind, key, body)
        if not gate.proceed:
            return gate.delay  # to try again; or nothing to reconcile before (or after) ours
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
                self.membership.join(parts.kind, parts.external, state, key)
                return nxt.status_due
            if nxt.in_progress:
                # swept while enough are in progress; else observed alone, yet counted in its group
                watched = self.membership.watch(parts.kind, parts.external, state, key)
                return nxt.status_due if watched else nxt.delay
        self.membership.leave(state)
        return nxt.delay

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
        self.membership.join(
            parts.kind, parts.external, state, key_of(parts.kind.kind, body), unobserved=True
        )
        return True

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
        if not self.handover.may_act():
            return Deletion(False, 2 * LEASE_RECHECK, "waiting for the shard layout lease", hand_back=True)
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
        if await parts.status.write(body, state, previous, new) is Written.WRITTEN:
            self.post_event(body, Event("Warning", "InUse", message))

    # ---- the shard layout lease ---------------------------------------------------------------------

    def lease_acquired(self) -> None:
        """Held after another layout: what came meanwhile is looked at now, and gets our finalizer."""
        for key, state in self.states.items():
            if self.finalizer not in ((state.body.get("metadata") or {}).get("finalizers") or []):
                self.handover.unfinalized.add(key)
            self.queue.add(key, 0)

    def superseded(self, holder: str) -> None:
        log.error(
            "another shard layout (%s) took the shard layout lease: this process (%s shards) stops",
            holder,
            self.config.shard_count,
        )
        self.exit_code = 1
        # through Kopf's SIGTERM handler: a graceful stop (its stop_flag would leave a waiter task
        # behind that holds the exit for seconds)
        signal.raise_signal(signal.SIGTERM)

    async def close(self) -> None:
        # Kopf waits for every task of the loop on shutdown: ours end here, not after its timeout.
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.sweeper.close()
        if self.handover.lease is not None:
            await self.handover.lease.close()
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
