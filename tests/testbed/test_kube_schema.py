"""CRD schemas: validation (OpenAPI and CEL), defaulting, pruning, ratcheting."""

from __future__ import annotations

from typing import Any

import pytest

from blaxel_devkit.kube import KubeEmulator

from .helpers import AGENTS, WIDGETS, Api, agent, widget


async def _invalid(api: Api, path: str, body: dict[str, Any]) -> tuple[str, list[dict[str, str]]]:
    rsp = await api.post(path, body)
    assert rsp.status == 422, rsp
    assert rsp.body["reason"] == "Invalid"
    return rsp.message, rsp.body["details"]["causes"]


async def test_enum_violation_is_unsupported_value(api: Api) -> None:
    message, causes = await _invalid(api, AGENTS, agent(runtime={"generation": "mk9"}))
    assert message == (
        'BlaxelAgent.blaxel.ai "agent-1" is invalid: '
        'spec.runtime.generation: Unsupported value: "mk9": supported values: "mk2", "mk3"'
    )
    assert causes == [
        {
            "reason": "FieldValueNotSupported",
            "message": 'Unsupported value: "mk9": supported values: "mk2", "mk3"',
            "field": "spec.runtime.generation",
        }
    ]


async def test_pattern_violation(api: Api) -> None:
    message, _ = await _invalid(api, AGENTS, agent(agentName="Bad_Name"))
    assert (
        'spec.agentName: Invalid value: "Bad_Name": spec.agentName in body should match '
        "'^[a-z0-9]([a-z0-9-]*[a-z0-9])?$'" in message
    )


@pytest.mark.parametrize(
    ("percent", "expected"),
    [
        (
            -1,
            "spec.revision.canaryPercent: Invalid value: -1: spec.revision.canaryPercent in body should be greater than or equal to 0",
        ),
        (
            101,
            "spec.revision.canaryPercent: Invalid value: 101: spec.revision.canaryPercent in body should be less than or equal to 100",
        ),
    ],
)
async def test_minimum_and_maximum(api: Api, percent: int, expected: str) -> None:
    message, _ = await _invalid(api, AGENTS, agent(revision={"canaryPercent": percent}))
    assert expected in message


async def test_max_length(api: Api) -> None:
    message, causes = await _invalid(api, AGENTS, agent(displayName="x" * 64))
    assert "spec.displayName: Too long: may not be more than 63 bytes" in message
    assert causes[0]["reason"] == "FieldValueTooLong"


async def test_min_length(api: Api) -> None:
    message, _ = await _invalid(api, AGENTS, agent(workspace=""))
    assert (
        'spec.workspace: Invalid value: "": spec.workspace in body should be at least 1 chars long' in message
    )


async def test_max_items(api: Api) -> None:
    message, causes = await _invalid(api, AGENTS, agent(triggers=[{"type": "http"}] * 65))
    assert "spec.triggers: Too many: 65: must have at most 64 items" in message
    assert causes[0]["reason"] == "FieldValueTooMany"


async def test_max_properties(api: Api) -> None:
    message, _ = await _invalid(api, WIDGETS, widget(limits={f"k{i}": 1 for i in range(9)}))
    assert "spec.limits: Too many: 9: must have at most 8 items" in message


async def test_min_items_and_min_properties(api: Api) -> None:
    message, _ = await _invalid(api, WIDGETS, widget(tags=[], limits={}))
    assert "spec.tags: Invalid value: 0: spec.tags in body should have at least 1 items" in message
    assert "spec.limits: Invalid value: 0: spec.limits in body should have at least 1 properties" in message


async def test_required_field(api: Api) -> None:
    message, causes = await _invalid(api, AGENTS, agent(credentialsRef={}))
    assert "spec.credentialsRef.name: Required value" in message
    assert causes[0] == {
        "reason": "FieldValueRequired",
        "message": "Required value",
        "field": "spec.credentialsRef.name",
    }


async def test_required_at_the_root(api: Api) -> None:
    message, _ = await _invalid(
        api, AGENTS, {"apiVersion": "blaxel.ai/v1alpha1", "kind": "BlaxelAgent", "metadata": {"name": "x"}}
    )
    assert message == 'BlaxelAgent.blaxel.ai "x" is invalid: spec: Required value'


async def test_wrong_type(api: Api) -> None:
    message, _ = await _invalid(api, AGENTS, agent(runtime={"memory": "lots"}))
    assert (
        'spec.runtime.memory: Invalid value: "string": spec.runtime.memory in body must be of type integer: "string"'
        in message
    )


async def test_format_date_time(api: Api) -> None:
    message, _ = await _invalid(api, WIDGETS, widget(startAt="yesterday"))
    assert (
        'spec.startAt: Invalid value: "yesterday": spec.startAt in body must be of type date-time' in message
    )
    ok = await api.post(WIDGETS, widget(startAt="2024-05-01T10:00:00Z"))
    assert ok.status == 201


async def test_format_int32_range(api: Api) -> None:
    message, _ = await _invalid(api, WIDGETS, widget(size=2**31))
    assert "spec.size in body must be of type int32" in message


async def test_list_type_map_rejects_duplicate_keys(api: Api) -> None:
    envs = [{"name": "A", "value": "1"}, {"name": "A", "value": "2"}]
    message, causes = await _invalid(api, AGENTS, agent(runtime={"envs": envs}))
    assert 'spec.runtime.envs[1]: Duplicate value: {"name":"A"}' in message
    assert causes[0]["reason"] == "FieldValueDuplicate"


async def test_list_type_set_rejects_duplicates(api: Api) -> None:
    message, _ = await _invalid(api, WIDGETS, widget(tags=["t-a", "t-a"]))
    assert 'spec.tags[1]: Duplicate value: "t-a"' in message


async def test_int_or_string_and_nullable(api: Api) -> None:
    assert (await api.post(WIDGETS, widget("w1", target=80, note=None))).status == 201
    assert (await api.post(WIDGETS, widget("w2", target="http"))).status == 201
    message, _ = await _invalid(api, WIDGETS, widget("w3", target=1.5))
    assert "spec.target" in message


async def test_several_errors_are_listed_in_brackets(api: Api) -> None:
    message, causes = await _invalid(api, AGENTS, agent(runtime={"generation": "mk9", "memory": -1}))
    assert message.startswith('BlaxelAgent.blaxel.ai "agent-1" is invalid: [spec.runtime.generation: ')
    assert message.endswith("]")
    assert len(causes) == 2


async def test_cel_rule_with_message(api: Api) -> None:
    message, causes = await _invalid(api, AGENTS, agent(volumes=[{"name": "v", "mountPath": "/data"}]))
    assert message == (
        'BlaxelAgent.blaxel.ai "agent-1" is invalid: '
        'spec: Invalid value: "object": spec.region is required when volumes are attached'
    )
    assert causes == [
        {
            "reason": "FieldValueInvalid",
            "message": 'Invalid value: "object": spec.region is required when volumes are attached',
            "field": "spec",
        }
    ]


async def test_cel_rule_on_a_nested_object(api: Api) -> None:
    message, _ = await _invalid(api, AGENTS, agent(runtime={"minScale": 5, "maxScale": 2}))
    assert (
        'spec.runtime: Invalid value: "object": runtime.minScale must not exceed runtime.maxScale' in message
    )


async def test_cel_rule_on_array_items(api: Api) -> None:
    envs = [
        {"name": "OK", "value": "1"},
        {"name": "BAD", "value": "1", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
    ]
    message, _ = await _invalid(api, AGENTS, agent(runtime={"envs": envs}))
    assert (
        'spec.runtime.envs[1]: Invalid value: "object": an env sets either value or valueFrom, not both'
        in message
    )


async def test_cel_root_rule_sees_metadata_name(api: Api) -> None:
    message, causes = await _invalid(api, AGENTS, agent("a" * 50))
    assert '<nil>: Invalid value: "object": metadata.name is not a valid Blaxel agent name' in message
    assert causes[0]["field"] == "<nil>"
    assert (await api.post(AGENTS, agent("a" * 50, agentName="short"))).status == 201


async def test_cel_transition_rule_makes_agent_name_immutable(api: Api) -> None:
    await api.create(AGENTS, agent(agentName="first"))
    rsp = await api.patch(f"{AGENTS}/agent-1", {"spec": {"agentName": "second"}})
    assert rsp.status == 422
    assert rsp.message == (
        'BlaxelAgent.blaxel.ai "agent-1" is invalid: '
        'spec.agentName: Invalid value: "string": spec.agentName is immutable'
    )


async def test_cel_transition_rule_at_spec_level(api: Api) -> None:
    await api.create(AGENTS, agent())
    rsp = await api.patch(f"{AGENTS}/agent-1", {"spec": {"agentName": "late"}})
    assert rsp.status == 422
    assert (
        'spec: Invalid value: "object": spec.agentName is immutable: it cannot be added or removed'
        in rsp.message
    )


async def test_cel_transition_rules_do_not_run_on_create(api: Api) -> None:
    assert (await api.post(AGENTS, agent(agentName="brand-new"))).status == 201


async def test_cel_message_expression_reason_and_field_path(api: Api) -> None:
    message, causes = await _invalid(api, WIDGETS, widget(tags=["x"], size=-1))
    assert 'spec: Invalid value: "object": tags must start with t-, got 1 tags' in message
    assert {
        "reason": "FieldValueForbidden",
        "message": "Forbidden: size must not be negative",
        "field": "spec.size",
    } in causes


async def test_cel_rule_on_map_list_items_uses_defaults(api: Api) -> None:
    assert (
        await api.post(WIDGETS, widget("w1", ports=[{"name": "web"}]))
    ).status == 201  # port defaults to 8080
    message, _ = await _invalid(api, WIDGETS, widget("w2", ports=[{"name": "web", "port": 80}]))
    assert 'spec.ports[0]: Invalid value: "object": privileged ports are for http only' in message


async def test_defaults_are_applied(api: Api) -> None:
    obj = await api.create(AGENTS, agent())
    assert obj["spec"]["deletionPolicy"] == "Delete"
    fetched = await api.get(f"{AGENTS}/agent-1")
    assert fetched.body["spec"]["deletionPolicy"] == "Delete"


async def test_defaults_are_applied_on_update_too(api: Api) -> None:
    await api.create(AGENTS, agent())
    rsp = await api.patch(f"{AGENTS}/agent-1", {"spec": {"deletionPolicy": None}})
    assert rsp.body["spec"]["deletionPolicy"] == "Delete"


async def test_nested_defaults_inside_new_objects(api: Api) -> None:
    obj = await api.create(WIDGETS, widget(extra={}))
    assert obj["spec"]["color"] == "blue"
    assert obj["spec"]["extra"] == {"known": "yes-default"}


async def test_undeclared_spec_field_is_pruned(api: Api) -> None:
    obj = await api.create(AGENTS, agent(bogus={"x": 1}, runtime={"generation": "mk3", "turbo": True}))
    assert "bogus" not in obj["spec"]
    assert obj["spec"]["runtime"] == {"generation": "mk3"}


async def test_a_status_field_the_crd_does_not_declare_is_pruned(api: Api) -> None:
    await api.create(AGENTS, agent())
    status = {
        "observedGeneration": 1,
        "kopf": {"progress": {}},
        "atProvider": {"status": "DEPLOYED", "secret": "x"},
    }
    rsp = await api.patch(f"{AGENTS}/agent-1/status", {"status": status})
    assert rsp.status == 200
    assert rsp.body["status"] == {"observedGeneration": 1, "atProvider": {"status": "DEPLOYED"}}
    assert (await api.get(f"{AGENTS}/agent-1")).body["status"] == rsp.body["status"]


async def test_status_writes_are_validated_against_the_status_schema(api: Api) -> None:
    await api.create(AGENTS, agent())
    bad = {"conditions": [{"type": "Ready", "status": "Maybe"}]}
    rsp = await api.patch(f"{AGENTS}/agent-1/status", {"status": bad})
    assert rsp.status == 422
    assert 'status.conditions[0].status: Unsupported value: "Maybe"' in rsp.message


async def test_preserve_unknown_fields_are_kept(api: Api) -> None:
    tasks = [{"prompt": "hi", "nested": {"any": [1, 2]}}]
    trigger = {"type": "cron", "configuration": {"schedule": "* * * * *", "tasks": tasks}}
    obj = await api.create(AGENTS, agent(triggers=[trigger]))
    assert obj["spec"]["triggers"][0]["configuration"]["tasks"] == tasks
    widget_obj = await api.create(WIDGETS, widget(extra={"free": {"form": True}}))
    assert widget_obj["spec"]["extra"] == {"free": {"form": True}, "known": "yes-default"}


async def test_root_metadata_is_pruned_to_object_meta(api: Api) -> None:
    body = agent()
    body["metadata"]["surprise"] = "x"
    obj = await api.create(AGENTS, body)
    assert "surprise" not in obj["metadata"]
    assert obj["metadata"]["name"] == "agent-1"


async def test_ratcheting_keeps_unchanged_invalid_values(api: Api, kube: KubeEmulator) -> None:
    legacy = agent(displayName="x" * 100)  # valid under an older CRD, say
    kube.seed_object("blaxel.ai", "v1alpha1", "blaxelagents", legacy)
    ok = await api.patch(f"{AGENTS}/agent-1", {"spec": {"region": "eu-1"}})
    assert ok.status == 200
    bad = await api.patch(f"{AGENTS}/agent-1", {"spec": {"displayName": "y" * 101}})
    assert bad.status == 422


async def test_labels_are_validated(api: Api) -> None:
    body = agent()
    body["metadata"]["labels"] = {"team": "not valid!"}
    message, _ = await _invalid(api, AGENTS, body)
    assert 'metadata.labels: Invalid value: "not valid!": a valid label must be an empty string' in message


async def test_other_versions_of_a_crd_serve_the_same_objects(api: Api) -> None:
    await api.create(WIDGETS, widget())
    rsp = await api.get("/apis/test.blaxel.ai/v1beta1/namespaces/default/widgets/w1")
    assert rsp.status == 200
    assert rsp.body["apiVersion"] == "test.blaxel.ai/v1beta1"
    assert rsp.body["spec"]["size"] == 1


async def test_objects_can_be_patched_through_another_served_version(api: Api) -> None:
    await api.create(WIDGETS, widget())
    path = "/apis/test.blaxel.ai/v1beta1/namespaces/default/widgets/w1"
    rsp = await api.patch(path, {"spec": {"size": 2}})
    assert rsp.status == 200, rsp
    assert rsp.body["apiVersion"] == "test.blaxel.ai/v1beta1"
    again = await api.patch(path, {"spec": {"size": 2}})
    assert again.body["metadata"]["resourceVersion"] == rsp.body["metadata"]["resourceVersion"]  # a no-op
    assert (await api.get(f"{WIDGETS}/w1")).body["apiVersion"] == "test.blaxel.ai/v1"
