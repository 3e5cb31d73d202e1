"""BlaxelJob <-> Blaxel Job (a batch job definition): the spec model, the API payload and comparison rules."""

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
    SecretRef,
    SecretValues,
)
from .common import PolicyNames, PolicyRefs, Port, RevisionConfiguration, RuntimeBase, SpecBase, Trigger
from .deployable import deployment_readiness, secret_envs_match

NOUN = "job"
NAME_FIELD = "jobName"


class JobRuntime(RuntimeBase):
    disk_percent: int | None = Field(
        default=None, ge=10, le=95, description="Percent of VM RAM for disk (tmpfs), mk3 only; default 50."
    )
    max_retries: int | None = Field(default=None, ge=0, description="Retries of a failed task.")
    ports: list[Port] | None = Field(default=None, max_length=32)
    timeout: int | None = Field(default=None, ge=1, description="Seconds before a task is terminated.")


class GithubRunnerConfig(CamelModel):
    repositories: list[str] | None = Field(
        default=None, max_length=64, description="owner/repo whose workflow jobs this runner picks up."
    )


class JobVolume(CamelModel):
    """An ephemeral volume, created when the job starts and destroyed when it completes (Blaxel's jobs
    take no persistent volume, hence no volumeRef)."""

    mount_path: str = Field(max_length=1024, pattern=r"^/.*")
    name: str = Field(min_length=1, max_length=63)
    read_only: bool | None = None
    size_mb: int = Field(ge=1)
    type: Literal["ephemeral"]


class BlaxelJobSpec(SpecBase):
    """spec of a BlaxelJob: the Blaxel job's fields plus the operator's own."""

    model_config = ConfigDict(json_schema_extra=common.spec_rules(NAME_FIELD, NOUN))

    job_name: str | None = common.remote_name_field(NAME_FIELD, NOUN)
    enabled: bool | None = Field(default=None, description="When false no new execution can be triggered.")
    github_runner: GithubRunnerConfig | None = None
    policies: PolicyNames = None
    policy_refs: PolicyRefs = None
    region: str | None = Field(
        default=None, max_length=63, pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", description="e.g. us-was-1"
    )
    revision: RevisionConfiguration | None = None
    runtime: JobRuntime | None = None
    triggers: list[Trigger] | None = Field(default=None, max_length=64)
    volumes: list[JobVolume] | None = Field(
        default=None,
        max_length=32,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )

    NOT_IN_BLAXEL_SPEC: ClassVar[frozenset[str]] = SpecBase.NOT_IN_BLAXEL_SPEC | {"job_name", "policy_refs"}


OPERATOR_FIELDS = common.BASE_FIELDS | {"policyRefs", NAME_FIELD}
ROOT_VALIDATIONS = [common.metadata_name_rule(NAME_FIELD, NOUN)]
DEFAULTS: Mapping[str, Any] = {"enabled": True}


def parse_spec(spec: Mapping[str, Any]) -> BlaxelJobSpec:
    return BlaxelJobSpec.model_validate(dict(spec))


def remote_name(spec: BlaxelJobSpec, resource_name: str) -> str:
    return spec.job_name or resource_name


def secret_refs(spec: BlaxelJobSpec) -> list[SecretRef]:
    return common.env_secret_refs(spec.runtime)


def references(spec: BlaxelJobSpec) -> list[Reference]:
    return common.spec_references(spec)


def build_payload(
    spec: BlaxelJobSpec,
    name: str,
    secrets: SecretValues,
    extra_labels: Mapping[str, str],
    refs: ResolvedRefs | None = None,
) -> dict[str, Any]:
    """The Blaxel Job payload for POST/PUT: the fields that are set, and the defaults that are compared
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
    result = common.deployable_comparable_observed(observed, desired, DEFAULTS)
    common.align_at(result["spec"], desired.get("spec") or {}, ("githubRunner", "repositories"), common.same)
    return result


def readiness(remote: Mapping[str, Any], desired: Mapping[str, Any]) -> Readiness:
    return deployment_readiness(remote, desired, NOUN)


def at_provider_extra(remote: Mapping[str, Any]) -> dict[str, Any]:
    return common.url_extra(remote)


class JobAtProvider(AtProvider):
    """The remote job as Blaxel reports it."""

    url: str | None = Field(default=None, description="The job's endpoint, when Blaxel gives one.")


class BlaxelJobStatus(ResourceStatus):
    """Observed state, written by blaxel-operator only."""

    at_provider: JobAtProvider | None = None


AT_PROVIDER_FIELDS = common.at_provider_fields(JobAtProvider)

KIND = Kind(
    kind="BlaxelJob",
    group="blaxel.ai",
    version="v1alpha1",
    plural="blaxeljobs",
    api_collection="jobs",
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
    singular="blaxeljob",
    short_names=("bljob",),
    spec_model=BlaxelJobSpec,
    status_model=BlaxelJobStatus,
    printer_columns=common.printer_columns("Job", PrinterColumn("URL", ".status.atProvider.url")),
)
