"""What the generic reconciler needs to know about a Blaxel kind.

A kind is one module (model, payload, comparison, readiness, what `atProvider` shows, its nouns) exposing
a `KIND`; `kinds.registry` lists them. Nothing generic knows a kind's vocabulary: it asks the kind.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from ..core.readiness import Phase, Readiness

__all__ = ["Phase", "Readiness"]
from ..crdgen import PrinterColumn, crd


class CamelModel(BaseModel):
    """Strict camelCase model: unknown fields are errors (the CRD would prune them anyway)."""

    # built on first use: a cluster that uses two kinds does not carry the validators of seven
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", defer_build=True
    )


@dataclass(frozen=True)
class SecretRef:
    """A key of a Secret in the resource's namespace."""

    name: str
    key: str

    def __str__(self) -> str:
        return f"{self.name}/{self.key}"


SecretValues = Mapping[SecretRef, str]

# Names the operator puts into Kubernetes URLs are validated as what they are, in the CRD and again in
# the model (a CRD can be edited or old): `../x`, `a%2Fb`, `..` never reach a path.
DNS1123_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
# A key of a Secret's data, as Kubernetes allows it (not ".", "..", nor starting with "..").
SECRET_KEY_PATTERN = r"^\.?[-_a-zA-Z0-9][-._a-zA-Z0-9]*$"


class SecretKeySelector(CamelModel):
    """A key of a Secret in this namespace."""

    name: str = Field(min_length=1, max_length=253, pattern=DNS1123_SUBDOMAIN)
    key: str = Field(min_length=1, max_length=253, pattern=SECRET_KEY_PATTERN)


class CredentialsRef(CamelModel):
    name: str = Field(min_length=1, max_length=253, pattern=DNS1123_SUBDOMAIN)


# ---- status: every field the operator writes (the apiserver silently prunes undeclared ones) ----------


class RemoteEvent(CamelModel):
    type: str | None = None
    status: str | None = None
    message: str | None = None
    revision: str | None = None
    canary_revision: str | None = None
    time: str | None = None


class AtProvider(CamelModel):
    """The remote object as Blaxel reports it."""

    name: str | None = None
    workspace: str | None = None
    status: str | None = Field(default=None, description="Blaxel's deployment status, verbatim.")
    created_at: str | None = None
    updated_at: str | None = None
    created_by: str | None = None
    updated_by: str | None = None
    plan: str | None = None
    revision: str | None = None
    events: list[RemoteEvent] | None = Field(
        default=None, description="The most recent remote events, newest last."
    )


class StatusCondition(CamelModel):
    type: str
    status: Literal["True", "False", "Unknown"]
    reason: str | None = None
    message: str | None = None
    last_transition_time: str | None = Field(default=None, json_schema_extra=crd(schema_format="date-time"))
    observed_generation: int | None = Field(default=None, json_schema_extra=crd(schema_format="int64"))


class SecretsCheck(CamelModel):
    """What reading the remote's secret values found, when they alone could differ from the spec (an
    adopted object, or one found again after a restart between its creation and the status write)."""

    result: Literal["Match", "Differ", "Unreadable"] = Field(
        description=(
            "Match: read (show_secrets) and equal to the spec, nothing written. Differ: read and different, "
            "written. Unreadable: Blaxel did not show them (show_secrets needs the workspace admin role), "
            "written once."
        )
    )
    message: str | None = None
    time: str | None = Field(default=None, json_schema_extra=crd(schema_format="date-time"))


class ResourceStatus(CamelModel):
    """Observed state, written by blaxel-operator only."""

    observed_generation: int | None = Field(default=None, json_schema_extra=crd(schema_format="int64"))
    last_sync_time: str | None = Field(default=None, json_schema_extra=crd(schema_format="date-time"))
    last_handled_reconcile_at: str | None = Field(
        default=None, description="Echo of the blaxel.ai/reconcile-requested-at annotation once handled."
    )
    applied_hash: str | None = Field(
        default=None,
        description="Hash of the payload last applied to Blaxel (secret values only as part of the hash).",
    )
    applied_time: str | None = Field(default=None, json_schema_extra=crd(schema_format="date-time"))
    rejected_hash: str | None = Field(
        default=None,
        description="Hash of a payload Blaxel rejected as invalid; not retried until it changes.",
    )
    conditions: list[StatusCondition] | None = Field(default=None, json_schema_extra=crd(map_keys=["type"]))
    at_provider: AtProvider | None = None
    secrets_check: SecretsCheck | None = Field(
        default=None,
        description="How the remote's secret values were last checked (values are never shown or stored).",
    )


@dataclass(frozen=True)
class Reference:
    """A Kubernetes resource of another kind, in the same namespace, that a spec uses.

    `kind` is the Kubernetes kind (e.g. BlaxelPolicy); `field` says where in the spec (for messages).
    """

    kind: str
    name: str
    field: str

    def __str__(self) -> str:
        return f"{self.kind}/{self.name}"


# Reference -> the remote (Blaxel) name of the resource it names; filled by the runtime once every
# referenced resource is Ready.
ResolvedRefs = Mapping[Reference, str]


def no_references(spec: Any) -> list[Reference]:
    return []


def no_secrets(spec: Any) -> list[SecretRef]:
    return []


def no_extra(remote: Mapping[str, Any]) -> dict[str, Any]:
    return {}


def cannot_compare_secrets(unmasked: Mapping[str, Any], desired: Mapping[str, Any]) -> bool:
    return False


@dataclass(frozen=True)
class Kind:
    """A Blaxel kind managed through a Kubernetes custom resource."""

    kind: str  # Kubernetes kind, e.g. BlaxelAgent
    group: str
    version: str
    plural: str
    api_collection: str  # Blaxel path below /v0, e.g. "agents", "integrations/connections"
    noun: str  # what Blaxel calls one, in messages: "agent", "integration connection"
    parse_spec: Callable[[Mapping[str, Any]], Any]
    # (spec model, resource name) -> the remote object's name
    remote_name: Callable[[Any, str], str]
    # (spec model, remote name, resolved secret values, extra labels[, resolved references]) -> payload
    build_payload: Callable[..., dict[str, Any]]
    # (desired payload) -> the part of it that must be contained in the observed object
    comparable_desired: Callable[[Mapping[str, Any]], dict[str, Any]]
    # (observed object, desired payload) -> observed, normalised to compare with comparable_desired
    comparable_observed: Callable[[Mapping[str, Any], Mapping[str, Any]], dict[str, Any]]
    # (remote object, desired payload) -> its phase and the Ready reason/message
    readiness: Callable[[Mapping[str, Any], Mapping[str, Any]], Readiness]
    # (payload) -> whether it carries secret values, which the API masks and so cannot be compared
    has_secret_values: Callable[[Mapping[str, Any]], bool]
    secret_refs: Callable[[Any], list[SecretRef]] = no_secrets
    # (spec model) -> the Kubernetes resources it names (policyRefs, volumeRef...), resolved before use
    references: Callable[[Any], list[Reference]] = no_references
    # (remote object) -> kind-specific fields of status.atProvider (beyond name, workspace, status...)
    at_provider_extra: Callable[[Mapping[str, Any]], dict[str, Any]] = no_extra
    # (remote read with show_secrets, desired payload) -> whether every secret value is the desired one
    secrets_match: Callable[[Mapping[str, Any], Mapping[str, Any]], bool] = cannot_compare_secrets
    # Deployables (agents, functions, models, jobs) redeploy on every write: right after one, a DEPLOYED
    # or FAILED left over from the previous deployment is not the answer yet.
    redeploys_on_write: bool = True
    # (remote object) -> the part of it Blaxel's listings show, when they show only a projection (volumes:
    # LiteVolume, no labels, no events). None: a listed object is the whole object.
    list_shape: Callable[[Mapping[str, Any]], dict[str, Any]] | None = None
    singular: str = ""
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = field(default=("blaxel",))
    spec_model: type[BaseModel] | None = None
    # The CRD (crdgen): the status schema (None: ResourceStatus) and the columns of `kubectl get`
    status_model: type[BaseModel] | None = None
    printer_columns: tuple[PrinterColumn, ...] = ()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}"

    @property
    def compares_secrets(self) -> bool:
        """Whether the kind can compare secret values read with show_secrets (Blaxel documents the
        parameter for agents, functions and jobs)."""
        return self.secrets_match is not cannot_compare_secrets
