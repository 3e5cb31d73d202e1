"""Clients of the simulator's ``/_sim/`` admin endpoints, for a simulator in another process.

``SimulatorAdmin`` is blocking (httpx.Client), ``AsyncSimulatorAdmin`` is its asyncio twin; both
take the API base URL (``http://127.0.0.1:8787/v0``) or the server's root URL.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import httpx

from .config import FaultConfig

_UNSET: Any = object()

Request = tuple[str, str, dict[str, Any]]


class AdminError(RuntimeError):
    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"simulator admin call failed with {status}: {body}")
        self.status = status
        self.body = body


def root_url(base_url: str) -> str:
    """``http://host:port`` from ``http://host:port/v0`` (or the root itself)."""
    url = base_url.rstrip("/")
    return url[: -len("/v0")] if url.endswith("/v0") else url


def _object_path(collection: str, workspace: str, name: str | None = None) -> str:
    """``/_sim/workspaces/{ws}/{collection}[/{name}]`` (the collection's path keeps its slash)."""
    path = f"/_sim/workspaces/{quote(workspace, safe='')}/{quote(collection.strip('/'), safe='/')}"
    return path if name is None else f"{path}/{quote(name, safe='')}"


def _agent_path(workspace: str, name: str | None = None) -> str:
    return _object_path("agents", workspace, name)


def _faults_body(
    faults: FaultConfig | Mapping[str, Any] | None, changes: Mapping[str, Any]
) -> dict[str, Any]:
    if isinstance(faults, FaultConfig):
        body = faults.to_dict()
    else:
        body = dict(faults or {})
    body.update(changes)
    for key in ("kinds", "methods", "agents", "collections", "names"):
        if isinstance(body.get(key), tuple):
            body[key] = list(body[key])
    return body


def _rule_body(rule: FaultConfig | Mapping[str, Any]) -> dict[str, Any]:
    return _faults_body(rule, {})


class _Requests:
    """The admin calls as (method, path, {params, json}) triples, shared by both clients."""

    def __init__(self, workspace: str) -> None:
        self.workspace = workspace

    def ws(self, workspace: str | None) -> str:
        return workspace or self.workspace

    def health(self) -> Request:
        return "GET", "/_sim/health", {}

    def state(self) -> Request:
        return "GET", "/_sim/state", {}

    def set_faults(
        self, faults: FaultConfig | Mapping[str, Any] | None, changes: Mapping[str, Any]
    ) -> Request:
        return "PUT", "/_sim/faults", {"json": _faults_body(faults, changes)}

    def clear_faults(self) -> Request:
        return "DELETE", "/_sim/faults", {}

    def set_latency(self, seconds: float, jitter: float) -> Request:
        return "PUT", "/_sim/latency", {"json": {"seconds": seconds, "jitter": jitter}}

    def set_clock(self, changes: Mapping[str, Any]) -> Request:
        return "PUT", "/_sim/clock", {"json": {k: v for k, v in changes.items() if v is not None}}

    def clock(self) -> Request:
        return "GET", "/_sim/clock", {}

    def set_rate_limit(self, rate: float | None, burst: int | None) -> Request:
        return "PUT", "/_sim/rate-limit", {"json": {"rate": rate, "burst": burst}}

    def agents(self, workspace: str | None) -> Request:
        return "GET", _agent_path(self.ws(workspace)), {}

    def agent(self, name: str, workspace: str | None) -> Request:
        return "GET", _agent_path(self.ws(workspace), name), {}

    def seed_agent(
        self, agent: Mapping[str, Any], workspace: str | None, settled: bool, created_by: str | None
    ) -> Request:
        params: dict[str, str] = {"settled": "true" if settled else "false"}
        if created_by:
            params["created_by"] = created_by
        return "POST", _agent_path(self.ws(workspace)), {"json": dict(agent), "params": params}

    def edit_agent(
        self,
        name: str,
        patch: Mapping[str, Any],
        workspace: str | None,
        redeploy: bool,
        updated_by: str | None,
    ) -> Request:
        params: dict[str, str] = {"redeploy": "true" if redeploy else "false"}
        if updated_by:
            params["updated_by"] = updated_by
        return "PATCH", _agent_path(self.ws(workspace), name), {"json": dict(patch), "params": params}

    def delete_agent(self, name: str, workspace: str | None) -> Request:
        return "DELETE", _agent_path(self.ws(workspace), name), {}

    def fail_next(
        self,
        name: str,
        workspace: str | None,
        count: int | None,
        message: str | None,
        collection: str = "agents",
    ) -> Request:
        body: dict[str, Any] = {"count": count}
        if message:
            body["message"] = message
        return "POST", _object_path(collection, self.ws(workspace), name) + "/fail-next", {"json": body}

    def clear_fail(self, name: str, workspace: str | None, collection: str = "agents") -> Request:
        return "DELETE", _object_path(collection, self.ws(workspace), name) + "/fail-next", {}

    def fail_now(
        self, name: str, workspace: str | None, message: str | None, collection: str = "agents"
    ) -> Request:
        body = {"message": message} if message else {}
        return "POST", _object_path(collection, self.ws(workspace), name) + "/fail", {"json": body}

    def objects(self, collection: str, workspace: str | None) -> Request:
        return "GET", _object_path(collection, self.ws(workspace)), {}

    def object(self, collection: str, name: str, workspace: str | None) -> Request:
        return "GET", _object_path(collection, self.ws(workspace), name), {}

    def seed_object(
        self,
        collection: str,
        body: Mapping[str, Any],
        workspace: str | None,
        settled: bool,
        created_by: str | None,
    ) -> Request:
        params: dict[str, str] = {"settled": "true" if settled else "false"}
        if created_by:
            params["created_by"] = created_by
        return "POST", _object_path(collection, self.ws(workspace)), {"json": dict(body), "params": params}

    def edit_object(
        self,
        collection: str,
        name: str,
        patch: Mapping[str, Any],
        workspace: str | None,
        redeploy: bool,
        updated_by: str | None,
    ) -> Request:
        params: dict[str, str] = {"redeploy": "true" if redeploy else "false"}
        if updated_by:
            params["updated_by"] = updated_by
        path = _object_path(collection, self.ws(workspace), name)
        return "PATCH", path, {"json": dict(patch), "params": params}

    def delete_object(self, collection: str, name: str, workspace: str | None) -> Request:
        return "DELETE", _object_path(collection, self.ws(workspace), name), {}

    def fault_rules(self) -> Request:
        return "GET", "/_sim/fault-rules", {}

    def set_fault_rules(self, rules: list[FaultConfig | Mapping[str, Any]]) -> Request:
        return "PUT", "/_sim/fault-rules", {"json": [_rule_body(rule) for rule in rules]}

    def add_fault_rule(
        self, rule: FaultConfig | Mapping[str, Any] | None, fields: Mapping[str, Any]
    ) -> Request:
        return "POST", "/_sim/fault-rules", {"json": _faults_body(rule, fields)}

    def clear_fault_rules(self) -> Request:
        return "DELETE", "/_sim/fault-rules", {}

    def settings(self) -> Request:
        return "GET", "/_sim/settings", {}

    def set_settings(self, changes: Mapping[str, Any]) -> Request:
        return "PUT", "/_sim/settings", {"json": {k: v for k, v in changes.items() if v is not _UNSET}}

    def calls(
        self,
        method: str | None,
        agent: str | None,
        workspace: str | None,
        writes_only: bool,
        since: int,
        collection: str | None = None,
        name: str | None = None,
    ) -> Request:
        params: dict[str, str] = {"since": str(since)}
        if method:
            params["method"] = method
        if agent:
            params["agent"] = agent
        if workspace:
            params["workspace"] = workspace
        if writes_only:
            params["writes_only"] = "true"
        if collection:
            params["collection"] = collection
        if name:
            params["name"] = name
        return "GET", "/_sim/calls", {"params": params}

    def reset_calls(self) -> Request:
        return "DELETE", "/_sim/calls", {}

    def reset(self) -> Request:
        return "POST", "/_sim/reset", {}


def _result(response: httpx.Response) -> Any:
    try:
        body = response.json()
    except ValueError:
        body = response.text
    if response.status_code >= 400:
        raise AdminError(response.status_code, body)
    return body


class SimulatorAdmin:
    """Blocking client of the admin endpoints. ``workspace`` is the default for agent calls."""

    def __init__(self, base_url: str, *, workspace: str = "sandbox", timeout: float = 10.0) -> None:
        self.root_url = root_url(base_url)
        self._r = _Requests(workspace)
        self._client = httpx.Client(base_url=self.root_url, timeout=timeout)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> SimulatorAdmin:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _do(self, request: Request) -> Any:
        method, path, kwargs = request
        return _result(self._client.request(method, path, **kwargs))

    def wait_ready(self, within: float = 10.0) -> dict[str, Any]:
        """Poll ``/_sim/health`` until the simulator answers (e.g. just after spawning it)."""
        deadline = time.monotonic() + within
        while True:
            try:
                result: dict[str, Any] = self._do(self._r.health())
                return result
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def health(self) -> dict[str, Any]:
        return dict(self._do(self._r.health()))

    def state(self) -> dict[str, Any]:
        return dict(self._do(self._r.state()))

    def set_faults(
        self, faults: FaultConfig | Mapping[str, Any] | None = None, **changes: Any
    ) -> dict[str, Any]:
        return dict(self._do(self._r.set_faults(faults, changes)))

    def clear_faults(self) -> dict[str, Any]:
        return dict(self._do(self._r.clear_faults()))

    def set_latency(self, seconds: float, jitter: float = 0.0) -> dict[str, Any]:
        return dict(self._do(self._r.set_latency(seconds, jitter)))

    def clock(self) -> dict[str, Any]:
        return dict(self._do(self._r.clock()))

    def set_clock(
        self,
        *,
        step_seconds: float | None = None,
        delete_seconds: float | None = None,
        stale_failed_seconds: float | None = None,
        advance: float | None = None,
    ) -> dict[str, Any]:
        changes = {
            "step_seconds": step_seconds,
            "delete_seconds": delete_seconds,
            "stale_failed_seconds": stale_failed_seconds,
            "advance": advance,
        }
        return dict(self._do(self._r.set_clock(changes)))

    def set_rate_limit(self, rate: float | None, burst: int | None = None) -> dict[str, Any]:
        return dict(self._do(self._r.set_rate_limit(rate, burst)))

    def agents(self, workspace: str | None = None) -> list[dict[str, Any]]:
        return list(self._do(self._r.agents(workspace))["agents"])

    def agent(self, name: str, workspace: str | None = None) -> dict[str, Any] | None:
        try:
            return dict(self._do(self._r.agent(name, workspace)))
        except AdminError as error:
            if error.status == 404:
                return None
            raise

    def seed_agent(
        self,
        agent: Mapping[str, Any],
        *,
        workspace: str | None = None,
        settled: bool = True,
        created_by: str | None = None,
    ) -> dict[str, Any]:
        return dict(self._do(self._r.seed_agent(agent, workspace, settled, created_by)))

    def edit_agent(
        self,
        name: str,
        patch: Mapping[str, Any],
        *,
        workspace: str | None = None,
        redeploy: bool = True,
        updated_by: str | None = None,
    ) -> dict[str, Any]:
        return dict(self._do(self._r.edit_agent(name, patch, workspace, redeploy, updated_by)))

    def delete_agent(self, name: str, *, workspace: str | None = None) -> None:
        self._do(self._r.delete_agent(name, workspace))

    def fail_next_deployment(
        self,
        name: str,
        *,
        workspace: str | None = None,
        count: int | None = 1,
        message: str | None = None,
        collection: str = "agents",
    ) -> None:
        self._do(self._r.fail_next(name, workspace, count, message, collection))

    def clear_fail(self, name: str, *, workspace: str | None = None, collection: str = "agents") -> None:
        self._do(self._r.clear_fail(name, workspace, collection))

    def fail_agent_now(
        self, name: str, *, workspace: str | None = None, message: str | None = None
    ) -> dict[str, Any]:
        return dict(self._do(self._r.fail_now(name, workspace, message)))

    def calls(
        self,
        *,
        method: str | None = None,
        agent: str | None = None,
        workspace: str | None = None,
        writes_only: bool = False,
        since: int = 0,
        collection: str | None = None,
        name: str | None = None,
    ) -> list[dict[str, Any]]:
        request = self._r.calls(method, agent, workspace, writes_only, since, collection, name)
        return list(self._do(request)["calls"])

    # ---- any collection (``collection`` is its path below /v0: "functions", "integrations/connections")

    def objects(self, collection: str, workspace: str | None = None) -> list[dict[str, Any]]:
        """Every object of the collection, unmasked, oldest first."""
        return list(self._do(self._r.objects(collection, workspace))["items"])

    def object(self, collection: str, name: str, workspace: str | None = None) -> dict[str, Any] | None:
        """The object, unmasked, or None."""
        try:
            return dict(self._do(self._r.object(collection, name, workspace)))
        except AdminError as error:
            if error.status == 404:
                return None
            raise

    def seed_object(
        self,
        collection: str,
        body: Mapping[str, Any],
        *,
        workspace: str | None = None,
        settled: bool = True,
        created_by: str | None = None,
    ) -> dict[str, Any]:
        return dict(self._do(self._r.seed_object(collection, body, workspace, settled, created_by)))

    def edit_object(
        self,
        collection: str,
        name: str,
        patch: Mapping[str, Any],
        *,
        workspace: str | None = None,
        redeploy: bool = True,
        updated_by: str | None = None,
    ) -> dict[str, Any]:
        return dict(self._do(self._r.edit_object(collection, name, patch, workspace, redeploy, updated_by)))

    def delete_object(self, collection: str, name: str, *, workspace: str | None = None) -> None:
        self._do(self._r.delete_object(collection, name, workspace))

    def fail_now(
        self, collection: str, name: str, *, workspace: str | None = None, message: str | None = None
    ) -> dict[str, Any]:
        return dict(self._do(self._r.fail_now(name, workspace, message, collection)))

    def fault_rules(self) -> list[dict[str, Any]]:
        return list(self._do(self._r.fault_rules())["rules"])

    def set_fault_rules(self, rules: list[FaultConfig | Mapping[str, Any]]) -> list[dict[str, Any]]:
        return list(self._do(self._r.set_fault_rules(rules))["rules"])

    def add_fault_rule(
        self, rule: FaultConfig | Mapping[str, Any] | None = None, **fields: Any
    ) -> list[dict[str, Any]]:
        return list(self._do(self._r.add_fault_rule(rule, fields))["rules"])

    def clear_fault_rules(self) -> None:
        self._do(self._r.clear_fault_rules())

    def settings(self) -> dict[str, Any]:
        return dict(self._do(self._r.settings()))

    def set_settings(
        self,
        *,
        put_semantics: str | None = _UNSET,
        require_workspace: bool | None = _UNSET,
        admin_keys: list[str] | None = _UNSET,
    ) -> dict[str, Any]:
        """Change what is given (``admin_keys=None``: every key is an admin again)."""
        changes = {
            "put_semantics": put_semantics,
            "require_workspace": require_workspace,
            "admin_keys": admin_keys,
        }
        return dict(self._do(self._r.set_settings(changes)))

    def reset_calls(self) -> None:
        self._do(self._r.reset_calls())

    def reset(self) -> None:
        self._do(self._r.reset())


class AsyncSimulatorAdmin:
    """asyncio client of the admin endpoints (same methods as :class:`SimulatorAdmin`, awaited)."""

    def __init__(self, base_url: str, *, workspace: str = "sandbox", timeout: float = 10.0) -> None:
        self.root_url = root_url(base_url)
        self._r = _Requests(workspace)
        self._client = httpx.AsyncClient(base_url=self.root_url, timeout=timeout)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> AsyncSimulatorAdmin:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _do(self, request: Request) -> Any:
        method, path, kwargs = request
        return _result(await self._client.request(method, path, **kwargs))

    async def wait_ready(self, within: float = 10.0) -> dict[str, Any]:
        deadline = time.monotonic() + within
        while True:
            try:
                result: dict[str, Any] = await self._do(self._r.health())
                return result
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.05)

    async def health(self) -> dict[str, Any]:
        return dict(await self._do(self._r.health()))

    async def state(self) -> dict[str, Any]:
        return dict(await self._do(self._r.state()))

    async def set_faults(
        self, faults: FaultConfig | Mapping[str, Any] | None = None, **changes: Any
    ) -> dict[str, Any]:
        return dict(await self._do(self._r.set_faults(faults, changes)))

    async def clear_faults(self) -> dict[str, Any]:
        return dict(await self._do(self._r.clear_faults()))

    async def set_latency(self, seconds: float, jitter: float = 0.0) -> dict[str, Any]:
        return dict(await self._do(self._r.set_latency(seconds, jitter)))

    async def clock(self) -> dict[str, Any]:
        return dict(await self._do(self._r.clock()))

    async def set_clock(
        self,
        *,
        step_seconds: float | None = None,
        delete_seconds: float | None = None,
        stale_failed_seconds: float | None = None,
        advance: float | None = None,
    ) -> dict[str, Any]:
        changes = {
            "step_seconds": step_seconds,
            "delete_seconds": delete_seconds,
            "stale_failed_seconds": stale_failed_seconds,
            "advance": advance,
        }
        return dict(await self._do(self._r.set_clock(changes)))

    async def set_rate_limit(self, rate: float | None, burst: int | None = None) -> dict[str, Any]:
        return dict(await self._do(self._r.set_rate_limit(rate, burst)))

    async def agents(self, workspace: str | None = None) -> list[dict[str, Any]]:
        return list((await self._do(self._r.agents(workspace)))["agents"])

    async def agent(self, name: str, workspace: str | None = None) -> dict[str, Any] | None:
        try:
            return dict(await self._do(self._r.agent(name, workspace)))
        except AdminError as error:
            if error.status == 404:
                return None
            raise

    async def seed_agent(
        self,
        agent: Mapping[str, Any],
        *,
        workspace: str | None = None,
        settled: bool = True,
        created_by: str | None = None,
    ) -> dict[str, Any]:
        return dict(await self._do(self._r.seed_agent(agent, workspace, settled, created_by)))

    async def edit_agent(
        self,
        name: str,
        patch: Mapping[str, Any],
        *,
        workspace: str | None = None,
        redeploy: bool = True,
        updated_by: str | None = None,
    ) -> dict[str, Any]:
        return dict(await self._do(self._r.edit_agent(name, patch, workspace, redeploy, updated_by)))

    async def delete_agent(self, name: str, *, workspace: str | None = None) -> None:
        await self._do(self._r.delete_agent(name, workspace))

    async def fail_next_deployment(
        self,
        name: str,
        *,
        workspace: str | None = None,
        count: int | None = 1,
        message: str | None = None,
        collection: str = "agents",
    ) -> None:
        await self._do(self._r.fail_next(name, workspace, count, message, collection))

    async def clear_fail(
        self, name: str, *, workspace: str | None = None, collection: str = "agents"
    ) -> None:
        await self._do(self._r.clear_fail(name, workspace, collection))

    async def fail_agent_now(
        self, name: str, *, workspace: str | None = None, message: str | None = None
    ) -> dict[str, Any]:
        return dict(await self._do(self._r.fail_now(name, workspace, message)))

    async def calls(
        self,
        *,
        method: str | None = None,
        agent: str | None = None,
        workspace: str | None = None,
        writes_only: bool = False,
        since: int = 0,
        collection: str | None = None,
        name: str | None = None,
    ) -> list[dict[str, Any]]:
        request = self._r.calls(method, agent, workspace, writes_only, since, collection, name)
        return list((await self._do(request))["calls"])

    # ---- any collection (``collection`` is its path below /v0: "functions", "integrations/connections")

    async def objects(self, collection: str, workspace: str | None = None) -> list[dict[str, Any]]:
        """Every object of the collection, unmasked, oldest first."""
        return list((await self._do(self._r.objects(collection, workspace)))["items"])

    async def object(self, collection: str, name: str, workspace: str | None = None) -> dict[str, Any] | None:
        """The object, unmasked, or None."""
        try:
            return dict(await self._do(self._r.object(collection, name, workspace)))
        except AdminError as error:
            if error.status == 404:
                return None
            raise

    async def seed_object(
        self,
        collection: str,
        body: Mapping[str, Any],
        *,
        workspace: str | None = None,
        settled: bool = True,
        created_by: str | None = None,
    ) -> dict[str, Any]:
        return dict(await self._do(self._r.seed_object(collection, body, workspace, settled, created_by)))

    async def edit_object(
        self,
        collection: str,
        name: str,
        patch: Mapping[str, Any],
        *,
        workspace: str | None = None,
        redeploy: bool = True,
        updated_by: str | None = None,
    ) -> dict[str, Any]:
        return dict(
            await self._do(self._r.edit_object(collection, name, patch, workspace, redeploy, updated_by))
        )

    async def delete_object(self, collection: str, name: str, *, workspace: str | None = None) -> None:
        await self._do(self._r.delete_object(collection, name, workspace))

    async def fail_now(
        self, collection: str, name: str, *, workspace: str | None = None, message: str | None = None
    ) -> dict[str, Any]:
        return dict(await self._do(self._r.fail_now(name, workspace, message, collection)))

    async def fault_rules(self) -> list[dict[str, Any]]:
        return list((await self._do(self._r.fault_rules()))["rules"])

    async def set_fault_rules(self, rules: list[FaultConfig | Mapping[str, Any]]) -> list[dict[str, Any]]:
        return list((await self._do(self._r.set_fault_rules(rules)))["rules"])

    async def add_fault_rule(
        self, rule: FaultConfig | Mapping[str, Any] | None = None, **fields: Any
    ) -> list[dict[str, Any]]:
        return list((await self._do(self._r.add_fault_rule(rule, fields)))["rules"])

    async def clear_fault_rules(self) -> None:
        await self._do(self._r.clear_fault_rules())

    async def settings(self) -> dict[str, Any]:
        return dict(await self._do(self._r.settings()))

    async def set_settings(
        self,
        *,
        put_semantics: str | None = _UNSET,
        require_workspace: bool | None = _UNSET,
        admin_keys: list[str] | None = _UNSET,
    ) -> dict[str, Any]:
        """Change what is given (``admin_keys=None``: every key is an admin again)."""
        changes = {
            "put_semantics": put_semantics,
            "require_workspace": require_workspace,
            "admin_keys": admin_keys,
        }
        return dict(await self._do(self._r.set_settings(changes)))

    async def reset_calls(self) -> None:
        await self._do(self._r.reset_calls())

    async def reset(self) -> None:
        await self._do(self._r.reset())
