"""Status and conditions produced from an outcome (no server)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from blaxel_operator.core import status as core_status
from blaxel_operator.core.conditions import find
from blaxel_operator.core.decide import SECRETS_MATCH
from blaxel_operator.kinds import agent

NOW = datetime(2026, 11, 29, 12, 0, 0, tzinfo=UTC)


def Outcome(**kw: Any) -> core_status.Outcome:
    """An outcome as the agent's reconciler makes it: the kind judges the remote it saw."""
    remote, desired_enabled = kw.get("remote"), kw.pop("desired_enabled", True)
    if remote is not None and "readiness" not in kw:
        kw["readiness"] = agent.readiness(remote, {"spec": {"enabled": desired_enabled}})
        kw.setdefault("at_provider_extra", agent.at_provider_extra(remote))
    return core_status.Outcome(**kw)


class core:
    Outcome = staticmethod(Outcome)
    Problem = core_status.Problem
    status_for = staticmethod(core_status.status_for)
    iso = staticmethod(core_status.iso)
    EVENTS_KEPT = core_status.EVENTS_KEPT


def agent_obj(status: str, events: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "metadata": {
            "name": "bot",
            "workspace": "ws",
            "url": "https://run/bot",
            "createdAt": "2026-11-29T11:00:00Z",
        },
        "spec": {},
        "status": status,
        "events": events or [],
    }


def types(status: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c["reason"]) for c in status["conditions"]}


@pytest.mark.parametrize(
    ("remote_status", "expected"),
    [
        ("DEPLOYED", {"Ready": ("True", "Deployed"), "Synced": ("True", "ReconcileSuccess")}),
        (
            "BUILDING",
            {
                "Ready": ("False", "Deploying"),
                "Synced": ("True", "ReconcileSuccess"),
                "Reconciling": ("True", "Deploying"),
            },
        ),
        (
            "FAILED",
            {
                "Ready": ("False", "DeployFailed"),
                "Synced": ("True", "ReconcileSuccess"),
                "Stalled": ("True", "DeployFailed"),
            },
        ),
        (
            "SOMETHING_NEW",
            {
                "Ready": ("False", "Deploying"),
                "Synced": ("True", "ReconcileSuccess"),
                "Reconciling": ("True", "Deploying"),
            },
        ),
    ],
)
def test_remote_status_to_conditions(remote_status: str, expected: dict[str, tuple[str, str]]) -> None:
    out = core.Outcome(
        generation=3, now=NOW, remote=agent_obj(remote_status), remote_known=True, applied_hash="h"
    )
    status = core.status_for(out, {})
    assert types(status) == expected
    assert status["observedGeneration"] == 3
    assert status["atProvider"]["status"] == remote_status
    assert all(c["observedGeneration"] == 3 for c in status["conditions"])


@pytest.mark.parametrize(
    ("problem", "ready_reason", "stalled"),
    [
        (core.Problem.INVALID_SPEC, "InvalidSpec", True),
        (core.Problem.ALREADY_EXISTS, "AlreadyExists", True),
        (core.Problem.UNAUTHORIZED, "Unauthorized", True),
        (core.Problem.SECRET_NOT_FOUND, "SecretNotFound", False),
    ],
)
def test_problems(problem: core_status.Problem, ready_reason: str, stalled: bool) -> None:
    status = core.status_for(core.Outcome(generation=2, now=NOW, problem=problem, message="why"), {})
    conds = types(status)
    assert conds["Ready"] == ("False", ready_reason)
    assert conds["Synced"] == ("False", "ReconcileError")
    assert ("Stalled" in conds) is stalled
    assert ("Reconciling" in conds) is (not stalled)


def test_transient_error_keeps_ready_and_reports_synced_false() -> None:
    ok = core.status_for(
        core.Outcome(
            generation=1, now=NOW, remote=agent_obj("DEPLOYED"), remote_known=True, applied_hash="h"
        ),
        {},
    )
    failed = core.status_for(
        core.Outcome(
            generation=1, now=NOW, problem=core.Problem.TRANSIENT, message="503; next try at 12:00:05Z"
        ),
        ok,
    )
    assert types(failed)["Ready"] == ("True", "Deployed")
    assert types(failed)["Synced"] == ("False", "ReconcileError")
    assert "next try" in (find(failed["conditions"], "Synced") or {})["message"]


def test_nothing_changed_means_identical_status() -> None:
    out = core.Outcome(
        generation=1, now=NOW, remote=agent_obj("DEPLOYED"), remote_known=True, applied_hash="h"
    )
    first = core.status_for(out, {})
    later = core.Outcome(
        generation=1,
        now=NOW + timedelta(minutes=10),
        remote=agent_obj("DEPLOYED"),
        remote_known=True,
        applied_hash="h",
    )
    assert core.status_for(later, first) == first


def test_a_check_of_the_secret_values_is_kept_until_the_next_one() -> None:
    checked = core.Outcome(
        generation=1,
        now=NOW,
        remote=agent_obj("DEPLOYED"),
        remote_known=True,
        applied_hash="h",
        secrets_check=SECRETS_MATCH,
    )
    first = core.status_for(checked, {})
    assert first["secretsCheck"] == {
        "result": "Match",
        "message": SECRETS_MATCH.message,
        "time": core.iso(NOW),
    }
    later = core.Outcome(
        generation=1, now=NOW + timedelta(minutes=10), remote=agent_obj("DEPLOYED"), remote_known=True
    )
    assert core.status_for(later, first) == first  # polls keep it as it is: no status write


def test_transition_time_moves_only_on_flip() -> None:
    building = core.status_for(
        core.Outcome(
            generation=1, now=NOW, remote=agent_obj("BUILDING"), remote_known=True, applied_hash="h"
        ),
        {},
    )
    later = NOW + timedelta(seconds=30)
    deployed = core.status_for(
        core.Outcome(
            generation=1, now=later, remote=agent_obj("DEPLOYED"), remote_known=True, applied_hash="h"
        ),
        building,
    )
    ready = find(deployed["conditions"], "Ready") or {}
    synced = find(deployed["conditions"], "Synced") or {}
    assert ready["lastTransitionTime"] == core.iso(later)
    assert synced["lastTransitionTime"] == core.iso(NOW)


def test_stale_failed_right_after_put_is_deploying() -> None:
    old_event = {"type": "deployment", "status": "FAILED", "message": "boom", "time": "2026-11-29T11:59:00Z"}
    out = core.Outcome(
        generation=2,
        now=NOW,
        remote=agent_obj("FAILED", [old_event]),
        remote_known=True,
        applied_hash="h",
        applied_now=True,
    )
    assert types(core.status_for(out, {}))["Ready"] == ("False", "Deploying")


def test_events_are_truncated_to_the_most_recent() -> None:
    events = [
        {"type": "deployment", "status": "DEPLOYING", "time": f"2026-11-29T11:00:{i:02d}Z"} for i in range(20)
    ]
    out = core.Outcome(
        generation=1, now=NOW, remote=agent_obj("DEPLOYED", events), remote_known=True, applied_hash="h"
    )
    kept = core.status_for(out, {})["atProvider"]["events"]
    assert len(kept) == core.EVENTS_KEPT
    assert kept[-1]["time"] == "2026-11-29T11:00:19Z"


def test_stale_deployed_right_after_put_is_deploying_then_times_out() -> None:
    old_event = {"type": "deployment", "status": "DEPLOYED", "time": "2026-11-29T11:59:00Z"}
    just_put = core.Outcome(
        generation=2,
        now=NOW,
        remote=agent_obj("DEPLOYED", [old_event]),
        remote_known=True,
        applied_hash="h",
        applied_now=True,
    )
    after_put = core.status_for(just_put, {})
    assert types(after_put)["Ready"] == ("False", "Deploying")
    much_later = core.Outcome(
        generation=2,
        now=NOW + timedelta(seconds=30),
        remote=agent_obj("DEPLOYED", [old_event]),
        remote_known=True,
        applied_hash="h",
    )
    assert types(core.status_for(much_later, after_put))["Ready"] == ("True", "Deployed")


def test_setting_one_condition_keeps_the_others_as_they_were() -> None:
    from blaxel_operator.core.conditions import Condition, set_condition

    previous = [
        {
            "type": "Ready",
            "status": "True",
            "reason": "Available",
            "message": "ok",
            "lastTransitionTime": "t0",
            "observedGeneration": 1,
        },
        {
            "type": "Synced",
            "status": "True",
            "reason": "ReconcileSuccess",
            "message": "m",
            "lastTransitionTime": "t0",
            "observedGeneration": 1,
        },
    ]
    got = set_condition(previous, Condition("Ready", False, "InUse", "still used"), generation=1, now="t1")
    assert [c["type"] for c in got] == ["Ready", "Synced"]
    assert got[0] == {
        "type": "Ready",
        "status": "False",
        "reason": "InUse",
        "message": "still used",
        "lastTransitionTime": "t1",
        "observedGeneration": 1,
    }
    assert got[1] == previous[1]
    assert set_condition(got, Condition("Ready", False, "InUse", "still used"), generation=1, now="t2") == got


@pytest.mark.parametrize("problem", [core.Problem.MALFORMED_RESPONSE, core.Problem.TRANSIENT])
def test_a_problem_before_anything_was_observed_is_the_ready_reason(problem: core_status.Problem) -> None:
    """Not "waiting for the first reconcile" for ever: Ready says what stands in the way."""
    first = core.status_for(core.Outcome(generation=1, now=NOW, problem=problem, message="why 1"), {})
    ready = find(first["conditions"], "Ready") or {}
    assert (ready["status"], ready["reason"], ready["message"]) == ("False", problem.value, "why 1")
    assert (find(first["conditions"], "Reconciling") or {})["reason"] == problem.value
    later = core.status_for(core.Outcome(generation=1, now=NOW, problem=problem, message="why 2"), first)
    assert (find(later["conditions"], "Ready") or {})["message"] == "why 2"
    # once Blaxel's verdict is known, a passing problem leaves it (Synced says what went wrong)
    seen = core.status_for(
        core.Outcome(
            generation=1, now=NOW, remote=agent_obj("BUILDING"), remote_known=True, applied_hash="h"
        ),
        {},
    )
    kept = core.status_for(core.Outcome(generation=1, now=NOW, problem=problem, message="why 3"), seen)
    assert types(kept)["Ready"] == ("False", "Deploying")


def test_what_blaxel_says_is_cut_before_it_reaches_the_status() -> None:
    """A 5 MB event message (a build log), a huge status string or URL: the status stays small."""
    huge = "y" * (5 * 1024 * 1024)
    events = [{"type": "deployment", "status": "FAILED", "message": huge, "time": "2026-11-29T11:00:00Z"}]
    remote = agent_obj("FAILED", events)
    remote["metadata"]["url"] = "https://run/" + huge
    failed = core.status_for(core.Outcome(generation=1, now=NOW, remote=remote, remote_known=True), {})
    assert len(json.dumps(failed)) < 8_000
    event = failed["atProvider"]["events"][0]
    assert event["message"].startswith("yyy") and event["message"].endswith(
        f"({len(huge)} characters in all)"
    )
    assert len(event["message"]) == core_status.EVENT_MESSAGE_MAX
    assert len(failed["atProvider"]["url"]) == core_status.AT_PROVIDER_TEXT_MAX
    ready = find(failed["conditions"], "Ready") or {}
    assert ready["reason"] == "DeployFailed" and len(ready["message"]) == core_status.CONDITION_MESSAGE_MAX
    odd = core.status_for(
        core.Outcome(generation=1, now=NOW, remote=agent_obj("Z" * 100_000), remote_known=True), {}
    )
    assert len(json.dumps(odd)) < 8_000
    # short texts are kept as they are, unicode included
    assert core_status.bounded("ünï 😀", 10) == "ünï 😀"


def _phase(remote_status: str, previous: dict[str, Any], seconds: int = 0, **kw: Any) -> dict[str, Any]:
    events = [{"type": "deployment", "status": remote_status, "time": "2026-11-29T12:00:00Z"}]
    outcome = core.Outcome(
        generation=kw.pop("generation", 1),
        now=NOW + timedelta(seconds=seconds),
        remote=agent_obj(remote_status, events),
        remote_known=True,
        applied_hash=kw.pop("applied_hash", "h"),
        **kw,
    )
    return core.status_for(outcome, previous)


UPLOADING = _phase("UPLOADING", {}, applied_now=True)
BUILDING = _phase("BUILDING", UPLOADING, 1)


@pytest.mark.parametrize(
    ("case", "previous", "new", "since_write", "interval", "due"),
    [
        ("unchanged", UPLOADING, UPLOADING, None, 10.0, False),
        ("unchanged, long after", UPLOADING, UPLOADING, 99.0, 10.0, False),
        ("progress, shown lately", UPLOADING, BUILDING, 1.0, 10.0, False),
        ("progress, shown long ago", UPLOADING, BUILDING, 10.0, 10.0, True),
        ("progress, not written by this process", UPLOADING, BUILDING, None, 10.0, True),
        ("progress, interval 0 writes every change", UPLOADING, BUILDING, 0.1, 0.0, True),
        ("Ready flips", BUILDING, _phase("DEPLOYED", BUILDING, 2), 0.1, 10.0, True),
        ("a failure", BUILDING, _phase("FAILED", BUILDING, 2), 0.1, 10.0, True),
        ("a new generation", BUILDING, _phase("BUILDING", BUILDING, 2, generation=2), 0.1, 10.0, True),
        ("a new applied hash", BUILDING, _phase("BUILDING", BUILDING, 2, applied_hash="h2"), 0.1, 10.0, True),
        (
            "Synced goes false",
            BUILDING,
            _phase("BUILDING", BUILDING, 2, problem=core.Problem.TRANSIENT, message="503"),
            0.1,
            10.0,
            True,
        ),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_when_a_new_status_is_written(
    case: str,
    previous: dict[str, Any],
    new: dict[str, Any],
    since_write: float | None,
    interval: float,
    due: bool,
) -> None:
    assert core_status.status_write_due(previous, new, since_write, interval) is due


def test_progress_differs_in_what_users_see() -> None:
    """The statuses a deferred write holds back do differ (the test above is not vacuous)."""
    assert BUILDING != UPLOADING
    assert BUILDING["atProvider"]["status"] == "BUILDING"
    assert types(BUILDING) == types(UPLOADING)
