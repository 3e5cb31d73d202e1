"""Measurements over the simulator's call log, for tests and benchmarks of a client's pacing."""

from __future__ import annotations

from collections.abc import Sequence

from .server import CallRecord


def max_in_flight(calls: Sequence[CallRecord]) -> int:
    """The most calls the simulator was serving at one time (answered calls only)."""
    done = [c for c in calls if c.status is not None]
    edges = sorted([(c.time, 1) for c in done] + [(c.time + c.duration, -1) for c in done])
    current = peak = 0
    for _, step in edges:  # at the same instant an end (-1) sorts before a start
        current += step
        peak = max(peak, current)
    return peak


def rate_violations(
    calls: Sequence[CallRecord], rate: float, burst: int, slack: float = 0.1
) -> list[tuple[int, int, float]]:
    """Windows of arrivals (i, j, seconds) holding more calls than a token bucket of `rate` per second
    and `burst` lets through. `slack` seconds are allowed per window: arrivals are not departures (a
    burst opened on fresh connections can arrive bunched up)."""
    times = sorted(c.time for c in calls)
    bad = []
    for i in range(len(times)):
        for j in range(i + 1, len(times)):
            if j - i + 1 > burst + rate * (times[j] - times[i] + slack):
                bad.append((i, j, times[j] - times[i]))
    return bad
