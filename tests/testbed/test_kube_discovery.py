"""Discovery, CRDs created through the API, OpenAPI, Tables, the in-process helpers."""

from __future__ import annotations

import copy
from typing import Any

import yaml

from blaxel_devkit.kube import KubeApiError, KubeEmulator

from .helpers import AGENTS, CRDS, Api, agent

CRD_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"


def _thing_crd(scope: str = "Namespaced") -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "things.example.com"},
        "spec": {
            "group": "example.com",
            "scope": scope,
            "names": {"kind": "Thing", "plural": "things", "singular": "thing", "shortNames": ["th"]},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {"type": "object", "properties": {"spec": {"type": "object"}}}
                    },
                }
            ],
        },
    }


async def test_core_resources_are_discoverable(api: Api) -> None:
    rsp = await api.get("/api/v1")
    resources = {r["name"]: r for r in rsp.body["resources"]}
    assert resources["namespaces"]["namespaced"] is False
    assert resources["namespaces"]["kind"] == "Namespace"
    assert {"secrets", "configmaps", "events", "namespaces/status"} <= set(resources)
    assert "watch" in resources["secrets"]["verbs"]


async def test_kopf_peering_resources_are_discoverable(api: Api) -> None:
    groups = {g["name"] for g in (await api.get("/apis")).body["groups"]}
    assert {"kopf.dev", "events.k8s.io", "apiextensions.k8s.io", "blaxel.ai"} <= groups
    rsp = await api.get("/apis/kopf.dev/v1")
    resources = {r["name"]: r["namespaced"] for r in rsp.body["resources"]}
    assert resources == {"clusterkopfpeerings": False, "kopfpeerings": True}


async def test_crd_resources_are_discoverable_with_names_and_subresources(api: Api) -> None:
    group = (await api.get("/apis/blaxel.ai")).body
    assert group["preferredVersion"] == {"groupVersion": "blaxel.ai/v1alpha1", "version": "v1alpha1"}
    rsp = await api.get("/apis/blaxel.ai/v1alpha1")
    resources = {r["name"]: r for r in rsp.body["resources"]}
    main = resources["blaxelagents"]
    assert main["kind"] == "BlaxelAgent"
    assert main["namespaced"] is True
    assert main["shortNames"] == ["bla", "blagent"]
    assert main["categories"] == ["blaxel"]
    assert main["singularName"] == "blaxelagent"
    assert set(main["verbs"]) == {
        "create",
        "delete",
        "deletecollection",
        "get",
        "list",
        "patch",
        "update",
        "watch",
    }
    assert resources["blaxelagents/status"]["verbs"] == ["get", "patch", "update"]


async def test_crd_created_through_the_api_is_served_at_once(api: Api) -> None:
    created = await api.create(CRD_PATH, _thing_crd())
    conditions = {c["type"]: c["status"] for c in created["status"]["conditions"]}
    assert conditions == {"NamesAccepted": "True", "Established": "True"}
    assert (await api.get("/apis/example.com/v1")).body["resources"][0]["name"] == "things"
    thing = {"apiVersion": "example.com/v1", "kind": "Thing", "metadata": {"name": "t"}, "spec": {"a": 1}}
    assert (await api.post("/apis/example.com/v1/namespaces/default/things", thing)).status == 201


async def test_deleting_a_crd_stops_serving_it_and_deletes_its_objects(api: Api) -> None:
    await api.create(CRD_PATH, _thing_crd("Cluster"))
    thing = {"apiVersion": "example.com/v1", "kind": "Thing", "metadata": {"name": "t"}}
    await api.create("/apis/example.com/v1/things", thing)
    assert (await api.delete(f"{CRD_PATH}/things.example.com")).status == 200
    assert (await api.get("/apis/example.com/v1/things")).status == 404
    assert (await api.get("/apis/example.com/v1")).status == 404
    await api.create(CRD_PATH, _thing_crd("Cluster"))
    assert (await api.get("/apis/example.com/v1/things")).body["items"] == []


async def test_invalid_crd_is_rejected(api: Api) -> None:
    crd = _thing_crd()
    crd["metadata"]["name"] = "wrong.example.com"
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["x-kubernetes-validations"] = [
        {"rule": "self.a >"}
    ]
    rsp = await api.post(CRD_PATH, crd)
    assert rsp.status == 422
    assert (
        'metadata.name: Invalid value: "wrong.example.com": must be spec.names.plural+"."+spec.group'
        in rsp.message
    )
    assert "x-kubernetes-validations[0].rule" in rsp.message


async def test_crds_loaded_from_the_directory_are_listed(api: Api) -> None:
    rsp = await api.get(CRD_PATH)
    names = {i["metadata"]["name"] for i in rsp.body["items"]}
    assert {"blaxelagents.blaxel.ai", "kopfpeerings.kopf.dev", "clusterkopfpeerings.kopf.dev"} <= names


async def test_openapi_v3_declares_field_validation_for_patch(api: Api) -> None:
    root = (await api.get("/openapi/v3")).body
    url = root["paths"]["apis/blaxel.ai/v1alpha1"]["serverRelativeURL"]
    assert "?hash=" in url
    doc = (await api.get(url.split("?")[0])).body
    patch = doc["paths"]["/apis/blaxel.ai/v1alpha1/namespaces/{namespace}/blaxelagents/{name}"]["patch"]
    assert patch["x-kubernetes-group-version-kind"] == {
        "group": "blaxel.ai",
        "version": "v1alpha1",
        "kind": "BlaxelAgent",
    }
    assert any(p["name"] == "fieldValidation" for p in patch["parameters"])
    assert (await api.get("/openapi/v2")).status == 404


async def test_table_has_the_printer_columns_and_evaluates_json_paths(api: Api) -> None:
    await api.create(AGENTS, agent())
    status = {
        "conditions": [
            {"type": "Synced", "status": "False"},
            {"type": "Ready", "status": "True", "reason": "Up"},
        ],
        "atProvider": {"status": "DEPLOYED", "url": "https://a.example", "name": "agent-1"},
    }
    await api.patch(f"{AGENTS}/agent-1/status", {"status": status})
    rsp = await api.get(AGENTS, headers={"Accept": TABLE})
    assert rsp.body["kind"] == "Table"
    names = [c["name"] for c in rsp.body["columnDefinitions"]]
    assert names == ["Name", "Ready", "Synced", "Status", "URL", "Reason", "Agent", "Age"]
    assert [c["priority"] for c in rsp.body["columnDefinitions"]] == [0, 0, 0, 0, 0, 1, 1, 0]
    cells = rsp.body["rows"][0]["cells"]
    assert cells[:7] == ["agent-1", "True", "False", "DEPLOYED", "https://a.example", "Up", "agent-1"]
    assert cells[7].endswith("s")  # an age like "0s"
    assert rsp.body["rows"][0]["object"]["kind"] == "PartialObjectMetadata"


async def test_table_of_a_single_object_without_status_has_empty_cells(api: Api) -> None:
    await api.create(AGENTS, agent())
    rsp = await api.get(f"{AGENTS}/agent-1", headers={"Accept": TABLE})
    assert rsp.body["rows"][0]["cells"][:5] == ["agent-1", None, None, None, None]


async def test_in_process_helpers(kube: KubeEmulator) -> None:
    created = kube.create_object("blaxel.ai", "v1alpha1", "blaxelagents", agent())
    assert created["spec"]["deletionPolicy"] == "Delete"
    patched = kube.patch_object(
        "blaxel.ai",
        "v1alpha1",
        "blaxelagents",
        "default",
        "agent-1",
        {"status": {"observedGeneration": 1}},
        subresource="status",
    )
    assert patched["status"] == {"observedGeneration": 1}
    listed = kube.list_objects("blaxel.ai", "v1alpha1", "blaxelagents", "default")
    assert [o["metadata"]["name"] for o in listed] == ["agent-1"]
    copy_ = kube.get_object("blaxel.ai", "v1alpha1", "blaxelagents", "default", "agent-1")
    assert copy_ is not None
    copy_["spec"]["displayName"] = "not stored"
    stored = kube.get_object("blaxel.ai", "v1alpha1", "blaxelagents", "default", "agent-1")
    assert stored is not None and "displayName" not in stored["spec"]
    try:
        kube.create_object("blaxel.ai", "v1alpha1", "blaxelagents", agent())
    except KubeApiError as exc:
        assert exc.code == 409
    else:
        raise AssertionError("expected AlreadyExists")
    kube.delete_object("blaxel.ai", "v1alpha1", "blaxelagents", "default", "agent-1")
    await kube.wait_for_absence("blaxel.ai", "v1alpha1", "blaxelagents", "default", "agent-1", timeout=1)


async def test_install_crd_replaces_a_crd() -> None:
    crd = yaml.safe_load((CRDS / "blaxel.ai_blaxelagents.yaml").read_text())
    changed = copy.deepcopy(crd)
    changed["spec"]["names"]["shortNames"] = ["zz"]
    async with KubeEmulator(crds=[crd]) as kube:
        kube.install_crd(changed)
        assert kube.resource("blaxel.ai", "v1alpha1", "blaxelagents").short_names == ["zz"]


async def test_partial_object_metadata_list(api: Api) -> None:
    await api.create(AGENTS, agent())
    accept = "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io,application/json"
    rsp = await api.get(AGENTS, headers={"Accept": accept})
    assert rsp.body["kind"] == "PartialObjectMetadataList"
    assert rsp.body["items"][0]["kind"] == "PartialObjectMetadata"
    assert rsp.body["items"][0]["metadata"]["name"] == "agent-1"
    assert "spec" not in rsp.body["items"][0]
