"""BlaxelPolicy <-> Blaxel Policy (where and how deployments run): spec model, payload, comparison.

A policy has no deployment: it is ready as soon as it exists (drift is the generic comparison's business).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from pydantic import ConfigDict, Field

from ..crdgen import PrinterColumn
from . import common
from .base import (
    AtProvider,
    CamelModel,
    Kind,
    Phase,
    Readiness,
    ResolvedRefs,
    ResourceStatus,
    SecretValues,
    no_references,
    no_secrets,
)
from .common import Flavor, SpecBase

NOUN = "policy"
NAME_FIELD = "policyName"


class PolicyLocation(CamelModel):
    name: str | None = Field(default=None, max_length=63, description="e.g. EU, us-pdx-1, FR")
    type: Literal["location", "country", "continent"] | None = None


class PolicyMaxTokens(CamelModel):
    granularity: str | None = Field(default=None, max_length=32, description="e.g. minute")
    input: int | None = Field(default=None, ge=0)
    output: int | None = Field(default=None, ge=0)
    ratio_input_over_output: int | None = Field(default=None, ge=0)
    step: int | None = Field(default=None, ge=0)
    total: int | None = Field(default=None, ge=0)


PolicyResourceType = Literal["model", "function", "agent", "sandbox", "application"]


class BlaxelPolicySpec(SpecBase):
    """spec of a BlaxelPolicy: the Blaxel policy's fields plus the operator's own."""

    model_config = ConfigDict(json_schema_extra=common.spec_rules(NAME_FIELD, NOUN))

    policy_name: str | None = common.remote_name_field(NAME_FIELD, NOUN)
    flavors: list[Flavor] | None = Field(
        default=None, max_length=32, description="Hardware allowed (type flavor)."
    )
    locations: list[PolicyLocation] | None = Field(
        default=None, max_length=64, description="Where deployments may run (type location)."
    )
    max_tokens: PolicyMaxTokens | None = Field(default=None, description="Token limits (type maxToken).")
    resource_types: list[PolicyResourceType] | None = Field(
        default=None, max_length=5, description="Kinds of resources the policy applies to."
    )
    sandbox: bool | None = Field(default=None, description="Sandbox mode.")
    type: Literal["location", "flavor", "maxToken"] | None = None

    NOT_IN_BLAXEL_SPEC: ClassVar[frozenset[str]] = SpecBase.NOT_IN_BLAXEL_SPEC | {"policy_name"}


OPERATOR_FIELDS = common.BASE_FIELDS | {NAME_FIELD}
ROOT_VALIDATIONS = [common.metadata_name_rule(NAME_FIELD, NOUN)]


def parse_spec(spec: Mapping[str, Any]) -> BlaxelPolicySpec:
    return BlaxelPolicySpec.model_validate(dict(spec))


def remote_name(spec: BlaxelPolicySpec, resource_name: str) -> str:
    return spec.policy_name or resource_name


def build_payload(
    spec: BlaxelPolicySpec,
    name: str,
    secrets: SecretValues,
    extra_labels: Mapping[str, str],
    refs: ResolvedRefs | None = None,
) -> dict[str, Any]:
    """The Blaxel Policy payload for POST/PUT: only the fields that are set."""
    body = common.spec_body(spec, spec.NOT_IN_BLAXEL_SPEC)
    return {"metadata": common.metadata_payload(spec, name, extra_labels), "spec": body}


def has_secret_values(payload: Mapping[str, Any]) -> bool:
    return False


def comparable_desired(payload: Mapping[str, Any]) -> dict[str, Any]:
    """Everything a policy payload says can be compared: it holds no secret and no default to fill."""
    return copy.deepcopy(dict(payload))


def comparable_observed(observed: Mapping[str, Any], desired: Mapping[str, Any]) -> dict[str, Any]:
    """The observed policy: its metadata and spec (usage counts are server-computed), unordered lists
    aligned to the desired order."""
    result = common.observed_parts(observed)
    spec = result["spec"]
    want = desired.get("spec") or {}
    common.align_at(spec, want, ("flavors",), common.by_type_and_name)
    common.align_at(spec, want, ("locations",), common.by_type_and_name)
    common.align_at(spec, want, ("resourceTypes",), common.same)
    return result


def readiness(remote: Mapping[str, Any], desired: Mapping[str, Any]) -> Readiness:
    name = (remote.get("metadata") or {}).get("name", "")
    return Readiness(Phase.READY, "Available", f"{NOUN} {name} is available")


def at_provider_extra(remote: Mapping[str, Any]) -> dict[str, Any]:
    """The policy's type, and how many resources use it when Blaxel says (listing responses)."""
    extra: dict[str, Any] = {}
    policy_type = (remote.get("spec") or {}).get("type")
    if policy_type:
        extra["policyType"] = policy_type
    usage = remote.get("usage")
    if isinstance(usage, dict) and usage:
        extra["usage"] = {k: v for k, v in usage.items() if isinstance(v, int)}
    return extra


class PolicyAtProvider(AtProvider):
    """The remote policy as Blaxel reports it."""

    policy_type: str | None = Field(default=None, description="location, flavor or maxToken.")
    usage: dict[str, int] | None = Field(
        default=None, description="How many resources of each kind use the policy, when Blaxel says."
    )


class BlaxelPolicyStatus(ResourceStatus):
    """Observed state, written by blaxel-operator only."""

    at_provider: PolicyAtProvider | None = None


AT_PROVIDER_FIELDS = common.at_provider_fields(PolicyAtProvider)

KIND = Kind(
    kind="BlaxelPolicy",
    group="blaxel.ai",
    version="v1alpha1",
    plural="blaxelpolicies",
    api_collection="policies",
    noun=NOUN,
    parse_spec=parse_spec,
    remote_name=remote_name,
    build_payload=build_payload,
    comparable_desired=comparable_desired,
    comparable_observed=comparable_observed,
    readiness=readiness,
    has_secret_values=has_secret_values,
    secret_refs=no_secrets,
    references=no_references,
    at_provider_extra=at_provider_extra,
    redeploys_on_write=False,
    singular="blaxelpolicy",
    short_names=("blpol",),
    spec_model=BlaxelPolicySpec,
    status_model=BlaxelPolicyStatus,
    # a policy has no status on Blaxel: no STATUS column
    printer_columns=common.printer_columns(
        "Policy", PrinterColumn("Type", ".status.atProvider.policyType"), remote_status=False
    ),
)
