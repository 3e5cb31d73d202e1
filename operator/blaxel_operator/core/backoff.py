"""How long to wait before the next try, by kind of problem. Pure: the caller draws the jitter."""

from __future__ import annotations

from dataclasses import dataclass

from .status import Problem


@dataclass(frozen=True)
class BackoffPolicy:
    base: float = 1.0  # first retry after a transient error (5xx, timeout, reset, 429 without a hint)
    cap: float = 300.0  # transient errors: exponential, capped at 5 minutes
    unauthorized_base: float = 60.0  # wrong key: slow, a human has to act
    unauthorized_cap: float = 900.0
    secret_base: float = 5.0  # missing Secret: often created moments later (e.g. by external-secrets)
    secret_cap: float = 60.0

    def delay(
        self, problem: Problem, failures: int, retry_after: float | None = None, *, jitter: float = 1.0
    ) -> float:
        """Delay after the `failures`-th consecutive failure (1-based), scaled by `jitter`, never
        beyond the cap and never before the server's Retry-After."""
        n = max(0, failures - 1)
        if problem is Problem.UNAUTHORIZED:
            return min(self.unauthorized_cap, self.unauthorized_base * 2**n * jitter)
        if problem is Problem.SECRET_NOT_FOUND:
            return min(self.secret_cap, self.secret_base * 2**n * jitter)
        delay = min(self.cap, self.base * 2**n * jitter)
        if retry_after is not None:
            delay = max(delay, min(self.cap, retry_after))
        return delay
