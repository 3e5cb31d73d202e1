"""Which Events a reconcile posts (pure)."""

from __future__ import annotations

from blaxel_operator.core import decide as core
from blaxel_operator.core.events import Event, events_for_settled, events_for_status, events_for_write


def ready(reason: str, status: str = "False") -> dict[str, object]:
    return {"conditions": [{"type": "Ready", "status": status, "reason": reason, "message": f"m {reason}"}]}


def test_write_events_name_the_object_with_the_kinds_noun() -> None:
    assert events_for_write(core.CREATE, "function", "f") == [
        Event("Normal", "Created", "created function f")
    ]
    drift = core.Decision(core.Action.CORRECT_DRIFT, drift=["spec.x"], write=True)
    assert events_for_write(drift, "model", "m")[0].message == "model m changed outside Kubernetes: spec.x"
    secrets_only = core.Decision(core.Action.ADOPT, write=True)
    assert "secret values" in events_for_write(secrets_only, "agent", "a")[0].message


def test_adoption_without_write_is_announced_once() -> None:
    first = core.Decision(core.Action.ADOPT, first_adoption=True)
    assert [e.reason for e in events_for_settled(first, "agent", "a")] == ["Adopted"]
    assert events_for_settled(core.Decision(core.Action.ADOPT), "agent", "a") == []
    assert events_for_settled(core.Decision(core.Action.NOTHING), "agent", "a") == []


def test_warnings_on_transition_only() -> None:
    assert events_for_status(ready("Deployed", "True"), ready("DeployFailed")) == [
        Event("Warning", "DeployFailed", "m DeployFailed")
    ]
    assert events_for_status(ready("DeployFailed"), ready("DeployFailed")) == []
    assert events_for_status(ready("Deploying"), ready("Deployed", "True")) == []
