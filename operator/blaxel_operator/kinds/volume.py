"""BlaxelVolume <-> Blaxel Volume (persistent storage): the spec model, the API payload and comparison.

Blaxel declares a volume's configuration fixed at creation, except that its size may grow: the CRD says
so with CEL transition rules (region and template immutable, size never smaller).
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
    Kind,
    Phase,
    Readiness,
    ResolvedRefs,
    ResourceStatus,
    SecretValues,
    no_references,
    no_secrets,
)
from .common import SpecBase, cel

NOUN = "volume"
NAME_FIELD = "volumeName"

# Blaxel computes a volume's `status` from its events and does not publish the set of values; the
# listing's status filter takes the deployment statuses, so these are read the same way.
DEPLOYED = "DEPLOYED"
FAILED = "FAILED"
DELETING = "DELETING"
TERMINATED = "TERMINATED"


class BlaxelVolumeSpec(SpecBase):
    """spec of a BlaxelVolume: the Blaxel volume's fields plus the operator's own."""

    model_config = ConfigDict(
        json_schema_extra=common.spec_rules(
            NAME_FIELD,
            NOUN,
            (
                "has(self.region) == has(oldSelf.region)",
                "spec.region is immutable: it cannot be added or removed",
            ),
            (
                "has(self.template) == has(oldSelf.template)",
                "spec.template is immutable: it cannot be added or removed",
            ),
            ("!has(oldSelf.size) || has(self.size)", "spec.size cannot be removed once set"),
        )
    )

    volume_name: str | None = common.remote_name_field(NAME_FIELD, NOUN)
    region: str | None = Field(
        default=None,
        max_length=63,
        pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$",
        description="Region of the volume, e.g. us-pdx-1; must match the region of what mounts it. Immutable.",
        json_schema_extra=common.immutable("spec.region"),
    )
    size: int | None = Field(
        default=None,
        ge=1,
        description="Capacity in MB. Can grow after creation, never shrink.",
        json_schema_extra=cel(("self >= oldSelf", "spec.size can grow, never shrink")),
    )
    template: str | None = Field(
        default=None,
        max_length=256,
        description='Volume template to initialise from, e.g. "mytemplate:latest". Immutable.',
        json_schema_extra=common.immutable("spec.template"),
    )

    NOT_IN_BLAXEL_SPEC: ClassVar[frozenset[str]] = SpecBase.NOT_IN_BLAXEL_SPEC | {"volume_name"}


OPERATOR_FIELDS = common.BASE_FIELDS | {NAME_FIELD}
ROOT_VALIDATIONS = [common.metadata_name_rule(NAME_FIELD, NOUN)]


def parse_spec(spec: Mapping[str, Any]) -> BlaxelVolumeSpec:
    return BlaxelVolumeSpec.model_validate(dict(spec))


def remote_name(spec: BlaxelVolumeSpec, resource_name: str) -> str:
    return spec.volume_name or resource_name


def build_payload(
    spec: BlaxelVolumeSpec,
    name: str,
    secrets: SecretValues,
    extra_labels: Mapping[str, str],
    refs: ResolvedRefs | None = None,
) -> dict[str, Any]:
    """The Blaxel Volume payload for POST/PUT: only the fields that are set."""
    body = common.spec_body(spec, spec.NOT_IN_BLAXEL_SPEC)
    return {"metadata": common.metadata_payload(spec, name, extra_labels), "spec": body}


def has_secret_values(payload: Mapping[str, Any]) -> bool:
    return False


def comparable_desired(payload: Mapping[str, Any]) -> dict[str, Any]:
    """Everything a volume payload says can be compared: no secret, no documented default."""
    return copy.deepcopy(dict(payload))


def comparable_observed(observed: Mapping[str, Any], desired: Mapping[str, Any]) -> dict[str, Any]:
    """The observed volume's metadata and spec (state, status, events and terminatedAt are server-set)."""
    return common.observed_parts(observed)


def readiness(remote: Mapping[str, Any], desired: Mapping[str, Any]) -> Readiness:
    """Usable once it exists and is neither failed nor going away.

    A volume with no status yet is taken as usable: Blaxel's SDKs mount a volume right after creating it,
    and its status only summarises events (there may be none).
    """
    status = str(remote.get("status") or "")
    name = (remote.get("metadata") or {}).get("name", "")
    if remote.get("terminatedAt") or status == DELETING:
        return Readiness(Phase.DELETING, "Deleting", f"{NOUN} {name} is being deleted")
    if status == TERMINATED:
        return Readiness(Phase.TERMINAL, "Unavailable", f"{NOUN} {name} is {status}")
    if status == FAILED:
        return Readiness(Phase.FAILED, "Failed", _failure_message(remote, name))
    if status in (DEPLOYED, ""):
        return Readiness(Phase.READY, "Available", f"{NOUN} {name} is available")
    return Readiness(Phase.PROGRESSING, "Provisioning", f"{NOUN} {name} is {status}")


def _failure_message(remote: Mapping[str, Any], name: str) -> str:
    for event in reversed(remote.get("events") or []):
        if isinstance(event, dict) and event.get("status") == FAILED and event.get("message"):
            return f"{NOUN} {name} failed: {event['message']}"
    return f"{NOUN} {name} failed"


def at_provider_extra(remote: Mapping[str, Any]) -> dict[str, Any]:
    """Size and region as Blaxel reports them, what the volume is attached to, when it was terminated."""
    spec = remote.get("spec") or {}
    state = remote.get("state") or {}
    extra: dict[str, Any] = {}
    if isinstance(spec.get("size"), int):
        extra["size"] = spec["size"]
    if spec.get("region"):
        extra["region"] = spec["region"]
    if isinstance(state, dict) and state.get("attachedTo"):
        extra["attachedTo"] = state["attachedTo"]
    if remote.get("terminatedAt"):
        extra["terminatedAt"] = remote["terminatedAt"]
    return extra


# What a volume listing shows of each volume (LiteVolume, from API version 2026-04-28).
LITE_METADATA = ("name", "displayName", "externalId", "createdAt", "updatedAt")
LITE_SPEC = ("region", "size")


def list_shape(remote: Mapping[str, Any]) -> dict[str, Any]:
    """A volume as the listing shows it (LiteVolume): no labels, no events, only region and size."""
    metadata = remote.get("metadata") or {}
    spec = remote.get("spec") or {}
    shape: dict[str, Any] = {
        "metadata": {k: metadata[k] for k in LITE_METADATA if k in metadata},
        "spec": {k: spec[k] for k in LITE_SPEC if k in spec},
    }
    for key in ("state", "status", "terminatedAt"):
        if key in remote:
            shape[key] = remote[key]
    return shape


class VolumeAtProvider(AtProvider):
    """The remote volume as Blaxel reports it."""

    size: int | None = Field(default=None, description="Capacity in MB.")
    region: str | None = None
    attached_to: str | None = Field(default=None, description='What uses the volume, "type:name".')
    terminated_at: str | None = None


class BlaxelVolumeStatus(ResourceStatus):
    """Observed state, written by blaxel-operator only."""

    at_provider: VolumeAtProvider | None = None


AT_PROVIDER_FIELDS = common.at_provider_fields(VolumeAtProvider)

KIND = Kind(
    kind="BlaxelVolume",
    group="blaxel.ai",
    version="v1alpha1",
    plural="blaxelvolumes",
    api_collection="volumes",
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
    # a resize is no redeployment: a status read right after a write is current
    redeploys_on_write=False,
    list_shape=list_shape,
    singular="blaxelvolume",
    short_names=("blvol",),
    spec_model=BlaxelVolumeSpec,
    status_model=BlaxelVolumeStatus,
    printer_columns=common.printer_columns(
        "Volume",
        PrinterColumn("Size", ".status.atProvider.size", type="integer", description="Capacity in MB"),
        PrinterColumn("Region", ".status.atProvider.region", priority=1),
    ),
)
