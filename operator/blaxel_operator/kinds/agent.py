"""BlaxelAgent <-> Blaxel Agent: the spec model, the API payload and comparison rules."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field

from .base import CamelModel, Kind, Readiness, ResolvedRefs, SecretRef, SecretValues
from .deployable import deployment_readiness

NAME_PATTERN = r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$"
MAX_NAME_LENGTH = 49


class SecretKeySelector(CamelModel):
    name: str = Field(min_length=1)
    key: str = Field(min_length=1)


class EnvSource(CamelModel):
    secret_key_ref: SecretKeySelector


class EnvVar(CamelModel):
    name: str = Field(min_length=1, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    value: str | None = None
    secret: bool | None = None
    value_from: EnvSource | None = None


class Runtime(CamelModel):
    generation: Literal["mk2", "mk3"] | None = None
    image: str | None = None
    memory: int | None = Field(default=None, ge=128, le=65536)
    min_scale: int | None = Field(default=None, ge=0)
    max_scale: int | None = Field(default=None, ge=1)
    envs: list[EnvVar] | None = None


class Repository(CamelModel):
    type: str | None = None
    url: str | None = None


class RevisionConfiguration(CamelModel):
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
    timeout: int | None = Field(default=None, ge=1, le=900)


class Trigger(CamelModel):
    id: str | None = None
    type: Literal["http", "http-async", "cron"]
    enabled: bool | None = None
    configuration: TriggerConfiguration | None = None


class Volume(CamelModel):
    name: str
    mount_path: str
    read_only: bool | None = None
    type: Literal["persistent", "ephemeral"] | None = None
    size_mb: int | None = Field(default=None, ge=1)


class CredentialsRef(CamelModel):
    name: str = Field(min_length=1)


class BlaxelAgentSpec(CamelModel):
    """spec of a BlaxelAgent: the Blaxel agent's fields plus the operator's own."""

    agent_name: str | None = Field(default=None, max_length=MAX_NAME_LENGTH, pattern=NAME_PATTERN)
    workspace: str | None = None
    credentials_ref: CredentialsRef | None = None
    deletion_policy: Literal["Delete", "Orphan"] = "Delete"
    display_name: str | None = Field(default=None, max_length=63)
    labels: dict[str, str] | None = None
    enabled: bool | None = None
    public: bool | None = None
    region: str | None = None
    policies: list[str] | None = None
    repository: Repository | None = None
    revision: RevisionConfiguration | None = None
    runtime: Runtime | None = None
    triggers: list[Trigger] | None = None
    volumes: list[Volume] | None = None


# Fields of the spec that belong to the operator, not to Blaxel's spec.
OPERATOR_FIELDS = {"agentName", "workspace", "credentialsRef", "deletionPolicy", "displayName", "labels"}


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
    """The Blaxel Agent payload for POST/PUT: only the fields that are set."""
    metadata: dict[str, Any] = {"name": name}
    if spec.display_name is not None:
        metadata["displayName"] = spec.display_name
    labels = {**(spec.labels or {}), **extra_labels}
    if labels:
        metadata["labels"] = labels

    body = spec.model_dump(by_alias=True, exclude_none=True, exclude=_operator_field_names())
    runtime = body.get("runtime")
    if runtime and "envs" in runtime and spec.runtime and spec.runtime.envs is not None:
        runtime["envs"] = [_env_payload(env, secrets) for env in spec.runtime.envs]
    return {"metadata": metadata, "spec": body}


def _operator_field_names() -> set[str]:
    return {"agent_name", "workspace", "credentials_ref", "deletion_policy", "display_name", "labels"}


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
    spec.setdefault("enabled", True)
    spec.setdefault("public", False)
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
    for key, default in (("enabled", True), ("public", False)):
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


def secrets_match(unmasked: Mapping[str, Any], desired: Mapping[str, Any]) -> bool:
    """Every secret env of the desired payload has the same value in the agent read with show_secrets
    (compared in memory only, never logged or stored)."""

    def secret_envs(obj: Mapping[str, Any]) -> dict[Any, Any]:
        envs = ((obj.get("spec") or {}).get("runtime") or {}).get("envs") or []
        return {e.get("name"): e.get("value") for e in envs if isinstance(e, dict) and e.get("secret")}

    want = secret_envs(desired)
    return bool(want) and secret_envs(unmasked) == want


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
    build_payload=build_payload,
    comparable_desired=comparable_desired,
    comparable_observed=comparable_observed,
    remote_name=remote_name,
    has_secret_values=has_secret_values,
    readiness=readiness,
    at_provider_extra=at_provider_extra,
    secrets_match=secrets_match,
    singular="blaxelagent",
    short_names=("bla", "blagent"),
    spec_model=BlaxelAgentSpec,
)
