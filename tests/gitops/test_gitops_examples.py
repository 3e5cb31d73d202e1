"""The GitOps examples stay in step with the shipped health check."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from blaxel_operator.health import ARGOCD_HEALTH_KEY, ARGOCD_HEALTH_KEYS, argocd_health_lua
from blaxel_operator.kinds.registry import KINDS

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "gitops"


def _docs(name: str) -> list[dict[str, Any]]:
    with (EXAMPLES / name).open(encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d]


def test_argocd_cm_snippet_embeds_the_shipped_script() -> None:
    (cm,) = _docs("argocd-cm.yaml")
    assert (cm["apiVersion"], cm["kind"]) == ("v1", "ConfigMap")
    assert cm["metadata"] == {
        "name": "argocd-cm",
        "namespace": "argocd",
        "labels": {"app.kubernetes.io/name": "argocd-cm", "app.kubernetes.io/part-of": "argocd"},
    }
    assert ARGOCD_HEALTH_KEY == "resource.customizations.health.blaxel.ai_BlaxelAgent"
    expected = {f"resource.customizations.health.{k.group}_{k.kind}" for k in KINDS}
    assert set(ARGOCD_HEALTH_KEYS) == expected  # one key per kind of the registry
    assert cm["data"] == dict.fromkeys(ARGOCD_HEALTH_KEYS, argocd_health_lua())


def test_flux_kustomization_waits_for_agents() -> None:
    docs = {d["kind"]: d for d in _docs("flux-kustomization.yaml")}
    ks = docs["Kustomization"]
    assert ks["apiVersion"] == "kustomize.toolkit.fluxcd.io/v1"
    assert ks["spec"]["wait"] is True
    assert ks["spec"]["prune"] is True
    assert ks["spec"]["timeout"]
    source = docs["GitRepository"]
    assert source["apiVersion"] == "source.toolkit.fluxcd.io/v1"
    assert ks["spec"]["sourceRef"] == {"kind": "GitRepository", "name": source["metadata"]["name"]}
