"""Spec -> payload mapping and comparison normalisation (no server)."""

from __future__ import annotations

from typing import Any

import pydantic
import pytest

from blaxel_operator.core.diff import subset_diff
from blaxel_operator.kinds import agent
from blaxel_operator.kinds.base import SecretRef

FULL: dict[str, Any] = {
    "agentName": "support-bot",
    "displayName": "Support bot",
    "externalId": "crm-42",
    "labels": {"team": "support"},
    "enabled": True,
    "public": False,
    "region": "us-pdx-1",
    "policies": ["eu-only"],
    "repository": {"type": "github", "url": "https://github.com/acme/bot"},
    "revision": {"canary": "rev-2", "canaryPercent": 10},
    "runtime": {
        "generation": "mk3",
        "image": "acme/bot:1",
        "memory": 2048,
        "minScale": 0,
        "maxScale": 5,
        "envs": [
            {"name": "MODE", "value": "prod"},
            {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "bot", "key": "token"}}},
        ],
    },
    "triggers": [{"type": "cron", "configuration": {"schedule": "0 * * * *"}}],
    "volumes": [{"name": "data", "mountPath": "/data", "type": "persistent"}],
    "deletionPolicy": "Orphan",
    "credentialsRef": {"name": "creds"},
    "workspace": "acme",
}


def payload(spec: dict[str, Any], secrets: dict[SecretRef, str] | None = None) -> dict[str, Any]:
    parsed = agent.parse_spec(spec)
    return agent.build_payload(parsed, agent.remote_name(parsed, "res"), secrets or {}, {"owner": "x"})


def test_full_spec_maps_to_blaxel_shape_without_operator_fields() -> None:
    p = payload(FULL, {SecretRef("bot", "token"): "s3cret"})
    assert p["metadata"] == {
        "name": "support-bot",
        "displayName": "Support bot",
        "externalId": "crm-42",
        "labels": {"team": "support", "owner": "x"},
    }
    spec = p["spec"]
    for operator_only in (
        "agentName",
        "deletionPolicy",
        "credentialsRef",
        "workspace",
        "labels",
        "displayName",
        "externalId",
    ):
        assert operator_only not in spec
    assert spec["runtime"]["envs"] == [
        {"name": "MODE", "value": "prod"},
        {"name": "TOKEN", "value": "s3cret", "secret": True},
    ]
    assert spec["revision"] == {"canary": "rev-2", "canaryPercent": 10}
    assert spec["volumes"] == [{"name": "data", "mountPath": "/data", "type": "persistent"}]


@pytest.mark.parametrize(
    ("spec", "name"),
    [({}, "res"), ({"agentName": "other"}, "other")],
)
def test_remote_name_defaults_to_resource_name(spec: dict[str, Any], name: str) -> None:
    assert payload(spec)["metadata"]["name"] == name


def test_only_set_fields_are_sent_plus_the_compared_defaults() -> None:
    assert payload({"runtime": {"memory": 4096}}) == {
        "metadata": {"name": "res", "labels": {"owner": "x"}},
        "spec": {"runtime": {"memory": 4096}, "enabled": True, "public": False},
    }


@pytest.mark.parametrize(
    ("spec", "sent"),
    [
        ({}, {"enabled": True, "public": False}),
        ({"enabled": False}, {"enabled": False, "public": False}),
        ({"public": True, "runtime": {"generation": "mk3"}}, {"enabled": True, "public": True}),
    ],
)
def test_every_compared_field_is_sent(spec: dict[str, Any], sent: dict[str, bool]) -> None:
    """enabled/public are compared against Blaxel's defaults when unset, so they are sent too: a PUT
    that merges would otherwise leave an out-of-band change in place and redeploy on every poll."""
    p = payload(spec)
    assert {k: p["spec"][k] for k in sent} == sent
    desired = agent.comparable_desired(p)
    for key in ("enabled", "public"):
        assert desired["spec"][key] == p["spec"][key]


def test_external_id_goes_to_metadata_and_is_compared() -> None:
    p = payload({"externalId": "crm-42", "displayName": "Bot"})
    assert p["metadata"] == {
        "name": "res",
        "displayName": "Bot",
        "externalId": "crm-42",
        "labels": {"owner": "x"},
    }
    assert "externalId" not in p["spec"]
    observed = {"metadata": {**p["metadata"], "externalId": "other"}, "spec": dict(p["spec"])}
    diff = subset_diff(agent.comparable_desired(p), agent.comparable_observed(observed, p))
    assert diff == ["metadata.externalId"]


@pytest.mark.parametrize(
    "bad",
    [
        {"runtime": {"generation": "mk9"}},
        {"agentName": "Upper"},
        {"agentName": "x" * 50},
        {"triggers": [{"type": "webhook"}]},
        {"triggers": [{"type": "cron", "configuration": {"timeout": 901}}]},
        {"runtime": {"memory": -1}},
        {"displayName": "x" * 64},
        {"externalId": "x" * 65},
        {"externalId": "not_alnum"},
        {"unknownField": 1},
    ],
)
def test_invalid_specs_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(pydantic.ValidationError):
        agent.parse_spec(bad)


def test_secret_values_are_never_compared() -> None:
    p = payload(FULL, {SecretRef("bot", "token"): "s3cret"})
    desired = agent.comparable_desired(p)
    observed = {
        "metadata": {**p["metadata"], "createdAt": "2026-01-01T00:00:00Z", "url": "https://x"},
        "spec": {
            **p["spec"],
            "runtime": {
                **p["spec"]["runtime"],
                "envs": [
                    {"name": "TOKEN", "value": "********", "secret": True},
                    {"name": "MODE", "value": "prod"},
                ],
            },
            "triggers": [
                {
                    "id": "trigger-1",
                    "type": "cron",
                    "enabled": True,
                    "configuration": {"schedule": "0 * * * *"},
                }
            ],
        },
        "status": "DEPLOYED",
    }
    assert subset_diff(desired, agent.comparable_observed(observed, p)) == []


def test_drift_is_reported_by_field_path() -> None:
    p = payload({"runtime": {"memory": 2048, "maxScale": 3}, "labels": {"a": "b"}})
    observed = {
        "metadata": {"name": "res", "labels": {"a": "changed", "owner": "x"}},
        "spec": {"runtime": {"memory": 4096, "maxScale": 3}},
    }
    diff = subset_diff(agent.comparable_desired(p), agent.comparable_observed(observed, p))
    assert diff == ["metadata.labels.a", "spec.runtime.memory"]


def test_secret_refs_listed_once() -> None:
    spec = agent.parse_spec(
        {
            "runtime": {
                "envs": [
                    {"name": "A", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
                    {"name": "B", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
                ]
            }
        }
    )
    assert agent.secret_refs(spec) == [SecretRef("s", "k")]
