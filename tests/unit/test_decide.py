"""The decision table: what to do given desired, remote and our last status (no server)."""

from __future__ import annotations

from typing import Any

import pytest

from blaxel_operator.core import decide as core
from blaxel_operator.kinds import agent

OWNER = core.owner_labels("c1", "ns", "res")
OTHER = core.owner_labels("c1", "other-ns", "res")


def desired(spec: dict[str, Any] | None = None, has_secrets: bool = False) -> core.Desired:
    parsed = agent.parse_spec(spec or {"runtime": {"memory": 2048}})
    payload = agent.build_payload(parsed, "res", {}, OWNER)
    return core.make_desired("res", payload, agent.comparable_desired(payload), has_secrets)


def remote(labels: dict[str, str] | None, memory: int = 2048, status: str = "DEPLOYED") -> dict[str, Any]:
    return {
        "metadata": {"name": "res", "labels": labels or {}},
        "spec": {"runtime": {"memory": memory}},
        "status": status,
    }


def decide(
    d: core.Desired,
    r: dict[str, Any] | None,
    status: dict[str, Any],
    adopt: bool = False,
    workspace: str | None = None,
    retry_rejected: bool = False,
    secrets_match: bool = False,
) -> core.Decision:
    observed = agent.comparable_observed(r, d.payload) if r is not None else None
    deleting = r is not None and agent.readiness(r, d.payload).phase.value == "deleting"
    return core.decide(
        d,
        r,
        owner=OWNER,
        status=status,
        adopt=adopt,
        comparable_observed=observed,
        workspace=workspace,
        retry_rejected=retry_rejected,
        deleting=deleting,
        secrets_match=secrets_match,
    )


D = desired()
APPLIED = {"appliedHash": D.hash, "atProvider": {"name": "res"}}


@pytest.mark.parametrize(
    ("case", "r", "status", "adopt", "action", "write"),
    [
        ("new resource", None, {}, False, core.Action.CREATE, True),
        ("deleted outside Kubernetes", None, APPLIED, False, core.Action.RECREATE, True),
        ("up to date", remote(OWNER), APPLIED, False, core.Action.NOTHING, False),
        ("crash after POST, no secrets", remote(OWNER), {}, False, core.Action.NOTHING, False),
        ("spec changed", remote(OWNER), {"appliedHash": "sha256:old"}, False, core.Action.UPDATE, True),
        ("drift", remote(OWNER, memory=4096), APPLIED, False, core.Action.CORRECT_DRIFT, True),
        ("unowned, no adoption", remote(None), {}, False, core.Action.ALREADY_EXISTS, False),
        ("owned by another resource", remote(OTHER), {}, True, core.Action.ALREADY_EXISTS, False),
        ("adopt identical", remote(None), {}, True, core.Action.ADOPT, False),
        ("adopt different", remote(None, memory=512), {}, True, core.Action.ADOPT, True),
        ("remote deleting", remote(OWNER, status="DELETING"), APPLIED, False, core.Action.WAIT, False),
        ("rejected before", remote(OWNER), {"rejectedHash": D.hash}, False, core.Action.REJECTED, False),
        ("unknown status", remote(OWNER, status="HIBERNATING"), APPLIED, False, core.Action.NOTHING, False),
    ],
)
def test_decide(
    case: str, r: dict[str, Any] | None, status: dict[str, Any], adopt: bool, action: core.Action, write: bool
) -> None:
    decision = decide(D, r, status, adopt)
    assert (decision.action, decision.write) == (action, write), case


def test_adopted_without_write_stays_ours_without_the_annotation() -> None:
    first = decide(D, remote(None), {}, adopt=True)
    assert (first.action, first.write, first.first_adoption) == (core.Action.ADOPT, False, True)
    later = decide(D, remote(None), APPLIED, adopt=False)
    assert (later.action, later.write, later.first_adoption) == (core.Action.ADOPT, False, False)


def test_switched_off_outside_kubernetes_is_drift() -> None:
    off = remote(OWNER)
    off["spec"]["enabled"] = False
    assert decide(D, off, APPLIED).drift == ["spec.enabled"]


def test_workspace_change_never_recreates_elsewhere() -> None:
    status = {**APPLIED, "atProvider": {"name": "res", "workspace": "old"}}
    assert decide(D, None, status, workspace="new").action is core.Action.WORKSPACE_CHANGED
    assert decide(D, remote(OWNER), status, workspace="old").action is core.Action.NOTHING


def test_reconcile_request_retries_a_rejected_spec() -> None:
    assert decide(D, None, {"rejectedHash": D.hash}, retry_rejected=True).action is core.Action.CREATE


def test_terminated_agent_is_deleted_not_waited_for() -> None:
    assert core.decide_delete(remote(OWNER, status="TERMINATED"), owner=OWNER, adopted=False) is (
        core.DeleteAction.DELETE
    )


def test_drift_names_fields() -> None:
    assert decide(D, remote(OWNER, memory=4096), APPLIED).drift == ["spec.runtime.memory"]


def test_secrets_without_applied_hash_force_an_update() -> None:
    d = desired(has_secrets=True)
    assert decide(d, remote(OWNER), {}).action is core.Action.UPDATE


S = desired(has_secrets=True)
S_APPLIED = {"appliedHash": S.hash, "atProvider": {"name": "res"}}


@pytest.mark.parametrize(
    ("case", "r", "status", "adopt", "action", "write", "only_secrets"),
    [
        # only the (masked) secret values are unknown: a show_secrets read may spare the write
        ("adopt, secrets unknown", remote(None), {}, True, core.Action.ADOPT, True, True),
        ("crash after POST", remote(OWNER), {}, False, core.Action.UPDATE, True, True),
        # something else is due anyway: no read
        ("adopt with drift", remote(None, memory=512), {}, True, core.Action.ADOPT, True, False),
        (
            "spec or Secret changed",
            remote(OWNER),
            {"appliedHash": "h:old"},
            False,
            core.Action.UPDATE,
            True,
            False,
        ),
        # the status's hash (which covers the values) says Blaxel has them: no write, no read, every poll
        ("adopted after a comparison", remote(None), S_APPLIED, False, core.Action.ADOPT, False, False),
        ("written before", remote(OWNER), S_APPLIED, False, core.Action.NOTHING, False, False),
    ],
)
def test_when_secret_values_are_unknown(
    case: str,
    r: dict[str, Any],
    status: dict[str, Any],
    adopt: bool,
    action: core.Action,
    write: bool,
    only_secrets: bool,
) -> None:
    decision = decide(S, r, status, adopt)
    assert (decision.action, decision.write, decision.secrets_unknown_only) == (
        action,
        write,
        only_secrets,
    ), case


def test_secret_values_read_and_equal_settle_an_adoption_without_a_write() -> None:
    decision = decide(S, remote(None), {}, adopt=True, secrets_match=True)
    assert (decision.action, decision.write, decision.first_adoption) == (core.Action.ADOPT, False, True)
    assert decide(S, remote(OWNER), {}, secrets_match=True).action is core.Action.NOTHING


@pytest.mark.parametrize(
    ("r", "adopted", "action"),
    [
        (None, False, core.DeleteAction.RELEASE),
        (remote(OWNER), False, core.DeleteAction.DELETE),
        (remote(OWNER, status="DELETING"), False, core.DeleteAction.WAIT),
        (remote(OTHER), False, core.DeleteAction.RELEASE),
        (remote(None), False, core.DeleteAction.RELEASE),
        (remote(None), True, core.DeleteAction.DELETE),
    ],
)
def test_decide_delete(r: dict[str, Any] | None, adopted: bool, action: core.DeleteAction) -> None:
    deleting = r is not None and agent.readiness(r, {}).phase.value == "deleting"
    assert core.decide_delete(r, owner=OWNER, adopted=adopted, deleting=deleting) is action
