"""Request bodies of every collection, and what Blaxel's description says about each collection.

Written from ``controlplane.yml`` by hand, independently of the simulator's own table, so that the
tests check the table rather than repeat it.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Facts:
    """One collection as the description documents it."""

    path: str
    #: the statuses a creation goes through, in order ([] when the object has no status)
    phases: tuple[str, ...]
    revisions: bool = False
    show_secrets: bool = False
    paginated: bool = True
    status_filter: bool = False
    #: DELETE answers it DELETING, then it is gone; else it is gone at once
    deletes_slowly: bool = True
    #: a change that a PUT may make (spec fields)
    change: dict[str, Any] = field(default_factory=dict)


BUILD = ("UPLOADING", "BUILDING", "DEPLOYING", "DEPLOYED")

FACTS: dict[str, Facts] = {
    "functions": Facts(
        "functions",
        BUILD,
        revisions=True,
        show_secrets=True,
        status_filter=True,
        change={"runtime": {"image": "registry/fn:2", "memory": 4096}},
    ),
    "models": Facts(
        "models",
        ("DEPLOYING", "DEPLOYED"),
        revisions=True,
        status_filter=True,
        change={"runtime": {"type": "anthropic", "model": "claude-sonnet-4-20250514"}},
    ),
    "jobs": Facts(
        "jobs",
        BUILD,
        revisions=True,
        show_secrets=True,
        status_filter=True,
        change={"runtime": {"image": "registry/job:2", "maxRetries": 5}},
    ),
    "policies": Facts(
        "policies",
        (),
        deletes_slowly=False,
        change={"type": "location", "locations": [{"name": "US", "type": "country"}]},
    ),
    "volumes": Facts(
        "volumes", ("DEPLOYING", "DEPLOYED"), status_filter=True, change={"region": "us-pdx-1", "size": 4096}
    ),
    "integrations/connections": Facts(
        "integrations/connections",
        (),
        paginated=False,
        deletes_slowly=False,
        change={"integration": "openai", "config": {"organization": "org-2"}},
    ),
}
COLLECTION_PATHS = list(FACTS)
DEPLOYABLES = ["functions", "models", "jobs"]
WITH_STATUS = [*DEPLOYABLES, "volumes"]

_MINIMAL_SPECS: dict[str, dict[str, Any]] = {
    "agents": {},
    "functions": {"runtime": {"image": "registry/fn:1"}},
    "models": {"runtime": {"type": "openai", "model": "gpt-4.1"}, "integrationConnections": ["openai"]},
    "jobs": {"runtime": {"image": "registry/job:1"}},
    "policies": {"type": "location", "locations": [{"name": "EU", "type": "continent"}]},
    "volumes": {"region": "us-pdx-1", "size": 1024},
    "integrations/connections": {"integration": "openai", "secret": {"apiKey": "sk-123"}},
}

_FULL_METADATA: dict[str, Any] = {
    "displayName": "Contract Object",
    "externalId": "c-1",
    "labels": {"team": "ai"},
}
_ENVS = [{"name": "A", "value": "1"}, {"name": "S", "value": "s3cr3t", "secret": True}]
_REVISION = {"canaryPercent": 0, "stickySessionTtl": 0, "traffic": 100}
_TRIGGERS = [
    {"type": "http", "configuration": {"path": "/invoke", "authenticationType": "blaxel"}},
    {"id": "async", "type": "http-async", "configuration": {"callbackUrl": "https://e.x/cb", "timeout": 300}},
]
_PORTS = [{"name": "http", "protocol": "HTTP", "target": 8080}]
_FULL_SPECS: dict[str, dict[str, Any]] = {
    "functions": {
        "enabled": True,
        "integrationConnections": ["github"],
        "policies": ["eu-only"],
        "public": False,
        "region": "us-pdx-1",
        "revision": _REVISION,
        "runtime": {
            "envs": _ENVS,
            "generation": "mk3",
            "image": "registry/fn:1",
            "maxScale": 5,
            "memory": 2048,
            "minScale": 0,
            "ports": _PORTS,
            "transport": "http-stream",
        },
        "triggers": _TRIGGERS,
    },
    "models": {
        "enabled": True,
        "flavors": [{"name": "t4", "type": "gpu"}],
        "integrationConnections": ["openai"],
        "policies": ["eu-only"],
        "runtime": {
            "endpointName": "endpoint",
            "generation": "mk3",
            "model": "gpt-4.1",
            "organization": "org-abc",
            "type": "openai",
        },
        "sandbox": False,
    },
    "jobs": {
        "enabled": True,
        "githubRunner": {"repositories": ["acme/repo"]},
        "policies": ["eu-only"],
        "region": "us-was-1",
        "revision": _REVISION,
        "runtime": {
            "diskPercent": 50,
            "envs": _ENVS,
            "generation": "mk3",
            "image": "registry/job:1",
            "maxRetries": 3,
            "memory": 2048,
            "ports": _PORTS,
            "timeout": 3600,
        },
        "triggers": [{"type": "cron", "configuration": {"schedule": "0 * * * *", "tasks": [{"a": 1}]}}],
        "volumes": [
            {"name": "scratch", "mountPath": "/tmp", "readOnly": False, "type": "ephemeral", "sizeMb": 1024}
        ],
    },
    "policies": {
        "flavors": [{"name": "t4", "type": "gpu"}],
        "locations": [{"name": "EU", "type": "continent"}],
        "maxTokens": {
            "granularity": "minute",
            "input": 10000,
            "output": 5000,
            "ratioInputOverOutput": 2,
            "step": 1,
            "total": 15000,
        },
        "resourceTypes": ["agent", "function"],
        "sandbox": False,
        "type": "location",
    },
    "volumes": {"region": "us-pdx-1", "size": 1024, "template": "mytemplate:latest"},
    "integrations/connections": {
        "config": {"organization": "org-abc"},
        "integration": "openai",
        "sandbox": False,
        "secret": {"apiKey": "sk-123"},
    },
}


def body(path: str, name: str, **spec: Any) -> dict[str, Any]:
    """A minimal valid body of the collection, with ``spec`` fields overriding its defaults."""
    return {"metadata": {"name": name}, "spec": {**copy.deepcopy(_MINIMAL_SPECS[path]), **spec}}


def full_body(path: str, name: str) -> dict[str, Any]:
    """A body that sets every field the description lets a client set."""
    return {
        "metadata": {"name": name, **copy.deepcopy(_FULL_METADATA)},
        "spec": copy.deepcopy(_FULL_SPECS[path]),
    }
