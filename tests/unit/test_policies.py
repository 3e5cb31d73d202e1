"""The policies around a decision (observe first, pause, 409, claims, deletion), as tables."""

from __future__ import annotations

import pytest

from blaxel_operator.core import decide as core

FRESH: dict[str, object] = {}
RECONCILED = {"appliedHash": "h", "atProvider": {"name": "bot"}}
REJECTED = {"rejectedHash": "h"}


@pytest.mark.parametrize(
    ("annotations", "spec", "expected"),
    [
        ({}, {}, core.Policies()),
        ({core.PAUSED: "true"}, {}, core.Policies(paused=True)),
        ({core.PAUSED: "TRUE"}, {}, core.Policies(paused=True)),
        ({core.PAUSED: "false"}, {}, core.Policies()),
        ({core.ADOPTION_POLICY: "adopt"}, {}, core.Policies(adopt=True)),
        ({}, {"deletionPolicy": "Orphan"}, core.Policies(deletion="Orphan")),
        ({core.DELETION_POLICY: "orphan"}, {"deletionPolicy": "Delete"}, core.Policies(deletion="Orphan")),
        ({core.DELETION_POLICY: "bogus"}, {"deletionPolicy": "Orphan"}, core.Policies(deletion="Orphan")),
        ({core.RECONCILE_REQUESTED_AT: "now"}, {}, core.Policies(reconcile_requested="now")),
    ],
)
def test_policies_of(annotations: dict[str, str], spec: dict[str, str], expected: core.Policies) -> None:
    assert core.policies_of(annotations, spec) == expected


@pytest.mark.parametrize(
    ("status", "policies", "observe"),
    [
        (FRESH, core.Policies(), False),  # POST first: a 409 leads to the ownership check
        (FRESH, core.Policies(paused=True), True),
        (FRESH, core.Policies(adopt=True), True),
        (RECONCILED, core.Policies(), True),
        (REJECTED, core.Policies(), True),
    ],
)
def test_observe_first(status: dict[str, object], policies: core.Policies, observe: bool) -> None:
    assert core.observe_first(status, policies) is observe


WRITE = core.Decision(core.Action.UPDATE, write=True)


@pytest.mark.parametrize(
    ("decision", "paused", "action"),
    [
        (WRITE, False, core.Action.UPDATE),
        (WRITE, True, core.Action.PAUSED),
        (core.Decision(core.Action.NOTHING), True, core.Action.PAUSED),
        (core.Decision(core.Action.ALREADY_EXISTS), True, core.Action.ALREADY_EXISTS),
        (core.Decision(core.Action.WORKSPACE_CHANGED), True, core.Action.WORKSPACE_CHANGED),
        (core.CREATE, True, core.Action.PAUSED),
    ],
)
def test_pause_gates_writes(decision: core.Decision, paused: bool, action: core.Action) -> None:
    gated = core.gate(decision, core.Policies(paused=paused))
    assert gated.action is action
    assert not (paused and gated.write)


@pytest.mark.parametrize(
    ("redecided", "result"),
    [
        (core.Decision(core.Action.NOTHING), core.Action.NOTHING),  # our own POST before a crash
        (core.Decision(core.Action.ALREADY_EXISTS), core.Action.ALREADY_EXISTS),
        (core.Decision(core.Action.UPDATE, write=True), core.Action.UPDATE),
        (core.CREATE, None),  # gone again: retry later, never "make another"
        (core.Decision(core.Action.RECREATE, write=True), None),
    ],
)
def test_after_conflict(redecided: core.Decision, result: core.Action | None) -> None:
    after = core.after_conflict(redecided)
    assert (after.action if after else None) is result


def test_claims() -> None:
    assert core.claim_conflict(None, "ns/a", "agent", "bot") is None
    assert core.claim_conflict("ns/a", "ns/a", "agent", "bot") is None
    other = core.claim_conflict("ns/a", "ns/b", "agent", "bot")
    assert other is not None and other.action is core.Action.CLAIMED and "ns/a" in other.message


@pytest.mark.parametrize(
    ("policies", "action"),
    [
        (core.Policies(), None),
        (core.Policies(deletion="Orphan"), core.DeleteAction.ORPHAN),
        (core.Policies(paused=True), core.DeleteAction.HOLD),
        (core.Policies(paused=True, deletion="Orphan"), core.DeleteAction.ORPHAN),  # the way out
    ],
)
def test_deletion_policies(policies: core.Policies, action: core.DeleteAction | None) -> None:
    assert core.decide_delete_policy(policies) is action


def test_deleted_once_requested_is_done_not_released() -> None:
    owner = core.owner_labels("c", "ns", "n")
    assert (
        core.decide_delete(None, owner=owner, adopted=False, delete_requested=True) is core.DeleteAction.DONE
    )
    assert core.decide_delete(None, owner=owner, adopted=False) is core.DeleteAction.RELEASE


def test_rejection_keeps_blaxels_words() -> None:
    rejected = core.Decision(core.Action.REJECTED, message="generic")
    assert core.with_rejection_message(rejected, "bad region").message == "bad region"
    assert core.with_rejection_message(rejected, None).message == "generic"
    assert core.with_rejection_message(WRITE, "bad region") is WRITE
