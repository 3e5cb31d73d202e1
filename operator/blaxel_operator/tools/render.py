"""`render`: manifests of every kind the operator manages -> Blaxel API payloads, without network.

Every document of a registered kind (BlaxelAgent, BlaxelFunction, ...) is validated against its CRD (the
apiserver's rules, CEL included) and parsed by the operator's own spec model; errors of all documents are
reported together, each naming the file, the document and the field. Secret, ConfigMap and Namespace
documents are skipped; any other kind is an error. References to other resources (`policyRefs`,
`volumes[].volumeRef`, `integrationConnectionRefs`) render as the referenced resource's name.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pydantic

from ..core.decide import owner_labels
from ..kinds.base import Kind
from ..kinds.registry import KINDS as REGISTERED
from .common import CliError, where

KINDS: dict[tuple[str, str], Kind] = {(kind.api_version, kind.kind): kind for kind in REGISTERED}
_NAMES = sorted(k.kind for k in REGISTERED)
# "BlaxelAgent, BlaxelFunction, ... or BlaxelVolume", for the error about any other kind
KIND_NAMES = f"{', '.join(_NAMES[:-1])} or {_NAMES[-1]}" if len(_NAMES) > 1 else _NAMES[0]
SKIPPED_KINDS = ("Secret", "ConfigMap", "Namespace")


class RenderError(CliError):
    """Invalid manifests: the message lists every error, one per line."""


@dataclass(frozen=True)
class Resource:
    """A valid custom resource document and its parsed spec."""

    source: str
    index: int
    doc: dict[str, Any]
    kind: Kind
    spec: Any
    name: str
    namespace: str

    @property
    def remote_name(self) -> str:
        return self.kind.remote_name(self.spec, self.name)

    @property
    def where(self) -> str:
        return where(self.source, self.index, self.doc)


def load_resources(
    docs: Iterable[tuple[str, int, dict[str, Any]]], *, validate: bool = True
) -> list[Resource]:
    """The documents of registered kinds, validated; raises RenderError listing every problem found."""
    from ..schema import validate_object

    resources: list[Resource] = []
    errors: list[str] = []
    seen: dict[tuple[str, str, str], str] = {}
    count = 0
    for source, index, doc in docs:
        count += 1
        at = where(source, index, doc)
        kind = KINDS.get((str(doc.get("apiVersion")), str(doc.get("kind"))))
        if kind is None:
            if doc.get("kind") in SKIPPED_KINDS:
                continue
            errors.append(f"{at}: {doc.get('apiVersion')}/{doc.get('kind')} is not a {KIND_NAMES}")
            continue
        raw_meta = doc.get("metadata")
        meta: dict[str, Any] = raw_meta if isinstance(raw_meta, dict) else {}
        problems = validate_object(kind, doc) if validate else []
        if not problems and not meta.get("name"):
            problems = ["metadata.name: Required value: name or generateName is required"]
        if problems:
            errors.extend(f"{at}: {p}" for p in problems)
            continue
        try:
            spec = kind.parse_spec(doc.get("spec") or {})
        except pydantic.ValidationError as exc:
            for err in exc.errors():
                field = ".".join(str(p) for p in err.get("loc", ()))
                errors.append(f"{at}: spec.{field}: {err.get('msg')}")
            continue
        name = str(meta["name"])
        namespace = str(meta.get("namespace") or "default")
        key = (kind.kind, namespace, name)
        if key in seen:
            errors.append(f"{at}: {namespace}/{name} is already defined by {seen[key]}")
            continue
        seen[key] = at
        resources.append(Resource(source, index, doc, kind, spec, name, namespace))
    if errors:
        raise RenderError("\n".join(errors))
    if count == 0:
        raise CliError("no manifests found")
    return resources


def render_documents(
    docs: Iterable[tuple[str, int, dict[str, Any]]], *, cluster_id: str, validate: bool = True
) -> list[dict[str, Any]]:
    """The Blaxel payload of every resource, as the operator would send it (secrets as placeholders)."""
    payloads: list[dict[str, Any]] = []
    for res in load_resources(docs, validate=validate):
        labels = owner_labels(cluster_id, res.namespace, res.name)
        payloads.append(res.kind.build_payload(res.spec, res.remote_name, {}, labels))
    return payloads
