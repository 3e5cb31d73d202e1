"""What the kinds share: the operator's own spec fields, Blaxel sub-objects used by several kinds, references
to other Blaxel resources, and the payload / comparison helpers built on them.

Sub-models mirror Blaxel's published schema (controlplane.yml): same camelCase names, types, enums and
documented bounds. `agent.py` still holds its own copies of some of them (SecretKeySelector, EnvVar,
Runtime, Trigger, RevisionConfiguration, Volume...); it is meant to move to these.

CEL rules are declared beside the fields (`json_schema_extra={"x-kubernetes-validations": [...]}`) for the
CRD generator; the stateless ones are also checked by the models, so `parse_spec` gives the same answer
without an apiserver.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..crdgen import OBJECT_VALIDATIONS, PrinterColumn
from .base import AtProvider, CamelModel, Reference, ResolvedRefs, SecretRef, SecretValues

# Blaxel's metadata.name: lowercase alphanumerics and hyphens, at most 49 characters, immutable.
NAME_PATTERN = r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$"
MAX_NAME_LENGTH = 49
MAX_DISPLAY_NAME_LENGTH = 63
# metadata.externalId: "Max 64 chars, alphanumeric + dash".
EXTERNAL_ID_PATTERN = r"^[A-Za-z0-9-]+$"
MAX_EXTERNAL_ID_LENGTH = 64
# A Kubernetes object name (DNS-1123 subdomain), for references to Secrets and Blaxel* resources.
K8S_NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"

POLICY_KIND = "BlaxelPolicy"
VOLUME_KIND = "BlaxelVolume"
CONNECTION_KIND = "BlaxelIntegrationConnection"

CEL = "x-kubernetes-validations"


def cel(*rules: tuple[str, str]) -> dict[str, Any]:
    """`json_schema_extra` declaring CEL rules, each (rule, message)."""
    return {CEL: [{"rule": rule, "message": message} for rule, message in rules]}


def immutable(path: str) -> dict[str, Any]:
    return cel(("self == oldSelf", f"{path} is immutable"))


# --------------------------------------------------------------------------- the operator's own fields


class CredentialsRef(CamelModel):
    """A Secret in the resource's namespace holding `apiKey` (and optionally `workspace`)."""

    name: str = Field(min_length=1, max_length=253, pattern=K8S_NAME_PATTERN)


class LocalObjectReference(CamelModel):
    """A resource of another Blaxel kind in the same namespace, by its Kubernetes name."""

    name: str = Field(min_length=1, max_length=253, pattern=K8S_NAME_PATTERN)


LabelValue = Annotated[str, Field(max_length=63)]
BlaxelName = Annotated[str, Field(min_length=1, max_length=MAX_NAME_LENGTH)]


def remote_name_field(alias: str, noun: str) -> Any:
    """The `<noun>Name` override of the remote name: a Blaxel name, immutable once set."""
    return Field(
        default=None,
        min_length=1,
        max_length=MAX_NAME_LENGTH,
        pattern=NAME_PATTERN,
        description=f"Name of the Blaxel {noun} (default: metadata.name). Immutable.",
        json_schema_extra=immutable(f"spec.{alias}"),
    )


def name_override_rules(alias: str) -> list[tuple[str, str]]:
    """Spec-level CEL: the override can be neither added nor removed after creation (a field-level
    `self == oldSelf` only runs when both old and new values exist)."""
    return [
        (
            f"has(self.{alias}) == has(oldSelf.{alias})",
            f"spec.{alias} is immutable: it cannot be added or removed after creation",
        )
    ]


def metadata_name_rule(alias: str, noun: str) -> dict[str, str]:
    """Root-level CEL (beside `metadata`, not in the spec): without an override, metadata.name must be a
    valid Blaxel name itself."""
    return {
        "rule": (
            f"has(self.spec.{alias}) || (size(self.metadata.name) <= {MAX_NAME_LENGTH} && "
            f"self.metadata.name.matches('{NAME_PATTERN}'))"
        ),
        "message": (
            f"metadata.name is not a valid Blaxel {noun} name (lowercase alphanumerics and hyphens, "
            f"at most {MAX_NAME_LENGTH} characters): set spec.{alias}"
        ),
    }


def spec_rules(alias: str, noun: str, *rules: tuple[str, str]) -> dict[str, Any]:
    """`json_schema_extra` of a kind's spec model: the name override's transition rule and the kind's own
    `rules` on the spec, and the rule on metadata.name, which the CRD generator moves to the root."""
    return {
        **cel(*name_override_rules(alias), *rules),
        OBJECT_VALIDATIONS: [metadata_name_rule(alias, noun)],
    }


# --------------------------------------------------------------------------- the CRD: status and columns


def at_provider_fields(model: type[BaseModel]) -> frozenset[str]:
    """The camelCase names of a kind's own `status.atProvider` fields (beyond AtProvider's)."""
    own = set(model.model_fields) - set(AtProvider.model_fields)
    return frozenset(model.model_fields[name].alias or name for name in own)


def printer_columns(
    remote_header: str, *own: PrinterColumn, remote_status: bool = True
) -> tuple[PrinterColumn, ...]:
    """`kubectl get` columns, as for agents: READY, SYNCED, STATUS (Blaxel's, for kinds that have one), the
    kind's `own` columns, then REASON and the remote name (`-o wide`), AGE."""
    columns = [
        PrinterColumn("Ready", '.status.conditions[?(@.type=="Ready")].status'),
        PrinterColumn("Synced", '.status.conditions[?(@.type=="Synced")].status'),
    ]
    if remote_status:
        columns.append(
            PrinterColumn("Status", ".status.atProvider.status", description="Remote Blaxel status")
        )
    columns += [
        *own,
        PrinterColumn("Reason", '.status.conditions[?(@.type=="Ready")].reason', priority=1),
        PrinterColumn(remote_header, ".status.atProvider.name", priority=1),
        PrinterColumn("Age", ".metadata.creationTimestamp", type="date"),
    ]
    return tuple(columns)


class SpecBase(CamelModel):
    """Fields every kind's spec has: where and how the operator manages the object, and the object's
    metadata (displayName, labels, externalId) which Blaxel keeps beside its spec."""

    workspace: str | None = Field(
        default=None,
        min_length=1,
        max_length=63,
        pattern=NAME_PATTERN,
        description="Blaxel workspace. Overrides the workspace of the credentials and the operator default.",
    )
    credentials_ref: CredentialsRef | None = Field(
        default=None,
        description="A Secret in this namespace with key apiKey (and optional workspace) used for this resource.",
    )
    deletion_policy: Literal["Delete", "Orphan"] = Field(
        default="Delete", description="What happens to the remote object when this resource is deleted."
    )
    display_name: str | None = Field(
        default=None,
        max_length=MAX_DISPLAY_NAME_LENGTH,
        description="Human-readable name shown in the Blaxel console (metadata.displayName).",
    )
    labels: dict[str, LabelValue] | None = Field(
        default=None, max_length=64, description="Labels of the remote object (metadata.labels)."
    )
    external_id: str | None = Field(
        default=None,
        max_length=MAX_EXTERNAL_ID_LENGTH,
        pattern=EXTERNAL_ID_PATTERN,
        description="Caller-owned identifier for external lookups (metadata.externalId).",
    )

    # Python names of the fields that are not part of Blaxel's `spec` (metadata and operator fields);
    # kinds add their name override and reference fields.
    NOT_IN_BLAXEL_SPEC: ClassVar[frozenset[str]] = frozenset(
        {"workspace", "credentials_ref", "deletion_policy", "display_name", "labels", "external_id"}
    )


# Camel-case names of SpecBase's fields, for each kind's OPERATOR_FIELDS.
BASE_FIELDS = frozenset(
    {"workspace", "credentialsRef", "deletionPolicy", "displayName", "labels", "externalId"}
)
REFERENCE_FIELDS = frozenset({"policyRefs", "integrationConnectionRefs"})


# --------------------------------------------------------------------------- shared Blaxel sub-objects


class SecretKeySelector(CamelModel):
    name: str = Field(min_length=1, max_length=253, pattern=K8S_NAME_PATTERN)
    key: str = Field(min_length=1, max_length=253)


class EnvSource(CamelModel):
    secret_key_ref: SecretKeySelector = Field(
        description="A key of a Secret in this namespace; sent to Blaxel as a secret value."
    )


class EnvVar(CamelModel):
    """Blaxel's Env {name, value, secret}, plus valueFrom.secretKeyRef (the operator reads the Secret)."""

    model_config = ConfigDict(
        json_schema_extra=cel(
            ("!(has(self.value) && has(self.valueFrom))", "an env sets either value or valueFrom, not both")
        )
    )

    name: str = Field(min_length=1, max_length=256, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    value: str | None = None
    secret: bool | None = Field(
        default=None, description="Marks an inline value as secret on Blaxel (prefer valueFrom)."
    )
    value_from: EnvSource | None = None

    @model_validator(mode="after")
    def _value_or_value_from(self) -> EnvVar:
        if self.value is not None and self.value_from is not None:
            raise ValueError("an env sets either value or valueFrom, not both")
        return self


class Port(CamelModel):
    name: str | None = Field(default=None, max_length=63)
    protocol: Literal["HTTP", "TCP", "UDP", "TLS"] | None = None
    target: int = Field(ge=1, le=65535)


Generation = Literal["mk2", "mk3"]


class RuntimeBase(CamelModel):
    """What the runtimes of agents, functions and jobs share."""

    envs: list[EnvVar] | None = Field(
        default=None,
        max_length=256,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    generation: Generation | None = Field(
        default=None, description="Infrastructure generation: mk2 (containers) or mk3 (microVMs)."
    )
    image: str | None = Field(default=None, max_length=1024)
    memory: int | None = Field(
        default=None, ge=128, le=65536, description="Memory in MB (CPU = memory / 2048)."
    )

    @model_validator(mode="after")
    def _unique_env_names(self) -> RuntimeBase:
        names = [env.name for env in self.envs or []]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"duplicate env names: {', '.join(duplicates)}")
        return self


class ScaledRuntime(RuntimeBase):
    """Runtime of an always-on deployable (agents, functions): scaling bounds."""

    model_config = ConfigDict(
        json_schema_extra=cel(
            (
                "!has(self.minScale) || !has(self.maxScale) || self.minScale <= self.maxScale",
                "runtime.minScale must not exceed runtime.maxScale",
            )
        )
    )

    max_scale: int | None = Field(default=None, ge=1)
    min_scale: int | None = Field(default=None, ge=0, description="0 scales to zero.")

    @model_validator(mode="after")
    def _scale_order(self) -> ScaledRuntime:
        if self.min_scale is not None and self.max_scale is not None and self.min_scale > self.max_scale:
            raise ValueError("runtime.minScale must not exceed runtime.maxScale")
        return self


class RevisionConfiguration(CamelModel):
    active: str | None = Field(default=None, max_length=128)
    canary: str | None = Field(default=None, max_length=128)
    canary_percent: int | None = Field(default=None, ge=0, le=100)
    sticky_session_ttl: int | None = Field(default=None, ge=0, description="Seconds; 0 disables.")
    traffic: int | None = Field(default=None, ge=0, le=100)


class TriggerConfiguration(CamelModel):
    """Blaxel's TriggerConfiguration without the read-only, server-generated callbackSecret."""

    authentication_type: str | None = Field(default=None, max_length=63)
    callback_url: str | None = Field(default=None, max_length=2048)
    path: str | None = Field(default=None, max_length=1024)
    retry: int | None = Field(default=None, ge=0)
    schedule: str | None = Field(default=None, max_length=256, description="Cron expression.")
    tasks: list[dict[str, Any]] | None = None
    timeout: int | None = Field(default=None, ge=1, le=900, description="Seconds, async triggers (max 900).")


class Trigger(CamelModel):
    model_config = ConfigDict(
        json_schema_extra=cel(
            (
                "self.type != 'cron' || (has(self.configuration) && has(self.configuration.schedule))",
                "a cron trigger needs configuration.schedule",
            )
        )
    )

    configuration: TriggerConfiguration | None = None
    enabled: bool | None = Field(default=None, description="Default true.")
    id: str | None = Field(default=None, max_length=63, description="Generated by Blaxel when not given.")
    type: Literal["http", "http-async", "cron"]

    @model_validator(mode="after")
    def _cron_schedule(self) -> Trigger:
        if self.type == "cron" and (self.configuration is None or self.configuration.schedule is None):
            raise ValueError("a cron trigger needs configuration.schedule")
        return self


class Flavor(CamelModel):
    name: str | None = Field(default=None, max_length=63, description="e.g. t4")
    type: Literal["cpu", "gpu"] | None = None


class VolumeAttachment(CamelModel):
    """Blaxel's VolumeAttachment (agents), plus volumeRef: a BlaxelVolume of this namespace instead of
    `name` for a persistent volume. Only what Blaxel states is enforced (an ephemeral volume needs sizeMb;
    sizeMb is ignored for persistent ones), so that every agent Blaxel accepts can be imported."""

    model_config = ConfigDict(
        json_schema_extra=cel(
            ("!(has(self.name) && has(self.volumeRef))", "a volume sets either name or volumeRef, not both"),
            (
                "!has(self.volumeRef) || !has(self.type) || self.type == 'persistent'",
                "volumeRef names a persistent volume",
            ),
            (
                "!has(self.type) || self.type != 'ephemeral' || has(self.sizeMb)",
                "an ephemeral volume needs sizeMb",
            ),
        )
    )

    name: str | None = None
    mount_path: str | None = Field(default=None, pattern=r"^/", description="An absolute path.")
    read_only: bool | None = None
    type: Literal["persistent", "ephemeral"] | None = None
    size_mb: int | None = Field(
        default=None, ge=0, description="Size in MB of an ephemeral volume (ignored for persistent ones)."
    )
    volume_ref: LocalObjectReference | None = Field(
        default=None,
        description="A BlaxelVolume in this namespace instead of name; its Blaxel name goes into name.",
    )

    @model_validator(mode="after")
    def _name_or_ref(self) -> VolumeAttachment:
        if self.name is not None and self.volume_ref is not None:
            raise ValueError("a volume sets either name or volumeRef, not both")
        if self.volume_ref is not None and self.type not in (None, "persistent"):
            raise ValueError("volumeRef names a persistent volume")
        if self.type == "ephemeral" and self.size_mb is None:
            raise ValueError("an ephemeral volume needs sizeMb")
        return self


PolicyNames = Annotated[
    list[BlaxelName] | None, Field(default=None, max_length=64, description="Names of Blaxel policies.")
]
ConnectionNames = Annotated[
    list[BlaxelName] | None,
    Field(default=None, max_length=64, description="Names of Blaxel integration connections."),
]
PolicyRefs = Annotated[
    list[LocalObjectReference] | None,
    Field(
        default=None,
        max_length=64,
        description="BlaxelPolicy resources of this namespace, added to policies.",
    ),
]
ConnectionRefs = Annotated[
    list[LocalObjectReference] | None,
    Field(
        default=None,
        max_length=64,
        description="BlaxelIntegrationConnection resources of this namespace, added to integrationConnections.",
    ),
]


# --------------------------------------------------------------------------- spec -> payload


def placeholder_secret(ref: SecretRef) -> str:
    """What `render` shows in place of a secret value it does not read."""
    return f"<secret {ref.name}/{ref.key}>"


def secret_ref(source: EnvSource) -> SecretRef:
    return SecretRef(source.secret_key_ref.name, source.secret_key_ref.key)


def env_secret_refs(runtime: RuntimeBase | None) -> list[SecretRef]:
    refs: list[SecretRef] = []
    for env in (runtime.envs if runtime else None) or []:
        if env.value_from is not None:
            ref = secret_ref(env.value_from)
            if ref not in refs:
                refs.append(ref)
    return refs


def env_payload(env: EnvVar, secrets: SecretValues) -> dict[str, Any]:
    if env.value_from is not None:
        ref = secret_ref(env.value_from)
        return {"name": env.name, "value": secrets.get(ref, placeholder_secret(ref)), "secret": True}
    out: dict[str, Any] = {"name": env.name, "value": env.value if env.value is not None else ""}
    if env.secret is not None:
        out["secret"] = env.secret
    return out


def metadata_payload(spec: SpecBase, name: str, extra_labels: Mapping[str, str]) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name}
    if spec.display_name is not None:
        metadata["displayName"] = spec.display_name
    if spec.external_id is not None:
        metadata["externalId"] = spec.external_id
    labels = {**(spec.labels or {}), **extra_labels}
    if labels:
        metadata["labels"] = labels
    return metadata


def spec_body(spec: SpecBase, not_in_spec: Iterable[str]) -> dict[str, Any]:
    """The Blaxel `spec` part of the payload: every set field but the metadata and operator ones, with
    secret envs resolved later by `fill_envs`."""
    return spec.model_dump(by_alias=True, exclude_none=True, exclude=set(not_in_spec))


def fill_envs(body: dict[str, Any], runtime: RuntimeBase | None, secrets: SecretValues) -> None:
    """runtime.envs of the payload: secret values from `secrets`, valueFrom replaced by secret: true."""
    if runtime is not None and runtime.envs is not None and "runtime" in body:
        body["runtime"]["envs"] = [env_payload(env, secrets) for env in runtime.envs]


# --------------------------------------------------------------------------- references


class UnresolvedReferenceError(ValueError):
    """A payload was built with resolved references that lack one the spec names (a runtime bug)."""


def spec_references(spec: Any) -> list[Reference]:
    """The Kubernetes resources a spec names: policyRefs, integrationConnectionRefs, volumes[].volumeRef.

    Duck-typed on the field names so that any kind's spec (agents included, once they have the fields)
    uses the same rule; each appears once.
    """
    refs: list[Reference] = []

    def add(ref: Reference) -> None:
        if ref not in refs:
            refs.append(ref)

    for local in getattr(spec, "policy_refs", None) or []:
        add(Reference(POLICY_KIND, local.name, "policyRefs"))
    for local in getattr(spec, "integration_connection_refs", None) or []:
        add(Reference(CONNECTION_KIND, local.name, "integrationConnectionRefs"))
    for index, volume in enumerate(getattr(spec, "volumes", None) or []):
        local = getattr(volume, "volume_ref", None)
        if local is not None:
            add(Reference(VOLUME_KIND, local.name, f"volumes[{index}].volumeRef"))
    return refs


def remote_name_of(ref: Reference, refs: ResolvedRefs | None) -> str:
    """The remote name a reference resolves to. Without resolved references (render, diff offline) the
    referenced resource's own name stands for it: that is its remote name unless it overrides it."""
    if refs is None:
        return ref.name
    try:
        return refs[ref]
    except KeyError:
        raise UnresolvedReferenceError(f"{ref} ({ref.field}) is not resolved") from None


def merge_names(direct: Sequence[str] | None, resolved: Iterable[str]) -> list[str]:
    """Names given directly, then resolved ones not already among them."""
    names = list(direct or [])
    for name in resolved:
        if name not in names:
            names.append(name)
    return names


def apply_references(body: dict[str, Any], spec: Any, refs: ResolvedRefs | None) -> None:
    """Puts each referenced resource's remote name into Blaxel's own field of the payload's spec `body`:
    policyRefs -> policies, integrationConnectionRefs -> integrationConnections, volumes[].volumeRef ->
    volumes[].name. The *Ref fields themselves never reach Blaxel."""
    body.pop("policyRefs", None)
    body.pop("integrationConnectionRefs", None)
    for field, attr, kind, ref_field in (
        ("policies", "policy_refs", POLICY_KIND, "policyRefs"),
        (
            "integrationConnections",
            "integration_connection_refs",
            CONNECTION_KIND,
            "integrationConnectionRefs",
        ),
    ):
        locals_ = getattr(spec, attr, None)
        if locals_:
            resolved = [remote_name_of(Reference(kind, local.name, ref_field), refs) for local in locals_]
            body[field] = merge_names(body.get(field), resolved)
    volumes = body.get("volumes")
    if isinstance(volumes, list):
        for index, (item, volume) in enumerate(
            zip(volumes, getattr(spec, "volumes", None) or [], strict=False)
        ):
            item.pop("volumeRef", None)
            local = getattr(volume, "volume_ref", None)
            if local is not None:
                item["name"] = remote_name_of(
                    Reference(VOLUME_KIND, local.name, f"volumes[{index}].volumeRef"), refs
                )


def name_references(
    spec: dict[str, Any], properties: Mapping[str, Any], present: Callable[[str, str], bool]
) -> list[str]:
    """The inverse of `apply_references`, for the tools that write manifests: names in Blaxel's own fields
    (`policies`, `integrationConnections`, a persistent volume's `name`) that are resources of this set of
    manifests (`present(kind, name)`) become references (`policyRefs`, `integrationConnectionRefs`,
    `volumeRef`), where the kind's CRD (its spec `properties`) has the reference field. `spec` is changed
    in place; returns what was changed, as `path: name -> reference field`."""
    changed: list[str] = []
    for field, ref_field, kind in (
        ("policies", "policyRefs", POLICY_KIND),
        ("integrationConnections", "integrationConnectionRefs", CONNECTION_KIND),
    ):
        names = spec.get(field)
        if ref_field not in properties or not isinstance(names, list):
            continue
        linked = [n for n in names if isinstance(n, str) and present(kind, n)]
        if not linked:
            continue
        refs = list(spec.get(ref_field) or [])
        for name in linked:
            if {"name": name} not in refs:
                refs.append({"name": name})
            changed.append(f"spec.{field}: {name} -> spec.{ref_field}")
        spec[ref_field] = refs
        rest = [n for n in names if n not in linked]
        if rest:
            spec[field] = rest
        else:
            del spec[field]
    volume_props = ((properties.get("volumes") or {}).get("items") or {}).get("properties") or {}
    volumes = spec.get("volumes")
    if "volumeRef" in volume_props and isinstance(volumes, list):
        for index, item in enumerate(volumes):
            if not isinstance(item, dict) or item.get("type", "persistent") != "persistent":
                continue
            volume_name = item.get("name")
            if isinstance(volume_name, str) and present(VOLUME_KIND, volume_name):
                attachment = {k: v for k, v in item.items() if k != "name"}
                volumes[index] = {"volumeRef": {"name": volume_name}, **attachment}
                changed.append(
                    f"spec.volumes[{index}].name: {volume_name} -> spec.volumes[{index}].volumeRef"
                )
    return changed


# --------------------------------------------------------------------------- comparison


def has_secret_envs(payload: Mapping[str, Any]) -> bool:
    """Secret envs (from a Secret or marked `secret: true`): masked in responses, never comparable."""
    envs = ((payload.get("spec") or {}).get("runtime") or {}).get("envs") or []
    return any(isinstance(e, dict) and e.get("secret") for e in envs)


def drop_secret_env_values(spec: Mapping[str, Any]) -> None:
    runtime = spec.get("runtime")
    if isinstance(runtime, dict):
        for env in runtime.get("envs") or []:
            if isinstance(env, dict) and env.get("secret"):
                env.pop("value", None)


def fill_defaults(spec: dict[str, Any], defaults: Mapping[str, Any]) -> None:
    """Blaxel's documented defaults: unset (or null) means the default on both sides, so an object
    switched off or made public outside Kubernetes is drift."""
    for key, default in defaults.items():
        if spec.get(key) is None:
            spec[key] = default


def align(observed: list[Any], desired: Sequence[Any], key: Callable[[Any], Hashable]) -> list[Any]:
    """`observed` in the order of `desired` when both hold the same keys, once each (Blaxel does not
    promise the order of these lists); otherwise `observed` unchanged, for the comparison to report."""
    try:
        want = [key(item) for item in desired]
        have = {key(item): item for item in observed}
    except (TypeError, AttributeError):
        return observed
    if len(have) != len(observed) or len(set(want)) != len(want) or set(want) != set(have):
        return observed
    return [have[k] for k in want]


def align_at(
    observed: dict[str, Any], desired: Mapping[str, Any], path: Sequence[str], key: Callable[[Any], Hashable]
) -> None:
    """`align` the list found at `path` (dict keys) in `observed` to the one in `desired`, in place."""
    have: Any = observed
    want: Any = desired
    for part in path[:-1]:
        have = have.get(part) if isinstance(have, dict) else None
        want = want.get(part) if isinstance(want, Mapping) else None
    last = path[-1]
    if isinstance(have, dict) and isinstance(have.get(last), list) and isinstance(want, Mapping):
        wanted = want.get(last)
        if isinstance(wanted, list):
            have[last] = align(have[last], wanted, key)


def same(item: Any) -> Hashable:
    return item if isinstance(item, Hashable) else repr(item)


def by_name(item: Any) -> Hashable:
    return item.get("name") if isinstance(item, Mapping) else None


def by_type_and_name(item: Any) -> Hashable:
    return (item.get("type"), item.get("name")) if isinstance(item, Mapping) else None


def by_target(item: Any) -> Hashable:
    return (item.get("target"), item.get("protocol")) if isinstance(item, Mapping) else None


def observed_parts(observed: Mapping[str, Any]) -> dict[str, Any]:
    """Deep copies of the observed object's metadata and spec: what a comparison looks at."""
    return {
        "metadata": copy.deepcopy(dict(observed.get("metadata") or {})),
        "spec": copy.deepcopy(dict(observed.get("spec") or {})),
    }


def normalise_triggers(spec: dict[str, Any], desired_spec: Mapping[str, Any]) -> None:
    """Server-set trigger fields dropped: the generated callbackSecret, and ids not asked for."""
    triggers = spec.get("triggers")
    want_triggers = desired_spec.get("triggers") or []
    if not isinstance(triggers, list):
        return
    for index, trigger in enumerate(triggers):
        if not isinstance(trigger, dict):
            continue
        config = trigger.get("configuration")
        if isinstance(config, dict):
            config.pop("callbackSecret", None)
        want = want_triggers[index] if index < len(want_triggers) else {}
        if not isinstance(want, Mapping) or "id" not in want:
            trigger.pop("id", None)


def deployable_comparable_desired(payload: Mapping[str, Any], defaults: Mapping[str, Any]) -> dict[str, Any]:
    """Desired payload of a deployable, minus secret env values (masked by the API), defaults filled."""
    desired = copy.deepcopy(dict(payload))
    spec = desired.setdefault("spec", {})
    fill_defaults(spec, defaults)
    drop_secret_env_values(spec)
    return desired


def deployable_comparable_observed(
    observed: Mapping[str, Any], desired: Mapping[str, Any], defaults: Mapping[str, Any]
) -> dict[str, Any]:
    """Observed deployable, normalised like `deployable_comparable_desired`: defaults filled, masked
    values and server-set trigger fields dropped, unordered lists aligned to the desired order."""
    result = observed_parts(observed)
    spec = result["spec"]
    want = desired.get("spec") or {}
    fill_defaults(spec, defaults)
    drop_secret_env_values(spec)
    normalise_triggers(spec, want)
    align_at(spec, want, ("runtime", "envs"), by_name)
    align_at(spec, want, ("runtime", "ports"), by_target)
    align_at(spec, want, ("policies",), same)
    align_at(spec, want, ("integrationConnections",), same)
    align_at(spec, want, ("volumes",), by_name)
    align_at(spec, want, ("flavors",), by_type_and_name)
    return result


def url_extra(remote: Mapping[str, Any]) -> dict[str, Any]:
    """The object's endpoint (metadata.url), when Blaxel gives one."""
    url = (remote.get("metadata") or {}).get("url")
    return {"url": url} if url else {}
