"""Fixtures of the Blaxel API simulator's tests: a simulator on a loopback port and HTTP clients.

Every response the ``api`` client receives is checked against Blaxel's OpenAPI description
(``../shared/blaxel/controlplane.yml`` beside the repository) when that file exists.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
import yaml

from blaxel_operator.simulator import BlaxelSimulator, SimulatorConfig

REPO_ROOT = Path(__file__).resolve().parents[2]
SPEC_RELATIVE = Path("shared/blaxel/controlplane.yml")
#: Overrides where Blaxel's description is looked for (e.g. from a checkout in another place).
SPEC_ENV = "BLAXEL_CONTROLPLANE_SPEC"


def find_spec_path() -> Path:
    """``$BLAXEL_CONTROLPLANE_SPEC``, else ``shared/blaxel/controlplane.yml`` in the nearest parent of the
    repository that has one (``../shared`` for a main checkout, further up for a worktree); else the
    ``../shared`` place, which then does not exist."""
    override = os.environ.get(SPEC_ENV)
    if override:
        return Path(override)
    for parent in REPO_ROOT.parents:
        candidate = parent / SPEC_RELATIVE
        if candidate.exists():
            return candidate
    return REPO_ROOT.parent / SPEC_RELATIVE


SPEC_PATH = find_spec_path()
SPEC_MISSING_REASON = (
    f"Blaxel's OpenAPI description is not available at {SPEC_PATH} "
    "(it lives outside the repository; the contract check runs only where it exists)"
)

KEY = "sim-key"
OTHER_KEY = "other-key"
PAGINATED = {"Blaxel-Version": "2026-04-28"}


# --------------------------------------------------------------------------- contract checking

#: Paginated lists whose items are a "lite" projection; the bare arrays of older versions carry the
#: full objects ("older API versions return a bare array" of volumes; the docs' example is full).
BARE_LIST_ITEMS = {"LiteVolume": "Volume"}


class OpenApiContract:
    """Checks bodies against the OpenAPI 3.0 description, with its quirks turned into JSON Schema.

    ``$ref`` is resolved into ``components``, ``allOf`` of objects is flattened, ``nullable`` becomes
    a ``null`` type, read-only properties are left out of requests and write-only ones out of
    responses, and objects with declared properties reject undeclared ones (``strict``), so a field
    the simulator invents or a request field the API does not know is caught.
    """

    def __init__(self, document: dict[str, Any], *, strict: bool = True) -> None:
        self.document = document
        self.schemas: dict[str, Any] = document["components"]["schemas"]
        self.strict = strict
        self._paths = [
            (re.compile("^" + re.sub(r"\{[^/]+\}", "[^/]+", template) + "$"), template)
            for template in document["paths"]
        ]

    def json_schema(self, schema: dict[str, Any], mode: str, depth: int = 0) -> dict[str, Any]:
        assert mode in ("request", "response")
        if depth > 40:
            return {}
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[-1]
            return self.json_schema(self.schemas[name], mode, depth + 1)
        result: dict[str, Any] = {
            k: v
            for k, v in schema.items()
            if k not in ("allOf", "properties", "items", "additionalProperties", "nullable", "required")
            and not k.startswith("x-")
            and k not in ("readOnly", "writeOnly", "example", "discriminator", "xml", "externalDocs")
        }
        properties: dict[str, Any] = {}
        required: list[str] = list(schema.get("required", []))
        for part in schema.get("allOf", []):
            flat = self.json_schema(part, mode, depth + 1)
            properties.update(flat.get("properties", {}))
            required.extend(flat.get("required", []))
            if flat.get("type") == "object":
                result["type"] = "object"
        hidden = "readOnly" if mode == "request" else "writeOnly"
        for key, sub in schema.get("properties", {}).items():
            resolved = self._resolve(sub)
            if resolved.get(hidden):
                required = [r for r in required if r != key]
                continue
            properties[key] = self.json_schema(sub, mode, depth + 1)
        if properties:
            result["properties"] = properties
        if required:
            result["required"] = sorted(set(required) & set(properties) if properties else set(required))
        if "items" in schema:
            result["items"] = self.json_schema(schema["items"], mode, depth + 1)
        additional = schema.get("additionalProperties")
        if isinstance(additional, dict):
            result["additionalProperties"] = self.json_schema(additional, mode, depth + 1)
        elif additional is not None:
            result["additionalProperties"] = additional
        elif self.strict and properties:
            result["additionalProperties"] = False
        if schema.get("nullable") and "type" in result:
            result["type"] = [result["type"], "null"]
            if "enum" in result:
                result["enum"] = [*result["enum"], None]
        return result

    def _resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            schema = self.schemas[schema["$ref"].rsplit("/", 1)[-1]]
        return schema

    def component(self, name: str, mode: str) -> dict[str, Any]:
        return self.json_schema({"$ref": f"#/components/schemas/{name}"}, mode)

    def find_operation(self, method: str, path: str) -> dict[str, Any] | None:
        api_path = path.removeprefix("/v0")
        # a literal segment wins over a parameter (/integrations/connections vs /integrations/{name})
        matching = sorted(
            (template.count("{"), template) for pattern, template in self._paths if pattern.match(api_path)
        )
        if not matching:
            return None
        operation = self.document["paths"][matching[0][1]].get(method.lower())
        return None if operation is None else dict(operation)

    def operation(self, method: str, path: str) -> dict[str, Any]:
        operation = self.find_operation(method, path)
        if operation is None:
            raise AssertionError(f"{method} {path} is not in the API description")
        return operation

    def check(self, instance: Any, schema: dict[str, Any], what: str) -> None:
        errors = sorted(jsonschema.Draft4Validator(schema).iter_errors(instance), key=lambda e: list(e.path))
        if errors:
            details = "; ".join(f"{'/'.join(map(str, e.path)) or '<root>'}: {e.message}" for e in errors[:5])
            raise AssertionError(f"{what} violates the API description: {details}")

    def check_request(self, method: str, path: str, body: Any) -> None:
        operation = self.operation(method, path)
        schema = operation["requestBody"]["content"]["application/json"]["schema"]
        self.check(body, self.json_schema(schema, "request"), f"request {method} {path}")

    def check_response(self, method: str, path: str, status: int, body: Any) -> bool:
        """Check a response body; False when the description has nothing to check it against."""
        operation = self.find_operation(method, path)
        if operation is None and status < 400:
            raise AssertionError(f"{method} {path} answered {status} but is not in the API description")
        response = (operation or {}).get("responses", {}).get(str(status))
        what = f"response {status} to {method} {path}"
        if response is None:
            if status >= 400 and isinstance(body, dict) and isinstance(body.get("error"), str):
                self.check(body, self.component("Error", "response"), what)
                return True
            return False
        schema = response.get("content", {}).get("application/json", {}).get("schema")
        if schema is None:
            return False
        if isinstance(body, list) and self._resolve(schema).get("properties", {}).get("data"):
            # before Blaxel-Version 2026-04-28 a list endpoint answers a bare array of its items
            schema = self._resolve(schema)["properties"]["data"]
            item = schema.get("items", {}).get("$ref", "").rsplit("/", 1)[-1]
            if item in BARE_LIST_ITEMS:
                schema = {"type": "array", "items": {"$ref": f"#/components/schemas/{BARE_LIST_ITEMS[item]}"}}
        self.check(body, self.json_schema(schema, "response"), what)
        return True


@pytest.fixture(scope="session")
def openapi_contract() -> OpenApiContract | None:
    if not SPEC_PATH.exists():
        return None
    with SPEC_PATH.open() as handle:
        return OpenApiContract(yaml.safe_load(handle))


@pytest.fixture
def contract(openapi_contract: OpenApiContract | None) -> OpenApiContract:
    if openapi_contract is None:
        pytest.skip(SPEC_MISSING_REASON)
    return openapi_contract


# --------------------------------------------------------------------------- simulator and clients


@pytest.fixture
def sim_config() -> SimulatorConfig:
    return SimulatorConfig(
        api_keys={KEY: ["sandbox", "team"], OTHER_KEY: ["elsewhere"]},
        step_seconds=0.05,
        delete_seconds=0.1,
        seed=1234,
    )


@pytest.fixture
async def sim(sim_config: SimulatorConfig) -> AsyncIterator[BlaxelSimulator]:
    simulator = BlaxelSimulator(sim_config)
    await simulator.start()
    try:
        yield simulator
    finally:
        await simulator.stop()


@dataclass
class Exchange:
    method: str
    path: str
    status: int
    body: Any


@dataclass
class Recorder:
    exchanges: list[Exchange] = field(default_factory=list)

    async def hook(self, response: httpx.Response) -> None:
        await response.aread()
        try:
            body = response.json()
        except ValueError:
            body = None
        self.exchanges.append(
            Exchange(response.request.method, response.request.url.path, response.status_code, body)
        )


@pytest.fixture
async def api(
    sim: BlaxelSimulator, openapi_contract: OpenApiContract | None
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the simulator's API (sim-key, workspace sandbox); responses are contract-checked.

    Hostile answers break the contract on purpose: their tests use their own client."""
    recorder = Recorder()
    async with httpx.AsyncClient(
        base_url=sim.url,
        headers={"Authorization": f"Bearer {KEY}", "X-Blaxel-Workspace": "sandbox"},
        timeout=5.0,
        event_hooks={"response": [recorder.hook]},
    ) as client:
        yield client
    if openapi_contract is not None:
        for exchange in recorder.exchanges:
            if exchange.path.startswith("/v0/") and exchange.body is not None:
                openapi_contract.check_response(
                    exchange.method, exchange.path, exchange.status, exchange.body
                )


@pytest.fixture
async def raw(sim: BlaxelSimulator) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the simulator without credentials (tests add their own headers)."""
    async with httpx.AsyncClient(base_url=sim.url, timeout=5.0) as client:
        yield client


def agent_body(name: str, **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"metadata": {"name": name}, "spec": spec}
    return body


@pytest.fixture
def make_agent() -> Callable[..., dict[str, Any]]:
    """``make_agent("name", runtime={...})`` -> an Agent request body."""
    return agent_body


Poll = Callable[..., Awaitable[dict[str, Any]]]


@pytest.fixture
def poll_status(api: httpx.AsyncClient) -> Poll:
    """GET the agent until its status is one of ``statuses`` (deadline-bounded poll of the clock)."""

    async def poll(name: str, *statuses: str, within: float = 5.0) -> dict[str, Any]:
        deadline = time.monotonic() + within
        while True:
            response = await api.get(f"/agents/{name}")
            assert response.status_code == 200, response.text
            agent: dict[str, Any] = response.json()
            if agent["status"] in statuses:
                return agent
            if time.monotonic() > deadline:
                raise AssertionError(f"{name} stayed {agent['status']}, wanted {statuses}")
            await asyncio.sleep(0.01)

    return poll


@pytest.fixture
def poll_gone(api: httpx.AsyncClient) -> Callable[..., Awaitable[None]]:
    async def poll(name: str, within: float = 5.0) -> None:
        deadline = time.monotonic() + within
        while True:
            response = await api.get(f"/agents/{name}")
            if response.status_code == 404:
                return
            assert response.status_code == 200, response.text
            if time.monotonic() > deadline:
                raise AssertionError(f"{name} is still there: {response.json()['status']}")
            await asyncio.sleep(0.01)

    return poll


@pytest.fixture
def poll_object(api: httpx.AsyncClient) -> Callable[..., Awaitable[dict[str, Any]]]:
    """GET ``/{collection}/{name}`` until its status is one of ``statuses`` (deadline-bounded)."""

    async def poll(collection: str, name: str, *statuses: str, within: float = 5.0) -> dict[str, Any]:
        deadline = time.monotonic() + within
        while True:
            response = await api.get(f"/{collection}/{name}")
            assert response.status_code == 200, response.text
            found: dict[str, Any] = response.json()
            if found.get("status") in statuses:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"{collection}/{name} stayed {found.get('status')}, wanted {statuses}")
            await asyncio.sleep(0.01)

    return poll
