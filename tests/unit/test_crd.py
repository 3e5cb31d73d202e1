"""The CRDs are generated from the kinds' models: the copies cannot drift, and the schema the apiserver
applies agrees field by field with the model the operator parses with."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel, ConfigDict, Field

from blaxel_operator import cli, crdgen
from blaxel_operator.core.decide import secrets_unreadable
from blaxel_operator.kinds import agent
from blaxel_operator.kinds.base import CamelModel, Kind, ResourceStatus
from blaxel_operator.kinds.registry import KINDS
from unit.test_status import core

REPO = Path(__file__).resolve().parents[2]
SECRETS_UNREADABLE = secrets_unreadable("Blaxel refused show_secrets")
COPIES = ("crds", "charts/blaxel-operator/crds", "operator/blaxel_operator/crds")


@pytest.mark.parametrize("directory", COPIES)
def test_every_copy_is_what_the_generator_writes(directory: str) -> None:
    expected = crdgen.files(KINDS)
    folder = REPO / directory
    assert sorted(p.name for p in folder.glob("*.yaml")) == sorted(expected), (
        f"{directory}: not the generated set of CRDs: run `make crds`"
    )
    for name, text in expected.items():
        assert (folder / name).read_text(encoding="utf-8") == text, (
            f"{directory}/{name} differs from the kind's model: run `make crds` (do not edit the copies)"
        )


def test_crds_subcommand_prints_and_writes_every_kind(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["crds"]) == 0
    docs = list(yaml.safe_load_all(capsys.readouterr().out))
    assert [d["spec"]["names"]["kind"] for d in docs] == [k.kind for k in KINDS]
    assert cli.main(["crds", "-d", str(tmp_path / "a"), "-d", str(tmp_path / "b")]) == 2  # not directories
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    assert cli.main(["crds", "-d", str(tmp_path / "a"), "-d", str(tmp_path / "b")]) == 0
    for folder in ("a", "b"):
        assert {p.name: p.read_text() for p in (tmp_path / folder).iterdir()} == crdgen.files(KINDS)


def test_the_agent_crd_names_columns_and_status_subresource() -> None:
    crd = crdgen.custom_resource_definition(agent.KIND)
    assert crd["metadata"]["name"] == "blaxelagents.blaxel.ai"
    assert crd["spec"]["names"] == {
        "kind": "BlaxelAgent",
        "listKind": "BlaxelAgentList",
        "plural": "blaxelagents",
        "singular": "blaxelagent",
        "shortNames": ["bla", "blagent"],
        "categories": ["blaxel"],
    }
    (version,) = crd["spec"]["versions"]
    assert version["subresources"] == {"status": {}}
    assert [c["name"] for c in version["additionalPrinterColumns"]] == [
        "Ready",
        "Synced",
        "Status",
        "URL",
        "Reason",
        "Agent",
        "Age",
    ]
    status = version["schema"]["openAPIV3Schema"]["properties"]["status"]["properties"]
    assert set(status) == {
        "observedGeneration",
        "lastSyncTime",
        "lastHandledReconcileAt",
        "appliedHash",
        "appliedTime",
        "rejectedHash",
        "conditions",
        "atProvider",
        "secretsCheck",
    }
    assert "url" in status["atProvider"]["properties"]  # the agent's own atProvider field


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.kind)
def test_every_crd_is_complete(kind: Kind) -> None:
    """Names, category, status subresource, the columns of `kubectl get`, the root rule on metadata.name
    and a status model of the kind's own (its atProvider fields declared, or the apiserver prunes them)."""
    crd = crdgen.custom_resource_definition(kind)
    names = crd["spec"]["names"]
    assert (names["kind"], names["plural"], names["categories"]) == (kind.kind, kind.plural, ["blaxel"])
    assert names["shortNames"] and names["singular"] == kind.kind.lower()
    (version,) = crd["spec"]["versions"]
    assert version["subresources"] == {"status": {}}
    columns = version["additionalPrinterColumns"]
    headers = [c["name"] for c in columns]
    assert headers[:2] == ["Ready", "Synced"] and headers[-1] == "Age"
    assert len(headers) >= 6, "READY, SYNCED, the kind's own column, REASON, the remote name, AGE"
    wide = [c["name"] for c in columns if c.get("priority") == 1]
    assert "Reason" in wide and {c["jsonPath"] for c in columns if c.get("priority") == 1} >= {
        ".status.atProvider.name"
    }
    assert all(c["jsonPath"].startswith((".status.", ".metadata.")) for c in columns)
    root = version["schema"]["openAPIV3Schema"]
    (name_rule,) = [r for r in root.get("x-kubernetes-validations", []) if "self.metadata.name" in r["rule"]]
    assert "set spec." in name_rule["message"]
    assert kind.status_model is not None and kind.status_model is not ResourceStatus
    at_provider = root["properties"]["status"]["properties"]["atProvider"]["properties"]
    for column in columns:
        path = column["jsonPath"]
        if path.startswith(".status.atProvider."):
            assert path.rsplit(".", 1)[1] in at_provider, f"column {column['name']} reads an undeclared field"


def test_the_status_model_declares_every_status_field_the_operator_writes() -> None:
    """The apiserver prunes undeclared status fields silently: the model (extra fields forbidden) must
    accept every status the core writes."""
    now = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    remote = {
        "metadata": {
            **{k: "x" for k in ("name", "workspace", "url", "createdAt", "updatedAt", "createdBy")},
            **{k: "x" for k in ("updatedBy", "plan")},
        },
        "spec": {"revision": {"active": "rev-1"}},
        "status": "DEPLOYED",
        "events": [{k: "x" for k in ("type", "status", "message", "revision", "canaryRevision", "time")}],
    }
    written = core.status_for(
        core.Outcome(
            generation=2,
            now=now,
            remote=remote,
            remote_known=True,
            applied_hash="h",
            applied_now=True,
            desired_hash="h",
            reconcile_requested="2026-11-29T11:00:00Z",
            workspace="ws",
            secrets_check=SECRETS_UNREADABLE,
        ),
        {},
    )
    rejected = core.status_for(
        core.Outcome(
            generation=3,
            now=now,
            problem=core.Problem.INVALID_SPEC,
            message="bad",
            rejected_hash="r",
            remote=remote,
            remote_known=True,
        ),
        written,
    )
    for status in (written, rejected):
        agent.BlaxelAgentStatus.model_validate(status)
    assert {"appliedTime", "lastHandledReconcileAt", "atProvider", "secretsCheck"} <= set(written)
    assert rejected["secretsCheck"] == written["secretsCheck"]  # kept until the next check
    assert "rejectedHash" in rejected and "Stalled" in {c["type"] for c in rejected["conditions"]}


# ---- the model and the CRD agree, field by field (an independent walk, not the generator) -----------

CHECKED = (
    "type",
    "enum",
    "default",
    "format",
    "minLength",
    "maxLength",
    "pattern",
    "minimum",
    "maximum",
    "minItems",
    "maxItems",
    "minProperties",
    "maxProperties",
    "x-kubernetes-list-type",
    "x-kubernetes-list-map-keys",
)


def _resolve(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """A pydantic JSON schema node with `X | None` read as X and references followed."""
    node = dict(node)
    if "anyOf" in node:
        (branch,) = [b for b in node.pop("anyOf") if b.get("type") != "null"]
        node = {
            **_resolve(branch, defs),
            **{k: v for k, v in node.items() if k != "default" or v is not None},
        }
    if "const" in node:  # a Literal of one value: the CRD says it as an enum of one
        node["enum"] = [node.pop("const")]
    if "$ref" in node:
        target = _resolve(defs[node.pop("$ref").split("/")[-1]], defs)
        rules = [*target.get("x-kubernetes-validations", []), *node.get("x-kubernetes-validations", [])]
        node = {**target, **node}
        if rules:
            node["x-kubernetes-validations"] = rules
    return node


def _rules(schema: dict[str, Any]) -> set[tuple[str, str]]:
    return {(r["rule"], r["message"]) for r in schema.get("x-kubernetes-validations", [])}


def _agree(model: dict[str, Any], crd: dict[str, Any], defs: dict[str, Any], path: str) -> list[str]:
    model = _resolve(model, defs)
    problems: list[str] = []
    if "enum" in model and "type" not in model:
        model["type"] = "string"
    for key in CHECKED:
        if model.get(key) != crd.get(key):
            problems.append(f"{path}: {key} is {model.get(key)!r} in the model, {crd.get(key)!r} in the CRD")
    if _rules(model) != _rules(crd):
        problems.append(f"{path}: CEL rules differ: model {_rules(model)}, CRD {_rules(crd)}")
    if model.get("type") == "object":
        props, crd_props = model.get("properties") or {}, crd.get("properties") or {}
        if set(props) != set(crd_props):
            problems.append(f"{path}: fields {sorted(props)} in the model, {sorted(crd_props)} in the CRD")
        if sorted(model.get("required") or []) != sorted(crd.get("required") or []):
            problems.append(f"{path}: required {model.get('required')} vs {crd.get('required')}")
        for name in set(props) & set(crd_props):
            problems += _agree(props[name], crd_props[name], defs, f"{path}.{name}")
        extra = model.get("additionalProperties")
        if isinstance(extra, dict) and extra:
            problems += _agree(extra, crd.get("additionalProperties") or {}, defs, f"{path}.*")
        elif (extra is True or extra == {}) != bool(crd.get("x-kubernetes-preserve-unknown-fields")):
            problems.append(f"{path}: free-form in one and not in the other")
    if model.get("type") == "array":
        problems += _agree(model.get("items") or {}, crd.get("items") or {}, defs, f"{path}[*]")
    return problems


def _crd_schema(kind: Kind, directory: str) -> dict[str, Any]:
    crd = yaml.safe_load((REPO / directory / crdgen.file_name(kind)).read_text(encoding="utf-8"))
    (version,) = crd["spec"]["versions"]
    schema: dict[str, Any] = version["schema"]["openAPIV3Schema"]
    return schema


def _agreement(model: type[BaseModel], crd: dict[str, Any]) -> list[str]:
    source = model.model_json_schema(by_alias=True)
    return _agree(source, crd, source.get("$defs") or {}, "")


@pytest.mark.parametrize("directory", COPIES)
@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.kind)
def test_each_copy_agrees_with_the_models_field_by_field(kind: Kind, directory: str) -> None:
    schema = _crd_schema(kind, directory)
    assert kind.spec_model is not None
    assert _agreement(kind.spec_model, schema["properties"]["spec"]) == []
    assert _agreement(kind.status_model or ResourceStatus, schema["properties"]["status"]) == []


def test_the_walk_catches_a_hand_edit() -> None:
    schema = _crd_schema(agent.KIND, "crds")
    spec = schema["properties"]["spec"]
    spec["properties"]["displayName"]["maxLength"] = 100
    spec["properties"]["runtime"]["properties"]["envs"]["items"]["properties"].pop("secret")
    spec["properties"]["triggers"]["items"]["required"] = ["type"]
    spec["properties"]["runtime"]["properties"]["generation"]["enum"].append("mk4")
    spec["x-kubernetes-validations"].pop()
    problems = _agreement(agent.BlaxelAgentSpec, spec)
    assert len(problems) == 5, problems
    assert any(".displayName: maxLength" in p for p in problems)
    assert any("runtime.envs[*]: fields" in p for p in problems)


# ---- the generator works for any kind ------------------------------------------------------------


class _Item(CamelModel):
    """An item."""

    model_config = ConfigDict(json_schema_extra=crdgen.crd(crdgen.Rule("self.size >= 0", "no")))

    key: str
    size: int | None = Field(default=None, json_schema_extra=crdgen.crd(schema_format="int64"))


class _WidgetSpec(CamelModel):
    """Desired widget.

    Second paragraph."""

    model_config = ConfigDict(
        json_schema_extra=crdgen.crd(object_rules=[crdgen.Rule("self.metadata.name != 'x'", "not x")])
    )

    items: list[_Item] | None = Field(default=None, json_schema_extra=crdgen.crd(map_keys=["key"]))
    extra: dict[str, Any] | None = None
    mode: str = Field(default="a", pattern="^[ab]$")


def _kind(spec_model: type[BaseModel]) -> Kind:
    return Kind(
        kind="BlaxelWidget",
        group="blaxel.ai",
        version="v1alpha1",
        plural="blaxelwidgets",
        api_collection="widgets",
        noun="widget",
        parse_spec=spec_model.model_validate,
        remote_name=lambda spec, name: name,
        build_payload=lambda *a: {},
        comparable_desired=dict,
        comparable_observed=lambda o, d: dict(o),
        readiness=agent.readiness,
        has_secret_values=lambda p: False,
        spec_model=spec_model,
    )


def test_a_new_kind_gets_a_crd_from_its_model_alone() -> None:
    crd = crdgen.custom_resource_definition(_kind(_WidgetSpec))
    assert crd["spec"]["names"]["singular"] == "blaxelwidget"
    assert crd["spec"]["names"]["categories"] == ["blaxel"]
    root = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    assert root["x-kubernetes-validations"] == [{"rule": "self.metadata.name != 'x'", "message": "not x"}]
    spec = root["properties"]["spec"]
    assert spec["description"] == "Desired widget.\n\nSecond paragraph."
    assert spec["properties"]["items"] == {
        "type": "array",
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["key"],
        "items": {
            "type": "object",
            "description": "An item.",
            "required": ["key"],
            "x-kubernetes-validations": [{"rule": "self.size >= 0", "message": "no"}],
            "properties": {"key": {"type": "string"}, "size": {"type": "integer", "format": "int64"}},
        },
    }
    assert spec["properties"]["extra"] == {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    assert spec["properties"]["mode"] == {"type": "string", "default": "a", "pattern": "^[ab]$"}
    assert "status" in root["properties"]  # the generic status when the kind declares none
    assert "# BlaxelWidget: Desired widget." in crdgen.to_yaml(_kind(_WidgetSpec))


class _Unsupported(CamelModel):
    value: int | str


def test_a_field_without_a_crd_form_is_an_error() -> None:
    with pytest.raises(crdgen.CrdGenerationError, match="value: unions"):
        crdgen.custom_resource_definition(_kind(_Unsupported))
