"""Operator configuration: flags and environment, resolved once at start."""

from __future__ import annotations

from dataclasses import dataclass, field

from .blaxel.client import DEFAULT_API_URL, Credentials
from .core.decide import (
    ADOPTION_POLICY,
    DELETION_POLICY,
    FINALIZER,
    PAUSED,
    RECONCILE_REQUESTED_AT,
    WATCHED_ANNOTATIONS,
)

__all__ = [
    "ADOPTION_POLICY",
    "DELETION_POLICY",
    "FINALIZER",
    "PAUSED",
    "RECONCILE_REQUESTED_AT",
    "WATCHED_ANNOTATIONS",
    "OperatorConfig",
]


@dataclass
class OperatorConfig:
    api_url: str = DEFAULT_API_URL
    default_credentials: Credentials | None = None
    credentials_secret: tuple[str, str] | None = None  # (namespace, name)
    namespaces: list[str] = field(default_factory=list)
    all_namespaces: bool = False
    poll_interval: float = 600.0
    deploy_poll_interval: float = 5.0
    cluster_id: str = "default"
    max_inflight: int = 10
    rate_limit: float = 10.0
    rate_burst: int = 20
    request_timeout: float = 30.0
    metrics_port: int = 8080
    health_port: int = 8081
    log_format: str = "text"
    log_level: str = "info"
    peering: str | None = None
    shard_index: int = 0  # this process reconciles the objects whose stable hash mod shard_count is this
    shard_count: int = 1
    # backoff caps (seconds)
    max_backoff: float = 300.0
    unauthorized_backoff: float = 900.0
