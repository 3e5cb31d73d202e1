"""The chart README documents every value and the operational notes; NOTES.txt renders."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

CHART = Path(__file__).resolve().parents[2] / "charts" / "blaxel-operator"


def leaf_keys(values: dict[str, Any], prefix: str = "") -> Iterator[str]:
    for key, value in values.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            yield from leaf_keys(value, f"{path}.")
        else:
            yield path


def readme() -> str:
    return (CHART / "README.md").read_text(encoding="utf-8")


def test_readme_table_lists_every_value() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text(encoding="utf-8"))
    table = readme().split("\n## Values\n", 1)[1]
    documented = set(re.findall(r"^\| `([^`]+)` \|", table, flags=re.MULTILINE))
    leaves = set(leaf_keys(values))
    assert leaves - documented == set(), "values missing from the README table"
    assert documented - leaves == set(), "README table rows for values that do not exist"


def test_readme_operational_notes() -> None:
    text = readme()
    for needle in (
        "helm install",
        "helm upgrade",
        "helm uninstall",
        "kubectl apply --server-side -f crds/",  # CRDs in crds/ are never upgraded by Helm
        "watch.namespaces",
        "ClusterRole",
        "RoleBinding",  # both RBAC modes
        "resource.customizations.health.blaxel.ai_BlaxelAgent",
        "examples/gitops/argocd-cm.yaml",
        "examples/gitops/flux-kustomization.yaml",
        "kubectl wait --for=condition=Ready",
    ):
        assert needle in text, needle


def test_notes_render(helm: Path) -> None:
    cmd = [
        str(helm),
        "install",
        "blx",
        str(CHART),
        "--dry-run=client",
        "--namespace",
        "blaxel-system",
        "--set",
        "watch.namespaces={team-a,team-b}",
        "--set",
        "blaxel.existingSecret=blaxel-api",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    notes = proc.stdout.split("NOTES:", 1)[1]
    assert "Mode: namespaced; watching team-a, team-b" in notes
    assert "kubectl wait --for=condition=Ready" in notes
    assert "WARNING" not in notes
