"""The collections the simulator serves, as data: one row per Blaxel collection and its behaviour.

Every row follows Blaxel's published description (``controlplane.yml``): the object schema, which
calls the collection documents (revisions, ``show_secrets``, versioned paging, the ``status``
filter) and how its objects live (a deployment clock, a volume's provisioning, or none at all).
The state and the HTTP routing are generic over this table; nothing here knows about HTTP.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from types import MappingProxyType
from typing import Any

from . import validation
from .validation import CrossCheck, Schema

UpdateCheck = Callable[[dict[str, Any], dict[str, Any], list[str]], None]


class Lifecycle(Enum):
    #: every POST/PUT is a deployment (revision, events, status DEPLOYING -> DEPLOYED or FAILED)
    DEPLOYMENT = "deployment"
    #: provisioned once at creation (status DEPLOYING -> DEPLOYED), then updated in place
    VOLUME = "volume"
    #: no status at all: the object exists and is what was last written
    NONE = "none"


def _frozen(values: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(values))


@dataclass(frozen=True)
class Collection:
    """One collection of ``/v0`` and what the description says about it."""

    #: URL path below ``/v0`` (``agents``, ``integrations/connections``)
    path: str
    #: the object's schema name in the description (``Agent``)
    kind: str
    #: how messages name one object (``agent``, ``integration connection``)
    noun: str
    schema: Schema
    lifecycle: Lifecycle
    cross_checks: CrossCheck = validation.check_no_more
    #: checks of a PUT against the stored spec (immutable fields)
    update_checks: UpdateCheck | None = None
    #: a deployment uploads and builds first (UPLOADING -> BUILDING -> DEPLOYING), else starts DEPLOYING
    builds: bool = False
    #: ``GET /{path}/{name}/revisions`` is documented
    revisions: bool = False
    #: ``GET /{path}/{name}?show_secrets=true`` is documented (needs the workspace admin role)
    show_secrets: bool = False
    #: the list follows ``Blaxel-Version`` (``{data, meta}`` and cursor paging from 2026-04-28)
    paginated: bool = True
    #: the list documents the ``status`` filter (ListingStatus)
    status_filter: bool = False
    #: ``metadata.url`` is set ("for agents, functions, models, sandboxes")
    has_url: bool = False
    #: schema defaults the server fills in (``default:`` in the description)
    spec_defaults: Mapping[str, Any] = field(default_factory=lambda: _frozen({}))
    #: ``spec.runtime.envs[].secret`` values are masked
    secret_envs: bool = False
    #: ``spec.triggers`` get ids and async callback secrets
    triggers: bool = False
    #: a ``spec`` field that is a map of secret values (masked as a whole)
    secret_map: str | None = None
    #: DELETE answers the object DELETING and it is gone after ``delete_seconds``; else gone at once
    deletes_slowly: bool = True
    #: top-level fields an out-of-band (admin) edit may set besides metadata and spec
    admin_fields: tuple[str, ...] = ()

    @property
    def has_status(self) -> bool:
        return self.lifecycle is not Lifecycle.NONE

    @property
    def deploys(self) -> bool:
        return self.lifecycle is Lifecycle.DEPLOYMENT


AGENTS = Collection(
    path="agents",
    kind="Agent",
    noun="agent",
    schema=validation.AGENT,
    lifecycle=Lifecycle.DEPLOYMENT,
    cross_checks=validation.check_agent_spec,
    builds=True,
    revisions=True,
    show_secrets=True,
    status_filter=True,
    has_url=True,
    spec_defaults=_frozen({"enabled": True, "public": False}),
    secret_envs=True,
    triggers=True,
)
FUNCTIONS = Collection(
    path="functions",
    kind="Function",
    noun="function",
    schema=validation.FUNCTION,
    lifecycle=Lifecycle.DEPLOYMENT,
    cross_checks=validation.check_function_spec,
    builds=True,
    revisions=True,
    show_secrets=True,
    status_filter=True,
    has_url=True,
    spec_defaults=_frozen({"enabled": True, "public": False}),
    secret_envs=True,
    triggers=True,
)
MODELS = Collection(
    path="models",
    kind="Model",
    noun="model",
    schema=validation.MODEL,
    lifecycle=Lifecycle.DEPLOYMENT,
    # a model is a gateway to a provider: nothing to upload or build
    builds=False,
    revisions=True,
    status_filter=True,
    has_url=True,
    spec_defaults=_frozen({"enabled": True}),
)
JOBS = Collection(
    path="jobs",
    kind="Job",
    noun="job",
    schema=validation.JOB,
    lifecycle=Lifecycle.DEPLOYMENT,
    cross_checks=validation.check_job_spec,
    builds=True,
    revisions=True,
    show_secrets=True,
    status_filter=True,
    spec_defaults=_frozen({"enabled": True}),
    secret_envs=True,
    triggers=True,
)
POLICIES = Collection(
    path="policies",
    kind="Policy",
    noun="policy",
    schema=validation.POLICY,
    lifecycle=Lifecycle.NONE,
    deletes_slowly=False,
)
VOLUMES = Collection(
    path="volumes",
    kind="Volume",
    noun="volume",
    schema=validation.VOLUME_OBJECT,
    lifecycle=Lifecycle.VOLUME,
    cross_checks=validation.check_volume_spec,
    update_checks=validation.check_volume_update,
    status_filter=True,
    admin_fields=("state",),
)
INTEGRATION_CONNECTIONS = Collection(
    path="integrations/connections",
    kind="IntegrationConnection",
    noun="integration connection",
    schema=validation.INTEGRATION_CONNECTION,
    lifecycle=Lifecycle.NONE,
    # the list takes no parameters and is a bare array in every version
    paginated=False,
    secret_map="secret",
    deletes_slowly=False,
)

#: Every collection, by its path below ``/v0``.
COLLECTIONS: Mapping[str, Collection] = _frozen(
    {c.path: c for c in (AGENTS, FUNCTIONS, MODELS, JOBS, POLICIES, VOLUMES, INTEGRATION_CONNECTIONS)}
)
#: Other spellings accepted by the Python and admin APIs.
ALIASES: Mapping[str, str] = _frozen(
    {
        "connections": "integrations/connections",
        "integration-connections": "integrations/connections",
        "integrationconnections": "integrations/connections",
    }
)


def collection(name: str | Collection) -> Collection:
    """The collection called ``name`` (its path, e.g. ``functions``, or an alias); ValueError if none."""
    if isinstance(name, Collection):
        return name
    key = ALIASES.get(name, name).strip("/")
    found = COLLECTIONS.get(key)
    if found is None:
        raise ValueError(f"unknown collection {name!r}; known: {', '.join(COLLECTIONS)}")
    return found


def match_path(parts: list[str]) -> tuple[Collection, list[str]] | None:
    """Split ``/v0`` path segments into the collection and the rest (None: no collection)."""
    for size in (2, 1):
        found = COLLECTIONS.get("/".join(parts[:size])) if len(parts) >= size else None
        if found is not None:
            return found, parts[size:]
    return None
