"""BlaxelFunction <-> Blaxel Function (an MCP server): the spec model, the API payload and comparison rules."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from pydantic import ConfigDict, Field

from ..crdgen import PrinterColumn
from . import common
from .base import (
    AtProvider,
    Kind,
    Readiness,
    Reference,
    ResolvedRefs,
    ResourceStatus,
    SecretRef,
    SecretValues,
)
from .common import (
    ConnectionNames,
    ConnectionRefs,
    PolicyNames,
    PolicyRefs,
    Port,
    RevisionConfiguration,
    ScaledRuntime,
    SpecBase,
    Trigger,
)
from .deployable import deployment_readiness, secret_envs_match

NOUN = "function"
NAME_FIELD = "functionName"


class FunctionRuntime(ScaledRuntime):
    ports: list[Port] | None = Field(default=None, max_length=32)
    transport: Literal["websocket", "http-stream"] | None = Field(
        default=None, description="MCP transport: websocket or http-stream."
    )


class BlaxelFunctionSpec(SpecBase):
    """spec of a BlaxelFunction: the Blaxel function's fields plus the operator's own."""

    model_config = ConfigDict(
        json_schema_extra=common.spec_rules(
            NAME_FIELD,
            NOUN,
            (
                "!has(self.public) || !self.public || !has(self.runtime) || !has(self.runtime.generation) "
                "|| self.runtime.generation == 'mk3'",
                "spec.public is only available with runtime.generation mk3",
            ),
        )
    )

    function_name: str | None = common.remote_name_field(NAME_FIELD, NOUN)
    enabled: bool | None = Field(default=None, description="When false the function serves no requests.")
    integration_connections: ConnectionNames = None
    integration_connection_refs: ConnectionRefs = None
    policies: PolicyNames = None
    policy_refs: PolicyRefs = None
    public: bool | None = Field(default=None, description="Reachable without authentication (mk3 only).")
    region: str | None = Field(
        default=None,
        max_length=63,
        pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$",
        description="Region to deploy to, e.g. us-pdx-1 (default: from policy locations).",
    )
    revision: RevisionConfiguration | None = None
    runtime: FunctionRuntime | None = None
    triggers: list[Trigger] | None = Field(default=None, max_length=64)

    NOT_IN_BLAXEL_SPEC: ClassVar[frozenset[str]] = SpecBase.NOT_IN_BLAXEL_SPEC | {
        "function_name",
        "policy_refs",
        "integration_connection_refs",
    }


# Fields of the spec that are not in Blaxel's FunctionSpec.
OPERATOR_FIELDS = common.BASE_FIELDS | common.REFERENCE_FIELDS | {NAME_FIELD}
ROOT_VALIDATIONS = [common.metadata_name_rule(NAME_FIELD, NOUN)]
DEFAULTS: Mapping[str, Any] = {"enabled": True, "public": False}


def parse_spec(spec: Mapping[str, Any]) -> BlaxelFunctionSpec:
    return BlaxelFunctionSpec.model_validate(dict(spec))


def remote_name(spec: BlaxelFunctionSpec, resource_name: str) -> str:
    return spec.function_name or resource_name


def secret_refs(spec: BlaxelFunctionSpec) -> list[SecretRef]:
    return common.env_secret_refs(spec.runtime)


def references(spec: BlaxelFunctionSpec) -> list[Reference]:
    return common.spec_references(spec)


def build_payload(
    spec: BlaxelFunctionSpec,
    name: str,
    secrets: SecretValues,
    extra_labels: Mapping[str, str],
    refs: ResolvedRefs | None = None,
) -> dict[str, Any]:
    """The Blaxel Function payload for POST/PUT: the fields that are set, and the defaults that are compared
    (DEFAULTS): were Blaxel's PUT to merge, a field left out would keep an out-of-band value for good."""
    body = common.spec_body(spec, spec.NOT_IN_BLAXEL_SPEC)
    common.fill_envs(body, spec.runtime, secrets)
    common.apply_references(body, spec, refs)
    common.fill_defaults(body, DEFAULTS)
    return {"metadata": common.metadata_payload(spec, name, extra_labels), "spec": body}


def has_secret_values(payload: Mapping[str, Any]) -> bool:
    return common.has_secret_envs(payload)


def comparable_desired(payload: Mapping[str, Any]) -> dict[str, Any]:
    return common.deployable_comparable_desired(payload, DEFAULTS)


def comparable_observed(observed: Mapping[str, Any], desired: Mapping[str, Any]) -> dict[str, Any]:
    return common.deployable_comparable_observed(observed, desired, DEFAULTS)


def readiness(remote: Mapping[str, Any], desired: Mapping[str, Any]) -> Readiness:
    return deployment_readiness(remote, desired, NOUN)


def at_provider_extra(remote: Mapping[str, Any]) -> dict[str, Any]:
    """The function's MCP endpoint."""
    return common.url_extra(remote)


class FunctionAtProvider(AtProvider):
    """The remote function as Blaxel reports it."""

    url: str | None = Field(default=None, description="The function's MCP endpoint.")


class BlaxelFunctionStatus(ResourceStatus):
    """Observed state, written by blaxel-operator only."""

    at_provider: FunctionAtProvider | None = None


AT_PROVIDER_FIELDS = common.at_provider_fields(FunctionAtProvider)

KIND = Kind(
    kind="BlaxelFunction",
    group="blaxel.ai",
    version="v1alpha1",
    plural="blaxelfunctions",
    api_collection="functions",
    noun=NOUN,
    parse_spec=parse_spec,
    remote_name=remote_name,
    build_payload=build_payload,
    comparable_desired=comparable_desired,
    comparable_observed=comparable_observed,
    readiness=readiness,
    has_secret_values=has_secret_values,
    secrets_match=secret_envs_match,
    secret_refs=secret_refs,
    references=references,
    at_provider_extra=at_provider_extra,
    redeploys_on_write=True,
    singular="blaxelfunction",
    short_names=("blfn",),
    spec_model=BlaxelFunctionSpec,
    status_model=BlaxelFunctionStatus,
    printer_columns=common.printer_columns("Function", PrinterColumn("URL", ".status.atProvider.url")),
)
