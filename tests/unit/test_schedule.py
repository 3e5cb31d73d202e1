"""When an object is looked at next (pure)."""

from __future__ import annotations

import pytest

from blaxel_operator.core.backoff import BackoffPolicy
from blaxel_operator.core.readiness import Phase
from blaxel_operator.core.schedule import TRANSITIONAL_PATIENCE, Intervals, Pacing, next_delay
from blaxel_operator.core.status import Problem

INTERVALS = Intervals(poll=600.0, deploy_poll=5.0)
BACKOFF = BackoffPolicy(base=1.0, cap=300.0)


def step(pacing: Pacing, **kw: object) -> tuple[float, bool]:
    args: dict[str, object] = {
        "problem": None,
        "phase": Phase.READY,
        "remote_status": "DEPLOYED",
        "applied_now": False,
        "now": 0.0,
        "retry_after": None,
        "jitter": 1.0,
        "spread": 0.5,
        **kw,
    }
    nxt = next_delay(pacing, intervals=INTERVALS, backoff=BACKOFF, **args)  # type: ignore[arg-type]
    return nxt.delay, nxt.settled


def test_settled_first_poll_is_spread_then_one_interval_apart() -> None:
    pacing = Pacing()
    assert step(pacing, spread=0.7) == (420.0, True)
    assert step(pacing, spread=0.7) == (600.0, True)


@pytest.mark.parametrize("status", ["BUILDING", "A_STATUS_THIS_VERSION_DOES_NOT_KNOW"])
def test_deploying_polls_fast_then_slows_down_when_stuck(status: str) -> None:
    pacing = Pacing()
    assert step(pacing, phase=Phase.PROGRESSING, remote_status=status, now=0.0) == (5.0, False)
    later = TRANSITIONAL_PATIENCE + 1
    assert step(pacing, phase=Phase.PROGRESSING, remote_status=status, now=later) == (60.0, False)
    # a new status restarts the patience
    assert step(pacing, phase=Phase.PROGRESSING, remote_status="DEPLOYING", now=later) == (5.0, False)


def test_just_written_polls_fast() -> None:
    assert step(Pacing(), applied_now=True) == (5.0, False)


@pytest.mark.parametrize("problem", [Problem.TRANSIENT, Problem.MALFORMED_RESPONSE])
def test_transient_problems_back_off_exponentially(problem: Problem) -> None:
    pacing = Pacing()
    delays = [step(pacing, problem=problem)[0] for _ in range(4)]
    assert delays == [1.0, 2.0, 4.0, 8.0]
    assert step(pacing)[0] == 300.0  # success resets (spread 0.5 of 600)
    assert pacing.failures == 0


def test_retry_after_is_honoured() -> None:
    assert step(Pacing(), problem=Problem.TRANSIENT, retry_after=42.0)[0] == 42.0


@pytest.mark.parametrize("problem", [Problem.INVALID_SPEC, Problem.ALREADY_EXISTS, Problem.PAUSED])
def test_problems_that_wait_for_a_change_are_not_retried(problem: Problem) -> None:
    pacing = Pacing()
    step(pacing, problem=problem)
    assert pacing.failures == 0


@pytest.mark.parametrize("phase", [Phase.READY, Phase.PROGRESSING, None])
def test_a_remote_name_owned_by_another_is_never_swept_for_this_object(phase: Phase | None) -> None:
    """A list sweep follows each remote name for one object: its owner. A resource refused because the
    name belongs to another must not take the owner's place in the sweep (the owner would go unobserved)."""
    assert step(Pacing(), problem=Problem.ALREADY_EXISTS, phase=phase) == (600.0, False)
