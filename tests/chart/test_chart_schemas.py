"""Rendered manifests against the Kubernetes JSON schemas (offline, `kubernetes-validate`), and values
against the chart's values.schema.json."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "blaxel-operator"

Manifest = dict[str, Any]
Render = Callable[[dict[str, Any]], list[Manifest]]
RenderError = Callable[[dict[str, Any]], str]

# The chart's minimum (Chart.yaml kubeVersion) and the newest schemas kubernetes-validate ships.
KUBE_VERSIONS = ("1.25.0", kubernetes_validate.utils.latest_version())
# Custom resources: no upstream schema (ServiceMonitor is a Prometheus Operator CRD; the peering objects
# are Kopf's).
NO_SCHEMA = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
    ("kopf.dev/v1", "ClusterKopfPeering"),
    ("kopf.dev/v1", "KopfPeering"),
}

VALUE_SETS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "namespaced": {"watch": {"namespaces": ["team-a", "team-b"]}},
    "existing-secret": {"blaxel": {"existingSecret": "blaxel-api"}},
    "chart-secret": {"blaxel": {"apiKey": "bl_test_key", "workspace": "acme"}},
    "peering": {"replicaCount": 2, "peering": {"enabled": True}},
    "namespaced-peering": {
        "replicaCount": 2,
        "peering": {"enabled": True},
        "watch": {"namespaces": ["a", "b"]},
    },
    "observability": {"metrics": {"serviceMonitor": {"enabled": True}}, "networkPolicy": {"enabled": True}},
    "everything": {
        "watch": {"namespaces": ["team-a"]},
        "replicaCount": 2,
        "peering": {"enabled": True},
        "blaxel": {"existingSecret": "blaxel-api", "workspace": "acme"},
        "operator": {"clusterId": "prod", "credentialsSecret": "ops/blaxel-default", "logFormat": "text"},
        "imagePullSecrets": [{"name": "regcred"}],
        "serviceAccount": {"annotations": {"example.com/role": "blaxel"}},
        "metrics": {
            "service": {"annotations": {"prometheus.io/scrape": "true"}},
            "serviceMonitor": {"enabled": True, "relabelings": [{"action": "labeldrop", "regex": "pod"}]},
        },
        "networkPolicy": {
            "enabled": True,
            "apiServer": {"cidrs": ["10.0.0.1/32"], "ports": [443]},
            "blaxel": {"cidrs": ["203.0.113.0/24"]},
            "ingressFrom": [{"podSelector": {"matchLabels": {"app": "prometheus"}}}],
            "extraEgress": [
                {"to": [{"ipBlock": {"cidr": "10.1.0.0/16"}}], "ports": [{"protocol": "TCP", "port": 3128}]}
            ],
        },
        "podDisruptionBudget": {"maxUnavailable": "50%"},
        "podLabels": {"team": "ai"},
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {
                            "matchExpressions": [
                                {"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64"]}
                            ]
                        }
                    ]
                }
            }
        },
        "extraEnv": [{"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "t", "key": "k"}}}],
    },
}


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
@pytest.mark.parametrize("name", VALUE_SETS)
def test_rendered_manifests_match_kubernetes_schemas(name: str, kube_version: str, render: Render) -> None:
    manifests = render(VALUE_SETS[name])
    assert manifests
    checked = 0
    for m in manifests:
        if (m["apiVersion"], m["kind"]) in NO_SCHEMA:
            continue
        kubernetes_validate.validate(m, kube_version, strict=True)
        checked += 1
    assert checked >= 5


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
@pytest.mark.parametrize(
    "path",
    [*(f"crds/{p.name}" for p in sorted((CHART / "crds").glob("*.yaml"))), "files/kopf-peering-crds.yaml"],
)
def test_shipped_crds_match_kubernetes_schemas(path: str, kube_version: str) -> None:
    with (CHART / path).open(encoding="utf-8") as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    assert docs
    for doc in docs:
        assert doc["kind"] == "CustomResourceDefinition"
        kubernetes_validate.validate(doc, kube_version, strict=True)


def test_default_values_match_the_values_schema() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft7Validator.check_schema(schema)
    values = yaml.safe_load((CHART / "values.yaml").read_text(encoding="utf-8"))
    jsonschema.Draft7Validator(schema).validate(values)
    for name, value_set in VALUE_SETS.items():
        assert not list(jsonschema.Draft7Validator(schema).iter_errors(_merge(values, value_set))), name


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


INVALID: dict[str, tuple[dict[str, Any], str]] = {
    "unknown-top-level-key": ({"replicas": 2}, "replicas"),
    "unknown-nested-key": ({"operator": {"pollIntervall": 60}}, "pollIntervall"),
    "replica-count-string": ({"replicaCount": "two"}, "replicaCount"),
    "log-format": ({"operator": {"logFormat": "xml"}}, "logFormat"),
    "log-level": ({"operator": {"logLevel": "trace"}}, "logLevel"),
    "namespace-name": ({"watch": {"namespaces": ["Team_A"]}}, "namespaces"),
    "credentials-secret-format": ({"operator": {"credentialsSecret": "no-namespace"}}, "credentialsSecret"),
    "port-range": ({"operator": {"metricsPort": 70000}}, "metricsPort"),
    "pull-policy": ({"image": {"pullPolicy": "Sometimes"}}, "pullPolicy"),
    "poll-interval-zero": ({"operator": {"pollInterval": 0}}, "pollInterval"),
    "api-url": ({"blaxel": {"apiUrl": "api.blaxel.ai"}}, "apiUrl"),
}


@pytest.mark.parametrize("name", INVALID)
def test_invalid_values_are_rejected_by_the_schema(name: str, render_error: RenderError) -> None:
    values, field = INVALID[name]
    error = render_error(values)
    assert "schema" in error.lower(), error
    assert field in error, error
