"""When to look at a resource next. Pure: the caller passes the clock and draws the randomness."""

from __future__ import annotations

from dataclasses import dataclass

from .backoff import BackoffPolicy
from .readiness import Phase
from .status import Problem

TRANSITIONAL_PATIENCE = 300.0  # after this long in one in-progress status, poll it less often
STUCK_POLL = 60.0


@dataclass(frozen=True)
class Intervals:
    poll: float = 600.0  # settled objects
    deploy_poll: float = 5.0  # objects Blaxel is working on


@dataclass(slots=True)
class Pacing:
    """Per-object scheduling memory (mutable; lives with the object's in-memory state)."""

    failures: int = 0
    transitional: str | None = None  # the in-progress remote status seen last, and since when
    transitional_since: float = 0.0
    in_rhythm: bool = False  # settled and polled once per interval since


@dataclass(frozen=True)
class Next:
    delay: float
    settled: bool  # nothing in progress: the object can be observed with its workspace's list pages
    # Blaxel is working on it (or it was just written) and the next look only observes it: when many
    # are in progress in one workspace, list pages can serve them too
    in_progress: bool = False
    # a status held back (progress shown lately) is due in this many seconds: the object is looked at
    # again by then even if list pages show no change
    status_due: float | None = None


def next_delay(
    pacing: Pacing,
    *,
    intervals: Intervals,
    backoff: BackoffPolicy,
    problem: Problem | None,
    phase: Phase | None,
    remote_status: str | None,
    applied_now: bool,
    now: float,
    retry_after: float | None,
    jitter: float,
    spread: float,
) -> Next:
    """`jitter` in [0.8, 1.2] scales backoff; `spread` in [0.5, 1.0] places the first settled poll."""
    if problem is not None and problem.retried:
        pacing.failures += 1
        pacing.in_rhythm = False
        return Next(backoff.delay(problem, pacing.failures, retry_after, jitter=jitter), settled=False)
    pacing.failures = 0
    if problem is Problem.ALREADY_EXISTS:
        # The remote name is another resource's (or another owner's): the list sweeps observe that
        # name for its owner, this one is looked at alone, once per interval.
        pacing.in_rhythm = False
        return Next(intervals.poll, settled=False)
    if phase is not None and not phase.settled:
        pacing.in_rhythm = False
        if pacing.transitional != remote_status:
            pacing.transitional, pacing.transitional_since = remote_status, now
        if now - pacing.transitional_since > TRANSITIONAL_PATIENCE:
            # stuck for long in one status (or one this version does not know): slow down
            return Next(min(intervals.poll, max(intervals.deploy_poll, STUCK_POLL)), settled=False)
        return Next(intervals.deploy_poll, settled=False, in_progress=True)
    pacing.transitional = None
    if applied_now:
        pacing.in_rhythm = False
        return Next(intervals.deploy_poll, settled=False, in_progress=True)
    # Settled: the first poll comes at a random point of the interval, the next ones one interval
    # apart. Thousands of objects never poll in step, none waits longer than one interval.
    if pacing.in_rhythm:
        return Next(intervals.poll, settled=True)
    pacing.in_rhythm = True
    return Next(intervals.poll * spread, settled=True)
