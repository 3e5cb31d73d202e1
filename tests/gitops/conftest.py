"""Fixtures for the GitOps health tests."""

from __future__ import annotations

import pytest

from .gitops_states import ArgoHealth, make_argocd_health


@pytest.fixture(scope="session")
def argocd_health() -> ArgoHealth:
    """argocd.lua in a Lua 5.1 interpreter with Argo CD's globals: object -> {status, message}."""
    return make_argocd_health()
