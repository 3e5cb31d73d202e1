"""What Blaxel answers, validated before anything uses it.

Every Blaxel object shares `{metadata, spec, status, events}`. Unknown fields are kept (the API grows)
and any status string is allowed (an open set), but a wrong type or a missing `metadata.name` is a
malformed answer: never drift, never written into a status the CRD would then refuse.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import MalformedResponse


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)


class RemoteMetadata(_Open):
    name: str = Field(min_length=1)
    labels: dict[str, str] | None = None
    workspace: str | None = None
    displayName: str | None = None
    url: str | None = None
    createdAt: str | None = None
    updatedAt: str | None = None
    createdBy: str | None = None
    updatedBy: str | None = None
    plan: str | None = None


class RemoteEvent(_Open):
    type: str | None = None
    status: str | None = None
    message: str | None = None
    revision: str | None = None
    canaryRevision: str | None = None
    time: str | None = None


class RemoteObject(_Open):
    metadata: RemoteMetadata
    spec: dict[str, Any] | None = None
    status: str | None = None
    events: list[RemoteEvent] | None = None


def validated(body: Any, *, method: str, path: str) -> dict[str, Any]:
    """The object as Blaxel sent it, once it is known to have the shape every client relies on."""
    if not isinstance(body, dict):
        raise MalformedResponse(
            f"expected an object, got {type(body).__name__}", status=200, method=method, path=path
        )
    try:
        RemoteObject.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "<root>"
        raise MalformedResponse(
            f"malformed answer: {where}: {first.get('msg')}", status=200, method=method, path=path
        ) from None
    return body
