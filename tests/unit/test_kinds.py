"""The kinds beyond agents (functions, models, jobs, policies, volumes, integration connections): spec
models, payloads, comparison, readiness and references, as pure functions (no server).

The contract tests walk Blaxel's published OpenAPI description (``shared/blaxel/controlplane.yml`` in a
parent directory of the repository) and skip, saying so, where it is absent.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import pydantic
import pytest
import yaml

from blaxel_operator.core.diff import subset_diff
from blaxel_operator.kinds import (
    common,
    function,
    integration_connection,
    job,
    model,
    policy,
    registry,
    volume,
)
from blaxel_operator.kinds.base import CamelModel, Phase, Reference, SecretRef

REPO = Path(__file__).resolve().parents[2]
OWNER = {"owner": "x"}

MODULES: dict[str, ModuleType] = {
    "function": function,
    "model": model,
    "job": job,
    "policy": policy,
    "volume": volume,
    "integration_connection": integration_connection,
}

POLICY_GPU = Reference("BlaxelPolicy", "gpu", "policyRefs")
CONN_OPENAI = Reference("BlaxelIntegrationConnection", "openai", "integrationConnectionRefs")
TOKEN = SecretRef("search", "token")
API_KEY = SecretRef("openai", "api-key")
SECRETS = {TOKEN: "s3cret", API_KEY: "sk-live"}
REFS = {POLICY_GPU: "gpu-remote", CONN_OPENAI: "openai-prod"}

OPERATOR = {"workspace": "acme", "credentialsRef": {"name": "creds"}, "deletionPolicy": "Orphan"}
META = {"displayName": "Shown", "labels": {"team": "ai"}, "externalId": "ext-1"}
META_PAYLOAD = {"displayName": "Shown", "externalId": "ext-1", "labels": {"team": "ai", "owner": "x"}}

ENVS = [
    {"name": "MODE", "value": "prod"},
    {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "search", "key": "token"}}},
]
ENVS_PAYLOAD = [{"name": "MODE", "value": "prod"}, {"name": "TOKEN", "value": "s3cret", "secret": True}]

FULL: dict[str, dict[str, Any]] = {
    "function": {
        **OPERATOR,
        **META,
        "functionName": "search-mcp",
        "enabled": True,
        "public": False,
        "region": "us-pdx-1",
        "policies": ["eu-only"],
        "policyRefs": [{"name": "gpu"}],
        "integrationConnections": ["github"],
        "integrationConnectionRefs": [{"name": "openai"}],
        "revision": {"active": "rev-1", "traffic": 100},
        "runtime": {
            "generation": "mk3",
            "image": "acme/search:1",
            "memory": 2048,
            "minScale": 0,
            "maxScale": 3,
            "transport": "http-stream",
            "ports": [{"name": "http", "protocol": "HTTP", "target": 8080}],
            "envs": ENVS,
        },
        "triggers": [{"id": "mcp", "type": "http", "configuration": {"path": "/mcp"}}],
    },
    "model": {
        **OPERATOR,
        **META,
        "modelName": "gpt",
        "enabled": True,
        "flavors": [{"name": "t4", "type": "gpu"}],
        "policies": ["eu-only"],
        "policyRefs": [{"name": "gpu"}],
        "integrationConnectionRefs": [{"name": "openai"}],
        "runtime": {"type": "openai", "model": "gpt-4.1", "organization": "org-1", "generation": "mk3"},
        "sandbox": False,
    },
    "job": {
        **OPERATOR,
        **META,
        "jobName": "nightly",
        "enabled": True,
        "githubRunner": {"repositories": ["acme/a", "acme/b"]},
        "policyRefs": [{"name": "gpu"}],
        "region": "us-was-1",
        "revision": {"active": "rev-1"},
        "runtime": {
            "diskPercent": 80,
            "envs": ENVS,
            "generation": "mk3",
            "image": "acme/job:1",
            "maxRetries": 3,
            "memory": 4096,
            "ports": [{"target": 9000}],
            "timeout": 3600,
        },
        "triggers": [{"type": "cron", "configuration": {"schedule": "0 3 * * *", "tasks": [{"n": 1}]}}],
        "volumes": [{"name": "scratch", "mountPath": "/scratch", "type": "ephemeral", "sizeMb": 1024}],
    },
    "policy": {
        **OPERATOR,
        **META,
        "policyName": "eu-only",
        "type": "location",
        "locations": [{"type": "continent", "name": "EU"}, {"type": "country", "name": "FR"}],
        "flavors": [{"type": "cpu", "name": "standard"}],
        "maxTokens": {"granularity": "minute", "input": 1000, "output": 500, "total": 1500},
        "resourceTypes": ["agent", "function"],
        "sandbox": False,
    },
    "volume": {
        **OPERATOR,
        **META,
        "volumeName": "data",
        "region": "us-pdx-1",
        "size": 2048,
        "template": "t:1",
    },
    "integration_connection": {
        **OPERATOR,
        **META,
        "connectionName": "openai-prod",
        "integration": "openai",
        "config": {"organization": "org-1"},
        "sandbox": False,
        "secret": {"apiKey": {"valueFrom": {"secretKeyRef": {"name": "openai", "key": "api-key"}}}},
    },
}

EXPECTED: dict[str, dict[str, Any]] = {
    "function": {
        "metadata": {"name": "search-mcp", **META_PAYLOAD},
        "spec": {
            "enabled": True,
            "public": False,
            "region": "us-pdx-1",
            "policies": ["eu-only", "gpu-remote"],
            "integrationConnections": ["github", "openai-prod"],
            "revision": {"active": "rev-1", "traffic": 100},
            "runtime": {
                "generation": "mk3",
                "image": "acme/search:1",
                "memory": 2048,
                "minScale": 0,
                "maxScale": 3,
                "transport": "http-stream",
                "ports": [{"name": "http", "protocol": "HTTP", "target": 8080}],
                "envs": ENVS_PAYLOAD,
            },
            "triggers": [{"id": "mcp", "type": "http", "configuration": {"path": "/mcp"}}],
        },
    },
    "model": {
        "metadata": {"name": "gpt", **META_PAYLOAD},
        "spec": {
            "enabled": True,
            "flavors": [{"name": "t4", "type": "gpu"}],
            "policies": ["eu-only", "gpu-remote"],
            "integrationConnections": ["openai-prod"],
            "runtime": {"type": "openai", "model": "gpt-4.1", "organization": "org-1", "generation": "mk3"},
            "sandbox": False,
        },
    },
    "job": {
        "metadata": {"name": "nightly", **META_PAYLOAD},
        "spec": {
            "enabled": True,
            "githubRunner": {"repositories": ["acme/a", "acme/b"]},
            "policies": ["gpu-remote"],
            "region": "us-was-1",
            "revision": {"active": "rev-1"},
            "runtime": {
                "diskPercent": 80,
                "envs": ENVS_PAYLOAD,
                "generation": "mk3",
                "image": "acme/job:1",
                "maxRetries": 3,
                "memory": 4096,
                "ports": [{"target": 9000}],
                "timeout": 3600,
            },
            "triggers": [{"type": "cron", "configuration": {"schedule": "0 3 * * *", "tasks": [{"n": 1}]}}],
            "volumes": [{"name": "scratch", "mountPath": "/scratch", "type": "ephemeral", "sizeMb": 1024}],
        },
    },
    "policy": {
        "metadata": {"name": "eu-only", **META_PAYLOAD},
        "spec": {
            "type": "location",
            "locations": [{"type": "continent", "name": "EU"}, {"type": "country", "name": "FR"}],
            "flavors": [{"type": "cpu", "name": "standard"}],
            "maxTokens": {"granularity": "minute", "input": 1000, "output": 500, "total": 1500},
            "resourceTypes": ["agent", "function"],
            "sandbox": False,
        },
    },
    "volume": {
        "metadata": {"name": "data", **META_PAYLOAD},
        "spec": {"region": "us-pdx-1", "size": 2048, "template": "t:1"},
    },
    "integration_connection": {
        "metadata": {"name": "openai-prod", **META_PAYLOAD},
        "spec": {
            "integration": "openai",
            "config": {"organization": "org-1"},
            "sandbox": False,
            "secret": {"apiKey": "sk-live"},
        },
    },
}

NAME_FIELDS = {
    "function": "functionName",
    "model": "modelName",
    "job": "jobName",
    "policy": "policyName",
    "volume": "volumeName",
    "integration_connection": "connectionName",
}
# The smallest valid spec of each kind.
MINIMAL: dict[str, dict[str, Any]] = {name: {} for name in MODULES}
MINIMAL["integration_connection"] = {"integration": "openai"}


def build(name: str, spec: Mapping[str, Any], resource: str = "res", **kw: Any) -> dict[str, Any]:
    mod = MODULES[name]
    parsed = mod.parse_spec(spec)
    payload: dict[str, Any] = mod.KIND.build_payload(
        parsed,
        mod.KIND.remote_name(parsed, resource),
        kw.get("secrets", SECRETS),
        OWNER,
        kw.get("refs", REFS),
    )
    return payload


# --------------------------------------------------------------------------- registry and Kind fields


def test_registry_holds_every_kind_once() -> None:
    kinds = {k.kind for k in registry.KINDS}
    assert kinds == {
        "BlaxelAgent",
        "BlaxelFunction",
        "BlaxelModel",
        "BlaxelJob",
        "BlaxelPolicy",
        "BlaxelVolume",
        "BlaxelIntegrationConnection",
    }
    assert len(registry.KINDS) == len(kinds)
    assert len({k.plural for k in registry.KINDS}) == len(kinds)
    shorts = [s for k in registry.KINDS for s in k.short_names]
    assert len(shorts) == len(set(shorts))
    assert registry.by_kind("BlaxelVolume") is volume.KIND


@pytest.mark.parametrize(
    ("name", "plural", "collection", "short", "redeploys"),
    [
        ("function", "blaxelfunctions", "functions", "blfn", True),
        ("model", "blaxelmodels", "models", "blmodel", True),
        ("job", "blaxeljobs", "jobs", "bljob", True),
        ("policy", "blaxelpolicies", "policies", "blpol", False),
        ("volume", "blaxelvolumes", "volumes", "blvol", False),
        (
            "integration_connection",
            "blaxelintegrationconnections",
            "integrations/connections",
            "blconn",
            False,
        ),
    ],
)
def test_kind_names(name: str, plural: str, collection: str, short: str, redeploys: bool) -> None:
    kind = MODULES[name].KIND
    assert (kind.plural, kind.api_collection, kind.short_names, kind.redeploys_on_write) == (
        plural,
        collection,
        (short,),
        redeploys,
    )
    assert kind.singular == (plural[:-3] + "y" if plural.endswith("ies") else plural[:-1])
    assert kind.api_version == "blaxel.ai/v1alpha1" and kind.categories == ("blaxel",)
    assert kind.spec_model is not None and kind.noun


# --------------------------------------------------------------------------- parse and payload


@pytest.mark.parametrize("name", MODULES)
def test_full_spec_payload(name: str) -> None:
    assert build(name, FULL[name]) == EXPECTED[name]


@pytest.mark.parametrize("name", MODULES)
def test_minimal_spec_sends_the_name_owner_labels_and_the_defaults_it_compares(name: str) -> None:
    payload = build(name, MINIMAL[name])
    assert payload["metadata"] == {"name": "res", "labels": OWNER}
    # enabled/public are compared against Blaxel's defaults when unset, so they are sent (a merging PUT
    # would keep an out-of-band value of a field left out)
    defaults = dict(getattr(MODULES[name], "DEFAULTS", {}))
    required = {k: v for k, v in EXPECTED[name]["spec"].items() if k == "integration"}
    assert payload["spec"] == {**required, **defaults}


@pytest.mark.parametrize("name", MODULES)
@pytest.mark.parametrize(("override", "remote"), [(None, "res"), ("other-name", "other-name")])
def test_remote_name_defaults_to_resource_name(name: str, override: str | None, remote: str) -> None:
    spec = dict(MINIMAL[name])
    if override:
        spec[NAME_FIELDS[name]] = override
    assert build(name, spec)["metadata"]["name"] == remote


@pytest.mark.parametrize("name", MODULES)
@pytest.mark.parametrize("bad", ["Upper", "x" * 50, "-lead", "a_b"])
def test_invalid_remote_names_are_refused(name: str, bad: str) -> None:
    with pytest.raises(pydantic.ValidationError, match=NAME_FIELDS[name]):
        MODULES[name].parse_spec({**MINIMAL[name], NAME_FIELDS[name]: bad})


@pytest.mark.parametrize("name", MODULES)
def test_name_override_is_immutable_in_the_schema(name: str) -> None:
    model_cls = MODULES[name].KIND.spec_model
    assert model_cls is not None
    schema = model_cls.model_json_schema(by_alias=True)
    field = NAME_FIELDS[name]
    assert {"rule": "self == oldSelf", "message": f"spec.{field} is immutable"} in schema["properties"][
        field
    ][common.CEL]
    assert any(f"has(self.{field}) == has(oldSelf.{field})" == r["rule"] for r in schema[common.CEL])
    (root,) = MODULES[name].ROOT_VALIDATIONS
    assert f"has(self.spec.{field})" in root["rule"] and f"set spec.{field}" in root["message"]


@pytest.mark.parametrize(
    ("name", "bad", "match"),
    [
        ("function", {"runtime": {"transport": "grpc"}}, "transport"),
        ("function", {"runtime": {"minScale": 3, "maxScale": 1}}, "minScale must not exceed"),
        ("function", {"triggers": [{"type": "cron"}]}, "needs configuration.schedule"),
        (
            "function",
            {"runtime": {"envs": [{"name": "A", "value": "1"}, {"name": "A", "value": "2"}]}},
            "duplicate",
        ),
        (
            "function",
            {
                "runtime": {
                    "envs": [
                        {"name": "A", "value": "1", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}
                    ]
                }
            },
            "either value or valueFrom",
        ),
        ("function", {"policyRefs": [{"name": "Not_A_Name"}]}, "policyRefs"),
        ("model", {"runtime": {"type": "skynet"}}, "runtime.type"),
        ("model", {"runtime": {"envs": []}}, "envs"),
        ("job", {"runtime": {"diskPercent": 5}}, "diskPercent"),
        ("job", {"volumes": [{"name": "v", "mountPath": "/v", "type": "persistent", "sizeMb": 1}]}, "type"),
        ("job", {"volumes": [{"name": "v", "mountPath": "/v", "type": "ephemeral"}]}, "sizeMb"),
        ("job", {"integrationConnections": ["x"]}, "integrationConnections"),
        ("policy", {"type": "region"}, "type"),
        ("policy", {"resourceTypes": ["database"]}, "resourceTypes"),
        ("policy", {"locations": [{"type": "planet", "name": "Mars"}]}, "locations"),
        ("volume", {"size": 0}, "size"),
        ("volume", {"mountPath": "/data"}, "mountPath"),
        ("integration_connection", {}, "integration"),
        ("integration_connection", {"integration": "openai", "secret": {"apiKey": "sk-inline"}}, "secret"),
        ("integration_connection", {"integration": "openai", "secret": {"apiKey": {"value": "x"}}}, "secret"),
        ("integration_connection", {"integration": "openai", "config": {"n": 1}}, "config"),
    ],
)
def test_invalid_specs_are_refused(name: str, bad: dict[str, Any], match: str) -> None:
    with pytest.raises(pydantic.ValidationError, match=match):
        MODULES[name].parse_spec(bad)


@pytest.mark.parametrize("name", MODULES)
def test_common_fields_are_refused_when_wrong(name: str) -> None:
    bad_specs: list[dict[str, Any]] = [
        {"deletionPolicy": "Keep"},
        {"externalId": "x" * 65},
        {"externalId": "no spaces"},
        {"displayName": "x" * 64},
        {"credentialsRef": {}},
        {"unknownField": 1},
    ]
    for bad in bad_specs:
        with pytest.raises(pydantic.ValidationError):
            MODULES[name].parse_spec({**MINIMAL[name], **bad})
    assert MODULES[name].parse_spec(MINIMAL[name]).deletion_policy == "Delete"


def test_secret_refs_listed_once() -> None:
    envs = [
        {"name": "A", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
        {"name": "B", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
        {"name": "C", "value": "plain"},
    ]
    for mod in (function, job):
        assert mod.KIND.secret_refs(mod.parse_spec({"runtime": {"envs": envs}})) == [SecretRef("s", "k")]
    conn = integration_connection.parse_spec(FULL["integration_connection"])
    assert integration_connection.KIND.secret_refs(conn) == [API_KEY]
    for mod in (model, policy, volume):
        assert mod.KIND.secret_refs(mod.parse_spec(FULL[mod.__name__.rsplit(".", 1)[1]])) == []


def test_missing_secret_values_show_as_placeholders_never_as_empty() -> None:
    payload = build("integration_connection", FULL["integration_connection"], secrets={})
    assert payload["spec"]["secret"] == {"apiKey": "<secret openai/api-key>"}
    payload = build("job", FULL["job"], secrets={})
    assert payload["spec"]["runtime"]["envs"][1] == {
        "name": "TOKEN",
        "value": "<secret search/token>",
        "secret": True,
    }


@pytest.mark.parametrize(
    ("name", "has_secrets"),
    [
        ("function", True),
        ("job", True),
        ("integration_connection", True),
        ("model", False),
        ("policy", False),
        ("volume", False),
    ],
)
def test_has_secret_values(name: str, has_secrets: bool) -> None:
    assert MODULES[name].KIND.has_secret_values(build(name, FULL[name])) is has_secrets
    assert MODULES[name].KIND.has_secret_values(build(name, MINIMAL[name])) is False


@pytest.mark.parametrize(
    ("name", "compares"),
    [("function", True), ("job", True), ("integration_connection", False)],
)
def test_secret_values_read_with_show_secrets_are_compared_where_blaxel_shows_them(
    name: str, compares: bool
) -> None:
    """Blaxel documents show_secrets for functions and jobs (and agents), not for connections."""
    kind = MODULES[name].KIND
    assert kind.compares_secrets is compares
    if compares:
        payload = build(name, FULL[name])
        assert kind.secrets_match(copy.deepcopy(payload), payload)
        other = copy.deepcopy(payload)
        next(e for e in other["spec"]["runtime"]["envs"] if e.get("secret"))["value"] = "something else"
        assert not kind.secrets_match(other, payload)


# --------------------------------------------------------------------------- comparison


def served(name: str, payload: dict[str, Any]) -> dict[str, Any]:
    """The object as Blaxel would return it: server fields added, secrets masked, lists reordered."""
    obj = copy.deepcopy(payload)
    obj["metadata"].update(
        {"createdAt": "2026-01-01T00:00:00Z", "updatedBy": "u", "workspace": "acme", "url": "https://x"}
    )
    obj["metadata"]["labels"]["added-by-blaxel"] = "yes"
    spec = obj["spec"]
    obj["events"] = [{"type": "deployment", "status": "DEPLOYED"}]
    if name in ("function", "model", "job"):
        obj["status"] = "DEPLOYED"
    runtime = spec.get("runtime") or {}
    if "envs" in runtime:
        runtime["envs"] = [
            {**e, "value": "********"} if e.get("secret") else e for e in reversed(runtime["envs"])
        ]
    for key in ("policies", "integrationConnections", "locations", "resourceTypes"):
        if key in spec:
            spec[key] = list(reversed(spec[key]))
    for trigger in spec.get("triggers") or []:
        trigger.setdefault("id", "generated-1")
        trigger.setdefault("configuration", {})["callbackSecret"] = "****"
        trigger["enabled"] = True
    if name == "policy":
        obj["usage"] = {"agents": 2}
    if name == "volume":
        obj.update({"state": {"attachedTo": "agent:bot"}, "status": "DEPLOYED"})
    if name == "integration_connection":
        spec["secret"] = {"apiKey": "sk-l****"}
        spec["config"]["addedByServer"] = "1"
    return obj


@pytest.mark.parametrize("name", MODULES)
def test_comparison_ignores_server_fields_masked_secrets_and_order(name: str) -> None:
    kind = MODULES[name].KIND
    payload = build(name, FULL[name])
    desired = kind.comparable_desired(payload)
    assert subset_diff(desired, kind.comparable_observed(served(name, payload), payload)) == []
    assert desired == kind.comparable_desired(payload)  # pure: the payload is not changed
    assert payload == build(name, FULL[name])


@pytest.mark.parametrize(
    ("name", "change", "path"),
    [
        ("function", lambda s: s.update(enabled=False), "spec.enabled"),
        ("function", lambda s: s["runtime"].update(memory=4096), "spec.runtime.memory"),
        ("function", lambda s: s.update(policies=["eu-only"]), "spec.policies"),
        ("model", lambda s: s["runtime"].update(model="gpt-5"), "spec.runtime.model"),
        ("job", lambda s: s["runtime"]["envs"].pop(0), "spec.runtime.envs"),
        ("policy", lambda s: s["locations"].pop(), "spec.locations"),
        ("volume", lambda s: s.update(size=1024), "spec.size"),
        ("integration_connection", lambda s: s["secret"].clear(), "spec.secret.apiKey"),
        (
            "integration_connection",
            lambda s: s["config"].update(organization="other"),
            "spec.config.organization",
        ),
    ],
)
def test_drift_is_reported(name: str, change: Any, path: str) -> None:
    kind = MODULES[name].KIND
    payload = build(name, FULL[name])
    observed = served(name, payload)
    change(observed["spec"])
    if name == "integration_connection" and not observed["spec"]["secret"]:
        observed["spec"]["secret"] = {"otherKey": "****"}  # a different key set, not an omitted map
    assert path in subset_diff(kind.comparable_desired(payload), kind.comparable_observed(observed, payload))


@pytest.mark.parametrize("name", ["function", "model", "job"])
def test_unset_enabled_means_the_documented_default(name: str) -> None:
    kind = MODULES[name].KIND
    payload = build(name, MINIMAL[name])
    on = {"metadata": {"name": "res", "labels": OWNER}, "spec": {}, "status": "DEPLOYED"}
    assert subset_diff(kind.comparable_desired(payload), kind.comparable_observed(on, payload)) == []
    off = {**on, "spec": {"enabled": False}}
    assert subset_diff(kind.comparable_desired(payload), kind.comparable_observed(off, payload)) == [
        "spec.enabled"
    ]


def test_function_public_defaults_to_false() -> None:
    payload = build("function", {})
    made_public = {"metadata": {"name": "res", "labels": OWNER}, "spec": {"public": True}}
    diff = subset_diff(
        function.comparable_desired(payload), function.comparable_observed(made_public, payload)
    )
    assert diff == ["spec.public"]


def test_connection_secret_left_out_of_a_response_is_not_drift() -> None:
    payload = build("integration_connection", FULL["integration_connection"])
    observed = served("integration_connection", payload)
    del observed["spec"]["secret"]
    kind = integration_connection.KIND
    assert subset_diff(kind.comparable_desired(payload), kind.comparable_observed(observed, payload)) == []
    assert "sk-live" not in repr(kind.comparable_desired(payload))


# --------------------------------------------------------------------------- readiness


DEPLOYABLE_STATUSES = [
    ("DEPLOYED", True, Phase.READY, "Deployed"),
    ("DEACTIVATED", False, Phase.READY, "Deactivated"),
    ("DEACTIVATED", True, Phase.UNAVAILABLE, "Unavailable"),
    ("UPLOADING", True, Phase.PROGRESSING, "Deploying"),
    ("BUILDING", True, Phase.PROGRESSING, "Deploying"),
    ("BUILT", True, Phase.PROGRESSING, "Deploying"),
    ("DEPLOYING", True, Phase.PROGRESSING, "Deploying"),
    ("DEACTIVATING", True, Phase.PROGRESSING, "Deploying"),
    ("FAILED", True, Phase.FAILED, "DeployFailed"),
    ("DELETING", True, Phase.DELETING, "Deleting"),
    ("TERMINATED", True, Phase.TERMINAL, "Unavailable"),
    ("ARCHIVED", True, Phase.UNAVAILABLE, "Unavailable"),
    ("SOMETHING_NEW", True, Phase.PROGRESSING, "Deploying"),
    (None, True, Phase.PROGRESSING, "Deploying"),
]


@pytest.mark.parametrize("name", ["function", "model", "job"])
@pytest.mark.parametrize(("status", "enabled", "phase", "reason"), DEPLOYABLE_STATUSES)
def test_deployable_readiness(
    name: str, status: str | None, enabled: bool, phase: Phase, reason: str
) -> None:
    kind = MODULES[name].KIND
    remote: dict[str, Any] = {"metadata": {"name": "x"}, "spec": {}, "status": status, "events": []}
    got = kind.readiness(remote, {"spec": {"enabled": enabled}})
    assert (got.phase, got.reason) == (phase, reason)
    assert kind.noun in got.message and "x" in got.message


def test_deployable_failure_names_the_event_message() -> None:
    remote = {
        "metadata": {"name": "x"},
        "status": "FAILED",
        "events": [{"status": "FAILED", "message": "image not found"}],
    }
    assert job.readiness(remote, {}).message == "deployment of job x failed: image not found"


@pytest.mark.parametrize(
    ("remote", "phase", "reason"),
    [
        ({"status": "DEPLOYED"}, Phase.READY, "Available"),
        ({}, Phase.READY, "Available"),
        ({"status": "DEPLOYING"}, Phase.PROGRESSING, "Provisioning"),
        ({"status": "RESIZING"}, Phase.PROGRESSING, "Provisioning"),
        ({"status": "FAILED"}, Phase.FAILED, "Failed"),
        ({"status": "DELETING"}, Phase.DELETING, "Deleting"),
        ({"status": "DEPLOYED", "terminatedAt": "2026-01-01T00:00:00Z"}, Phase.DELETING, "Deleting"),
        ({"status": "TERMINATED"}, Phase.TERMINAL, "Unavailable"),
    ],
)
def test_volume_readiness(remote: dict[str, Any], phase: Phase, reason: str) -> None:
    got = volume.readiness({"metadata": {"name": "data"}, **remote}, {})
    assert (got.phase, got.reason) == (phase, reason)
    assert "volume data" in got.message


def test_volume_failure_names_the_event_message() -> None:
    remote = {
        "metadata": {"name": "d"},
        "status": "FAILED",
        "events": [{"status": "FAILED", "message": "quota"}],
    }
    assert volume.readiness(remote, {}).message == "volume d failed: quota"


@pytest.mark.parametrize("name", ["policy", "integration_connection"])
@pytest.mark.parametrize("extra", [{}, {"usage": {"agents": 1}}, {"status": "UNHEARD_OF"}])
def test_existing_policies_and_connections_are_ready(name: str, extra: dict[str, Any]) -> None:
    kind = MODULES[name].KIND
    got = kind.readiness({"metadata": {"name": "p"}, "spec": {}, **extra}, {})
    assert (got.phase, got.reason, got.message) == (Phase.READY, "Available", f"{kind.noun} p is available")


@pytest.mark.parametrize(
    ("name", "remote", "extra"),
    [
        (
            "function",
            {"metadata": {"url": "https://run.blaxel.ai/acme/functions/f"}},
            {"url": "https://run.blaxel.ai/acme/functions/f"},
        ),
        ("model", {"metadata": {}}, {}),
        ("job", {}, {}),
        (
            "volume",
            {"spec": {"size": 2048, "region": "us-pdx-1"}, "state": {"attachedTo": "agent:bot"}},
            {"size": 2048, "region": "us-pdx-1", "attachedTo": "agent:bot"},
        ),
        ("volume", {"spec": {}, "state": {}}, {}),
        (
            "policy",
            {"spec": {"type": "location"}, "usage": {"agents": 2, "jobs": 0}},
            {"policyType": "location", "usage": {"agents": 2, "jobs": 0}},
        ),
        (
            "integration_connection",
            {"spec": {"integration": "openai", "secret": {"k": "****"}}},
            {"integration": "openai"},
        ),
    ],
)
def test_at_provider_extra(name: str, remote: dict[str, Any], extra: dict[str, Any]) -> None:
    mod = MODULES[name]
    got = mod.KIND.at_provider_extra(remote)
    assert got == extra
    assert set(got) <= mod.AT_PROVIDER_FIELDS
    mod.KIND.status_model.model_validate({"atProvider": {"name": "x", **got}})  # the CRD keeps them


# --------------------------------------------------------------------------- references


def test_references_are_listed_once_in_spec_order() -> None:
    spec = function.parse_spec(
        {
            "policyRefs": [{"name": "gpu"}, {"name": "eu"}, {"name": "gpu"}],
            "integrationConnectionRefs": [{"name": "openai"}],
        }
    )
    assert function.KIND.references(spec) == [
        POLICY_GPU,
        Reference("BlaxelPolicy", "eu", "policyRefs"),
        CONN_OPENAI,
    ]
    assert model.KIND.references(model.parse_spec(FULL["model"])) == [POLICY_GPU, CONN_OPENAI]
    assert job.KIND.references(job.parse_spec(FULL["job"])) == [POLICY_GPU]
    for mod in (policy, volume, integration_connection):
        assert mod.KIND.references(mod.parse_spec(FULL[mod.__name__.rsplit(".", 1)[1]])) == []


def test_resolved_names_merge_with_direct_names_without_duplicates() -> None:
    spec = {"policies": ["eu-only", "gpu-remote"], "policyRefs": [{"name": "gpu"}]}
    assert build("function", spec)["spec"]["policies"] == ["eu-only", "gpu-remote"]


def test_unresolved_references_fall_back_to_the_resource_name_offline() -> None:
    payload = build("model", FULL["model"], refs=None)
    assert payload["spec"]["policies"] == ["eu-only", "gpu"]
    assert payload["spec"]["integrationConnections"] == ["openai"]


def test_a_reference_missing_from_resolved_ones_is_an_error() -> None:
    with pytest.raises(common.UnresolvedReferenceError, match="BlaxelPolicy/gpu"):
        build("function", FULL["function"], refs={CONN_OPENAI: "x"})


class AgentLike(CamelModel):
    """The reference fields of an agent's spec, alone."""

    policies: common.PolicyNames = None
    policy_refs: common.PolicyRefs = None
    volumes: list[common.VolumeAttachment] | None = None


def test_volume_refs_resolve_into_the_attachment_name() -> None:
    spec = AgentLike.model_validate(
        {
            "policyRefs": [{"name": "gpu"}],
            "volumes": [
                {"volumeRef": {"name": "data"}, "mountPath": "/data"},
                {"name": "scratch", "mountPath": "/tmp", "type": "ephemeral", "sizeMb": 64},
                {"volumeRef": {"name": "logs"}, "mountPath": "/logs", "readOnly": True, "type": "persistent"},
            ],
        }
    )
    data = Reference("BlaxelVolume", "data", "volumes[0].volumeRef")
    logs = Reference("BlaxelVolume", "logs", "volumes[2].volumeRef")
    assert common.spec_references(spec) == [POLICY_GPU, data, logs]
    body = spec.model_dump(by_alias=True, exclude_none=True)
    common.apply_references(body, spec, {POLICY_GPU: "gpu-remote", data: "data-remote", logs: "logs"})
    assert body == {
        "policies": ["gpu-remote"],
        "volumes": [
            {"name": "data-remote", "mountPath": "/data"},
            {"name": "scratch", "mountPath": "/tmp", "type": "ephemeral", "sizeMb": 64},
            {"name": "logs", "mountPath": "/logs", "readOnly": True, "type": "persistent"},
        ],
    }


def test_agents_resolve_policy_and_volume_references() -> None:
    from blaxel_operator.kinds import agent

    spec = agent.parse_spec(
        {
            "region": "eu-lon-1",
            "policies": ["by-name"],
            "policyRefs": [{"name": "gpu"}],
            "volumes": [{"volumeRef": {"name": "data"}, "mountPath": "/data"}],
        }
    )
    data = Reference("BlaxelVolume", "data", "volumes[0].volumeRef")
    assert agent.KIND.references(spec) == [POLICY_GPU, data]
    payload = agent.KIND.build_payload(spec, "bot", {}, {}, {POLICY_GPU: "gpu-remote", data: "data-remote"})
    assert payload["spec"]["policies"] == ["by-name", "gpu-remote"]
    assert payload["spec"]["volumes"] == [{"name": "data-remote", "mountPath": "/data"}]
    assert "policyRefs" not in payload["spec"]
    assert "policyRefs" in agent.OPERATOR_FIELDS


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        ({"name": "d", "volumeRef": {"name": "d"}, "mountPath": "/d"}, "either name or volumeRef"),
        ({"volumeRef": {"name": "d"}, "mountPath": "/d", "type": "ephemeral", "sizeMb": 5}, "persistent"),
        ({"name": "d", "mountPath": "/d", "type": "ephemeral"}, "needs sizeMb"),
        ({"name": "d", "mountPath": "relative"}, "mountPath"),
    ],
)
def test_volume_attachment_rules(bad: dict[str, Any], match: str) -> None:
    with pytest.raises(pydantic.ValidationError, match=match):
        common.VolumeAttachment.model_validate(bad)


def test_volume_transition_rules_are_declared() -> None:
    schema = volume.BlaxelVolumeSpec.model_json_schema(by_alias=True)
    props = schema["properties"]
    assert props["region"][common.CEL][0]["rule"] == "self == oldSelf"
    assert props["template"][common.CEL][0]["rule"] == "self == oldSelf"
    assert props["size"][common.CEL] == [
        {"rule": "self >= oldSelf", "message": "spec.size can grow, never shrink"}
    ]
    rules = [r["rule"] for r in schema[common.CEL]]
    assert "has(self.region) == has(oldSelf.region)" in rules
    assert "!has(oldSelf.size) || has(self.size)" in rules


# --------------------------------------------------------------------------- examples


EXAMPLE_KINDS = {m.KIND.kind: m for m in MODULES.values()}


def example_documents() -> list[tuple[str, dict[str, Any]]]:
    docs = []
    for path in sorted((REPO / "examples").glob("*.yaml")) + sorted(
        (REPO / "examples" / "stack").glob("*.yaml")
    ):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc.get("kind") in EXAMPLE_KINDS:
                docs.append((str(path.relative_to(REPO)), doc))
    return docs


def test_every_new_kind_has_an_example() -> None:
    kinds = {doc["kind"] for _, doc in example_documents()}
    assert kinds == set(EXAMPLE_KINDS)


@pytest.mark.parametrize(("path", "doc"), example_documents(), ids=lambda v: v if isinstance(v, str) else "")
def test_examples_parse(path: str, doc: dict[str, Any]) -> None:
    mod = EXAMPLE_KINDS[doc["kind"]]
    assert doc["apiVersion"] == mod.KIND.api_version, path
    spec = mod.parse_spec(doc["spec"])
    payload = mod.KIND.build_payload(spec, mod.KIND.remote_name(spec, doc["metadata"]["name"]), {}, {})
    assert payload["metadata"]["name"]


# --------------------------------------------------------------------------- contract with Blaxel's schema


def find_controlplane() -> Path | None:
    """Blaxel's OpenAPI description: `shared/blaxel/controlplane.yml` in a parent directory (beside the
    repository, or beside the folder of worktrees)."""
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "shared" / "blaxel" / "controlplane.yml"
        if candidate.is_file():
            return candidate
    return None


@pytest.fixture(scope="module")
def openapi() -> dict[str, Any]:
    path = find_controlplane()
    if path is None:
        pytest.skip(
            "Blaxel's OpenAPI description (shared/blaxel/controlplane.yml in a parent directory) is absent; "
            "the contract check runs only where it exists"
        )
    document: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return document


def their_schema(document: Mapping[str, Any], schema: Mapping[str, Any]) -> dict[str, Any]:
    """An OpenAPI schema with $ref followed and allOf merged."""
    while "$ref" in schema:
        schema = document["components"]["schemas"][str(schema["$ref"]).rsplit("/", 1)[1]]
    merged = {k: v for k, v in schema.items() if k != "allOf"}
    for part in schema.get("allOf") or []:
        part = their_schema(document, part)
        merged.setdefault("properties", {}).update(part.get("properties") or {})
        merged.setdefault("type", part.get("type"))
    return merged


def our_schema(defs: Mapping[str, Any], schema: Mapping[str, Any]) -> dict[str, Any]:
    """A pydantic JSON schema with $ref followed and the `None` of optional fields dropped."""
    if "anyOf" in schema:
        branches = [b for b in schema["anyOf"] if b.get("type") != "null"]
        assert len(branches) == 1, schema
        schema = {**{k: v for k, v in schema.items() if k != "anyOf"}, **branches[0]}
    if "$ref" in schema:
        schema = {
            **defs[str(schema["$ref"]).rsplit("/", 1)[1]],
            **{k: v for k, v in schema.items() if k != "$ref"},
        }
    if "const" in schema:
        schema = {**schema, "enum": [schema["const"]]}
    return dict(schema)


# (their spec schema, the operator's own fields at each nested path, paths whose type deliberately differs)
CONTRACT: dict[str, tuple[str, dict[str, frozenset[str]], frozenset[str]]] = {
    "function": (
        "FunctionSpec",
        {"runtime.envs[]": frozenset({"valueFrom"})},
        frozenset(),
    ),
    "model": ("ModelSpec", {}, frozenset()),
    "job": ("JobSpec", {"runtime.envs[]": frozenset({"valueFrom"})}, frozenset()),
    "policy": ("PolicySpec", {}, frozenset()),
    "volume": ("VolumeSpec", {}, frozenset()),
    # secret values are read from Secrets: {key: {valueFrom: ...}} instead of {key: value}
    "integration_connection": ("IntegrationConnectionSpec", {}, frozenset({"secret"})),
}


def compare(
    document: Mapping[str, Any],
    defs: Mapping[str, Any],
    ours: Mapping[str, Any],
    theirs: Mapping[str, Any],
    path: str,
    own: Mapping[str, frozenset[str]],
    diverging: frozenset[str],
) -> list[str]:
    """Where our schema departs from theirs: property names, types, enums, required (recursively)."""
    ours = our_schema(defs, ours)
    theirs = their_schema(document, theirs)
    at = path or "."
    if path in diverging:
        return []
    problems: list[str] = []
    their_type = theirs.get("type") or ("object" if "properties" in theirs else None)
    if their_type and ours.get("type") != their_type:
        return [f"{at}: type {ours.get('type')} (Blaxel: {their_type})"]
    if "enum" in theirs and sorted(ours.get("enum") or []) != sorted(theirs["enum"]):
        problems.append(f"{at}: enum {ours.get('enum')} (Blaxel: {theirs['enum']})")
    if their_type == "array":
        return problems + compare(document, defs, ours["items"], theirs["items"], path + "[]", own, diverging)
    if their_type == "object" and "properties" in theirs:
        writable = {
            name
            for name, prop in theirs["properties"].items()
            if not their_schema(document, prop).get("readOnly")
        }
        mine = set(ours.get("properties") or {})
        prefix = f"{path}." if path else ""
        problems += [f"{prefix}{name}: missing" for name in sorted(writable - mine)]
        extra = mine - writable - own.get(path, frozenset())
        problems += [f"{prefix}{name}: not in Blaxel's schema" for name in sorted(extra)]
        missing_required = set(theirs.get("required") or []) - set(ours.get("required") or [])
        problems += [f"{prefix}{name}: required by Blaxel" for name in sorted(missing_required)]
        for name in sorted(writable & mine):
            problems += compare(
                document,
                defs,
                ours["properties"][name],
                theirs["properties"][name],
                prefix + name,
                own,
                diverging,
            )
    return problems


@pytest.mark.parametrize("name", MODULES)
def test_spec_models_mirror_the_published_spec(openapi: dict[str, Any], name: str) -> None:
    mod = MODULES[name]
    spec_name, own_nested, diverging = CONTRACT[name]
    model_cls = mod.KIND.spec_model
    assert model_cls is not None
    ours = model_cls.model_json_schema(by_alias=True)
    defs = ours.get("$defs") or {}
    own = {"": frozenset(mod.OPERATOR_FIELDS), **own_nested}
    theirs = {"$ref": f"#/components/schemas/{spec_name}"}
    assert compare(openapi, defs, ours, theirs, "", own, diverging) == []


@pytest.mark.parametrize("name", MODULES)
def test_metadata_fields_and_collection_exist(openapi: dict[str, Any], name: str) -> None:
    mod = MODULES[name]
    metadata = their_schema(openapi, {"$ref": "#/components/schemas/Metadata"})
    spec_fields = set(mod.KIND.spec_model.model_json_schema(by_alias=True)["properties"])
    for field in ("displayName", "labels", "externalId"):
        assert field in metadata["properties"] and field in spec_fields
    # every operator field the kind declares is a field of its spec
    assert mod.OPERATOR_FIELDS <= spec_fields
    assert f"/{mod.KIND.api_collection}" in openapi["paths"]
    assert f"/{mod.KIND.api_collection}/{{" in " ".join(openapi["paths"])


def test_volume_attachment_mirrors_the_published_one(openapi: dict[str, Any]) -> None:
    ours = common.VolumeAttachment.model_json_schema(by_alias=True)
    theirs = {"$ref": "#/components/schemas/VolumeAttachment"}
    own = {"": frozenset({"volumeRef"})}
    assert compare(openapi, ours.get("$defs") or {}, ours, theirs, "", own, frozenset()) == []


def test_contract_check_catches_a_departure(openapi: dict[str, Any]) -> None:
    """The walk itself: a model missing a field, adding one, or with another enum is reported."""

    class Wrong(CamelModel):
        region: int | None = None
        size: int | None = None
        colour: str | None = None

    ours = Wrong.model_json_schema(by_alias=True)
    problems = compare(openapi, {}, ours, {"$ref": "#/components/schemas/VolumeSpec"}, "", {}, frozenset())
    assert problems == [
        "template: missing",
        "colour: not in Blaxel's schema",
        "region: type integer (Blaxel: string)",
    ]


def test_the_readme_lists_every_kind_as_registered() -> None:
    """Its table of kinds: kind, plural, short names and Blaxel collection as the registry has them."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    rows = {
        line.split("|")[1].split()[0].strip("`"): line
        for line in readme.splitlines()
        if line.startswith("| `Blaxel")
    }
    for kind in registry.KINDS:
        row = rows.get(kind.kind)
        assert row is not None, f"README: no row for {kind.kind}"
        cells = [c.strip() for c in row.split("|")[1:-1]]
        assert cells[1] == f"`{kind.plural}`", row
        assert cells[2] == ", ".join(f"`{n}`" for n in kind.short_names), row
        assert cells[3] == f"`/v0/{kind.api_collection}`", row
