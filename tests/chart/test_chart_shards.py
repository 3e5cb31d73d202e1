"""`shards: N`: one Deployment per shard with its flags, each HA through its own Kopf peering, rendered with
the real helm."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from blaxel_operator.cli import build_parser

from .conftest import CHART, Manifest, Render, RenderError

FULLNAME = "blx-blaxel-operator"
SHARDS_HA: dict[str, Any] = {"shards": 3, "replicaCount": 2, "peering": {"enabled": True, "name": "blx-ha"}}


def by_kind(manifests: list[Manifest], kind: str) -> list[Manifest]:
    return [m for m in manifests if m["kind"] == kind]


def args_of(deployment: Manifest) -> list[str]:
    (c,) = deployment["spec"]["template"]["spec"]["containers"]
    return list(c["args"])


def matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def test_one_shard_is_the_single_deployment_without_shard_flags(render: Render) -> None:
    (deployment,) = by_kind(render({"shards": 1}), "Deployment")
    assert deployment["metadata"]["name"] == FULLNAME
    assert not [a for a in args_of(deployment) if a.startswith(("--shard-index", "--shard-count"))]
    assert "blaxel.ai/shard" not in deployment["spec"]["selector"]["matchLabels"]


def test_each_shard_is_a_deployment_with_its_index_and_the_count(render: Render) -> None:
    deployments = by_kind(render({"shards": 3}), "Deployment")
    assert [d["metadata"]["name"] for d in deployments] == [f"{FULLNAME}-shard-{i}" for i in range(3)]
    for i, deployment in enumerate(deployments):
        args = build_parser().parse_args(args_of(deployment))
        assert (args.shard_index, args.shard_count) == (i, 3)
        assert args.peering is None
        assert deployment["spec"]["strategy"] == {"type": "Recreate"}
        assert deployment["spec"]["replicas"] == 1


def test_shard_selectors_pick_their_own_pods_only(render: Render) -> None:
    deployments = by_kind(render(SHARDS_HA), "Deployment")
    for deployment in deployments:
        selector = deployment["spec"]["selector"]["matchLabels"]
        for other in deployments:
            labels = other["spec"]["template"]["metadata"]["labels"]
            assert matches(selector, labels) is (other is deployment)


def test_each_shard_is_ha_through_its_own_peering(render: Render) -> None:
    manifests = render(SHARDS_HA)
    deployments = by_kind(manifests, "Deployment")
    peerings = [build_parser().parse_args(args_of(d)).peering for d in deployments]
    assert peerings == ["blx-ha-0", "blx-ha-1", "blx-ha-2"]
    assert [d["spec"]["replicas"] for d in deployments] == [2, 2, 2]
    assert sorted(m["metadata"]["name"] for m in by_kind(manifests, "ClusterKopfPeering")) == peerings
    (role,) = by_kind(manifests, "ClusterRole")
    named = [r for r in role["rules"] if r.get("resourceNames") and "clusterkopfpeerings" in r["resources"]]
    assert [r["resourceNames"] for r in named] == [peerings]
    # a disruption budget per shard, over that shard's pods only
    pdbs = by_kind(manifests, "PodDisruptionBudget")
    assert [p["metadata"]["name"] for p in pdbs] == [d["metadata"]["name"] for d in deployments]
    for pdb, deployment in zip(pdbs, deployments, strict=True):
        assert pdb["spec"]["selector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]


def test_namespaced_shards_get_a_peering_object_per_namespace_and_shard(render: Render) -> None:
    manifests = render({**SHARDS_HA, "shards": 2, "watch": {"namespaces": ["team-a", "team-b"]}})
    found = sorted(
        (m["metadata"]["namespace"], m["metadata"]["name"]) for m in by_kind(manifests, "KopfPeering")
    )
    assert found == [(ns, f"blx-ha-{i}") for ns in ("team-a", "team-b") for i in range(2)]
    for role in by_kind(manifests, "Role"):
        if role["metadata"]["name"].endswith("-shard-lease"):
            continue
        named = [r for r in role["rules"] if r.get("resourceNames") and "kopfpeerings" in r["resources"]]
        assert [r["resourceNames"] for r in named] == [["blx-ha-0", "blx-ha-1"]]


def test_the_metrics_service_reaches_every_shard(render: Render) -> None:
    manifests = render({"shards": 2})
    (service,) = by_kind(manifests, "Service")
    for deployment in by_kind(manifests, "Deployment"):
        assert matches(service["spec"]["selector"], deployment["spec"]["template"]["metadata"]["labels"])


@pytest.mark.parametrize("shards", [0, "two"])
def test_bad_shard_counts_are_refused(shards: Any, render_error: RenderError) -> None:
    assert "shards" in render_error({"shards": shards})


def test_helm_lint_with_shards(helm: Path, tmp_path: Path) -> None:
    values = tmp_path / "values.yaml"
    values.write_text(yaml.safe_dump(SHARDS_HA), encoding="utf-8")
    cmd = [str(helm), "lint", str(CHART), "--strict", "--kube-version", "1.30.0", "-f", str(values)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
