"""The aiohttp server: Blaxel's ``/v0`` agents API, fault injection, call log, ``/_sim/`` admin."""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import json
import logging
import math
import random
import re
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import date
from types import TracebackType
from typing import Any

from aiohttp import web

from .config import PAGINATED_VERSION, FaultConfig, SimulatorConfig
from .errors import ApiError
from .state import AgentRecord, Clock, SimulatorState, actor_of_key, rfc3339

logger = logging.getLogger("blaxel_operator.simulator")

API_PREFIX = "/v0"
ADMIN_PREFIX = "/_sim"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
DEFAULT_OUT_OF_BAND_ACTOR = "user:console@sim"
_VERSION_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TRUE = frozenset({"1", "t", "true"})
_FALSE = frozenset({"0", "f", "false"})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class CallRecord:
    """One ``/v0`` API call as the simulator saw it."""

    seq: int
    time: float
    method: str
    path: str
    query: str
    agent: str | None
    workspace: str | None
    #: HTTP status answered; None while in flight, 0 when the connection was dropped without one.
    status: int | None = None
    #: Injected fault kind ("500", "502", "503", "429", "timeout", "reset", "rate_limit") or None.
    fault: str | None = None
    #: "before" (nothing happened) or "after" (the call took effect) for injected faults.
    fault_phase: str | None = None
    api_version: str | None = None
    duration: float = 0.0
    #: For a fault injected "after": the status the call itself produced (e.g. 200, or 409 when the
    #: write could not happen anyway), which the client never saw.
    effective_status: int | None = None
    #: The X-Blaxel-Workspace header as sent (``workspace`` is the one the call ran in).
    workspace_header: str | None = None

    @property
    def is_write(self) -> bool:
        return self.method in WRITE_METHODS

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["at"] = rfc3339(self.time)
        return data


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        text=json.dumps(data, separators=(",", ":")),
        status=status,
        content_type="application/json",
        headers=headers,
    )


def _error(error: ApiError) -> web.Response:
    return _json(error.body(), error.status)


def _parse_bool(value: str | None, name: str, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ApiError(400, "bad_request", f"{name}: must be a boolean, got {value!r}")


async def _read_json(request: web.Request, *, required: bool = True) -> Any:
    raw = await request.read()
    if not raw.strip():
        if required:
            raise ApiError(400, "bad_request", "request body is required")
        return None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, "invalid_json", f"request body is not valid JSON: {exc}") from None


async def _peek_name(request: web.Request) -> str | None:
    try:
        body = json.loads(await request.read())
    except (ValueError, UnicodeDecodeError):
        return None
    metadata = body.get("metadata") if isinstance(body, dict) else None
    name = metadata.get("name") if isinstance(metadata, dict) else None
    return name if isinstance(name, str) else None


class BlaxelSimulator:
    """A Blaxel control-plane API simulator on a loopback port.

    >>> async with BlaxelSimulator(SimulatorConfig(step_seconds=0.1)) as sim:
    ...     client = httpx.AsyncClient(base_url=sim.url, headers={"Authorization": "Bearer sim-key"})

    All out-of-band methods take ``workspace=None`` meaning the default workspace (the first
    workspace of the first API key).
    """

    def __init__(self, config: SimulatorConfig | None = None) -> None:
        self._initial = copy.deepcopy(config or SimulatorConfig())
        self.config = copy.deepcopy(self._initial)
        self.rng = random.Random(self.config.seed)
        self.clock = Clock()
        self.state = SimulatorState(self.config, clock=self.clock, rng=self.rng)
        self._calls: deque[CallRecord] = deque(maxlen=self.config.max_calls)
        self._seq = 0
        self._faults_injected = 0
        self._buckets: dict[str, tuple[float, float]] = {}
        self._runner: web.AppRunner | None = None
        self._stopping = asyncio.Event()
        self.root_url = ""
        self.url = ""

    # ---------------------------------------------------------------- lifecycle

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen on ``host:port`` (0: any free port); return the API base URL (``.../v0``)."""
        if self._runner is not None:
            raise RuntimeError("the simulator is already running")
        self._stopping = asyncio.Event()
        runner = web.AppRunner(self._make_app(), access_log=None, shutdown_timeout=1.0, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        bound_port = runner.addresses[0][1]
        url_host = "127.0.0.1" if host in ("", "0.0.0.0") else "[::1]" if host == "::" else host
        if ":" in url_host and not url_host.startswith("["):
            url_host = f"[{url_host}]"
        self.root_url = f"http://{url_host}:{bound_port}"
        self.url = self.root_url + API_PREFIX
        logger.debug("Blaxel API simulator listening on %s", self.url)
        return self.url

    async def stop(self) -> None:
        """Stop listening; requests held by ``timeout`` faults are dropped."""
        self._stopping.set()
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> BlaxelSimulator:
        if self._runner is None:
            await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        return int(self.root_url.rsplit(":", 1)[1]) if self.root_url else 0

    @property
    def api_key(self) -> str:
        """The first configured API key."""
        return self.config.default_api_key

    @property
    def workspace(self) -> str:
        """The default workspace (first workspace of the first key)."""
        return self.config.default_workspace

    def headers(self, api_key: str | None = None, workspace: str | None = None) -> dict[str, str]:
        """Request headers for a client of this simulator."""
        return {
            "Authorization": f"Bearer {api_key or self.api_key}",
            "X-Blaxel-Workspace": workspace or self.workspace,
        }

    def _make_app(self) -> web.Application:
        app = web.Application(client_max_size=4 * 1024 * 1024)
        app.router.add_route("*", API_PREFIX, self._api)
        app.router.add_route("*", API_PREFIX + "/{tail:.*}", self._api)
        if self.config.admin:
            self._add_admin_routes(app)
        return app

    # ---------------------------------------------------------------- the API

    async def _api(self, request: web.Request) -> web.StreamResponse:
        started = time.monotonic()
        parts = [part for part in request.match_info.get("tail", "").split("/") if part]
        agent = parts[1] if len(parts) >= 2 and parts[0] == "agents" else None
        self._seq += 1
        call = CallRecord(
            seq=self._seq,
            time=self.clock.now(),
            method=request.method,
            path=request.path,
            query=request.query_string,
            agent=agent,
            workspace=request.headers.get("X-Blaxel-Workspace") or request.query.get("workspace"),
            workspace_header=request.headers.get("X-Blaxel-Workspace"),
        )
        self._calls.append(call)
        try:
            if agent is None and request.method == "POST" and parts == ["agents"]:
                call.agent = await _peek_name(request)  # so the log (and fault filters) know the agent
            response = await self._api_call(request, parts, call)
        except Exception:
            logger.exception("simulator error on %s %s", request.method, request.path)
            response = _error(ApiError(500, "internal_error", "unexpected simulator error"))
        if call.status is None:
            call.status = response.status
        call.duration = time.monotonic() - started
        logger.debug(
            "%s %s -> %s%s",
            request.method,
            request.path,
            call.status,
            f" (fault {call.fault})" if call.fault else "",
        )
        return response

    async def _api_call(self, request: web.Request, parts: list[str], call: CallRecord) -> web.StreamResponse:
        await self._sleep_latency()
        wait = self._rate_limited(self._bearer(request) or "")
        if wait is not None:
            call.fault = "rate_limit"
            headers = {
                "Retry-After": str(max(1, math.ceil(wait))),
                "Retry-After-Ms": str(math.ceil(wait * 1000)),
            }
            body = ApiError(429, "rate_limited", "too many requests, slow down").body()
            return _json(body, 429, headers)
        drawn = self._draw_fault(request.method, call.agent)
        if drawn is not None and drawn[1] == "before":
            return await self._inject(request, call, *drawn)
        try:
            response = await self._route(request, parts, call)
        except ApiError as error:
            response = _error(error)
        if drawn is not None:
            call.effective_status = response.status
            return await self._inject(request, call, *drawn)
        return response

    def _bearer(self, request: web.Request) -> str | None:
        for header in ("X-Blaxel-Authorization", "Authorization"):
            value = request.headers.get(header)
            if value:
                scheme, _, token = value.partition(" ")
                if scheme.lower() == "bearer" and token.strip():
                    return token.strip()
                return None
        return None

    async def _route(self, request: web.Request, parts: list[str], call: CallRecord) -> web.StreamResponse:
        key = self._bearer(request)
        if key is None or key not in self.config.api_keys:
            raise ApiError(401, "unauthorized", "missing or invalid API key")
        allowed = self.config.api_keys[key]
        if parts == ["workspaces"] and request.method == "GET":  # ListWorkspaces: the key's, no workspace
            call.api_version = self._api_version(request)
            return _json([{"name": name, "displayName": name, "status": "ready"} for name in allowed])
        workspace = request.headers.get("X-Blaxel-Workspace") or request.query.get("workspace") or allowed[0]
        call.workspace = workspace
        if workspace not in allowed:
            raise ApiError(403, "forbidden", f"the API key has no access to workspace {workspace!r}")
        version = self._api_version(request)
        call.api_version = version
        actor = actor_of_key(key)
        method = request.method
        state = self.state
        if (
            not parts
            or parts[0] != "agents"
            or len(parts) > 3
            or (len(parts) == 3 and parts[2] != "revisions")
        ):
            raise ApiError(404, "not_found", f"no route for {method} {request.path}")
        if len(parts) == 1:
            if method == "GET":
                result = state.list_agents(workspace, request.query, paginated=version >= PAGINATED_VERSION)
                items = [state.render(record) for record in result.records]
                return _json(items if result.meta is None else {"data": items, "meta": result.meta})
            if method == "POST":
                record = state.create(workspace, await _read_json(request), actor)
                return _json(state.render(record))
            raise ApiError(405, "method_not_allowed", f"{method} is not allowed on {request.path}")
        name = parts[1]
        if len(parts) == 3:
            if method != "GET":
                raise ApiError(405, "method_not_allowed", f"{method} is not allowed on {request.path}")
            return _json(state.revisions(state.get(workspace, name)))
        if method == "GET":
            show = _parse_bool(request.query.get("show_secrets"), "show_secrets")
            return _json(state.render(state.get(workspace, name), show_secrets=show))
        if method == "PUT":
            record = state.update(workspace, name, await _read_json(request), actor)
            return _json(state.render(record))
        if method == "DELETE":
            return _json(state.render(state.delete(workspace, name, actor)))
        raise ApiError(405, "method_not_allowed", f"{method} is not allowed on {request.path}")

    def _api_version(self, request: web.Request) -> str:
        value = request.headers.get("Blaxel-Version")
        if value is None or value.strip() == "":
            return self.config.api_versions[0]
        value = value.strip()
        valid_date = False
        if _VERSION_RE.match(value):
            try:
                date.fromisoformat(value)
                valid_date = True
            except ValueError:
                pass
        if not valid_date or value not in self.config.api_versions:
            raise ApiError(
                400,
                "invalid_api_version",
                f"unknown Blaxel-Version {value!r}; known versions: {', '.join(self.config.api_versions)}",
            )
        return value

    # ---------------------------------------------------------------- latency, rate limit, faults

    async def _sleep_latency(self) -> None:
        delay = self.config.latency
        if self.config.latency_jitter > 0:
            delay += self.rng.uniform(0, self.config.latency_jitter)
        if delay > 0:
            await asyncio.sleep(delay)

    def _rate_limited(self, key: str) -> float | None:
        """None when the call may proceed, else the seconds until a token is available."""
        rate = self.config.rate_limit
        if rate is None:
            return None
        bucket = key if key in self.config.api_keys else ""
        burst = float(self.config.rate_limit_burst)
        now = time.monotonic()
        tokens, last = self._buckets.get(bucket, (burst, now))
        tokens = min(burst, tokens + (now - last) * rate)
        if tokens >= 1.0:
            self._buckets[bucket] = (tokens - 1.0, now)
            return None
        self._buckets[bucket] = (tokens, now)
        return (1.0 - tokens) / rate

    def _draw_fault(self, method: str, agent: str | None) -> tuple[str, str] | None:
        faults = self.config.faults
        if faults.rate <= 0 or not faults.kinds:
            return None
        if faults.methods is not None and method not in faults.methods:
            return None
        if faults.agents is not None and agent not in faults.agents:
            return None
        if faults.max_count is not None and self._faults_injected >= faults.max_count:
            return None
        if self.rng.random() >= faults.rate:
            return None
        self._faults_injected += 1
        kind = self.rng.choice(faults.kinds)
        phase = faults.phase if faults.phase != "random" else self.rng.choice(("before", "after"))
        return kind, phase

    def _edge_shape(self) -> bool:
        shape = self.config.faults.error_shape
        return shape == "edge" or (shape == "mixed" and self.rng.random() < 0.5)

    async def _inject(
        self, request: web.Request, call: CallRecord, kind: str, phase: str
    ) -> web.StreamResponse:
        faults = self.config.faults
        call.fault, call.fault_phase = kind, phase
        if kind == "reset":
            if request.transport is not None:
                request.transport.abort()
            call.status = 0
            return web.Response(status=500)
        if kind == "timeout":
            try:
                await asyncio.wait_for(self._stopping.wait(), timeout=faults.timeout_seconds)
            except TimeoutError:
                pass
            if self._stopping.is_set():
                if request.transport is not None:
                    request.transport.abort()
                call.status = 0
                return web.Response(status=504)
            body = {"error": {"code": "gateway_timeout", "message": "upstream timed out", "retryable": True}}
            return _json(body, 504)
        status = int(kind)
        headers: dict[str, str] = {}
        if status in (429, 503):
            if faults.retry_after is not None:
                headers["Retry-After"] = str(faults.retry_after)
            if faults.retry_after_ms is not None:
                headers["Retry-After-Ms"] = str(faults.retry_after_ms)
        short = {500: "internal_error", 502: "bad_gateway", 503: "service_unavailable", 429: "rate_limited"}[
            status
        ]
        message = f"simulated {status} fault"
        if status != 500 and self._edge_shape():
            return _json({"error": {"code": short, "message": message, "retryable": True}}, status, headers)
        return _json(ApiError(status, short, message).body(), status, headers)

    # ---------------------------------------------------------------- out-of-band Python API

    def _ws(self, workspace: str | None) -> str:
        return workspace or self.config.default_workspace

    def set_faults(self, faults: FaultConfig | None = None, **changes: Any) -> FaultConfig:
        """Replace the fault config (``set_faults(rate=1.0, kinds=("503",))`` works too)."""
        new = faults if faults is not None else FaultConfig(**changes)
        if faults is not None and changes:
            new = dataclasses.replace(faults, **changes)
        self.config.faults = new
        self._faults_injected = 0
        return new

    def clear_faults(self) -> None:
        self.set_faults(FaultConfig())

    @property
    def faults_injected(self) -> int:
        return self._faults_injected

    def set_latency(self, seconds: float, jitter: float = 0.0) -> None:
        if seconds < 0 or jitter < 0:
            raise ValueError("latency must not be negative")
        self.config.latency, self.config.latency_jitter = seconds, jitter

    def set_step(self, seconds: float) -> None:
        """Seconds per deployment phase, for deployments started from now on."""
        if seconds < 0:
            raise ValueError("step must not be negative")
        self.config.step_seconds = seconds

    def set_delete_seconds(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("delete delay must not be negative")
        self.config.delete_seconds = seconds

    def set_stale_failed_seconds(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("stale FAILED window must not be negative")
        self.config.stale_failed_seconds = seconds

    def set_rate_limit(self, rate: float | None, burst: int | None = None) -> None:
        if rate is not None and rate <= 0:
            raise ValueError("rate must be positive or None")
        self.config.rate_limit = rate
        if burst is not None:
            if burst < 1:
                raise ValueError("burst must be at least 1")
            self.config.rate_limit_burst = burst
        self._buckets.clear()

    def advance(self, seconds: float) -> None:
        """Move the simulated clock forward (deployments and deletions progress at once)."""
        self.clock.advance(seconds)

    def now(self) -> float:
        return self.clock.now()

    def seed_agent(
        self,
        agent: dict[str, Any],
        *,
        workspace: str | None = None,
        settled: bool = True,
        created_by: str = DEFAULT_OUT_OF_BAND_ACTOR,
    ) -> dict[str, Any]:
        """Create an agent as someone else would (``settled``: already at its final status)."""
        record = self.state.create(self._ws(workspace), agent, created_by, settled=settled)
        return self.state.render(record, show_secrets=True)

    def edit_agent(
        self,
        name: str,
        patch: dict[str, Any],
        *,
        workspace: str | None = None,
        redeploy: bool = True,
        updated_by: str = DEFAULT_OUT_OF_BAND_ACTOR,
    ) -> dict[str, Any]:
        """Merge-patch ``{"metadata": {...}, "spec": {...}}`` into an agent (drift), by default redeploying."""
        record = self.state.edit(self._ws(workspace), name, patch, updated_by, redeploy=redeploy)
        return self.state.render(record, show_secrets=True)

    def delete_agent_now(self, name: str, *, workspace: str | None = None) -> bool:
        """Remove an agent at once, without a DELETING phase. False if there was none."""
        return self.state.remove(self._ws(workspace), name)

    def fail_next_deployment(
        self, name: str, *, workspace: str | None = None, count: int | None = 1, message: str | None = None
    ) -> None:
        """The agent's next ``count`` deployments (``None``: every one until cleared) end FAILED.

        Works before the agent exists (its creation is a deployment too). ``count=0`` clears it.
        """
        self.state.fail_next(self._ws(workspace), name, count=count, message=message)

    def clear_fail(self, name: str, *, workspace: str | None = None) -> None:
        self.state.fail_next(self._ws(workspace), name, count=0)

    def fail_agent_now(
        self, name: str, *, workspace: str | None = None, message: str | None = None
    ) -> dict[str, Any]:
        """The agent's current deployment ends FAILED now (a crash of a DEPLOYED agent, say)."""
        record = self.state.fail_now(self._ws(workspace), name, message=message)
        return self.state.render(record, show_secrets=True)

    def get_agent(self, name: str, *, workspace: str | None = None) -> dict[str, Any] | None:
        """The agent as the API would return it with ``show_secrets=true``, or None."""
        record = self.state.find(self._ws(workspace), name)
        return None if record is None else self.state.render(record, show_secrets=True)

    def status_of(self, name: str, *, workspace: str | None = None) -> str | None:
        record = self.state.find(self._ws(workspace), name)
        return None if record is None else record.status_at(self.clock.now())

    def agents(self, workspace: str | None = None) -> list[dict[str, Any]]:
        """Every agent of the workspace, unmasked, oldest first."""
        records = sorted(
            self.state.agents_of(self._ws(workspace)).values(), key=lambda r: (r.created_at, r.name)
        )
        return [self.state.render(record, show_secrets=True) for record in records]

    def records(self, workspace: str | None = None) -> list[AgentRecord]:
        return list(self.state.agents_of(self._ws(workspace)).values())

    async def wait_for_status(
        self,
        name: str,
        statuses: str | Iterable[str | None] | None,
        *,
        workspace: str | None = None,
        within: float = 10.0,
    ) -> str | None:
        """Poll the simulated clock until the agent's status is one of ``statuses`` (None = gone)."""
        wanted: set[str | None] = (
            {statuses} if isinstance(statuses, str) or statuses is None else set(statuses)
        )
        deadline = time.monotonic() + within
        while True:
            status = self.status_of(name, workspace=workspace)
            if status in wanted:
                return status
            if time.monotonic() > deadline:
                raise TimeoutError(f"agent {name!r} is {status!r}, not {sorted(map(str, wanted))}")
            await asyncio.sleep(0.01)

    def calls(
        self,
        *,
        method: str | None = None,
        agent: str | None = None,
        workspace: str | None = None,
        writes_only: bool = False,
        since: int = 0,
    ) -> list[CallRecord]:
        """The call log (oldest first), filtered."""
        return [
            call
            for call in self._calls
            if call.seq > since
            and (method is None or call.method == method.upper())
            and (agent is None or call.agent == agent)
            and (workspace is None or call.workspace == workspace)
            and (not writes_only or call.is_write)
        ]

    @property
    def last_seq(self) -> int:
        return self._seq

    def reset_calls(self) -> None:
        self._calls.clear()

    def reset(self) -> None:
        """Forget every agent, fail marker and call; restore the start config (the clock keeps going)."""
        self.state.clear()
        self._calls.clear()
        self._buckets.clear()
        self._faults_injected = 0
        initial = copy.deepcopy(self._initial)
        for item in dataclasses.fields(SimulatorConfig):
            setattr(self.config, item.name, getattr(initial, item.name))

    # ---------------------------------------------------------------- /_sim/ admin endpoints

    def _add_admin_routes(self, app: web.Application) -> None:
        routes: list[tuple[str, str, Handler]] = [
            ("GET", "/health", self._admin_health),
            ("GET", "/state", self._admin_state),
            ("GET", "/faults", self._admin_faults),
            ("PUT", "/faults", self._admin_faults),
            ("DELETE", "/faults", self._admin_faults),
            ("GET", "/latency", self._admin_latency),
            ("PUT", "/latency", self._admin_latency),
            ("GET", "/clock", self._admin_clock),
            ("PUT", "/clock", self._admin_clock),
            ("GET", "/rate-limit", self._admin_rate_limit),
            ("PUT", "/rate-limit", self._admin_rate_limit),
            ("GET", "/workspaces/{workspace}/agents", self._admin_agents),
            ("POST", "/workspaces/{workspace}/agents", self._admin_agents),
            ("GET", "/workspaces/{workspace}/agents/{name}", self._admin_agent),
            ("PATCH", "/workspaces/{workspace}/agents/{name}", self._admin_agent),
            ("DELETE", "/workspaces/{workspace}/agents/{name}", self._admin_agent),
            ("POST", "/workspaces/{workspace}/agents/{name}/fail-next", self._admin_fail_next),
            ("DELETE", "/workspaces/{workspace}/agents/{name}/fail-next", self._admin_fail_next),
            ("POST", "/workspaces/{workspace}/agents/{name}/fail", self._admin_fail_now),
            ("GET", "/calls", self._admin_calls),
            ("DELETE", "/calls", self._admin_calls),
            ("POST", "/reset", self._admin_reset),
        ]
        for method, path, handler in routes:
            app.router.add_route(method, ADMIN_PREFIX + path, self._admin_wrap(handler))

    def _admin_wrap(self, handler: Handler) -> Handler:
        async def wrapped(request: web.Request) -> web.StreamResponse:
            try:
                return await handler(request)
            except ApiError as error:
                return _error(error)
            except (ValueError, TypeError) as error:
                return _error(ApiError(400, "bad_request", str(error)))

        return wrapped

    def _admin_workspace(self, request: web.Request) -> str:
        workspace = request.match_info["workspace"]
        if workspace not in self.config.workspaces:
            raise ApiError(404, "not_found", f"unknown workspace {workspace!r}")
        return workspace

    async def _admin_object(self, request: web.Request) -> dict[str, Any]:
        body = await _read_json(request, required=False)
        if body is None:
            return {}
        if not isinstance(body, dict):
            raise ApiError(400, "bad_request", "request body must be a JSON object")
        return body

    def _clock_info(self) -> dict[str, Any]:
        now = self.clock.now()
        return {
            "now": rfc3339(now),
            "now_epoch": now,
            "offset": self.clock.offset,
            "step_seconds": self.config.step_seconds,
            "delete_seconds": self.config.delete_seconds,
            "stale_failed_seconds": self.config.stale_failed_seconds,
        }

    async def _admin_health(self, request: web.Request) -> web.StreamResponse:
        return _json({"ok": True, "url": self.url, "workspaces": self.config.workspaces})

    async def _admin_state(self, request: web.Request) -> web.StreamResponse:
        return _json(
            {
                "url": self.url,
                "workspaces": {ws: len(self.state.agents_of(ws)) for ws in self.config.workspaces},
                "clock": self._clock_info(),
                "latency": {"seconds": self.config.latency, "jitter": self.config.latency_jitter},
                "faults": self.config.faults.to_dict(),
                "faults_injected": self._faults_injected,
                "rate_limit": {"rate": self.config.rate_limit, "burst": self.config.rate_limit_burst},
                "calls": len(self._calls),
                "last_seq": self._seq,
            }
        )

    async def _admin_faults(self, request: web.Request) -> web.StreamResponse:
        if request.method == "PUT":
            self.set_faults(FaultConfig.from_dict(await self._admin_object(request)))
        elif request.method == "DELETE":
            self.clear_faults()
        return _json({**self.config.faults.to_dict(), "injected": self._faults_injected})

    async def _admin_latency(self, request: web.Request) -> web.StreamResponse:
        if request.method == "PUT":
            body = await self._admin_object(request)
            self.set_latency(float(body.get("seconds", 0.0)), float(body.get("jitter", 0.0)))
        return _json({"seconds": self.config.latency, "jitter": self.config.latency_jitter})

    async def _admin_clock(self, request: web.Request) -> web.StreamResponse:
        if request.method == "PUT":
            body = await self._admin_object(request)
            unknown = sorted(
                set(body) - {"step_seconds", "delete_seconds", "stale_failed_seconds", "advance"}
            )
            if unknown:
                raise ApiError(400, "bad_request", f"unknown clock fields: {', '.join(unknown)}")
            if "step_seconds" in body:
                self.set_step(float(body["step_seconds"]))
            if "delete_seconds" in body:
                self.set_delete_seconds(float(body["delete_seconds"]))
            if "stale_failed_seconds" in body:
                self.set_stale_failed_seconds(float(body["stale_failed_seconds"]))
            if "advance" in body:
                self.advance(float(body["advance"]))
        return _json(self._clock_info())

    async def _admin_rate_limit(self, request: web.Request) -> web.StreamResponse:
        if request.method == "PUT":
            body = await self._admin_object(request)
            rate = body.get("rate")
            burst = body.get("burst")
            self.set_rate_limit(None if rate is None else float(rate), None if burst is None else int(burst))
        return _json({"rate": self.config.rate_limit, "burst": self.config.rate_limit_burst})

    async def _admin_agents(self, request: web.Request) -> web.StreamResponse:
        workspace = self._admin_workspace(request)
        if request.method == "POST":
            body = await _read_json(request)
            settled = _parse_bool(request.query.get("settled"), "settled", default=True)
            created_by = request.query.get("created_by") or DEFAULT_OUT_OF_BAND_ACTOR
            return _json(self.seed_agent(body, workspace=workspace, settled=settled, created_by=created_by))
        return _json({"agents": self.agents(workspace)})

    async def _admin_agent(self, request: web.Request) -> web.StreamResponse:
        workspace = self._admin_workspace(request)
        name = request.match_info["name"]
        if request.method == "DELETE":
            if not self.delete_agent_now(name, workspace=workspace):
                raise ApiError(404, "not_found", f"agent {name!r} not found in workspace {workspace!r}")
            return _json({"deleted": name})
        if request.method == "PATCH":
            patch = await self._admin_object(request)
            redeploy = _parse_bool(request.query.get("redeploy"), "redeploy", default=True)
            updated_by = request.query.get("updated_by") or DEFAULT_OUT_OF_BAND_ACTOR
            return _json(
                self.edit_agent(name, patch, workspace=workspace, redeploy=redeploy, updated_by=updated_by)
            )
        agent = self.get_agent(name, workspace=workspace)
        if agent is None:
            raise ApiError(404, "not_found", f"agent {name!r} not found in workspace {workspace!r}")
        return _json(agent)

    async def _admin_fail_next(self, request: web.Request) -> web.StreamResponse:
        workspace = self._admin_workspace(request)
        name = request.match_info["name"]
        if request.method == "DELETE":
            self.clear_fail(name, workspace=workspace)
            return _json({"agent": name, "count": 0})
        body = await self._admin_object(request)
        count = body.get("count", 1)
        if count is not None and (not isinstance(count, int) or isinstance(count, bool)):
            raise ApiError(400, "bad_request", "count: must be an integer or null (every deployment)")
        message = body.get("message")
        self.fail_next_deployment(name, workspace=workspace, count=count, message=message)
        return _json({"agent": name, "count": count})

    async def _admin_fail_now(self, request: web.Request) -> web.StreamResponse:
        workspace = self._admin_workspace(request)
        body = await self._admin_object(request)
        return _json(
            self.fail_agent_now(request.match_info["name"], workspace=workspace, message=body.get("message"))
        )

    async def _admin_calls(self, request: web.Request) -> web.StreamResponse:
        if request.method == "DELETE":
            self.reset_calls()
            return _json({"calls": [], "last_seq": self._seq})
        query = request.query
        calls = self.calls(
            method=query.get("method"),
            agent=query.get("agent"),
            workspace=query.get("workspace"),
            writes_only=_parse_bool(query.get("writes_only"), "writes_only"),
            since=int(query.get("since", "0")),
        )
        return _json({"calls": [call.to_dict() for call in calls], "last_seq": self._seq})

    async def _admin_reset(self, request: web.Request) -> web.StreamResponse:
        self.reset()
        return _json({"ok": True})
