"""A Blaxel Agent (from the API for `import`, from a `bl apply` manifest for `convert`) -> a BlaxelAgent.

The mapping is the inverse of `kinds.agent.build_payload`: metadata.displayName/labels go to the spec,
the Blaxel spec is copied, and the operator's own fields are added (`agentName`, always, and optionally
`workspace` and `deletionPolicy`). What the CRD cannot hold is pruned with the CRD's structural schema
and reported, never dropped silently; the result is validated like `render` validates (CRD schema, CEL
rules, the operator's spec model), so every manifest produced passes `render`.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pydantic

from ..config import ADOPTION_POLICY
from ..core.decide import LABEL_CLUSTER, LABEL_NAME, LABEL_NAMESPACE, OWNER_LABELS
from ..crdschema import prune
from ..kinds import agent
from ..schema import validate_object, version_schema
from .common import SecretKey

KIND = agent.KIND
NAME_RE = re.compile(agent.NAME_PATTERN)
# Set by Blaxel, never sent: not reported when left out.
READ_ONLY_METADATA = frozenset(
    {"name", "workspace", "url", "plan", "createdAt", "updatedAt", "createdBy", "updatedBy"}
)
MAPPED_METADATA = frozenset({"displayName", "labels"})
LEFT_OUT = (
    "not supported by the BlaxelAgent CRD; left out (the operator will not send it, so Blaxel may reset it "
    "when the operator next updates the agent)"
)
MASK_RE = re.compile(r"^\*+$")
# `bl apply` references: ${secrets.NAME} (from its .env secrets), ${VAR} and $VAR (from its environment)
REFERENCE_RE = re.compile(
    r"\$\{\{?\s*secrets\.([A-Za-z0-9_.-]+)\s*\}?\}|\$\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}|\$([A-Za-z_][A-Za-z0-9_]*)"
)


class MappingError(Exception):
    """The object cannot become a valid BlaxelAgent; `errors` name the fields."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


# (env, its path, the agent's Secret name) -> (env for the CRD, the Secret key it needs or None, notes)
EnvMapper = Callable[[dict[str, Any], str, str], tuple[dict[str, Any], SecretKey | None, list[str]]]


@dataclass
class Mapped:
    """A BlaxelAgent manifest made from a Blaxel agent, with what the user must know about it."""

    name: str
    namespace: str | None
    manifest: dict[str, Any]
    secret_name: str
    secret_keys: list[SecretKey] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def secret_name_for(resource_name: str) -> str:
    """The Secret holding an agent's secret env values (keys: the env names)."""
    return f"{resource_name}-env"


def strip_none(value: Any) -> Any:
    """A copy without JSON nulls (the API's "not set")."""
    if isinstance(value, dict):
        return {k: strip_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [strip_none(v) for v in value if v is not None]
    return value


def references(text: str) -> list[tuple[str, str]]:
    """(`secret` | `env`, name) of every `bl apply` reference in `text`."""
    found: list[tuple[str, str]] = []
    for match in REFERENCE_RE.finditer(text):
        secret, braced, bare = match.groups()
        ref = ("secret", secret) if secret else ("env", braced or bare)
        if ref not in found:
            found.append(ref)
    return found


def _string_paths(value: Any, path: str) -> list[tuple[str, str]]:
    if isinstance(value, str):
        return [(path, value)]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _string_paths(v, f"{path}.{k}" if path else str(k))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _string_paths(v, f"{path}[{i}]")]
    return []


def secret_ref(env_name: str, secret_name: str) -> dict[str, Any]:
    return {"name": env_name, "valueFrom": {"secretKeyRef": {"name": secret_name, "key": env_name}}}


def validation_errors(manifest: dict[str, Any]) -> list[str]:
    """What `render` would refuse in `manifest`: the CRD (schema, CEL) and the operator's spec model."""
    errors = validate_object(KIND, manifest)
    if errors:
        return errors
    try:
        KIND.parse_spec(manifest.get("spec") or {})
    except pydantic.ValidationError as exc:
        return [f"spec.{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in exc.errors()]
    return []


def map_agent(
    obj: Mapping[str, Any],
    *,
    env_mapper: EnvMapper,
    namespace: str | None = None,
    workspace: str | None = None,
    adopt: bool = True,
    deletion_policy: str | None = None,
    check_references: bool = False,
) -> Mapped:
    """The BlaxelAgent for a Blaxel agent object (`{metadata, spec, ...}`); raises MappingError."""
    meta = obj.get("metadata")
    if meta is None:
        raise MappingError(["metadata.name: Required value"])
    if not isinstance(meta, dict):
        raise MappingError(["metadata: Invalid value: must be a mapping"])
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        raise MappingError(["metadata.name: Required value"])
    if len(name) > agent.MAX_NAME_LENGTH or not NAME_RE.match(name):
        raise MappingError(
            [
                f"metadata.name: Invalid value: {name!r}: not a valid Blaxel agent name (lowercase alphanumerics "
                f"and hyphens, at most {agent.MAX_NAME_LENGTH} characters)"
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
            warnings.append(f"metadata.{key}: {LEFT_OUT}")
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
    if isinstance(spec.get("triggers"), list):
        spec["triggers"] = [_trigger(t) for t in spec["triggers"]]
    secret_name = secret_name_for(name)
    secret_keys: list[SecretKey] = []
    runtime = spec.get("runtime")
    envs = runtime.get("envs") if isinstance(runtime, dict) else None
    if isinstance(envs, list):
        mapped_envs = []
        for index, env in enumerate(envs):
            if isinstance(env, dict) and isinstance(env.get("name"), str):
                env, key, env_notes = env_mapper(env, f"spec.runtime.envs[{index}]", secret_name)
                notes.extend(env_notes)
                if key is not None:
                    secret_keys.append(key)
            mapped_envs.append(env)
        runtime["envs"] = mapped_envs

    out: dict[str, Any] = {"agentName": name}
    if workspace:
        out["workspace"] = workspace
    if deletion_policy:
        out["deletionPolicy"] = deletion_policy
    if meta.get("displayName") is not None:
        out["displayName"] = meta["displayName"]
    if labels:
        out["labels"] = labels
    for key, value in spec.items():
        if key in out or key in agent.OPERATOR_FIELDS:
            warnings.append(f"spec.{key}: is a field of the operator, not of a Blaxel spec; left out")
            continue
        out[key] = value
    out_meta: dict[str, Any] = {"name": name}
    if namespace:
        out_meta["namespace"] = namespace
    if adopt:
        out_meta["annotations"] = {ADOPTION_POLICY: "adopt"}
    manifest: dict[str, Any] = {
        "apiVersion": f"{KIND.group}/{KIND.version}",
        "kind": KIND.kind,
        "metadata": out_meta,
        "spec": out,
    }
    schema = version_schema(KIND, KIND.version)
    for path in prune(manifest, schema, root=True):
        warnings.append(f"{_source_path(path)}: {LEFT_OUT}")

    errors = validation_errors(manifest)
    if errors:
        raise MappingError(errors)
    if check_references:
        for path, text in _string_paths(manifest["spec"], "spec"):
            refs = references(text)
            if refs:
                names = ", ".join(f"${{secrets.{n}}}" if k == "secret" else f"${n}" for k, n in refs)
                warnings.append(
                    f"{_source_path(path)}: {text!r} uses {names}, which `bl apply` substitutes; kept as is "
                    "(the operator sends it literally): substitute it before applying, e.g. with envsubst"
                )
    revision = out.get("revision")
    if isinstance(revision, dict) and revision.get("active"):
        notes.append(
            f"spec.revision.active pins traffic to revision {revision['active']!r}; remove it to let new "
            "deployments take the traffic"
        )
    return Mapped(name, namespace, manifest, secret_name, secret_keys, warnings, notes)


def _trigger(trigger: Any) -> Any:
    """A trigger with its id first (kept: it is the trigger's identity) and no generated callback secret."""
    if not isinstance(trigger, dict):
        return trigger
    config = trigger.get("configuration")
    if isinstance(config, dict):
        config.pop("callbackSecret", None)  # generated by Blaxel, read-only
    order = ("id", "type", "enabled", "configuration")
    return {**{k: trigger[k] for k in order if k in trigger}, **trigger}


def _source_path(path: str) -> str:
    """A path of the produced manifest, named as in the Blaxel object it came from."""
    for operator_field, blaxel_field in (
        ("spec.displayName", "metadata.displayName"),
        ("spec.labels", "metadata.labels"),
    ):
        if (
            path == operator_field
            or path.startswith(operator_field + ".")
            or path.startswith(operator_field + "[")
        ):
            return blaxel_field + path[len(operator_field) :]
    return path
