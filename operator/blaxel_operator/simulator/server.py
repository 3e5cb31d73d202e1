"""The aiohttp server: Blaxel's ``/v0`` API over the collection table, faults, call log, ``/_sim/`` admin."""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import fnmatch
import hashlib
import json
import logging
import math
import random
import re
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from types import TracebackType
from typing import Any

from aiohttp import web

from . import hostile
from .admin_routes import DEFAULT_OUT_OF_BAND_ACTOR, add_admin_routes
from .catalog import AGENTS, POLICIES, VOLUMES, Collection, match_path
from .catalog import collection as lookup
from .config import PAGINATED_VERSION, PUT_SEMANTICS, FaultConfig, SimulatorConfig
from .errors import ApiError
from .httputil import error_answer, json_answer, parse_bool, read_json
from .state import Clock, ObjectRecord, SimulatorState, actor_of_key, rfc3339

logger = logging.getLogger("blaxel_operator.simulator")

API_PREFIX = "/v0"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_VERSION_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

CollectionName = str | Collection


@dataclass
class CallRecord:
    """One ``/v0`` API call as the simulator saw it."""

    seq: int
    time: float
    method: str
    path: str
    query: str
    #: the agent's name, for calls on ``/agents`` (see ``collection`` and ``name`` for the others)
    agent: str | None
    workspace: str | None
    #: HTTP status answered; None while in flight, 0 when the connection was dropped without one.
    status: int | None = None
    #: Injected fault kind ("500", "502", "503", "429", "timeout", "reset", "rate_limit", or one of
    #: the hostile answers such as "non_json") or None.
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
    #: the collection called (``agents``, ``integrations/connections``), None for other paths
    collection: str | None = None
    #: the object's name (from the path, or from the body of a POST)
    name: str | None = None
    #: whether the call named its workspace (``X-Blaxel-Workspace`` or ``?workspace=``)
    workspace_given: bool = False
    #: the User-Agent header as sent (which client made the call, e.g. which operator shard)
    user_agent: str | None = None

    @property
    def is_write(self) -> bool:
        return self.method in WRITE_METHODS

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["at"] = rfc3339(self.time)
        return data


async def _peek_name(request: web.Request) -> str | None:
    try:
        body = json.loads(await request.read())
    except (ValueError, UnicodeDecodeError):
        return None
    metadata = body.get("metadata") if isinstance(body, dict) else None
    name = metadata.get("name") if isinstance(metadata, dict) else None
    return name if isinstance(name, str) else None


@dataclass
class _Drawn:
    """A fault drawn for a call: which rule (index into the rules, -1: the main config) and what."""

    rule: int
    faults: FaultConfig
    kind: str
    phase: str


class BlaxelSimulator:
    """A Blaxel control-plane API simulator on a loopback port.

    >>> async with BlaxelSimulator(SimulatorConfig(step_seconds=0.1)) as sim:
    ...     client = httpx.AsyncClient(base_url=sim.url, headers={"Authorization": "Bearer sim-key"})

    All out-of-band methods take ``workspace=None`` meaning the default workspace (the first
    workspace of the first API key), and a collection by its path below ``/v0`` (``functions``,
    ``integrations/connections``; ``connections`` works too).
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
        self._rule_counts: list[int] = [0] * len(self.config.fault_rules)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._runner: web.AppRunner | None = None
        self._stopping = asyncio.Event()
        self._started_at = self.clock.now()
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
        """Stop listening; requests held by ``timeout`` or ``slow`` faults are dropped."""
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
            add_admin_routes(app, self)
        return app

    # ---------------------------------------------------------------- the API

    async def _api(self, request: web.Request) -> web.StreamResponse:
        started = time.monotonic()
        parts = [part for part in request.match_info.get("tail", "").split("/") if part]
        matched = match_path(parts)
        target, rest = matched if matched is not None else (None, [])
        name = rest[0] if rest else None
        self._seq += 1
        workspace = request.headers.get("X-Blaxel-Workspace") or request.query.get("workspace")
        call = CallRecord(
            seq=self._seq,
            time=self.clock.now(),
            method=request.method,
            path=request.path,
            query=request.query_string,
            agent=name if target is AGENTS else None,
            workspace=workspace,
            collection=target.path if target is not None else None,
            name=name,
            workspace_given=bool(workspace),
            workspace_header=request.headers.get("X-Blaxel-Workspace"),
            user_agent=request.headers.get("User-Agent"),
        )
        self._calls.append(call)
        try:
            if target is not None and not rest and request.method == "POST":
                # so the log (and fault filters) know the object
                call.name = await _peek_name(request)
                if target is AGENTS:
                    call.agent = call.name
            response = await self._api_call(request, parts, call)
        except Exception:
            logger.exception("simulator error on %s %s", request.method, request.path)
            response = error_answer(ApiError(500, "internal_error", "unexpected simulator error"))
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
            return json_answer(body, 429, headers)
        drawn = self._draw_fault(call)
        if drawn is not None and drawn.kind in hostile.OBJECT_KINDS:
            return await self._serve_spoilt(request, parts, call, drawn)
        if drawn is not None and drawn.phase == "before":
            if drawn.kind != "slow":
                return await self._inject(request, call, drawn)
            self._mark(call, drawn)
            await self._hold(drawn.faults.delay_seconds)
            if request.transport is None or request.transport.is_closing():
                # the client gave up (or the simulator stops) before the call was served: dropped
                call.status = 0
                return web.Response(status=504)
        try:
            response = await self._route(request, parts, call)
        except ApiError as error:
            response = error_answer(error)
        if drawn is None and call.method == "GET" and call.name is None and call.collection is not None:
            response = self._spoil_listed(response, call)
        if drawn is not None and drawn.phase == "after":
            call.effective_status = response.status
            if drawn.kind == "slow":
                self._mark(call, drawn)
                await self._hold(drawn.faults.delay_seconds)
                return response
            return await self._inject(request, call, drawn)
        return response

    async def _serve_spoilt(
        self, request: web.Request, parts: list[str], call: CallRecord, drawn: _Drawn
    ) -> web.StreamResponse:
        """Serve the call, then spoil the objects of its answer (left alone when it has none)."""
        try:
            response = await self._route(request, parts, call)
        except ApiError as error:
            response = error_answer(error)
        spoilt = None
        if isinstance(response, web.Response) and response.status < 400 and response.text:
            spoilt = hostile.spoil(drawn.kind, json.loads(response.text), drawn.faults)
        if spoilt is None:
            self._undraw(drawn)  # nothing to spoil: this call does not count
            return response
        self._mark(call, dataclasses.replace(drawn, phase="after"))
        call.effective_status = response.status
        return json_answer(spoilt, response.status)

    def _spoil_listed(self, response: web.StreamResponse, call: CallRecord) -> web.StreamResponse:
        """A listing shows each object as a GET of it would: an object a hostile rule scopes by name
        (``names``, ``agents``) is spoilt in a listing too, each draw counting as one fault of the rule."""
        rules = [
            (index, rule)
            for index, rule in enumerate(self.config.fault_rules)
            if (rule.names or rule.agents) and hostile.OBJECT_KINDS.intersection(rule.kinds)
        ]
        if not rules or not isinstance(response, web.Response) or response.status >= 400 or not response.text:
            return response
        body = json.loads(response.text)
        items = body.get("data") if isinstance(body, dict) else body
        if not isinstance(items, list):
            return response
        spoilt_any = False
        for position, item in enumerate(items):
            name = (item.get("metadata") or {}).get("name") if isinstance(item, dict) else None
            if not isinstance(name, str):
                continue
            probe = dataclasses.replace(call, name=name, agent=name if call.collection == "agents" else None)
            for index, rule in rules:
                if (
                    not self._eligible(rule, self._rule_counts[index], probe)
                    or self.rng.random() >= rule.rate
                ):
                    continue
                kind = self.rng.choice([k for k in rule.kinds if k in hostile.OBJECT_KINDS])
                spoilt = hostile.spoil(kind, item, rule)
                if spoilt is not None:
                    items[position] = spoilt
                    self._count(index, +1)
                    spoilt_any = True
                break
        return json_answer(body, response.status) if spoilt_any else response

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
        if parts and parts[0] == "workspaces":
            call.api_version = self._api_version(request)
            return self._route_workspaces(request, parts[1:], allowed)
        named = request.headers.get("X-Blaxel-Workspace") or request.query.get("workspace")
        if not named and self.config.require_workspace:
            raise ApiError(
                400,
                "workspace_required",
                "no workspace given: send the X-Blaxel-Workspace header (or ?workspace=NAME)",
            )
        workspace = named or allowed[0]
        call.workspace = workspace
        if workspace not in allowed:
            raise ApiError(403, "forbidden", f"the API key has no access to workspace {workspace!r}")
        version = self._api_version(request)
        call.api_version = version
        matched = match_path(parts)
        if matched is None:
            raise ApiError(404, "not_found", f"no route for {request.method} {request.path}")
        target, rest = matched
        return await self._route_collection(request, target, rest, workspace, key, version)

    async def _route_collection(
        self,
        request: web.Request,
        target: Collection,
        rest: list[str],
        workspace: str,
        key: str,
        version: str,
    ) -> web.StreamResponse:
        method, state, actor = request.method, self.state, actor_of_key(key)
        if not rest:
            if method == "GET":
                paginated = target.paginated and version >= PAGINATED_VERSION
                result = state.list_objects(target, workspace, request.query, paginated=paginated)
                items = state.render_list(target, result.records, paginated=paginated)
                return json_answer(items if result.meta is None else {"data": items, "meta": result.meta})
            if method == "POST":
                record = state.create(target, workspace, await read_json(request), actor)
                return json_answer(state.render(record))
            raise self._not_allowed(request)
        name = rest[0]
        if len(rest) == 1:
            if method == "GET":
                show = False
                if target.show_secrets:  # only where the description documents the parameter
                    show = parse_bool(request.query.get("show_secrets"), "show_secrets")
                    if show and not self.config.is_admin(key):
                        raise ApiError(
                            403, "forbidden", "show_secrets=true requires the workspace admin role"
                        )
                return json_answer(state.render(state.get(target, workspace, name), show_secrets=show))
            if method == "PUT":
                merge = self.config.put_semantics == "merge"
                body = await read_json(request)
                record = state.update(target, workspace, name, body, actor, merge=merge)
                return json_answer(state.render(record))
            if method == "DELETE":
                return json_answer(state.render(state.delete(target, workspace, name, actor)))
            raise self._not_allowed(request)
        if len(rest) == 2:
            sub = rest[1]
            if target.revisions and sub == "revisions":
                self._only_get(request)
                return json_answer(state.revisions(state.get(target, workspace, name)))
            if target is POLICIES and sub == "usages":
                self._only_get(request)
                return json_answer(state.policy_usages(workspace, name))
            if target is VOLUMES and name == "by-external-id":
                self._only_get(request)
                return json_answer(state.render(state.find_by_external_id(target, workspace, sub)))
        raise ApiError(404, "not_found", f"no route for {method} {request.path}")

    def _not_allowed(self, request: web.Request) -> ApiError:
        return ApiError(405, "method_not_allowed", f"{request.method} is not allowed on {request.path}")

    def _only_get(self, request: web.Request) -> None:
        if request.method != "GET":
            raise self._not_allowed(request)

    def _route_workspaces(self, request: web.Request, rest: list[str], allowed: list[str]) -> web.Response:
        """``GET /workspaces`` (the key's workspaces) and ``GET /workspaces/{name}``."""
        if len(rest) > 1:
            raise ApiError(404, "not_found", f"no route for {request.method} {request.path}")
        if request.method != "GET":
            raise ApiError(
                405, "method_not_allowed", f"{request.method} {request.path} is not served by the simulator"
            )
        if not rest:
            return json_answer([self._workspace_object(name) for name in allowed])
        name = rest[0]
        if name not in allowed:
            if name in self.config.workspaces:
                raise ApiError(403, "forbidden", f"the API key has no access to workspace {name!r}")
            raise ApiError(404, "not_found", f"workspace {name!r} not found")
        count = parse_bool(request.query.get("countResources"), "countResources")
        return json_answer(self._workspace_object(name, count_resources=count))

    def _workspace_object(self, name: str, *, count_resources: bool = False) -> dict[str, Any]:
        created = rfc3339(self._started_at)
        workspace: dict[str, Any] = {
            "name": name,
            "displayName": name,
            "id": "ws-" + hashlib.sha256(name.encode()).hexdigest()[:12],
            "accountId": "acc-simulator",
            "region": "us-west-2",
            "status": "ready",
            "labels": {},
            "runtime": {"generation": "mk3"},
            "createdAt": created,
            "updatedAt": created,
            "createdBy": DEFAULT_OUT_OF_BAND_ACTOR,
            "updatedBy": DEFAULT_OUT_OF_BAND_ACTOR,
        }
        if count_resources:
            counts = self.state.counts(name)
            # the description's names: agents, functions, ..., integrationconnections
            workspace["resourceCounts"] = {
                path.replace("integrations/", "integration"): n for path, n in counts.items()
            }
        return workspace

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

    def _eligible(self, faults: FaultConfig, count: int, call: CallRecord) -> bool:
        if faults.rate <= 0 or not faults.kinds:
            return False
        if faults.methods is not None and call.method not in faults.methods:
            return False
        if faults.agents is not None and call.agent not in faults.agents:
            return False
        if faults.collections is not None and call.collection not in faults.collections:
            return False
        if faults.names is not None and not (
            call.name is not None and any(fnmatch.fnmatchcase(call.name, p) for p in faults.names)
        ):
            return False
        return faults.max_count is None or count < faults.max_count

    def _draw_fault(self, call: CallRecord) -> _Drawn | None:
        """The fault of this call, if any: the rules in order, then the main fault config."""
        candidates = [(index, rule) for index, rule in enumerate(self.config.fault_rules)]
        candidates.append((-1, self.config.faults))
        for index, faults in candidates:
            count = self._faults_injected if index < 0 else self._rule_counts[index]
            if not self._eligible(faults, count, call) or self.rng.random() >= faults.rate:
                continue
            self._count(index, +1)
            kind = self.rng.choice(faults.kinds)
            phase = faults.phase if faults.phase != "random" else self.rng.choice(("before", "after"))
            return _Drawn(index, faults, kind, phase)
        return None

    def _count(self, rule: int, delta: int) -> None:
        if rule < 0:
            self._faults_injected += delta
        else:
            self._rule_counts[rule] += delta

    def _undraw(self, drawn: _Drawn) -> None:
        self._count(drawn.rule, -1)

    @staticmethod
    def _mark(call: CallRecord, drawn: _Drawn) -> None:
        call.fault, call.fault_phase = drawn.kind, drawn.phase

    async def _hold(self, seconds: float) -> bool:
        """Wait ``seconds`` or until the simulator stops; True when it stopped."""
        try:
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)
        except TimeoutError:
            pass
        return self._stopping.is_set()

    def _edge_shape(self) -> bool:
        shape = self.config.faults.error_shape
        return shape == "edge" or (shape == "mixed" and self.rng.random() < 0.5)

    async def _inject(self, request: web.Request, call: CallRecord, drawn: _Drawn) -> web.StreamResponse:
        faults, kind = drawn.faults, drawn.kind
        self._mark(call, drawn)
        if kind == "reset":
            if request.transport is not None:
                request.transport.abort()
            call.status = 0
            return web.Response(status=500)
        if kind == "timeout":
            if await self._hold(faults.timeout_seconds):
                if request.transport is not None:
                    request.transport.abort()
                call.status = 0
                return web.Response(status=504)
            body = {"error": {"code": "gateway_timeout", "message": "upstream timed out", "retryable": True}}
            return json_answer(body, 504)
        if kind == "non_json":
            status = call.effective_status or 200
            return web.Response(text=hostile.NON_JSON_BODY, status=status, content_type="text/html")
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
            return json_answer(
                {"error": {"code": short, "message": message, "retryable": True}}, status, headers
            )
        return json_answer(ApiError(status, short, message).body(), status, headers)

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
        """Faults injected under the main fault config (see :attr:`fault_rule_counts` for the rules)."""
        return self._faults_injected

    def set_fault_rules(self, rules: Iterable[FaultConfig]) -> list[FaultConfig]:
        """Replace the fault rules (tried in order before the main fault config); counts restart."""
        self.config.fault_rules = list(rules)
        self._rule_counts = [0] * len(self.config.fault_rules)
        return self.config.fault_rules

    def add_fault_rule(self, rule: FaultConfig | None = None, **fields: Any) -> FaultConfig:
        """Append a rule (``add_fault_rule(rate=1, kinds=("non_json",), names=("fn-*",))``)."""
        new = rule if rule is not None else FaultConfig(**fields)
        self.config.fault_rules.append(new)
        self._rule_counts.append(0)
        return new

    def clear_fault_rules(self) -> None:
        self.set_fault_rules([])

    @property
    def fault_rule_counts(self) -> list[int]:
        """Faults injected so far by each rule."""
        return list(self._rule_counts)

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

    def set_put_semantics(self, semantics: str) -> None:
        """``replace`` (a PUT replaces metadata and spec) or ``merge`` (it deep-merges into them)."""
        if semantics not in PUT_SEMANTICS:
            raise ValueError(f"put semantics must be one of {', '.join(PUT_SEMANTICS)}, got {semantics!r}")
        self.config.put_semantics = semantics

    def set_admin_keys(self, keys: Iterable[str] | None) -> None:
        """Which API keys are workspace admins (None: all of them)."""
        admin_keys = None if keys is None else tuple(keys)
        unknown = [key for key in admin_keys or () if key not in self.config.api_keys]
        if unknown:
            raise ValueError(f"{len(unknown)} admin key(s) are not among the API keys")
        self.config.admin_keys = admin_keys

    def set_require_workspace(self, required: bool) -> None:
        """Refuse (400) API calls that name no workspace."""
        self.config.require_workspace = bool(required)

    def advance(self, seconds: float) -> None:
        """Move the simulated clock forward (deployments and deletions progress at once)."""
        self.clock.advance(seconds)

    def now(self) -> float:
        return self.clock.now()

    # -- any collection

    def seed_object(
        self,
        collection: CollectionName,
        body: dict[str, Any],
        *,
        workspace: str | None = None,
        settled: bool = True,
        created_by: str = DEFAULT_OUT_OF_BAND_ACTOR,
    ) -> dict[str, Any]:
        """Create an object as someone else would (``settled``: already at its final status)."""
        target = lookup(collection)
        record = self.state.create(target, self._ws(workspace), body, created_by, settled=settled)
        return self.state.render(record, show_secrets=True)

    def edit_object(
        self,
        collection: CollectionName,
        name: str,
        patch: dict[str, Any],
        *,
        workspace: str | None = None,
        redeploy: bool = True,
        updated_by: str = DEFAULT_OUT_OF_BAND_ACTOR,
    ) -> dict[str, Any]:
        """Merge-patch ``{"metadata": {...}, "spec": {...}}`` into an object (drift); deployables redeploy.

        A volume's patch may carry ``state`` (``{"state": {"attachedTo": "sandbox:x"}}``).
        """
        target = lookup(collection)
        record = self.state.edit(target, self._ws(workspace), name, patch, updated_by, redeploy=redeploy)
        return self.state.render(record, show_secrets=True)

    def delete_object_now(
        self, collection: CollectionName, name: str, *, workspace: str | None = None
    ) -> bool:
        """Remove an object at once, without a DELETING phase. False if there was none."""
        return self.state.remove(lookup(collection), self._ws(workspace), name)

    def get_object(
        self, collection: CollectionName, name: str, *, workspace: str | None = None
    ) -> dict[str, Any] | None:
        """The object as the API would return it with every secret shown, or None."""
        record = self.state.find(lookup(collection), self._ws(workspace), name)
        return None if record is None else self.state.render(record, show_secrets=True)

    def object_status(
        self, collection: CollectionName, name: str, *, workspace: str | None = None
    ) -> str | None:
        """The object's status (None when it is gone, or its collection has no status)."""
        record = self.state.find(lookup(collection), self._ws(workspace), name)
        return None if record is None else record.status_at(self.clock.now())

    def objects(self, collection: CollectionName, workspace: str | None = None) -> list[dict[str, Any]]:
        """Every object of the collection in the workspace, unmasked, oldest first."""
        records = sorted(
            self.state.objects_of(lookup(collection), self._ws(workspace)).values(),
            key=lambda r: (r.created_at, r.name),
        )
        return [self.state.render(record, show_secrets=True) for record in records]

    # -- agents (the first collection; these keep their agent-only names)

    def seed_agent(
        self,
        agent: dict[str, Any],
        *,
        workspace: str | None = None,
        settled: bool = True,
        created_by: str = DEFAULT_OUT_OF_BAND_ACTOR,
    ) -> dict[str, Any]:
        """Create an agent as someone else would (``settled``: already at its final status)."""
        return self.seed_object(AGENTS, agent, workspace=workspace, settled=settled, created_by=created_by)

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
        return self.edit_object(
            AGENTS, name, patch, workspace=workspace, redeploy=redeploy, updated_by=updated_by
        )

    def delete_agent_now(self, name: str, *, workspace: str | None = None) -> bool:
        """Remove an agent at once, without a DELETING phase. False if there was none."""
        return self.delete_object_now(AGENTS, name, workspace=workspace)

    def fail_next_deployment(
        self,
        name: str,
        *,
        workspace: str | None = None,
        count: int | None = 1,
        message: str | None = None,
        collection: CollectionName = AGENTS,
    ) -> None:
        """The object's next ``count`` deployments (``None``: every one until cleared) end FAILED.

        Works before the object exists (its creation is a deployment too). ``count=0`` clears it.
        """
        target = lookup(collection)
        self.state.fail_next(target, self._ws(workspace), name, count=count, message=message)

    def clear_fail(
        self, name: str, *, workspace: str | None = None, collection: CollectionName = AGENTS
    ) -> None:
        self.state.fail_next(lookup(collection), self._ws(workspace), name, count=0)

    def fail_now(
        self,
        collection: CollectionName,
        name: str,
        *,
        workspace: str | None = None,
        message: str | None = None,
    ) -> dict[str, Any]:
        """The object's current deployment ends FAILED now (a crash of a DEPLOYED one, say)."""
        record = self.state.fail_now(lookup(collection), self._ws(workspace), name, message=message)
        return self.state.render(record, show_secrets=True)

    def fail_agent_now(
        self, name: str, *, workspace: str | None = None, message: str | None = None
    ) -> dict[str, Any]:
        """The agent's current deployment ends FAILED now (a crash of a DEPLOYED agent, say)."""
        return self.fail_now(AGENTS, name, workspace=workspace, message=message)

    def get_agent(self, name: str, *, workspace: str | None = None) -> dict[str, Any] | None:
        """The agent as the API would return it with ``show_secrets=true``, or None."""
        return self.get_object(AGENTS, name, workspace=workspace)

    def status_of(
        self, name: str, *, workspace: str | None = None, collection: CollectionName = AGENTS
    ) -> str | None:
        return self.object_status(collection, name, workspace=workspace)

    def agents(self, workspace: str | None = None) -> list[dict[str, Any]]:
        """Every agent of the workspace, unmasked, oldest first."""
        return self.objects(AGENTS, workspace)

    def records(
        self, workspace: str | None = None, collection: CollectionName = AGENTS
    ) -> list[ObjectRecord]:
        return list(self.state.objects_of(lookup(collection), self._ws(workspace)).values())

    async def wait_for_status(
        self,
        name: str,
        statuses: str | Iterable[str | None] | None,
        *,
        workspace: str | None = None,
        within: float = 10.0,
        collection: CollectionName = AGENTS,
    ) -> str | None:
        """Poll the simulated clock until the object's status is one of ``statuses`` (None = gone)."""
        wanted: set[str | None] = (
            {statuses} if isinstance(statuses, str) or statuses is None else set(statuses)
        )
        deadline = time.monotonic() + within
        while True:
            status = self.object_status(collection, name, workspace=workspace)
            if status in wanted:
                return status
            if time.monotonic() > deadline:
                noun = lookup(collection).noun
                raise TimeoutError(f"{noun} {name!r} is {status!r}, not {sorted(map(str, wanted))}")
            await asyncio.sleep(0.01)

    # -- the call log

    def calls(
        self,
        *,
        method: str | None = None,
        agent: str | None = None,
        workspace: str | None = None,
        writes_only: bool = False,
        since: int = 0,
        collection: CollectionName | None = None,
        name: str | None = None,
    ) -> list[CallRecord]:
        """The call log (oldest first), filtered."""
        path = None if collection is None else lookup(collection).path
        return [
            call
            for call in self._calls
            if call.seq > since
            and (method is None or call.method == method.upper())
            and (agent is None or call.agent == agent)
            and (workspace is None or call.workspace == workspace)
            and (not writes_only or call.is_write)
            and (path is None or call.collection == path)
            and (name is None or call.name == name)
        ]

    @property
    def last_seq(self) -> int:
        return self._seq

    def reset_calls(self) -> None:
        self._calls.clear()

    def reset(self) -> None:
        """Forget every object, fail marker and call; restore the start config (the clock keeps going)."""
        self.state.clear()
        self._calls.clear()
        self._buckets.clear()
        self._faults_injected = 0
        initial = copy.deepcopy(self._initial)
        for item in dataclasses.fields(SimulatorConfig):
            setattr(self.config, item.name, getattr(initial, item.name))
        self._rule_counts = [0] * len(self.config.fault_rules)
