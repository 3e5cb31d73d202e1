"""Health assessment for GitOps tools: the Argo CD health check script, the same for every kind.

Flux needs nothing from here: it uses kstatus, which understands the operator's
observedGeneration and Ready/Reconciling/Stalled conditions as they are.
"""

from __future__ import annotations

from importlib import resources

from ..kinds.registry import KINDS

ARGOCD_HEALTH_PREFIX = "resource.customizations.health."
ARGOCD_HEALTH_KEYS: tuple[str, ...] = tuple(
    sorted(f"{ARGOCD_HEALTH_PREFIX}{k.group}_{k.kind}" for k in KINDS)
)
"""The argocd-cm data keys under which the script is installed, one per kind (Argo CD takes no wildcard
in a ConfigMap key)."""
ARGOCD_HEALTH_KEY = f"{ARGOCD_HEALTH_PREFIX}blaxel.ai_BlaxelAgent"
"""The key of BlaxelAgent (the first kind)."""


def argocd_health_lua() -> str:
    """The Argo CD custom health check (Lua) for every kind of blaxel.ai."""
    return resources.files(__name__).joinpath("argocd.lua").read_text(encoding="utf-8")
