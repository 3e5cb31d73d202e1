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


def test_what_a_check_of_the_secret_values_found_is_said() -> None:
    adopt = core.Decision(core.Action.ADOPT, write=True, first_adoption=True, secrets_unknown_only=True)
    unreadable = core.secrets_unreadable("Blaxel refused show_secrets")
    assert events_for_write(adopt, "agent", "a", unreadable.message) == [
        Event(
            "Normal",
            "Adopted",
            "adopted existing agent a; secret values could not be read (Blaxel refused show_secrets): "
            "written once, as they cannot be compared",
        )
    ]
    update = core.Decision(core.Action.UPDATE, write=True, secrets_unknown_only=True)
    assert events_for_write(update, "job", "j", core.SECRETS_DIFFER.message)[0].message == (
        "updated job j; secret values compared: they differ from the spec, written"
    )
    settled = core.Decision(core.Action.ADOPT, first_adoption=True)
    assert events_for_settled(settled, "agent", "a", core.SECRETS_MATCH.message)[0].message == (
        "adopted existing agent a (secret values compared: they match, not redeployed)"
    )
    # found again after a restart between its creation and the status write
    assert events_for_settled(
        core.Decision(core.Action.NOTHING), "agent", "a", core.SECRETS_MATCH.message
    ) == [Event("Normal", "SecretsCompared", "agent a: secret values compared: they match, not redeployed")]


def test_warnings_on_transition_only() -> None:
    assert events_for_status(ready("Deployed", "True"), ready("DeployFailed")) == [
        Event("Warning", "DeployFailed", "m DeployFailed")
    ]
    assert events_for_status(ready("DeployFailed"), ready("DeployFailed")) == []
    assert events_for_status(ready("Deploying"), ready("Deployed", "True")) == []
