"""The one HTTP client toward Blaxel: pooled, rate limited, with typed errors and no secret in any text.

`BlaxelApi` speaks HTTP; `ExternalClient` is the Crossplane-style external client for one kind
(observe / create / update / delete), which the reconciler uses.
"""

from __future__ import annotations

import asyncio
import email.utils
import heapq
import itertools
import logging
import random
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from .. import __version__
from ..metrics import API_LATENCY, API_REQUESTS, API_RETRIES, READINESS
from .errors import (
    BlaxelError,
    Conflict,
    Invalid,
    MalformedResponse,
    NotFound,
    RateLimited,
    ServerError,
    TransportError,
    Unauthorized,
)
from .remote import validated

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.blaxel.ai/v0"
# Pinned so that list responses keep one shape ({data, meta} with cursors) whatever Blaxel's default is.
API_VERSION = "2026-04-28"
IDEMPOTENT = {"GET", "PUT", "DELETE"}


@dataclass(frozen=True)
class Credentials:
    api_key: str
    workspace: str | None = None

    def __repr__(self) -> str:  # never print the key
        return f"Credentials(api_key=<redacted>, workspace={self.workspace!r})"

    __str__ = __repr__


class TokenBucket:
    """Requests per second with a burst; `acquire` waits for a token."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.capacity = max(1, burst)
        self.tokens = float(self.capacity)
        self.updated = time.monotonic()
        self.lock = asyncio.Lock()

    async def acquire(self) -> None:
        if self.rate <= 0:
            return
        async with self.lock:
            while True:
                now = time.monotonic()
                self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
                self.updated = now
                if self.tokens >= 1:
                    self.tokens -= 1
                    return
                await asyncio.sleep((1 - self.tokens) / self.rate)


class PrioritySlots:
    """At most `size` holders at once; waiting writes go before waiting reads.

    A write usually completes a reconcile (POST, PUT) while a read starts or polls one: serving writes
    first converges a burst of new resources sooner than first come, first served.
    """

    def __init__(self, size: int) -> None:
        self.free = max(1, size)
        self.waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self.seq = itertools.count()

    async def acquire(self, priority: int) -> None:
        if self.free > 0 and not self.waiters:
            self.free -= 1
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self.waiters, (priority, next(self.seq), future))
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.release()  # handed the slot just as we were cancelled: pass it on
            raise

    def release(self) -> None:
        while self.waiters:
            _, _, future = heapq.heappop(self.waiters)
            if not future.done():
                future.set_result(None)
                return
        self.free += 1


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from `Retry-After-Ms`, else `Retry-After` (seconds or an HTTP date)."""
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _error_text(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        text = response.text.strip()
        return text[:300] or response.reason_phrase
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict):  # edge error shape
            return str(err.get("message") or err.get("code") or response.reason_phrase)[:500]
        message = body.get("message")
        if message and err and str(message) != str(err):
            return f"{err}: {message}"[:500]
        return str(message or err or response.reason_phrase)[:500]
    return response.reason_phrase


def error_for(response: httpx.Response, method: str, path: str) -> BlaxelError:
    status = response.status_code
    text = _error_text(response)
    kw: dict[str, Any] = {"status": status, "method": method, "path": path}
    if status == 404:
        return NotFound(text, **kw)
    if status == 409:
        return Conflict(text, **kw)
    if status in (400, 422):
        return Invalid(text, **kw)
    if status in (401, 403):
        return Unauthorized(text, **kw)
    if status == 429:
        return RateLimited(text, retry_after=parse_retry_after(response.headers), **kw)
    if status == 408 or status >= 500:
        return ServerError(text, **kw)
    return BlaxelError(text, **kw)


class BlaxelApi:
    """One pooled httpx client for all resources and credentials."""

    def __init__(
        self,
        base_url: str = DEFAULT_API_URL,
        *,
        timeout: float = 30.0,
        max_inflight: int = 10,
        rate: float = 10.0,
        burst: int = 20,
        inline_retries: int = 2,
        api_version: str = API_VERSION,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.inflight = PrioritySlots(max_inflight)
        self.bucket = TokenBucket(rate, burst)
        self.inline_retries = inline_retries
        self.api_version = api_version
        self.http = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=httpx.Timeout(timeout, connect=min(10.0, timeout)),
            limits=httpx.Limits(max_connections=max(1, max_inflight), max_keepalive_connections=max_inflight),
            headers={"User-Agent": f"blaxel-operator/{__version__}", "Blaxel-Version": api_version},
        )

    async def close(self) -> None:
        await self.http.aclose()

    async def request(
        self,
        method: str,
        path: str,
        creds: Credentials,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
    ) -> Any:
        """One API call; idempotent calls are retried a couple of times on transient faults."""
        attempt = 0
        while True:
            try:
                return await self._once(method, path, creds, json=json, params=params)
            except (ServerError, TransportError, RateLimited) as exc:
                if method not in IDEMPOTENT or attempt >= self.inline_retries:
                    raise
                delay = min(8.0, 0.5 * 2**attempt) * random.uniform(0.5, 1.0)
                if isinstance(exc, RateLimited) and exc.retry_after is not None:
                    if exc.retry_after > 10:
                        raise  # long waits belong to the reconciler's backoff, not to a held request
                    delay = exc.retry_after
                attempt += 1
                API_RETRIES.labels(type(exc).__name__).inc()
                log.debug("retrying %s %s in %.2fs after %s", method, path, delay, type(exc).__name__)
                await asyncio.sleep(delay)

    async def _once(
        self,
        method: str,
        path: str,
        creds: Credentials,
        *,
        json: Any,
        params: Mapping[str, Any] | None,
    ) -> Any:
        headers = {"Authorization": f"Bearer {creds.api_key}"}
        if creds.workspace:
            headers["X-Blaxel-Workspace"] = creds.workspace
        await self.bucket.acquire()
        await self.inflight.acquire(1 if method == "GET" else 0)
        try:
            started = time.monotonic()
            try:
                response = await self.http.request(method, path, headers=headers, json=json, params=params)
            except httpx.TimeoutException as exc:
                API_REQUESTS.labels(method, "timeout").inc()
                raise TransportError(f"timed out ({type(exc).__name__})", method=method, path=path) from None
            except httpx.TransportError as exc:
                API_REQUESTS.labels(method, "error").inc()
                raise TransportError(
                    f"connection failed ({type(exc).__name__})", method=method, path=path
                ) from None
            finally:
                API_LATENCY.labels(method).observe(time.monotonic() - started)
        finally:
            self.inflight.release()
        API_REQUESTS.labels(method, str(response.status_code)).inc()
        if response.status_code < 500:
            READINESS.mark()
        if response.status_code >= 400:
            raise error_for(response, method, path)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise ServerError(
                "the response is not JSON", status=response.status_code, method=method, path=path
            ) from None

    async def list_pages(
        self, collection: str, creds: Credentials, *, query: str | None = None, limit: int = 200
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """All objects of a collection, page by page (cursor paging)."""
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"limit": limit}
            if cursor:
                params["cursor"] = cursor
            if query:
                params["q"] = query
            body = await self.request("GET", f"/{collection}", creds, params=params)
            if isinstance(body, list):  # an API version without paging: everything at once
                yield [o for o in body if isinstance(o, dict)]
                return
            data = [o for o in (body or {}).get("data") or [] if isinstance(o, dict)]
            yield data
            meta = (body or {}).get("meta") or {}
            cursor = meta.get("nextCursor")
            if not meta.get("hasMore") or not cursor:
                return


class ExternalClient:
    """observe / create / update / delete for one Blaxel kind (e.g. agents)."""

    def __init__(self, api: BlaxelApi, collection: str) -> None:
        self.api = api
        self.collection = collection

    def _path(self, name: str) -> str:
        return f"/{self.collection}/{quote(name, safe='')}"

    async def observe(
        self, creds: Credentials, name: str, *, show_secrets: bool = False
    ) -> dict[str, Any] | None:
        """The remote object, or None when it does not exist. `show_secrets` asks for the real secret
        values (workspace admins only: a 403 is raised as Unauthorized)."""
        path = self._path(name)
        params = {"show_secrets": "true"} if show_secrets else None
        try:
            body = await self.api.request("GET", path, creds, params=params)
        except NotFound:
            return None
        return validated(body, method="GET", path=path)

    async def create(self, creds: Credentials, payload: Mapping[str, Any]) -> dict[str, Any]:
        path = f"/{self.collection}"
        return validated(await self.api.request("POST", path, creds, json=payload), method="POST", path=path)

    async def update(self, creds: Credentials, name: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        path = self._path(name)
        return validated(await self.api.request("PUT", path, creds, json=payload), method="PUT", path=path)

    async def delete(self, creds: Credentials, name: str) -> dict[str, Any] | None:
        """Returns the object (e.g. in DELETING) or None when it was already gone (or the answer has no
        body: the deletion was accepted)."""
        path = self._path(name)
        try:
            body = await self.api.request("DELETE", path, creds)
        except NotFound:
            return None
        return validated(body, method="DELETE", path=path) if body else None

    async def list_pages(self, creds: Credentials) -> AsyncIterator[list[dict[str, Any]]]:
        """Every object of the collection, a page at a time; malformed items are left out."""
        async for page in self.api.list_pages(self.collection, creds):
            kept = []
            for item in page:
                try:
                    kept.append(validated(item, method="GET", path=f"/{self.collection}"))
                except MalformedResponse:
                    continue  # observed alone later, where the error is reported on its resource
            yield kept
