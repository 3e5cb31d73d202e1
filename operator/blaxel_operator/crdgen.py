"""CustomResourceDefinitions generated from the kinds' pydantic models: one source per schema.

A kind's spec model and status model are its schema. What Kubernetes needs beyond JSON Schema (CEL rules,
list types, formats, pruning exceptions) is declared beside the fields with `crd(...)`, passed as
`Field(json_schema_extra=crd(...))` or as a model's `ConfigDict(json_schema_extra=crd(...))`. Rules about
the whole object (they see `self.metadata.name`) are declared on the spec model with `object_rules`.

`blaxel-operator crds` prints the CRDs; `make crds` writes the repository's copies (top level, chart,
package); a test fails when a copy differs from what this module generates. Pure: pydantic and PyYAML only.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import BaseModel

if TYPE_CHECKING:
    from .kinds.base import Kind

VALIDATIONS = "x-kubernetes-validations"
# Where a spec model declares rules about the whole object; moved to the root by the generator.
OBJECT_VALIDATIONS = "x-blaxel-object-validations"
CRD_LABELS = {"app.kubernetes.io/name": "blaxel-operator", "app.kubernetes.io/part-of": "blaxel-operator"}
HEADER = (
    "# Generated from {source} by `make crds` (`blaxel-operator crds`): do not edit.\n# {kind}: {summary}\n"
)

# Key order in the generated schema: what a reader looks for first.
_KEY_ORDER = (
    "type",
    "format",
    "description",
    "enum",
    "default",
    "required",
    VALIDATIONS,
    "minLength",
    "maxLength",
    "pattern",
    "minimum",
    "maximum",
    "minItems",
    "maxItems",
    "minProperties",
    "maxProperties",
    "x-kubernetes-list-type",
    "x-kubernetes-list-map-keys",
    "x-kubernetes-preserve-unknown-fields",
    "additionalProperties",
    "items",
    "properties",
)
# JSON Schema keywords that pydantic emits and a structural schema does not take.
_DROPPED = frozenset({"title", "$defs", "examples"})


class CrdGenerationError(Exception):
    """The model uses a construct that has no structural-schema equivalent."""


@dataclass(frozen=True)
class Rule:
    """A CEL validation rule (`x-kubernetes-validations` item)."""

    rule: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"rule": self.rule, "message": self.message}


@dataclass(frozen=True)
class PrinterColumn:
    """A column of `kubectl get` (`additionalPrinterColumns` item); priority 1 shows with `-o wide`."""

    name: str
    json_path: str
    type: str = "string"
    description: str = ""
    priority: int = 0

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "type": self.type}
        if self.description:
            out["description"] = self.description
        if self.priority:
            out["priority"] = self.priority
        out["jsonPath"] = self.json_path
        return out


def crd(
    *rules: Rule,
    map_keys: Sequence[str] = (),
    schema_format: str | None = None,
    preserve_unknown_fields: bool = False,
    object_rules: Sequence[Rule] = (),
) -> dict[str, Any]:
    """The Kubernetes-only parts of a field's or a model's schema, for `json_schema_extra`.

    `rules`: CEL rules on this value; `map_keys`: a list keyed by these fields (x-kubernetes-list-type
    map); `schema_format`: an OpenAPI format (int64, date-time); `object_rules`: rules about the whole
    object, on a spec model only.
    """
    extra: dict[str, Any] = {}
    if rules:
        extra[VALIDATIONS] = [r.as_dict() for r in rules]
    if map_keys:
        extra["x-kubernetes-list-type"] = "map"
        extra["x-kubernetes-list-map-keys"] = list(map_keys)
    if schema_format:
        extra["format"] = schema_format
    if preserve_unknown_fields:
        extra["x-kubernetes-preserve-unknown-fields"] = True
    if object_rules:
        extra[OBJECT_VALIDATIONS] = [r.as_dict() for r in object_rules]
    return extra


# ---- JSON Schema (pydantic) -> structural schema -------------------------------------------------------


def model_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The structural schema of a model: references inlined, optional (`X | None`) read as X."""
    source = model.model_json_schema(by_alias=True, mode="validation")
    return _structural(source, source.get("$defs") or {}, "")


def _structural(node: Mapping[str, Any], defs: Mapping[str, Any], path: str) -> dict[str, Any]:
    node = dict(node)
    base: dict[str, Any] = {}
    if "anyOf" in node:
        branches = [b for b in node.pop("anyOf") if b.get("type") != "null"]
        if len(branches) != 1:
            raise CrdGenerationError(f"{path or '<root>'}: unions other than `X | None` have no CRD form")
        base = _structural(branches[0], defs, path)
        if node.get("default", ...) is None:
            del node["default"]  # `= None` means "unset", not a default value
    if "allOf" in node and len(node["allOf"]) == 1:
        node.update({k: v for k, v in node.pop("allOf")[0].items() if k not in node})
    if "$ref" in node:
        name = node.pop("$ref").rsplit("/", 1)[-1]
        base = _structural(defs[name], defs, path)
    for key in node:
        if key in ("anyOf", "oneOf", "allOf", "not"):
            raise CrdGenerationError(f"{path or '<root>'}: {key} has no CRD form")
    out = dict(base)
    for key, value in node.items():
        if key in _DROPPED:
            continue
        if key in (VALIDATIONS, OBJECT_VALIDATIONS):
            # the model's rules, then the field's; rule first (pydantic sorts keys)
            rules = [{"rule": r["rule"], **r} for r in value]
            out[key] = [*out.get(key, []), *rules]
        else:
            out[key] = copy.deepcopy(value)
    if isinstance(out.get("description"), str):
        out["description"] = _reflow(out["description"])
    if "const" in out:
        out["enum"] = [out.pop("const")]
    if "enum" in out and "type" not in out:
        out["type"] = _enum_type(out["enum"], path)
    if isinstance(out.get("properties"), dict):
        out["properties"] = {
            name: _structural(prop, defs, f"{path}.{name}" if path else name)
            for name, prop in out["properties"].items()
        }
        if not out.get("required"):
            out.pop("required", None)
    additional = out.get("additionalProperties")
    if additional is False:
        del out["additionalProperties"]  # unknown fields are pruned (or refused by kubectl's strict mode)
    elif additional is True or additional == {}:
        # dict[str, Any]: free-form, kept as is
        del out["additionalProperties"]
        out["x-kubernetes-preserve-unknown-fields"] = True
    elif isinstance(additional, dict):
        out["additionalProperties"] = _structural(additional, defs, f"{path}.*")
    if isinstance(out.get("items"), dict):
        out["items"] = _structural(out["items"], defs, f"{path}[*]")
    if "type" not in out and not out.get("x-kubernetes-preserve-unknown-fields"):
        raise CrdGenerationError(f"{path or '<root>'}: no type (use a concrete type, not Any)")
    return _ordered(out)


def _reflow(text: str) -> str:
    """A docstring as a description: paragraphs kept, lines within a paragraph joined."""
    paragraphs = [" ".join(line.strip() for line in p.splitlines()) for p in text.strip().split("\n\n")]
    return "\n\n".join(p for p in paragraphs if p)


def _enum_type(values: Sequence[Any], path: str) -> str:
    if all(isinstance(v, str) for v in values):
        return "string"
    if all(isinstance(v, bool) for v in values):
        return "boolean"
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return "integer"
    raise CrdGenerationError(f"{path}: an enum of mixed types has no CRD form")


def _ordered(schema: dict[str, Any]) -> dict[str, Any]:
    rank = {key: i for i, key in enumerate(_KEY_ORDER)}
    return {k: schema[k] for k in sorted(schema, key=lambda k: rank.get(k, len(rank)))}


# ---- the CustomResourceDefinition -------------------------------------------------------------------


def open_api_schema(kind: Kind) -> dict[str, Any]:
    """The `openAPIV3Schema` of the kind's CRD: apiVersion, kind, metadata, spec and status."""
    if kind.spec_model is None:
        raise CrdGenerationError(f"{kind.kind} declares no spec_model")
    spec = model_schema(kind.spec_model)
    object_rules = spec.pop(OBJECT_VALIDATIONS, [])
    status = model_schema(_status_model(kind))
    root: dict[str, Any] = {"type": "object", "required": ["spec"]}
    if object_rules:
        root[VALIDATIONS] = object_rules
    root["properties"] = {
        "apiVersion": {"type": "string"},
        "kind": {"type": "string"},
        "metadata": {"type": "object"},
        "spec": spec,
        "status": status,
    }
    return root


def _status_model(kind: Kind) -> type[BaseModel]:
    if kind.status_model is not None:
        return kind.status_model
    from .kinds.base import ResourceStatus

    return ResourceStatus


def custom_resource_definition(kind: Kind) -> dict[str, Any]:
    """The kind's CustomResourceDefinition (apiextensions.k8s.io/v1): one served, stored version."""
    names: dict[str, Any] = {
        "kind": kind.kind,
        "listKind": f"{kind.kind}List",
        "plural": kind.plural,
        "singular": kind.singular or kind.kind.lower(),
    }
    if kind.short_names:
        names["shortNames"] = list(kind.short_names)
    if kind.categories:
        names["categories"] = list(kind.categories)
    version: dict[str, Any] = {
        "name": kind.version,
        "served": True,
        "storage": True,
        "subresources": {"status": {}},
    }
    if kind.printer_columns:
        version["additionalPrinterColumns"] = [c.as_dict() for c in kind.printer_columns]
    version["schema"] = {"openAPIV3Schema": open_api_schema(kind)}
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{kind.plural}.{kind.group}", "labels": dict(CRD_LABELS)},
        "spec": {
            "group": kind.group,
            "scope": "Namespaced",
            "names": names,
            "versions": [version],
        },
    }


def file_name(kind: Kind) -> str:
    """The CRD's file name in the repository's copies, e.g. blaxel.ai_blaxelagents.yaml."""
    return f"{kind.group}_{kind.plural}.yaml"


class _Dumper(yaml.SafeDumper):
    """Block style with indented sequences, as kubectl and kubebuilder write CRDs."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None  # paragraphs of a description as a block
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def to_yaml(kind: Kind) -> str:
    """The kind's CRD file: a header naming its source, then the CRD."""
    source = (kind.spec_model.__module__ if kind.spec_model else "?").replace(".", "/") + ".py"
    summary = (kind.spec_model.__doc__ or "").strip().splitlines()[0] if kind.spec_model else ""
    header = HEADER.format(source=source, kind=kind.kind, summary=summary or kind.kind)
    body = yaml.dump(
        custom_resource_definition(kind),
        Dumper=_Dumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=10_000,
    )
    return header + body


def files(kinds: Iterable[Kind]) -> dict[str, str]:
    """File name -> content of every kind's CRD."""
    return {file_name(kind): to_yaml(kind) for kind in kinds}
