"""BlaxelIntegrationConnection <-> Blaxel IntegrationConnection (credentials and settings for an external
service): the spec model, the API payload and comparison rules.

Secret material is never in a spec: every value of `secret` comes from a key of a Secret in the same
namespace (`valueFrom.secretKeyRef`), is sent to Blaxel as is, and is never compared (Blaxel masks it).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, ClassVar

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
    SecretRef,
    SecretValues,
    no_references,
)
from .common import EnvSource, SpecBase

NOUN = "integration connection"
NAME_FIELD = "connectionName"
# What stands for a secret value on both sides of a comparison: only which keys exist is compared.
MASKED = "<masked>"


class SecretValueSource(CamelModel):
    value_from: EnvSource = Field(
        description="Where the value comes from: a key of a Secret in this namespace."
    )


class BlaxelIntegrationConnectionSpec(SpecBase):
    """spec of a BlaxelIntegrationConnection: the Blaxel connection's fields plus the operator's own."""

    model_config = ConfigDict(json_schema_extra=common.spec_rules(NAME_FIELD, NOUN))

    connection_name: str | None = common.remote_name_field(NAME_FIELD, NOUN)
    config: dict[str, str] | None = Field(
        default=None, max_length=64, description="Non-sensitive settings (e.g. organization ID, region)."
    )
    integration: str = Field(
        min_length=1, max_length=63, description="Integration provider type, e.g. openai, anthropic, github."
    )
    sandbox: bool | None = Field(
        default=None, description="Use sandbox/test credentials instead of production."
    )
    secret: dict[str, SecretValueSource] | None = Field(
        default=None,
        max_length=64,
        description="Credentials, each read from a key of a Secret in this namespace (never inline).",
    )

    NOT_IN_BLAXEL_SPEC: ClassVar[frozenset[str]] = SpecBase.NOT_IN_BLAXEL_SPEC | {"connection_name"}


OPERATOR_FIELDS = common.BASE_FIELDS | {NAME_FIELD}
ROOT_VALIDATIONS = [common.metadata_name_rule(NAME_FIELD, NOUN)]


def parse_spec(spec: Mapping[str, Any]) -> BlaxelIntegrationConnectionSpec:
    return BlaxelIntegrationConnectionSpec.model_validate(dict(spec))


def remote_name(spec: BlaxelIntegrationConnectionSpec, resource_name: str) -> str:
    return spec.connection_name or resource_name


def secret_refs(spec: BlaxelIntegrationConnectionSpec) -> list[SecretRef]:
    refs: list[SecretRef] = []
    for source in (spec.secret or {}).values():
        ref = common.secret_ref(source.value_from)
        if ref not in refs:
            refs.append(ref)
    return refs


def build_payload(
    spec: BlaxelIntegrationConnectionSpec,
    name: str,
    secrets: SecretValues,
    extra_labels: Mapping[str, str],
    refs: ResolvedRefs | None = None,
) -> dict[str, Any]:
    """The Blaxel IntegrationConnection payload for POST/PUT: only the fields that are set, secret values
    read from `secrets` (placeholders where absent, as `render` shows them)."""
    body = common.spec_body(spec, spec.NOT_IN_BLAXEL_SPEC | {"secret"})
    if spec.secret is not None:
        values: dict[str, str] = {}
        for key, source in spec.secret.items():
            ref = common.secret_ref(source.value_from)
            values[key] = secrets.get(ref, common.placeholder_secret(ref))
        body["secret"] = values
    return {"metadata": common.metadata_payload(spec, name, extra_labels), "spec": body}


def has_secret_values(payload: Mapping[str, Any]) -> bool:
    return bool((payload.get("spec") or {}).get("secret"))


def comparable_desired(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The payload with every secret value masked: only the set of secret keys is compared."""
    desired = copy.deepcopy(dict(payload))
    spec = desired.setdefault("spec", {})
    if isinstance(spec.get("secret"), dict):
        spec["secret"] = {key: MASKED for key in spec["secret"]}
    return desired


def comparable_observed(observed: Mapping[str, Any], desired: Mapping[str, Any]) -> dict[str, Any]:
    """The observed connection, secret values masked. Blaxel masks secrets in responses without saying
    how: when it leaves them out altogether, nothing can be said about them (not drift)."""
    result = common.observed_parts(observed)
    spec = result["spec"]
    secret = spec.get("secret")
    if isinstance(secret, dict) and secret:
        spec["secret"] = {key: MASKED for key in secret}
    else:
        wanted = (desired.get("spec") or {}).get("secret")
        if isinstance(wanted, dict):
            spec["secret"] = {key: MASKED for key in wanted}
        else:
            spec.pop("secret", None)
    return result


def readiness(remote: Mapping[str, Any], desired: Mapping[str, Any]) -> Readiness:
    name = (remote.get("metadata") or {}).get("name", "")
    return Readiness(Phase.READY, "Available", f"{NOUN} {name} is available")


def at_provider_extra(remote: Mapping[str, Any]) -> dict[str, Any]:
    """The provider the connection is for."""
    integration = (remote.get("spec") or {}).get("integration")
    return {"integration": integration} if integration else {}


class IntegrationConnectionAtProvider(AtProvider):
    """The remote connection as Blaxel reports it."""

    integration: str | None = Field(default=None, description="The provider, e.g. openai.")


class BlaxelIntegrationConnectionStatus(ResourceStatus):
    """Observed state, written by blaxel-operator only."""

    at_provider: IntegrationConnectionAtProvider | None = None


AT_PROVIDER_FIELDS = common.at_provider_fields(IntegrationConnectionAtProvider)

KIND = Kind(
    kind="BlaxelIntegrationConnection",
    group="blaxel.ai",
    version="v1alpha1",
    plural="blaxelintegrationconnections",
    api_collection="integrations/connections",
    noun=NOUN,
    parse_spec=parse_spec,
    remote_name=remote_name,
    build_payload=build_payload,
    comparable_desired=comparable_desired,
    comparable_observed=comparable_observed,
    readiness=readiness,
    has_secret_values=has_secret_values,
    secret_refs=secret_refs,
    references=no_references,
    at_provider_extra=at_provider_extra,
    redeploys_on_write=False,
    singular="blaxelintegrationconnection",
    short_names=("blconn",),
    spec_model=BlaxelIntegrationConnectionSpec,
    status_model=BlaxelIntegrationConnectionStatus,
    # a connection has no status on Blaxel: no STATUS column
    printer_columns=common.printer_columns(
        "Connection",
        PrinterColumn("Integration", ".status.atProvider.integration"),
        remote_status=False,
    ),
)
