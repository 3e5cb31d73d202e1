"""Malformed Blaxel answers (the simulator's hostile answers over loopback) are never a reason to write:
an unreadable success is not repeated, and a write Blaxel accepted counts as applied even when what it
answered is malformed, so that the next reconcile observes rather than writes again. Spoofed owner labels
in a spec never reach the payload."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from blaxel_operator.blaxel.client import BlaxelApi, Credentials, ExternalClient
from blaxel_operator.blaxel.errors import MalformedResponse, MalformedWriteAnswer
from blaxel_operator.config import OperatorConfig
from blaxel_operator.core import decide as dec
from blaxel_operator.core.status import Problem
from blaxel_operator.kinds import agent
from blaxel_operator.kinds.registry import KINDS
from blaxel_operator.runtime.converge import Converger
from blaxel_operator.runtime.inputs import Resolved
from blaxel_operator.runtime.state import OBSERVE
from blaxel_operator.simulator import BlaxelSimulator, SimulatorConfig

CREDS = Credentials("solo-key", "solo")
OWNER = dec.owner_labels("c1", "ns", "bot")
BODY = {"metadata": {"namespace": "ns", "name": "bot", "finalizers": [dec.FINALIZER]}}


@pytest.fixture
async def sim() -> AsyncIterator[BlaxelSimulator]:
    config = SimulatorConfig(step_seconds=0.05, api_keys={"solo-key": ["solo"]})
    async with BlaxelSimulator(config) as simulator:
        yield simulator


@pytest.fixture
async def agents(sim: BlaxelSimulator) -> AsyncIterator[ExternalClient]:
    api = BlaxelApi(sim.url, rate=0)
    yield ExternalClient(api, "agents")
    await api.close()


def payload(memory: int) -> dict[str, Any]:
    return agent.build_payload(agent.parse_spec({"runtime": {"memory": memory}}), "bot", {}, OWNER)


def resolved(memory: int) -> Resolved:
    body = payload(memory)
    desired = dec.make_desired("bot", body, agent.comparable_desired(body), has_secrets=False)
    return Resolved(CREDS, desired, None, reads_secrets=False)


def calls(sim: BlaxelSimulator, method: str) -> int:
    return len(sim.calls(method=method, name="bot"))


async def test_an_unreadable_success_is_malformed_and_a_write_is_not_repeated(
    sim: BlaxelSimulator, agents: ExternalClient
) -> None:
    await agents.create(CREDS, payload(2048))
    sim.add_fault_rule(rate=1.0, kinds=("non_json",), names=("bot",), methods=("PUT",), phase="after")
    with pytest.raises(MalformedResponse) as caught:
        await agents.update(CREDS, "bot", payload(4096))
    assert not isinstance(caught.value, MalformedWriteAnswer)  # unreadable: whether it happened is unknown
    assert "not JSON (text/html)" in str(caught.value)
    assert calls(sim, "PUT") == 1  # a PUT redeploys: never repeated on the spot
    # a read is harmless to repeat
    sim.add_fault_rule(rate=1.0, kinds=("non_json",), names=("bot",), methods=("GET",), max_count=1)
    assert await agents.observe(CREDS, "bot") is not None
    assert calls(sim, "GET") == 2


@pytest.mark.parametrize("kind", ["missing_metadata", "wrong_status_type", "wrong_metadata_type"])
async def test_a_malformed_answer_to_a_write_says_the_write_happened(
    sim: BlaxelSimulator, agents: ExternalClient, kind: str
) -> None:
    sim.add_fault_rule(rate=1.0, kinds=(kind,), names=("bot",))
    with pytest.raises(MalformedWriteAnswer):
        await agents.create(CREDS, payload(2048))
    assert sim.get_agent("bot", workspace="solo") is not None
    with pytest.raises(MalformedWriteAnswer):
        await agents.update(CREDS, "bot", payload(4096))
    with pytest.raises(MalformedResponse) as caught:  # a read is only malformed
        await agents.observe(CREDS, "bot")
    assert not isinstance(caught.value, MalformedWriteAnswer)


async def test_a_malformed_update_answer_is_applied_and_not_written_again(
    sim: BlaxelSimulator, agents: ExternalClient
) -> None:
    converger = Converger(agent.KIND, OperatorConfig(cluster_id="c1"), agents)
    policies = dec.Policies()
    created = await converger.converge(BODY, resolved(2048), {}, policies, OBSERVE)
    assert created.applied and created.problem is None
    at_provider = {"name": "bot", "workspace": "solo"}
    sim.add_fault_rule(rate=1.0, kinds=("missing_metadata",), names=("bot",), methods=("PUT",))

    previous = {"appliedHash": resolved(2048).desired.hash, "atProvider": at_provider}
    updated = await converger.converge(BODY, resolved(4096), previous, policies, OBSERVE)
    assert (updated.applied, updated.applied_now, updated.remote_known) == (True, True, False)
    assert updated.problem is Problem.MALFORMED_RESPONSE
    assert "accepted the write" in updated.message and "metadata" in updated.message
    assert calls(sim, "PUT") == 1

    # The status then records the update as applied: the next reconcile observes and writes nothing.
    previous = {"appliedHash": resolved(4096).desired.hash, "atProvider": at_provider}
    again = await converger.converge(BODY, resolved(4096), previous, policies, OBSERVE)
    assert again.problem is None and not again.applied_now
    assert calls(sim, "PUT") == 1
    assert (sim.get_agent("bot", workspace="solo") or {})["spec"]["runtime"]["memory"] == 4096


MINIMAL_SPECS: dict[str, dict[str, Any]] = {
    "BlaxelIntegrationConnection": {"integration": "openai"},
    "BlaxelVolume": {"size": 1024, "region": "us-pdx-1"},
    "BlaxelModel": {"runtime": {"type": "openai", "model": "gpt-4o"}},
}


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.kind)
def test_owner_labels_in_the_spec_never_win(kind: Any) -> None:
    """spec.labels that name another owner: the payload carries the resource's own, and the comparison
    leaves them out (they are the operator's, not the spec's)."""
    spoofed = dec.owner_labels("prod", "kube-system", "victim")
    spec = {"labels": {**spoofed, "team": "a"}}
    minimal = MINIMAL_SPECS.get(kind.kind, {})
    parsed = kind.parse_spec({**minimal, **spec})
    body = kind.build_payload(parsed, "bot", {}, OWNER, {})
    assert body["metadata"]["labels"] == {**OWNER, "team": "a"}
    desired = dec.make_desired("bot", body, kind.comparable_desired(body), has_secrets=False)
    assert desired.comparable["metadata"]["labels"] == {"team": "a"}
    assert dec.ownership(body, OWNER) is dec.Ownership.OURS
    assert dec.ownership({"metadata": {"labels": spoofed}}, OWNER) is dec.Ownership.FOREIGN
