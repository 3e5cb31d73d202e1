"""Contract of every collection: what the simulator serves and answers against Blaxel's description.

Three checks per collection: the paths and methods served are in the description (and the
simulator's table agrees with what the description documents: revisions, show_secrets, paging,
the status filter); the simulator's request schemas transcribe the published ones field by field;
and real exchanges (create, conflict, invalid, get, put, lists in both versions, missing, delete)
validate against the published request and response schemas. Skipped where the description is absent.
"""

from __future__ import annotations

import copy
from typing import Any

import httpx
import pytest

from blaxel_operator.simulator import COLLECTIONS, BlaxelSimulator
from blaxel_operator.simulator.validation import SCHEMAS

from .bodies import COLLECTION_PATHS, FACTS, full_body
from .conftest import PAGINATED, OpenApiContract

#: Where the simulator's request schemas knowingly differ from the published ones, and why.
KNOWN_DEVIATIONS = {
    # `bl apply` manifests carry these; the API ignores them
    "apiVersion: extra",
    "kind: extra",
    # a missing (or null) spec is an empty one, as the agents simulator always accepted
    "<root>: required",
    # an env without a name, a volume attachment without a name cannot mean anything
    "spec.runtime.envs[]: required",
    "spec.volumes[]: required",
    # not marked read-only, but "computed by the policies listing endpoint": a client's is ignored
    "usage: read-only",
}


def _resolve(contract: OpenApiContract, schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = contract.schemas[schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _flatten(contract: OpenApiContract, schema: dict[str, Any]) -> tuple[dict[str, Any], set[str]]:
    schema = _resolve(contract, schema)
    properties = dict(schema.get("properties", {}))
    required = set(schema.get("required", []))
    for part in schema.get("allOf", []):
        more, more_required = _flatten(contract, part)
        properties.update(more)
        required |= more_required
    return properties, required


def compare(
    contract: OpenApiContract, published: dict[str, Any], mine: dict[str, Any], path: str, out: list[str]
) -> None:
    """Differences between a published schema and the simulator's (``path: what``)."""
    published = _resolve(contract, published)
    where = path or "<root>"
    is_object = "allOf" in published or "properties" in published or published.get("type") == "object"
    kind = "object" if is_object else published.get("type")
    if mine.get("type") is None:  # the simulator treats it as read-only
        if not published.get("readOnly"):
            out.append(f"{where}: read-only")
        return
    if published.get("readOnly"):
        out.append(f"{where}: writable")
    if kind != mine.get("type"):
        out.append(f"{where}: type {mine.get('type')} instead of {kind}")
        return
    if kind == "string" and set(published.get("enum", [])) != set(mine.get("enum", [])):
        out.append(f"{where}: enum {mine.get('enum')} instead of {published.get('enum')}")
    if kind == "array":
        compare(contract, published["items"], mine["items"], f"{path}[]", out)
    if kind != "object" or mine.get("free"):
        return
    additional = published.get("additionalProperties")
    if isinstance(additional, dict):
        if "additionalProperties" not in mine:
            out.append(f"{where}: fixed fields instead of a map")
            return
        compare(contract, additional, mine["additionalProperties"], f"{path}{{}}", out)
        return
    properties, required = _flatten(contract, published)
    own = mine.get("properties", {})
    for key, sub in properties.items():
        if key not in own:
            out.append(f"{path + '.' if path else ''}{key}: missing")
        else:
            compare(contract, sub, own[key], f"{path + '.' if path else ''}{key}", out)
    out.extend(f"{path + '.' if path else ''}{key}: extra" for key in own if key not in properties)
    if required != set(mine.get("required", ())):
        out.append(f"{where}: required")


@pytest.mark.parametrize("kind", list(SCHEMAS))
def test_request_schemas_transcribe_the_description(contract: OpenApiContract, kind: str) -> None:
    differences: list[str] = []
    compare(contract, {"$ref": f"#/components/schemas/{kind}"}, SCHEMAS[kind], "", differences)
    assert sorted(set(differences) - KNOWN_DEVIATIONS) == []


def test_the_schema_comparison_can_fail(contract: OpenApiContract) -> None:
    broken = copy.deepcopy(SCHEMAS["Function"])
    broken["properties"]["invented"] = {"type": "string"}
    broken["properties"]["spec"]["properties"]["runtime"]["properties"]["transport"] = {
        "type": "string",
        "enum": ("ws",),
    }
    del broken["properties"]["spec"]["properties"]["region"]
    differences: list[str] = []
    compare(contract, {"$ref": "#/components/schemas/Function"}, broken, "", differences)
    assert "invented: extra" in differences
    assert "spec.region: missing" in differences
    assert any(d.startswith("spec.runtime.transport: enum") for d in differences)


def _parameters(contract: OpenApiContract, operation: dict[str, Any]) -> set[str]:
    names = set()
    for parameter in operation.get("parameters", []):
        if "$ref" in parameter:
            parameter = contract.document["components"]["parameters"][parameter["$ref"].rsplit("/", 1)[-1]]
        names.add(parameter.get("name"))
    return names


@pytest.mark.parametrize("path", ["agents", *COLLECTION_PATHS])
def test_served_paths_and_the_table_follow_the_description(contract: OpenApiContract, path: str) -> None:
    table = COLLECTIONS[path]
    for method, url in [
        ("GET", f"/{path}"),
        ("POST", f"/{path}"),
        ("GET", f"/{path}/x"),
        ("PUT", f"/{path}/x"),
        ("DELETE", f"/{path}/x"),
    ]:
        contract.operation(method, url)
    assert (contract.find_operation("GET", f"/{path}/x/revisions") is not None) == table.revisions
    get_one = contract.operation("GET", f"/{path}/x")
    assert ("show_secrets" in _parameters(contract, get_one)) == table.show_secrets
    listing = contract.operation("GET", f"/{path}")
    assert ("status" in _parameters(contract, listing)) == table.status_filter
    answer = _resolve(contract, listing["responses"]["200"]["content"]["application/json"]["schema"])
    assert ("data" in answer.get("properties", {})) == table.paginated
    request = contract.operation("POST", f"/{path}")["requestBody"]["content"]["application/json"]["schema"]
    assert request["$ref"].rsplit("/", 1)[-1] == table.kind
    status = (
        _resolve(contract, {"$ref": f"#/components/schemas/{table.kind}"}).get("properties", {}).get("status")
    )
    assert (status is not None) == table.has_status


def test_the_other_served_paths_are_in_the_description(contract: OpenApiContract) -> None:
    for method, url in [
        ("GET", "/policies/x/usages"),
        ("GET", "/volumes/by-external-id/x"),
        ("GET", "/workspaces"),
        ("GET", "/workspaces/x"),
    ]:
        contract.operation(method, url)


@pytest.mark.parametrize("path", COLLECTION_PATHS)
async def test_exchanges_follow_the_description(
    contract: OpenApiContract, sim: BlaxelSimulator, path: str
) -> None:
    facts = FACTS[path]
    checked: list[int] = []
    headers = {"Authorization": f"Bearer {sim.api_key}", "X-Blaxel-Workspace": sim.workspace}
    async with httpx.AsyncClient(base_url=sim.url, headers=headers, timeout=5) as api:

        async def expect(status: int, method: str, url: str, body: Any = None, **kwargs: Any) -> Any:
            if body is not None:
                contract.check_request(method, "/v0" + url, body)
            response = await api.request(method, url, json=body, **kwargs)
            assert response.status_code == status, response.text
            if contract.check_response(method, "/v0" + url, response.status_code, response.json()):
                checked.append(response.status_code)
            return response.json()

        full = full_body(path, "contract")
        await expect(200, "POST", f"/{path}", full)
        await expect(409, "POST", f"/{path}", full)
        await expect(400, "POST", f"/{path}", {"metadata": {"name": "Bad"}, "spec": {}})
        sim.advance(10)
        got = await expect(200, "GET", f"/{path}/contract")
        if facts.phases:
            assert got["status"] == facts.phases[-1]
        if facts.show_secrets:
            await expect(200, "GET", f"/{path}/contract", params={"show_secrets": "true"})
        await expect(200, "PUT", f"/{path}/contract", full)
        sim.advance(10)
        await expect(200, "GET", f"/{path}")
        await expect(200, "GET", f"/{path}", headers=PAGINATED, params={"limit": "1"})
        if facts.revisions:
            await expect(200, "GET", f"/{path}/contract/revisions")
        await expect(404, "GET", f"/{path}/nobody")
        await expect(404, "PUT", f"/{path}/nobody", full_body(path, "nobody"))
        await expect(200, "DELETE", f"/{path}/contract")
        await expect(401, "GET", f"/{path}", headers={"Authorization": "Bearer nope"})
        await expect(403, "GET", f"/{path}", headers={"X-Blaxel-Workspace": "elsewhere"})
    # every answer was checked, against its documented schema or the Error schema
    assert len(checked) == 12 + facts.show_secrets + facts.revisions


async def test_policy_usages_volume_lookups_and_workspaces_follow_the_description(
    contract: OpenApiContract, sim: BlaxelSimulator
) -> None:
    sim.seed_object("policies", full_body("policies", "eu-only"))
    sim.seed_object("functions", full_body("functions", "fn"))
    sim.seed_object("volumes", full_body("volumes", "data"))
    sim.seed_object(
        "volumes", {"metadata": {"name": "young"}, "spec": {"region": "us-pdx-1", "size": 1}}, settled=False
    )
    async with httpx.AsyncClient(base_url=sim.url, headers=sim.headers(), timeout=5) as api:
        for url, params, headers in [
            ("/policies", {}, {}),
            ("/policies", {}, PAGINATED),
            ("/policies/eu-only/usages", {}, {}),
            ("/volumes", {}, {}),
            ("/volumes", {"externalId": "c-1"}, PAGINATED),
            ("/volumes/by-external-id/c-1", {}, {}),
            ("/workspaces", {}, {}),
            ("/workspaces/sandbox", {"countResources": "true"}, {}),
        ]:
            response = await api.get(url, params=params, headers=headers)
            assert response.status_code == 200, response.text
            assert contract.check_response("GET", "/v0" + url, 200, response.json())
        await api.delete("/volumes/data")
        for headers in ({}, PAGINATED):
            listed = await api.get("/volumes", headers=headers)
            contract.check_response("GET", "/v0/volumes", 200, listed.json())
