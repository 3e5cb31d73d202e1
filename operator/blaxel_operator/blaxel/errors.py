"""Typed Blaxel API errors. Messages come from the API body, never from request headers."""

from __future__ import annotations


class BlaxelError(Exception):
    """Any failed Blaxel API call."""

    retryable = True

    def __init__(self, message: str, *, status: int | None = None, method: str = "", path: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.method = method
        self.path = path

    def __str__(self) -> str:
        where = f"{self.method} {self.path}".strip()
        code = f" {self.status}" if self.status else ""
        return f"{where}:{code} {self.message}" if where else self.message


class NotFound(BlaxelError):
    retryable = False


class Conflict(BlaxelError):
    retryable = False


class Invalid(BlaxelError):
    """400/422: the request is wrong; retrying the same request cannot help."""

    retryable = False


class Unauthorized(BlaxelError):
    """401/403: wrong key or a workspace the key does not belong to."""

    retryable = False


class RateLimited(BlaxelError):
    def __init__(self, message: str, *, retry_after: float | None, **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.retry_after = retry_after


class ServerError(BlaxelError):
    pass


class TransportError(BlaxelError):
    """No HTTP answer: timeout, connection refused or reset."""


class MalformedResponse(BlaxelError):
    """Blaxel answered something that is not the object it documents (wrong types, missing fields).

    Never a reason to write: reported and retried with backoff."""
