"""`helm lint` and `helm template` over several values sets: workload shape, security, flags, env."""

from __future__ import annotations

import filecmp
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from blaxel_operator.cli import build_parser

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "blaxel-operator"
NAMESPACE = "blaxel-system"
FULLNAME = "blx-blaxel-operator"

Manifest = dict[str, Any]
Render = Callable[[dict[str, Any]], list[Manifest]]
RenderError = Callable[[dict[str, Any]], str]

NAMESPACED: dict[str, Any] = {"watch": {"namespaces": ["team-a", "team-b"]}}
EXISTING_SECRET: dict[str, Any] = {"blaxel": {"existingSecret": "blaxel-api", "workspace": ""}}
PEERING: dict[str, Any] = {"replicaCount": 2, "peering": {"enabled": True, "name": "blaxel-ha"}}
OBSERVABILITY: dict[str, Any] = {
    "metrics": {"serviceMonitor": {"enabled": True, "labels": {"release": "kube-prometheus-stack"}}},
    "networkPolicy": {"enabled": True},
}
CHART_SECRET: dict[str, Any] = {"blaxel": {"apiKey": "bl_test_key", "workspace": "acme"}}
EVERYTHING: dict[str, Any] = {
    "watch": {"namespaces": ["team-a"]},
    "replicaCount": 3,
    "peering": {"enabled": True},
    "blaxel": {"existingSecret": "blaxel-api", "apiUrl": "https://api.example.test/v0"},
    "operator": {
        "clusterId": "prod-eu",
        "credentialsSecret": "blaxel-system/blaxel-default",
        "logLevel": "debug",
    },
    "metrics": {"serviceMonitor": {"enabled": True}},
    "networkPolicy": {
        "enabled": True,
        "apiServer": {"cidrs": ["10.0.0.1/32"]},
        "blaxel": {"cidrs": ["203.0.113.0/24"]},
        "ingressFrom": [
            {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
        ],
        "dnsTo": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}}],
    },
    "extraEnv": [{"name": "HTTPS_PROXY", "value": "http://proxy:3128"}],
    "extraArgs": ["--request-timeout=20"],
    "podAnnotations": {"example.com/team": "ai"},
    "nodeSelector": {"kubernetes.io/os": "linux"},
    "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "ops", "effect": "NoSchedule"}],
    "priorityClassName": "system-cluster-critical",
}

SCENARIOS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "namespaced": NAMESPACED,
    "existing-secret": EXISTING_SECRET,
    "chart-secret": CHART_SECRET,
    "peering": PEERING,
    "observability": OBSERVABILITY,
    "everything": EVERYTHING,
}


def by_kind(manifests: list[Manifest], kind: str) -> list[Manifest]:
    return [m for m in manifests if m["kind"] == kind]


def one(manifests: list[Manifest], kind: str) -> Manifest:
    found = by_kind(manifests, kind)
    assert len(found) == 1, f"expected one {kind}, got {len(found)}"
    return found[0]


def container(manifests: list[Manifest]) -> dict[str, Any]:
    (c,) = one(manifests, "Deployment")["spec"]["template"]["spec"]["containers"]
    return dict(c)


def env_of(manifests: list[Manifest]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in container(manifests)["env"]}


# ---- lint -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SCENARIOS)
def test_helm_lint(name: str, helm: Path, tmp_path: Path) -> None:
    values = tmp_path / "values.yaml"
    values.write_text(yaml.safe_dump(SCENARIOS[name]), encoding="utf-8")
    cmd = [str(helm), "lint", str(CHART), "--strict", "--kube-version", "1.30.0", "-f", str(values)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "[WARNING]" not in proc.stdout and "[ERROR]" not in proc.stdout, proc.stdout


def test_chart_metadata() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text(encoding="utf-8"))
    assert chart["apiVersion"] == "v2"
    assert chart["version"] == "0.1.0"
    assert chart["appVersion"] == "0.1.0"
    assert chart["kubeVersion"] == ">=1.25.0-0"


def test_chart_crds_are_the_top_level_crds() -> None:
    top, ours = REPO / "crds", CHART / "crds"
    top_files = sorted(p.name for p in top.iterdir() if p.is_file())
    assert top_files and sorted(p.name for p in ours.iterdir()) == top_files
    for name in top_files:
        assert (top / name).read_bytes() == (ours / name).read_bytes(), (
            f"charts/blaxel-operator/crds/{name} differs"
        )
    assert not filecmp.dircmp(top, ours).diff_files


def test_kube_version_below_minimum_is_refused(helm: Path) -> None:
    cmd = [str(helm), "template", "blx", str(CHART), "--kube-version", "1.24.0"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode != 0 and "kubeVersion" in proc.stderr


# ---- the workload -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SCENARIOS)
def test_pod_security(name: str, render: Render) -> None:
    manifests = render(SCENARIOS[name])
    pod = one(manifests, "Deployment")["spec"]["template"]["spec"]
    psc = pod["securityContext"]
    assert psc["runAsNonRoot"] is True
    assert psc["runAsUser"] == 65532
    assert psc["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["serviceAccountName"] == FULLNAME
    assert "hostNetwork" not in pod and "hostPID" not in pod and "hostIPC" not in pod

    c = container(manifests)
    sc = c["securityContext"]
    assert sc["runAsNonRoot"] is True
    assert sc["runAsUser"] == 65532
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["privileged"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert sc["seccompProfile"] == {"type": "RuntimeDefault"}

    # The root filesystem is read-only: /tmp is an emptyDir.
    assert {"name": "tmp", "mountPath": "/tmp"} in c["volumeMounts"]
    (tmp,) = [v for v in pod["volumes"] if v["name"] == "tmp"]
    assert "emptyDir" in tmp
    assert c["resources"]["requests"] and c["resources"]["limits"]["memory"]


@pytest.mark.parametrize("name", SCENARIOS)
def test_deployment_shape(name: str, render: Render) -> None:
    values = SCENARIOS[name]
    manifests = render(values)
    deployment = one(manifests, "Deployment")
    spec = deployment["spec"]
    assert spec["strategy"] == {"type": "Recreate"}
    assert spec["replicas"] == values.get("replicaCount", 1)
    assert deployment["metadata"]["namespace"] == NAMESPACE
    selector = spec["selector"]["matchLabels"]
    assert selector.items() <= spec["template"]["metadata"]["labels"].items()

    c = container(manifests)
    assert c["image"] == "ghcr.io/blaxel-ai/blaxel-operator:0.1.0"
    assert c["command"] == ["blaxel-operator"]
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": 8081}
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": 8080}
    assert {(p["name"], p["containerPort"]) for p in c["ports"]} == {("metrics", 8080), ("health", 8081)}

    service = one(manifests, "Service")
    assert service["spec"]["selector"] == selector
    assert service["spec"]["ports"] == [
        {"name": "metrics", "port": 8080, "targetPort": "metrics", "protocol": "TCP"}
    ]


def test_standard_labels_everywhere(render: Render) -> None:
    for m in render(EVERYTHING):
        labels = m["metadata"].get("labels") or {}
        for key in (
            "app.kubernetes.io/name",
            "app.kubernetes.io/instance",
            "app.kubernetes.io/version",
            "app.kubernetes.io/managed-by",
            "app.kubernetes.io/part-of",
            "helm.sh/chart",
        ):
            assert key in labels, f"{m['kind']}/{m['metadata']['name']} lacks label {key}"
        assert labels["app.kubernetes.io/name"] == "blaxel-operator"
        assert labels["app.kubernetes.io/instance"] == "blx"
        assert labels["app.kubernetes.io/managed-by"] == "Helm"


EXPECTED_ARGS: dict[str, list[str]] = {
    "defaults": [
        "run",
        "--all-namespaces",
        "--poll-interval=600",
        "--deploy-poll-interval=5",
        "--status-progress-interval=10",
        "--max-inflight=10",
        "--rate-limit=10",
        "--rate-burst=20",
        "--metrics-port=8080",
        "--health-port=8081",
        "--log-format=json",
        "--log-level=info",
        "--shard-lease=blaxel-system/blx-blaxel-operator-shards",
    ],
    "namespaced": [
        "run",
        "--namespace=team-a",
        "--namespace=team-b",
        "--poll-interval=600",
        "--deploy-poll-interval=5",
        "--status-progress-interval=10",
        "--max-inflight=10",
        "--rate-limit=10",
        "--rate-burst=20",
        "--metrics-port=8080",
        "--health-port=8081",
        "--log-format=json",
        "--log-level=info",
        "--shard-lease=blaxel-system/blx-blaxel-operator-shards",
    ],
    "peering": [
        "run",
        "--all-namespaces",
        "--poll-interval=600",
        "--deploy-poll-interval=5",
        "--status-progress-interval=10",
        "--max-inflight=10",
        "--rate-limit=10",
        "--rate-burst=20",
        "--metrics-port=8080",
        "--health-port=8081",
        "--log-format=json",
        "--log-level=info",
        "--shard-lease=blaxel-system/blx-blaxel-operator-shards",
        "--peering=blaxel-ha",
    ],
    "everything": [
        "run",
        "--namespace=team-a",
        "--poll-interval=600",
        "--deploy-poll-interval=5",
        "--status-progress-interval=10",
        "--max-inflight=10",
        "--rate-limit=10",
        "--rate-burst=20",
        "--metrics-port=8080",
        "--health-port=8081",
        "--log-format=json",
        "--log-level=debug",
        "--cluster-id=prod-eu",
        "--credentials-secret=blaxel-system/blaxel-default",
        "--shard-lease=blaxel-system/blx-blaxel-operator-shards",
        "--peering=blaxel-operator",
        "--request-timeout=20",
    ],
}


@pytest.mark.parametrize("name", EXPECTED_ARGS)
def test_args(name: str, render: Render) -> None:
    assert container(render(SCENARIOS[name]))["args"] == EXPECTED_ARGS[name]


def test_custom_operator_values_reach_the_flags(render: Render) -> None:
    values = {
        "operator": {
            "pollInterval": 300,
            "deployPollInterval": 2,
            "statusProgressInterval": 0,
            "maxInflight": 4,
            "rateLimit": 2.5,
            "rateBurst": 5,
            "metricsPort": 9090,
            "healthPort": 9091,
            "logFormat": "text",
            "logLevel": "warning",
        }
    }
    manifests = render(values)
    c = container(manifests)
    assert c["args"] == [
        "run",
        "--all-namespaces",
        "--poll-interval=300",
        "--deploy-poll-interval=2",
        "--status-progress-interval=0",
        "--max-inflight=4",
        "--rate-limit=2.5",
        "--rate-burst=5",
        "--metrics-port=9090",
        "--health-port=9091",
        "--log-format=text",
        "--log-level=warning",
        "--shard-lease=blaxel-system/blx-blaxel-operator-shards",
    ]
    assert c["livenessProbe"]["httpGet"]["port"] == 9091
    assert c["readinessProbe"]["httpGet"]["port"] == 9090


@pytest.mark.parametrize("name", SCENARIOS)
def test_args_are_accepted_by_the_operator_cli(name: str, render: Render) -> None:
    c = container(render(SCENARIOS[name]))
    assert c["command"] == ["blaxel-operator"]
    args = build_parser().parse_args(c["args"])
    assert args.command == "run"
    namespaces = SCENARIOS[name].get("watch", {}).get("namespaces", [])
    assert list(args.namespace) == namespaces
    assert args.all_namespaces is (not namespaces)
    assert args.metrics_port == 8080 and args.health_port == 8081
    peering = SCENARIOS[name].get("peering", {})
    assert args.peering == (peering.get("name", "blaxel-operator") if peering.get("enabled") else None)


def test_env_defaults(render: Render) -> None:
    env = env_of(render({}))
    assert env["BL_API_URL"] == {"name": "BL_API_URL", "value": "https://api.blaxel.ai/v0"}
    assert env["POD_ID"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert "BL_API_KEY" not in env and "BL_WORKSPACE" not in env
    assert by_kind(render({}), "Secret") == []


def test_api_key_from_chart_made_secret(render: Render) -> None:
    manifests = render(CHART_SECRET)
    secret = one(manifests, "Secret")
    assert secret["metadata"]["name"] == f"{FULLNAME}-credentials"
    assert secret["metadata"]["namespace"] == NAMESPACE
    assert set(secret["data"]) == {"apiKey"}
    env = env_of(manifests)
    assert env["BL_API_KEY"]["valueFrom"] == {
        "secretKeyRef": {"name": f"{FULLNAME}-credentials", "key": "apiKey"}
    }
    assert env["BL_WORKSPACE"] == {"name": "BL_WORKSPACE", "value": "acme"}
    annotations = one(manifests, "Deployment")["spec"]["template"]["metadata"]["annotations"]
    assert "checksum/credentials" in annotations
    # The key itself is never in the Deployment.
    assert "bl_test_key" not in yaml.safe_dump(one(manifests, "Deployment"))


def test_api_key_from_existing_secret(render: Render) -> None:
    manifests = render(EXISTING_SECRET)
    assert by_kind(manifests, "Secret") == []
    env = env_of(manifests)
    assert env["BL_API_KEY"]["valueFrom"] == {"secretKeyRef": {"name": "blaxel-api", "key": "apiKey"}}
    assert env["BL_WORKSPACE"]["valueFrom"] == {
        "secretKeyRef": {"name": "blaxel-api", "key": "workspace", "optional": True}
    }


def test_extra_env_args_and_scheduling(render: Render) -> None:
    manifests = render(EVERYTHING)
    env = env_of(manifests)
    assert env["HTTPS_PROXY"] == {"name": "HTTPS_PROXY", "value": "http://proxy:3128"}
    assert env["BL_API_URL"]["value"] == "https://api.example.test/v0"
    pod = one(manifests, "Deployment")["spec"]["template"]
    assert pod["metadata"]["annotations"] == {"example.com/team": "ai"}
    assert pod["spec"]["nodeSelector"] == {"kubernetes.io/os": "linux"}
    assert pod["spec"]["tolerations"][0]["key"] == "dedicated"
    assert pod["spec"]["priorityClassName"] == "system-cluster-critical"


# ---- availability --------------------------------------------------------------------------------------


def test_no_pdb_with_one_replica(render: Render) -> None:
    assert by_kind(render({}), "PodDisruptionBudget") == []
    assert by_kind(render(NAMESPACED), "PodDisruptionBudget") == []


def test_peering_with_two_replicas_gets_a_pdb(render: Render) -> None:
    manifests = render(PEERING)
    pdb = one(manifests, "PodDisruptionBudget")
    assert pdb["apiVersion"] == "policy/v1"
    assert pdb["spec"]["maxUnavailable"] == 1
    assert (
        pdb["spec"]["selector"]["matchLabels"]
        == one(manifests, "Deployment")["spec"]["selector"]["matchLabels"]
    )
    peering = one(manifests, "ClusterKopfPeering")
    assert peering["apiVersion"] == "kopf.dev/v1"
    assert peering["metadata"]["name"] == "blaxel-ha"


def test_namespaced_peering_objects(render: Render) -> None:
    manifests = render({**NAMESPACED, **PEERING})
    assert by_kind(manifests, "ClusterKopfPeering") == []
    assert sorted(m["metadata"]["namespace"] for m in by_kind(manifests, "KopfPeering")) == [
        "team-a",
        "team-b",
    ]
    assert {m["metadata"]["name"] for m in by_kind(manifests, "KopfPeering")} == {"blaxel-ha"}
    assert (
        by_kind(
            render({**PEERING, "peering": {"enabled": True, "createObjects": False}}), "ClusterKopfPeering"
        )
        == []
    )


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"replicaCount": 2}, "replicaCount=2 requires peering.enabled=true"),
        (
            {"blaxel": {"apiKey": "k", "existingSecret": "s"}},
            "set either blaxel.apiKey or blaxel.existingSecret",
        ),
        (
            {"metrics": {"service": {"enabled": False}, "serviceMonitor": {"enabled": True}}},
            "metrics.serviceMonitor.enabled=true requires metrics.service.enabled=true",
        ),
        ({"operator": {"metricsPort": 8080, "healthPort": 8080}}, "must differ"),
    ],
    ids=["replicas-without-peering", "two-api-key-sources", "servicemonitor-without-service", "same-ports"],
)
def test_inconsistent_values_fail_the_render(
    values: dict[str, Any], message: str, render_error: RenderError
) -> None:
    assert message in render_error(values)


# ---- metrics and network --------------------------------------------------------------------------------


def test_service_monitor(render: Render) -> None:
    manifests = render(OBSERVABILITY)
    sm = one(manifests, "ServiceMonitor")
    assert sm["apiVersion"] == "monitoring.coreos.com/v1"
    assert sm["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    service = one(manifests, "Service")
    assert sm["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert sm["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}
    (endpoint,) = sm["spec"]["endpoints"]
    assert (endpoint["port"], endpoint["path"]) == ("metrics", "/metrics")
    assert by_kind(render({}), "ServiceMonitor") == []


def test_network_policy_defaults(render: Render) -> None:
    manifests = render(OBSERVABILITY)
    np = one(manifests, "NetworkPolicy")
    spec = np["spec"]
    assert (
        spec["podSelector"]["matchLabels"] == one(manifests, "Deployment")["spec"]["selector"]["matchLabels"]
    )
    assert spec["policyTypes"] == ["Ingress", "Egress"]
    (ingress,) = spec["ingress"]
    assert ingress["ports"] == [{"protocol": "TCP", "port": 8080}, {"protocol": "TCP", "port": 8081}]
    egress_ports = [sorted((p["protocol"], p["port"]) for p in rule["ports"]) for rule in spec["egress"]]
    assert egress_ports == [
        [("TCP", 53), ("UDP", 53)],
        [("TCP", 443), ("TCP", 6443)],
        [("TCP", 443)],
    ]
    assert by_kind(render({}), "NetworkPolicy") == []


def test_network_policy_restricted(render: Render) -> None:
    spec = one(render(EVERYTHING), "NetworkPolicy")["spec"]
    assert spec["ingress"][0]["from"] == EVERYTHING["networkPolicy"]["ingressFrom"]
    dns, api, blaxel = spec["egress"]
    assert dns["to"] == EVERYTHING["networkPolicy"]["dnsTo"]
    assert api["to"] == [{"ipBlock": {"cidr": "10.0.0.1/32"}}]
    assert blaxel["to"] == [{"ipBlock": {"cidr": "203.0.113.0/24"}}]
    assert blaxel["ports"] == [{"protocol": "TCP", "port": 443}]
