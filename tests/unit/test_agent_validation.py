"""What a BlaxelAgent may hold: the CRD (as the apiserver applies it, here through `render`'s validator)
and the spec model (`parse_spec`, the operator's second check) accept and refuse the same specs.

Limits Blaxel does not state are not imposed (so every agent Blaxel accepts can be imported); limits it
documents are kept; names that go into a Kubernetes URL are validated as what they are."""

from __future__ import annotations

from typing import Any

import pydantic
import pytest

from blaxel_operator.kinds import agent
from blaxel_operator.schema import validate_object


def manifest(spec: dict[str, Any], name: str = "bot") -> dict[str, Any]:
    return {
        "apiVersion": "blaxel.ai/v1alpha1",
        "kind": "BlaxelAgent",
        "metadata": {"name": name},
        "spec": spec,
    }


def crd_errors(spec: dict[str, Any]) -> list[str]:
    return validate_object(agent.KIND, manifest(spec))


def model_accepts(spec: dict[str, Any]) -> bool:
    try:
        agent.parse_spec(spec)
    except pydantic.ValidationError:
        return False
    return True


RELAXED: dict[str, dict[str, Any]] = {
    "label value over 63 characters": {"labels": {"note": "x" * 300}},
    "more than 64 labels": {"labels": {f"k{i}": "v" for i in range(100)}},
    "small memory": {"runtime": {"memory": 64}},
    "large memory": {"runtime": {"memory": 262144}},
    "maxScale 0": {"runtime": {"minScale": 0, "maxScale": 0}},
    "env name with dots and dashes": {"runtime": {"envs": [{"name": "my-app.mode", "value": "x"}]}},
    "long env name": {"runtime": {"envs": [{"name": "E" * 300, "value": "x"}]}},
    "trigger without type": {"triggers": [{"id": "t1", "enabled": True}]},
    "trigger retry over 100": {"triggers": [{"type": "http", "configuration": {"retry": 1000}}]},
    "volume without name or mountPath": {"region": "us-pdx-1", "volumes": [{"readOnly": True}]},
    "persistent volume with sizeMb": {
        "region": "us-pdx-1",
        "volumes": [{"name": "data", "mountPath": "/data", "type": "persistent", "sizeMb": 1024}],
    },
    "more than 64 policies": {"policies": [f"p{i}" for i in range(100)]},
    "long policy name": {"policies": ["p" * 200]},
    "empty policy name": {"policies": [""]},
    "region of another shape": {"region": "EU_West.2"},
    "long image": {"runtime": {"image": "registry.example.com/" + "a" * 2000 + ":1"}},
}


@pytest.mark.parametrize("spec", RELAXED.values(), ids=RELAXED.keys())
def test_limits_blaxel_does_not_state_are_not_imposed(spec: dict[str, Any]) -> None:
    assert crd_errors(spec) == []
    assert model_accepts(spec)


KEPT: dict[str, tuple[dict[str, Any], str]] = {
    "displayName over 63": ({"displayName": "x" * 64}, "spec.displayName: Too long"),
    "externalId over 64": ({"externalId": "x" * 65}, "spec.externalId: Too long"),
    "externalId not alphanumeric and dash": ({"externalId": "a_b"}, "spec.externalId: Invalid value"),
    "agentName over 49": ({"agentName": "a" * 50}, "spec.agentName: Too long"),
    "agentName pattern": ({"agentName": "Bot"}, "spec.agentName: Invalid value"),
    "generation enum": ({"runtime": {"generation": "mk9"}}, "spec.runtime.generation: Unsupported value"),
    "trigger type enum": ({"triggers": [{"type": "webhook"}]}, "spec.triggers[0].type: Unsupported value"),
    "volume type enum": (
        {"region": "r", "volumes": [{"name": "v", "type": "tmp"}]},
        "spec.volumes[0].type: Unsupported value",
    ),
    "trigger timeout over 900": (
        {"triggers": [{"type": "http-async", "configuration": {"timeout": 901}}]},
        "spec.triggers[0].configuration.timeout: Invalid value: 901",
    ),
    "negative memory": ({"runtime": {"memory": -1}}, "spec.runtime.memory: Invalid value: -1"),
    "canaryPercent over 100": ({"revision": {"canaryPercent": 101}}, "spec.revision.canaryPercent"),
    "relative mountPath": (
        {"region": "r", "volumes": [{"name": "v", "mountPath": "data"}]},
        "spec.volumes[0].mountPath: Invalid value",
    ),
}


@pytest.mark.parametrize(("spec", "error"), KEPT.values(), ids=KEPT.keys())
def test_limits_blaxel_documents_are_kept(spec: dict[str, Any], error: str) -> None:
    errors = crd_errors(spec)
    assert any(e.startswith(error) for e in errors), errors
    assert not model_accepts(spec)


def test_metadata_name_must_be_a_blaxel_name_unless_agent_name_is_set() -> None:
    errors = validate_object(agent.KIND, manifest({}, name="a" * 50))
    assert any("metadata.name is not a valid Blaxel agent name" in e for e in errors), errors
    assert validate_object(agent.KIND, manifest({"agentName": "short"}, name="a" * 50)) == []


def test_ephemeral_volumes_need_size_mb() -> None:
    ephemeral = {"name": "scratch", "mountPath": "/tmp/x", "type": "ephemeral"}
    errors = crd_errors({"region": "us-pdx-1", "volumes": [ephemeral]})
    assert errors == ['spec.volumes[0]: Invalid value: "object": an ephemeral volume needs sizeMb']
    assert crd_errors({"region": "us-pdx-1", "volumes": [{**ephemeral, "sizeMb": 512}]}) == []
    assert crd_errors({"region": "us-pdx-1", "volumes": [{"name": "data", "mountPath": "/d"}]}) == []


def test_a_cron_trigger_still_needs_a_schedule() -> None:
    errors = crd_errors({"triggers": [{"type": "cron"}]})
    assert errors == [
        'spec.triggers[0]: Invalid value: "object": a cron trigger needs configuration.schedule'
    ]


# ---- names that go into Kubernetes URLs (issue 14: a Secret name must not escape the namespace) -----

HOSTILE_NAMES = {
    "traversal": "../../kube-system/secrets/stolen",
    "encoded slash": "a%2Fb",
    "dot dot": "..",
    "slash": "a/b",
    "empty": "",
    "over-long": "a" * 254,
    "upper case": "Bot-Secrets",
}
HOSTILE_KEYS = {
    "traversal": "../token",
    "encoded slash": "a%2Fb",
    "dot dot": "..",
    "dot": ".",
    "empty": "",
    "over-long": "k" * 254,
}


def secret_env(name: str, key: str = "token") -> dict[str, Any]:
    return {"runtime": {"envs": [{"name": "T", "valueFrom": {"secretKeyRef": {"name": name, "key": key}}}]}}


@pytest.mark.parametrize("name", HOSTILE_NAMES.values(), ids=HOSTILE_NAMES.keys())
def test_secret_key_ref_names_are_dns_subdomains(name: str) -> None:
    errors = crd_errors(secret_env(name))
    assert any(e.startswith("spec.runtime.envs[0].valueFrom.secretKeyRef.name: ") for e in errors), errors
    assert not model_accepts(secret_env(name))


@pytest.mark.parametrize("name", HOSTILE_NAMES.values(), ids=HOSTILE_NAMES.keys())
def test_credentials_ref_names_are_dns_subdomains(name: str) -> None:
    errors = crd_errors({"credentialsRef": {"name": name}})
    assert any(e.startswith("spec.credentialsRef.name: ") for e in errors), errors
    assert not model_accepts({"credentialsRef": {"name": name}})


@pytest.mark.parametrize("key", HOSTILE_KEYS.values(), ids=HOSTILE_KEYS.keys())
def test_secret_keys_are_secret_data_keys(key: str) -> None:
    errors = crd_errors(secret_env("bot-secrets", key))
    assert any(e.startswith("spec.runtime.envs[0].valueFrom.secretKeyRef.key: ") for e in errors), errors
    assert not model_accepts(secret_env("bot-secrets", key))


@pytest.mark.parametrize("name", ["bot-secrets", "a", "team.a.bot-1", "x" * 253])
@pytest.mark.parametrize("key", ["token", "API_KEY", ".hidden", "tls.crt", "a-b_c.d"])
def test_ordinary_secret_names_and_keys_pass(name: str, key: str) -> None:
    assert crd_errors(secret_env(name, key)) == []
    assert crd_errors({"credentialsRef": {"name": name}}) == []
    assert model_accepts(secret_env(name, key)) and model_accepts({"credentialsRef": {"name": name}})
