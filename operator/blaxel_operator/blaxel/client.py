"""The one HTTP client toward Blaxel: pooled, rate limited, with typed errors and no secret in any text.

`BlaxelApi` speaks HTTP; `ExternalClient` is the Crossplane-style external client for one kind
(observe / create / update / delete), which the reconciler uses.
"""

from __future__ import annotations

import asyncio
import email.utils
import hashlib
import heapq
import itertools
import json as jsonlib
import logging
import random
import time
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote

import aiohttp
from yarl import URL

from .. import __version__
from ..metrics import API_LATENCY, API_REQUESTS, API_RETRIES, READINESS
from .errors import (
    BlaxelError,
    Conflict,
    Invalid,
    MalformedResponse,
    MalformedWriteAnswer,
    NotFound,
    RateLimited,
    ServerError,
    TransportError,
    Unauthorized,
    UnsupportedApiVersion,
    WorkspaceUnresolved,
)
from .remote import validated

log = logging.getLogger(__name__)

# Blaxel's environments (BL_ENV), as its SDKs map them.
API_URLS = {"prod": "https://api.blaxel.ai/v0", "dev": "https://api.blaxel.dev/v0"}
DEFAULT_API_URL = API_URLS["prod"]
# Pinned so that list responses keep one shape ({data, meta} with cursors) whatever Blaxel's default is.
API_VERSION = "2026-04-28"
IDEMPOTENT = {"GET", "PUT", "DELETE"}
# Answers that mean the request was turned away before it was processed: safe to repeat even a POST.
NOT_PROCESSED = {429, 503}
# A longer Retry-After is left to the reconciler's backoff rather than held in a request.
MAX_INLINE_WAIT = 10.0
# The one call made without a workspace: the listing of the key's workspaces.
WORKSPACES_PATH = "/workspaces"
# How long "this key's workspace cannot be resolved" is remembered (a burst of resources asks once).
UNRESOLVED_TTL = 60.0


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


def _parse_http_date(value: str) -> float | None:
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - time.time())


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
        return _parse_http_date(value)


def parse_should_retry(headers: Mapping[str, str]) -> bool | None:
    """Blaxel's `x-should-retry: true|false` (None when absent or anything else)."""
    value = (headers.get("x-should-retry") or "").strip().lower()
    return True if value == "true" else False if value == "false" else None


# Where Blaxel's Python SDK looks for a retry delay in an error body (seconds or an HTTP date).
BODY_RETRY_AFTER_KEYS = ("retry_after", "retryAfter", "retry_after_seconds")


@dataclass(frozen=True)
class BodyHints:
    """What an error body says beyond its text: Blaxel's code and retry hints."""

    code: str | None = None
    retryable: bool | None = None
    retry_after: float | None = None


def _body_retry_after(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return max(0.0, float(value))
    if isinstance(value, str):
        try:
            return max(0.0, float(value.strip()))
        except ValueError:
            return _parse_http_date(value.strip())
    return None


def body_hints(body: Any) -> BodyHints:
    """Hints of the API's `{"error": "code", "code": 404, "message"}` and of the edge's
    `{"error": {"code", "message", "retryable", ...}}`: the nested object first, then the top level."""
    if not isinstance(body, dict):
        return BodyHints()
    nested = body.get("error")
    code = nested if isinstance(nested, str) and nested else None
    sources = [nested, body] if isinstance(nested, dict) else [body]
    retryable: bool | None = None
    retry_after: float | None = None
    for source in sources:
        if code is None and isinstance(source.get("code"), str) and source["code"]:
            code = source["code"]
        if retryable is None and isinstance(source.get("retryable"), bool):
            retryable = source["retryable"]
        for key in BODY_RETRY_AFTER_KEYS:
            if retry_after is None:
                retry_after = _body_retry_after(source.get(key))
    return BodyHints(code, retryable, retry_after)


@dataclass(frozen=True)
class Answer:
    """An HTTP answer, read whole: what the error mapping and the caller look at."""

    status: int
    reason: str
    headers: Mapping[str, str]  # case-insensitive
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The JSON body; ValueError when it is not JSON."""
        return jsonlib.loads(self.content)


def _json_body(response: Answer) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _error_text(response: Answer, body: Any) -> str:
    if body is None:
        text = response.text.strip()
        return text[:300] or response.reason
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict):  # edge error shape
            return str(err.get("message") or err.get("code") or response.reason)[:500]
        message = body.get("message")
        if message and err and str(message) != str(err):
            return f"{err}: {message}"[:500]
        return str(message or err or response.reason)[:500]
    return response.reason


def error_for(response: Answer, method: str, path: str, *, api_version: str = "") -> BlaxelError:
    """The typed error of an HTTP error answer, with the server's retry hints."""
    status = response.status
    body = _json_body(response)
    text = _error_text(response, body)
    hints = body_hints(body)
    code = hints.code or response.headers.get("x-blaxel-error-code") or None
    retry_after = parse_retry_after(response.headers)
    if retry_after is None:
        retry_after = hints.retry_after
    kw: dict[str, Any] = {
        "status": status,
        "method": method,
        "path": path,
        "retry_after": retry_after,
        "retryable": hints.retryable,
        "should_retry": parse_should_retry(response.headers),
        "code": code,
    }
    if status == 400 and (code or "").lower() == "invalid_api_version":
        message = (
            f"Blaxel does not accept API version {api_version!r} (the Blaxel-Version header, "
            f"set with BL_API_VERSION): {text}"
        )
        return UnsupportedApiVersion(message, **kw)
    if status == 404:
        return NotFound(text, **kw)
    if status == 409:
        return Conflict(text, **kw)
    if status in (400, 422):
        return Invalid(text, **kw)
    if status in (401, 403):
        return Unauthorized(text, **kw)
    if status == 429:
        return RateLimited(text, **kw)
    if status == 408 or status >= 500:
        return ServerError(text, **kw)
    return BlaxelError(text, **kw)


def may_retry(method: str, exc: BlaxelError) -> bool:
    """Whether one API call may be repeated at once after `exc`.

    `x-should-retry` decides when the server sends it, as in Blaxel's Go SDK. Otherwise the error's
    `retryable` (its kind, or the error body's `retryable`), and then the method: idempotent ones are
    repeated; a POST only after 429 or 503, answers that turn a request away before it is processed
    (should one have been processed after all, the repeat gets a 409, which the reconciler resolves).
    (The Go SDK repeats any method after 408/409/429/5xx or a dropped connection; the TypeScript SDK
    repeats only idempotent calls.) After a 500, 502, timeout or reset the create may have happened:
    repeating it would turn a success into a 409, so that case goes to the reconciler, which reads first.
    """
    if exc.should_retry is not None:
        return exc.should_retry
    if not exc.retryable:
        return False
    if method in IDEMPOTENT:
        return True
    return exc.status in NOT_PROCESSED


def proxy_for(url: str) -> str | None:
    """The proxy the environment names for `url` (HTTPS_PROXY, HTTP_PROXY, NO_PROXY), or None."""
    parts = urllib.parse.urlsplit(url)
    if not parts.hostname or urllib.request.proxy_bypass(parts.hostname):
        return None
    return urllib.request.getproxies().get(parts.scheme) or None


def key_digest(api_key: str) -> str:
    """Names an API key in caches and logs without revealing it."""
    return hashlib.sha256(api_key.encode()).hexdigest()[:16]


def workspace_names(body: Any) -> tuple[list[str], bool]:
    """Names in a `GET /workspaces` answer (an array of Workspace; `{data, meta}` accepted too), and
    whether the server said there are more."""
    more = False
    if isinstance(body, dict):
        more = bool((body.get("meta") or {}).get("hasMore"))
        body = body.get("data")
    if not isinstance(body, list):
        raise ServerError("the workspaces listing is not a list", method="GET", path=WORKSPACES_PATH)
    names = [w["name"] for w in body if isinstance(w, dict) and isinstance(w.get("name"), str) and w["name"]]
    return names, more


class BlaxelApi:
    """One pooled HTTP client for all resources and credentials (aiohttp: Kopf's own HTTP stack, so the
    operator loads no second one)."""

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
        user_agent: str = f"blaxel-operator/{__version__}",
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.inflight = PrioritySlots(max_inflight)
        self.bucket = TokenBucket(rate, burst)
        self.inline_retries = inline_retries
        self.api_version = api_version
        # key digest -> the workspace resolved for it, or (until, names, more) when it could not be
        self.workspaces: dict[str, str | tuple[float, tuple[str, ...], bool]] = {}
        self.resolving: dict[str, asyncio.Lock] = {}
        self.timeout = aiohttp.ClientTimeout(total=timeout, connect=min(10.0, timeout))
        self.max_connections = max(1, max_inflight)
        self.headers = {"User-Agent": user_agent, "Blaxel-Version": api_version, "Accept": "application/json"}
        self._session: aiohttp.ClientSession | None = None
        # HTTP(S)_PROXY / NO_PROXY, read once (aiohttp's trust_env would also read ~/.netrc, in a
        # thread, on every request)
        self.proxy = proxy_for(self.base_url)

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:  # made on first use, inside the running loop
            self._session = aiohttp.ClientSession(
                headers=self.headers,
                timeout=self.timeout,
                connector=aiohttp.TCPConnector(limit=self.max_connections),
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def resolve_workspace(self, creds: Credentials) -> Credentials:
        """`creds` with a workspace: their own, else the API key's only one (asked once per key).

        Raises WorkspaceUnresolved when the key has access to none or to several.
        """
        if creds.workspace:
            return creds
        digest = key_digest(creds.api_key)
        async with self.resolving.setdefault(digest, asyncio.Lock()):  # a burst of resources asks once
            known = self.workspaces.get(digest)
            if isinstance(known, str):
                return replace(creds, workspace=known)
            if known is not None and known[0] > time.monotonic():
                raise WorkspaceUnresolved(known[1], more=known[2])
            body = await self.request("GET", WORKSPACES_PATH, creds)
            names, more = workspace_names(body)
            if len(names) == 1 and not more:
                self.workspaces[digest] = names[0]
                log.info("API key %s...: using its only workspace %s", digest[:8], names[0])
                return replace(creds, workspace=names[0])
            self.workspaces[digest] = (time.monotonic() + UNRESOLVED_TTL, tuple(names), more)
            raise WorkspaceUnresolved(names, more=more)

    def _forget_workspace(self, creds: Credentials) -> None:
        """A refused call may mean the key lost the workspace resolved for it: ask again next time."""
        digest = key_digest(creds.api_key)
        if self.workspaces.get(digest) == creds.workspace:
            del self.workspaces[digest]

    async def request(
        self,
        method: str,
        path: str,
        creds: Credentials,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
    ) -> Any:
        """One API call, always in a workspace (resolved when `creds` name none), repeated a couple of
        times on transient faults when that is safe (see `may_retry`)."""
        if not creds.workspace and path != WORKSPACES_PATH:
            creds = await self.resolve_workspace(creds)
        attempt = 0
        while True:
            try:
                return await self._once(method, path, creds, json=json, params=params)
            except Unauthorized:
                if creds.workspace:
                    self._forget_workspace(creds)
                raise
            except BlaxelError as exc:
                delay = self._retry_delay(method, exc, attempt)
                if delay is None:
                    raise
                attempt += 1
                API_RETRIES.labels(type(exc).__name__).inc()
                log.debug("retrying %s %s in %.2fs after %s", method, path, delay, type(exc).__name__)
                await asyncio.sleep(delay)

    async def _send(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str],
        json: Any,
        params: Mapping[str, Any] | None,
    ) -> Answer:
        # `path` is already escaped (see ExternalClient._path): sent as is, never re-encoded or resolved
        url = URL(self.base_url + path, encoded=True)
        if params:
            url = url.update_query({k: str(v) for k, v in params.items()})
        async with self._http().request(
            method, url, headers=headers, json=json, proxy=self.proxy
        ) as response:
            content = await response.read()
            return Answer(response.status, response.reason or "", response.headers, content)

    def _retry_delay(self, method: str, exc: BlaxelError, attempt: int) -> float | None:
        """Seconds before repeating the call, or None to give up here (the reconciler retries later)."""
        if attempt >= self.inline_retries or not may_retry(method, exc):
            return None
        if exc.retry_after is not None:
            if exc.retry_after > MAX_INLINE_WAIT:
                return None  # long waits belong to the reconciler's backoff, not to a held request
            return exc.retry_after
        return min(8.0, 0.5 * 2**attempt) * random.uniform(0.5, 1.0)

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
                response = await self._send(method, path, headers, json, params)
            except TimeoutError as exc:  # aiohttp's timeouts are TimeoutErrors too
                API_REQUESTS.labels(method, "timeout").inc()
                raise TransportError(f"timed out ({type(exc).__name__})", method=method, path=path) from None
            except aiohttp.ClientError as exc:
                API_REQUESTS.labels(method, "error").inc()
                raise TransportError(
                    f"connection failed ({type(exc).__name__})", method=method, path=path
                ) from None
            finally:
                API_LATENCY.labels(method).observe(time.monotonic() - started)
        finally:
            self.inflight.release()
        API_REQUESTS.labels(method, str(response.status)).inc()
        if response.status < 500:
            READINESS.mark()
        if response.status >= 400:
            raise error_for(response, method, path, api_version=self.api_version)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            # A success that cannot be read: whether a write happened is unknown, so it is not repeated
            # here (a PUT would redeploy); the reconciler observes first, with backoff.
            kind = response.headers.get("content-type", "").split(";")[0].strip()[:60] or "no content type"
            raise MalformedResponse(
                f"the answer is not JSON ({kind})",
                status=response.status,
                method=method,
                path=path,
                retryable=method == "GET",
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


def written(body: Any, *, method: str, path: str) -> dict[str, Any]:
    """The answer of an accepted write; a malformed one still means the write happened."""
    try:
        return validated(body, method=method, path=path)
    except MalformedResponse as exc:
        raise MalformedWriteAnswer(exc.message, status=exc.status, method=method, path=path) from None


class ExternalClient:
    """observe / create / update / delete (and list pages) for one Blaxel collection."""

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
        return written(await self.api.request("POST", path, creds, json=payload), method="POST", path=path)

    async def update(self, creds: Credentials, name: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        path = self._path(name)
        return written(await self.api.request("PUT", path, creds, json=payload), method="PUT", path=path)

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
