"""Prometheus metrics (`blaxel_operator_*`), served on /metrics with /readyz beside them."""

from __future__ import annotations

import time

from prometheus_client import Counter, Gauge, Histogram

RECONCILES = Counter(
    "blaxel_operator_reconciles_total",
    "Reconciles of Blaxel resources, by kind and result",
    ["kind", "result"],
)
API_REQUESTS = Counter(
    "blaxel_operator_api_requests_total", "Blaxel API requests, by method and status code", ["method", "code"]
)
API_LATENCY = Histogram(
    "blaxel_operator_api_request_duration_seconds",
    "Blaxel API request latency",
    ["method"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
API_RETRIES = Counter(
    "blaxel_operator_api_retries_total", "Blaxel API requests retried in the client, by reason", ["reason"]
)
REMOTE_STATUS = Gauge(
    "blaxel_operator_resources", "Managed resources by kind and remote status", ["kind", "status"]
)
BACKOFF = Gauge(
    "blaxel_operator_backoff_resources", "Resources waiting to retry after an error, by reason", ["reason"]
)
KUBE_WRITES = Counter(
    "blaxel_operator_kube_status_writes_total", "Status patches written to Kubernetes", ["kind"]
)


class Readiness:
    """Ready once a Blaxel call has succeeded recently (any answer from Blaxel but a 5xx counts)."""

    def __init__(self, window: float = 900.0) -> None:
        self.window = window
        self.last_success: float | None = None

    def mark(self) -> None:
        self.last_success = time.monotonic()

    def ready(self) -> bool:
        return self.last_success is not None and time.monotonic() - self.last_success < self.window


READINESS = Readiness()
