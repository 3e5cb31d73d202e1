"""The Blaxel API as it is, through the real operator process: a workspace on every call (resolved from the
key when nothing names one), BL_API_VERSION sent as Blaxel-Version, and every compared field sent, so that
a PUT that merges (rather than replaces) corrects an out-of-band change once."""

from __future__ import annotations

from typing import Any

import pytest

from blaxel_devkit.harness import KubeClient, condition, is_ready, wait_for
from blaxel_devkit.kube import KubeEmulator
from blaxel_operator.simulator import BlaxelSimulator

from .conftest import POLL, StartOperator, sweeps, wait_gone, wait_ready, wait_reason

SPEC = {"runtime": {"image": "acme/bot:1", "memory": 2048}}


async def test_the_keys_only_workspace_is_used_and_sent_with_the_api_version(
    k: KubeClient, sim: BlaxelSimulator, start_operator: StartOperator
) -> None:
    # other-key has one workspace, and nothing names it
    await start_operator(api_key="other-key", workspace=None, env={"BL_API_VERSION": "2026-04-16"})
    await k.create_agent("default", "bot", SPEC)
    obj = await wait_ready(k, "default", "bot")
    assert obj["status"]["atProvider"]["workspace"] == "other"
    assert sim.get_agent("bot", workspace="other") is not None

    calls = sim.calls()
    assert [c.path for c in calls].count("/v0/workspaces") == 1
    assert {c.workspace_header for c in calls if c.path != "/v0/workspaces"} == {"other"}
    assert {c.api_version for c in calls} == {"2026-04-16"}


async def test_a_key_with_several_workspaces_waits_for_one_to_be_named(
    k: KubeClient, sim: BlaxelSimulator, start_operator: StartOperator
) -> None:
    await start_operator(workspace=None)  # sim-key: sandbox and team-b
    await k.create_agent("default", "bot", SPEC)
    obj = await wait_reason(k, "default", "bot", "InvalidSpec")
    message = (condition(obj, "Ready") or {}).get("message", "")
    assert "2 Blaxel workspaces (sandbox, team-b)" in message and "spec.workspace" in message
    assert [c.path for c in sim.calls()] == ["/v0/workspaces"]  # nothing called without a workspace

    await k.patch_agent("default", "bot", {"spec": {"workspace": "team-b"}})
    await wait_ready(k, "default", "bot")
    assert sim.get_agent("bot", workspace="team-b") is not None
    assert {c.workspace_header for c in sim.calls() if c.path != "/v0/workspaces"} == {"team-b"}


@pytest.mark.parametrize(
    ("field", "changed", "default"),
    [("enabled", False, True), ("public", True, False)],
)
async def test_a_merging_put_corrects_an_out_of_band_change_once_then_stays_idle(
    k: KubeClient,
    sim: BlaxelSimulator,
    start_operator: StartOperator,
    field: str,
    changed: bool,
    default: bool,
) -> None:
    # Where Blaxel's PUT merges, a field left out of the payload keeps its out-of-band value: the spec
    # leaves `field` unset (Blaxel's default), so only sending the default corrects it for good.
    sim.set_put_semantics("merge")
    await start_operator()
    await k.create_agent("default", "bot", SPEC)
    await wait_ready(k, "default", "bot")
    since = sim.last_seq

    sim.edit_agent("bot", {"spec": {field: changed}})

    async def corrected() -> bool:
        return (sim.get_agent("bot") or {})["spec"].get(field) is default and sim.status_of(
            "bot"
        ) == "DEPLOYED"

    await wait_for(corrected, timeout=20, what=f"spec.{field} corrected and redeployed")
    settled = sim.last_seq

    async def idle_polls() -> bool:  # several poll intervals of looking at it after the correction
        return len(sweeps(sim, settled)) >= 4

    await wait_for(idle_polls, timeout=POLL * 10, what="four list sweeps after the correction")
    writes = [(c.method, c.name) for c in sim.calls(writes_only=True, since=since)]
    assert writes == [("PUT", "bot")]
    assert (sim.get_agent("bot") or {})["spec"][field] is default


# (Kubernetes plural, Blaxel collection, a minimal spec, a field Blaxel defaults, an out-of-band value)
DEPLOYABLES = [
    ("blaxelfunctions", "functions", {"runtime": {"image": "acme/mcp:1"}}, "enabled", False),
    ("blaxelfunctions", "functions", {"runtime": {"image": "acme/mcp:1"}}, "public", True),
    ("blaxeljobs", "jobs", {"runtime": {"image": "acme/job:1"}}, "enabled", False),
    ("blaxelmodels", "models", {"runtime": {"type": "openai", "model": "gpt-4.1"}}, "enabled", False),
]


@pytest.mark.parametrize(("plural", "collection", "spec", "field", "changed"), DEPLOYABLES)
async def test_every_kind_sends_the_defaults_it_compares(
    kube: KubeEmulator,
    sim: BlaxelSimulator,
    start_operator: StartOperator,
    plural: str,
    collection: str,
    spec: dict[str, Any],
    field: str,
    changed: bool,
) -> None:
    sim.set_put_semantics("merge")
    await start_operator()
    kind = plural.removeprefix("blaxel").removesuffix("s")
    kube.create_object(
        "blaxel.ai",
        "v1alpha1",
        plural,
        {
            "apiVersion": "blaxel.ai/v1alpha1",
            "kind": {"function": "BlaxelFunction", "job": "BlaxelJob", "model": "BlaxelModel"}[kind],
            "metadata": {"name": "dep", "namespace": "default"},
            "spec": spec,
        },
    )

    async def ready() -> bool:
        return is_ready(kube.get_object("blaxel.ai", "v1alpha1", plural, "default", "dep"))

    await wait_for(ready, timeout=20, what=f"{kind} Ready")
    default = not changed
    since = sim.last_seq
    sim.edit_object(collection, "dep", {"spec": {field: changed}})

    async def corrected() -> bool:
        remote = sim.get_object(collection, "dep") or {}
        return remote["spec"].get(field) is default and sim.object_status(collection, "dep") == "DEPLOYED"

    await wait_for(corrected, timeout=20, what=f"spec.{field} of the {kind} corrected")
    settled = sim.last_seq

    async def idle_polls() -> bool:
        return len(sweeps(sim, settled, collection)) >= 3

    await wait_for(idle_polls, timeout=POLL * 10, what="three list sweeps after the correction")
    writes = [(c.method, c.name) for c in sim.calls(writes_only=True, since=since)]
    assert writes == [("PUT", "dep")]


async def test_every_call_names_its_workspace_sweeps_and_deletes_included(
    k: KubeClient, kube: KubeEmulator, sim: BlaxelSimulator, start_operator: StartOperator
) -> None:
    sim.set_require_workspace(
        True
    )  # a call naming no workspace would be a 400, as Blaxel's SDKs never make it
    await start_operator()  # default workspace: sandbox
    await k.apply_secret("default", "other-creds", {"apiKey": "other-key", "workspace": "other"})
    await k.create_agent("default", "plain", SPEC)
    await k.create_agent("default", "named", {**SPEC, "workspace": "team-b"})
    await k.create_agent("default", "own-key", {**SPEC, "credentialsRef": {"name": "other-creds"}})
    policy = ("blaxel.ai", "v1alpha1", "blaxelpolicies")
    kube.create_object(
        *policy,
        {
            "apiVersion": "blaxel.ai/v1alpha1",
            "kind": "BlaxelPolicy",
            "metadata": {"name": "eu-only", "namespace": "default"},
            "spec": {
                "workspace": "team-b",
                "type": "location",
                "locations": [{"type": "continent", "name": "EU"}],
            },
        },
    )
    for name in ("plain", "named", "own-key"):
        await wait_ready(k, "default", name)

    async def policy_ready() -> bool:
        return is_ready(kube.get_object(*policy, "default", "eu-only"))

    await wait_for(policy_ready, timeout=20, what="the policy Ready")
    since = sim.last_seq

    async def swept_everywhere() -> bool:  # settled objects are observed through list sweeps
        return {c.workspace for c in sweeps(sim, since)} >= {"sandbox", "team-b", "other"} and bool(
            sweeps(sim, since, "policies")
        )

    await wait_for(swept_everywhere, timeout=POLL * 6, what="list sweeps of every workspace and collection")
    kube.delete_object(*policy, "default", "eu-only")
    for name in ("plain", "named", "own-key"):
        await k.delete_agent("default", name)
    for name in ("plain", "named", "own-key"):
        await wait_gone(k, "default", name, timeout=20)

    async def policy_gone() -> bool:
        return kube.get_object(*policy, "default", "eu-only") is None

    await wait_for(policy_gone, timeout=20, what="the policy deleted")
    calls = sim.calls()
    assert {"POST", "GET", "DELETE"} <= {c.method for c in calls}
    deletes = {(c.collection, c.workspace) for c in calls if c.method == "DELETE"}
    assert deletes == {
        ("agents", "sandbox"),
        ("agents", "team-b"),
        ("agents", "other"),
        ("policies", "team-b"),
    }
    unnamed = [
        (c.method, c.path, c.query, c.workspace_header) for c in calls if c.workspace_header != c.workspace
    ]
    assert unnamed == []
    assert all(c.workspace_given and c.status != 400 for c in calls)
