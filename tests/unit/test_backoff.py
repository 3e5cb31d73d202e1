"""Backoff by kind of problem (pure)."""

from __future__ import annotations

import pytest

from blaxel_operator.core.backoff import BackoffPolicy
from blaxel_operator.core.status import Problem

POLICY = BackoffPolicy()


@pytest.mark.parametrize(
    ("problem", "failures", "retry_after", "expected"),
    [
        (Problem.TRANSIENT, 1, None, 1.0),
        (Problem.TRANSIENT, 4, None, 8.0),
        (Problem.TRANSIENT, 30, None, 300.0),  # capped at 5 minutes
        (Problem.TRANSIENT, 1, 7.5, 7.5),  # Retry-After honoured
        (Problem.TRANSIENT, 1, 3600.0, 300.0),  # ... but never beyond the cap
        (Problem.TRANSIENT, 6, 2.0, 32.0),  # and never shorter than the backoff
        (Problem.UNAUTHORIZED, 1, None, 60.0),
        (Problem.UNAUTHORIZED, 10, None, 900.0),
        (Problem.SECRET_NOT_FOUND, 1, None, 5.0),
        (Problem.SECRET_NOT_FOUND, 10, None, 60.0),
    ],
)
def test_delay(problem: Problem, failures: int, retry_after: float | None, expected: float) -> None:
    assert POLICY.delay(problem, failures, retry_after) == expected
