"""BlaxelModel <-> Blaxel Model (a gateway endpoint to an LLM provider): spec model, payload, comparison."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from pydantic import ConfigDict, Field

from ..crdgen import PrinterColumn
from . import common
from .base import (
    AtProvider,
    CamelModel,
    Kind,
    Readiness,
    Reference,
    ResolvedRefs,
    ResourceStatus,
    SecretValues,
    no_secrets,
)
from .common import ConnectionNames, ConnectionRefs, Flavor, PolicyNames, PolicyRefs, SpecBase
from .deployable import deployment_readiness

NOUN = "model"
NAME_FIELD = "modelName"

ProviderType = Literal[
    "hf_private_endpoint",
    "hf_public_endpoint",
    "huggingface",
    "public_model",
    "mcp",
    "openai",
    "anthropic",
    "gemini",
    "mistral",
    "deepseek",
    "cohere",
    "cerebras",
    "xai",
    "vertexai",
    "azure-openai-service",
    "azure-ai-inference",
    "azure-marketplace",
    "groq",
]


class ModelRuntime(CamelModel):
    """Which provider and model the gateway proxies to (no envs: credentials come from connections)."""

    endpoint_name: str | None = Field(
        default=None, max_length=256, description="Provider-specific endpoint name."
    )
    generation: Literal["mk2", "mk3"] | None = Field(
        default=None,
        description="Empty (default) uses the classic path; mk3 deploys through the model-gateway.",
    )
    model: str | None = Field(default=None, max_length=256, description="Model identifier at the provider.")
    organization: str | None = Field(
        default=None, max_length=256, description="Organization at the provider."
    )
    type: ProviderType | None = Field(default=None, description="LLM provider type.")


class BlaxelModelSpec(SpecBase):
    """spec of a BlaxelModel: the Blaxel model's fields plus the operator's own."""

    # `model_name` is the kind's name override, not pydantic's namespace
    model_config = ConfigDict(protected_namespaces=(), json_schema_extra=common.spec_rules(NAME_FIELD, NOUN))

    model_name: str | None = common.remote_name_field(NAME_FIELD, NOUN)
    enabled: bool | None = Field(default=None, description="When false the endpoint accepts no requests.")
    flavors: list[Flavor] | None = Field(default=None, max_length=32)
    integration_connections: ConnectionNames = None
    integration_connection_refs: ConnectionRefs = None
    policies: PolicyNames = None
    policy_refs: PolicyRefs = None
    runtime: ModelRuntime | None = None
    sandbox: bool | None = Field(default=None, description="Use the connection's sandbox/test credentials.")

    NOT_IN_BLAXEL_SPEC: ClassVar[frozenset[str]] = SpecBase.NOT_IN_BLAXEL_SPEC | {
        "model_name",
        "policy_refs",
        "integration_connection_refs",
    }


OPERATOR_FIELDS = common.BASE_FIELDS | common.REFERENCE_FIELDS | {NAME_FIELD}
ROOT_VALIDATIONS = [common.metadata_name_rule(NAME_FIELD, NOUN)]
DEFAULTS: Mapping[str, Any] = {"enabled": True}


def parse_spec(spec: Mapping[str, Any]) -> BlaxelModelSpec:
    return BlaxelModelSpec.model_validate(dict(spec))


def remote_name(spec: BlaxelModelSpec, resource_name: str) -> str:
    return spec.model_name or resource_name


def references(spec: BlaxelModelSpec) -> list[Reference]:
    return common.spec_references(spec)


def build_payload(
    spec: BlaxelModelSpec,
    name: str,
    secrets: SecretValues,
    extra_labels: Mapping[str, str],
    refs: ResolvedRefs | None = None,
) -> dict[str, Any]:
    """The Blaxel Model payload for POST/PUT: the fields that are set, and the defaults that are compared
    (DEFAULTS): were Blaxel's PUT to merge, a field left out would keep an out-of-band value for good."""
    body = common.spec_body(spec, spec.NOT_IN_BLAXEL_SPEC)
    common.apply_references(body, spec, refs)
    common.fill_defaults(body, DEFAULTS)
    return {"metadata": common.metadata_payload(spec, name, extra_labels), "spec": body}


def has_secret_values(payload: Mapping[str, Any]) -> bool:
    """A model carries no secret: its provider credentials live in integration connections."""
    return False


def comparable_desired(payload: Mapping[str, Any]) -> dict[str, Any]:
    return common.deployable_comparable_desired(payload, DEFAULTS)


def comparable_observed(observed: Mapping[str, Any], desired: Mapping[str, Any]) -> dict[str, Any]:
    return common.deployable_comparable_observed(observed, desired, DEFAULTS)


def readiness(remote: Mapping[str, Any], desired: Mapping[str, Any]) -> Readiness:
    return deployment_readiness(remote, desired, NOUN)


def at_provider_extra(remote: Mapping[str, Any]) -> dict[str, Any]:
    """The model's inference endpoint."""
    return common.url_extra(remote)


class ModelAtProvider(AtProvider):
    """The remote model as Blaxel reports it."""

    url: str | None = Field(default=None, description="The model's inference endpoint.")


class BlaxelModelStatus(ResourceStatus):
    """Observed state, written by blaxel-operator only."""

    at_provider: ModelAtProvider | None = None


AT_PROVIDER_FIELDS = common.at_provider_fields(ModelAtProvider)

KIND = Kind(
    kind="BlaxelModel",
    group="blaxel.ai",
    version="v1alpha1",
    plural="blaxelmodels",
    api_collection="models",
    noun=NOUN,
    parse_spec=parse_spec,
    remote_name=remote_name,
    build_payload=build_payload,
    comparable_desired=comparable_desired,
    comparable_observed=comparable_observed,
    readiness=readiness,
    has_secret_values=has_secret_values,
    secret_refs=no_secrets,
    references=references,
    at_provider_extra=at_provider_extra,
    redeploys_on_write=True,
    singular="blaxelmodel",
    short_names=("blmodel",),
    spec_model=BlaxelModelSpec,
    status_model=BlaxelModelStatus,
    printer_columns=common.printer_columns("Model", PrinterColumn("URL", ".status.atProvider.url")),
)
