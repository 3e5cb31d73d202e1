"""One reconcile of one resource: resolve inputs, observe, decide, act, write status (only on change).

The decisions live in `core.reconcile` (pure); this module does the I/O around them, for any kind.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import weakref
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import aiohttp
import pydantic

from . import kubenames
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
from .kubeapi import KubeApi, KubeError, SecretNotText, merge_patch
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


@contextlib.contextmanager
def refused_input() -> Iterator[None]:
    """A name the operator will not put in a URL (kubenames.InvalidName) or a Secret value it will not
    send (SecretNotText) is an InvalidSpec, with no request made for that name."""
    try:
        yield
    except (kubenames.InvalidName, SecretNotText) as exc:
        raise InputProblem(core.Problem.INVALID_SPEC, str(exc)) from None


@dataclass
class ObjectState:
    """In-memory state of one resource (Kopf's per-object memo); lost on restart, by design."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    failures: int = 0
    backoff_reason: str | None = None
    seen: tuple[Any, ...] | None = None  # generation + watched annotations last seen
    status_cache: dict[str, Any] | None = None  # what we last wrote, until the watch delivers it
    delete_requested: bool = False  # DELETE sent; the remote's 404 then means "deleted"
    counted_status: str | None = None  # the remote status this object is counted under (metrics)
    last_credentials: Credentials | None = None  # to delete even once the credentials Secret is gone
    transitional: str | None = None  # the in-progress remote status seen last, and since when
    transitional_since: float = 0.0
    in_rhythm: bool = False  # settled and polled once per interval since


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


@dataclass
class Resolved:
    creds: Credentials
    desired: core.Desired

    @property
    def workspace(self) -> str | None:
        return self.creds.workspace


TRANSITIONAL_PATIENCE = 300.0  # after this long in one in-progress status, poll it less often


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
        # (workspace, remote name) -> "namespace/name" of the resource that owns it in this process:
        # guards agents adopted without a write (no owner labels yet) against a second claimant.
        self.claims: dict[tuple[str, str], str] = {}

    # ---- inputs -------------------------------------------------------------------------------------

    async def credentials(self, namespace: str, spec: Any) -> Credentials:
        with refused_input():
            return await self._credentials(namespace, spec)

    async def _credentials(self, namespace: str, spec: Any) -> Credentials:
        ref = getattr(spec, "credentials_ref", None)
        workspace = getattr(spec, "workspace", None)
        if ref is not None:
            kubenames.secret_name(ref.name, "spec.credentialsRef.name")
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
        with refused_input():
            return await self._secret_values(namespace, refs)

    async def _secret_values(self, namespace: str, refs: list[SecretRef]) -> dict[SecretRef, str]:
        for ref in refs:  # all of them before any request
            kubenames.secret_name(ref.name, "secretKeyRef name")
            kubenames.secret_key(ref.key, f"secretKeyRef key (of Secret {ref.name})")
        values: dict[SecretRef, str] = {}
        cache: dict[str, Mapping[str, str] | None] = {}
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

    async def resolve(self, body: Mapping[str, Any], state: ObjectState) -> Resolved:
        meta = body.get("metadata") or {}
        namespace = meta.get("namespace", "")
        spec = self.parse(body)
        creds = await self.credentials(namespace, spec)
        state.last_credentials = creds
        refs = self.kind.secret_refs(spec)
        secrets = await self.secret_values(namespace, refs)
        name = self.kind.remote_name(spec, meta.get("name", ""))
        payload = self.kind.build_payload(spec, name, secrets, self.owner(body))
        comparable = self.kind.comparable_desired(payload)
        desired = core.make_desired(
            name,
            payload,
            comparable,
            has_secrets=self.kind.has_secret_values(payload),
            hash_key=creds.api_key,
        )
        return Resolved(creds, desired)

    # ---- reconcile ----------------------------------------------------------------------------------

    def previous_status(self, body: Mapping[str, Any], state: ObjectState) -> dict[str, Any]:
        # The operator is the only writer of the status: what it last wrote is the truth, even when
        # the watch has not delivered it yet (or delivered something else meanwhile).
        observed = dict(body.get("status") or {})
        if state.status_cache is not None:
            if observed == state.status_cache:
                state.status_cache = None  # delivered: the body is the truth again (and memory is freed)
                return observed
            return state.status_cache
        return observed

    async def reconcile(self, body: Mapping[str, Any], state: ObjectState) -> float:
        """Reconcile once; returns the delay until the next reconcile is due."""
        now = utcnow()
        meta = body.get("metadata") or {}
        if meta.get("deletionTimestamp"):
            return self.config.deploy_poll_interval  # the deletion handler owns it now: never (re)create
        if FINALIZER not in (meta.get("finalizers") or []):
            # Kopf spawns the daemon and adds the finalizer in the same cycle: never create a remote
            # agent that a deletion racing with the finalizer could orphan. Its arrival wakes us.
            return 1.0
        generation = int(meta.get("generation") or 1)
        previous = self.previous_status(body, state)
        requested = annotations_of(body).get(RECONCILE_REQUESTED_AT)
        outcome_kw: dict[str, Any] = {"generation": generation, "now": now, "reconcile_requested": requested}
        events: list[tuple[str, str, str]] = []
        result = "success"
        error: BaseException | None = None
        try:
            resolved = await self.resolve(body, state)
            outcome_kw["desired_hash"] = resolved.desired.hash
            outcome_kw["workspace"] = resolved.workspace
            outcome_kw["desired_enabled"] = resolved.desired.payload.get("spec", {}).get("enabled", True)
            lock = self.remote_locks.setdefault(
                (resolved.workspace or "", resolved.desired.name), asyncio.Lock()
            )
            async with lock:
                force = bool(requested) and requested != previous.get("lastHandledReconcileAt")
                result = await self._converge(body, resolved, previous, outcome_kw, events, force)
        except InputProblem as exc:
            result = exc.problem.value
            outcome_kw.update(problem=exc.problem, message=exc.message)
        except Unauthorized as exc:
            result = "unauthorized"
            outcome_kw.update(
                problem=core.Problem.UNAUTHORIZED, message=f"Blaxel refused the credentials: {exc}"
            )
        except Invalid as exc:
            result = "invalid"
            outcome_kw.update(problem=core.Problem.INVALID_SPEC, message=f"Blaxel rejected the spec: {exc}")
        except BlaxelError as exc:
            result, error = "error", exc
            outcome_kw.update(problem=core.Problem.TRANSIENT, message=str(exc))
        except (KubeError, aiohttp.ClientError, TimeoutError) as exc:
            # e.g. RBAC or apiserver trouble while reading a Secret: report it, retry with backoff
            result, error = "error", exc
            outcome_kw.update(
                problem=core.Problem.TRANSIENT, message=f"Kubernetes API: {exc or type(exc).__name__}"
            )

        problem: core.Problem | None = outcome_kw.get("problem")
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
        force: bool,
    ) -> str:
        creds, desired = resolved.creds, resolved.desired
        meta = body.get("metadata") or {}
        me = f"{meta.get('namespace', '')}/{meta.get('name', '')}"
        claim_key = (resolved.workspace or "", desired.name)
        claimant = self.claims.get(claim_key)
        if claimant is not None and claimant != me:
            outcome_kw.update(
                problem=core.Problem.ALREADY_EXISTS,
                message=f"agent {desired.name!r} is managed by another resource ({claimant})",
            )
            return "already-exists"
        paused = is_paused(body)
        fresh = not (
            previous.get("atProvider") or previous.get("appliedHash") or previous.get("rejectedHash")
        )
        adopting = str(annotations_of(body).get(ADOPTION_POLICY, "")).lower() == "adopt"
        if fresh and not paused and not adopting:
            # Never reconciled: POST straight away (like `bl apply`) and save a GET per new agent;
            # a 409 leads to the same ownership check as an observed agent. (Resources meant to adopt
            # read first: their agent most likely exists.)
            remote = None
            decision = core.Decision(core.Action.CREATE, write=True)
        else:
            remote = await self.external.observe(creds, desired.name)
            decision = self._decide(body, resolved, remote, previous, force)
        outcome_kw.update(remote=remote, remote_known=True)
        if paused:
            # No writes while paused, but the status is refreshed and a foreign agent is still reported.
            if decision.action is core.Action.ALREADY_EXISTS:
                outcome_kw.update(problem=core.Problem.ALREADY_EXISTS, message=decision.message)
                return "already-exists"
            outcome_kw.update(
                problem=core.Problem.PAUSED,
                message="reconciliation is paused by the blaxel.ai/paused annotation; no writes to Blaxel",
            )
            return "paused"
        try:
            if decision.action in (core.Action.CREATE, core.Action.RECREATE):
                try:
                    remote = await self.external.create(creds, desired.payload)
                except Conflict:
                    # Deterministic names: a 409 (e.g. our own POST before a crash) means "check ownership",
                    # never "make another".
                    remote = await self.external.observe(creds, desired.name)
                    outcome_kw.update(remote=remote)
                    decision = self._decide(body, resolved, remote, previous, force)
                    if decision.action in (core.Action.CREATE, core.Action.RECREATE):
                        raise  # gone again in between: the next reconcile retries
                else:
                    outcome_kw.update(remote=remote, applied_hash=desired.hash, applied_now=True)
                    self.claims[claim_key] = me
                    if decision.action is core.Action.RECREATE:
                        message = f"recreated agent {desired.name}, deleted outside Kubernetes"
                        events.append(("Normal", "Recreated", message))
                    else:
                        events.append(("Normal", "Created", f"created agent {desired.name}"))
                    return "success"
            if decision.write:
                await self._put(creds, desired, decision, outcome_kw, events)
                self.claims[claim_key] = me
                return "success"
            return self._settle(decision, desired, outcome_kw, events, claim_key, me)
        except Invalid as exc:
            outcome_kw.update(
                problem=core.Problem.INVALID_SPEC,
                message=f"Blaxel rejected the spec: {exc}",
                rejected_hash=desired.hash,
            )
            return "invalid"

    def _decide(
        self,
        body: Mapping[str, Any],
        resolved: Resolved,
        remote: Mapping[str, Any] | None,
        previous: Mapping[str, Any],
        force: bool,
    ) -> core.Decision:
        desired = resolved.desired
        observed = self.kind.comparable_observed(remote, desired.payload) if remote is not None else None
        decision = core.decide(
            desired,
            remote,
            owner=self.owner(body),
            status=previous,
            adopt=str(annotations_of(body).get(ADOPTION_POLICY, "")).lower() == "adopt",
            comparable_observed=observed,
            workspace=resolved.workspace,
            retry_rejected=force,
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
        outcome_kw: dict[str, Any],
        events: list[tuple[str, str, str]],
        claim_key: tuple[str, str],
        me: str,
    ) -> str:
        """Outcomes of decisions that write nothing to Blaxel."""
        action = decision.action
        if action in (core.Action.NOTHING, core.Action.ADOPT):
            outcome_kw["applied_hash"] = desired.hash
            self.claims[claim_key] = me
            if action is core.Action.ADOPT and decision.first_adoption:
                message = (
                    f"adopted existing agent {desired.name} (it already matches the spec: not redeployed)"
                )
                events.append(("Normal", "Adopted", message))
        elif action is core.Action.ALREADY_EXISTS:
            outcome_kw.update(problem=core.Problem.ALREADY_EXISTS, message=decision.message)
            return "already-exists"
        elif action is core.Action.WORKSPACE_CHANGED:
            # what we observed was the other workspace: keep reporting the agent where it lives
            outcome_kw.update(
                problem=core.Problem.WORKSPACE_CHANGED,
                message=decision.message,
                remote=None,
                remote_known=False,
            )
            return "workspace-changed"
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
            state.in_rhythm = False
            self._set_backoff(state, problem.value)
            return self.backoff.delay(
                problem, state.failures, _retry_after(error), jitter=random.uniform(0.8, 1.2)
            )
        self._set_backoff(state, None)
        state.failures = 0
        remote = outcome_kw.get("remote")
        status = remote.get("status") if isinstance(remote, Mapping) else None
        if outcome_kw.get("remote_known") and remote is not None and core.is_transitional(status):
            now = time.monotonic()
            state.in_rhythm = False
            if state.transitional != status:
                state.transitional, state.transitional_since = status, now
            if now - state.transitional_since > TRANSITIONAL_PATIENCE:
                # stuck for long in one status (or one this version does not know): slow down
                return min(cfg.poll_interval, max(cfg.deploy_poll_interval, 60.0))
            return cfg.deploy_poll_interval
        state.transitional = None
        if outcome_kw.get("applied_now"):
            state.in_rhythm = False
            return cfg.deploy_poll_interval
        # Settled: the first poll comes at a random point of the interval, the next ones one interval
        # apart. Thousands of agents never poll in step, none waits longer than one interval, and each
        # costs exactly one GET per interval.
        if state.in_rhythm:
            return cfg.poll_interval
        state.in_rhythm = True
        return cfg.poll_interval * random.uniform(0.5, 1.0)

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
        """Returns (done, retry delay, message). Needs only credentials and the name: never the env
        Secrets (a namespace deletion removes them alongside the resource)."""
        if deletion_policy(body) == "Orphan":
            message = "remote agent left in place (deletionPolicy Orphan)"
            self.post_event(body, type="Normal", reason="Orphaned", message=message)
            return True, 0, "orphaned"
        previous = self.previous_status(body, state)
        at_provider = previous.get("atProvider") or {}
        created = bool(at_provider.get("name") or previous.get("appliedHash"))
        escape = (
            "set the annotation blaxel.ai/deletion-policy=Orphan to release the resource and keep the agent"
        )
        if is_paused(body):
            return (
                False,
                self.config.poll_interval / 10,
                f"deletion waits: the resource is paused (blaxel.ai/paused); unpause it, or {escape}",
            )
        meta = body.get("metadata") or {}
        try:
            spec = self.parse(body)
            name = self.kind.remote_name(spec, meta.get("name", ""))
            try:
                creds = await self.credentials(meta.get("namespace", ""), spec)
            except InputProblem:
                if state.last_credentials is None:
                    raise
                creds = state.last_credentials  # e.g. its Secret went first in a namespace deletion
        except (InputProblem, KubeError, aiohttp.ClientError, TimeoutError) as exc:
            if not created:
                return True, 0, "nothing was created remotely"
            state.failures += 1
            why = exc.message if isinstance(exc, InputProblem) else f"Kubernetes API: {exc}"
            delay = self.backoff.delay(
                core.Problem.TRANSIENT, state.failures, jitter=random.uniform(0.8, 1.2)
            )
            return False, delay, f"cannot delete the remote agent: {why}; fix it, or {escape}"
        # Delete where the agent was made, even if the workspace setting changed since.
        workspace = at_provider.get("workspace") or creds.workspace
        creds = Credentials(creds.api_key, workspace)
        adopted = str(annotations_of(body).get(ADOPTION_POLICY, "")).lower() == "adopt"
        try:
            remote = await self.external.observe(creds, name)
            action = core.decide_delete(remote, owner=self.owner(body), adopted=adopted)
            if action is core.DeleteAction.RELEASE:
                if remote is None and state.delete_requested:
                    self.post_event(body, type="Normal", reason="Deleted", message=f"deleted agent {name}")
                    return True, 0, "deleted"
                if remote is not None:
                    message = f"agent {name} is not managed by this resource; left in place"
                    self.post_event(body, type="Normal", reason="Released", message=message)
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
            if not created:
                return True, 0, "nothing was created remotely (and the credentials are refused)"
            state.failures += 1
            delay = self.backoff.delay(core.Problem.UNAUTHORIZED, state.failures)
            return False, delay, f"Blaxel refused the credentials while deleting: {exc}; {escape}"
        except BlaxelError as exc:
            state.failures += 1
            jitter = random.uniform(0.8, 1.2)
            delay = self.backoff.delay(
                core.Problem.TRANSIENT, state.failures, _retry_after(exc), jitter=jitter
            )
            return False, delay, f"deleting agent {name} failed: {exc}"


def _retry_after(error: BaseException | None) -> float | None:
    return error.retry_after if isinstance(error, RateLimited) else None


WARNING_REASONS = {"DeployFailed", "InvalidSpec", "AlreadyExists", "SecretNotFound", "Unauthorized"}
