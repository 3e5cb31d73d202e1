"""A Blaxel object (from the API for `import`, from a `bl apply` manifest for `convert`) -> our resource.

The mapping is the inverse of a kind's `build_payload`: metadata.displayName/labels go to the spec, the
Blaxel spec is copied, and the operator's own fields are added (the remote name field, e.g. `agentName`,
always, and optionally `workspace` and `deletionPolicy`). What the CRD cannot hold is pruned with the
CRD's structural schema and reported, never dropped silently; the result is validated like `render`
validates (CRD schema, CEL rules, the operator's spec model), so every manifest produced passes `render`.

Each Blaxel kind plugs in through one `KindMapping` in `MAPPINGS` (the `bl` kind name, our Kubernetes
kind, the field naming the remote object, where secrets are carried, and per-kind touch-ups): agents,
functions, models, jobs, policies, volumes and integration connections. A kind without an entry (Sandbox,
...) is reported by `convert` and skipped.

Secrets are carried two ways: as envs (`runtime.envs[]` with `secret: true`, agents, functions and jobs)
and as a map of secret values (an integration connection's `secret`). Either way the manifest reads them
from a Secret of its own (`valueFrom.secretKeyRef`), never holds them.

A set of manifests made together (one `convert` or `import` run) names its own resources by reference:
`link_references` turns `policies: [x]` into `policyRefs: [{name: x}]` (and `integrationConnections`,
a persistent volume's `name`) where `x` is one of them.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pydantic

from ..config import ADOPTION_POLICY
from ..core.decide import LABEL_CLUSTER, LABEL_NAME, LABEL_NAMESPACE, OWNER_LABELS
from ..crdschema import prune
from ..kinds import (
    agent,
    common,
    function,
    integration_connection,
    job,
    model,
    policy,
    volume,
)
from ..kinds.base import Kind
from ..kinds.registry import KINDS as REGISTERED
from ..schema import validate_object, version_schema
from .common import SecretKey

KIND = agent.KIND
NAME_RE = re.compile(agent.NAME_PATTERN)
# Set by Blaxel, never sent: not reported when left out.
READ_ONLY_METADATA = frozenset(
    {"name", "workspace", "url", "plan", "createdAt", "updatedAt", "createdBy", "updatedBy"}
)
MAPPED_METADATA = frozenset({"displayName", "labels", "externalId"})
LEFT_OUT = (
    "not supported by the {crd} CRD; left out (the operator will not send it, so Blaxel may reset it "
    "when the operator next updates the {noun})"
)
MASK_RE = re.compile(r"^\*+$")


class MappingError(Exception):
    """The object cannot become a valid resource of our kind; `errors` name the fields."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


# (env, its path, the resource's Secret name) -> (env for the CRD, the Secret key it needs or None, notes)
EnvMapper = Callable[[dict[str, Any], str, str], tuple[dict[str, Any], SecretKey | None, list[str]]]
# (key of a secret map, its value, its path) -> (the Secret key holding it, notes); the value is never kept
SecretMapper = Callable[[str, Any, str], tuple[SecretKey, list[str]]]


def masked_secret(key: str, value: Any, path: str) -> tuple[SecretKey, list[str]]:
    """What `import` knows of a secret value: nothing (Blaxel masks it)."""
    return SecretKey(key, f"secret value {key} (masked by Blaxel)"), []


@dataclass(frozen=True)
class EnvSecrets:
    """How a kind carries secrets: as envs (`{name, value, secret}` items of the lists at `lists`, paths in
    the spec). A secret env reads `valueFrom.secretKeyRef` of the resource's Secret, key = the env name."""

    lists: tuple[tuple[str, ...], ...] = (("runtime", "envs"),)
    # a spec field that is a map of secret values (an integration connection's `secret`), if any
    secret_map: str | None = None

    def secret_values(self, spec: Any) -> Iterator[tuple[str, str, Any]]:
        """(key, path as `spec.secret.apiKey`, value) of every value of the secret map in `spec`."""
        values = spec.get(self.secret_map) if self.secret_map and isinstance(spec, dict) else None
        if isinstance(values, dict):
            for key, value in values.items():
                yield str(key), f"spec.{self.secret_map}.{key}", value

    def env_lists(self, spec: Any) -> Iterator[tuple[str, list[Any]]]:
        """(path as `spec.runtime.envs`, the list) of every env list present in `spec`."""
        for path in self.lists:
            node: Any = spec
            for key in path:
                node = node.get(key) if isinstance(node, dict) else None
            if isinstance(node, list):
                yield "spec." + ".".join(path), node

    def envs(self, spec: Any) -> Iterator[tuple[str, dict[str, Any]]]:
        """(path as `spec.runtime.envs[2]`, env) of every named env."""
        for path, items in self.env_lists(spec):
            for index, env in enumerate(items):
                if isinstance(env, dict) and isinstance(env.get("name"), str):
                    yield f"{path}[{index}]", env


@dataclass(frozen=True)
class KindMapping:
    """How one Blaxel kind becomes one of our Kubernetes kinds."""

    bl_kind: str  # the kind in `bl apply` manifests, e.g. Agent
    kind: Kind  # our Kubernetes kind (kinds/<kind>.py KIND)
    noun: str  # how messages name an object of the kind, e.g. "agent"
    name_field: str  # the spec field naming the remote object, e.g. agentName (always set)
    name_pattern: str
    max_name_length: int
    operator_fields: frozenset[str]  # spec fields of the operator, not of Blaxel's spec
    secrets: EnvSecrets = EnvSecrets()
    secret_suffix: str = "env"  # the resource's Secret is NAME-SUFFIX
    file_stem: str = "{name}.{kind}"  # output files STEM.yaml and STEM.secret.yaml
    runtime_field: str | None = "runtime"  # where the runtime sits in the spec (for misplaced fields)
    prepare_spec: Callable[[dict[str, Any]], None] | None = None  # touch-ups of the Blaxel spec (in place)
    spec_notes: Callable[[dict[str, Any]], list[str]] | None = None  # what the user should know

    @property
    def plural(self) -> str:
        """The `bl` kind in the plural, for messages: Agents, Policies."""
        return f"{self.bl_kind[:-1]}ies" if self.bl_kind.endswith("y") else f"{self.bl_kind}s"

    @property
    def nouns(self) -> str:
        """The noun in the plural: agents, policies, integration connections."""
        return f"{self.noun[:-1]}ies" if self.noun.endswith("y") else f"{self.noun}s"

    def secret_name(self, name: str) -> str:
        return f"{name}-{self.secret_suffix}"

    def file_name(self, name: str, suffix: str = ".yaml") -> str:
        return self.file_stem.format(name=name, kind=self.bl_kind.lower()) + suffix

    def spec_schema(self) -> dict[str, Any]:
        schema = version_schema(self.kind, self.kind.version) or {}
        spec: dict[str, Any] = schema.get("properties", {}).get("spec", {})
        return spec

    def spec_fields(self) -> frozenset[str]:
        """Blaxel's spec fields the CRD holds (the operator's own fields left out)."""
        return frozenset(self.spec_schema().get("properties", {})) - self.operator_fields

    def runtime_fields(self) -> frozenset[str]:
        if self.runtime_field is None:
            return frozenset()
        runtime = self.spec_schema().get("properties", {}).get(self.runtime_field, {})
        return frozenset(runtime.get("properties", {}))


@dataclass
class Mapped:
    """A resource manifest made from a Blaxel object, with what the user must know about it."""

    name: str
    namespace: str | None
    manifest: dict[str, Any]
    secret_name: str
    secret_keys: list[SecretKey] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def secret_key_ref(secret_name: str, key: str) -> dict[str, Any]:
    return {"valueFrom": {"secretKeyRef": {"name": secret_name, "key": key}}}


def secret_name_for(resource_name: str) -> str:
    """The Secret holding an agent's secret env values (keys: the env names)."""
    return AGENT.secret_name(resource_name)


def strip_none(value: Any) -> Any:
    """A copy without JSON nulls (the API's "not set")."""
    if isinstance(value, dict):
        return {k: strip_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [strip_none(v) for v in value if v is not None]
    return value


def secret_ref(env_name: str, secret_name: str) -> dict[str, Any]:
    return {"name": env_name, "valueFrom": {"secretKeyRef": {"name": secret_name, "key": env_name}}}


def validation_errors(manifest: dict[str, Any], kind: Kind = KIND) -> list[str]:
    """What `render` would refuse in `manifest`: the CRD (schema, CEL) and the operator's spec model."""
    errors = validate_object(kind, manifest)
    if errors:
        return errors
    try:
        kind.parse_spec(manifest.get("spec") or {})
    except pydantic.ValidationError as exc:
        return [f"spec.{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in exc.errors()]
    return []


# ---- misplaced fields -------------------------------------------------------------------------------


def _merge(parent: dict[str, Any], key: str, value: Any, target: str, noun: str) -> str:
    """Put `value` at `parent[key]` (the field `target`); what was done, for the warning."""
    if parent.get(key) is None:
        parent[key] = value
        return f"moved to {target} (applying this manifest sets it on the {noun})"
    existing = parent[key]
    if existing == value:
        return f"{target} already holds the same value; dropped"
    if isinstance(existing, list) and isinstance(value, list):
        names = {i.get("name") for i in existing if isinstance(i, dict)}
        extra = [i for i in value if not (isinstance(i, dict) and i.get("name") in names)]
        if extra:
            existing.extend(extra)
            return (
                f"{len(extra)} item{'s' if len(extra) != 1 else ''} appended to {target} (applying this "
                f"manifest sets {'them' if len(extra) != 1 else 'it'} on the {noun}), the others are already there"
            )
        return f"{target} already has items of the same names; dropped"
    return f"{target} is already set to a different value; left out"


def relocate_fields(mapping: KindMapping, obj: dict[str, Any]) -> list[str]:
    """Move fields written where Blaxel does not read them to where it does (in place); warnings.

    `bl apply` sends only what Blaxel's typed spec holds (and decodes only apiVersion, kind, metadata and
    spec), so a field at the wrong level never reached Blaxel: moving it carries what the author meant,
    and the warning says that applying the result sets it.
    """
    warnings: list[str] = []
    spec_fields = mapping.spec_fields()
    runtime_fields = mapping.runtime_fields()
    rt = mapping.runtime_field
    noun = mapping.noun

    top = "at the top level of the document, where `bl apply` ignores it (it reads apiVersion, kind, metadata and spec)"
    for key in [k for k in obj if k not in BL_DOCUMENT_FIELDS]:
        value = obj.pop(key)
        if key in IGNORED_TOP_LEVEL or value is None:
            continue
        spec = obj.setdefault("spec", {})
        if key in spec_fields and isinstance(spec, dict):
            warnings.append(f"{key}: {top}; {_merge(spec, key, value, f'spec.{key}', noun)}")
        elif rt and key in runtime_fields and isinstance(spec, dict):
            runtime = spec.setdefault(rt, {})
            if isinstance(runtime, dict):
                warnings.append(f"{key}: {top}; {_merge(runtime, key, value, f'spec.{rt}.{key}', noun)}")
            else:
                warnings.append(f"{key}: {top}; left out")
        else:
            warnings.append(f"{key}: {top}; left out")

    spec = obj.get("spec")
    if not isinstance(spec, dict) or rt is None:
        return warnings
    runtime = spec.get(rt)
    if isinstance(runtime, dict):
        for key in [k for k in runtime if k not in runtime_fields and k in spec_fields and k != rt]:
            value = runtime.pop(key)
            if value is not None:
                done = _merge(spec, key, value, f"spec.{key}", noun)
                warnings.append(
                    f"spec.{rt}.{key}: misplaced: Blaxel reads {key} in spec, not in spec.{rt}, so `bl apply` "
                    f"did not send it; {done}"
                )
    misplaced = [
        k for k in spec if k in runtime_fields and k not in spec_fields and k not in mapping.operator_fields
    ]
    for key in misplaced:
        value = spec.pop(key)
        if value is None:
            continue
        if not isinstance(spec.get(rt), dict):
            spec[rt] = {}
        done = _merge(spec[rt], key, value, f"spec.{rt}.{key}", noun)
        warnings.append(
            f"spec.{key}: misplaced: Blaxel reads {key} in spec.{rt}, not in spec, so `bl apply` did not send "
            f"it; {done}"
        )
    return warnings


# The top level of a `bl` document: what it reads, and what Blaxel's own output adds (read-only).
BL_DOCUMENT_FIELDS = frozenset({"apiVersion", "kind", "metadata", "spec"})
IGNORED_TOP_LEVEL = frozenset({"status", "events"})


# ---- mapping ----------------------------------------------------------------------------------------


def _left_out(mapping: KindMapping) -> str:
    return LEFT_OUT.format(crd=mapping.kind.kind, noun=mapping.noun)


def _map_envs(
    mapping: KindMapping, spec: dict[str, Any], env_mapper: EnvMapper, secret_name: str
) -> tuple[list[SecretKey], list[str]]:
    keys: list[SecretKey] = []
    notes: list[str] = []
    for path, items in mapping.secrets.env_lists(spec):
        for index, env in enumerate(items):
            if isinstance(env, dict) and isinstance(env.get("name"), str):
                new, key, env_notes = env_mapper(env, f"{path}[{index}]", secret_name)
                items[index] = new
                notes.extend(env_notes)
                if key is not None:
                    keys.append(key)
    return keys, notes


def _map_secret_values(
    mapping: KindMapping, spec: dict[str, Any], secret_mapper: SecretMapper, secret_name: str
) -> tuple[list[SecretKey], list[str]]:
    """Every value of the secret map -> a secretKeyRef to the resource's Secret (key: the map's key)."""
    keys: list[SecretKey] = []
    notes: list[str] = []
    for key, path, value in list(mapping.secrets.secret_values(spec)):
        secret_key, value_notes = secret_mapper(key, value, path)
        spec[str(mapping.secrets.secret_map)][key] = secret_key_ref(secret_name, secret_key.key)
        keys.append(secret_key)
        notes.extend(value_notes)
    return keys, notes


def map_resource(
    mapping: KindMapping,
    obj: Mapping[str, Any],
    *,
    env_mapper: EnvMapper,
    secret_mapper: SecretMapper = masked_secret,
    namespace: str | None = None,
    workspace: str | None = None,
    adopt: bool = True,
    deletion_policy: str | None = None,
) -> Mapped:
    """Our resource for a Blaxel object (`{metadata, spec, ...}`); raises MappingError."""
    kind = mapping.kind
    left_out = _left_out(mapping)
    meta = obj.get("metadata")
    if meta is None:
        raise MappingError(["metadata.name: Required value"])
    if not isinstance(meta, dict):
        raise MappingError(["metadata: Invalid value: must be a mapping"])
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        raise MappingError(["metadata.name: Required value"])
    if len(name) > mapping.max_name_length or not re.match(mapping.name_pattern, name):
        raise MappingError(
            [
                f"metadata.name: Invalid value: {name!r}: not a valid Blaxel {mapping.noun} name (lowercase "
                f"alphanumerics and hyphens, at most {mapping.max_name_length} characters)"
            ]
        )
    spec_in = obj.get("spec")
    if spec_in is None:
        spec_in = {}
    if not isinstance(spec_in, dict):
        raise MappingError(["spec: Invalid value: must be a mapping"])
    warnings: list[str] = []
    notes: list[str] = []
    for key in meta:
        if key not in READ_ONLY_METADATA and key not in MAPPED_METADATA and meta[key] is not None:
            warnings.append(f"metadata.{key}: {left_out}")
    labels = meta.get("labels")
    if labels is None:
        labels = {}
    if not isinstance(labels, dict):
        raise MappingError(["metadata.labels: Invalid value: must be a map of strings"])
    if any(k in labels for k in OWNER_LABELS):
        holder = "/".join(str(labels.get(k, "?")) for k in (LABEL_NAMESPACE, LABEL_NAME))
        warnings.append(
            f"already managed by blaxel-operator resource {holder} of cluster {labels.get(LABEL_CLUSTER, '?')!r} "
            "(owner labels): an operator elsewhere reports AlreadyExists for it; the owner labels are left out"
        )
    labels = {k: v for k, v in labels.items() if k not in OWNER_LABELS and v is not None}

    spec = strip_none(copy.deepcopy(spec_in))
    if mapping.prepare_spec is not None:
        mapping.prepare_spec(spec)
    secret_name = mapping.secret_name(name)
    secret_keys, env_notes = _map_envs(mapping, spec, env_mapper, secret_name)
    notes.extend(env_notes)
    map_keys, map_notes = _map_secret_values(mapping, spec, secret_mapper, secret_name)
    secret_keys.extend(map_keys)
    notes.extend(map_notes)

    out: dict[str, Any] = {mapping.name_field: name}
    if workspace:
        out["workspace"] = workspace
    if deletion_policy:
        out["deletionPolicy"] = deletion_policy
    if meta.get("displayName") is not None:
        out["displayName"] = meta["displayName"]
    if meta.get("externalId") is not None:
        out["externalId"] = meta["externalId"]
    if labels:
        out["labels"] = labels
    for key, value in spec.items():
        if key in out or key in mapping.operator_fields:
            warnings.append(f"spec.{key}: is a field of the operator, not of a Blaxel spec; left out")
            continue
        out[key] = value
    out_meta: dict[str, Any] = {"name": name}
    if namespace:
        out_meta["namespace"] = namespace
    if adopt:
        out_meta["annotations"] = {ADOPTION_POLICY: "adopt"}
    manifest: dict[str, Any] = {
        "apiVersion": f"{kind.group}/{kind.version}",
        "kind": kind.kind,
        "metadata": out_meta,
        "spec": out,
    }
    schema = version_schema(kind, kind.version)
    for path in prune(manifest, schema, root=True):
        warnings.append(f"{_source_path(path)}: {left_out}")

    errors = validation_errors(manifest, kind)
    if errors:
        raise MappingError(errors)
    if mapping.spec_notes is not None:
        notes.extend(mapping.spec_notes(out))
    return Mapped(name, namespace, manifest, secret_name, secret_keys, warnings, notes)


def map_agent(obj: Mapping[str, Any], **options: Any) -> Mapped:
    """The BlaxelAgent for a Blaxel agent object; raises MappingError (see `map_resource`)."""
    return map_resource(AGENT, obj, **options)


def _source_path(path: str) -> str:
    """A path of the produced manifest, named as in the Blaxel object it came from."""
    for operator_field, blaxel_field in (
        ("spec.displayName", "metadata.displayName"),
        ("spec.labels", "metadata.labels"),
        ("spec.externalId", "metadata.externalId"),
    ):
        if (
            path == operator_field
            or path.startswith(operator_field + ".")
            or path.startswith(operator_field + "[")
        ):
            return blaxel_field + path[len(operator_field) :]
    return path


# ---- the kinds --------------------------------------------------------------------------------------


def _deployable_prepare(spec: dict[str, Any]) -> None:
    if isinstance(spec.get("triggers"), list):
        spec["triggers"] = [_trigger(t) for t in spec["triggers"]]


def _trigger(trigger: Any) -> Any:
    """A trigger with its id first (kept: it is the trigger's identity) and no generated callback secret."""
    if not isinstance(trigger, dict):
        return trigger
    config = trigger.get("configuration")
    if isinstance(config, dict):
        config.pop("callbackSecret", None)  # generated by Blaxel, read-only
    order = ("id", "type", "enabled", "configuration")
    return {**{k: trigger[k] for k in order if k in trigger}, **trigger}


def _revision_notes(spec: dict[str, Any]) -> list[str]:
    revision = spec.get("revision")
    if isinstance(revision, dict) and revision.get("active"):
        return [
            f"spec.revision.active pins traffic to revision {revision['active']!r}; remove it to let new "
            "deployments take the traffic"
        ]
    return []


AGENT = KindMapping(
    bl_kind="Agent",
    kind=agent.KIND,
    noun="agent",
    name_field="agentName",
    name_pattern=agent.NAME_PATTERN,
    max_name_length=agent.MAX_NAME_LENGTH,
    operator_fields=frozenset(agent.OPERATOR_FIELDS),
    secrets=EnvSecrets((("runtime", "envs"),)),
    secret_suffix="env",
    file_stem="{name}",  # agents came first: NAME.yaml, NAME.secret.yaml
    prepare_spec=_deployable_prepare,
    spec_notes=_revision_notes,
)
FUNCTION = KindMapping(
    bl_kind="Function",
    kind=function.KIND,
    noun=function.NOUN,
    name_field=function.NAME_FIELD,
    name_pattern=common.NAME_PATTERN,
    max_name_length=common.MAX_NAME_LENGTH,
    operator_fields=frozenset(function.OPERATOR_FIELDS),
    prepare_spec=_deployable_prepare,
    spec_notes=_revision_notes,
)
MODEL = KindMapping(
    bl_kind="Model",
    kind=model.KIND,
    noun=model.NOUN,
    name_field=model.NAME_FIELD,
    name_pattern=common.NAME_PATTERN,
    max_name_length=common.MAX_NAME_LENGTH,
    operator_fields=frozenset(model.OPERATOR_FIELDS),
    secrets=EnvSecrets(()),  # a model's credentials live in integration connections
)
JOB = KindMapping(
    bl_kind="Job",
    kind=job.KIND,
    noun=job.NOUN,
    name_field=job.NAME_FIELD,
    name_pattern=common.NAME_PATTERN,
    max_name_length=common.MAX_NAME_LENGTH,
    operator_fields=frozenset(job.OPERATOR_FIELDS),
    prepare_spec=_deployable_prepare,
    spec_notes=_revision_notes,
)
POLICY = KindMapping(
    bl_kind="Policy",
    kind=policy.KIND,
    noun=policy.NOUN,
    name_field=policy.NAME_FIELD,
    name_pattern=common.NAME_PATTERN,
    max_name_length=common.MAX_NAME_LENGTH,
    operator_fields=frozenset(policy.OPERATOR_FIELDS),
    secrets=EnvSecrets(()),
    runtime_field=None,
)
VOLUME = KindMapping(
    bl_kind="Volume",
    kind=volume.KIND,
    noun=volume.NOUN,
    name_field=volume.NAME_FIELD,
    name_pattern=common.NAME_PATTERN,
    max_name_length=common.MAX_NAME_LENGTH,
    operator_fields=frozenset(volume.OPERATOR_FIELDS),
    secrets=EnvSecrets(()),
    runtime_field=None,
)
INTEGRATION_CONNECTION = KindMapping(
    bl_kind="IntegrationConnection",
    kind=integration_connection.KIND,
    noun=integration_connection.NOUN,
    name_field=integration_connection.NAME_FIELD,
    name_pattern=common.NAME_PATTERN,
    max_name_length=common.MAX_NAME_LENGTH,
    operator_fields=frozenset(integration_connection.OPERATOR_FIELDS),
    secrets=EnvSecrets((), secret_map="secret"),
    secret_suffix="secret",
    runtime_field=None,
)

# `bl` kind -> how it maps. Adding a kind is one entry here (its module in kinds/ gives the Kind). In the
# registry's order: referenced kinds first, the order of the documents written.
MAPPINGS: dict[str, KindMapping] = {
    m.bl_kind: m
    for m in sorted(
        (POLICY, VOLUME, INTEGRATION_CONNECTION, MODEL, FUNCTION, JOB, AGENT),
        key=lambda m: [k.kind for k in REGISTERED].index(m.kind.kind),
    )
}


def mapping_of(kind: Kind) -> KindMapping:
    for mapping in MAPPINGS.values():
        if mapping.kind.kind == kind.kind:
            return mapping
    raise KeyError(kind.kind)


def _presence(present: set[tuple[str, str | None, str]], namespace: str | None) -> Callable[[str, str], bool]:
    def is_present(kind: str, name: str) -> bool:
        return (kind, namespace, name) in present

    return is_present


def link_references(mapped: list[tuple[KindMapping, Mapped]]) -> list[tuple[Mapped, str]]:
    """Names of resources of the same set (same namespace) become references to them (`policyRefs`,
    `integrationConnectionRefs`, `volumes[].volumeRef`); the manifests stay valid. Returns a note per
    change (also added to the resource's notes)."""
    present = {(m.kind.kind, one.namespace, one.name) for m, one in mapped}
    added: list[tuple[Mapped, str]] = []
    for m, one in mapped:
        spec = one.manifest["spec"]
        before = copy.deepcopy(spec)
        changed = common.name_references(
            spec, m.spec_schema().get("properties") or {}, _presence(present, one.namespace)
        )
        if not changed:
            continue
        if validation_errors(one.manifest, m.kind):  # should not happen: keep the names as they were
            one.manifest["spec"] = before
            continue
        for path in changed:
            text = f"{path} (a resource of this set: the {m.noun} waits for it to be Ready)"
            one.notes.append(text)
            added.append((one, text))
    return added
