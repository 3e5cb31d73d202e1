"""Request validation of the Blaxel API simulator: names, types, enums, unknown fields (400s)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from .conftest import agent_body

INVALID: list[tuple[str, Any, str]] = [
    ("no-metadata", {"spec": {}}, "metadata"),
    ("no-name", {"metadata": {"labels": {}}, "spec": {}}, "metadata.name"),
    ("uppercase-name", agent_body("MyAgent"), "metadata.name"),
    ("underscore-name", agent_body("my_agent"), "metadata.name"),
    ("leading-hyphen", agent_body("-agent"), "metadata.name"),
    ("trailing-hyphen", agent_body("agent-"), "metadata.name"),
    ("empty-name", agent_body(""), "metadata.name"),
    ("name-50-chars", agent_body("a" * 50), "metadata.name"),
    ("name-not-string", {"metadata": {"name": 5}, "spec": {}}, "metadata.name"),
    (
        "display-name-64",
        {"metadata": {"name": "a", "displayName": "x" * 64}, "spec": {}},
        "metadata.displayName",
    ),
    (
        "external-id-65",
        {"metadata": {"name": "a", "externalId": "x" * 65}, "spec": {}},
        "metadata.externalId",
    ),
    (
        "external-id-chars",
        {"metadata": {"name": "a", "externalId": "a b"}, "spec": {}},
        "metadata.externalId",
    ),
    ("label-not-string", {"metadata": {"name": "a", "labels": {"n": 1}}, "spec": {}}, "metadata.labels.n"),
    ("labels-not-map", {"metadata": {"name": "a", "labels": ["x"]}, "spec": {}}, "metadata.labels"),
    ("unknown-metadata", {"metadata": {"name": "a", "annotations": {}}, "spec": {}}, "metadata.annotations"),
    ("unknown-spec-field", agent_body("a", replicas=3), "spec.replicas"),
    ("unknown-runtime-field", agent_body("a", runtime={"cpu": 2}), "spec.runtime.cpu"),
    ("unknown-env-field", agent_body("a", runtime={"envs": [{"name": "A", "valueFrom": {}}]}), "valueFrom"),
    ("bad-generation", agent_body("a", runtime={"generation": "mk4"}), "spec.runtime.generation"),
    ("memory-string", agent_body("a", runtime={"memory": "2048"}), "spec.runtime.memory"),
    ("memory-float", agent_body("a", runtime={"memory": 2048.5}), "spec.runtime.memory"),
    ("min-scale-negative", agent_body("a", runtime={"minScale": -1}), "spec.runtime.minScale"),
    ("max-below-min", agent_body("a", runtime={"minScale": 3, "maxScale": 1}), "spec.runtime.maxScale"),
    ("enabled-string", agent_body("a", enabled="yes"), "spec.enabled"),
    ("enabled-int", agent_body("a", enabled=1), "spec.enabled"),
    ("policies-not-list", agent_body("a", policies="p"), "spec.policies"),
    ("env-without-name", agent_body("a", runtime={"envs": [{"value": "x"}]}), "spec.runtime.envs[0].name"),
    ("bad-trigger-type", agent_body("a", triggers=[{"type": "grpc"}]), "spec.triggers[0].type"),
    (
        "trigger-timeout-901",
        agent_body("a", triggers=[{"type": "http-async", "configuration": {"timeout": 901}}]),
        "timeout",
    ),
    (
        "unknown-trigger-config",
        agent_body("a", triggers=[{"configuration": {"foo": 1}}]),
        "configuration.foo",
    ),
    (
        "bad-volume-type",
        agent_body("a", region="r", volumes=[{"name": "v", "type": "nfs"}]),
        "spec.volumes[0].type",
    ),
    ("volume-without-region", agent_body("a", volumes=[{"name": "v", "type": "persistent"}]), "spec.region"),
    (
        "size-on-persistent",
        agent_body("a", region="r", volumes=[{"name": "v", "type": "persistent", "sizeMb": 10}]),
        "sizeMb",
    ),
    ("public-on-mk2", agent_body("a", public=True, runtime={"generation": "mk2"}), "spec.public"),
    ("spec-not-object", {"metadata": {"name": "a"}, "spec": []}, "spec"),
    ("unknown-top-level", {"metadata": {"name": "a"}, "spec": {}, "extra": 1}, "extra"),
    ("body-is-array", [agent_body("a")], "JSON object"),
]


@pytest.mark.parametrize(("body", "field"), [(b, f) for _, b, f in INVALID], ids=[i for i, _, _ in INVALID])
async def test_invalid_bodies_are_400_naming_the_field(api: httpx.AsyncClient, body: Any, field: str) -> None:
    response = await api.post("/agents", json=body)
    assert response.status_code == 400, response.text
    error = response.json()
    assert error["code"] == 400 and error["error"]
    assert field in error["message"]
    # nothing was created
    assert (await api.get("/agents")).json() == []


async def test_put_is_validated_too(api: httpx.AsyncClient) -> None:
    await api.post("/agents", json=agent_body("valid"))
    response = await api.put("/agents/valid", json=agent_body("valid", runtime={"generation": "mk1"}))
    assert response.status_code == 400
    assert "spec.runtime.generation" in response.json()["message"]


async def test_several_problems_are_reported_together(api: httpx.AsyncClient) -> None:
    response = await api.post("/agents", json=agent_body("a", foo=1, bar=2))
    assert "spec.foo" in response.json()["message"] and "spec.bar" in response.json()["message"]


async def test_malformed_and_empty_bodies(api: httpx.AsyncClient) -> None:
    bad_json = await api.post("/agents", content=b"{not json", headers={"Content-Type": "application/json"})
    assert bad_json.status_code == 400 and bad_json.json()["error"] == "invalid_json"
    empty = await api.post("/agents", content=b"")
    assert empty.status_code == 400


async def test_a_full_valid_agent_is_accepted(api: httpx.AsyncClient) -> None:
    body: dict[str, Any] = {
        "apiVersion": "blaxel.ai/v1alpha1",
        "kind": "Agent",
        "metadata": {
            "name": "a" * 49,
            "displayName": "D" * 63,
            "externalId": "ext-123",
            "labels": {"team": "ai", "env": "dev"},
        },
        "spec": {
            "enabled": True,
            "public": True,
            "policies": ["eu-only"],
            "region": "us-pdx-1",
            "repository": {"type": "github", "url": "https://github.com/acme/agent"},
            "revision": {"active": "rev-1", "canaryPercent": 10, "stickySessionTtl": 60, "traffic": 100},
            "runtime": {
                "envs": [{"name": "A", "value": "1"}, {"name": "B", "value": "2", "secret": True}],
                "generation": "mk3",
                "image": "registry/agent:1",
                "minScale": 0,
                "maxScale": 10,
                "memory": 4096,
            },
            "triggers": [
                {
                    "id": "t1",
                    "type": "http-async",
                    "enabled": True,
                    "configuration": {
                        "authenticationType": "blaxel",
                        "callbackUrl": "https://example.com/hook",
                        "path": "/invoke",
                        "retry": 3,
                        "timeout": 900,
                    },
                },
                {
                    "type": "cron",
                    "configuration": {"schedule": "0 * * * *", "tasks": [{"anything": {"goes": 1}}]},
                },
            ],
            "volumes": [
                {"name": "data", "mountPath": "/data", "readOnly": False, "type": "persistent"},
                {"name": "tmp", "mountPath": "/tmp", "type": "ephemeral", "sizeMb": 512},
            ],
        },
    }
    response = await api.post("/agents", json=body)
    assert response.status_code == 200, response.text
    spec = response.json()["spec"]
    assert spec["volumes"] == body["spec"]["volumes"]
    assert spec["runtime"]["memory"] == 4096
    assert spec["triggers"][1]["configuration"]["tasks"] == [{"anything": {"goes": 1}}]
    assert "apiVersion" not in response.json()


async def test_null_values_count_as_not_set(api: httpx.AsyncClient) -> None:
    body = {
        "metadata": {"name": "nulls", "displayName": None, "labels": {"a": "b", "gone": None}},
        "spec": None,
    }
    response = await api.post("/agents", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["metadata"]["labels"] == {"a": "b"}
    assert "displayName" not in response.json()["metadata"]
