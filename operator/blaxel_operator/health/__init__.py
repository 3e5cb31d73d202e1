"""Health assessment for GitOps tools: the Argo CD health check script for BlaxelAgent.

Flux needs nothing from here: it uses kstatus, which understands the operator's
observedGeneration and Ready/Reconciling/Stalled conditions as they are.
"""

from __future__ import annotations

from importlib import resources

ARGOCD_HEALTH_KEY = "resource.customizations.health.blaxel.ai_BlaxelAgent"
"""The argocd-cm data key under which the script is installed."""


def argocd_health_lua() -> str:
    """The Argo CD custom health check (Lua) for blaxel.ai/BlaxelAgent."""
    return resources.files(__name__).joinpath("argocd.lua").read_text(encoding="utf-8")
