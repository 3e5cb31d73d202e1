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

    def redact(self, text: str) -> str:
        for secret in self._ordered:
            if secret in text:
                text = text.replace(secret, "<redacted>")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._ordered:
            return True
        message = record.getMessage()
        redacted = self.redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        # A traceback carries the exception's message (e.g. an error quoting a request): format it
        # here, redacted, so that no formatter (text or JSON) formats the original.
        if record.exc_info:
            record.exc_text = self.redact(_TRACEBACKS.formatException(record.exc_info))
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        for key, value in list(vars(record).items()):  # `extra=` fields, which the JSON format prints
            if key not in _RECORD_FIELDS and isinstance(value, str):
                setattr(record, key, self.redact(value))
        return True


_TRACEBACKS = logging.Formatter()
_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


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
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)  # probe and scrape requests
