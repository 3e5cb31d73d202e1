"""``put_semantics``: a PUT replaces metadata and spec (default), or deep-merges into them."""

from __future__ import annotations

import httpx
import pytest

from blaxel_operator.simulator import AdminError, AsyncSimulatorAdmin, BlaxelSimulator, SimulatorConfig

from .bodies import body
from .conftest import KEY, Poll, agent_body


@pytest.fixture
def sim_config() -> SimulatorConfig:
    return SimulatorConfig(
        api_keys={KEY: ["sandbox", "team"]},
        step_seconds=0.05,
        delete_seconds=0.1,
        seed=1,
        put_semantics="merge",
    )


async def test_a_merging_put_keeps_what_it_does_not_mention(api: httpx.AsyncClient) -> None:
    created = {
        "metadata": {"name": "kept", "displayName": "Kept", "labels": {"a": "1", "b": "2"}},
        "spec": {
            "region": "us-pdx-1",
            "runtime": {"memory": 1024, "minScale": 1, "envs": [{"name": "A", "value": "1"}]},
        },
    }
    await api.post("/agents", json=created)
    put = await api.put(
        "/agents/kept",
        json={
            "metadata": {"labels": {"b": "3", "a": None}},
            "spec": {"runtime": {"memory": 2048, "envs": []}},
        },
    )
    assert put.status_code == 200, put.text
    agent = put.json()
    assert agent["metadata"]["displayName"] == "Kept"  # absent: kept
    assert agent["metadata"]["labels"] == {"a": "1", "b": "3"}  # a map merges; null keeps the old value
    assert agent["spec"]["region"] == "us-pdx-1"
    assert agent["spec"]["runtime"] == {"memory": 2048, "minScale": 1, "envs": []}  # a list is replaced
    assert agent["status"] == "UPLOADING"  # still a new deployment


async def test_an_out_of_band_disable_survives_a_put_without_enabled(
    api: httpx.AsyncClient, sim: BlaxelSimulator, poll_status: Poll
) -> None:
    """The issue's case: only a PUT that sends ``enabled`` corrects someone's disable."""
    await api.post("/agents", json=agent_body("switch", runtime={"memory": 1024}))
    await poll_status("switch", "DEPLOYED")
    sim.edit_agent("switch", {"spec": {"enabled": False}})
    await poll_status("switch", "DEACTIVATED")
    await api.put("/agents/switch", json=agent_body("switch", runtime={"memory": 1024}))
    assert (await poll_status("switch", "DEACTIVATED"))["spec"]["enabled"] is False
    await api.put("/agents/switch", json=agent_body("switch", enabled=True, runtime={"memory": 1024}))
    assert (await poll_status("switch", "DEPLOYED"))["spec"]["enabled"] is True


async def test_merged_bodies_are_still_validated(api: httpx.AsyncClient) -> None:
    await api.post("/volumes", json=body("volumes", "disk", size=2048))
    grown = await api.put("/volumes/disk", json={"spec": {"size": 4096}})
    assert grown.status_code == 200 and grown.json()["spec"] == {"region": "us-pdx-1", "size": 4096}
    shrunk = await api.put("/volumes/disk", json={"spec": {"size": 10}})
    assert shrunk.status_code == 400 and "spec.size" in shrunk.json()["message"]
    wrong = await api.put("/volumes/disk", json={"spec": {"size": "big"}})
    assert wrong.status_code == 400 and "spec.size" in wrong.json()["message"]
    unknown = await api.put("/volumes/disk", json={"spec": {"invented": 1}})
    assert unknown.status_code == 400 and "spec.invented" in unknown.json()["message"]
    assert (await api.put("/volumes/disk", json=["not", "an", "object"])).status_code == 400
    assert (await api.put("/volumes/nobody", json={"spec": {}})).status_code == 404


async def test_connection_secrets_merge_key_by_key(api: httpx.AsyncClient, sim: BlaxelSimulator) -> None:
    await api.post(
        "/integrations/connections",
        json=body("integrations/connections", "conn", secret={"apiKey": "one", "other": "two"}),
    )
    await api.put("/integrations/connections/conn", json={"spec": {"secret": {"apiKey": "rotated"}}})
    stored = sim.get_object("connections", "conn")
    assert stored is not None and stored["spec"]["secret"] == {"apiKey": "rotated", "other": "two"}


async def test_the_semantics_can_be_switched_while_running(
    api: httpx.AsyncClient, sim: BlaxelSimulator
) -> None:
    async with AsyncSimulatorAdmin(sim.url) as admin:
        assert (await admin.settings())["put_semantics"] == "merge"
        await api.post("/policies", json=body("policies", "p", sandbox=True))
        assert (await admin.set_settings(put_semantics="replace"))["put_semantics"] == "replace"
        replaced = await api.put("/policies/p", json={"spec": {"type": "flavor"}})
        assert replaced.json()["spec"] == {"type": "flavor"}
        with pytest.raises(AdminError) as refused:
            await admin.set_settings(put_semantics="patch")
        assert refused.value.status == 400


async def test_replace_is_the_default() -> None:
    assert SimulatorConfig().put_semantics == "replace"
    with pytest.raises(ValueError, match="put_semantics"):
        SimulatorConfig(put_semantics="upsert")


async def test_replace_drops_what_the_put_leaves_out(sim_config: SimulatorConfig) -> None:
    sim_config.put_semantics = "replace"
    async with BlaxelSimulator(sim_config) as sim:
        async with httpx.AsyncClient(base_url=sim.url, headers=sim.headers()) as api:
            await api.post("/agents", json=agent_body("off", enabled=False, region="us-pdx-1"))
            spec = (await api.put("/agents/off", json=agent_body("off"))).json()["spec"]
            assert spec["enabled"] is True and "region" not in spec  # back to the defaults
