"""Flux health: kstatus's generic rules over BlaxelAgent states, the hand-written table and the operator's
real status output (blaxel_operator.core.status.status_for).

Flux's kustomize-controller (`wait: true`, `healthChecks`) computes health with kstatus
(sigs.k8s.io/cli-utils pkg/kstatus/status). A BlaxelAgent is no built-in type, so only the generic rules
apply; `kstatus_compute` below reimplements them:

- generic.go `checkGenericProperties`: metadata.deletionTimestamp -> Terminating; `checkGeneration`:
  status.observedGeneration present and != metadata.generation -> InProgress
  ("<Kind> generation is N, but latest observed generation is M"); then the conditions in list order:
  Reconciling=True -> InProgress, Stalled=True -> Failed (the first one found wins), message from it.
- a Ready condition with status False -> InProgress with Ready's reason/message (kstatus's own table,
  status_compute_test.go TestCRDGenericStatus "crdNotReady").
- status.go `Compute`: nothing decided -> Current, "Resource is current".
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from blaxel_operator.crdgen import file_name
from blaxel_operator.kinds.registry import KINDS

from .gitops_states import ArgoHealth, complete_object, load_states, state_id

REPO = Path(__file__).resolve().parents[2]
CRD_FILES = {kind.kind: REPO / "crds" / file_name(kind) for kind in KINDS}
STATES = load_states()


def kstatus_compute(obj: dict[str, Any]) -> tuple[str, str]:
    """kstatus status.Compute for a custom resource: (status, message)."""
    meta = obj.get("metadata") or {}
    if meta.get("deletionTimestamp"):
        return "Terminating", "Resource scheduled for deletion"

    status = obj.get("status") or {}
    generation = meta.get("generation")
    if generation is not None and "observedGeneration" in status:
        observed = status["observedGeneration"]
        if observed != generation:
            kind = obj.get("kind", "")
            return (
                "InProgress",
                f"{kind} generation is {generation}, but latest observed generation is {observed}",
            )

    conditions = [c for c in status.get("conditions") or [] if isinstance(c, dict)]
    for cond in conditions:
        if cond.get("type") == "Reconciling" and cond.get("status") == "True":
            return "InProgress", str(cond.get("message", ""))
        if cond.get("type") == "Stalled" and cond.get("status") == "True":
            return "Failed", str(cond.get("message", ""))

    for cond in conditions:
        if cond.get("type") == "Ready" and cond.get("status") == "False":
            return "InProgress", str(cond.get("message", ""))

    return "Current", "Resource is current"


# ---- the hand-written table --------------------------------------------------------------------------


@pytest.mark.parametrize("state", STATES, ids=state_id)
def test_kstatus_table(state: dict[str, Any]) -> None:
    status, message = kstatus_compute(state["object"])
    assert {"status": status, "message": message} == state["kstatus"]


def test_table_covers_every_kstatus_result() -> None:
    assert {s["kstatus"]["status"] for s in STATES} == {"Current", "InProgress", "Failed", "Terminating"}


def test_table_covers_every_kind() -> None:
    assert {s["object"]["kind"] for s in STATES} == {k.kind for k in KINDS}


def test_kstatus_first_abnormal_condition_wins() -> None:
    """Faithful to kstatus's single loop: list order decides between Reconciling and Stalled."""
    both = [
        {"type": "Stalled", "status": "True", "message": "stalled"},
        {"type": "Reconciling", "status": "True", "message": "reconciling"},
    ]
    obj: dict[str, Any] = {
        "kind": "BlaxelAgent",
        "metadata": {"generation": 1},
        "status": {"conditions": both},
    }
    assert kstatus_compute(obj) == ("Failed", "stalled")
    obj["status"]["conditions"] = list(reversed(both))
    assert kstatus_compute(obj) == ("InProgress", "reconciling")


# ---- the CRD keeps every field the table and the operator write -----------------------------------------


def _crd_schema(kind: str = "BlaxelAgent") -> dict[str, Any]:
    with CRD_FILES[kind].open(encoding="utf-8") as f:
        crd = yaml.safe_load(f)
    schema: dict[str, Any] = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema


def _strip_extensions(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {k: _strip_extensions(v) for k, v in schema.items() if not k.startswith("x-kubernetes-")}
    if isinstance(schema, list):
        return [_strip_extensions(v) for v in schema]
    return schema


def undeclared_fields(value: Any, schema: dict[str, Any], path: str = "") -> list[str]:
    """Paths the apiserver would prune (not declared by the structural schema)."""
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        return []
    found: list[str] = []
    if isinstance(value, dict) and schema.get("type") == "object":
        props = schema.get("properties")
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            if props is not None and key in props:
                found += undeclared_fields(item, props[key], f"{path}.{key}")
            elif isinstance(extra, dict):
                found += undeclared_fields(item, extra, f"{path}.{key}")
            elif props is not None:
                found.append(f"{path}.{key}")
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            found += undeclared_fields(item, schema["items"], f"{path}[{i}]")
    return found


def assert_valid_agent(obj: dict[str, Any]) -> None:
    """Valid for the CRD of its kind (BlaxelAgent, BlaxelPolicy, ...), status included."""
    schema = _crd_schema(obj.get("kind", "BlaxelAgent"))
    jsonschema.Draft7Validator(_strip_extensions(schema)).validate(obj)
    status_schema = schema["properties"]["status"]
    assert undeclared_fields(obj.get("status") or {}, status_schema, "status") == []


@pytest.mark.parametrize("state", STATES, ids=state_id)
def test_table_objects_fit_the_crd(state: dict[str, Any]) -> None:
    assert_valid_agent(state["object"])


# ---- the operator's real status output ------------------------------------------------------------------

NOW = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)


def _remote(status: str, events: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "metadata": {
            "name": "my-agent",
            "workspace": "acme",
            "url": "https://run.blaxel.ai/acme/agents/my-agent",
        },
        "spec": {"runtime": {"image": "example/agent:1"}},
        "status": status,
        "events": events or [],
    }


def _operator_status(scenario: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(metadata, status) produced by the operator's pure status function for a scenario."""
    from blaxel_operator.core.status import Problem, status_for
    from unit.test_status import Outcome

    base: dict[str, Any] = {"generation": 1, "now": NOW, "applied_hash": "h1", "desired_hash": "h1"}
    deployed = status_for(Outcome(**base, remote=_remote("DEPLOYED"), remote_known=True), {})
    meta: dict[str, Any] = {"generation": 1}
    if scenario == "deployed":
        return meta, deployed
    if scenario == "deploying":
        return meta, status_for(Outcome(**base, remote=_remote("DEPLOYING"), remote_known=True), {})
    if scenario == "deploy-failed":
        long_ago = NOW - timedelta(hours=1)
        failed_event = {
            "type": "deploy",
            "status": "FAILED",
            "message": "build error",
            "time": long_ago.isoformat(),
        }
        previous = {
            **deployed,
            "appliedTime": (long_ago - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        remote = _remote("FAILED", [failed_event])
        return meta, status_for(Outcome(**base, remote=remote, remote_known=True), previous)
    problems = {
        "invalid-spec": Problem.INVALID_SPEC,
        "already-exists": Problem.ALREADY_EXISTS,
        "unauthorized": Problem.UNAUTHORIZED,
        "secret-not-found": Problem.SECRET_NOT_FOUND,
        "reference-not-ready": Problem.REFERENCE_NOT_READY,
    }
    if scenario in problems:
        outcome = Outcome(generation=1, now=NOW, problem=problems[scenario], message=f"{scenario} happened")
        return meta, status_for(outcome, {})
    if scenario == "paused":
        paused = Outcome(
            **base,
            remote=_remote("DEPLOYED"),
            remote_known=True,
            problem=Problem.PAUSED,
            message="reconciliation paused",
        )
        return {**meta, "annotations": {"blaxel.ai/paused": "true"}}, status_for(paused, deployed)
    if scenario == "spec-changed":
        return {"generation": 2}, copy.deepcopy(deployed)
    raise AssertionError(scenario)


REAL_SCENARIOS = [
    # scenario, Argo CD health, kstatus result
    ("deployed", "Healthy", "Current"),
    ("deploying", "Progressing", "InProgress"),
    ("deploy-failed", "Degraded", "Failed"),
    ("invalid-spec", "Degraded", "Failed"),
    ("already-exists", "Degraded", "Failed"),
    ("unauthorized", "Degraded", "Failed"),
    ("secret-not-found", "Progressing", "InProgress"),
    ("reference-not-ready", "Progressing", "InProgress"),
    ("paused", "Suspended", "Current"),
    ("spec-changed", "Progressing", "InProgress"),
]


@pytest.mark.parametrize(
    ("scenario", "argocd", "kstatus"), REAL_SCENARIOS, ids=[s[0] for s in REAL_SCENARIOS]
)
def test_operator_status_output(scenario: str, argocd: str, kstatus: str, argocd_health: ArgoHealth) -> None:
    meta, status = _operator_status(scenario)
    obj = complete_object({"metadata": meta, "status": status})
    assert_valid_agent(obj)

    conditions = {c["type"]: c for c in status["conditions"]}
    assert {"Ready", "Synced"} <= set(conditions), "Ready and Synced are always present"
    for ctype in ("Reconciling", "Stalled"):
        assert conditions.get(ctype, {"status": "True"})["status"] == "True", (
            f"{ctype} present only while True"
        )
    for cond in status["conditions"]:
        assert {"type", "status", "reason", "message", "lastTransitionTime", "observedGeneration"} <= set(
            cond
        )
        assert cond["status"] in ("True", "False")

    assert kstatus_compute(obj)[0] == kstatus
    health = argocd_health(obj)
    assert health["status"] == argocd
    if argocd in ("Degraded", "Healthy"):
        assert health["message"] == conditions["Ready"]["message"]
