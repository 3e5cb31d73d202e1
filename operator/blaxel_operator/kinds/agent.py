"""BlaxelAgent <-> Blaxel Agent: the spec model, the API payload and comparison rules."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import ConfigDict, Field

from ..crdgen import PrinterColumn, Rule, crd
from . import common
from .base import (
    AtProvider,
    CamelModel,
    CredentialsRef,
    Kind,
    Readiness,
    ResolvedRefs,
    ResourceStatus,
    SecretKeySelector,
    SecretRef,
    SecretValues,
)
from .deployable import deployment_readiness, secret_envs_match

NAME_PATTERN = r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$"
MAX_NAME_LENGTH = 49
# Blaxel's documented defaults of spec.enabled and spec.public
DEFAULT_ENABLED = True
DEFAULT_PUBLIC = False
# Blaxel's metadata.externalId: "Max 64 chars, alphanumeric + dash"
EXTERNAL_ID_PATTERN = r"^[A-Za-z0-9-]+$"

# Bounds: only what Blaxel states (controlplane.yml and its prose), so that every agent Blaxel accepts
# can be imported. Counts and sizes are non-negative; percentages are 0..100. The lists whose items carry
# CEL rules (envs, triggers, volumes) keep a maxItems: the apiserver refuses a CRD whose rules' estimated
# cost exceeds its budget, and without maxItems a list is costed as a whole request (3 MiB) of items.


class EnvSource(CamelModel):
    secret_key_ref: SecretKeySelector = Field(
        description="A key of a Secret in this namespace; sent to Blaxel as a secret env."
    )


class EnvVar(CamelModel):
    model_config = ConfigDict(
        json_schema_extra=crd(
            Rule(
                "!(has(self.value) && has(self.valueFrom))", "an env sets either value or valueFrom, not both"
            )
        )
    )

    name: str
    value: str | None = None
    secret: bool | None = Field(
        default=None, description="Marks an inline value as secret on Blaxel (prefer valueFrom)."
    )
    value_from: EnvSource | None = None


class Runtime(CamelModel):
    model_config = ConfigDict(
        json_schema_extra=crd(
            Rule(
                "!has(self.minScale) || !has(self.maxScale) || self.minScale <= self.maxScale",
                "runtime.minScale must not exceed runtime.maxScale",
            )
        )
    )

    generation: Literal["mk2", "mk3"] | None = None
    image: str | None = None
    memory: int | None = Field(default=None, ge=0, description="Memory in MB (CPU = memory / 2048).")
    min_scale: int | None = Field(default=None, ge=0)
    max_scale: int | None = Field(default=None, ge=0)
    envs: list[EnvVar] | None = Field(default=None, max_length=256, json_schema_extra=crd(map_keys=["name"]))


class Repository(CamelModel):
    type: str | None = None
    url: str | None = None


class RevisionConfiguration(CamelModel):
    """Revision and canary traffic configuration."""

    active: str | None = None
    canary: str | None = None
    canary_percent: int | None = Field(default=None, ge=0, le=100)
    sticky_session_ttl: int | None = Field(default=None, ge=0)
    traffic: int | None = Field(default=None, ge=0, le=100)


class TriggerConfiguration(CamelModel):
    authentication_type: str | None = None
    callback_url: str | None = None
    path: str | None = None
    retry: int | None = Field(default=None, ge=0)
    schedule: str | None = None
    tasks: list[dict[str, Any]] | None = None
    timeout: int | None = Field(default=None, ge=0, le=900)


class Trigger(CamelModel):
    model_config = ConfigDict(
        json_schema_extra=crd(
            Rule(
                "!has(self.type) || self.type != 'cron' || "
                "(has(self.configuration) && has(self.configuration.schedule))",
                "a cron trigger needs configuration.schedule",
            )
        )
    )

    id: str | None = None
    type: Literal["http", "http-async", "cron"] | None = None
    enabled: bool | None = None
    configuration: TriggerConfiguration | None = None


class BlaxelAgentSpec(CamelModel):
    """Desired state of the Blaxel agent.

    The Blaxel Agent object's fields (metadata.displayName/externalId/labels and its spec, same names, so
    that the spec of a `bl apply` manifest can be pasted in) plus the operator's own: agentName, workspace,
    credentialsRef, deletionPolicy, and the references policyRefs and volumes[].volumeRef (resources of this
    namespace, resolved to their Blaxel names).
    """

    model_config = ConfigDict(
        json_schema_extra=crd(
            Rule(
                "has(self.agentName) == has(oldSelf.agentName)",
                "spec.agentName is immutable: it cannot be added or removed after creation",
            ),
            Rule(
                "!has(self.volumes) || size(self.volumes) == 0 || has(self.region)",
                "spec.region is required when volumes are attached",
            ),
            Rule(
                "!has(self.public) || !self.public || !has(self.runtime) || !has(self.runtime.generation) "
                "|| self.runtime.generation == 'mk3'",
                "spec.public is only available with runtime.generation mk3",
            ),
            object_rules=[
                Rule(
                    f"has(self.spec.agentName) || (size(self.metadata.name) <= {MAX_NAME_LENGTH} && "
                    f"self.metadata.name.matches('{NAME_PATTERN}'))",
                    "metadata.name is not a valid Blaxel agent name (lowercase alphanumerics and hyphens, at "
                    f"most {MAX_NAME_LENGTH} characters): set spec.agentName",
                )
            ],
        )
    )

    agent_name: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_NAME_LENGTH,
        pattern=NAME_PATTERN,
        description="Name of the remote Blaxel agent. Defaults to metadata.name. Immutable.",
        json_schema_extra=crd(Rule("self == oldSelf", "spec.agentName is immutable")),
    )
    workspace: str | None = Field(
        default=None,
        min_length=1,
        max_length=63,
        pattern=NAME_PATTERN,
        description="Blaxel workspace. Overrides the workspace of the credentials and the operator default.",
    )
    credentials_ref: CredentialsRef | None = Field(
        default=None,
        description="A Secret in this namespace with key apiKey (and optional workspace) used for this agent.",
    )
    deletion_policy: Literal["Delete", "Orphan"] = Field(
        default="Delete", description="What happens to the remote agent when this resource is deleted."
    )
    display_name: str | None = Field(
        default=None, max_length=63, description="Human-readable name shown in the Blaxel console."
    )
    external_id: str | None = Field(
        default=None,
        max_length=64,
        pattern=EXTERNAL_ID_PATTERN,
        description="Caller-owned identifier of the remote agent (metadata.externalId on Blaxel).",
    )
    labels: dict[str, str] | None = Field(
        default=None, description="Labels of the remote agent (metadata.labels on Blaxel)."
    )
    enabled: bool | None = Field(
        default=None, description="When false the agent is deactivated and serves no requests (default true)."
    )
    public: bool | None = Field(
        default=None,
        description="When true the agent is reachable without authentication (mk3 only; default false).",
    )
    region: str | None = Field(
        default=None, description="Region to deploy to, e.g. us-pdx-1. Required when volumes are attached."
    )
    policies: list[str] | None = Field(
        default=None, description="Names of Blaxel policies applied to the agent."
    )
    policy_refs: common.PolicyRefs = None
    repository: Repository | None = None
    revision: RevisionConfiguration | None = None
    runtime: Runtime | None = None
    triggers: list[Trigger] | None = Field(default=None, max_length=64)
    volumes: list[common.VolumeAttachment] | None = Field(default=None, max_length=32)


class AgentAtProvider(AtProvider):
    """The remote agent as Blaxel reports it."""

    url: str | None = Field(default=None, description="The agent's inference endpoint.")


class BlaxelAgentStatus(ResourceStatus):
    """Observed state, written by blaxel-operator only."""

    at_provider: AgentAtProvider | None = None


# Fields of the spec that belong to the operator or to Blaxel's metadata, not to Blaxel's spec.
OPERATOR_FIELDS = {
    "agentName",
    "workspace",
    "credentialsRef",
    "deletionPolicy",
    "displayName",
    "externalId",
    "labels",
    "policyRefs",
}


def parse_spec(spec: Mapping[str, Any]) -> BlaxelAgentSpec:
    return BlaxelAgentSpec.model_validate(dict(spec))


def remote_name(spec: BlaxelAgentSpec, resource_name: str) -> str:
    return spec.agent_name or resource_name


def secret_refs(spec: BlaxelAgentSpec) -> list[SecretRef]:
    refs: list[SecretRef] = []
    for env in (spec.runtime.envs if spec.runtime else None) or []:
        if env.value_from is not None:
            ref = SecretRef(env.value_from.secret_key_ref.name, env.value_from.secret_key_ref.key)
            if ref not in refs:
                refs.append(ref)
    return refs


def placeholder_secret(ref: SecretRef) -> str:
    """What `render` shows in place of a secret value it does not read."""
    return f"<secret {ref.name}/{ref.key}>"


def build_payload(
    spec: BlaxelAgentSpec,
    name: str,
    secrets: SecretValues,
    extra_labels: Mapping[str, str],
    refs: ResolvedRefs | None = None,
) -> dict[str, Any]:
    """The Blaxel Agent payload for POST/PUT: the fields that are set, and every field that is compared.

    `enabled` and `public` are compared against Blaxel's defaults when unset (see comparable_desired), so
    they are always sent: were Blaxel's PUT to merge rather than replace, an out-of-band change of either
    would otherwise be "corrected" by a PUT that leaves it as it is, on every poll.
    """
    metadata: dict[str, Any] = {"name": name}
    if spec.display_name is not None:
        metadata["displayName"] = spec.display_name
    if spec.external_id is not None:
        metadata["externalId"] = spec.external_id
    labels = {**(spec.labels or {}), **extra_labels}
    if labels:
        metadata["labels"] = labels

    body = spec.model_dump(by_alias=True, exclude_none=True, exclude=_operator_field_names())
    common.apply_references(body, spec, refs)
    body["enabled"] = DEFAULT_ENABLED if spec.enabled is None else spec.enabled
    body["public"] = DEFAULT_PUBLIC if spec.public is None else spec.public
    runtime = body.get("runtime")
    if runtime and "envs" in runtime and spec.runtime and spec.runtime.envs is not None:
        runtime["envs"] = [_env_payload(env, secrets) for env in spec.runtime.envs]
    return {"metadata": metadata, "spec": body}


def _operator_field_names() -> set[str]:
    return {
        "agent_name",
        "workspace",
        "credentials_ref",
        "deletion_policy",
        "display_name",
        "external_id",
        "labels",
        "policy_refs",
    }


def _env_payload(env: EnvVar, secrets: SecretValues) -> dict[str, Any]:
    if env.value_from is not None:
        ref = SecretRef(env.value_from.secret_key_ref.name, env.value_from.secret_key_ref.key)
        return {"name": env.name, "value": secrets.get(ref, placeholder_secret(ref)), "secret": True}
    out: dict[str, Any] = {"name": env.name, "value": env.value if env.value is not None else ""}
    if env.secret is not None:
        out["secret"] = env.secret
    return out


def has_secret_values(payload: Mapping[str, Any]) -> bool:
    """Secret envs (from a Secret or marked `secret: true`): masked in responses, never comparable."""
    envs = ((payload.get("spec") or {}).get("runtime") or {}).get("envs") or []
    return any(isinstance(e, dict) and e.get("secret") for e in envs)


def comparable_desired(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The desired payload minus what cannot be compared: secret values (masked by the API)."""
    desired = copy.deepcopy(dict(payload))
    spec = desired.setdefault("spec", {})
    # Blaxel's documented defaults: unset in the spec still means "enabled" and "not public", so an
    # agent switched off or made public outside Kubernetes is drift.
    spec.setdefault("enabled", DEFAULT_ENABLED)
    spec.setdefault("public", DEFAULT_PUBLIC)
    for env in spec.get("runtime", {}).get("envs", []) or []:
        if env.get("secret"):
            env.pop("value", None)
    return desired


def comparable_observed(observed: Mapping[str, Any], desired: Mapping[str, Any]) -> dict[str, Any]:
    """The observed agent, normalised: server-set and masked fields dropped, lists aligned."""
    result: dict[str, Any] = {
        "metadata": copy.deepcopy(dict(observed.get("metadata") or {})),
        "spec": copy.deepcopy(dict(observed.get("spec") or {})),
    }
    spec = result["spec"]
    # absent means the documented default on this side too (see comparable_desired)
    for key, default in (("enabled", DEFAULT_ENABLED), ("public", DEFAULT_PUBLIC)):
        if spec.get(key) is None:
            spec[key] = default
    want_spec = desired.get("spec") or {}
    runtime = spec.get("runtime")
    if isinstance(runtime, dict) and isinstance(runtime.get("envs"), list):
        for env in runtime["envs"]:
            if isinstance(env, dict) and env.get("secret"):
                env.pop("value", None)
        # Blaxel does not promise env order; align to the desired order by name.
        want_names = [e.get("name") for e in (want_spec.get("runtime") or {}).get("envs") or []]
        by_name = {e.get("name"): e for e in runtime["envs"] if isinstance(e, dict)}
        if set(by_name) == set(want_names):
            runtime["envs"] = [by_name[n] for n in want_names]
    triggers = spec.get("triggers")
    want_triggers = want_spec.get("triggers") or []
    if isinstance(triggers, list):
        for index, trigger in enumerate(triggers):
            if not isinstance(trigger, dict):
                continue
            config = trigger.get("configuration")
            if isinstance(config, dict):
                config.pop("callbackSecret", None)  # generated and masked by the server
            want = want_triggers[index] if index < len(want_triggers) else {}
            if "id" not in want:
                trigger.pop("id", None)  # generated by the server when not given
    return result


def readiness(remote: Mapping[str, Any], desired: Mapping[str, Any]) -> Readiness:
    return deployment_readiness(remote, desired, "agent")


def at_provider_extra(remote: Mapping[str, Any]) -> dict[str, Any]:
    """The agent's inference endpoint."""
    url = (remote.get("metadata") or {}).get("url")
    return {"url": url} if url else {}


KIND = Kind(
    kind="BlaxelAgent",
    group="blaxel.ai",
    version="v1alpha1",
    plural="blaxelagents",
    api_collection="agents",
    noun="agent",
    parse_spec=parse_spec,
    secret_refs=secret_refs,
    references=common.spec_references,
    build_payload=build_payload,
    comparable_desired=comparable_desired,
    comparable_observed=comparable_observed,
    remote_name=remote_name,
    has_secret_values=has_secret_values,
    readiness=readiness,
    at_provider_extra=at_provider_extra,
    secrets_match=secret_envs_match,
    singular="blaxelagent",
    short_names=("bla", "blagent"),
    spec_model=BlaxelAgentSpec,
    status_model=BlaxelAgentStatus,
    printer_columns=(
        PrinterColumn("Ready", '.status.conditions[?(@.type=="Ready")].status'),
        PrinterColumn("Synced", '.status.conditions[?(@.type=="Synced")].status'),
        PrinterColumn("Status", ".status.atProvider.status", description="Remote Blaxel deployment status"),
        PrinterColumn("URL", ".status.atProvider.url"),
        PrinterColumn("Reason", '.status.conditions[?(@.type=="Ready")].reason', priority=1),
        PrinterColumn("Agent", ".status.atProvider.name", priority=1),
        PrinterColumn("Age", ".metadata.creationTimestamp", type="date"),
    ),
)
