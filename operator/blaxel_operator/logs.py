"""Logging set-up: text or JSON (through Kopf's own formatter), with secret values redacted."""

from __future__ import annotations

import logging
import threading

import kopf


class Redactor(logging.Filter):
    """Replaces known secret values (API keys, secret env values) in every log record.

    Defence in depth: the code never formats secrets into messages, but a library might.
    """

    def __init__(self) -> None:
        super().__init__()
        self._secrets: set[str] = set()
        self._ordered: tuple[str, ...] = ()
        self._lock = threading.Lock()

    def add(self, value: str | None) -> None:
        if value and len(value) >= 4 and value not in self._secrets:
            with self._lock:
                self._secrets.add(value)
                # longest first, so a secret containing another is replaced whole; sorted here, not per record
                self._ordered = tuple(sorted(self._secrets, key=len, reverse=True))

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._ordered:
            return True
        message = record.getMessage()
        redacted = message
        for secret in self._ordered:
            if secret in redacted:
                redacted = redacted.replace(secret, "<redacted>")
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


REDACTOR = Redactor()


def configure(log_format: str = "text", level: str = "info") -> None:
    debug = level == "debug"
    kopf.configure(
        debug=debug,
        verbose=debug,
        quiet=level in ("warning", "error"),
        log_format=kopf.LogFormat.JSON if log_format == "json" else kopf.LogFormat.FULL,
    )
    root = logging.getLogger()
    root.setLevel(getattr(logging, level.upper(), logging.INFO))
    for handler in root.handlers:
        handler.addFilter(REDACTOR)
    # httpx logs every request URL at INFO; URLs carry no secrets, but this is noise.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)  # probe and scrape requests
