"""The Argo CD health check (operator/blaxel_operator/health/argocd.lua) run through a real Lua interpreter
over the state table of every kind."""

from __future__ import annotations

import re
from typing import Any

import pytest

from blaxel_operator.health import argocd_health_lua
from blaxel_operator.kinds.registry import KINDS

from .gitops_states import ArgoHealth, load_states, state_id

STATES = load_states()
ARGO_STATUSES = {"Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown"}


@pytest.mark.parametrize("state", STATES, ids=state_id)
def test_argocd_health_table(state: dict[str, Any], argocd_health: ArgoHealth) -> None:
    assert argocd_health(state["object"]) == state["argocd"]


def test_table_covers_every_health_status() -> None:
    assert {s["argocd"]["status"] for s in STATES} == {"Healthy", "Progressing", "Degraded", "Suspended"}
    assert {s["argocd"]["status"] for s in STATES} <= ARGO_STATUSES


@pytest.mark.parametrize(
    "obj",
    [
        {"metadata": {}},
        {"metadata": {"generation": 1}, "status": {}},
        {"metadata": {"generation": 1}, "status": {"conditions": []}},
        {"metadata": {"generation": 1, "annotations": {}}, "status": {"observedGeneration": 1}},
        {
            "metadata": {"generation": 1},
            "status": {"observedGeneration": 1, "conditions": [{"type": "Ready"}]},
        },
        {"metadata": {"generation": 1}, "status": {"observedGeneration": 1, "conditions": [{}]}},
    ],
    ids=["bare", "empty-status", "empty-conditions", "no-annotations", "ready-no-status", "empty-condition"],
)
def test_argocd_health_tolerates_partial_objects(obj: dict[str, Any], argocd_health: ArgoHealth) -> None:
    health = argocd_health(obj)
    assert health["status"] == "Progressing"
    assert isinstance(health["message"], str) and health["message"]


def test_script_follows_argocd_conventions() -> None:
    script = argocd_health_lua()
    assert script.rstrip().endswith("return hs")
    assert "local hs = {}" in script
    # No string library in Argo CD's sandbox (method calls on strings or string.*).
    assert "string." not in script
    assert ":" not in "".join(line.split("--", 1)[0] for line in script.splitlines())


def test_the_script_names_every_kind_as_the_operator_does() -> None:
    """Its table of nouns (for messages) is the registry's: a new kind must be added there too."""
    nouns = dict(re.findall(r'^  (Blaxel\w+) = "([^"]+)",$', argocd_health_lua(), re.M))
    assert nouns == {k.kind: k.noun for k in KINDS}
