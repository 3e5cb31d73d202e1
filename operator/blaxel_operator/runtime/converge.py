"""Observe, decide, act: the part of a reconcile that talks to Blaxel, for any kind.

Every decision is a pure function of `core.decide`; this only sequences them around the external
client's calls.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ..blaxel.client import ExternalClient
from ..blaxel.errors import Conflict, Invalid, MalformedWriteAnswer, NotFound, Unauthorized
from ..config import OperatorConfig
from ..core import decide as dec
from ..core.conditions import READY, find
from ..core.events import Event, events_for_settled, events_for_write
from ..core.readiness import Phase
from ..core.status import Problem
from ..kinds.base import Kind
from .inputs import Resolved
from .state import OBSERVE


@dataclass(frozen=True)
class Converged:
    """What converging did: the remote as last seen, and the problem if any."""

    remote: Mapping[str, Any] | None = None
    remote_known: bool = False
    applied: bool = False  # what Blaxel has now is the desired payload
    applied_now: bool = False
    problem: Problem | None = None
    message: str = ""
    rejected: bool = False
    events: list[Event] = field(default_factory=list)
    retry_after: float | None = None
    secrets_check: dec.SecretsCheck | None = None  # what reading the remote's secret values found

    @staticmethod
    def failed(problem: Problem, message: str, retry_after: float | None = None) -> Converged:
        return Converged(problem=problem, message=message, retry_after=retry_after)


class Converger:
    def __init__(self, kind: Kind, config: OperatorConfig, external: ExternalClient) -> None:
        self.kind = kind
        self.config = config
        self.external = external
        # workspace -> remote name -> "namespace/name" of the resource that owns it in this process:
        # guards objects adopted without a write (no owner labels yet) against a second claimant. (By
        # workspace, with interned names: no key tuple per object.)
        self.claims: dict[str, dict[str, str]] = {}

    def release(self, namespace: str, name: str, remote_name: str) -> None:
        """The resource is gone from Kubernetes: its claim goes with it (else it stays for good)."""
        me = f"{namespace}/{name}"
        for claims in self.claims.values():
            if claims.get(remote_name) == me:
                del claims[remote_name]

    async def converge(
        self,
        body: Mapping[str, Any],
        resolved: Resolved,
        previous: Mapping[str, Any],
        policies: dec.Policies,
        observed: Any,
    ) -> Converged:
        desired, noun = resolved.desired, self.kind.noun
        meta = body.get("metadata") or {}
        me = f"{meta.get('namespace', '')}/{meta.get('name', '')}"
        claims = self.claims.setdefault(sys.intern(resolved.workspace or ""), {})
        claimed = dec.claim_conflict(claims.get(desired.name), me, noun, desired.name)
        if claimed is not None:
            return Converged.failed(Problem.ALREADY_EXISTS, claimed.message)
        force = bool(policies.reconcile_requested) and policies.reconcile_requested != previous.get(
            "lastHandledReconcileAt"
        )
        if dec.observe_first(previous, policies):
            remote = (
                await self.external.observe(resolved.creds, desired.name) if observed is OBSERVE else observed
            )
            decision = self.decide(body, resolved, remote, previous, policies, force)
        else:
            remote, decision = None, dec.CREATE
        decision = dec.gate(decision, policies)
        result = await self.act(body, resolved, remote, decision, previous, policies, force)
        if result.applied and result.problem is None and claims.get(desired.name) != me:
            claims[sys.intern(desired.name)] = sys.intern(me)
        return result

    def decide(
        self,
        body: Mapping[str, Any],
        resolved: Resolved,
        remote: Mapping[str, Any] | None,
        previous: Mapping[str, Any],
        policies: dec.Policies,
        force: bool,
        secrets_match: bool = False,
    ) -> dec.Decision:
        desired = resolved.desired
        meta = body.get("metadata") or {}
        readiness = self.kind.readiness(remote, desired.payload) if remote is not None else None
        decision = dec.decide(
            desired,
            remote,
            owner=dec.owner_labels(self.config.cluster_id, meta.get("namespace", ""), meta.get("name", "")),
            status=previous,
            adopt=policies.adopt,
            comparable_observed=(
                self.kind.comparable_observed(remote, desired.payload) if remote is not None else None
            ),
            workspace=resolved.workspace,
            retry_rejected=force,
            noun=self.kind.noun,
            deleting=readiness is not None and readiness.phase is Phase.DELETING,
            secrets_match=secrets_match,
        )
        rejected = find(previous.get("conditions"), READY) or {}
        was_invalid = rejected.get("reason") == Problem.INVALID_SPEC.value
        return dec.with_rejection_message(
            decision, str(rejected.get("message") or "") if was_invalid else None
        )

    async def act(
        self,
        body: Mapping[str, Any],
        resolved: Resolved,
        remote: Mapping[str, Any] | None,
        decision: dec.Decision,
        previous: Mapping[str, Any],
        policies: dec.Policies,
        force: bool,
    ) -> Converged:
        creds, desired, noun = resolved.creds, resolved.desired, self.kind.noun
        action = decision.action
        seen = Converged(remote=remote, remote_known=True)
        if action is dec.Action.PAUSED:
            return replace(seen, problem=Problem.PAUSED, message=decision.message)
        if action in (dec.Action.ALREADY_EXISTS, dec.Action.CLAIMED):
            return replace(seen, problem=Problem.ALREADY_EXISTS, message=decision.message)
        if action is dec.Action.WORKSPACE_CHANGED:
            # what we observed was the other workspace: keep reporting the object where it lives
            return Converged.failed(Problem.WORKSPACE_CHANGED, decision.message)
        if action is dec.Action.REJECTED:
            return replace(seen, problem=Problem.INVALID_SPEC, message=decision.message, rejected=True)
        if action is dec.Action.WAIT:
            return replace(seen, message=decision.message)
        checked: dec.SecretsCheck | None = None
        if decision.write and decision.secrets_unknown_only and remote is not None:
            # Only the secret values are unknown (masked): read them where the key may, and write
            # nothing if they match (a PUT would redeploy a running object).
            decision, checked = await self.check_secrets(body, resolved, previous, policies, force, decision)
            if checked is not None and not decision.write:
                events = events_for_settled(decision, noun, desired.name, checked.message)
                return replace(seen, applied=True, events=events, secrets_check=checked)
        if not decision.write:
            return replace(seen, applied=True, events=events_for_settled(decision, noun, desired.name))
        try:
            if decision.creates:
                try:
                    written = await self.external.create(creds, desired.payload)
                except Conflict:
                    remote = await self.external.observe(creds, desired.name)
                    redecided = dec.after_conflict(
                        self.decide(body, resolved, remote, previous, policies, force)
                    )
                    if redecided is None:
                        raise
                    return await self.act(
                        body, resolved, remote, dec.gate(redecided, policies), previous, policies, force
                    )
            else:
                try:
                    written = await self.external.update(creds, desired.name, desired.payload)
                except NotFound:
                    written = await self.external.create(creds, desired.payload)
        except Invalid as exc:
            return replace(
                seen, problem=Problem.INVALID_SPEC, message=f"Blaxel rejected the spec: {exc}", rejected=True
            )
        except MalformedWriteAnswer as exc:
            # Accepted, so applied: the next reconcile observes instead of writing it again.
            return Converged(
                applied=True,
                applied_now=True,
                problem=Problem.MALFORMED_RESPONSE,
                message=f"Blaxel accepted the write but answered something unexpected: {exc}",
                events=events_for_write(decision, noun, desired.name, checked.message if checked else ""),
                secrets_check=checked,
            )
        return Converged(
            remote=written,
            remote_known=True,
            applied=True,
            applied_now=True,
            events=events_for_write(decision, noun, desired.name, checked.message if checked else ""),
            secrets_check=checked,
        )

    async def check_secrets(
        self,
        body: Mapping[str, Any],
        resolved: Resolved,
        previous: Mapping[str, Any],
        policies: dec.Policies,
        force: bool,
        decision: dec.Decision,
    ) -> tuple[dec.Decision, dec.SecretsCheck | None]:
        """The decision again with the real secret values, where the key may read them, and what was
        found. The values are compared in memory only: never logged, stored or put in a message."""
        if not self.kind.compares_secrets:
            why = f"Blaxel does not show the secret values of the {self.kind.noun}"
            return decision, dec.secrets_unreadable(why)
        try:
            unmasked = await self.external.observe(resolved.creds, resolved.desired.name, show_secrets=True)
        except Unauthorized:  # 403: show_secrets needs the workspace admin role
            why = "Blaxel refused show_secrets: it needs an API key with the workspace admin role"
            return decision, dec.secrets_unreadable(why)
        if unmasked is None:  # gone in between: the write recreates it
            return decision, None
        if not self.kind.secrets_match(unmasked, resolved.desired.payload):
            return decision, dec.SECRETS_DIFFER
        redecided = self.decide(body, resolved, unmasked, previous, policies, force, secrets_match=True)
        return redecided, (None if redecided.write else dec.SECRETS_MATCH)
