"""The simulator's ``/_sim/`` admin endpoints (no auth, never logged, never faulted).

They drive a :class:`~.server.BlaxelSimulator` from another process: seed, read, edit and delete
objects of any collection out of band, make deployments fail, and set faults, fault rules,
latency, the clock, the rate limit and the behaviour settings. :mod:`.admin` is their client.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .catalog import AGENTS, ALIASES, COLLECTIONS, Collection
from .catalog import collection as lookup
from .config import FaultConfig, fault_rules_from_json
from .errors import ApiError
from .httputil import error_answer, json_answer, parse_bool, read_json
from .state import actor_of_key, rfc3339

if TYPE_CHECKING:
    from .server import BlaxelSimulator

ADMIN_PREFIX = "/_sim"
DEFAULT_OUT_OF_BAND_ACTOR = "user:console@sim"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: ``{collection}`` in admin paths: a collection's path below /v0, or an alias (``connections``).
_COLLECTION = "{collection:" + "|".join(re.escape(c) for c in (*COLLECTIONS, *ALIASES)) + "}"
_OBJECTS = "/workspaces/{workspace}/" + _COLLECTION
_OBJECT = _OBJECTS + "/{name}"


def add_admin_routes(app: web.Application, sim: BlaxelSimulator) -> None:
    AdminEndpoints(sim).add_to(app)


class AdminEndpoints:
    def __init__(self, sim: BlaxelSimulator) -> None:
        self.sim = sim

    def add_to(self, app: web.Application) -> None:
        routes: list[tuple[str, str, Handler]] = [
            ("GET", "/health", self.health),
            ("GET", "/state", self.state),
            ("GET", "/faults", self.faults),
            ("PUT", "/faults", self.faults),
            ("DELETE", "/faults", self.faults),
            ("GET", "/fault-rules", self.fault_rules),
            ("PUT", "/fault-rules", self.fault_rules),
            ("POST", "/fault-rules", self.fault_rules),
            ("DELETE", "/fault-rules", self.fault_rules),
            ("GET", "/latency", self.latency),
            ("PUT", "/latency", self.latency),
            ("GET", "/clock", self.clock),
            ("PUT", "/clock", self.clock),
            ("GET", "/rate-limit", self.rate_limit),
            ("PUT", "/rate-limit", self.rate_limit),
            ("GET", "/settings", self.settings),
            ("PUT", "/settings", self.settings),
            ("GET", _OBJECTS, self.objects),
            ("POST", _OBJECTS, self.objects),
            ("GET", _OBJECT, self.one),
            ("PATCH", _OBJECT, self.one),
            ("DELETE", _OBJECT, self.one),
            ("POST", _OBJECT + "/fail-next", self.fail_next),
            ("DELETE", _OBJECT + "/fail-next", self.fail_next),
            ("POST", _OBJECT + "/fail", self.fail_now),
            ("GET", "/calls", self.calls),
            ("DELETE", "/calls", self.calls),
            ("POST", "/reset", self.reset),
        ]
        for method, path, handler in routes:
            app.router.add_route(method, ADMIN_PREFIX + path, _wrap(handler))

    # ------------------------------------------------------------ helpers

    def _workspace(self, request: web.Request) -> str:
        workspace = request.match_info["workspace"]
        if workspace not in self.sim.config.workspaces:
            raise ApiError(404, "not_found", f"unknown workspace {workspace!r}")
        return workspace

    @staticmethod
    def _collection(request: web.Request) -> Collection:
        return lookup(request.match_info["collection"])

    @staticmethod
    async def _body(request: web.Request) -> dict[str, Any]:
        body = await read_json(request, required=False)
        if body is None:
            return {}
        if not isinstance(body, dict):
            raise ApiError(400, "bad_request", "request body must be a JSON object")
        return body

    def _clock_info(self) -> dict[str, Any]:
        sim = self.sim
        now = sim.clock.now()
        return {
            "now": rfc3339(now),
            "now_epoch": now,
            "offset": sim.clock.offset,
            "step_seconds": sim.config.step_seconds,
            "delete_seconds": sim.config.delete_seconds,
            "stale_failed_seconds": sim.config.stale_failed_seconds,
        }

    def _rules_info(self) -> list[dict[str, Any]]:
        counts = self.sim.fault_rule_counts
        return [
            {**rule.to_dict(), "injected": counts[i]} for i, rule in enumerate(self.sim.config.fault_rules)
        ]

    def _settings_info(self) -> dict[str, Any]:
        config = self.sim.config
        admins = None if config.admin_keys is None else [actor_of_key(k) for k in config.admin_keys]
        # keys are credentials: the admin keys are shown as the actors they write as
        return {
            "put_semantics": config.put_semantics,
            "require_workspace": config.require_workspace,
            "admin_keys": admins,
        }

    # ------------------------------------------------------------ handlers

    async def health(self, request: web.Request) -> web.StreamResponse:
        return json_answer({"ok": True, "url": self.sim.url, "workspaces": self.sim.config.workspaces})

    async def state(self, request: web.Request) -> web.StreamResponse:
        sim = self.sim
        workspaces = sim.config.workspaces
        return json_answer(
            {
                "url": sim.url,
                "workspaces": {ws: len(sim.state.agents_of(ws)) for ws in workspaces},
                "objects": {ws: sim.state.counts(ws) for ws in workspaces},
                "clock": self._clock_info(),
                "latency": {"seconds": sim.config.latency, "jitter": sim.config.latency_jitter},
                "faults": sim.config.faults.to_dict(),
                "faults_injected": sim.faults_injected,
                "fault_rules": self._rules_info(),
                "rate_limit": {"rate": sim.config.rate_limit, "burst": sim.config.rate_limit_burst},
                "settings": self._settings_info(),
                "calls": len(sim.calls()),
                "last_seq": sim.last_seq,
            }
        )

    async def faults(self, request: web.Request) -> web.StreamResponse:
        if request.method == "PUT":
            self.sim.set_faults(FaultConfig.from_dict(await self._body(request)))
        elif request.method == "DELETE":
            self.sim.clear_faults()
        return json_answer({**self.sim.config.faults.to_dict(), "injected": self.sim.faults_injected})

    async def fault_rules(self, request: web.Request) -> web.StreamResponse:
        """PUT: replace the rules (a list, or ``{"rules": [...]}``); POST: append one; DELETE: none."""
        if request.method in ("PUT", "POST"):
            body = await read_json(request)
            if request.method == "POST":
                if not isinstance(body, dict):
                    raise ApiError(400, "bad_request", "POST one rule: a JSON object")
                self.sim.add_fault_rule(FaultConfig.from_dict(body))
            else:
                rules = body.get("rules") if isinstance(body, dict) and "rules" in body else body
                self.sim.set_fault_rules(fault_rules_from_json(rules if rules is not None else []))
        elif request.method == "DELETE":
            self.sim.clear_fault_rules()
        return json_answer({"rules": self._rules_info()})

    async def latency(self, request: web.Request) -> web.StreamResponse:
        if request.method == "PUT":
            body = await self._body(request)
            self.sim.set_latency(float(body.get("seconds", 0.0)), float(body.get("jitter", 0.0)))
        return json_answer({"seconds": self.sim.config.latency, "jitter": self.sim.config.latency_jitter})

    async def clock(self, request: web.Request) -> web.StreamResponse:
        if request.method == "PUT":
            body = await self._body(request)
            unknown = sorted(
                set(body) - {"step_seconds", "delete_seconds", "stale_failed_seconds", "advance"}
            )
            if unknown:
                raise ApiError(400, "bad_request", f"unknown clock fields: {', '.join(unknown)}")
            if "step_seconds" in body:
                self.sim.set_step(float(body["step_seconds"]))
            if "delete_seconds" in body:
                self.sim.set_delete_seconds(float(body["delete_seconds"]))
            if "stale_failed_seconds" in body:
                self.sim.set_stale_failed_seconds(float(body["stale_failed_seconds"]))
            if "advance" in body:
                self.sim.advance(float(body["advance"]))
        return json_answer(self._clock_info())

    async def rate_limit(self, request: web.Request) -> web.StreamResponse:
        if request.method == "PUT":
            body = await self._body(request)
            rate = body.get("rate")
            burst = body.get("burst")
            self.sim.set_rate_limit(
                None if rate is None else float(rate), None if burst is None else int(burst)
            )
        return json_answer({"rate": self.sim.config.rate_limit, "burst": self.sim.config.rate_limit_burst})

    async def settings(self, request: web.Request) -> web.StreamResponse:
        """``{"put_semantics": "merge", "require_workspace": true, "admin_keys": ["k1"]}`` (each optional)."""
        if request.method == "PUT":
            body = await self._body(request)
            unknown = sorted(set(body) - {"put_semantics", "require_workspace", "admin_keys"})
            if unknown:
                raise ApiError(400, "bad_request", f"unknown settings: {', '.join(unknown)}")
            if "put_semantics" in body:
                self.sim.set_put_semantics(str(body["put_semantics"]))
            if "require_workspace" in body:
                if not isinstance(body["require_workspace"], bool):
                    raise ApiError(400, "bad_request", "require_workspace: must be a boolean")
                self.sim.set_require_workspace(body["require_workspace"])
            if "admin_keys" in body:
                keys = body["admin_keys"]
                if keys is not None and not (
                    isinstance(keys, list) and all(isinstance(k, str) for k in keys)
                ):
                    raise ApiError(400, "bad_request", "admin_keys: must be a list of API keys or null")
                self.sim.set_admin_keys(keys)
        return json_answer(self._settings_info())

    async def objects(self, request: web.Request) -> web.StreamResponse:
        workspace = self._workspace(request)
        target = self._collection(request)
        if request.method == "POST":
            body = await read_json(request)
            settled = parse_bool(request.query.get("settled"), "settled", default=True)
            created_by = request.query.get("created_by") or DEFAULT_OUT_OF_BAND_ACTOR
            return json_answer(
                self.sim.seed_object(
                    target, body, workspace=workspace, settled=settled, created_by=created_by
                )
            )
        items = self.sim.objects(target, workspace)
        # the agents-only admin answered {"agents": [...]}; its clients still read that
        return json_answer({"items": items, "agents": items} if target is AGENTS else {"items": items})

    async def one(self, request: web.Request) -> web.StreamResponse:
        workspace = self._workspace(request)
        target = self._collection(request)
        name = request.match_info["name"]
        missing = ApiError(404, "not_found", f"{target.noun} {name!r} not found in workspace {workspace!r}")
        if request.method == "DELETE":
            if not self.sim.delete_object_now(target, name, workspace=workspace):
                raise missing
            return json_answer({"deleted": name})
        if request.method == "PATCH":
            patch = await self._body(request)
            redeploy = parse_bool(request.query.get("redeploy"), "redeploy", default=True)
            updated_by = request.query.get("updated_by") or DEFAULT_OUT_OF_BAND_ACTOR
            return json_answer(
                self.sim.edit_object(
                    target, name, patch, workspace=workspace, redeploy=redeploy, updated_by=updated_by
                )
            )
        found = self.sim.get_object(target, name, workspace=workspace)
        if found is None:
            raise missing
        return json_answer(found)

    async def fail_next(self, request: web.Request) -> web.StreamResponse:
        workspace = self._workspace(request)
        target = self._collection(request)
        name = request.match_info["name"]
        key = "agent" if target is AGENTS else "name"
        if request.method == "DELETE":
            self.sim.clear_fail(name, workspace=workspace, collection=target)
            return json_answer({key: name, "count": 0})
        body = await self._body(request)
        count = body.get("count", 1)
        if count is not None and (not isinstance(count, int) or isinstance(count, bool)):
            raise ApiError(400, "bad_request", "count: must be an integer or null (every deployment)")
        self.sim.fail_next_deployment(
            name, workspace=workspace, count=count, message=body.get("message"), collection=target
        )
        return json_answer({key: name, "count": count})

    async def fail_now(self, request: web.Request) -> web.StreamResponse:
        workspace = self._workspace(request)
        body = await self._body(request)
        return json_answer(
            self.sim.fail_now(
                self._collection(request),
                request.match_info["name"],
                workspace=workspace,
                message=body.get("message"),
            )
        )

    async def calls(self, request: web.Request) -> web.StreamResponse:
        sim = self.sim
        if request.method == "DELETE":
            sim.reset_calls()
            return json_answer({"calls": [], "last_seq": sim.last_seq})
        query = request.query
        calls = sim.calls(
            method=query.get("method"),
            agent=query.get("agent"),
            workspace=query.get("workspace"),
            writes_only=parse_bool(query.get("writes_only"), "writes_only"),
            since=int(query.get("since", "0")),
            collection=query.get("collection") or None,
            name=query.get("name"),
        )
        return json_answer({"calls": [call.to_dict() for call in calls], "last_seq": sim.last_seq})

    async def reset(self, request: web.Request) -> web.StreamResponse:
        self.sim.reset()
        return json_answer({"ok": True})


def _wrap(handler: Handler) -> Handler:
    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except ApiError as error:
            return error_answer(error)
        except (ValueError, TypeError) as error:
            return error_answer(ApiError(400, "bad_request", str(error)))

    return wrapped
