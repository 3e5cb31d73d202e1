"""Request validation of the objects the simulator serves, after Blaxel's OpenAPI description.

The schemas below transcribe the published description (``controlplane.yml``: Agent, Function,
Model, Job, Policy, Volume, IntegrationConnection and the types they use), with the documented
limits that the description only states in prose (name rules, displayName <= 63, externalId <= 64,
trigger timeout <= 900 s, job diskPercent 10-95). A contract test compares them with the published
description field by field. Unknown fields are rejected with a message naming them; read-only
fields are dropped; JSON ``null`` counts as "not set" (as a Go server decoding into pointers does).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from .errors import ApiError

NAME_MAX = 49
NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
EXTERNAL_ID_RE = re.compile(r"^[A-Za-z0-9-]+$")

Schema = dict[str, Any]

_STR: Schema = {"type": "string"}
_BOOL: Schema = {"type": "boolean"}
_READ_ONLY: Schema = {"readOnly": True}


def _int(minimum: int | None = None, maximum: int | None = None) -> Schema:
    schema: Schema = {"type": "integer"}
    if minimum is not None:
        schema["minimum"] = minimum
    if maximum is not None:
        schema["maximum"] = maximum
    return schema


def _obj(properties: dict[str, Schema], required: tuple[str, ...] = ()) -> Schema:
    return {"type": "object", "properties": properties, "required": required}


ENV: Schema = _obj({"name": {"type": "string", "minLength": 1}, "value": _STR, "secret": _BOOL}, ("name",))
TRIGGER_CONFIGURATION: Schema = _obj(
    {
        "authenticationType": _STR,
        "callbackSecret": _READ_ONLY,
        "callbackUrl": _STR,
        "path": _STR,
        "retry": _int(0),
        "schedule": _STR,
        # TriggerConfigurationTask is a free-form object in the description
        "tasks": {"type": "array", "items": {"type": "object", "free": True}},
        "timeout": _int(0, 900),
    }
)
TRIGGER: Schema = _obj(
    {
        "id": _STR,
        "type": {"type": "string", "enum": ("http", "http-async", "cron")},
        "enabled": _BOOL,
        "configuration": TRIGGER_CONFIGURATION,
    }
)
VOLUME: Schema = _obj(
    {
        "name": {"type": "string", "minLength": 1},
        "mountPath": _STR,
        "readOnly": _BOOL,
        "type": {"type": "string", "enum": ("persistent", "ephemeral")},
        "sizeMb": _int(1),
    },
    ("name",),
)
RUNTIME: Schema = _obj(
    {
        "envs": {"type": "array", "items": ENV},
        "generation": {"type": "string", "enum": ("mk2", "mk3")},
        "image": _STR,
        "maxScale": _int(0),
        "memory": _int(1),
        "minScale": _int(0),
    }
)
SPEC: Schema = _obj(
    {
        "enabled": _BOOL,
        "policies": {"type": "array", "items": _STR},
        "public": _BOOL,
        "region": _STR,
        "repository": _obj({"type": _STR, "url": _STR}),
        "revision": _obj(
            {
                "active": _STR,
                "canary": _STR,
                "canaryPercent": _int(0, 100),
                "stickySessionTtl": _int(0),
                "traffic": _int(0, 100),
            }
        ),
        "runtime": RUNTIME,
        "triggers": {"type": "array", "items": TRIGGER},
        "volumes": {"type": "array", "items": VOLUME},
    }
)
METADATA: Schema = _obj(
    {
        "name": {"type": "string", "name": True},
        "displayName": {"type": "string", "maxLength": 63},
        "externalId": {"type": "string", "maxLength": 64, "pattern": EXTERNAL_ID_RE},
        "labels": {"type": "object", "additionalProperties": _STR},
        "createdAt": _READ_ONLY,
        "updatedAt": _READ_ONLY,
        "createdBy": _READ_ONLY,
        "updatedBy": _READ_ONLY,
        "plan": _READ_ONLY,
        "url": _READ_ONLY,
        "workspace": _READ_ONLY,
    },
    ("name",),
)
AGENT: Schema = _obj(
    {
        "metadata": METADATA,
        "spec": SPEC,
        "status": _READ_ONLY,
        "events": _READ_ONLY,
        # manifests in `bl apply` form carry these; the API ignores them
        "apiVersion": _READ_ONLY,
        "kind": _READ_ONLY,
    }
)


def _enum(*values: str) -> Schema:
    return {"type": "string", "enum": values}


def _array(items: Schema) -> Schema:
    return {"type": "array", "items": items}


def _string_map() -> Schema:
    return {"type": "object", "additionalProperties": _STR}


def _resource(spec: Schema, *read_only: str) -> Schema:
    """A ``{metadata, spec, <read-only fields>}`` object (manifests may carry apiVersion and kind)."""
    properties: dict[str, Schema] = {"metadata": METADATA, "spec": spec}
    for name in (*read_only, "apiVersion", "kind"):
        properties[name] = _READ_ONLY
    return _obj(properties)


PORT: Schema = _obj(
    {"name": _STR, "protocol": _enum("HTTP", "TCP", "UDP", "TLS"), "target": _int()}, ("target",)
)
FLAVOR: Schema = _obj({"name": _STR, "type": _enum("cpu", "gpu")})
FUNCTION_RUNTIME: Schema = _obj(
    {
        **RUNTIME["properties"],
        "ports": _array(PORT),
        "transport": _enum("websocket", "http-stream"),
    }
)
FUNCTION_SPEC: Schema = _obj(
    {
        "enabled": _BOOL,
        "integrationConnections": _array(_STR),
        "policies": _array(_STR),
        "public": _BOOL,
        "region": _STR,
        "revision": SPEC["properties"]["revision"],
        "runtime": FUNCTION_RUNTIME,
        "triggers": _array(TRIGGER),
    }
)
MODEL_PROVIDERS: tuple[str, ...] = (
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
)
MODEL_SPEC: Schema = _obj(
    {
        "enabled": _BOOL,
        "flavors": _array(FLAVOR),
        "integrationConnections": _array(_STR),
        "policies": _array(_STR),
        "runtime": _obj(
            {
                "endpointName": _STR,
                "generation": _enum("mk3", "mk2"),
                "model": _STR,
                "organization": _STR,
                "type": _enum(*MODEL_PROVIDERS),
            }
        ),
        "sandbox": _BOOL,
    }
)
JOB_VOLUME: Schema = _obj(
    {
        "mountPath": _STR,
        "name": {"type": "string", "minLength": 1},
        "readOnly": _BOOL,
        "sizeMb": _int(1),
        "type": _enum("ephemeral"),
    },
    ("name", "mountPath", "type", "sizeMb"),
)
JOB_SPEC: Schema = _obj(
    {
        "enabled": _BOOL,
        "githubRunner": _obj({"repositories": _array(_STR)}),
        "policies": _array(_STR),
        "region": _STR,
        "revision": SPEC["properties"]["revision"],
        "runtime": _obj(
            {
                # "Valid range 10-95" (JobRuntime.diskPercent)
                "diskPercent": _int(10, 95),
                "envs": _array(ENV),
                "generation": _enum("mk2", "mk3"),
                "image": _STR,
                "maxRetries": _int(0),
                "memory": _int(1),
                "ports": _array(PORT),
                "timeout": _int(0),
            }
        ),
        "triggers": _array(TRIGGER),
        "volumes": _array(JOB_VOLUME),
    }
)
POLICY_SPEC: Schema = _obj(
    {
        "flavors": _array(FLAVOR),
        "locations": _array(_obj({"name": _STR, "type": _enum("location", "country", "continent")})),
        "maxTokens": _obj(
            {
                "granularity": _STR,
                "input": _int(),
                "output": _int(),
                "ratioInputOverOutput": _int(),
                "step": _int(),
                "total": _int(),
            }
        ),
        "resourceTypes": _array(_enum("model", "function", "agent", "sandbox", "application")),
        "sandbox": _BOOL,
        "type": _enum("location", "flavor", "maxToken"),
    }
)
VOLUME_SPEC: Schema = _obj({"region": _STR, "size": _int(1), "template": _STR})
INTEGRATION_CONNECTION_SPEC: Schema = _obj(
    {"config": _string_map(), "integration": _STR, "sandbox": _BOOL, "secret": _string_map()}
)

FUNCTION: Schema = _resource(FUNCTION_SPEC, "status", "events")
MODEL: Schema = _resource(MODEL_SPEC, "status", "events")
JOB: Schema = _resource(JOB_SPEC, "status", "events")
# ``usage`` is not marked read-only in the description, but the listing computes it: a client's is ignored
POLICY: Schema = _resource(POLICY_SPEC, "usage")
VOLUME_OBJECT: Schema = _resource(VOLUME_SPEC, "status", "events", "state", "terminatedAt")
INTEGRATION_CONNECTION: Schema = _resource(INTEGRATION_CONNECTION_SPEC)

#: The request schema of each object, by the name of its schema in the description.
SCHEMAS: dict[str, Schema] = {
    "Agent": AGENT,
    "Function": FUNCTION,
    "Model": MODEL,
    "Job": JOB,
    "Policy": POLICY,
    "Volume": VOLUME_OBJECT,
    "IntegrationConnection": INTEGRATION_CONNECTION,
}


_TYPE_NAMES = {"string": "a string", "integer": "an integer", "boolean": "a boolean", "object": "an object"}


def _type_ok(value: Any, kind: str) -> bool:
    if kind == "string":
        return isinstance(value, str)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "object":
        return isinstance(value, dict)
    if kind == "array":
        return isinstance(value, list)
    raise AssertionError(kind)


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


def clean(value: Any, schema: Schema, path: str, errors: list[str]) -> Any:
    """Validate ``value`` against ``schema``; return a copy without read-only fields and nulls."""
    kind = schema.get("type")
    if kind is None:  # read-only placeholder: the caller drops it
        return None
    if not _type_ok(value, kind):
        expected = _TYPE_NAMES.get(kind, f"an {kind}")
        errors.append(f"{path}: must be {expected}, got {_json_type(value)}")
        return None
    if kind == "string":
        _check_string(value, schema, path, errors)
        return value
    if kind == "integer":
        if "minimum" in schema and value < schema["minimum"]:
            errors.append(f"{path}: must be >= {schema['minimum']}, got {value}")
        if "maximum" in schema and value > schema["maximum"]:
            errors.append(f"{path}: must be <= {schema['maximum']}, got {value}")
        return value
    if kind == "boolean":
        return value
    if kind == "array":
        items = schema["items"]
        return [clean(item, items, f"{path}[{index}]", errors) for index, item in enumerate(value)]
    # object
    if schema.get("free"):
        return value
    if "additionalProperties" in schema:
        inner = schema["additionalProperties"]
        result: dict[str, Any] = {}
        for key, item in value.items():
            if item is None:
                continue
            result[key] = clean(item, inner, f"{path}.{key}", errors)
        return result
    properties: dict[str, Schema] = schema["properties"]
    result = {}
    for key, item in value.items():
        sub = properties.get(key)
        if sub is None:
            errors.append(f"{path}.{key}: unknown field")
            continue
        if item is None or sub.get("readOnly"):
            continue
        result[key] = clean(item, sub, f"{path}.{key}", errors)
    for key in schema.get("required", ()):
        if key not in result and not any(e.startswith(f"{path}.{key}:") for e in errors):
            errors.append(f"{path}.{key}: required")
    return result


def _check_string(value: str, schema: Schema, path: str, errors: list[str]) -> None:
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{path}: must be one of {', '.join(schema['enum'])}, got {value!r}")
    if "minLength" in schema and len(value) < schema["minLength"]:
        errors.append(f"{path}: must not be empty")
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        errors.append(f"{path}: must be at most {schema['maxLength']} characters, got {len(value)}")
    if "pattern" in schema and not schema["pattern"].match(value):
        errors.append(f"{path}: must contain only letters, digits and hyphens")
    if schema.get("name"):
        problem = name_problem(value)
        if problem:
            errors.append(f"{path}: {problem}")


def name_problem(name: str) -> str | None:
    """Why ``name`` is not a valid resource name (None when it is)."""
    if not name:
        return "must not be empty"
    if len(name) > NAME_MAX:
        return f"must be at most {NAME_MAX} characters, got {len(name)}"
    if not NAME_RE.match(name):
        return (
            f"invalid name {name!r}: must consist of lowercase alphanumeric characters or '-', "
            "and start and end with an alphanumeric character"
        )
    return None


# Regions Blaxel deploys to (docs list these; an unknown region is refused, as by the real API).
KNOWN_REGIONS = frozenset(
    {"us-pdx-1", "us-was-1", "eu-lon-1", "eu-dub-1", "eu-fra-1", "ap-sin-1", "ap-syd-1"}
)


def _check_region(spec: dict[str, Any], errors: list[str]) -> None:
    region = spec.get("region")
    if isinstance(region, str) and region not in KNOWN_REGIONS:
        errors.append(f"spec.region: unknown region {region!r}; known: {', '.join(sorted(KNOWN_REGIONS))}")


def _check_scales(runtime: dict[str, Any], errors: list[str]) -> None:
    min_scale, max_scale = runtime.get("minScale"), runtime.get("maxScale")
    if isinstance(min_scale, int) and isinstance(max_scale, int) and max_scale < min_scale:
        errors.append(f"spec.runtime.maxScale: must be >= minScale ({min_scale}), got {max_scale}")


def _check_public(spec: dict[str, Any], errors: list[str]) -> None:
    runtime = spec.get("runtime") or {}
    if spec.get("public") is True and runtime.get("generation") == "mk2":
        errors.append("spec.public: only available for mk3 generation")


def _cross_checks(spec: dict[str, Any], errors: list[str]) -> None:
    runtime = spec.get("runtime") or {}
    _check_region(spec, errors)
    volumes = spec.get("volumes") or []
    if volumes and not spec.get("region"):
        errors.append("spec.region: required when volumes are attached")
    for index, volume in enumerate(volumes):
        if volume.get("sizeMb") is not None and volume.get("type", "persistent") != "ephemeral":
            errors.append(f"spec.volumes[{index}].sizeMb: only allowed for ephemeral volumes")
    _check_public(spec, errors)
    _check_scales(runtime, errors)


check_agent_spec = _cross_checks


def check_function_spec(spec: dict[str, Any], errors: list[str]) -> None:
    """FunctionSpec: a known region; ``public`` only on mk3 (as for agents); maxScale >= minScale."""
    _check_region(spec, errors)
    _check_public(spec, errors)
    _check_scales(spec.get("runtime") or {}, errors)


def check_job_spec(spec: dict[str, Any], errors: list[str]) -> None:
    _check_region(spec, errors)


def check_no_more(spec: dict[str, Any], errors: list[str]) -> None:
    """Models, policies, integration connections: the schema says it all."""


def check_volume_spec(spec: dict[str, Any], errors: list[str]) -> None:
    """A volume is created in a region ("Volumes must be created in a specific region") with a size."""
    _check_region(spec, errors)
    for field in ("region", "size"):
        if spec.get(field) is None:
            errors.append(f"spec.{field}: required")


def check_volume_update(old: dict[str, Any], new: dict[str, Any], errors: list[str]) -> None:
    """VolumeSpec: set at creation; region (and template) cannot change, size can grow but not shrink."""
    for field in ("region", "template"):
        if new.get(field) != old.get(field):
            errors.append(
                f"spec.{field}: cannot be changed after creation (is {old.get(field)!r}, got {new.get(field)!r})"
            )
    old_size, new_size = old.get("size"), new.get("size")
    if isinstance(old_size, int) and isinstance(new_size, int) and new_size < old_size:
        errors.append(f"spec.size: can be increased but not decreased (is {old_size}, got {new_size})")


CrossCheck = Callable[[dict[str, Any], list[str]], None]


def validate_object(
    body: Any,
    schema: Schema,
    noun: str,
    *,
    path_name: str | None = None,
    cross_checks: CrossCheck = check_no_more,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Validate a POST/PUT body; return ``(metadata, spec)`` with read-only fields removed.

    ``path_name`` is the name from a PUT URL: the body's ``metadata.name`` may then be absent but
    must match it when present. Raises :class:`ApiError` (400) listing every problem found.
    """
    if not isinstance(body, dict):
        raise ApiError(400, "bad_request", f"request body must be a JSON object, got {_json_type(body)}")
    errors: list[str] = []
    body = dict(body)
    if path_name is not None:
        metadata_in = body.get("metadata")
        if metadata_in is None:
            body["metadata"] = {"name": path_name}
        elif isinstance(metadata_in, dict):
            if metadata_in.get("name") is None:
                body["metadata"] = {**metadata_in, "name": path_name}
            elif metadata_in.get("name") != path_name:
                errors.append(
                    f"metadata.name: {metadata_in.get('name')!r} does not match the {noun} name "
                    f"{path_name!r} in the path (names are immutable)"
                )
    cleaned = clean(body, schema, "body", errors)
    if isinstance(cleaned, dict) and "metadata" not in cleaned and not errors:
        errors.append("body.metadata: required")
    if errors:
        message = "; ".join(e.removeprefix("body.") for e in errors)
        raise ApiError(400, "validation_error", message)
    assert isinstance(cleaned, dict)
    metadata: dict[str, Any] = cleaned["metadata"]
    spec: dict[str, Any] = cleaned.get("spec") or {}
    cross_checks(spec, errors)
    if errors:
        raise ApiError(400, "validation_error", "; ".join(errors))
    return metadata, spec


def validate_agent(body: Any, *, path_name: str | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """:func:`validate_object` for an Agent."""
    return validate_object(body, AGENT, "agent", path_name=path_name, cross_checks=_cross_checks)
