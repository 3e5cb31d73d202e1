"""Typed Blaxel API errors. Messages come from the API body, never from request headers."""

from __future__ import annotations

from collections.abc import Sequence


class BlaxelError(Exception):
    """Any failed Blaxel API call, with the server's retry hints when it gave any.

    `retry_after`: seconds the server asked to wait (Retry-After-Ms / Retry-After headers, else a
    retry-after field of the error body). `retryable`: the class's default, replaced by the error body's
    `retryable` when it has one. `should_retry`: the `x-should-retry` header (None when absent), which
    overrides every other hint. `code`: Blaxel's error code (e.g. `invalid_api_version`, `WORKLOAD_UNAVAILABLE`).
    """

    retryable = True

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        method: str = "",
        path: str = "",
        retry_after: float | None = None,
        retryable: bool | None = None,
        should_retry: bool | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.method = method
        self.path = path
        self.retry_after = retry_after
        if retryable is not None:
            self.retryable = retryable
        self.should_retry = should_retry
        self.code = code

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
    """429."""


class ServerError(BlaxelError):
    pass


class TransportError(BlaxelError):
    """No HTTP answer: timeout, connection refused or reset."""


class MalformedResponse(BlaxelError):
    """Blaxel answered something that is not the object it documents (wrong types, missing fields, not
    JSON at all).

    Never a reason to write: reported and retried with backoff."""


class MalformedWriteAnswer(MalformedResponse):
    """Blaxel accepted a write (a 2xx answer carrying a JSON object) but the object it answered is
    malformed: the write happened, what it made is unknown until a later observation. Writing again
    would only redeploy."""


class UnsupportedApiVersion(BlaxelError):
    """400 invalid_api_version: Blaxel does not know the Blaxel-Version we send (BL_API_VERSION)."""

    retryable = False


LISTED_WORKSPACES = 10  # named in the message; a status condition stays short


class WorkspaceUnresolved(BlaxelError):
    """No workspace named, and the API key's workspaces do not make one obvious (none, or several)."""

    retryable = False

    def __init__(self, workspaces: Sequence[str], *, more: bool = False) -> None:
        self.workspaces = tuple(workspaces)
        if not self.workspaces:
            message = "the API key lists no Blaxel workspace: name the workspace to use"
        else:
            count = f"{len(self.workspaces)}{' or more' if more else ''}"
            shown = self.workspaces[:LISTED_WORKSPACES]
            listed = ", ".join(shown) + (", ..." if more or len(shown) < len(self.workspaces) else "")
            message = (
                f"the API key has access to {count} Blaxel workspaces ({listed}) and none is named: "
                "name the one to use"
            )
        super().__init__(message)
