"""Operator configuration: flags and environment, resolved once at start."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from .blaxel.client import API_URLS, API_VERSION, DEFAULT_API_URL, Credentials
from .core.decide import (
    ADOPTION_POLICY,
    DELETION_POLICY,
    FINALIZER,
    PAUSED,
    RECONCILE_REQUESTED_AT,
    WATCHED_ANNOTATIONS,
    shard_finalizer,
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

# Defaults of the Blaxel client's settings: the flags of `run` and OperatorConfig both use these.
DEFAULT_MAX_INFLIGHT = 10
DEFAULT_RATE_LIMIT = 10.0
DEFAULT_RATE_BURST = 20
DEFAULT_REQUEST_TIMEOUT = 30.0

API_URL_HELP = (
    f"Blaxel API base URL (default: env BL_API_URL, else by env BL_ENV: {API_URLS['prod']} for prod, "
    f"the default, {API_URLS['dev']} for dev). Env BL_API_VERSION sets the Blaxel-Version header "
    f"(default {API_VERSION})"
)

_API_VERSION_RE = re.compile(r"\d{4}-\d{2}-\d{2}")


def api_url_from_env(environ: Mapping[str, str]) -> str:
    """The Blaxel API base URL as Blaxel's SDKs pick it: BL_API_URL, else the URL of BL_ENV (prod, the
    default, or dev). Raises ValueError for another BL_ENV (the SDKs disagree on what it means)."""
    url = (environ.get("BL_API_URL") or "").strip()
    if url:
        return url
    env = (environ.get("BL_ENV") or "prod").strip()
    if env.lower() not in API_URLS:
        raise ValueError(
            f"BL_ENV={env[:40]!r} is not a Blaxel environment: use {' or '.join(API_URLS)} "
            "(or set BL_API_URL)"
        )
    return API_URLS[env.lower()]


def api_version_from_env(environ: Mapping[str, str]) -> str:
    """The Blaxel-Version to send: BL_API_VERSION, else the version this operator is built for."""
    version = (environ.get("BL_API_VERSION") or "").strip()
    if not version:
        return API_VERSION
    if not _API_VERSION_RE.fullmatch(version):
        raise ValueError(
            f"BL_API_VERSION={version[:40]!r} is not a Blaxel API version: a date such as {API_VERSION}"
        )
    return version


@dataclass
class OperatorConfig:
    api_url: str = DEFAULT_API_URL
    api_version: str = API_VERSION
    default_credentials: Credentials | None = None
    credentials_secret: tuple[str, str] | None = None  # (namespace, name)
    namespaces: list[str] = field(default_factory=list)
    all_namespaces: bool = False
    poll_interval: float = 600.0
    deploy_poll_interval: float = 5.0
    # a deployment's progress (Blaxel's status, its events) is written at most this often; condition
    # changes (Ready, Synced, ...) at once
    status_progress_interval: float = 10.0
    cluster_id: str = "default"
    max_inflight: int = DEFAULT_MAX_INFLIGHT
    rate_limit: float = DEFAULT_RATE_LIMIT
    rate_burst: int = DEFAULT_RATE_BURST
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT
    metrics_port: int = 8080
    health_port: int = 8081
    log_format: str = "text"
    log_level: str = "info"
    peering: str | None = None
    shard_index: int = 0  # this process reconciles the objects whose stable hash mod shard_count is this
    shard_count: int = 1
    shard_lease: tuple[str, str] | None = None  # (namespace, name) of the shard layout lease
    shard_lease_seconds: float = 15.0

    @property
    def finalizer(self) -> str:
        """The finalizer this process holds (its shard's)."""
        return shard_finalizer(self.shard_index, self.shard_count)

    # backoff caps (seconds)
    max_backoff: float = 300.0
    unauthorized_backoff: float = 900.0
