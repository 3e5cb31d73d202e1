"""Least privilege for Secrets (issue 14, item 1): `rbac.secretNames` narrows the operator's `get` on
Secrets to the names it is pointed at, in both RBAC modes, and the default credentials Secret stays
readable (by its name alone) when the list does not cover it."""

from __future__ import annotations

from typing import Any

import pytest

from blaxel_operator.kinds.registry import KINDS

from .conftest import RenderError
from .test_chart_rbac import FULLNAME, Render, Rule, check_bindings, no_wildcards, rbac, rules

NAMES = ("agent-env", "team-creds")
NOT_SECRETS = rules(
    *[(kind.group, kind.plural, ["get", "list", "watch", "patch"]) for kind in KINDS],
    *[(kind.group, f"{kind.plural}/status", ["get", "patch"]) for kind in KINDS],
    ("", "events", ["create"]),
)
NAMED_SECRETS = NOT_SECRETS | rules(("", "secrets", ["get"]), names=NAMES)
CREDENTIALS_ONLY = rules(("", "secrets", ["get"]), names=("blaxel-default",))

SCENARIOS: dict[str, tuple[dict[str, Any], dict[tuple[str, str, str], set[Rule]]]] = {
    "cluster-wide": (
        {"rbac": {"secretNames": list(NAMES)}},
        {("ClusterRole", "", FULLNAME): NAMED_SECRETS},
    ),
    "namespaced": (
        {"watch": {"namespaces": ["team-a", "team-b"]}, "rbac": {"secretNames": list(NAMES)}},
        {("Role", "team-a", FULLNAME): NAMED_SECRETS, ("Role", "team-b", FULLNAME): NAMED_SECRETS},
    ),
    "cluster-wide-credentials-not-listed": (
        {
            "rbac": {"secretNames": list(NAMES)},
            "operator": {"credentialsSecret": "blaxel-system/blaxel-default"},
        },
        {
            ("ClusterRole", "", FULLNAME): NAMED_SECRETS,
            ("Role", "blaxel-system", f"{FULLNAME}-credentials"): CREDENTIALS_ONLY,
        },
    ),
    "namespaced-credentials-inside-not-listed": (
        {
            "watch": {"namespaces": ["team-a"]},
            "rbac": {"secretNames": list(NAMES)},
            "operator": {"credentialsSecret": "team-a/blaxel-default"},
        },
        {
            ("Role", "team-a", FULLNAME): NAMED_SECRETS,
            ("Role", "team-a", f"{FULLNAME}-credentials"): CREDENTIALS_ONLY,
        },
    ),
    "namespaced-credentials-inside-listed": (
        {
            "watch": {"namespaces": ["team-a"]},
            "rbac": {"secretNames": ["blaxel-default"]},
            "operator": {"credentialsSecret": "team-a/blaxel-default"},
        },
        {("Role", "team-a", FULLNAME): NOT_SECRETS | CREDENTIALS_ONLY},
    ),
}


@pytest.mark.parametrize("name", SCENARIOS)
def test_secret_get_is_limited_to_the_listed_names(name: str, render: Render) -> None:
    values, expected = SCENARIOS[name]
    manifests = render(values)
    assert rbac(manifests) == expected
    no_wildcards(manifests)
    check_bindings(manifests)
    for role_rules in rbac(manifests).values():  # no rule grants Secrets by any name
        assert not [r for r in role_rules if r[1] == "secrets" and not r[3]], name


@pytest.mark.parametrize("bad", ["../kube-system", "Agent-Env", "a/b", ""])
def test_secret_names_must_be_secret_names(bad: str, render_error: RenderError) -> None:
    error = render_error({"rbac": {"secretNames": [bad]}})
    assert "secretNames" in error
