"""Request validation of Agent bodies, after Blaxel's OpenAPI description (``controlplane.yml``).

The schema below is the Agent subset of the published description, with the documented limits
that the description only states in prose (name rules, displayName <= 63, externalId <= 64,
trigger timeout <= 900 s). Unknown fields are rejected with a message naming them; read-only
fields are dropped; JSON ``null`` counts as "not set" (as a Go server decoding into pointers does).
"""

from __future__ import annotations

import re
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


def _cross_checks(spec: dict[str, Any], errors: list[str]) -> None:
    runtime = spec.get("runtime") or {}
    region = spec.get("region")
    if isinstance(region, str) and region not in KNOWN_REGIONS:
        errors.append(f"spec.region: unknown region {region!r}; known: {', '.join(sorted(KNOWN_REGIONS))}")
    volumes = spec.get("volumes") or []
    if volumes and not spec.get("region"):
        errors.append("spec.region: required when volumes are attached")
    for index, volume in enumerate(volumes):
        if volume.get("sizeMb") is not None and volume.get("type", "persistent") != "ephemeral":
            errors.append(f"spec.volumes[{index}].sizeMb: only allowed for ephemeral volumes")
    if spec.get("public") is True and runtime.get("generation") == "mk2":
        errors.append("spec.public: only available for mk3 generation")
    min_scale, max_scale = runtime.get("minScale"), runtime.get("maxScale")
    if isinstance(min_scale, int) and isinstance(max_scale, int) and max_scale < min_scale:
        errors.append(f"spec.runtime.maxScale: must be >= minScale ({min_scale}), got {max_scale}")


def validate_agent(body: Any, *, path_name: str | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
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
                    f"metadata.name: {metadata_in.get('name')!r} does not match the agent name "
                    f"{path_name!r} in the path (names are immutable)"
                )
    cleaned = clean(body, AGENT, "agent", errors)
    if isinstance(cleaned, dict) and "metadata" not in cleaned and not errors:
        errors.append("agent.metadata: required")
    if errors:
        message = "; ".join(e.removeprefix("agent.") for e in errors)
        raise ApiError(400, "validation_error", message)
    assert isinstance(cleaned, dict)
    metadata: dict[str, Any] = cleaned["metadata"]
    spec: dict[str, Any] = cleaned.get("spec") or {}
    _cross_checks(spec, errors)
    if errors:
        raise ApiError(400, "validation_error", "; ".join(errors))
    return metadata, spec
