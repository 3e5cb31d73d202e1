"""Resolve what a reconcile needs before calling Blaxel: the spec, credentials, Secret values and
references. Problems found here are reported on the resource, never sent to Blaxel."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import pydantic

from .. import kubenames
from ..blaxel.client import Credentials
from ..blaxel.errors import WorkspaceUnresolved
from ..config import OperatorConfig
from ..core.decide import Desired, make_desired, owner_labels
from ..core.status import Problem
from ..kinds.base import Kind, Reference, SecretRef
from ..kubeapi import SecretNotText
from ..logs import REDACTOR


class InputProblem(Exception):
    """A problem with the inputs (credentials, secrets, spec, references) found before calling Blaxel."""

    def __init__(self, problem: Problem, message: str) -> None:
        super().__init__(message)
        self.problem = problem
        self.message = message


class SecretReader(Protocol):
    async def get_secret(self, namespace: str, name: str) -> Mapping[str, str] | None: ...


@contextlib.contextmanager
def refused_input() -> Iterator[None]:
    """A name that is no valid Kubernetes name, a Secret value that is not text: InvalidSpec, and no
    request is made for that name (defence in depth: the CRD refuses such names too)."""
    try:
        yield
    except (kubenames.InvalidName, SecretNotText) as exc:
        raise InputProblem(Problem.INVALID_SPEC, str(exc)) from None


class WorkspaceResolver(Protocol):
    async def resolve_workspace(self, creds: Credentials) -> Credentials:
        """`creds` with a workspace: their own, else the API key's only one."""


class ReferenceLookup(Protocol):
    def resolve(self, namespace: str, ref: Reference) -> str | None:
        """The remote name of a Ready referenced resource, None when it is missing or not Ready."""


@dataclass(frozen=True)
class Resolved:
    creds: Credentials
    desired: Desired
    spec: Any
    reads_secrets: bool  # Kubernetes Secrets feed it: they may change without any event of ours

    @property
    def workspace(self) -> str | None:
        return self.creds.workspace


def parse(kind: Kind, body: Mapping[str, Any]) -> Any:
    try:
        return kind.parse_spec(body.get("spec") or {})
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise InputProblem(Problem.INVALID_SPEC, f"spec.{where}: {first.get('msg')}") from None


class InputResolver:
    def __init__(
        self,
        kind: Kind,
        config: OperatorConfig,
        secrets: SecretReader,
        references: ReferenceLookup,
        workspaces: WorkspaceResolver,
    ) -> None:
        self.kind = kind
        self.config = config
        self.secrets = secrets
        self.references = references
        self.workspaces = workspaces

    async def credentials(self, namespace: str, spec: Any) -> Credentials:
        """The credentials with their workspace: Blaxel is never called without one."""
        with refused_input():
            creds = await self.credentials_as_given(namespace, spec)
        try:
            return await self.workspaces.resolve_workspace(creds)
        except WorkspaceUnresolved as exc:
            where = (
                "spec.workspace, or the credentials' workspace: the Secret's key workspace or BL_WORKSPACE"
            )
            raise InputProblem(Problem.INVALID_SPEC, f"{exc} ({where})") from None

    async def credentials_as_given(self, namespace: str, spec: Any) -> Credentials:
        """From spec.credentialsRef, else the operator's credentials Secret, else its environment."""
        ref = getattr(spec, "credentials_ref", None)
        workspace = getattr(spec, "workspace", None)
        if ref is not None:
            kubenames.secret_name(ref.name, "spec.credentialsRef.name")
            where = f"credentials Secret {namespace}/{ref.name}"
            data = await self.secrets.get_secret(namespace, ref.name)
        elif self.config.credentials_secret is not None:
            sns, sname = self.config.credentials_secret
            where = f"operator credentials Secret {sns}/{sname}"
            data = await self.secrets.get_secret(sns, sname)
        else:
            default = self.config.default_credentials
            if default is None:
                raise InputProblem(
                    Problem.UNAUTHORIZED,
                    "no Blaxel credentials: set spec.credentialsRef, or BL_API_KEY / --credentials-secret",
                )
            if not workspace or workspace == default.workspace:
                return default  # one object shared by every resource that uses it
            return Credentials(default.api_key, workspace)
        if data is None:
            raise InputProblem(Problem.SECRET_NOT_FOUND, f"{where} not found")
        if not data.get("apiKey"):
            raise InputProblem(Problem.SECRET_NOT_FOUND, f"{where} has no key apiKey")
        if not (data["apiKey"].isascii() and data["apiKey"].isprintable()):
            # an HTTP header carries it: anything else could never authenticate
            raise InputProblem(Problem.INVALID_SPEC, f"{where}: key apiKey is not printable ASCII text")
        REDACTOR.add(data["apiKey"])
        return Credentials(data["apiKey"], workspace or data.get("workspace") or None)

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
                cache[ref.name] = await self.secrets.get_secret(namespace, ref.name)
            data = cache[ref.name]
            if data is None:
                raise InputProblem(Problem.SECRET_NOT_FOUND, f"Secret {namespace}/{ref.name} not found")
            if ref.key not in data:
                raise InputProblem(
                    Problem.SECRET_NOT_FOUND, f"Secret {namespace}/{ref.name} has no key {ref.key!r}"
                )
            values[ref] = data[ref.key]
            REDACTOR.add(values[ref])
        return values

    def resolve_references(self, namespace: str, spec: Any) -> dict[Reference, str]:
        resolved: dict[Reference, str] = {}
        waiting: list[str] = []
        for ref in self.kind.references(spec):
            remote = self.references.resolve(namespace, ref)
            if remote is None:
                waiting.append(f"{ref} ({ref.field})")
            else:
                resolved[ref] = remote
        if waiting:
            raise InputProblem(
                Problem.REFERENCE_NOT_READY, f"waiting for {', '.join(waiting)} to exist and be Ready"
            )
        return resolved

    async def resolve(self, body: Mapping[str, Any], cluster_id: str) -> tuple[Resolved, Credentials]:
        meta = body.get("metadata") or {}
        namespace, name = str(meta.get("namespace") or ""), str(meta.get("name") or "")
        spec = parse(self.kind, body)
        creds = await self.credentials(namespace, spec)
        refs = self.resolve_references(namespace, spec)
        secrets = await self.secret_values(namespace, self.kind.secret_refs(spec))
        remote = self.kind.remote_name(spec, name)
        owner = owner_labels(cluster_id, namespace, name)
        payload = self.kind.build_payload(spec, remote, secrets, owner, refs)
        desired = make_desired(
            remote,
            payload,
            self.kind.comparable_desired(payload),
            has_secrets=self.kind.has_secret_values(payload),
            hash_key=creds.api_key,
        )
        reads_secrets = bool(secrets) or getattr(spec, "credentials_ref", None) is not None
        reads_secrets = reads_secrets or self.config.credentials_secret is not None
        return Resolved(creds, desired, spec, reads_secrets), creds
