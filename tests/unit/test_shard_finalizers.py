"""Each shard layout holds a finalizer of its own; the others' are recognised as stale."""

from __future__ import annotations

from typing import Any

from blaxel_operator.config import OperatorConfig
from blaxel_operator.core.decide import FINALIZER, shard_finalizer, stale_finalizers
from blaxel_operator.runtime.state import pack, trigger_of, unpack


def test_one_replica_keeps_the_plain_finalizer_and_shards_get_their_own() -> None:
    assert OperatorConfig().finalizer == FINALIZER
    names = {shard_finalizer(i, n) for n in (2, 3) for i in range(n)}
    assert len(names) == 5 and FINALIZER not in names
    assert OperatorConfig(shard_index=1, shard_count=3).finalizer == "blaxel.ai/finalizer-1-of-3"


def test_other_layouts_finalizers_are_stale_and_foreign_ones_are_left_alone() -> None:
    ours = shard_finalizer(0, 3)
    finalizers = [FINALIZER, shard_finalizer(1, 2), ours, "example.com/keep", "blaxel.ai/other"]
    assert stale_finalizers(finalizers, ours) == [FINALIZER, shard_finalizer(1, 2)]
    assert stale_finalizers([ours, "example.com/keep"], ours) == []


def test_a_stale_finalizer_makes_the_object_due() -> None:
    ours = shard_finalizer(0, 2)
    body = {"metadata": {"generation": 1, "finalizers": [ours]}}
    moved = {"metadata": {"generation": 1, "finalizers": [ours, FINALIZER]}}
    assert trigger_of(body, ours) != trigger_of(moved, ours)


def test_packed_bodies_come_back_as_they_were() -> None:
    body = {
        "metadata": {"name": "é-bot", "finalizers": [FINALIZER]},
        "spec": {"x": [1, None, 2.5]},
        "status": {},
    }
    assert unpack(pack(body)) == body
    assert unpack(b"") == {}


def test_common_triggers_are_one_tuple_and_annotated_ones_stay_apart() -> None:
    """Thousands of settled objects share a handful of triggers: one tuple each, not one per object."""

    def body(name: str, generation: int, annotations: dict[str, str] | None = None) -> dict[str, Any]:
        meta = {"name": name, "generation": generation, "finalizers": [FINALIZER]}
        return {"metadata": {**meta, "annotations": annotations or {}}}

    assert trigger_of(body("a", 1)) is trigger_of(body("b", 1))
    assert trigger_of(body("a", 2)) is not trigger_of(body("b", 1))
    asked = body("c", 1, {"blaxel.ai/reconcile-requested-at": "2026-12-02T00:00:00Z"})
    assert trigger_of(asked) != trigger_of(body("b", 1))
    assert trigger_of(body("d", 10**6)) == trigger_of(body("e", 10**6))  # equal, not kept for sharing
