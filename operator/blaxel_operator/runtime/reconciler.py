"""One reconcile of one resource, for any kind: resolve inputs, observe, decide, act, write status.

The decisions are pure functions in `core`; this driver only sequences them around the I/O.
"""

from __future__ import annotations

import asyncio
import logging
import random
import sys
import time
import weakref
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import aiohttp

from ..blaxel.client import ExternalClient
from ..blaxel.errors import (
    BlaxelError,
    Invalid,
    MalformedResponse,
    Unauthorized,
)
from ..config import OperatorConfig
from ..core import decide as dec
from ..core.backoff import BackoffPolicy
from ..core.events import Event, events_for_status
from ..core.schedule import Intervals, Next, next_delay
from ..core.status import Outcome, Problem, effective_phase, status_for
from ..kinds.base import Kind
from ..kubeapi import KubeError
from ..metrics import RECONCILES
from .converge import Converged, Converger
from .gauges import count_backoff, count_status
from .inputs import InputProblem, InputResolver, Resolved
from .state import OBSERVE, ObjectState
from .status_writer import StatusWriter, Written, previous_status
from .sweep import digest

log = logging.getLogger(__name__)

EventSink = Callable[[Mapping[str, Any], Event], None]


def utcnow() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def backoff_for(config: OperatorConfig) -> BackoffPolicy:
    return BackoffPolicy(
        base=max(1.0, config.deploy_poll_interval / 2),
        cap=config.max_backoff,
        unauthorized_cap=config.unauthorized_backoff,
        secret_base=min(5.0, config.deploy_poll_interval),
    )


class Reconciler:
    """Reconciles resources of one kind against Blaxel."""

    def __init__(
        self,
        kind: Kind,
        config: OperatorConfig,
        inputs: InputResolver,
        external: ExternalClient,
        status: StatusWriter,
        post_event: EventSink,
    ) -> None:
        self.kind = kind
        self.config = config
        self.inputs = inputs
        self.external = external
        self.status = status
        self.post_event = post_event
        self.backoff = backoff_for(config)
        self.intervals = Intervals(config.poll_interval, config.deploy_poll_interval)
        self.remote_locks: weakref.WeakValueDictionary[tuple[str, str], asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )
        self.converger = Converger(kind, config, external)

    async def reconcile(self, body: Mapping[str, Any], state: ObjectState, observed: Any = OBSERVE) -> Next:
        """Reconcile once; `observed` is the remote object already read by a list sweep, if any."""
        meta = body.get("metadata") or {}
        if meta.get("deletionTimestamp"):
            return Next(self.intervals.poll, settled=False)  # the deletion handler owns it: never create
        if self.config.finalizer not in (meta.get("finalizers") or []):
            # Never create a remote object that a deletion racing with the finalizer could orphan.
            # The finalizer's arrival is a trigger: it enqueues this object again at once.
            log.debug(
                "%s/%s: no finalizer yet: nothing is created until it is on",
                meta.get("namespace"),
                meta.get("name"),
            )
            return Next(self.intervals.poll, settled=False)
        now = utcnow()
        policies = dec.policies_of(meta.get("annotations") or {}, body.get("spec") or {})
        previous = previous_status(body, state)
        resolved: Resolved | None = None
        try:
            resolved, state.last_credentials = await self.inputs.resolve(body, self.config.cluster_id)
            state.remote_name = sys.intern(resolved.desired.name)  # one copy, kept by several maps
            lock = self.remote_locks.setdefault(
                (resolved.workspace or "", resolved.desired.name), asyncio.Lock()
            )
            async with lock:
                result = await self.converger.converge(body, resolved, previous, policies, observed)
        except InputProblem as exc:
            result = Converged.failed(exc.problem, exc.message)
        except Exception as exc:
            result = self.failure(exc)
        outcome = self.outcome(body, now, resolved, result, policies)
        phase = effective_phase(outcome, previous)
        remote_status = str((result.remote or {}).get("status") or "") if result.remote_known else None
        pacing = next_delay(
            state.pacing,
            intervals=self.intervals,
            backoff=self.backoff,
            problem=result.problem,
            phase=phase if result.remote_known and result.remote is not None else None,
            remote_status=remote_status,
            applied_now=result.applied_now,
            now=time.monotonic(),
            retry_after=result.retry_after,
            jitter=random.uniform(0.8, 1.2),
            spread=random.uniform(0.5, 1.0),
        )
        # A list sweep skips an object whose remote did not change, unless Secrets feed it (they can
        # change without an event of ours: it is then reconciled on every sweep, without a call).
        swept = pacing.settled or pacing.in_progress
        seen = result.remote if result.remote_known and swept else None
        static = resolved is not None and not resolved.reads_secrets
        if seen is not None and self.kind.list_shape is not None:
            seen = self.kind.list_shape(seen)  # what a sweep will compare it with
        count_backoff(state, result.problem.value if result.problem and result.problem.retried else None)
        new_status = status_for(outcome, previous)
        written = await self.status.write(body, state, previous, new_status)
        state.digest = digest(seen) if seen is not None and static else None
        deferred = written is Written.DEFERRED
        if deferred:  # looked at again when it is due, even if the remote stays as it is
            pacing = replace(pacing, status_due=self.status.due_in(state))
        count_status(self.kind.kind, state, str((new_status.get("atProvider") or {}).get("status") or "NONE"))
        shown = previous if deferred else new_status  # Events say what the status shows
        for event in [*result.events, *events_for_status(previous, shown)]:
            self.post_event(body, event)
        RECONCILES.labels(self.kind.kind, (result.problem.value if result.problem else "success")).inc()
        return pacing

    def outcome(
        self,
        body: Mapping[str, Any],
        now: datetime,
        resolved: Resolved | None,
        result: Converged,
        policies: dec.Policies,
    ) -> Outcome:
        meta = body.get("metadata") or {}
        desired = resolved.desired if resolved else None
        remote = result.remote if result.remote_known else None
        readiness = self.kind.readiness(remote, desired.payload if desired else {}) if remote else None
        message = result.message
        if result.problem is not None and result.problem.retried:
            message = f"{message}; retrying with backoff"
        return Outcome(
            generation=int(meta.get("generation") or 1),
            now=now,
            remote=remote,
            remote_known=result.remote_known,
            readiness=readiness,
            applied_hash=desired.hash if desired and result.applied else None,
            applied_now=result.applied_now,
            desired_hash=desired.hash if desired else None,
            problem=result.problem,
            message=message,
            rejected_hash=desired.hash if desired and result.rejected else None,
            reconcile_requested=policies.reconcile_requested,
            workspace=resolved.workspace if resolved else None,
            noun=self.kind.noun,
            at_provider_extra=self.kind.at_provider_extra(remote) if remote else {},
            stale_guard=self.kind.redeploys_on_write,
            secrets_check=result.secrets_check,
        )

    def failure(self, exc: BaseException) -> Converged:
        """Errors that ended a reconcile, as problems for the status."""
        if isinstance(exc, Unauthorized):
            return Converged.failed(Problem.UNAUTHORIZED, f"Blaxel refused the credentials: {exc}")
        if isinstance(exc, Invalid):
            return Converged.failed(Problem.INVALID_SPEC, f"Blaxel rejected the spec: {exc}")
        if isinstance(exc, MalformedResponse):
            return Converged.failed(
                Problem.MALFORMED_RESPONSE, f"Blaxel answered something unexpected: {exc}"
            )
        if isinstance(exc, BlaxelError):
            return Converged.failed(Problem.TRANSIENT, str(exc), exc.retry_after)
        if isinstance(exc, (KubeError, aiohttp.ClientError, TimeoutError)):
            # e.g. RBAC or apiserver trouble while reading a Secret: report it, retry with backoff
            return Converged.failed(Problem.TRANSIENT, f"Kubernetes API: {exc or type(exc).__name__}")
        raise exc
