"""Operator configuration: flags and environment, resolved once at start."""

from __future__ import annotations

from dataclasses import dataclass, field

from .blaxel.client import DEFAULT_API_URL, Credentials

ANNOTATION_PREFIX = "blaxel.ai"
PAUSED = f"{ANNOTATION_PREFIX}/paused"
ADOPTION_POLICY = f"{ANNOTATION_PREFIX}/adoption-policy"
DELETION_POLICY = f"{ANNOTATION_PREFIX}/deletion-policy"
RECONCILE_REQUESTED_AT = f"{ANNOTATION_PREFIX}/reconcile-requested-at"
FINALIZER = f"{ANNOTATION_PREFIX}/finalizer"
WATCHED_ANNOTATIONS = (PAUSED, ADOPTION_POLICY, DELETION_POLICY, RECONCILE_REQUESTED_AT)


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
    # backoff caps (seconds)
    max_backoff: float = 300.0
    unauthorized_backoff: float = 900.0
