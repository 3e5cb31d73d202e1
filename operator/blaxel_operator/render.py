"""`render`: BlaxelAgent manifests -> Blaxel API payloads, without network."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pydantic

from .core.reconcile import owner_labels
from .kinds import agent
from .kinds.base import Kind

KINDS: dict[tuple[str, str], Kind] = {(f"{agent.KIND.group}/{agent.KIND.version}", agent.KIND.kind): agent.KIND}


class RenderError(Exception):
    pass


def render_documents(
    docs: Iterable[tuple[str, int, dict[str, Any]]], *, cluster_id: str, validate: bool = True
) -> list[dict[str, Any]]:
    from .cli import CliError

    payloads: list[dict[str, Any]] = []
    for source, index, doc in docs:
        where = f"{source}: document {index}"
        kind = KINDS.get((str(doc.get("apiVersion")), str(doc.get("kind"))))
        if kind is None:
            if doc.get("kind") in ("Secret", "ConfigMap", "Namespace"):
                continue
            raise CliError(f"{where}: {doc.get('apiVersion')}/{doc.get('kind')} is not a BlaxelAgent")
        meta = doc.get("metadata") or {}
        name = meta.get("name")
        if not name:
            raise CliError(f"{where}: metadata.name is required")
        if validate:
            from .schema import validate_object

            errors = validate_object(kind, doc)
            if errors:
                raise CliError(f"{where} ({name}): " + "; ".join(errors))
        try:
            spec = kind.parse_spec(doc.get("spec") or {})
        except pydantic.ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first.get("loc", ()))
            raise CliError(f"{where} ({name}): spec.{field}: {first.get('msg')}") from None
        remote = kind.remote_name(spec, name)
        labels = owner_labels(cluster_id, meta.get("namespace") or "default", name)
        payloads.append(kind.build_payload(spec, remote, {}, labels))
    return payloads
