"""Deletion of one resource's remote object, for any kind. Needs only credentials and the remote name:
never the env Secrets or references (a namespace deletion removes them alongside the resource)."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from ..blaxel.client import Credentials, ExternalClient
from ..blaxel.errors import BlaxelError, Unauthorized
from ..config import OperatorConfig
from ..core import decide as dec
from ..core.events import Event
from ..core.readiness import Phase
from ..core.status import Problem
from ..kinds.base import Kind
from ..kubeapi import KubeError
from .inputs import InputProblem, InputResolver, parse
from .reconciler import EventSink, backoff_for
from .state import ObjectState
from .status_writer import previous_status

ESCAPE = "set the annotation blaxel.ai/deletion-policy=Orphan to release the resource and keep the {noun}"


@dataclass(frozen=True)
class Deletion:
    done: bool  # the finalizer may go
    delay: float = 0.0  # when not done: retry after
    message: str = ""
    in_use: bool = False  # held because other resources still reference it
    hand_back: bool = False  # wait for Kopf's next call: only it brings the body as it is then


# (namespace, Kubernetes kind, name) -> the resources that still use it, as "Kind/name"
UsersOf = Callable[[str, str, str], list[str]]


class Deleter:
    def __init__(
        self,
        kind: Kind,
        config: OperatorConfig,
        inputs: InputResolver,
        external: ExternalClient,
        post_event: EventSink,
        users_of: UsersOf,
    ) -> None:
        self.kind = kind
        self.config = config
        self.inputs = inputs
        self.external = external
        self.post_event = post_event
        self.users_of = users_of
        self.backoff = backoff_for(config)

    def event(self, body: Mapping[str, Any], type: str, reason: str, message: str) -> None:
        self.post_event(body, Event(type, reason, message))

    async def delete(self, body: Mapping[str, Any], state: ObjectState) -> Deletion:
        meta = body.get("metadata") or {}
        noun, escape = self.kind.noun, ESCAPE.format(noun=self.kind.noun)
        policies = dec.policies_of(meta.get("annotations") or {}, body.get("spec") or {})
        by_policy = dec.decide_delete_policy(policies)
        if by_policy is dec.DeleteAction.ORPHAN:
            self.event(body, "Normal", "Orphaned", f"remote {noun} left in place (deletionPolicy Orphan)")
            return Deletion(True, message="orphaned")
        if by_policy is dec.DeleteAction.HOLD:
            return Deletion(
                False,
                self.config.poll_interval / 10,
                f"deletion waits: the resource is paused (blaxel.ai/paused); unpause it, or {escape}",
                hand_back=True,
            )
        users = self.users_of(str(meta.get("namespace") or ""), self.kind.kind, str(meta.get("name") or ""))
        if users:
            message = f"deletion waits: still used by {', '.join(sorted(users))}"
            return Deletion(False, self.config.deploy_poll_interval, message, in_use=True)
        previous = previous_status(body, state)
        at_provider = previous.get("atProvider") or {}
        created = bool(at_provider.get("name") or previous.get("appliedHash"))
        try:
            spec = parse(self.kind, body)
            name = self.kind.remote_name(spec, str(meta.get("name") or ""))
        except InputProblem as exc:
            return self.cannot(created, state, exc.message, escape)
        try:
            try:
                # may ask Blaxel for the key's workspace: a refused key is handled as for the deletion
                creds = await self.credentials(str(meta.get("namespace") or ""), spec, state)
            except InputProblem as exc:
                return self.cannot(created, state, exc.message, escape)
            except (KubeError, aiohttp.ClientError, TimeoutError) as exc:
                return self.cannot(created, state, f"Kubernetes API: {exc}", escape)
            # Delete where the object was made, even if the workspace setting changed since.
            creds = Credentials(creds.api_key, at_provider.get("workspace") or creds.workspace)
            return await self.delete_remote(body, state, name, creds)
        except Unauthorized as exc:
            if not created:
                return Deletion(
                    True, message="nothing was created remotely (and the credentials are refused)"
                )
            state.pacing.failures += 1
            delay = self.backoff.delay(Problem.UNAUTHORIZED, state.pacing.failures)
            return Deletion(False, delay, f"Blaxel refused the credentials while deleting: {exc}; {escape}")
        except BlaxelError as exc:
            state.pacing.failures += 1
            delay = self.backoff.delay(
                Problem.TRANSIENT, state.pacing.failures, exc.retry_after, jitter=random.uniform(0.8, 1.2)
            )
            return Deletion(False, delay, f"deleting {noun} {name} failed: {exc}")

    async def credentials(self, namespace: str, spec: Any, state: ObjectState) -> Credentials:
        try:
            return await self.inputs.credentials(namespace, spec)
        except InputProblem:
            if state.last_credentials is None:
                raise
            return state.last_credentials  # e.g. its Secret went first in a namespace deletion

    def cannot(self, created: bool, state: ObjectState, why: str, escape: str) -> Deletion:
        if not created:
            return Deletion(True, message="nothing was created remotely")
        state.pacing.failures += 1
        delay = self.backoff.delay(Problem.TRANSIENT, state.pacing.failures, jitter=random.uniform(0.8, 1.2))
        return Deletion(
            False, delay, f"cannot delete the remote {self.kind.noun}: {why}; fix it, or {escape}"
        )

    async def delete_remote(
        self, body: Mapping[str, Any], state: ObjectState, name: str, creds: Credentials
    ) -> Deletion:
        meta = body.get("metadata") or {}
        noun = self.kind.noun
        policies = dec.policies_of(meta.get("annotations") or {}, body.get("spec") or {})
        owner = dec.owner_labels(self.config.cluster_id, meta.get("namespace", ""), meta.get("name", ""))
        remote = await self.external.observe(creds, name)
        readiness = self.kind.readiness(remote, {}) if remote is not None else None
        action = dec.decide_delete(
            remote,
            owner=owner,
            adopted=policies.adopt,
            deleting=readiness is not None and readiness.phase is Phase.DELETING,
            delete_requested=state.delete_requested,
        )
        if action is dec.DeleteAction.DONE:
            self.event(body, "Normal", "Deleted", f"deleted {noun} {name}")
            return Deletion(True, message="deleted")
        if action is dec.DeleteAction.RELEASE:
            if remote is not None:
                message = f"{noun} {name} is not managed by this resource; left in place"
                self.event(body, "Normal", "Released", message)
            return Deletion(True, message="released")
        if action is dec.DeleteAction.DELETE:
            gone = await self.external.delete(creds, name) is None
            state.delete_requested = True
            if gone:
                self.event(body, "Normal", "Deleted", f"deleted {noun} {name}")
                return Deletion(True, message="deleted")
            self.event(body, "Normal", "Deleting", f"deleting {noun} {name}")
        state.delete_requested = True  # ours and DELETING (also after a restart mid-deletion)
        return Deletion(False, self.config.deploy_poll_interval, f"waiting for {noun} {name} to be deleted")
