"""Resource types served by the Kubernetes API test bed: built-ins, CRD-defined ones, discovery and OpenAPI.

Built-in resources take their discovery data (kind, verbs, short names) from kmock's bundled snapshot of a
real cluster's discovery (`kmock.ResourcesArray.load_bundled()`); custom resources come from CRDs.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import kmock

from blaxel_devkit.kube_query import (
    NAME_COLUMN,
    Column,
    age,
    age_column,
    crd_columns,
    jsonpath,
    print_value,
)

# Built-ins served by default: what a Kopf operator and kubectl touch.
DEFAULT_BUILTINS: tuple[str, ...] = (
    "v1/namespaces",
    "v1/secrets",
    "v1/configmaps",
    "v1/events",
    "v1/serviceaccounts",
    "events.k8s.io/v1/events",
    "coordination.k8s.io/v1/leases",
    "apiextensions.k8s.io/v1/customresourcedefinitions",
)

# Kopf's peering resources, installed as CRDs like in a real cluster (kopf's peering.yaml).
KOPF_PEERING_CRDS: tuple[dict[str, Any], ...] = tuple(
    {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.kopf.dev"},
        "spec": {
            "scope": scope,
            "group": "kopf.dev",
            "names": {"kind": kind, "plural": plural, "singular": plural[:-1]},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
                            },
                        }
                    },
                }
            ],
        },
    }
    for kind, plural, scope in (
        ("ClusterKopfPeering", "clusterkopfpeerings", "Cluster"),
        ("KopfPeering", "kopfpeerings", "Namespaced"),
    )
)

CUSTOM_VERBS = ["delete", "deletecollection", "get", "list", "patch", "create", "update", "watch"]


@dataclass(eq=False)
class ResourceType:
    """One served group/version/plural."""

    group: str
    version: str
    plural: str
    kind: str
    singular: str
    namespaced: bool
    verbs: list[str]
    short_names: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    subresources: set[str] = field(default_factory=set)
    schema: dict[str, Any] | None = None  # openAPIV3Schema of a CRD version
    columns: list[Column] = field(default_factory=lambda: [NAME_COLUMN, age_column()])
    field_getters: dict[str, Callable[[dict[str, Any]], str]] = field(default_factory=dict)
    custom: bool = False
    crd_name: str | None = None
    storage_key: str = ""  # objects are shared by all versions of one group/plural
    list_kind: str = ""
    storage_version: str = ""  # the version objects are stored in (a CRD's storage version)

    def __post_init__(self) -> None:
        if not self.storage_version:
            self.storage_version = self.version
        if not self.storage_key:
            self.storage_key = f"{self.group}/{self.plural}"
        if not self.list_kind:
            self.list_kind = f"{self.kind}List"
        base: dict[str, Callable[[dict[str, Any]], str]] = {
            "metadata.name": lambda o: str(o["metadata"].get("name", "")),
            "metadata.namespace": lambda o: str(o["metadata"].get("namespace", "")),
        }
        base.update(self.field_getters)
        self.field_getters = base

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def storage_api_version(self) -> str:
        return f"{self.group}/{self.storage_version}" if self.group else self.storage_version

    @property
    def group_resource(self) -> str:
        """`blaxelagents.blaxel.ai` or `secrets`: how the apiserver names the resource in messages."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def group_kind(self) -> str:
        """`BlaxelAgent.blaxel.ai` or `Secret`: how the apiserver names the kind in Invalid errors."""
        return f"{self.kind}.{self.group}" if self.group else self.kind

    @property
    def has_status(self) -> bool:
        return "status" in self.subresources

    @property
    def tracks_generation(self) -> bool:
        return self.custom or (self.has_status and self.plural != "namespaces")

    @property
    def unconditional_update(self) -> bool:
        """Custom resources require metadata.resourceVersion on PUT; built-ins do not."""
        return not self.custom

    @property
    def returns_deleted_object(self) -> bool:
        return self.custom or self.plural in ("namespaces", "customresourcedefinitions")

    def discovery(self) -> list[dict[str, Any]]:
        entry: dict[str, Any] = {
            "name": self.plural,
            "singularName": self.singular,
            "namespaced": self.namespaced,
            "kind": self.kind,
            "verbs": sorted(self.verbs),
        }
        if self.short_names:
            entry["shortNames"] = list(self.short_names)
        if self.categories:
            entry["categories"] = list(self.categories)
        entry["storageVersionHash"] = hashlib.sha256(self.storage_key.encode()).hexdigest()[:12]
        entries = [entry]
        for sub in sorted(self.subresources):
            entries.append(
                {
                    "name": f"{self.plural}/{sub}",
                    "singularName": "",
                    "namespaced": self.namespaced,
                    "kind": self.kind,
                    "verbs": ["get", "patch", "update"],
                }
            )
        return entries


# ------------------------------------------------------------------------------------------------------
# Built-ins
# ------------------------------------------------------------------------------------------------------


def _get(obj: dict[str, Any], path: str) -> str:
    results = jsonpath(obj, path)
    return print_value(results[0]) if results and results[0] is not None else ""


def _event_fields(prefix: str) -> dict[str, Callable[[dict[str, Any]], str]]:
    names = ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")
    getters: dict[str, Callable[[dict[str, Any]], str]] = {
        f"involvedObject.{n}": functools.partial(lambda o, p: _get(o, p), p=f".{prefix}.{n}") for n in names
    }
    getters["reason"] = lambda o: _get(o, ".reason")
    getters["type"] = lambda o: _get(o, ".type")
    getters["reportingComponent"] = lambda o: (
        _get(o, ".reportingComponent") or _get(o, ".reportingController")
    )
    getters["source"] = lambda o: _get(o, ".source.component")
    return getters


def _builtin_columns(plural: str, group: str) -> list[Column]:
    if plural == "namespaces":
        return [
            NAME_COLUMN,
            Column("Status", "string", func=lambda o: _get(o, ".status.phase")),
            age_column(),
        ]
    if plural == "secrets":
        return [
            NAME_COLUMN,
            Column("Type", "string", func=lambda o: str(o.get("type", ""))),
            Column("Data", "string", func=lambda o: len(o.get("data") or {})),
            age_column(),
        ]
    if plural == "configmaps":
        return [
            NAME_COLUMN,
            Column(
                "Data", "string", func=lambda o: len(o.get("data") or {}) + len(o.get("binaryData") or {})
            ),
            age_column(),
        ]
    if plural == "events" and group == "":
        return [
            Column(
                "Last Seen",
                "string",
                func=lambda o: age(
                    o.get("lastTimestamp") or o.get("eventTime") or o["metadata"].get("creationTimestamp")
                ),
            ),
            Column("Type", "string", func=lambda o: str(o.get("type", ""))),
            Column("Reason", "string", func=lambda o: str(o.get("reason", ""))),
            Column(
                "Object",
                "string",
                func=lambda o: f"{_get(o, '.involvedObject.kind').lower()}/{_get(o, '.involvedObject.name')}",
            ),
            Column("Message", "string", func=lambda o: str(o.get("message", ""))),
        ]
    if plural == "customresourcedefinitions":
        return [
            NAME_COLUMN,
            Column("Created At", "date", func=lambda o: o["metadata"].get("creationTimestamp")),
        ]
    return [NAME_COLUMN, age_column()]


def _builtin_fields(plural: str, group: str) -> dict[str, Callable[[dict[str, Any]], str]]:
    if plural == "secrets":
        return {"type": lambda o: str(o.get("type", ""))}
    if plural == "namespaces":
        return {"status.phase": lambda o: _get(o, ".status.phase")}
    if plural == "events":
        return _event_fields("involvedObject" if group == "" else "regarding")
    return {}


@functools.cache
def _bundled() -> dict[tuple[str, str, str], Any]:
    resources = kmock.ResourcesArray()
    with warnings.catch_warnings():  # kmock uses the deprecated importlib.resources.read_binary()
        warnings.simplefilter("ignore", DeprecationWarning)
        resources.load_bundled()
    result: dict[tuple[str, str, str], Any] = {}
    for ref in resources:
        result[(ref.group or "", ref.version or "", ref.plural or "")] = resources[ref]
    return result


def parse_gvr(text: str) -> tuple[str, str, str]:
    parts = text.strip("/").split("/")
    if len(parts) == 2:
        return "", parts[0], parts[1]
    if len(parts) == 3:
        return parts[0], parts[1], parts[2]
    raise ValueError(f"not a group/version/plural: {text!r}")


def builtin(text: str) -> ResourceType:
    """A built-in resource type by `group/version/plural` (`v1/secrets`, `apps/v1/deployments`)."""
    group, version, plural = parse_gvr(text)
    info = _bundled().get((group, version, plural))
    if info is None:
        raise ValueError(f"unknown built-in resource: {text!r}")
    subresources = {"status"} if "status" in (info.subresources or set()) else set()
    return ResourceType(
        group=group,
        version=version,
        plural=plural,
        kind=str(info.kind),
        singular=str(info.singular or str(info.kind).lower()),
        namespaced=bool(info.namespaced),
        verbs=sorted(info.verbs),
        short_names=sorted(info.shortnames),
        categories=sorted(info.categories),
        subresources=subresources,
        columns=_builtin_columns(plural, group),
        field_getters=_builtin_fields(plural, group),
    )


# ------------------------------------------------------------------------------------------------------
# CRDs
# ------------------------------------------------------------------------------------------------------

_KUBE_VERSION = re.compile(r"^v(\d+)(?:(alpha|beta)(\d+))?$")


def version_priority(version: str) -> tuple[int, int, int, str]:
    """Sort key of k8s version priority: v2 > v1 > v1beta2 > v1beta1 > v1alpha1 > others (alphabetical)."""
    match = _KUBE_VERSION.match(version)
    if match is None:
        return (3, 0, 0, version)
    stage = {None: 0, "beta": 1, "alpha": 2}[match.group(2)]
    return (stage, -int(match.group(1)), -int(match.group(3) or 0), "")


def crd_resource_types(crd: dict[str, Any]) -> list[ResourceType]:
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    group = str(spec.get("group", ""))
    plural = str(names.get("plural", ""))
    kind = str(names.get("kind", ""))
    all_versions = [v for v in spec.get("versions") or [] if isinstance(v, dict)]
    storage = next((str(v.get("name", "")) for v in all_versions if v.get("storage")), "")
    versions = [v for v in all_versions if v.get("served", True)]
    result: list[ResourceType] = []
    for ver in versions:
        schema = (ver.get("schema") or {}).get("openAPIV3Schema")
        subresources = ver.get("subresources") or {}
        selectable: dict[str, Callable[[dict[str, Any]], str]] = {}
        for sel in ver.get("selectableFields") or []:
            path = str(sel.get("jsonPath", ""))
            selectable[path.lstrip(".")] = functools.partial(lambda o, p: _get(o, p), p=path)
        result.append(
            ResourceType(
                group=group,
                version=str(ver.get("name", "")),
                plural=plural,
                kind=kind,
                singular=str(names.get("singular") or kind.lower()),
                namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                verbs=list(CUSTOM_VERBS),
                short_names=list(names.get("shortNames") or []),
                categories=list(names.get("categories") or []),
                subresources={"status"} if "status" in subresources else set(),
                schema=schema
                if isinstance(schema, dict)
                else {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                columns=crd_columns(ver.get("additionalPrinterColumns")),
                field_getters=selectable,
                custom=True,
                crd_name=str((crd.get("metadata") or {}).get("name", "")),
                list_kind=str(names.get("listKind") or f"{kind}List"),
                storage_version=storage,
            )
        )
    return result


# ------------------------------------------------------------------------------------------------------
# OpenAPI v3 (just enough for kubectl: server-side field validation and patch types)
# ------------------------------------------------------------------------------------------------------


def _reverse_group(group: str) -> str:
    return ".".join(reversed(group.split("."))) if group else "io.k8s.api.core"


def openapi_schema_name(rt: ResourceType) -> str:
    return f"{_reverse_group(rt.group)}.{rt.version}.{rt.kind}"


_QUERY_PARAMS = [
    {"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": True}}
    for name in ("dryRun", "fieldManager", "fieldValidation")
]
# no strategic merge patch: kubectl then uses JSON merge patch for custom resources and its compiled-in
# strategic merge patch metadata for built-ins (the test bed only approximates strategic merge patch)
_PATCH_TYPES = ["application/json-patch+json", "application/merge-patch+json", "application/apply-patch+yaml"]


def _operation(rt: ResourceType, action: str, body_types: list[str] | None) -> dict[str, Any]:
    ref = {"$ref": f"#/components/schemas/{openapi_schema_name(rt)}"}
    operation: dict[str, Any] = {
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": {"group": rt.group, "version": rt.version, "kind": rt.kind},
        "parameters": _QUERY_PARAMS,
        "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": ref}}}},
    }
    if body_types is not None:
        operation["requestBody"] = {"content": {t: {"schema": {"type": "object"}} for t in body_types}}
    return operation


def openapi_gv_document(group: str, version: str, types: list[ResourceType]) -> dict[str, Any]:
    """An OpenAPI v3 document of one group/version: paths (kubectl reads the PATCH operations to learn
    that server-side field validation is supported) and the schemas of the kinds."""
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    prefix = f"/apis/{group}/{version}" if group else f"/api/{version}"
    for rt in types:
        base = f"{prefix}/namespaces/{{namespace}}/{rt.plural}" if rt.namespaced else f"{prefix}/{rt.plural}"
        paths[base] = {"get": _operation(rt, "list", None), "post": _operation(rt, "post", ["*/*"])}
        paths[f"{base}/{{name}}"] = {
            "get": _operation(rt, "get", None),
            "put": _operation(rt, "put", ["*/*"]),
            "patch": _operation(rt, "patch", _PATCH_TYPES),
            "delete": _operation(rt, "delete", None),
        }
        if rt.has_status:
            paths[f"{base}/{{name}}/status"] = {
                "get": _operation(rt, "get", None),
                "put": _operation(rt, "put", ["*/*"]),
                "patch": _operation(rt, "patch", _PATCH_TYPES),
            }
        schema = (
            dict(rt.schema) if rt.schema else {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
        )
        schema["x-kubernetes-group-version-kind"] = [
            {"group": rt.group, "version": rt.version, "kind": rt.kind}
        ]
        schemas[openapi_schema_name(rt)] = schema
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.36.0"},
        "paths": paths,
        "components": {"schemas": schemas},
    }


def document_hash(document: dict[str, Any]) -> str:
    return hashlib.sha512(json.dumps(document, sort_keys=True).encode()).hexdigest()[:64].upper()
