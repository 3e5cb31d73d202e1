"""RBAC rendered by the chart is exactly what the operator calls: no more, no wildcards.

What the operator calls (Kopf 1.4x and blaxel_operator), for every kind of the registry (blaxelagents,
blaxelfunctions, ...):
- <plural>: list+watch (Kopf's watch stream: one cluster-wide, or one per namespace), patch
  (finalizer, Kopf's progress/last-handled annotations: merge and JSON patches), get (reads by name).
  The finalizer is a patch of metadata.finalizers: no `<plural>/finalizers` subresource is called.
- <plural>/status: patch (status writes), get.
- events (core v1): create. kopf/_cogs/clients/events.py only POSTs; events are never patched.
- secrets: get by name (spec.credentialsRef, runtime env valueFrom.secretKeyRef, --credentials-secret).
- kopf.dev peering, only with --peering: a watch over the peering kind (list, watch) and keep-alive
  merge patches of our own peering object (get, patch on that name). Cluster-wide operators use
  clusterkopfpeerings, namespaced ones kopfpeerings in each served namespace
  (kopf/_core/engines/peering.py guess_selectors, _core/reactor/orchestration.py spawn_missing_peerings).
- the shard layout lease (--shard-lease, always set by the chart), in the release namespace: create, and
  get + update of that one Lease (blaxel_operator/runtime/lease.py).
- Nothing else: namespaces list/watch and customresourcedefinitions list/watch are optional for Kopf
  (kopf/_core/reactor/observation.py falls back on 403 to the exact namespaces and the resources found
  by API discovery at startup), and discovery itself is open to every authenticated client.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from blaxel_operator.kinds.registry import KINDS

Manifest = dict[str, Any]
Render = Callable[[dict[str, Any]], list[Manifest]]
Rule = tuple[str, str, str, tuple[str, ...]]  # apiGroup, resource, verb, resourceNames

FULLNAME = "blx-blaxel-operator"
NAMESPACE = "blaxel-system"
ROLE_KINDS = ("ClusterRole", "Role")
BINDING_KINDS = ("ClusterRoleBinding", "RoleBinding")


def rules(*specs: tuple[str, str, list[str]], names: tuple[str, ...] = ()) -> set[Rule]:
    return {(group, resource, verb, names) for group, resource, verbs in specs for verb in verbs}


AGENT_RULES = rules(
    *[("blaxel.ai", kind.plural, ["get", "list", "watch", "patch"]) for kind in KINDS],
    *[("blaxel.ai", f"{kind.plural}/status", ["get", "patch"]) for kind in KINDS],
    ("", "events", ["create"]),
    ("", "secrets", ["get"]),
)


LEASE_ROLE = ("Role", NAMESPACE, f"{FULLNAME}-shard-lease")
LEASE_RULES = rules(("coordination.k8s.io", "leases", ["create"])) | rules(
    ("coordination.k8s.io", "leases", ["get", "update"]), names=(f"{FULLNAME}-shards",)
)


def peering_rules(resource: str, name: str) -> set[Rule]:
    return rules(("kopf.dev", resource, ["list", "watch"])) | rules(
        ("kopf.dev", resource, ["get", "patch"]), names=(name,)
    )


def rbac(manifests: list[Manifest]) -> dict[tuple[str, str, str], set[Rule]]:
    """(kind, namespace, name) of each (Cluster)Role -> its rules, flattened; the shard layout lease's
    Role, checked here (every rendering has it, with exactly its rules), left out."""
    out: dict[tuple[str, str, str], set[Rule]] = {}
    for m in manifests:
        if m["kind"] not in ROLE_KINDS:
            continue
        key = (m["kind"], m["metadata"].get("namespace", ""), m["metadata"]["name"])
        flat: set[Rule] = set()
        for rule in m.get("rules") or []:
            assert set(rule) <= {"apiGroups", "resources", "verbs", "resourceNames"}, rule
            for group in rule["apiGroups"]:
                for resource in rule["resources"]:
                    for verb in rule["verbs"]:
                        flat.add((group, resource, verb, tuple(rule.get("resourceNames") or ())))
        out[key] = flat
    assert out.pop(LEASE_ROLE, None) == LEASE_RULES
    return out


def no_wildcards(manifests: list[Manifest]) -> None:
    for m in manifests:
        if m["kind"] in ROLE_KINDS:
            for rule in m.get("rules") or []:
                for field, items in rule.items():
                    assert "*" not in items, f"{m['kind']}/{m['metadata']['name']}: wildcard in {field}"
                    assert all("*" not in str(item) for item in items)


def check_bindings(manifests: list[Manifest]) -> None:
    """Every binding points at a rendered role and at the operator's ServiceAccount, and vice versa."""
    roles = {
        (m["kind"], m["metadata"].get("namespace", ""), m["metadata"]["name"])
        for m in manifests
        if m["kind"] in ROLE_KINDS
    }
    bound = set()
    for m in manifests:
        if m["kind"] not in BINDING_KINDS:
            continue
        ref = m["roleRef"]
        assert ref["apiGroup"] == "rbac.authorization.k8s.io"
        namespace = m["metadata"].get("namespace", "") if ref["kind"] == "Role" else ""
        assert m["kind"] == ("RoleBinding" if ref["kind"] == "Role" else "ClusterRoleBinding")
        key = (ref["kind"], namespace, ref["name"])
        assert key in roles, f"{m['kind']} {m['metadata']['name']} binds a role that is not rendered: {key}"
        assert m["subjects"] == [{"kind": "ServiceAccount", "name": FULLNAME, "namespace": NAMESPACE}]
        bound.add(key)
    assert bound == roles, f"unbound roles: {roles - bound}"


SCENARIOS: dict[str, tuple[dict[str, Any], dict[tuple[str, str, str], set[Rule]]]] = {
    "cluster-wide": ({}, {("ClusterRole", "", FULLNAME): AGENT_RULES}),
    "namespaced": (
        {"watch": {"namespaces": ["team-a", "team-b"]}},
        {("Role", "team-a", FULLNAME): AGENT_RULES, ("Role", "team-b", FULLNAME): AGENT_RULES},
    ),
    "cluster-wide-peering": (
        {"replicaCount": 2, "peering": {"enabled": True, "name": "blaxel-ha"}},
        {("ClusterRole", "", FULLNAME): AGENT_RULES | peering_rules("clusterkopfpeerings", "blaxel-ha")},
    ),
    "namespaced-peering": (
        {"watch": {"namespaces": ["team-a", "team-b"]}, "peering": {"enabled": True}},
        {
            ("Role", "team-a", FULLNAME): AGENT_RULES | peering_rules("kopfpeerings", "blaxel-operator"),
            ("Role", "team-b", FULLNAME): AGENT_RULES | peering_rules("kopfpeerings", "blaxel-operator"),
        },
    ),
    "namespaced-credentials-elsewhere": (
        {
            "watch": {"namespaces": ["team-a"]},
            "operator": {"credentialsSecret": "blaxel-system/blaxel-default"},
        },
        {
            ("Role", "team-a", FULLNAME): AGENT_RULES,
            ("Role", "blaxel-system", f"{FULLNAME}-credentials"): rules(
                ("", "secrets", ["get"]), names=("blaxel-default",)
            ),
        },
    ),
    "namespaced-credentials-inside": (
        {"watch": {"namespaces": ["team-a"]}, "operator": {"credentialsSecret": "team-a/blaxel-default"}},
        {("Role", "team-a", FULLNAME): AGENT_RULES},
    ),
    "cluster-wide-credentials": (
        {"operator": {"credentialsSecret": "blaxel-system/blaxel-default"}},
        {("ClusterRole", "", FULLNAME): AGENT_RULES},
    ),
}


@pytest.mark.parametrize("name", SCENARIOS)
def test_rbac_is_exactly_what_the_operator_calls(name: str, render: Render) -> None:
    values, expected = SCENARIOS[name]
    manifests = render(values)
    assert rbac(manifests) == expected
    no_wildcards(manifests)
    check_bindings(manifests)


@pytest.mark.parametrize("name", ["namespaced", "namespaced-peering", "namespaced-credentials-elsewhere"])
def test_namespaced_mode_grants_nothing_cluster_wide(name: str, render: Render) -> None:
    manifests = render(SCENARIOS[name][0])
    assert not [m for m in manifests if m["kind"] in ("ClusterRole", "ClusterRoleBinding")]


def test_every_deployment_names_the_shard_layout_lease_it_is_allowed_to_write(render: Render) -> None:
    for values in ({}, {"shards": 3}):
        deployments = [m for m in render(values) if m["kind"] == "Deployment"]
        assert deployments
        for deployment in deployments:
            args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
            assert f"--shard-lease={NAMESPACE}/{FULLNAME}-shards" in args


def test_peering_rules_only_with_peering(render: Render) -> None:
    for name, (values, _) in SCENARIOS.items():
        has_peering = any(r[0] == "kopf.dev" for rs in rbac(render(values)).values() for r in rs)
        assert has_peering == bool(values.get("peering", {}).get("enabled")), name


def test_rbac_can_be_left_to_the_admin(render: Render) -> None:
    manifests = render({"rbac": {"create": False}, "serviceAccount": {"create": False, "name": "ops"}})
    assert not [m for m in manifests if m["kind"] in ROLE_KINDS + BINDING_KINDS + ("ServiceAccount",)]
    (deployment,) = [m for m in manifests if m["kind"] == "Deployment"]
    assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == "ops"


@pytest.mark.parametrize("name", ["cluster-wide", "namespaced"])
def test_rules_cover_exactly_the_kinds_of_the_registry(name: str, render: Render) -> None:
    """A kind added to the registry and not to the chart (or the reverse) fails here."""
    for role_rules in rbac(render(SCENARIOS[name][0])).values():
        granted = {resource for group, resource, _, _ in role_rules if group == "blaxel.ai"}
        assert granted == {k.plural for k in KINDS} | {f"{k.plural}/status" for k in KINDS}
