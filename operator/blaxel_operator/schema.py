"""CRD schema validation without a cluster: what the apiserver checks when a custom resource is created.

The CRD ships inside the package (`blaxel_operator/crds/`, a byte-identical copy of the repository's
`crds/`; a test keeps them equal). Validation delegates to the structural-schema validator (`crdschema`,
which the Kubernetes API test bed also uses, so that the tests prove it against the apiserver's behaviour):
the `openAPIV3Schema` (types, enums, required, patterns, bounds, list types), the `x-kubernetes-validations`
CEL rules, defaults, and pruning. Unknown fields are errors, as with `kubectl apply`'s default
`--validate=strict`. Object metadata is checked like the apiserver does for a create (name, namespace,
labels, annotations).

Messages are rendered like the apiserver's field errors: `spec.runtime.memory: Invalid value: 64: ...`.
"""

from __future__ import annotations

import copy
import functools
from importlib import resources
from typing import Any

import yaml

from . import crdschema
from .crdschema import INVALID, REQUIRED, FieldError
from .k8snames import (
    DNS1123_LABEL,
    DNS1123_SUBDOMAIN,
    LABEL_MSG,
    LABEL_VALUE_MSG,
    QUALIFIED_NAME_MSG,
    SUBDOMAIN_MSG,
    valid_label_key,
    valid_label_value,
)
from .kinds.base import Kind


def crd_file_name(kind: Kind) -> str:
    return f"{kind.group}_{kind.plural}.yaml"


@functools.cache
def load_crd(group: str, plural: str) -> dict[str, Any]:
    """The packaged CustomResourceDefinition of `plural.group`."""
    path = resources.files(__package__ or "blaxel_operator").joinpath("crds", f"{group}_{plural}.yaml")
    crd = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(crd, dict) or crd.get("kind") != "CustomResourceDefinition":
        raise RuntimeError(f"packaged CRD {group}_{plural}.yaml is not a CustomResourceDefinition")
    return crd


def version_schema(kind: Kind, version: str) -> dict[str, Any] | None:
    """The openAPIV3Schema of a served version of the kind's CRD, or None when it is not served."""
    crd = load_crd(kind.group, kind.plural)
    for item in crd["spec"]["versions"]:
        if item.get("name") == version and item.get("served", True):
            schema: dict[str, Any] = item["schema"]["openAPIV3Schema"]
            return schema
    return None


def _metadata_errors(obj: dict[str, Any]) -> list[str]:
    """ObjectMeta checks of a create (k8s.io/apimachinery/pkg/api/validation), apiserver-worded."""
    meta = obj.get("metadata")
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        return [FieldError(INVALID, "metadata", meta, "must be an object").message()]
    errors: list[FieldError] = []
    name = meta.get("name")
    if not name:
        errors.append(FieldError(REQUIRED, "metadata.name", detail="name or generateName is required"))
    elif not isinstance(name, str) or len(name) > 253 or not DNS1123_SUBDOMAIN.match(name):
        errors.append(FieldError(INVALID, "metadata.name", name, SUBDOMAIN_MSG))
    namespace = meta.get("namespace")
    if namespace is not None and (
        not isinstance(namespace, str) or len(namespace) > 63 or not DNS1123_LABEL.match(namespace)
    ):
        errors.append(FieldError(INVALID, "metadata.namespace", namespace, LABEL_MSG))
    for field in ("labels", "annotations"):
        values = meta.get(field)
        if values is None:
            continue
        if not isinstance(values, dict):
            errors.append(FieldError(INVALID, f"metadata.{field}", values, "must be a map of strings"))
            continue
        for key, value in values.items():
            # annotation keys are checked lowercased (apimachinery's ValidateAnnotations)
            if not valid_label_key(str(key).lower() if field == "annotations" else str(key)):
                errors.append(FieldError(INVALID, f"metadata.{field}", key, QUALIFIED_NAME_MSG))
            if not isinstance(value, str):
                errors.append(FieldError(INVALID, f"metadata.{field}.{key}", value, "must be a string"))
            elif field == "labels" and not valid_label_value(value):
                errors.append(FieldError(INVALID, f"metadata.{field}", value, LABEL_VALUE_MSG))
    return [e.message() for e in errors]


def validate_object(kind: Kind, obj: dict[str, Any]) -> list[str]:
    """Why the apiserver would refuse to create `obj` (a custom resource of `kind`); [] when it is valid.

    Each message names the field (`spec.region: Required value`); the caller adds file and document.
    """
    if not isinstance(obj, dict):
        return ["<nil>: Invalid value: the object must be a mapping"]
    api_version = str(obj.get("apiVersion") or "")
    group, _, version = api_version.rpartition("/")
    if group != kind.group or obj.get("kind") != kind.kind:
        return [
            f"apiVersion/kind: Invalid value: {api_version}/{obj.get('kind')} is not {kind.kind}.{kind.group}"
        ]
    schema = version_schema(kind, version)
    if schema is None:
        return [f'apiVersion: Invalid value: "{api_version}": version {version} of {kind.kind} is not served']
    errors = _metadata_errors(obj)
    work = copy.deepcopy(obj)
    if isinstance(work.get("metadata"), dict):
        work["metadata"] = dict(work["metadata"])
    # kubectl apply's default (--validate=strict) makes the apiserver refuse unknown fields
    errors.extend(f'unknown field "{path}"' for path in crdschema.prune(work, schema, root=True))
    crdschema.apply_defaults(work, schema)
    errors.extend(e.message() for e in crdschema.validate(work, None, schema, update=False))
    return errors
