"""One reconcile of one resource: resolve inputs, observe, decide, act, write status (only on change).

The decisions live in `core.reconcile` (pure); this module does the I/O around them, for any kind.
"""

from __future__ import annotations

import asyncio
import logging
import random
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import pydantic

from .blaxel.client import Credentials, ExternalClient
from .blaxel.errors import BlaxelError, Conflict, Invalid, NotFound, RateLimited, Unauthorized
from .config import (
    ADOPTION_POLICY,
    DELETION_POLICY,
    FINALIZER,
    PAUSED,
    RECONCILE_REQUESTED_AT,
    OperatorConfig,
)
from .core import reconcile as core
from .core.backoff import BackoffPolicy
from .core.conditions import READY, find
from .kinds.base import Kind, SecretRef
from .kubeapi import KubeApi, merge_patch
from .logs import REDACTOR
from .metrics import BACKOFF, KUBE_WRITES, RECONCILES, REMOTE_STATUS

log = logging.getLogger(__name__)


class EventSink(Protocol):
    def __call__(self, body: Mapping[str, Any], *, type: str, reason: str, message: str) -> None: ...


class InputProblem(Exception):
    """A problem with the inputs (credentials, secrets, spec) found before calling Blaxel."""

    def __init__(self, problem: core.Problem, message: str) -> None:
        super().__init__(message)
        self.problem = problem
        self.message = message


@dataclass
class ObjectState:
    """In-memory state of one resource (Kopf's per-object memo); lost on restart, by design."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    failures: int = 0
    backoff_reason: str | None = None
    seen: tuple[Any, ...] | None = None  # generation + watched annotations last seen
    status_cache: dict[str, Any] | None = None  # what we last wrote...
    status_cache_base: str | None = None  # ...and the resourceVersion it was written over
    delete_requested: bool = False  # DELETE sent; the remote's 404 then means "deleted"
    counted_status: str | None = None  # the remote status this object is counted under (metrics)


def annotations_of(body: Mapping[str, Any]) -> Mapping[str, str]:
    return (body.get("metadata") or {}).get("annotations") or {}


def is_paused(body: Mapping[str, Any]) -> bool:
    return str(annotations_of(body).get(PAUSED, "")).lower() == "true"


def deletion_policy(body: Mapping[str, Any]) -> str:
    override = str(annotations_of(body).get(DELETION_POLICY, "")).strip().capitalize()
    if override in ("Delete", "Orphan"):
        return override
    return str((body.get("spec") or {}).get("deletionPolicy") or "Delete")


def utcnow() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def describe(exc: BlaxelError) -> str:
    return str(exc)


@dataclass
class Resolved:
    creds: Credentials
    workspace: str | None
    desired: core.Desired
    spec: Any


class Controller:
    """Reconciles resources of one kind against Blaxel."""

    def __init__(
        self,
        kind: Kind,
        external: ExternalClient,
        kube: KubeApi,
        config: OperatorConfig,
        post_event: EventSink,
    ) -> None:
        self.kind = kind
        self.external = external
        self.kube = kube
        self.config = config
        self.post_event = post_event
        self.backoff = BackoffPolicy(
            base=max(1.0, config.deploy_poll_interval / 2),
            cap=config.max_backoff,
            unauthorized_cap=config.unauthorized_backoff,
            secret_base=min(5.0, config.deploy_poll_interval),
        )
        self.remote_locks: weakref.WeakValueDictionary[tuple[str, str], asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )

    # ---- inputs -------------------------------------------------------------------------------------

    async def credentials(self, namespace: str, spec: Any) -> Credentials:
        ref = getattr(spec, "credentials_ref", None)
        workspace = getattr(spec, "workspace", None)
        if ref is not None:
            data = await self.kube.get_secret(namespace, ref.name)
            if data is None:
                raise InputProblem(
                    core.Problem.SECRET_NOT_FOUND, f"credentials Secret {namespace}/{ref.name} not found"
                )
            if not data.get("apiKey"):
                raise InputProblem(
                    core.Problem.SECRET_NOT_FOUND,
                    f"credentials Secret {namespace}/{ref.name} has no key apiKey",
                )
            REDACTOR.add(data["apiKey"])
            return Credentials(data["apiKey"], workspace or data.get("workspace") or None)
        if self.config.credentials_secret is not None:
            sns, sname = self.config.credentials_secret
            data = await self.kube.get_secret(sns, sname)
            if data is None or not data.get("apiKey"):
                raise InputProblem(
                    core.Problem.SECRET_NOT_FOUND,
                    f"operator credentials Secret {sns}/{sname} not found or without key apiKey",
                )
            REDACTOR.add(data["apiKey"])
            return Credentials(data["apiKey"], workspace or data.get("workspace") or None)
        default = self.config.default_credentials
        if default is None:
            raise InputProblem(
                core.Problem.UNAUTHORIZED,
                "no Blaxel credentials: set spec.credentialsRef, or BL_API_KEY / --credentials-secret",
            )
        return Credentials(default.api_key, workspace or default.workspace)

    async def secret_values(self, namespace: str, refs: list[SecretRef]) -> dict[SecretRef, str]:
        values: dict[SecretRef, str] = {}
        cache: dict[str, dict[str, str] | None] = {}
        for ref in refs:
            if ref.name not in cache:
                cache[ref.name] = await self.kube.get_secret(namespace, ref.name)
            data = cache[ref.name]
            if data is None:
                raise InputProblem(core.Problem.SECRET_NOT_FOUND, f"Secret {namespace}/{ref.name} not found")
            if ref.key not in data:
                raise InputProblem(
                    core.Problem.SECRET_NOT_FOUND, f"Secret {namespace}/{ref.name} has no key {ref.key!r}"
                )
            values[ref] = data[ref.key]
            REDACTOR.add(values[ref])
        return values

    def parse(self, body: Mapping[str, Any]) -> Any:
        try:
            return self.kind.parse_spec(body.get("spec") or {})
        except pydantic.ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ()))
            raise InputProblem(core.Problem.INVALID_SPEC, f"spec.{where}: {first.get('msg')}") from None

    def owner(self, body: Mapping[str, Any]) -> dict[str, str]:
        meta = body.get("metadata") or {}
        return core.owner_labels(self.config.cluster_id, meta.get("namespace", ""), meta.get("name", ""))

    async def resolve(self, body: Mapping[str, Any]) -> Resolved:
        meta = body.get("metadata") or {}
        namespace = meta.get("namespace", "")
        spec = self.parse(body)
        creds = await self.credentials(namespace, spec)
        refs = self.kind.secret_refs(spec)
        secrets = await self.secret_values(namespace, refs)
        name = self.kind.remote_name(spec, meta.get("name", ""))
        payload = self.kind.build_payload(spec, name, secrets, self.owner(body))
        comparable = self.kind.comparable_desired(payload)
        desired = core.make_desired(
            name, payload, comparable, has_secrets=bool(refs) or _has_inline_secret(payload)
        )
        return Resolved(creds, creds.workspace, desired, spec)

    # ---- reconcile ----------------------------------------------------------------------------------

    def previous_status(self, body: Mapping[str, Any], state: ObjectState) -> dict[str, Any]:
        rv = (body.get("metadata") or {}).get("resourceVersion")
        if state.status_cache is not None and rv == state.status_cache_base:
            return state.status_cache  # the watch has not yet delivered our own last write
        return dict(body.get("status") or {})

    async def reconcile(self, body: Mapping[str, Any], state: ObjectState) -> float:
        """Reconcile once; returns the delay until the next reconcile is due."""
        now = utcnow()
        meta = body.get("metadata") or {}
        if FINALIZER not in (meta.get("finalizers") or []):
            # Kopf spawns the daemon and adds the finalizer in the same cycle: never create a remote
            # agent that a deletion racing with the finalizer could orphan. Its arrival wakes us.
            return 1.0
        generation = int(meta.get("generation") or 1)
        previous = self.previous_status(body, state)
        requested = annotations_of(body).get(RECONCILE_REQUESTED_AT)
        outcome_kw: dict[str, Any] = {"generation": generation, "now": now, "reconcile_requested": requested}
        events: list[tuple[str, str, str]] = []
        delay = self.config.poll_interval
        result = "success"
        try:
            resolved = await self.resolve(body)
            outcome_kw["desired_hash"] = resolved.desired.hash
            outcome_kw["workspace"] = resolved.workspace
            outcome_kw["desired_enabled"] = resolved.desired.payload.get("spec", {}).get("enabled", True)
            lock = self.remote_locks.setdefault(
                (resolved.workspace or "", resolved.desired.name), asyncio.Lock()
            )
            async with lock:
                if is_paused(body):
                    remote = await self.external.observe(resolved.creds, resolved.desired.name)
                    outcome_kw.update(
                        remote=remote,
                        remote_known=True,
                        problem=core.Problem.PAUSED,
                        message="reconciliation is paused by the blaxel.ai/paused annotation; no writes to Blaxel",
                    )
                    result = "paused"
                else:
                    result = await self._converge(body, resolved, previous, outcome_kw, events)
            state.failures = 0
        except InputProblem as exc:
            result = exc.problem.value
            outcome_kw.update(problem=exc.problem, message=exc.message)
            if exc.problem is core.Problem.INVALID_SPEC:
                outcome_kw["rejected_hash"] = None
        except Unauthorized as exc:
            result = "unauthorized"
            outcome_kw.update(
                problem=core.Problem.UNAUTHORIZED, message=f"Blaxel refused the credentials: {exc}"
            )
        except Invalid as exc:
            result = "invalid"
            outcome_kw.update(problem=core.Problem.INVALID_SPEC, message=f"Blaxel rejected the spec: {exc}")
        except BlaxelError as exc:
            result = "error"
            outcome_kw.update(problem=core.Problem.TRANSIENT, message=f"{describe(exc)}")
            outcome_kw["_error"] = exc

        problem: core.Problem | None = outcome_kw.get("problem")
        error = outcome_kw.pop("_error", None)
        delay = self.next_delay(problem, outcome_kw, state, error)
        if problem in (core.Problem.TRANSIENT, core.Problem.UNAUTHORIZED, core.Problem.SECRET_NOT_FOUND):
            due = datetime.fromtimestamp(now.timestamp() + delay, UTC).strftime("%H:%M:%SZ")
            outcome_kw["message"] = f"{outcome_kw.get('message', '')}; next try at {due}"
        outcome = core.Outcome(**outcome_kw)
        new_status = core.status_for(outcome, previous)
        await self.write_status(body, state, previous, new_status)
        self.count_status(state, str((new_status.get("atProvider") or {}).get("status") or "NONE"))
        self.emit(body, previous, new_status, events)
        RECONCILES.labels(self.kind.kind, result).inc()
        return delay

    async def _converge(
        self,
        body: Mapping[str, Any],
        resolved: Resolved,
        previous: Mapping[str, Any],
        outcome_kw: dict[str, Any],
        events: list[tuple[str, str, str]],
    ) -> str:
        creds, desired = resolved.creds, resolved.desired
        owner = self.owner(body)
        adopt = str(annotations_of(body).get(ADOPTION_POLICY, "")).lower() == "adopt"
        remote = await self.external.observe(creds, desired.name)
        decision = self._decide(desired, remote, owner, previous, adopt)
        action = decision.action
        outcome_kw.update(remote=remote, remote_known=True)
        try:
            if action in (core.Action.CREATE, core.Action.RECREATE):
                try:
                    remote = await self.external.create(creds, desired.payload)
                except Conflict:
                    # Deterministic names: a 409 (e.g. our own POST before a crash) means "check ownership".
                    remote = await self.external.observe(creds, desired.name)
                    decision = self._decide(desired, remote, owner, previous, adopt)
                    action = decision.action
                    if action in (core.Action.CREATE, core.Action.RECREATE):
                        raise
                    if action is core.Action.NOTHING or (action is core.Action.ADOPT and not decision.write):
                        outcome_kw.update(remote=remote, applied_hash=desired.hash)
                        return "success"
                    if not decision.write:
                        return self._settle(decision, desired, remote, outcome_kw, events)
                    remote = await self._put(creds, desired, decision, outcome_kw, events)
                    return "success"
                outcome_kw.update(remote=remote, applied_hash=desired.hash, applied_now=True)
                if action is core.Action.RECREATE:
                    events.append(
                        ("Normal", "Recreated", f"recreated agent {desired.name} deleted outside Kubernetes")
                    )
                else:
                    events.append(("Normal", "Created", f"created agent {desired.name}"))
                return "success"
            if decision.write:
                await self._put(creds, desired, decision, outcome_kw, events)
                return "success"
            return self._settle(decision, desired, remote, outcome_kw, events)
        except Invalid as exc:
            outcome_kw.update(
                problem=core.Problem.INVALID_SPEC,
                message=f"Blaxel rejected the spec: {exc}",
                rejected_hash=desired.hash,
            )
            return "invalid"

    def _decide(
        self,
        desired: core.Desired,
        remote: Mapping[str, Any] | None,
        owner: Mapping[str, str],
        previous: Mapping[str, Any],
        adopt: bool,
    ) -> core.Decision:
        observed = self.kind.comparable_observed(remote, desired.payload) if remote is not None else None
        decision = core.decide(
            desired, remote, owner=owner, status=previous, adopt=adopt, comparable_observed=observed
        )
        if decision.action is core.Action.REJECTED:
            # keep Blaxel's own words from the rejection rather than a generic message
            ready = find(previous.get("conditions"), READY) or {}
            if ready.get("reason") == core.Problem.INVALID_SPEC.value and ready.get("message"):
                return core.Decision(core.Action.REJECTED, message=str(ready["message"]))
        return decision

    def _settle(
        self,
        decision: core.Decision,
        desired: core.Desired,
        remote: Mapping[str, Any] | None,
        outcome_kw: dict[str, Any],
        events: list[tuple[str, str, str]],
    ) -> str:
        action = decision.action
        if action is core.Action.NOTHING:
            outcome_kw["applied_hash"] = desired.hash
        elif action is core.Action.ADOPT:
            outcome_kw["applied_hash"] = desired.hash
            events.append(("Normal", "Adopted", f"adopted existing agent {desired.name} (no changes needed)"))
        elif action is core.Action.ALREADY_EXISTS:
            outcome_kw.update(problem=core.Problem.ALREADY_EXISTS, message=decision.message)
            return "already-exists"
        elif action is core.Action.REJECTED:
            outcome_kw.update(
                problem=core.Problem.INVALID_SPEC, message=decision.message, rejected_hash=desired.hash
            )
            return "invalid"
        elif action is core.Action.WAIT:
            outcome_kw["message"] = decision.message
        return "success"

    async def _put(
        self,
        creds: Credentials,
        desired: core.Desired,
        decision: core.Decision,
        outcome_kw: dict[str, Any],
        events: list[tuple[str, str, str]],
    ) -> dict[str, Any]:
        try:
            remote = await self.external.update(creds, desired.name, desired.payload)
        except NotFound:
            remote = await self.external.create(creds, desired.payload)
        outcome_kw.update(remote=remote, applied_hash=desired.hash, applied_now=True)
        fields = ", ".join(decision.drift[:10]) or "secret values"
        if decision.action is core.Action.ADOPT:
            events.append(("Normal", "Adopted", f"adopted existing agent {desired.name}; updated {fields}"))
        elif decision.action is core.Action.CORRECT_DRIFT:
            events.append(
                ("Normal", "DriftCorrected", f"agent {desired.name} changed outside Kubernetes: {fields}")
            )
        else:
            events.append(("Normal", "Updated", f"updated agent {desired.name}"))
        return remote

    # ---- scheduling, status, events -----------------------------------------------------------------

    def next_delay(
        self,
        problem: core.Problem | None,
        outcome_kw: Mapping[str, Any],
        state: ObjectState,
        error: BaseException | None,
    ) -> float:
        cfg = self.config
        if problem in (core.Problem.TRANSIENT, core.Problem.UNAUTHORIZED, core.Problem.SECRET_NOT_FOUND):
            state.failures += 1
            delay = self.backoff.delay(problem, state.failures, _retry_after(error))
            self._set_backoff(state, problem.value)
            return delay * random.uniform(0.8, 1.2)
        self._set_backoff(state, None)
        state.failures = 0
        remote = outcome_kw.get("remote")
        status = remote.get("status") if isinstance(remote, Mapping) else None
        if outcome_kw.get("remote_known") and remote is not None and core.is_transitional(status):
            return cfg.deploy_poll_interval
        if outcome_kw.get("applied_now"):
            return cfg.deploy_poll_interval
        if outcome_kw.get("remote_known") and remote is None and problem is core.Problem.PAUSED:
            return cfg.poll_interval
        # Jitter spreads thousands of settled agents' polls instead of polling them in step.
        return cfg.poll_interval * random.uniform(0.9, 1.1)

    def count_status(self, state: ObjectState, remote_status: str | None) -> None:
        """Keep the blaxel_operator_resources{status} gauge: each object counted once, under its status."""
        if state.counted_status == remote_status:
            return
        if state.counted_status is not None:
            REMOTE_STATUS.labels(self.kind.kind, state.counted_status).dec()
        if remote_status is not None:
            REMOTE_STATUS.labels(self.kind.kind, remote_status).inc()
        state.counted_status = remote_status

    def forget(self, state: ObjectState) -> None:
        """The resource is gone: drop it from the gauges."""
        self.count_status(state, None)
        self._set_backoff(state, None)

    def _set_backoff(self, state: ObjectState, reason: str | None) -> None:
        if state.backoff_reason == reason:
            return
        if state.backoff_reason is not None:
            BACKOFF.labels(state.backoff_reason).dec()
        if reason is not None:
            BACKOFF.labels(reason).inc()
        state.backoff_reason = reason

    async def write_status(
        self,
        body: Mapping[str, Any],
        state: ObjectState,
        previous: Mapping[str, Any],
        new: Mapping[str, Any],
    ) -> None:
        if dict(new) == dict(previous):
            return  # patch only on change: an idle poll costs no Kubernetes write
        meta = body.get("metadata") or {}
        patch = merge_patch(previous, new)
        result = await self.kube.patch_status(
            self.kind.group,
            self.kind.version,
            self.kind.plural,
            meta.get("namespace", ""),
            meta.get("name", ""),
            patch,
        )
        KUBE_WRITES.labels(self.kind.kind).inc()
        if result is not None:
            state.status_cache = dict(result.get("status") or {})
            state.status_cache_base = meta.get("resourceVersion")

    def emit(
        self,
        body: Mapping[str, Any],
        previous: Mapping[str, Any],
        new: Mapping[str, Any],
        events: list[tuple[str, str, str]],
    ) -> None:
        for etype, reason, message in events:
            self.post_event(body, type=etype, reason=reason, message=message)
        old_ready = find(previous.get("conditions"), READY) or {}
        new_ready = find(new.get("conditions"), READY) or {}
        ready_reason = new_ready.get("reason")
        if ready_reason != old_ready.get("reason") and ready_reason in WARNING_REASONS:
            self.post_event(
                body, type="Warning", reason=str(ready_reason), message=str(new_ready.get("message", ""))
            )

    # ---- deletion -----------------------------------------------------------------------------------

    async def delete(self, body: Mapping[str, Any], state: ObjectState) -> tuple[bool, float, str]:
        """Returns (done, retry delay, message)."""
        policy = deletion_policy(body)
        if policy == "Orphan":
            self.post_event(
                body,
                type="Normal",
                reason="Orphaned",
                message="remote agent left in place (deletionPolicy Orphan)",
            )
            return True, 0, "orphaned"
        previous = dict(body.get("status") or {})
        if is_paused(body):
            return (
                False,
                self.config.poll_interval / 10,
                "deletion waits: the resource is paused (blaxel.ai/paused); unpause it, or set the annotation "
                "blaxel.ai/deletion-policy=Orphan to release it without deleting the agent",
            )
        try:
            resolved = await self.resolve(body)
        except InputProblem as exc:
            at_provider = previous.get("atProvider") or {}
            if not at_provider.get("name") and not previous.get("appliedHash"):
                return True, 0, "nothing was created remotely"
            state.failures += 1
            return (
                False,
                self.backoff.delay(core.Problem.TRANSIENT, state.failures) * random.uniform(0.8, 1.2),
                f"cannot delete the remote agent: {exc.message}; fix it, or set the annotation "
                "blaxel.ai/deletion-policy=Orphan to release the resource without deleting the agent",
            )
        creds, name = resolved.creds, resolved.desired.name
        adopted = str(annotations_of(body).get(ADOPTION_POLICY, "")).lower() == "adopt"
        try:
            remote = await self.external.observe(creds, name)
            action = core.decide_delete(remote, owner=self.owner(body), adopted=adopted)
            if action is core.DeleteAction.RELEASE:
                if remote is None and state.delete_requested:
                    self.post_event(body, type="Normal", reason="Deleted", message=f"deleted agent {name}")
                    return True, 0, "deleted"
                if remote is not None:
                    self.post_event(
                        body,
                        type="Normal",
                        reason="Released",
                        message=f"agent {name} is not ours; left in place",
                    )
                return True, 0, "released"
            if action is core.DeleteAction.DELETE:
                remote = await self.external.delete(creds, name)
                state.delete_requested = True
                if remote is None:
                    self.post_event(body, type="Normal", reason="Deleted", message=f"deleted agent {name}")
                    return True, 0, "deleted"
                self.post_event(body, type="Normal", reason="Deleting", message=f"deleting agent {name}")
            state.delete_requested = True  # ours and DELETING (also after a restart mid-deletion)
            return False, self.config.deploy_poll_interval, f"waiting for agent {name} to be deleted"
        except Unauthorized as exc:
            state.failures += 1
            return (
                False,
                self.backoff.delay(core.Problem.UNAUTHORIZED, state.failures),
                f"Blaxel refused the credentials while deleting: {exc}; to release the resource without "
                "deleting the agent, set the annotation blaxel.ai/deletion-policy=Orphan",
            )
        except BlaxelError as exc:
            state.failures += 1
            delay = self.backoff.delay(core.Problem.TRANSIENT, state.failures, _retry_after(exc))
            return False, delay * random.uniform(0.8, 1.2), f"deleting agent {name} failed: {exc}"


def _retry_after(error: BaseException | None) -> float | None:
    return error.retry_after if isinstance(error, RateLimited) else None


WARNING_REASONS = {"DeployFailed", "InvalidSpec", "AlreadyExists", "SecretNotFound", "Unauthorized"}


def _has_inline_secret(payload: Mapping[str, Any]) -> bool:
    envs = ((payload.get("spec") or {}).get("runtime") or {}).get("envs") or []
    return any(isinstance(e, dict) and e.get("secret") for e in envs)
