"""What the generic reconciler needs to know about a Blaxel kind."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class CamelModel(BaseModel):
    """Strict camelCase model: unknown fields are errors (the CRD would prune them anyway)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


@dataclass(frozen=True)
class SecretRef:
    """A key of a Secret in the resource's namespace."""

    name: str
    key: str

    def __str__(self) -> str:
        return f"{self.name}/{self.key}"


SecretValues = Mapping[SecretRef, str]


@dataclass(frozen=True)
class Kind:
    """A Blaxel kind managed through a Kubernetes custom resource."""

    kind: str  # Kubernetes kind, e.g. BlaxelAgent
    group: str
    version: str
    plural: str
    api_collection: str  # Blaxel path segment, e.g. "agents"
    parse_spec: Callable[[Mapping[str, Any]], Any]
    secret_refs: Callable[[Any], list[SecretRef]]
    # (spec model, remote name, resolved secret values, extra labels) -> API payload
    build_payload: Callable[[Any, str, SecretValues, Mapping[str, str]], dict[str, Any]]
    # (desired payload) -> the part of it that must be contained in the observed object
    comparable_desired: Callable[[Mapping[str, Any]], dict[str, Any]]
    # (observed object, desired payload) -> observed, normalised to compare with comparable_desired
    comparable_observed: Callable[[Mapping[str, Any], Mapping[str, Any]], dict[str, Any]]
    # (spec model, resource name) -> the remote object's name
    remote_name: Callable[[Any, str], str]
    # (payload) -> whether it carries secret values, which the API masks and so cannot be compared
    has_secret_values: Callable[[Mapping[str, Any]], bool]
